#!/bin/bash
# fsck.ext3snap's check of each snapshot's image, without the kernel and
# without ssdev (issue 22, item 3), on chains crafted as the kernel makes
# them (bijcraft take/mkfile/rm: the blocks a change rewrites or frees are
# saved first): clean images pass -fn, their dumps (imagedump) pass plain
# e2fsck -fn and hold the files of their instant, and stay byte for byte
# the same while the origin changes; a damaged origin bitmap of a group no
# snapshot saved, or a damaged saved copy, is reported naming the snapshot
# (exit bit 4), and -y marks that snapshot broken, never repairs it; with
# -n, records not replayed skip the check instead of calling it clean.
set -uo pipefail
cd "$(dirname "$0")/../.."
make -s --no-print-directory "$PWD/build/tests/bijcraft" \
	"$PWD/build/tests/imagedump" tools >/dev/null ||
	{ echo "FAIL: cannot build bijcraft, imagedump and the tools"; exit 1; }
export PATH=$PWD/build/bin:$PATH
craft=$PWD/build/tests/bijcraft
dump=$PWD/build/tests/imagedump
fail() { echo "FAIL: $*"; exit 1; }
step() { echo "== $*"; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fsck-image.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
img=$tmp/fs.img
run() {	# run CMD...: sets $out and $rc
	out=$("$@" 2>&1); rc=$?
}

# Two groups; every crafted allocation lands in group 0, so group 1's
# bitmap is never saved. s1 holds a (5 blocks of 'a'); s2, taken with an
# exclude map after b was made and a removed, holds b; then c is made and
# b removed, under copy-on-write.
new_chain() {
	mke2fs -q -F -t ext3 -b 4096 "$img" 256M >/dev/null || fail "mke2fs"
	"$craft" "$img" mkfile a 5 0x61 || fail "mkfile a"
	s1=$("$craft" "$img" take s1 1 16) || fail "take s1"
	"$craft" "$img" mkfile b 3 0x62 && "$craft" "$img" rm a || fail "b, rm a"
	s2=$("$craft" "$img" take s2 2 16 exclude) || fail "take s2"
	"$craft" "$img" mkfile c 4 0x63 && "$craft" "$img" rm b || fail "c, rm b"
}
# cat FILE from the dumped image DUMP
file_of() { debugfs -R "cat /$2" "$1" 2>/dev/null; }
all_bytes() {	# all_bytes FILE N BYTE: FILE is N blocks of BYTE
	[ "$(wc -c <"$1")" = $(($2 * 4096)) ] &&
		[ "$(tr -d "$(printf '\\%03o' "$3")" <"$1" | wc -c)" = 0 ]
}

step "a clean chain: -fn checks both images, finds nothing"
new_chain
cp "$img" "$tmp/before"
run fsck.ext3snap -fn "$img"
[ $rc = 0 ] || fail "a clean crafted chain gave $rc: $out"
grep -q '): image ' <<<"$out" && fail "a clean image was reported: $out"
cmp -s "$img" "$tmp/before" || fail "-n changed the image"
run fsck.ext3snap -fy "$img"
[ $rc = 0 ] || fail "-fy on a clean chain gave $rc: $out"
grep -q 'broken' <<<"$out" && fail "-fy broke a clean snapshot: $out"

step "the dumped images are plain ext3, e2fsck-clean, with the files of their instant"
for s in "1 $s1" "2 $s2"; do
	set -- $s
	"$dump" -s "$2" "$img" "$tmp/d$1" || fail "imagedump of snapshot $1"
	[ "$(stat -c %s "$tmp/d$1")" = $((65536 * 4096)) ] || fail "dump $1 has the wrong size"
	# The image names no snapshot: plain e2fsck takes it, no shim needed.
	[ $(( $(od -An -tu1 -j1124 -N1 "$tmp/d$1") & 0x80 )) = 0 ] ||
		fail "the image of snapshot $1 carries the has_snapshot flag"
	run e2fsck -fn "$tmp/d$1"
	[ $rc = 0 ] || fail "e2fsck -fn on the image of snapshot $1 gave $rc: $out"
done
file_of "$tmp/d1" a >"$tmp/f"; all_bytes "$tmp/f" 5 0x61 || fail "snapshot 1 does not hold a"
[ -z "$(file_of "$tmp/d1" b)" ] || fail "snapshot 1 holds b, made after it"
file_of "$tmp/d2" b >"$tmp/f"; all_bytes "$tmp/f" 3 0x62 || fail "snapshot 2 does not hold b"
[ -z "$(file_of "$tmp/d2" a)" ] || fail "snapshot 2 holds a, removed before it"
# s1's file is in s2's image, its data excluded: it reads as zeroes.
debugfs -R "ls -l /" "$tmp/d2" 2>/dev/null | grep -q ' s1$' || fail "s1 is not in snapshot 2's image"
[ "$(debugfs -R "cat /s1" "$tmp/d2" 2>/dev/null | tr -d '\000' | wc -c)" = 0 ] ||
	fail "snapshot 1's data shows in snapshot 2's image (exclude map)"

step "the images stay the same while the origin changes"
sum1=$(sha256sum <"$tmp/d1") sum2=$(sha256sum <"$tmp/d2")
"$craft" "$img" mkfile d 40 0x64 && "$craft" "$img" rm c || fail "d, rm c"
[ "$("$dump" -s "$s1" "$img" | sha256sum)" = "$sum1" ] || fail "the image of snapshot 1 changed"
[ "$("$dump" -s "$s2" "$img" | sha256sum)" = "$sum2" ] || fail "the image of snapshot 2 changed"
run fsck.ext3snap -fn "$img"
[ $rc = 0 ] || fail "-fn after more changes gave $rc: $out"

step "the origin's bitmap of a group no snapshot saved: both images damaged"
new_chain
bb=$(dumpe2fs "$img" 2>/dev/null | sed -n '/^Group 1:/,/^Group 2:/s/^ *Block bitmap at \([0-9]*\).*/\1/p')
[ -n "$bb" ] || fail "no bitmap for group 1"
for l in "$s1" "$s2"; do
	[ "$("$craft" -s "$l" "$img" bmap "$bb")" = 0 ] || fail "snapshot inode $l saved group 1's bitmap"
done
# Block 32768 + 8 * 4000 + 1 = 64769: free, owned by nothing once marked.
debugfs -R "testb 64769" "$img" 2>/dev/null | grep -q 'not in use' || fail "block 64769 is in use"
byte=$(od -An -tu1 -j $((bb * 4096 + 4000)) -N1 "$img")
printf "\\$(printf '%03o' $((byte | 2)))" |
	dd of="$img" bs=1 seek=$((bb * 4096 + 4000)) conv=notrunc 2>/dev/null
cp "$img" "$tmp/before"
run fsck.ext3snap -fn "$img"
[ $((rc & 4)) = 4 ] || fail "-fn on a damaged image gave $rc, without 4: $out"
for s in "1 $s1" "2 $s2"; do
	set -- $s
	grep -q "snapshot $1 (inode $2): image block bitmap differences: -64769$" <<<"$out" ||
		fail "snapshot $1's bitmap damage was not reported: $out"
	grep -q "snapshot $1 (inode $2): image free blocks count wrong for group #1 ([0-9]*, counted=[0-9]*)" <<<"$out" ||
		fail "snapshot $1's group count was not reported: $out"
	grep -q "snapshot $1 (inode $2): its image changed after it was taken" <<<"$out" ||
		fail "snapshot $1 not called a corrupt backup: $out"
done
cmp -s "$img" "$tmp/before" || fail "-n changed the image"
run fsck.ext3snap -fy "$img"
[ $((rc & ~1)) = 0 ] || fail "-fy on damaged images gave $rc: $out"
grep -q "snapshot 1 (inode $s1) is broken" <<<"$out" &&
	grep -q "snapshot 2 (inode $s2) is broken" <<<"$out" || fail "-fy did not mark both broken: $out"
"$craft" -s "$s1" "$img" header | grep -q 'flags=1 ' || fail "snapshot 1 is not BROKEN"
"$craft" -s "$s2" "$img" header | grep -q 'flags=5 ' || fail "snapshot 2 is not BROKEN"
run fsck.ext3snap -fn "$img"
[ $rc = 0 ] || fail "-fn after marking them broken gave $rc: $out"
grep -q '): image ' <<<"$out" && fail "a broken snapshot's image was checked: $out"

step "a damaged saved copy: only that snapshot, the origin is clean"
new_chain
bb0=$(dumpe2fs "$img" 2>/dev/null | sed -n 's/^ *Block bitmap at \([0-9]*\).*/\1/p' | head -n1)
copy=$("$craft" -s "$s1" "$img" bmap "$bb0")
[ "$copy" != 0 ] || fail "snapshot 1 did not save group 0's bitmap"
# Block 8 * 3000 + 2 = 24002 of group 0: free at s1's instant.
byte=$(od -An -tu1 -j $((copy * 4096 + 3000)) -N1 "$img")
[ $((byte & 4)) = 0 ] || fail "block 24002 was in use at s1's instant"
printf "\\$(printf '%03o' $((byte | 4)))" |
	dd of="$img" bs=1 seek=$((copy * 4096 + 3000)) conv=notrunc 2>/dev/null
run fsck.ext3snap -fn "$img"
[ $rc = 4 ] || fail "-fn on a damaged copy gave $rc, not 4: $out"
grep -q "snapshot 1 (inode $s1): image block bitmap differences: -24002$" <<<"$out" ||
	fail "the damaged copy was not reported: $out"
grep -q "snapshot 2 (inode $s2): image" <<<"$out" && fail "snapshot 2 was reported: $out"
"$dump" -s "$s1" "$img" "$tmp/d1" && run e2fsck -fn "$tmp/d1"
[ $rc = 4 ] && grep -q 'Block bitmap differences:  -24002' <<<"$out" ||
	fail "e2fsck on the dump does not agree ($rc): $out"
run fsck.ext3snap -fy "$img"
[ $rc = 1 ] || fail "-fy on a damaged copy gave $rc, not 1: $out"
grep -q "snapshot 1 (inode $s1) is broken" <<<"$out" || fail "snapshot 1 not marked broken: $out"
grep -q "snapshot 2 (inode $s2) is broken" <<<"$out" && fail "snapshot 2 was marked broken: $out"
run fsck.ext3snap -fn "$img"
[ $rc = 0 ] || fail "-fn after marking snapshot 1 broken gave $rc: $out"

step "-n with copies not replayed: the images are skipped, never called clean"
new_chain
it=$(dumpe2fs "$img" 2>/dev/null | sed -n 's/^ *Inode table at [0-9]*-\([0-9]*\).*/\1/p' | head -n1)
# The last inode table block of group 0: its inodes are free.
"$craft" -s "$s2" "$img" record 1 1 "copy:$it:0xab" || fail "bijcraft record"
run fsck.ext3snap -fn "$img"
[ $rc = 4 ] || fail "-fn with a pending copy gave $rc, not 4: $out"
grep -q "snapshot 2 (inode $s2): image not checked: its journal holds copies not replayed yet" <<<"$out" &&
	grep -q "snapshot 1 (inode $s1): image not checked: a newer snapshot's journal holds copies" <<<"$out" ||
	fail "-n did not say the images were skipped: $out"
# -p (no -f) replays, and then checks the images: clean, not broken.
run fsck.ext3snap -p "$img"
[ $rc = 1 ] || fail "-p with a pending copy gave $rc, not 1: $out"
grep -q 'broken' <<<"$out" && fail "-p broke a snapshot: $out"
run fsck.ext3snap -fn "$img"
[ $rc = 0 ] || fail "-fn after the replay gave $rc: $out"

echo "fsck-image: ok"
