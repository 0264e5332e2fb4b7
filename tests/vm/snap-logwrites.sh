#!/bin/bash
# vm-run: --disk orig:128M --disk log:1G --disk replay:128M --disk cow:128M --timeout 1500
# Every flush point: a workload that takes a snapshot is recorded through
# dm-log-writes (the mark 'snap' right after the snapshot is taken and
# synced), then the log is replayed onto a fresh disk up to each FLUSH and
# FUA entry after the mark, i.e. to each state the disk could have been in
# at a power cut. At each point the filesystem must mount (-t ext3snap,
# which recovers), the snapshot be active and its image identical to the
# one at the mark, every file whose fsync had returned (a mark after each)
# intact, fsck.ext3snap -fn clean after unmounting, and the kernel log
# clean. Each point is checked through a throw-away dm snapshot of the
# replay disk, so the replay goes on incrementally from the exact replayed
# state. At most LOGWRITES_MAX (default 30) points, evenly spread (first
# and last included), are checked; LOGWRITES_ALL=1 checks every one (the
# guest does not inherit the environment: vm-run ... -- env LOGWRITES_ALL=1).
. "$(dirname "$0")/lib.sh"

LR=$TOP/build/tests/logreplay
[ -x "$LR" ] || fail "$LR is not built: run 'make $LR' (make check builds it)"
max_points=${LOGWRITES_MAX:-30}
[ "$max_points" -ge 2 ] 2>/dev/null || fail "LOGWRITES_MAX must be a number >= 2, not '$max_points'"
command -v dmsetup >/dev/null || fail "dmsetup is missing (scripts/install-deps installs it)"
# No udev in the guest: libdevmapper makes the /dev/mapper nodes itself.
export DM_DISABLE_UDEV=1
modprobe dm-log-writes || fail "cannot load dm-log-writes"
modprobe dm-snapshot || fail "cannot load dm-snapshot"

mark_log
src=/mnt/src
snap=$src/snap
mkdir -p "$src"
sectors=$(blockdev --getsz "$DISK_orig")
[ "$(blockdev --getsz "$DISK_replay")" = "$sectors" ] ||
	fail "the replay disk is not the size of the recorded one ($sectors sectors)"

step "record: mkfs, populate, snapshot, mark 'snap', workload, through dm-log-writes"
dmsetup create lw --table "0 $sectors log-writes $DISK_orig $DISK_log" ||
	fail "cannot create the log-writes target on $DISK_orig logging to $DISK_log"
mkfs.ext3 -q -b 4096 /dev/mapper/lw
dmsetup message lw 0 mark mkfs
mount -t ext3snap /dev/mapper/lw "$src"
"$TOOLS/populate" "$src" --seed 91 --size-mb 6 >/dev/null
mkdir "$src/keep" "$src/durable"
for k in 1 2 3; do
	dd if=/dev/urandom of="$src/keep/k$k" bs=64k count=4 status=none
done
sync
snap_take "$snap"
sync
dmsetup message lw 0 mark snap
ss_bind "$snap" 0
live_sha=$(dev_sha /dev/ssdev/0)
ss_unbind 0
echo "    snapshot image at the mark: $live_sha"

# durable FILE COUNT SEEK CONV: write COUNT random 4 KiB blocks at block
# SEEK of FILE with fsync, between the marks pre-N and dur-N: from dur-N
# on, FILE must read back as written (until the next pre-M of FILE; in
# between, its state is undetermined). Lines "MARK FILE SHA" go to
# /tmp/durable, "-" for the sha of a pre-N mark.
: >/tmp/durable
nd=0
durable() {
	nd=$((nd + 1))
	echo "pre-$nd $1 -" >>/tmp/durable
	dmsetup message lw 0 mark "pre-$nd"
	dd if=/dev/urandom of="$1" bs=4k count="$2" seek="$3" conv="$4" \
		status=none || fail "writing $1 failed"
	echo "dur-$nd $1 $(sha256sum <"$1" | cut -d' ' -f1)" >>/tmp/durable
	dmsetup message lw 0 mark "dur-$nd"
}
for r in 1 2 3; do
	"$TOOLS/churn" "$src" --seed $((90 + r)) --exclude snap --exclude keep \
		--exclude durable >/dev/null || fail "churn round $r failed"
	durable "$src/durable/new$r" $((r * 5)) 0 fsync
	durable "$src/keep/k$r" 4 $((r * 3)) notrunc,fsync
	durable "$src/durable/new$r" 2 $((r * 5)) notrunc,fsync
done
snap_status "$snap" >/dev/null
[ "$(snap_state)" = active ] || fail "the snapshot is $(snap_state) at the end of the workload"
ss_bind "$snap" 0
[ "$(dev_sha /dev/ssdev/0)" = "$live_sha" ] ||
	fail "the live snapshot image changed during the workload (before any replay)"
ss_unbind 0
umount "$src"
status=$(dmsetup status lw)
case $status in
*logging_disabled*) fail "dm-log-writes stopped logging (log device full?): $status" ;;
esac
dmsetup remove lw
log_clean "the recorded workload"

step "the log"
"$LR" --list "$DISK_log" >/tmp/lw.list || fail "logreplay --list failed"
head -n 1 /tmp/lw.list | sed 's/^# /    /'
markidx=$("$LR" --find-mark snap "$DISK_log") || fail "no mark 'snap' in the log"
"$LR" --flush-points-after snap "$DISK_log" >/tmp/lw.points ||
	fail "logreplay --flush-points-after snap failed"
mapfile -t points </tmp/lw.points
n=${#points[@]}
[ "$n" -gt 0 ] || fail "no FLUSH or FUA entry after the mark 'snap' (entry $markidx): nothing was made durable after the snapshot"
# "INDEX FILE SHA-or-dash MARK" for each pre-N and dur-N mark, by index.
awk '$4 == "MARK" && $5 ~ /^(pre|dur)-/ { print $5, $1 }' /tmp/lw.list | sort >/tmp/lw.marks
sort /tmp/durable | join /tmp/lw.marks - | awk '{ print $2, $3, $4, $1 }' |
	sort -n >/tmp/durable.idx
[ "$(wc -l </tmp/durable.idx)" = $((2 * nd)) ] ||
	fail "the log has $(wc -l </tmp/lw.marks) of the $((2 * nd)) marks around fsync'd writes"
if [ "${LOGWRITES_ALL:-0}" = 1 ] || [ "$n" -le "$max_points" ]; then
	chosen=("${points[@]}")
else
	chosen=()
	for i in $(seq 0 $((max_points - 1))); do
		chosen+=("${points[$((i * (n - 1) / (max_points - 1)))]}")
	done
fi
echo "    mark 'snap' is entry $markidx; $n FLUSH/FUA entries after it; checking ${#chosen[@]} of them${LOGWRITES_ALL:+ (LOGWRITES_ALL=$LOGWRITES_ALL)}"

# check_at WHAT UPTO: the replay disk holds entries 0..UPTO-1. Mount that
# state through a transient dm snapshot (the replay disk itself stays as
# replayed), check it, and throw the changes of mount and fsck away.
# Sets SUM to the sha256 of the snapshot image.
rsz=$sectors
check_at() {
	local what=$1 upto=$2 idx f sha m got out bad=0 count=0 t0 t1 t2 t3 t4
	local -A want=() by=()

	t0=$(date +%s.%N)
	dmsetup create rpsnap --table "0 $rsz snapshot $DISK_replay $DISK_cow N 8" ||
		fail "$what: cannot create the dm snapshot of the replay disk"
	mark_log
	mount -t ext3snap /dev/mapper/rpsnap "$src" ||
		fail "$what: mount -t ext3snap (with recovery) failed:
$(dmesg | tail -n 30)"
	t1=$(date +%s.%N)
	SNAP_STATUS=$(e3snapconfig -s "$snap" 2>&1) ||
		fail "$what: e3snapconfig -s $snap failed after recovery: $SNAP_STATUS
$(dmesg | tail -n 30)"
	[ "$(snap_state)" = active ] ||
		fail "$what: after recovery the snapshot is $(snap_state):
$SNAP_STATUS"
	t2=$(date +%s.%N)
	ss_bind "$snap" 0
	SUM=$(dev_sha /dev/ssdev/0)
	ss_unbind 0
	t3=$(date +%s.%N)
	# The last mark of each file before this point: dur-N vouches for
	# its sha, pre-N says a write is under way.
	while read -r idx f sha m; do
		[ "$idx" -lt "$upto" ] || break
		want[$f]=$sha
		by[$f]="$m (entry $idx)"
	done </tmp/durable.idx
	for f in "${!want[@]}"; do
		[ "${want[$f]}" != - ] || continue
		count=$((count + 1))
		got=$(set -o pipefail; sha256sum <"$f" 2>/dev/null | cut -d' ' -f1) || got=unreadable
		[ "$got" = "${want[$f]}" ] || {
			echo "    not intact: $f ($(stat -c '%s bytes' "$f" 2>&1)), sha256 $got, fsync'd as ${want[$f]} before ${by[$f]}"
			bad=$((bad + 1))
		}
	done
	[ $bad = 0 ] || fail "$what: $bad of the $count files fsync'd before this point are not intact"
	umount "$src"
	t4=$(date +%s.%N)
	out=$(fsck.ext3snap -fn /dev/mapper/rpsnap 2>&1) ||
		fail "$what: fsck.ext3snap -fn after recovery is not clean:
$out"
	dmsetup remove rpsnap || fail "$what: cannot remove the dm snapshot of the replay disk"
	log_clean "$what"
	DURABLE_CHECKED=$count
	TIMES=$(awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v e="$t4" -v f="$(date +%s.%N)" \
		'BEGIN { printf "mount %.1fs, status %.1fs, image %.1fs, fsck %.1fs", b - a, c - b, d - c, f - e }')
}

step "reference: the replay up to the mark"
"$LR" --replay "$DISK_log" "$DISK_replay" --to-mark snap >/dev/null ||
	fail "replaying the log up to the mark failed"
check_at "the mark (entry $markidx)" $((markidx + 1))
ref=$SUM
echo "    $TIMES"
echo "    snapshot image replayed to the mark: $ref"
[ "$ref" = "$live_sha" ] ||
	fail "the snapshot image replayed to the mark (entry $markidx) differs from the live one right after the take"

step "every chosen flush point"
next=$((markidx + 1))
k=0
for p in "${chosen[@]}"; do
	k=$((k + 1))
	"$LR" --replay "$DISK_log" "$DISK_replay" --from "$next" --limit $((p + 1)) >/dev/null ||
		fail "replaying entries $next..$p failed"
	next=$((p + 1))
	flags=$(awk -v i="$p" '$1 == i { print $4 }' /tmp/lw.list)
	check_at "entry $p ($flags, flush point $k of ${#chosen[@]})" $((p + 1))
	[ "$SUM" = "$ref" ] ||
		fail "entry $p ($flags, flush point $k of ${#chosen[@]}): the snapshot image differs from the one at the mark"
	printf '    [%ss] entry %s %s: ok (%s fsync'\''d files intact; %s)\n' \
		"$SECONDS" "$p" "$flags" "$DURABLE_CHECKED" "$TIMES"
done
echo "    $n flush points after the mark, ${#chosen[@]} checked"
test_done snap-logwrites
