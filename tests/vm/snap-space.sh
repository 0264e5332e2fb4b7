#!/bin/bash
# vm-run: --disk a:1G --timeout 480
# What a snapshot costs in space. After the snapshot, creating new files
# must cost the snapshot only a few metadata blocks; overwriting X MiB of
# older data in place must cost about X MiB (ratio in [0.95, 1.15]) as
# e3snapconfig -s, stat, du and df all see it; overwriting the same range
# again costs nothing more; deleting the older file hands its unsaved
# blocks to the snapshot instead of copying them. Deleting the snapshot
# gives everything back.
. "$(dirname "$0")/lib.sh"

dev=$DISK_a
src=/mnt/src
snap=$src/snapshot.img
mkdir -p "$src"
X=64			# MiB overwritten in place
xblocks=$((X * 256))	# the same in 4 KiB blocks

# ratio_ok NAME GOT WANT: GOT/WANT in [0.95, 1.15]; prints the ratio.
ratio_ok() {
	local r
	r=$(awk -v g="$2" -v w="$3" 'BEGIN {printf "%.3f", g / w}')
	echo "    $1: $2 for $3 expected, ratio $r"
	awk -v r="$r" 'BEGIN {exit !(r >= 0.95 && r <= 1.15)}' ||
		fail "$1: ratio $r ($2 for $3 expected) is outside [0.95, 1.15]"
}

mkfs.ext3 -q -b 4096 "$dev"
mount -t ext3snap "$dev" "$src"
new_kb=$(df_used_kb "$src")

step "data from before the snapshot: a 96 MiB file and a small tree"
dd if=/dev/urandom of="$src/old" bs=1M count=96 status=none
mkdir "$src/tree"
"$TOOLS/populate" "$src/tree" --seed 31 --size-mb 0
sync

step "take the snapshot"
snap_take "$snap"
b0=$(snap_file_blocks "$snap")
echo "    the snapshot file holds $b0 blocks right after the take"
du0=$(du -k "$snap" | cut -f1)
kb0=$(df_used_kb "$src")

step "a workload that only creates new files (96 MiB in 40 files, 5 dirs)"
for d in 1 2 3 4 5; do
	mkdir "$src/new$d"
	for f in 1 2 3 4 5 6 7 8; do
		dd if=/dev/urandom of="$src/new$d/f$f" bs=256k count=$(((d * 8 + f) % 9 + 6)) status=none
	done
done
newdata_kb=$(du -sk "$src"/new? | awk '{s += $1} END {print s}')
b1=$(snap_file_blocks "$snap")
kb1=$(df_used_kb "$src")
grew=$((b1 - b0))
echo "    new data: $newdata_kb KiB; the snapshot file grew by $grew blocks ($b0 -> $b1)"
limit=64
[ $((newdata_kb / 4 / 100)) -lt $limit ] || limit=$((newdata_kb / 4 / 100))
[ "$grew" -le "$limit" ] ||
	fail "creating new files cost the snapshot $grew blocks (limit $limit): new data is being copied"
# df: the new data, and not much more.
ratio_ok "df growth for the new files" $((kb1 - kb0)) "$newdata_kb"

step "overwrite $X MiB of the old file in place"
dd if=/dev/urandom of="$src/old" bs=1M count=$X seek=16 conv=notrunc status=none
sync
b2=$(snap_file_blocks "$snap")
kb2=$(df_used_kb "$src")
st2=$(stat_blocks "$snap")
du2=$(du -k "$snap" | cut -f1)
echo "    snapshot file: $b2 blocks (e3snapconfig -s), $st2 (stat), $du2 KiB (du)"
ratio_ok "snapshot growth (e3snapconfig -s)" $((b2 - b1)) $xblocks
ratio_ok "snapshot growth (stat -c %b)" $((st2 - b1)) $xblocks
ratio_ok "snapshot growth (du)" $((du2 - du0)) $((X * 1024))
ratio_ok "df growth" $((kb2 - kb1)) $((X * 1024))
[ $((st2 - b2)) -le 2 ] && [ $((b2 - st2)) -le 2 ] ||
	fail "e3snapconfig -s says the file holds $b2 blocks, stat says $st2"

step "overwrite the same $X MiB again: each block is saved once"
dd if=/dev/urandom of="$src/old" bs=1M count=$X seek=16 conv=notrunc status=none
sync
b3=$(snap_file_blocks "$snap")
echo "    the snapshot file grew by $((b3 - b2)) blocks"
[ $((b3 - b2)) -le 16 ] || fail "overwriting saved blocks again cost $((b3 - b2)) more blocks"

step "delete the old file: its unsaved 32 MiB go to the snapshot, the saved 64 MiB are freed"
kb3=$(df_used_kb "$src")
rm "$src/old"
b4=$(snap_file_blocks "$snap")
kb4=$(df_used_kb "$src")
ratio_ok "snapshot growth on delete (blocks handed over)" $((b4 - b3)) $((32 * 256))
ratio_ok "df drop on delete" $((kb3 - kb4)) $((X * 1024))

step "delete the snapshot: the space comes back"
OUT=$(e3snapconfig -d "$snap" 2>&1) || fail "e3snapconfig -d failed: $OUT"
kb5=$(df_used_kb "$src")
rm -rf "$src"/new? "$src/tree"
kb6=$(df_used_kb "$src")
echo "    used: $kb4 KiB with the snapshot, $kb5 KiB without, $kb6 KiB emptied ($new_kb KiB when new)"
ratio_ok "space freed by deleting the snapshot" $((kb4 - kb5)) $((b4 * 4))
[ "$kb6" -le $((new_kb + 64)) ] || fail "the emptied filesystem uses $((kb6 - new_kb)) KiB more than when new"
umount "$src"
fsck_clean "$dev"
test_done snap-space
