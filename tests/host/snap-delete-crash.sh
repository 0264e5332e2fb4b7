#!/bin/bash
# check: long (make check-long: about 10 minutes)
# A crash in the middle of deleting a large snapshot (issue 5, test 3).
#
# A setup run makes an ext3snap filesystem with three snapshots: s1 holds a
# large file removed after it (DELCRASH_MIB MiB of moved blocks), s2 holds
# another that s1 does not need, and G, which s1 reads through s2; s3 is
# the active one. The records of s1, s2, s3 and of the origin are the
# references. Then, each on its own copy of that disk image (cache=none):
#
#   control  no cut: delete s2 (middle: kept as "deleting" with only what s1
#            needs), check, then s1 (oldest: both go), check. The uncut
#            durations are printed and set the cut moments.
#   mid      delete s2; QEMU is killed from the host at a random fraction of
#            the uncut duration, inside the trim. The next boot mounts the
#            image: the trim must resume (tidy_worker) and end where the
#            uncut delete ends; then s1 is deleted too.
#   old      delete s1 while a reader holds it open, so that its unlink
#            commits first (otherwise unlink and truncate commit as one);
#            the reader exits, the truncate starts and the guest cuts
#            itself (sysrq b) at a random 5-80% of the uncut delete's
#            duration, before the truncate commits. The next mount (ext4's
#            orphan list) must finish it.
#
# Four boots: setup; the control, then the middle cut on another image;
# its recovery, then the oldest cut; that one's recovery. The guest commits
# the journal every 0.1 s during the middle delete that is to be cut (as any fsync
# would), so the disk holds a state part-way through; a read-only mount
# first says where the cut landed ("LANDED inside/before/after").
#
# Each recovery takes one of the two paths, alternating over the cuts
# (odd cuts: mount alone; even: fsck.ext3snap -y first, then mount), so a
# run recovers the middle cut by mount and the oldest by fsck (whose
# e2fsck then finishes the orphaned truncate, freeing blocks in groups
# whose bitmaps the active snapshot may not have saved: issue 22);
# DELCRASH_RECOVERY=mount or fsck makes every recovery take that path.
#
# After each delete: the deleted snapshot is gone (oldest) or "deleting"
# with no more blocks than the uncut delete keeps (middle); every remaining
# snapshot binds, its whole image has the sha256 it had when taken (block
# for block: the setup records it), its record equals its reference and
# it is fsck-clean; the
# origin is unchanged and fsck.ext3snap -fn clean; df's used space went
# down by about the deleted blocks, and the active snapshot did not take
# them over. A cut that misses the delete (too early or too late) is
# checked all the same, and the case is tried again on a fresh copy (a
# cut and a recovery boot), up to DELCRASH_TRIES (default 3) cuts; none
# inside is a failure. Findings are collected, not fatal at once.
#
# DELCRASH_MIB (default 160) sets the size; DELCRASH_SEED the cut moments.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
mib=${DELCRASH_MIB:-160}
recovery=${DELCRASH_RECOVERY:-alternate}
case $recovery in alternate|mount|fsck) ;;
	*) echo "DELCRASH_RECOVERY must be alternate, mount or fsck" >&2; exit 2 ;; esac
tries=${DELCRASH_TRIES:-3}
seed=${DELCRASH_SEED:-$$}
work=$top/build/tmp/delete-crash
guest=$top/tests/tools/delete-crash-guest
vmrun=$top/scripts/vm-run
rm -rf "$work"
mkdir -p "$work/ref"
base=$work/base.img
truncate -s $((mib * 2 + 256))M "$base"
RANDOM=$seed
start=$SECONDS
echo "snap-delete-crash: ${mib} MiB snapshots, seed $seed"

failures=()
fail() { echo "FAIL: $*" >&2; exit 1; }
soft() { echo "FAIL: $*" >&2; failures+=("$*"); }
clean_log() { tr -d '\r' <"$1"; }
# Findings the guest reported (soft_fail), shown once per run.
guest_findings() { clean_log "$1" | grep '^FAIL' | sed 's/^/    /' || true; }
elapsed() { echo "$((SECONDS - start))s"; }

# One boot: scripts/vm-run with DISKS (a string of --disk options) running
# the guest's ACTIONS. With CUT=mid|old, the host kills QEMU at a random
# fraction (10-90%) of that delete's uncut duration (DEL-TIME in
# $work/control.log) after the guest printed "==DELETE==". Any "FAIL"
# line the guest printed counts as a failure; so does a non-zero exit of
# a boot that was not cut.
qemu_of() {	# the QEMU of the vm-run started as $1 (vm-run -> timeout -> qemu)
	local t
	t=$(pgrep -P "$1" -x timeout) || return 1
	pgrep -P "$t" -f qemu-system
}
boot() {
	local name=$1 cut=$2 disks=$3 log=$work/$1.log pid q i frac dur delay rc=0
	shift 3
	# shellcheck disable=SC2086
	"$vmrun" $disks --cache none --timeout 900 -- "$guest" "$@" >"$log" 2>&1 &
	pid=$!
	CUT_DESC=
	if [ "$cut" = old ]; then	# the guest cuts itself
		wait "$pid" || true
		CUT_DESC=$(clean_log "$log" | sed -n 's/^CUT /cut /p' | head -n1)
		[ -n "$CUT_DESC" ] || soft "$name: the guest did not cut itself"
	elif [ -n "$cut" ]; then
		for i in $(seq 12000); do
			grep -q '^==DELETE==' "$log" 2>/dev/null && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		if grep -q '^==DELETE==' "$log"; then
			dur=$(clean_log "$work/control.log" | sed -n "s/^DEL-TIME s2 //p")
			frac=$((10 + RANDOM % 81))
			delay=$(echo "scale=3; ${dur:-1} * $frac / 100" | bc)
			sleep "$delay"
			q=$(qemu_of "$pid") || fail "$name: no QEMU to kill"
			kill -KILL "$q"
			CUT_DESC="cut at ${frac}% of the uncut ${dur}s, ${delay}s after the delete began"
			clean_log "$log" | grep -q '^==DELETED==' &&
				CUT_DESC="$CUT_DESC (too late: the delete had finished)"
		else
			soft "$name: the guest ended before its delete started"
		fi
	fi
	wait "$pid" || rc=$?
	if [ -z "$cut" ] && [ $rc != 0 ]; then
		soft "$name: the guest run failed (exit $rc)"
	fi
	if clean_log "$log" | grep -E '\bBUG\b|\bWARNING\b|Oops|general protection|Call Trace|hung task|soft lockup|RCU stall' |
		grep -v '^FAIL'; then
		soft "$name: the kernel log shows a problem"
	fi
	clean_log "$log" | grep '^FAIL (the test goes on' | sed 's/^FAIL (the test goes on, and fails at the end): //' |
		while read -r l; do echo "$name: $l"; done >"$work/findings" || true
	while read -r l; do soft "$l"; done <"$work/findings"
	if [ -n "$cut" ] && clean_log "$log" | grep -q '^FAIL: ' ; then
		soft "$name: $(clean_log "$log" | grep '^FAIL: ' | head -n1)"
	fi
	return 0
}
# A moment inside the truncate of s1 for its guest to cut at: 5-80% of
# the uncut delete (which also includes the unlink).
# Sets DELAY (not a $(...): RANDOM must stay the seeded sequence).
old_delay() {
	local dur
	dur=$(clean_log "$work/control.log" | sed -n 's/^DEL-TIME s1 //p')
	DELAY=$(echo "scale=3; ${dur:-0.3} * $((5 + RANDOM % 76)) / 100" | bc)
}
landed() { clean_log "$work/$1.log" | sed -n 's/^LANDED //p' | head -n1; }
# The recovery path of the next cut's recovery, in RECOVERY (a variable,
# not a $(...): the count must persist): even cuts fsck.ext3snap -y first.
ncut=0
next_recovery() {
	ncut=$((ncut + 1))
	case $recovery in
	alternate) RECOVERY=$([ $((ncut % 2)) = 0 ] && echo fsck || echo mount) ;;
	*) RECOVERY=$recovery ;;
	esac
}
by() { [ "$1" = fsck ] && echo "fsck.ext3snap -y, then mount" || echo "mount"; }
used_of() { clean_log "$work/$1.log" | sed -n 's/^USED //p' | head -n1; }
show() {	# the lines of a recovery worth reading
	clean_log "$work/$1.log" | grep -E 'after the cut: s2 is|resumed:|orphan|cleaned up|df used|held .* before|image changed|recovery:' |
		sed 's/^ */    /' || true
}

# ---- boot 1: setup -------------------------------------------------------
"$vmrun" --disk "a:$base" --cache writeback --timeout 900 -- "$guest" "setup:a:$mib" \
	>"$work/setup.log" 2>&1 || { cat "$work/setup.log"; fail "setup run failed"; }
for m in M1 M2 M3 MO; do
	clean_log "$work/setup.log" | sed -n "/^==$m==/,/^==END==/p" | sed '1d;$d' >"$work/ref/$m"
	[ -s "$work/ref/$m" ] || { cat "$work/setup.log"; fail "setup printed no $m"; }
done
clean_log "$work/setup.log" | sed -n 's/^STAT //p' >"$work/ref/STATS"
for i in 1 2 3; do
	grep -q "^SHA$i [0-9a-f]\{64\}$" "$work/ref/STATS" || {
		cat "$work/setup.log"; fail "setup printed no sha256 of s$i's image"; }
done
echo "[$(elapsed)] setup: $(grep -v '^SHA' "$work/ref/STATS" | tr '\n' ' ')(and the images' sha256)"
for i in ctl mid old; do cp --sparse=always "$base" "$work/$i.img"; done

# ---- boot 2: the control (no cut), then cut the middle delete -------------
boot control mid "--disk c:$work/ctl.img --disk a:$work/mid.img" \
	"control:c:$work/ref" "cut:a:$work/ref:mid"
clean_log "$work/control.log" | sed -n 's/^STAT //p' >>"$work/ref/STATS"
t_mid=$(clean_log "$work/control.log" | sed -n 's/^DEL-TIME s2 //p')
t_old=$(clean_log "$work/control.log" | sed -n 's/^DEL-TIME s1 //p')
grep -q '^K2 ' "$work/ref/STATS" && [ -n "$t_mid" ] && [ -n "$t_old" ] || {
	cat "$work/control.log"; fail "the control run printed no timings or K2"; }
echo "[$(elapsed)] control: uncut delete of s2 (middle) ${t_mid}s, then s1 (oldest) ${t_old}s; s2 keeps $(sed -n 's/^K2 //p' "$work/ref/STATS") blocks"
echo "[$(elapsed)] mid cut 1: $CUT_DESC"
rm -f "$work/ctl.img"

# ---- boot 3: recover the middle delete, then cut the oldest ---------------
old_delay
next_recovery
boot recover-mid-1 old "--disk a:$work/mid.img --disk b:$work/old.img" \
	"recover:a:$work/ref:mid:$(used_of control):$RECOVERY" "cut:b:$work/ref:old:$DELAY"
old_desc=$CUT_DESC
echo "[$(elapsed)] mid cut 1 landed $(landed recover-mid-1); recovered by $(by "$RECOVERY")"
show recover-mid-1
echo "[$(elapsed)] old cut 1: $old_desc"

# ---- boot 4: recover the oldest delete -------------------------------------
next_recovery
boot recover-old-1 "" "--disk b:$work/old.img" "recover:b:$work/ref:old:$(used_of recover-mid-1):$RECOVERY"
echo "[$(elapsed)] old cut 1 landed $(landed recover-old-1); recovered by $(by "$RECOVERY")"
show recover-old-1

# ---- more tries for a case whose cut missed the delete ---------------------
for mode in mid old; do
	n=1
	while :; do
		case $(landed "recover-$mode-$n") in inside*) break ;; esac
		if [ "$n" -ge "$tries" ]; then
			soft "$mode: no cut out of $tries landed inside the delete; make the snapshots bigger (DELCRASH_MIB)"
			break
		fi
		n=$((n + 1))
		cp --sparse=always "$base" "$work/$mode.img"
		action="cut:a:$work/ref:$mode"
		[ "$mode" = mid ] || { old_delay; action="$action:$DELAY"; }
		boot "cut-$mode-$n" "$mode" "--disk a:$work/$mode.img" "$action"
		echo "[$(elapsed)] $mode cut $n: $CUT_DESC"
		next_recovery
		boot "recover-$mode-$n" "" "--disk a:$work/$mode.img" \
			"recover:a:$work/ref:$mode:$(used_of "cut-$mode-$n"):$RECOVERY"
		echo "[$(elapsed)] $mode cut $n landed $(landed "recover-$mode-$n"); recovered by $(by "$RECOVERY")"
		show "recover-$mode-$n"
	done
done
rm -f "$work"/*.img

if [ ${#failures[@]} -gt 0 ]; then
	echo "snap-delete-crash: ${#failures[@]} failure(s) in $(elapsed), seed $seed (logs in ${work#"$top"/}):" >&2
	printf '  - %s\n' "${failures[@]}" >&2
	exit 1
fi
echo "snap-delete-crash: ok in $(elapsed) (seed $seed)"
