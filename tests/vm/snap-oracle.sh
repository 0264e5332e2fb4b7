#!/bin/bash
# vm-run: --disk a:512M --timeout 600
# The quiesced snapshot oracle. A populated ext3snap filesystem is recorded
# (tests/tools/manifest), a snapshot is taken, then the origin is changed in
# every way churn knows (overwrites, appends, truncates, mmap, O_DIRECT,
# punch-hole, unlink, rename over, rmdir, chmod/chown/xattrs), emptied and
# filled to ENOSPC. The snapshot, bound to /dev/ssdev/0 and mounted
# read-only, must show exactly the recorded tree, e2fsck-clean, the same
# after a cache drop and a remount, with the default, the stock ext3 and the
# ext3snap drivers. Unbound and unmounted, the origin holding the snapshot
# file is e2fsck-clean; remounted, the snapshot can be deleted, which gives
# its blocks back (df) and leaves the origin e2fsck-clean.
. "$(dirname "$0")/lib.sh"

dev=$DISK_a
src=/mnt/src
ss=/mnt/ss
snap=$src/snapshot.img
mkdir -p "$src" "$ss"
modprobe ext4	# the stock driver is loaded beside ours (and used below)

mkfs.ext3 -q -b 4096 "$dev"
mount -t ext3snap "$dev" "$src"
empty_kb=$(df_used_kb "$src")

step "populate and record the tree"
"$TOOLS/populate" "$src" --seed 11 --size-mb 24
manifest_rec "$src" -o /tmp/m.before
# The oracle is only as good as the tree: it must hold every kind of entry.
for t in file dir symlink fifo socket chardev blockdev; do
	grep -q " type=$t " /tmp/m.before || fail "populate made no entry of type $t"
done
grep -q ' link=' /tmp/m.before || fail "populate made no hard links"
grep -q ' xattr=' /tmp/m.before || fail "populate set no xattrs"
grep -q '^sparse/past-single type=file ' /tmp/m.before || fail "populate made no sparse files"
echo "    $(($(wc -l </tmp/m.before) - 1)) entries recorded"

step "take the snapshot"
snap_take "$snap"
have=$(stat -c '%a %u %g' "$snap")
[ "$have" = "400 0 0" ] || fail "snapshot file: mode uid gid are '$have', want '400 0 0'"
# The image, then its before-image journal (a few MiB, block-aligned).
extra=$(($(stat -c %s "$snap") - $(fs_bytes "$dev")))
[ $extra -gt 0 ] && [ $((extra % 4096)) = 0 ] && [ $extra -le $((64 << 20)) ] ||
	fail "snapshot file size $(stat -c %s "$snap"): want the filesystem's $(fs_bytes "$dev") plus a journal"
ls -l "$snap"
snap_status "$snap"

step "churn the origin hard (the snapshot file left alone)"
"$TOOLS/churn" "$src" --seed 11 --exclude snapshot.img
"$TOOLS/churn" "$src" --seed 12 --exclude snapshot.img
manifest_rec "$src" --exclude snapshot.img -o /tmp/m.churned
if "$TOOLS/manifest" compare /tmp/m.before /tmp/m.churned >/tmp/diff; then
	fail "churn changed nothing the manifest sees: the oracle would prove nothing"
fi
echo "    the origin now differs from the record in $(grep -c . /tmp/diff) lines"
snap_status "$snap"

step "delete everything on the origin and fill it to ENOSPC"
"$TOOLS/churn" "$src" --seed 13 --exclude snapshot.img --fill
[ -f "$snap" ] || fail "the snapshot file vanished during the fill"
df -k "$src"
snap_status "$snap"
[ "$(snap_state)" = active ] || fail "the snapshot is $(snap_state), not active, after the fill"

step "bind and mount the snapshot: the recorded tree, exactly"
ss_bind "$snap" 0
ssdevconfig -l
[ "$(blockdev --getsize64 /dev/ssdev/0)" = "$(fs_bytes "$dev")" ] ||
	fail "/dev/ssdev/0 is $(blockdev --getsize64 /dev/ssdev/0) bytes, the filesystem $(fs_bytes "$dev")"
mount -o ro /dev/ssdev/0 "$ss"
grep " $ss " /proc/mounts
manifest_rec "$ss" -o /tmp/m.snap
manifest_same /tmp/m.before /tmp/m.snap "snapshot (default driver) vs record" soft
umount "$ss"
sum1=$(dev_sha /dev/ssdev/0)
fsck_clean /dev/ssdev/0
echo "    e2fsck -fn /dev/ssdev/0: clean"

step "drop caches, remount with the stock ext3 driver: the same"
echo 3 > /proc/sys/vm/drop_caches
mount -o ro -t ext3 /dev/ssdev/0 "$ss"
grep -q "^/dev/ssdev/0 $ss ext3 " /proc/mounts || fail "not mounted by the stock driver: $(grep "$ss" /proc/mounts)"
manifest_rec "$ss" -o /tmp/m.snap.ext3
manifest_same /tmp/m.before /tmp/m.snap.ext3 "snapshot (stock ext3, after drop_caches) vs record" soft
umount "$ss"

step "remount with -t ext3snap: the same"
echo 3 > /proc/sys/vm/drop_caches
mount -o ro -t ext3snap /dev/ssdev/0 "$ss"
grep -q "^/dev/ssdev/0 $ss ext3snap " /proc/mounts || fail "not mounted by ext3snap: $(grep "$ss" /proc/mounts)"
manifest_rec "$ss" -o /tmp/m.snap.ext3snap
manifest_same /tmp/m.before /tmp/m.snap.ext3snap "snapshot (ext3snap) vs record" soft
umount "$ss"
sum2=$(dev_sha /dev/ssdev/0)
[ "$sum1" = "$sum2" ] || fail "/dev/ssdev/0 changed across read-only mounts: $sum1 then $sum2"
echo "    /dev/ssdev/0 sha256 $sum1, unchanged"

step "tear down: unbind, delete, the blocks come back"
ss_unbind 0
ssdevconfig -l | grep -q 'ssdev/0\b' && fail "/dev/ssdev/0 still listed after unbind: $(ssdevconfig -l)"
held=$(snap_file_blocks "$snap")
umount "$src"
if out=$(fsck.ext3snap -fn "$dev" 2>&1); then
	echo "    fsck.ext3snap -fn of the origin holding its snapshot file: clean"
else
	soft_fail "fsck.ext3snap -fn of the origin holding its snapshot file (unmounted after unbinding) is not clean:
$out"
fi
mount -t ext3snap "$dev" "$src"
snap_status "$snap"
full_kb=$(df_used_kb "$src")
OUT=$(e3snapconfig -d "$snap" 2>&1) || fail "e3snapconfig -d $snap failed: $OUT"
[ ! -e "$snap" ] || fail "$snap still exists after e3snapconfig -d"
after_kb=$(df_used_kb "$src")
echo "    used: $full_kb KiB with the snapshot holding $held blocks, $after_kb KiB after deleting it"
freed=$((full_kb - after_kb))
want=$((held * 4))
[ "$freed" -ge $((want - want / 50 - 64)) ] && [ "$freed" -le $((want + want / 50 + 64)) ] ||
	fail "deleting the snapshot freed $freed KiB, the file held $want KiB"
find "$src" -mindepth 1 -maxdepth 1 ! -name lost+found -exec rm -rf {} +
end_kb=$(df_used_kb "$src")
echo "    emptied origin: $end_kb KiB used, $empty_kb KiB when new"
[ "$end_kb" -le $((empty_kb + 64)) ] ||
	fail "the emptied origin uses $end_kb KiB, $((end_kb - empty_kb)) KiB more than when it was new: blocks leaked"
umount "$src"
fsck_clean "$dev"
test_done snap-oracle
