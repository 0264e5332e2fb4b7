#!/bin/bash
# fsck.ext3snap must not change what the newest snapshot still reads from
# the origin (issue 22): its own replay and e2fsck's repairs save each such
# block in the snapshot's before-image journal before changing it, and
# blocks e2fsck frees that the snapshot needs are kept for it. On crafted
# images (bijcraft saves what the kernel's take saves):
# Each time the whole image (tests/tools/imagedump) is compared, block for
# block, before and after fsck.ext3snap -y.
# - a replayed copy allocates in a group whose bitmap the snapshot has not
#   saved: the snapshot saves that bitmap first, as it was;
# - e2fsck -y repairs a bitmap the snapshot has not saved: likewise;
# - an orphan (unlinked while open) at the instant: e2fsck frees its
#   blocks, the snapshot keeps them, unchanged;
# - a journal too small for what must be saved: the snapshot is marked
#   broken, never silently changed.
set -uo pipefail
cd "$(dirname "$0")/../.."
make -s --no-print-directory "$PWD/build/tests/bijcraft" tools >/dev/null ||
	{ echo "FAIL: cannot build bijcraft and the tools"; exit 1; }
export PATH=$PWD/build/bin:$PATH
craft=$PWD/build/tests/bijcraft
dump=$PWD/build/tests/imagedump
make -s --no-print-directory "$dump" >/dev/null || { echo "FAIL: cannot build imagedump"; exit 1; }
fail() { echo "FAIL: $*"; exit 1; }
step() { echo "== $*"; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fsck-cow.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
img=$tmp/fs.img

run() {	# run CMD...: sets $out and $rc
	out=$("$@" 2>&1); rc=$?
}
block() {	# block N of the image, as hex
	dd if="$img" bs=4096 skip="$1" count=1 2>/dev/null | od -An -tx1 -v | tr -d ' \n'
}
bitmap_of() {	# block bitmap of group G
	dumpe2fs "$img" 2>/dev/null |
		awk -v g="$1" '$1 == "Group" && $2 == g":" {f = 1} f && /Block bitmap at/ {print $4; exit}'
}
# Blocks in which image files A and B differ, one per line.
image_diff() {
	cmp -l "$1" "$2" | awk '{print int(($1 - 1) / 4096)}' | uniq
}
# Does the snapshot hold block N as HEX (its contents before fsck)?
saved_as() {
	local p
	p=$("$craft" "$img" bmap "$1") || fail "bijcraft bmap $1"
	[ "$p" != 0 ] || { echo "block $1 is not saved in the snapshot"; return 1; }
	[ "$(block "$p")" = "$2" ] || { echo "the snapshot's copy of block $1 differs from its contents before fsck"; return 1; }
}

step "a replayed copy allocates in a group whose bitmap the snapshot has not saved"
mke2fs -q -F -t ext3 -b 4096 "$img" 256M >/dev/null || fail "mke2fs"
"$craft" "$img" snapshot snap 3 64 >/dev/null || fail "bijcraft snapshot"
bb1=$(bitmap_of 1)
[ -n "$bb1" ] || fail "no group 1 in the image"
[ "$("$craft" "$img" bmap "$bb1")" = 0 ] || fail "the fixture saved group 1's bitmap already"
"$craft" "$img" record 1 1 copy:40000:0xab || fail "bijcraft record"
was=$(block "$bb1")
"$dump" "$img" "$tmp/image.before" || fail "imagedump"
run fsck.ext3snap -fy "$img"
[ $rc = 1 ] || fail "-fy gave $rc, not 1: $out"
"$dump" "$img" "$tmp/image.after" || fail "imagedump"
# Block 40000 was free at the instant (the image shows zeroes there,
# whatever the record says it held): nothing changes.
d=$(image_diff "$tmp/image.before" "$tmp/image.after" | tr '\n' ' ')
[ -z "$d" ] || fail "the image changed in blocks: $d: $out"
e2fsck -fn "$tmp/image.after" >"$tmp/e2fsck.out" 2>&1 || fail "the image is not e2fsck-clean: $(cat "$tmp/e2fsck.out")"
p=$("$craft" "$img" bmap 40000)
[ "$p" -ge 32768 ] || fail "the copy of block 40000 went to $p, not to group 1: the test needs it there"
[ "$(block "$bb1")" != "$was" ] || fail "group 1's bitmap did not change: the test needs it to"
saved_as "$bb1" "$was" || fail "group 1's bitmap: $(saved_as "$bb1" "$was"): $out"
grep -q 'saved [0-9]* blocks before they were changed' <<<"$out" || fail "no word of the saves: $out"
run fsck.ext3snap -fn "$img"
[ $rc = 0 ] || fail "-fn after the repair gave $rc: $out"

step "e2fsck -y repairs a bitmap the snapshot has not saved: saved first"
mke2fs -q -F -t ext3 -b 4096 "$img" 256M >/dev/null || fail "mke2fs"
"$craft" "$img" snapshot snap 3 64 >/dev/null || fail "bijcraft snapshot"
bb1=$(bitmap_of 1)
# Mark free block 50000 in use in group 1's bitmap: e2fsck frees it.
off=$(( (50000 - 32768) / 8 ))
printf "\\x$(printf %02x $(( $(od -An -tu1 -j $((bb1 * 4096 + off)) -N1 "$img") | (1 << ((50000 - 32768) % 8)) )))" |
	dd of="$img" bs=1 seek=$((bb1 * 4096 + off)) conv=notrunc 2>/dev/null
was=$(block "$bb1")
"$dump" "$img" "$tmp/image.before" || fail "imagedump"
run fsck.ext3snap -fy "$img"
[ $((rc & 1)) = 1 ] && [ $((rc & ~1)) = 0 ] || fail "-fy gave $rc, not 1: $out"
grep -q 'Block bitmap differences' <<<"$out" || fail "e2fsck saw nothing to fix: the test needs a fix: $out"
saved_as "$bb1" "$was" || fail "group 1's bitmap: $(saved_as "$bb1" "$was"): $out"
"$dump" "$img" "$tmp/image.after" || fail "imagedump"
d=$(image_diff "$tmp/image.before" "$tmp/image.after" | tr '\n' ' ')
[ -z "$d" ] || fail "e2fsck's repair changed the image in blocks: $d"

step "an orphan at the instant: e2fsck frees its blocks, the snapshot keeps them"
mke2fs -q -F -t ext3 -b 4096 "$img" 256M >/dev/null || fail "mke2fs"
head -c 49152 /dev/urandom >"$tmp/data"
debugfs -w -R "write $tmp/data victim" "$img" >/dev/null 2>&1 || fail "debugfs write"
vino=$(debugfs -R "stat victim" "$img" 2>/dev/null | awk '/^Inode:/ {print $2}')
blocks=$(debugfs -R "blocks victim" "$img" 2>/dev/null)
[ -n "$vino" ] && [ -n "$blocks" ] || fail "the victim file has no inode or blocks"
# Unlinked while open: on the orphan list, no name, no link.
debugfs -w -f - "$img" >/dev/null 2>&1 <<EOF || fail "debugfs orphan"
unlink victim
set_inode_field <$vino> links_count 0
set_inode_field <$vino> dtime 0
ssv last_orphan $vino
EOF
"$craft" "$img" snapshot snap 3 64 >/dev/null || fail "bijcraft snapshot"
declare -A before
for b in $blocks; do before[$b]=$(block "$b"); done
"$dump" "$img" "$tmp/image.before" || fail "imagedump"
run fsck.ext3snap -fy "$img"
[ $((rc & ~1)) = 0 ] || fail "-fy gave $rc: $out"
"$dump" "$img" "$tmp/image.after" || fail "imagedump"
d=$(image_diff "$tmp/image.before" "$tmp/image.after" | tr '\n' ' ')
[ -z "$d" ] || fail "the orphan's release changed the image in blocks: $d"
for b in $blocks; do
	[ "$("$craft" "$img" bmap "$b")" = "$b" ] ||
		fail "block $b of the orphan was not kept for the snapshot (mapped at $("$craft" "$img" bmap "$b")): $out"
	[ "$(block "$b")" = "${before[$b]}" ] || fail "block $b of the orphan changed"
done
grep -q "kept [0-9]* blocks e2fsck freed" <<<"$out" || fail "no word of the kept blocks: $out"
run fsck.ext3snap -fn "$img"
[ $rc = 0 ] || fail "-fn after the repair gave $rc: $out"

step "a journal too small for what must be saved: the snapshot is marked broken"
mke2fs -q -F -t ext3 -b 4096 "$img" 256M >/dev/null || fail "mke2fs"
"$craft" "$img" snapshot snap 3 2 >/dev/null || fail "bijcraft snapshot"
"$craft" "$img" record 1 1 copy:40000:0xab 2>/dev/null &&
	fail "a record fitted in a one-block ring"
bb1=$(bitmap_of 1)
off=$(( (50000 - 32768) / 8 ))
printf '\xff' | dd of="$img" bs=1 seek=$((bb1 * 4096 + off)) conv=notrunc 2>/dev/null
run fsck.ext3snap -fy "$img"
[ $((rc & 4)) = 4 ] || fail "-fy with a full journal gave $rc, without 4: $out"
grep -q 'snapshot 3 (inode [0-9]*) is broken: its before-image journal (2 blocks) is full' <<<"$out" ||
	fail "no clear word that the snapshot is broken: $out"
"$craft" "$img" header | grep -q 'flags=0x1\|flags=1' || fail "the header is not marked broken: $("$craft" "$img" header)"
run fsck.ext3snap -fn "$img"
grep -q 'snapshot 3 (inode [0-9]*) is broken' <<<"$out" || fail "-fn does not report the broken snapshot: $out"

echo "PASS"
