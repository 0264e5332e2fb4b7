#!/bin/bash
# Power cuts with two snapshots under a write workload (churn's
# overwrites, truncates, unlinks and new files, plus files made durable
# with fsync): the newer one receives the copies, the older one reads
# through it (issue 22's reproduction had two). QEMU is killed from the
# host at a random moment, with the disk image on cache=none, then the
# next boot recovers (by mount, or by fsck.ext3snap -y first on odd cuts)
# and checks: each snapshot's whole image is byte-identical to its
# instant (sha256 recorded at setup) and fsck.ext3snap -fn clean, the
# older one's manifest equals the reference, the origin is fsck-clean,
# every file whose fsync returned before the
# cut is intact, and no kernel log had a warning. A second disk takes and
# deletes a snapshot in a loop: after a cut it holds a whole snapshot or
# none, never a half-made one.
#
# POWERCUT_CUTS (default 6) sets the number of cuts; make check-long runs
# 200. POWERCUT_SEED makes the cut moments reproducible.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cuts=${POWERCUT_CUTS:-6}
seed=${POWERCUT_SEED:-$$}
work=$top/build/tmp/powercut
guest=$top/tests/tools/powercut-guest
rm -rf "$work"
mkdir -p "$work"
img=$work/origin.img
imgb=$work/takes.img
truncate -s 128M "$img"
truncate -s 64M "$imgb"
RANDOM=$seed
echo "snap-powercut: $cuts cuts, seed $seed"

fail() { echo "FAIL: $*" >&2; exit 1; }

"$top/scripts/vm-run" --disk "a:$img" --disk "b:$imgb" --cache none --timeout 300 -- \
	"$guest" setup >"$work/setup.log" 2>&1 || {
	cat "$work/setup.log"; fail "setup run failed"; }
refsha=$(sed -n 's/^REF-SHA \([0-9a-f]*\).*/\1/p' "$work/setup.log" | tr -d '\r')
sed -n '/^==MANIFEST==/,/^==END==/p' "$work/setup.log" | tr -d '\r' |
	sed '1d;$d' >"$work/ref.manifest"
refsha2=$(sed -n 's/^REF-SHA2 \([0-9a-f]*\).*/\1/p' "$work/setup.log" | tr -d '\r')
[ -n "$refsha" ] && [ -n "$refsha2" ] && [ -s "$work/ref.manifest" ] || {
	cat "$work/setup.log"; fail "setup printed no reference"; }
: >"$work/durable"

# One run: check the previous cut, start the workload, cut the power.
cut_run() {
	local n=$1 log=$work/cut$1.log delay pid
	"$top/scripts/vm-run" --disk "a:$img" --disk "b:$imgb" --cache none --timeout 400 -- \
		"$guest" cut "$n" "$work/ref.manifest" "$work/durable" "$refsha" "$refsha2" \
		>"$log" 2>&1 &
	pid=$!
	# However long the recovery takes (a loaded host, the debug
	# kernel): vm-run's --timeout bounds it.
	while ! grep -q '^==WORKLOAD==' "$log" 2>/dev/null; do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	if ! grep -q '^==WORKLOAD==' "$log"; then
		wait "$pid" || true
		cat "$log"
		fail "cut $n: the guest failed before its workload started"
	fi
	delay=$((1 + RANDOM % 12)).$((RANDOM % 10))
	sleep "$delay"
	pkill -KILL -f "qemu-system-x86_64.*file=$img," || fail "cut $n: no QEMU to kill"
	wait "$pid" || true
	# Each run checks the files of the cut before, then removes them.
	tr -d '\r' <"$log" | sed -n 's/^DURABLE //p' >"$work/durable"
	if tr -d '\r' <"$log" | grep -E 'BUG|WARNING|Oops|general protection|Call Trace|hung task|soft lockup|RCU stall|is broken'; then
		cat "$log"
		fail "cut $n: the kernel log shows a problem during the workload"
	fi
	printf 'cut %2d after %5ss of workload: %s fsync'\''d files to check; previous cut %s\n' \
		"$n" "$delay" "$(wc -l <"$work/durable")" \
		"$(tr -d '\r' <"$log" | grep -qE '^(--- .*cut|    [0-9]+ fsync)' && echo checked || echo -)"
}

for n in $(seq 0 $((cuts - 1))); do
	cut_run "$n"
done
"$top/scripts/vm-run" --disk "a:$img" --disk "b:$imgb" --cache none --timeout 400 -- \
	"$guest" final "$cuts" "$work/ref.manifest" "$work/durable" "$refsha" "$refsha2" \
	>"$work/final.log" 2>&1 || { cat "$work/final.log"; fail "the last recovery failed"; }
tail -n 3 "$work/final.log"
echo "snap-powercut: ok ($cuts cuts, seed $seed)"
