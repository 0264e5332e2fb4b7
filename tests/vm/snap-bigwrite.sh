#!/bin/bash
# vm-run: --mem 1024 --disk a:3G --timeout 900
# Single huge writes over old data, in a guest with little memory:
# - one 384 MiB O_DIRECT write: its copies must not all be held in memory
#   at once (they once were, and the snapshot broke, "lost a copy");
# - one 64 MiB buffered write() over a file whose pages are half in the
#   page cache, every other 64 KiB: the write's range is saved before it
#   goes page by page, cached blocks from their pages and cold ones read
#   from the disk in runs; a run read one block off shows here.
# - a take while a writer rewrites a file with O_DIRECT, pass after pass:
#   writers go on while the take makes the snapshot file, and must be held
#   back, not let fill the journal ring.
# The snapshot must stay active and show the files as they were.
. "$(dirname "$0")/lib.sh"

dev=$DISK_a
src=/mnt/src
ss=/mnt/ss
snap=$src/snapshot.img
mkdir -p "$src" "$ss"

mkfs.ext3 -q -b 4096 "$dev"
mount -t ext3snap "$dev" "$src"
mark_log

step "old data: a 400 MiB file for direct I/O, a 64 MiB one for buffered writes"
dd if=/dev/urandom of="$src/big" bs=1M count=400 status=none
dd if=/dev/zero of="$src/mid" bs=1M count=64 status=none
dd if=/dev/urandom of="$src/cold" bs=1M count=64 status=none
sync
big_sha=$(sha256sum <"$src/big")
cold_sha=$(sha256sum <"$src/cold")

step "half of cold in the page cache, every other 64 KiB"
cat "$src/cold" >/dev/null
python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
for off in range(65536, 64 << 20, 2 * 65536):
    os.posix_fadvise(fd, off, 65536, os.POSIX_FADV_DONTNEED)
' "$src/cold"
cached=$(fincore -nb -o RES "$src/cold" | tr -d ' ')
echo "    cold: $cached of $((64 << 20)) bytes in the page cache"
[ "$cached" -ge $((16 << 20)) ] && [ "$cached" -le $((48 << 20)) ] ||
	fail "cold has $cached bytes in the page cache, not about half: the write would not mix cached and cold blocks"

step "take it while mid is rewritten with O_DIRECT, pass p filling it with byte p"
rewrite_passes "$src/mid" 1M 64 3
sleep 0.5
snap_take "$snap"
wait "$WRITER" || fail "the O_DIRECT writer of mid failed"

step "one 384 MiB O_DIRECT write over big"
dd if=/dev/zero of="$src/big" bs=384M count=1 oflag=direct conv=notrunc status=none ||
	fail "the 384 MiB O_DIRECT write failed"
snap_status "$snap"
[ "$(snap_state)" = active ] ||
	fail "the snapshot is $(snap_state) after one big O_DIRECT write:
$(dmesg | grep -i ext3snap | tail -n 5)"

step "one 64 MiB buffered write over cold"
dd if=/dev/zero of="$src/cold" bs=64M count=1 conv=notrunc,fsync status=none ||
	fail "the 64 MiB buffered write failed"
snap_status "$snap"
[ "$(snap_state)" = active ] ||
	fail "the snapshot is $(snap_state) after one big buffered write"

step "the origin holds the new data"
echo 3 >/proc/sys/vm/drop_caches
cmp -n $((384 << 20)) "$src/big" /dev/zero || fail "big does not read back as written"
cmp -n $((64 << 20)) "$src/cold" /dev/zero || fail "cold does not read back as written"

step "the snapshot holds the old data"
ss_bind "$snap" 0
mount -o ro -t ext3snap /dev/ssdev/0 "$ss"
[ "$(sha256sum <"$ss/big")" = "$big_sha" ] ||
	fail "big differs in the snapshot: $(cmp "$ss/big" "$src/big" | head -n1)"
[ "$(sha256sum <"$ss/cold")" = "$cold_sha" ] ||
	fail "cold differs in the snapshot (the half-cached buffered write)"
echo "    big and cold: as they were at the take"
one_instant "$ss/mid" || fail "mid in the snapshot is not one instant of the passes"
image_done "$ss" "$snap" "$src" "$dev"
log_clean "the big writes"
echo "snap-bigwrite: ok"
