#!/bin/bash
# fsck.ext3snap on images carrying a snapshot (crafted with bijcraft as the
# kernel lays them out): plain e2fsck refuses the has_snapshot flag,
# fsck.ext3snap checks through its shim and leaves -n images byte for byte
# as they were; a pending before-image journal is replayed by -y (exit 1,
# then clean); a damaged record marks the snapshot broken; a torn last
# record is dropped; --remove-snapshots gives plain ext3 back; 'fsck'
# reaches fsck.ext3snap through fstab.
set -uo pipefail
cd "$(dirname "$0")/../.."
make -s --no-print-directory "$PWD/build/tests/bijcraft" tools >/dev/null ||
	{ echo "FAIL: cannot build bijcraft and the tools"; exit 1; }
export PATH=$PWD/build/bin:$PATH
craft=$PWD/build/tests/bijcraft
fail() { echo "FAIL: $*"; exit 1; }
step() { echo "== $*"; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fsck-snapshot.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
img=$tmp/fs.img

# A fresh ext3 image with a snapshot "snap" (id 3, a 16-block journal).
new_image() {
	mke2fs -q -F -t ext3 -b 4096 "$img" 64M >/dev/null || fail "mke2fs"
	ino=$("$craft" "$img" snapshot snap 3 16) || fail "bijcraft snapshot"
}
has_flag() {	# the has_snapshot bit, read from the raw superblock
	[ $(( $(od -An -tu1 -j1124 -N1 "$img") & 0x80 )) != 0 ]
}
run() {	# run CMD...: sets $out and $rc
	out=$("$@" 2>&1); rc=$?
}

step "plain e2fsck refuses the flag, fsck.ext3snap -fn checks; -n writes nothing"
new_image
has_flag || fail "bijcraft did not set the flag"
run e2fsck -fn "$img"
[ $((rc & 8)) = 8 ] || fail "plain e2fsck accepted the flagged image ($rc): $out"
cp "$img" "$tmp/before"
run fsck.ext3snap -fn "$img"
[ $rc = 0 ] || fail "clean snapshot image gave $rc: $out"
grep -q 'Pass 5' <<<"$out" || fail "e2fsck did not run: $out"
cmp -s "$img" "$tmp/before" || fail "-n changed the image"
run fsck.ext3snap -fy "$img"
[ $rc = 0 ] || fail "-fy on a clean snapshot image gave $rc: $out"
has_flag || fail "the flag is gone after -fy"

step "a pending journal: -n reports (4, no write), -y replays (1), then clean"
orphan=$("$craft" "$img" orphan) || fail "bijcraft orphan"
"$craft" "$img" record 1 1 copy:100:0xab "move:$orphan:1:c" copy:200:0xcd ||
	fail "bijcraft record"
"$craft" "$img" record 4 2 "move:$((orphan + 1)):1:u" || fail "bijcraft record"
cp "$img" "$tmp/before"
run fsck.ext3snap -fn "$img"
[ $rc = 4 ] || fail "-n on a pending journal gave $rc, not 4: $out"
grep -q 'would replay 2 journal records: 2 copied blocks, 1 moved' <<<"$out" ||
	fail "-n did not say what it would replay: $out"
cmp -s "$img" "$tmp/before" || fail "-n changed the image"
run fsck.ext3snap -fy "$img"
[ $rc = 1 ] || fail "-y on a pending journal gave $rc, not 1: $out"
grep -q 'replayed 2 journal records' <<<"$out" || fail "no replay report: $out"
[ "$("$craft" "$img" bmap "$orphan")" = "$orphan" ] ||
	fail "the committed move was not mapped N -> N"
[ "$("$craft" "$img" bmap $((orphan + 1)))" = 0 ] ||
	fail "the uncommitted move was mapped"
pblk=$("$craft" "$img" bmap 100)
[ "$pblk" != 0 ] || fail "the copy of block 100 was not mapped"
dd if="$img" bs=4096 skip="$pblk" count=1 2>/dev/null >"$tmp/copy"
[ "$(wc -c <"$tmp/copy")" = 4096 ] && [ "$(tr -d '\253' <"$tmp/copy" | wc -c)" = 0 ] ||
	fail "the copy of block 100 does not hold its before-image"
has_flag || fail "the flag is gone after the replay"
run fsck.ext3snap -fn "$img"
[ $rc = 0 ] || fail "-fn after the replay gave $rc: $out"
"$craft" "$img" header | grep -q 'tail_pos=5 tail_seq=3' ||
	fail "the tail was not moved past the replayed records"

step "-p replays too"
"$craft" "$img" record 5 3 copy:300:0x11 || fail "bijcraft record"
run fsck.ext3snap -p "$img"
[ $rc = 1 ] || fail "-p on a pending journal gave $rc, not 1: $out"
[ "$("$craft" "$img" bmap 300)" != 0 ] || fail "-p did not replay"

step "a torn last record is dropped, the snapshot stays good"
"$craft" "$img" record 7 4 copy:400:0x22 || fail "bijcraft record"
"$craft" "$img" poke 8 2000 || fail "bijcraft poke"
run fsck.ext3snap -fy "$img"
[ $rc = 1 ] || fail "a torn record gave $rc, not 1: $out"
grep -q 'was being written when the system stopped' <<<"$out" ||
	fail "the torn record was not reported: $out"
grep -q 'broken' <<<"$out" && fail "a torn record broke the snapshot: $out"
"$craft" "$img" header | grep -q 'flags=0 ' || fail "header flags changed"
run fsck.ext3snap -fn "$img"
[ $rc = 0 ] || fail "-fn after dropping a torn record gave $rc: $out"

step "a damaged record with a later one: reported; -y marks the snapshot broken"
"$craft" "$img" record 7 4 copy:401:0x33 || fail "bijcraft record"
"$craft" "$img" record 9 5 copy:402:0x44 || fail "bijcraft record"
"$craft" "$img" poke 8 17 || fail "bijcraft poke"
cp "$img" "$tmp/before"
run fsck.ext3snap -fn "$img"
[ $rc = 4 ] || fail "-n on a damaged record gave $rc, not 4: $out"
grep -q 'damaged journal: record 4 .*data checksum' <<<"$out" ||
	fail "the bad checksum was not reported: $out"
cmp -s "$img" "$tmp/before" || fail "-n changed the image"
run fsck.ext3snap -fy "$img"
[ $rc = 1 ] || fail "-y on a damaged record gave $rc, not 1: $out"
grep -q 'snapshot 3 (inode [0-9]*) is broken' <<<"$out" || fail "not marked broken: $out"
"$craft" "$img" header | grep -q 'flags=1 ' || fail "the header is not BROKEN"
[ "$("$craft" "$img" bmap 402)" = 0 ] || fail "replayed past the damage"
run fsck.ext3snap -fn "$img"
[ $rc = 0 ] || fail "a snapshot already marked broken gave $rc: $out"
grep -q 'snapshot 3 (inode [0-9]*) is broken' <<<"$out" || fail "broken not reported: $out"

step "fsck -t via fstab reaches fsck.ext3snap on a flagged filesystem"
echo "$img /srv/snaptest ext3snap defaults 0 2" >"$tmp/fstab"
run env LIBMOUNT_FSTAB="$tmp/fstab" fsck -V -fn "$img"
[ $rc = 0 ] || fail "fsck via fstab gave $rc: $out"
grep -q 'fsck.ext3snap -fn' <<<"$out" || fail "fsck did not run fsck.ext3snap: $out"
# Without fstab, fsck goes by the probed type: e2fsck then refuses. Safe.
: >"$tmp/empty"
run env LIBMOUNT_FSTAB="$tmp/empty" fsck -t ext3snap -fn "$img"
[ $((rc & 8)) = 8 ] ||
	fail "fsck without fstab gave $rc (expected e2fsck's refusal, 8): $out"

step "--remove-snapshots: plain ext3 that plain e2fsck finds clean"
run fsck.ext3snap --remove-snapshots -y "$img"
[ $rc = 16 ] || fail "--remove-snapshots with -y gave $rc, not 16"
run fsck.ext3snap --remove-snapshots "$img"
[ $rc = 0 ] || fail "--remove-snapshots gave $rc: $out"
grep -q "snapshot 3 (inode $ino) removed; its file is now an ordinary" <<<"$out" || fail "no word on the file: $out"
has_flag && fail "the flag is still set"
run e2fsck -fn "$img"
[ $rc = 0 ] || fail "plain e2fsck after --remove-snapshots gave $rc: $out"
debugfs -R "stat <$ino>" "$img" 2>/dev/null | grep -q 'Flags: 0x0$' ||
	fail "the snapshot flag is still on inode $ino"
run fsck.ext3snap --remove-snapshots "$img"
[ $rc = 0 ] && grep -q 'nothing to do' <<<"$out" || fail "second removal: $rc $out"

step "pending journal and jbd2 recovery: moves of the lost transaction stay out"
mke2fs -q -F -t ext3 -b 4096 "$img" 64M >/dev/null || fail "mke2fs"
seq=$(dumpe2fs -h "$img" 2>/dev/null | sed -n 's/^Journal sequence: *//p')
seq=$((seq))
# debugfs commits transaction $seq and leaves it to recover; $seq + 1 is
# lost, as in a crash. (debugfs will not write a flagged filesystem: first.)
head -c 4096 /dev/urandom >"$tmp/blk"
printf 'jo\njw -b 6000 %s\njc\n' "$tmp/blk" | debugfs -w -f - "$img" >/dev/null 2>&1
dumpe2fs -h "$img" 2>/dev/null | grep -q needs_recovery || fail "no journal to recover"
ino=$("$craft" "$img" snapshot snap 3 16) || fail "bijcraft snapshot"
orphan=$("$craft" "$img" orphan) || fail "bijcraft orphan"
"$craft" "$img" record 1 1 "move:$orphan:1:$seq" "move:$((orphan + 1)):1:$((seq + 1))" ||
	fail "bijcraft record"
run fsck.ext3snap -fn "$img"
[ $rc = 4 ] || fail "-n with a journal to recover gave $rc: $out"
grep -q 'wait for journal recovery' <<<"$out" || fail "no word on recovery: $out"
run fsck.ext3snap -fy "$img"
[ $((rc & ~1)) = 0 ] || fail "-fy with a journal to recover gave $rc: $out"
[ "$("$craft" "$img" bmap "$orphan")" = "$orphan" ] ||
	fail "the move of committed transaction $seq was not mapped: $out"
[ "$("$craft" "$img" bmap $((orphan + 1)))" = 0 ] ||
	fail "the move of lost transaction $((seq + 1)) was mapped"
has_flag || fail "the flag is gone after recovery"
echo "fsck-snapshot: ok"
