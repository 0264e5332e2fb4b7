#!/bin/bash
# vm-run: --disk a:512M --timeout 240
# mkfs.ext3, mount with ext3snap (stock ext4 loaded beside it), write files
# of many sizes, remount, read them back, e2fsck clean.
. "$(dirname "$0")/lib.sh"

dev=$DISK_a
modprobe ext4	# the stock driver is present but must not be the one used

mkfs.ext3 -q "$dev"
mount -t ext3snap "$dev" /mnt
step "mounted by the right driver"
grep -q "^$dev /mnt ext3snap " /proc/mounts || fail "not mounted as ext3snap: $(grep "$dev" /proc/mounts)"
name=$(basename "$dev")
[ -d "/sys/fs/ext3snap/$name" ] || fail "/sys/fs/ext3snap/$name missing"
[ ! -e "/sys/fs/ext4/$name" ] || fail "stock ext4 registered $name too"

step "write files"
mkdir -p /mnt/d/e
for size in 0 1 511 4095 4096 4097 65536 1000000 12582912; do
	head -c "$size" /dev/urandom > "/mnt/d/f$size"
done
echo hello > /mnt/d/e/small
ln -s ../d/f4096 /mnt/d/e/link
ln /mnt/d/f1 /mnt/d/e/hard
dd if=/dev/urandom of=/mnt/sparse bs=4k seek=10000 count=1 status=none
(cd /mnt && find . -type f -print0 | sort -z | xargs -0 sha256sum) > /tmp/sums
sync
umount /mnt

step "remount and read back"
echo 3 > /proc/sys/vm/drop_caches
mount -t ext3snap "$dev" /mnt
(cd /mnt && sha256sum --quiet -c /tmp/sums) || fail "contents differ after remount"
[ "$(readlink /mnt/d/e/link)" = ../d/f4096 ] || fail "symlink target changed"
[ "$(stat -c %h /mnt/d/f1)" = 2 ] || fail "hard link count wrong"
[ "$(stat -c %b /mnt/sparse)" -le 64 ] || fail "sparse file is not sparse: $(stat -c %b /mnt/sparse) sectors"
umount /mnt

step "e2fsck"
fsck_clean "$dev"
echo "mount-basic: ok"
