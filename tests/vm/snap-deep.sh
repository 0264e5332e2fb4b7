#!/bin/bash
# vm-run: --disk a:512M --timeout 900
# A long list: reading the oldest of 120 snapshots walks through all the
# newer ones, and loading a group of the oldest once loaded the newer ones'
# in turn, nested once per snapshot, until the kernel stack overflowed
# (found by bench/many-snapshots.sh). That takes group bitmaps unchanged
# since the oldest, so between the snapshots blocks are only overwritten,
# never allocated or freed. After a remount (nothing loaded), the oldest,
# a middle one and the newest are bound, read whole and compared with
# their records, e2fsck-clean.
. "$(dirname "$0")/lib.sh"

mark_log
dev=$DISK_a
src=/mnt/src
ss=/mnt/ss
snaps=$src/.snapshots
N=${SNAP_DEEP_N:-120}
mkdir -p "$src" "$ss"
modprobe ext4
mkfs.ext3 -q -b 4096 "$dev"
mount -t ext3snap "$dev" "$src"
mkdir "$snaps"
"$TOOLS/populate" "$src" --seed 81 --size-mb 8 >/dev/null
dd if=/dev/urandom of="$src/f" bs=1M count=4 status=none
sync

check_snap() {
	ss_bind "$snaps/s$1" 0
	# Every block, as a backup would read it.
	dd if=/dev/ssdev/0 of=/dev/null bs=1M iflag=direct status=none ||
		fail "reading snapshot $1 through /dev/ssdev/0 failed"
	mount -o ro /dev/ssdev/0 "$ss"
	manifest_rec "$ss" --exclude .snapshots -o /tmp/m.ss
	umount "$ss"
	manifest_same "/tmp/m.$1" /tmp/m.ss "snapshot $1 vs its record"
	fsck_clean /dev/ssdev/0
	ss_unbind 0
	echo "    snapshot $1: identical to its record, e2fsck clean"
}

step "take $N snapshots, a block of f overwritten between each"
mid=$((N / 2))
for i in $(seq 1 "$N"); do
	case $i in 1 | "$mid" | "$N")
		manifest_rec "$src" --exclude .snapshots -o "/tmp/m.$i" ;;
	esac
	snap_take "$snaps/s$i" >/dev/null
	dd if=/dev/urandom of="$src/f" bs=4k count=1 seek=$((i * 7 % 1024)) \
		conv=notrunc status=none
done
cmp -s /tmp/m.1 "/tmp/m.$N" && fail "the records do not differ: the test would prove nothing"
[ "$(e3snapconfig -l "$src" -o json | grep -c '"id"')" = "$N" ] ||
	fail "e3snapconfig -l does not list $N snapshots"

step "remount: no group of any snapshot loaded; read the oldest first"
umount "$src"
mount -t ext3snap "$dev" "$src"
for i in 1 "$mid" "$N"; do check_snap "$i"; done

umount "$src"
fsck_clean "$dev"
log_clean "snap-deep"
test_done snap-deep
