#!/bin/bash
# vm-run: --disk a:256M --timeout 180
# ext3snap refuses formats it cannot snapshot, naming the reason, and
# leaves nothing mounted.
. "$(dirname "$0")/lib.sh"

dev=$DISK_a

refused() {	# mkfs-args expected-message
	mkfs.ext4 -q -F $1 "$dev" >/dev/null
	mark_log
	must_fail mount -t ext3snap "$dev" /mnt
	! grep -q "^$dev " /proc/mounts || fail "mounted anyway ($1)"
	new_log | grep -q "$2" || fail "no '$2' in kernel log for mkfs $1:
$(new_log)"
	echo "refused ($1): $(new_log | grep ext3snap | head -n1)"
}

step "ext4 (extents)"
refused "-t ext4" "the ext4 incompat feature 'extent'.*ext3-format filesystems only"
step "ext3 plus one ext4 feature"
refused "-t ext3 -O dir_nlink" "ro_compat feature 'dir_nlink'"
step "ext2 (no journal)"
refused "-t ext2" "has no journal.*tune2fs -j"

step "the stock driver still mounts ext4"
modprobe ext4
mkfs.ext4 -q -F "$dev"
mount -t ext4 "$dev" /mnt
grep -q " /mnt ext4 " /proc/mounts || fail "stock ext4 did not mount ext4"
umount /mnt
echo "refuse-formats: ok"
