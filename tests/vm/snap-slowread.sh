#!/bin/bash
# vm-run: --mem 1024 --disk a:1G --timeout 900
# A block's copy is read from the disk without the writer waiting for it:
# the copy sits in the store, locked, until its read ends. Everything that
# could overwrite the block, or use the copy, has to wait for that read.
# Here the disk answers reads 300 ms late (dm-delay) and writes at once,
# so any path that does not wait overtakes the read, and the snapshot
# shows the new data where the old belongs:
# - buffered writes over cold blocks, then fsync (writeback);
# - buffered writes, then at once a read of the snapshot through ssdev;
# - direct writes over cold blocks (the journal sync of direct I/O);
# - a take while a writer rewrites a file with O_DIRECT (copies made
#   before the snapshot's journal exists).
. "$(dirname "$0")/lib.sh"

src=/mnt/src
ss=/mnt/ss
snap=$src/snapshot.img
old=/tmp/old
mkdir -p "$src" "$ss" "$old"

command -v dmsetup >/dev/null || fail "dmsetup is missing (scripts/install-deps installs it)"
# No udev in the guest: libdevmapper makes the /dev/mapper nodes itself.
export DM_DISABLE_UDEV=1
modprobe dm-delay || fail "cannot load dm-delay"
sectors=$(blockdev --getsz "$DISK_a")
# slow_reads MS: reads of the device wait MS milliseconds, writes none.
slow_reads() {
	dmsetup suspend --nolockfs slow &&
		dmsetup reload slow --table "0 $sectors delay $DISK_a 0 $1 $DISK_a 0 0" &&
		dmsetup resume slow || fail "cannot set the read delay to $1 ms"
}

mkfs.ext3 -q -b 4096 "$DISK_a"
dmsetup create slow --table "0 $sectors delay $DISK_a 0 0" ||
	fail "cannot create the dm-delay device"
dev=/dev/mapper/slow
mount -t ext3snap "$dev" "$src"
mark_log

step "old data: four files of random data, one of byte 0"
for f in wb rd dio; do
	dd if=/dev/urandom of="$src/$f" bs=1M count=4 status=none
done
dd if=/dev/zero of="$src/mid" bs=1M count=16 status=none
sync
for f in wb rd dio; do cp "$src/$f" "$old/$f"; done

# write_blocks FILE BYTE: overwrite 32 blocks spread over FILE with BYTE.
write_blocks() {
	python3 - "$1" "$2" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
data = bytes([int(sys.argv[2])]) * 4096
for i in range(32):
    os.pwrite(fd, data, i * 31 * 4096)
os.close(fd)
EOF
}

step "take it, with reads 300 ms late, while mid is rewritten with O_DIRECT"
echo 3 >/proc/sys/vm/drop_caches
slow_reads 300
rewrite_passes "$src/mid" 256k 64 250
sleep 1
snap_take "$snap"
sleep 1
touch /tmp/stop
wait "$WRITER" || fail "the O_DIRECT writer of mid failed"
echo "    mid: rewritten $(cat /tmp/pass) times"

step "buffered writes over 32 cold blocks of wb, then fsync"
echo 3 >/proc/sys/vm/drop_caches
write_blocks "$src/wb" 1
sync "$src/wb"

step "buffered writes over 32 cold blocks of rd, then at once the snapshot's rd"
ss_bind "$snap" 0
mount -o ro -t ext3snap /dev/ssdev/0 "$ss"
# Metadata cached on both sides, rd's data on neither: the snapshot's
# read comes right behind the writes, while their copies are being read.
cat "$src/rd" "$ss/rd" >/dev/null
python3 -c '
import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
' "$src/rd" "$ss/rd"
write_blocks "$src/rd" 2
cmp "$ss/rd" "$old/rd" ||
	soft_fail "rd read through the snapshot while its copies were being read differs from the old rd"
umount "$ss"
ss_unbind 0

step "direct writes over 32 cold blocks of dio"
for i in $(seq 0 31); do
	dd if=/dev/zero of="$src/dio" bs=4096 count=1 seek=$((i * 31)) \
		oflag=direct conv=notrunc status=none || fail "a direct write of dio failed"
done

step "reads at full speed again: the snapshot holds the old data"
slow_reads 0
snap_status "$snap"
[ "$(snap_state)" = active ] || fail "the snapshot is $(snap_state):
$(dmesg | grep -i ext3snap | tail -n 5)"
echo 3 >/proc/sys/vm/drop_caches
ss_bind "$snap" 0
mount -o ro -t ext3snap /dev/ssdev/0 "$ss"
for f in wb rd dio; do
	cmp "$ss/$f" "$old/$f" ||
		soft_fail "$f differs in the snapshot: a write overtook the read of its copy"
	cmp -s "$src/$f" "$old/$f" &&
		soft_fail "$f in the origin still holds the old data: the writes were lost"
done
one_instant "$ss/mid" || soft_fail "mid in the snapshot is not one instant of the passes"
image_done "$ss" "$snap" "$src" "$dev"
dmsetup remove slow
log_clean "writes racing slow copy reads"
test_done snap-slowread
