#!/bin/bash
# vm-run: --disk a:256M --timeout 900
# A snapshot's image never changes because of what happens to the older
# snapshots beside it, and shows none of their data (every data block of
# a snapshot file reads as zeroes). Free space is first filled with a
# marker and freed, so the older snapshot's before-image ring lands on
# marker blocks. The newest's image is recorded chunk by chunk right after
# its take, while the older one still drains its store and writes its
# ring; then the older one settles and gives its ring back, the origin
# reuses the blocks freed meanwhile, the filesystem is mounted again, the
# older one is deleted (issue 17's sequence), and mounted again. After
# each step the image must equal the record, block for block, hold no
# marker, and be e2fsck-clean.
. "$(dirname "$0")/lib.sh"

dev=$DISK_a
src=/mnt/src
s0=$src/.snapshots/s0
s1=$src/.snapshots/s1
rec=/tmp/s1.devhash
mkdir -p "$src"

marker=ext3snap-neighbours-marker-$RANDOM$RANDOM

# same WHAT: the newest's image still equals its record.
same() {
	ss_bind "$s1" 0
	if ! "$TOOLS/devhash" check /dev/ssdev/0 "$rec" --list /tmp/diff >/tmp/dh.out; then
		tail -n 5 /tmp/dh.out
		explain_chunks /dev/ssdev/0 /tmp/diff
		fail "$1: the image of s1 changed"
	fi
	! grep -aqF "$marker" /dev/ssdev/0 ||
		fail "$1: s1's image shows freed data (the marker) through an older snapshot file"
	fsck_clean /dev/ssdev/0
	ss_unbind 0
	echo "    $1: s1's image unchanged block for block, e2fsck clean"
}

remount() {
	umount "$src"
	mount -t ext3snap "$dev" "$src"
}

mkfs.ext3 -q -b 4096 -g 8192 -J size=8 "$dev"
mount -t ext3snap "$dev" "$src"
mkdir "$src/.snapshots"
mkdir "$src/tree"
"$TOOLS/populate" "$src/tree" --seed 5 --size-mb 12 >/dev/null
dd if=/dev/urandom of="$src/big" bs=1M count=16 status=none
sync

step "free space filled with a marker, then freed"
{ yes "$marker" || true; } | head -c $(($(df -k --output=avail "$src" | tail -n1) * 1024 - (8 << 20))) \
	>"$src/marker"
sync
rm "$src/marker"
sync

step "s0, then overwrites and deletes: copies and moves into s0"
snap_take "$s0" >/dev/null
dd if=/dev/urandom of="$src/big" bs=1M count=8 conv=notrunc status=none
"$TOOLS/churn" "$src/tree" --seed 6 >/dev/null
sync

step "s1 at once, recorded while s0 still drains"
snap_take "$s1" >/dev/null
ss_bind "$s1" 0
"$TOOLS/devhash" record /dev/ssdev/0 -o "$rec" | sed 's/^/    /'
! grep -aqF "$marker" /dev/ssdev/0 ||
	fail "s1's image shows freed data (the marker) through s0's file"
ss_unbind 0

step "s0 settles and gives its ring back"
snap_status "$s0" >/dev/null
same "s0 settled"

step "the origin reuses what was freed"
rm -f "$src/big"
dd if=/dev/urandom of="$src/fill" bs=1M count=48 status=none
"$TOOLS/churn" "$src/tree" --seed 7 >/dev/null
sync
same "blocks reused"

step "mounted again"
remount
same "remount"

step "s0 deleted"
e3snapconfig -d "$s0" >/dev/null
dd if=/dev/urandom of="$src/fill2" bs=1M count=48 status=none
sync
same "s0 deleted, its blocks reused"
remount
same "remount after the delete"

umount "$src"
fsck_clean "$dev"
log_clean "snap-neighbours"
echo "snap-neighbours: ok"
