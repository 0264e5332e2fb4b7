#!/bin/bash
# vm-run: --disk a:256M --timeout 180
# ext3snap.ko and the stock ext4.ko live side by side: each claims only its
# own type, and ext3snap unloads and reloads cleanly.
. "$(dirname "$0")/lib.sh"

dev=$DISK_a
name=$(basename "$dev")
mkfs.ext3 -q "$dev"

step "stock ext4 mounts ext3 as type ext3"
modprobe ext4
mount -t ext3 "$dev" /mnt
grep -q "^$dev /mnt ext3 " /proc/mounts || fail "stock ext3 mount missing"
[ -d "/sys/fs/ext4/$name" ] || fail "stock driver did not take $name"
[ ! -e "/sys/fs/ext3snap/$name" ] || fail "ext3snap took a plain ext3 mount"
umount /mnt

step "ext3snap registers exactly its own names"
grep -qw ext3snap /proc/filesystems || fail "ext3snap not in /proc/filesystems"
[ -d /proc/fs/ext3snap ] || fail "/proc/fs/ext3snap missing"
grep -q '^ext3snap_inode_cache ' /proc/slabinfo || fail "no ext3snap_inode_cache slab"
[ -e /dev/ssdev-ctl ] || fail "/dev/ssdev-ctl missing"

step "unload and reload"
rmmod ssdev ext3snap
! grep -qw ext3snap /proc/filesystems || fail "ext3snap still registered after rmmod"
[ ! -e /sys/fs/ext3snap ] || fail "/sys/fs/ext3snap left behind"
insmod "$TOP/build/ext3snap/ext3snap.ko"
insmod "$TOP/build/ssdev/ssdev.ko"
mount -t ext3snap "$dev" /mnt
echo data > /mnt/x
umount /mnt
fsck_clean "$dev"
echo "modules-coexist: ok"
