#!/bin/bash
# vm-run: --disk a:512M --timeout 400
# A snapshot survives unmount: it carries the has_snapshot flag (the stock
# driver mounts it read-only only), and after mounting again with
# ext3snap it is still followed: more changes, the same image, the same
# manifest as at the instant. Deleting it gives plain ext3 back.
. "$(dirname "$0")/lib.sh"

mark_log
dev=$DISK_a
src=/mnt/src
ss=/mnt/ss
snap=$src/snap1
mkdir -p "$src" "$ss" /mnt/stock
mkfs.ext3 -q -b 4096 "$dev"
mount -t ext3snap "$dev" "$src"
"$TOOLS/populate" "$src" --seed 61 --size-mb 24 >/dev/null
manifest_rec "$src" -o /tmp/m.before

step "snapshot, changes, the image"
snap_take "$snap"
"$TOOLS/churn" "$src" --seed 61 --exclude snap1 >/dev/null
ss_bind "$snap" 0
sum1=$(dev_sha /dev/ssdev/0)
ss_unbind 0
umount "$src"

step "on disk: the flag, and the stock driver's answer"
has_snapshot_flag "$dev" ||
	fail "no has_snapshot feature while a snapshot exists"
modprobe ext4
if mount -t ext4 "$dev" /mnt/stock 2>/dev/null; then
	opts=$(awk '$2 == "/mnt/stock" { print $4 }' /proc/mounts)
	umount /mnt/stock
	case ",$opts," in
	*,ro,*) echo "    stock ext4 mounted it read-only" ;;
	*) fail "the stock ext4 driver mounted a filesystem with a snapshot read-write ($opts)" ;;
	esac
else
	echo "    stock ext4 refused a read-write mount"
fi
mount -t ext4 -o ro "$dev" /mnt/stock || fail "the stock driver cannot mount it read-only"
umount /mnt/stock

step "mounted again: still followed"
mount -t ext3snap "$dev" "$src"
snap_status "$snap"
[ "$(snap_state)" = active ] || fail "the snapshot is $(snap_state) after a remount"
"$TOOLS/churn" "$src" --seed 62 --exclude snap1 --fill >/dev/null
rm -rf "$src/fill"
sync
ss_bind "$snap" 0
[ "$(dev_sha /dev/ssdev/0)" = "$sum1" ] || fail "the image changed after unmount, mount and more changes"
mount -t ext3snap -o ro /dev/ssdev/0 "$ss"
manifest_rec "$ss" -o /tmp/m.snap
manifest_same /tmp/m.before /tmp/m.snap "snapshot after a remount vs record"
umount "$ss"
fsck_clean /dev/ssdev/0
ss_unbind 0

step "a second unmount, mount: the same"
umount "$src"
mount -t ext3snap "$dev" "$src"
"$TOOLS/churn" "$src" --seed 63 --exclude snap1 >/dev/null
ss_bind "$snap" 0
[ "$(dev_sha /dev/ssdev/0)" = "$sum1" ] || fail "the image changed after a second remount"
ss_unbind 0

step "delete: plain ext3 again"
e3snapconfig -d "$snap" || fail "e3snapconfig -d failed"
umount "$src"
has_snapshot_flag "$dev" &&
	fail "the has_snapshot feature is still set after the last snapshot was deleted"
fsck_clean "$dev"
log_clean
test_done snap-persist
