#!/bin/bash
# vm-run: --disk a:768M --timeout 900
# Several snapshots at once. Four are taken with hard changes in between
# (files that live only between two of them included); each one, bound and
# mounted, must show exactly the tree recorded at its instant, e2fsck-clean,
# while the origin goes on changing, and again after an unmount and mount.
# Deleting a middle one keeps what older ones read through it ("deleting");
# deleting the oldest then takes both away; the others stay exact. After
# deleting all, the space comes back and plain e2fsck is clean.
. "$(dirname "$0")/lib.sh"

mark_log
dev=$DISK_a
src=/mnt/src
ss=/mnt/ss
snaps=$src/.snapshots
N=4
mkdir -p "$src" "$ss"
modprobe ext4
mkfs.ext3 -q -b 4096 "$dev"
mount -t ext3snap "$dev" "$src"
empty_kb=$(df_used_kb "$src")
mkdir "$snaps"
"$TOOLS/populate" "$src" --seed 71 --size-mb 32 >/dev/null

# check_snap I: bind snapshot I at /dev/ssdev/I, compare with its record.
check_snap() {
	ss_bind "$snaps/s$1" "$1"
	mount -o ro /dev/ssdev/"$1" "$ss"
	manifest_rec "$ss" --exclude .snapshots -o /tmp/m.ss
	umount "$ss"
	manifest_same "/tmp/m.$1" /tmp/m.ss "snapshot $1 vs its record"
	fsck_clean /dev/ssdev/"$1"
	ss_unbind "$1"
	echo "    snapshot $1: identical to its record, e2fsck clean"
}

state_of() {
	snap_status "$snaps/s$1" >/dev/null
	snap_state
}

for i in $(seq 1 $N); do
	step "snapshot $i, then changes"
	manifest_rec "$src" --exclude .snapshots -o "/tmp/m.$i"
	snap_take "$snaps/s$i" >/dev/null
	# A file that exists only until the next snapshot.
	[ "$i" -gt 1 ] && rm -f "$src/only-$((i - 1))"
	dd if=/dev/urandom of="$src/only-$i" bs=1M count=2 status=none
	"$TOOLS/churn" "$src" --seed $((71 + i)) --exclude .snapshots >/dev/null
done
for i in $(seq 1 $N); do
	want=ok
	[ "$i" = $N ] && want=active
	[ "$(state_of "$i")" = $want ] || fail "snapshot $i is $(state_of "$i"), want $want"
done
cmp -s "/tmp/m.1" "/tmp/m.$N" && fail "the records do not differ: the test would prove nothing"

step "every snapshot is its own moment"
for i in $(seq 1 $N); do check_snap "$i"; done

step "more changes while all are followed"
"$TOOLS/churn" "$src" --seed 91 --exclude .snapshots >/dev/null
for i in 1 $N; do check_snap "$i"; done

step "unmount, mount again: still followed and exact"
umount "$src"
mount -t ext3snap "$dev" "$src"
"$TOOLS/churn" "$src" --seed 92 --exclude .snapshots >/dev/null
for i in $(seq 1 $N); do check_snap "$i"; done

step "delete a middle one (2): kept while 1 reads through it"
held2=$(snap_file_blocks "$snaps/s2")
e3snapconfig -d "$snaps/s2" || fail "e3snapconfig -d s2 failed"
if [ -e "$snaps/s2" ]; then
	[ "$(state_of 2)" = deleting ] || fail "s2 is $(state_of 2) after delete, want deleting"
	left=$(snap_file_blocks "$snaps/s2")
	echo "    s2 kept as deleting: $left of $held2 blocks"
	[ "$left" -le "$held2" ] || fail "s2 grew from $held2 to $left blocks when deleted"
	must_fail ssdevconfig -c "$snaps/s2" /dev/ssdev/9
fi
check_snap 1
check_snap 3

step "delete the oldest (1): the deleted one before it goes too"
sync
gone=$(( $(snap_file_blocks "$snaps/s1") + $(snap_file_blocks "$snaps/s2") ))
newest=$(snap_file_blocks "$snaps/s$N")
used0=$(df_used_kb "$src")
e3snapconfig -d "$snaps/s1" || fail "e3snapconfig -d s1 failed"
[ -e "$snaps/s1" ] && fail "s1 still exists after delete"
[ -e "$snaps/s2" ] && fail "s2 (deleted) still exists once no older snapshot needs it"
sync
freed=$((used0 - $(df_used_kb "$src")))
grew=$(( $(snap_file_blocks "$snaps/s$N") - newest ))
echo "    freed ${freed} KiB for $((gone * 4)) KiB held by s1 and s2; the newest grew by $grew blocks"
# Their data is not kept for the newest (only their indirect blocks are).
[ $freed -ge $((gone * 4 * 9 / 10)) ] ||
	fail "deleting the oldest freed ${freed} KiB, but s1 and s2 held $((gone * 4)) KiB"
[ $grew -le $((gone / 50 + 16)) ] ||
	fail "the newest snapshot grew by $grew blocks when the oldest was deleted (they held $gone)"
check_snap 3
check_snap $N

step "delete the newest, then the last"
e3snapconfig -d "$snaps/s$N" || fail "e3snapconfig -d s$N failed"
check_snap 3
e3snapconfig -d "$snaps/s3" || fail "e3snapconfig -d s3 failed"
ls -la "$snaps"
[ -z "$(ls -A "$snaps")" ] || fail "snapshot files left: $(ls -A "$snaps")"

step "space back, plain ext3"
rm -rf "${src:?}"/*
sync
used=$(df_used_kb "$src")
echo "    used: ${used} KiB, empty filesystem: ${empty_kb} KiB"
[ "$used" -le $((empty_kb + empty_kb / 100 + 64)) ] ||
	fail "after deleting everything ${used} KiB are used, the empty filesystem used ${empty_kb} KiB"
umount "$src"
has_snapshot_flag "$dev" && fail "has_snapshot still set after deleting every snapshot"
e2fsck -fn "$dev" >/tmp/fsck.out 2>&1 || fail "plain e2fsck -fn not clean:
$(cat /tmp/fsck.out)"
log_clean snap-multi
test_done snap-multi
