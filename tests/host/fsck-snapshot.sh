#!/bin/bash
# fsck.ext3snap on images carrying a snapshot (crafted with bijcraft as the
# kernel lays them out): plain e2fsck refuses the has_snapshot flag,
# fsck.ext3snap checks through its shim and leaves -n images byte for byte
# as they were; a pending before-image journal is replayed by -y (exit 1,
# then clean); a damaged record marks the snapshot broken; a torn last
# record is dropped; --remove-snapshots gives plain ext3 back; 'fsck'
# reaches fsck.ext3snap through fstab. Chains of snapshots (issue 5): a
# clean chain of three, records pending in the middle one, a damaged
# journal in it, a loop, ids out of order, a bad xattr, a dangling x_prev,
# a snapshot file outside the chain, an old-format head, and
# --remove-snapshots of a chain.
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
# ---- chains of snapshots (issue 5) ----------------------------------------

# A fresh image with a chain of three, oldest first: $a (id 2), $b (id 5,
# deleting), $c (id 7, the newest, in s_snapshot_inum).
new_chain() {
	mke2fs -q -F -t ext3 -b 4096 "$img" 64M >/dev/null || fail "mke2fs"
	a=$("$craft" "$img" chain s1 2 16) || fail "bijcraft chain s1"
	b=$("$craft" "$img" chain s2 5 16 deleting) || fail "bijcraft chain s2"
	c=$("$craft" "$img" chain s3 7 16) || fail "bijcraft chain s3"
}
snapflag() {	# does inode $1 carry the snapshot flag?
	debugfs -R "stat <$1>" "$img" 2>/dev/null | grep -q '^Inode: .*Flags: 0x1000000'
}
xattr_of() { "$craft" "$img" xattr-get "$1"; }
holds() {	# holds INO LBLK BYTE: snapshot INO's block LBLK is all BYTE
	local p
	p=$("$craft" -s "$1" "$img" bmap "$2") && [ "$p" != 0 ] || return 1
	dd if="$img" bs=4096 skip="$p" count=1 2>/dev/null >"$tmp/blk"
	[ "$(wc -c <"$tmp/blk")" = 4096 ] &&
		[ "$(tr -d "$(printf '\\%03o' "$3")" <"$tmp/blk" | wc -c)" = 0 ]
}

step "a clean chain of three: checked whole, -n writes nothing"
new_chain
[ "$(xattr_of "$c")" = "id=7 prev=$b flags=0" ] || fail "bad xattr on $c: $(xattr_of "$c")"
[ "$(xattr_of "$b")" = "id=5 prev=$a flags=1" ] || fail "bad xattr on $b"
run e2fsck -fn "$img"
[ $((rc & 8)) = 8 ] || fail "plain e2fsck accepted the flagged chain ($rc)"
cp "$img" "$tmp/before"
run fsck.ext3snap -fn "$img"
[ $rc = 0 ] || fail "a clean chain gave $rc: $out"
grep -q "3 snapshots, newest first: snapshot 7 (inode $c), snapshot 5 (inode $b) deleting, snapshot 2 (inode $a)$" <<<"$out" ||
	fail "the chain was not listed whole: $out"
grep -q 'Pass 5' <<<"$out" || fail "e2fsck did not run: $out"
cmp -s "$img" "$tmp/before" || fail "-n changed the chain image"
run fsck.ext3snap -fy "$img"
[ $rc = 0 ] || fail "-fy on a clean chain gave $rc: $out"
[ "$(xattr_of "$a")" = "id=2 prev=0 flags=0" ] || fail "-fy changed the oldest's xattr"
snapflag "$a" && snapflag "$b" && snapflag "$c" || fail "-fy dropped a member's flag"

step "the e2fsck shim: several snapshot files with xattrs in an xattr block"
mke2fs -q -F -t ext3 -I 128 -b 4096 "$img" 64M >/dev/null 2>&1 || fail "mke2fs -I 128"
for i in 1 2 3; do "$craft" "$img" chain "s$i" "$i" 16 >/dev/null || fail "chain $i"; done
debugfs -R "stat <12>" "$img" 2>/dev/null | grep -q '^File ACL: [1-9]' ||
	fail "the xattr did not go to an xattr block"
run fsck.ext3snap -fn "$img"
[ $rc = 0 ] || fail "a chain with xattr blocks gave $rc: $out"
grep -q '3 snapshots' <<<"$out" || fail "the chain was not read: $out"

step "pending records in the middle snapshot land in its file"
new_chain
orphan=$("$craft" "$img" orphan) || fail "bijcraft orphan"
"$craft" -s "$b" "$img" record 1 1 copy:100:0xab "move:$orphan:1:c" copy:200:0xcd ||
	fail "bijcraft record in $b"
"$craft" -s "$a" "$img" record 1 1 copy:100:0x11 || fail "bijcraft record in $a"
cp "$img" "$tmp/before"
run fsck.ext3snap -fn "$img"
[ $rc = 4 ] || fail "-n with pending records in a middle snapshot gave $rc: $out"
grep -q "snapshot 5 (inode $b): would replay 1 journal records: 2 copied blocks, 1 moved" <<<"$out" ||
	fail "-n did not report the middle snapshot's records: $out"
grep -q "snapshot 2 (inode $a): would replay 1 journal records: 1 copied" <<<"$out" ||
	fail "-n did not report the oldest snapshot's record: $out"
grep -q "snapshot 7 (inode $c): would replay" <<<"$out" && fail "the newest has no records: $out"
cmp -s "$img" "$tmp/before" || fail "-n changed the image"
# Snapshot 5's journal header, in use at snapshot 7's instant (crafted
# snapshots carry no exclude map): its replay rewrites it.
hdr5=$("$craft" -s "$b" "$img" bmap $(( $(stat -c %s "$img") / 4096 )))
run fsck.ext3snap -fy "$img"
[ $rc = 1 ] || fail "-y with pending records gave $rc, not 1: $out"
holds "$b" 100 0xab || fail "block 100 of snapshot 5 does not hold its before-image"
holds "$b" 200 0xcd || fail "block 200 of snapshot 5 does not hold its before-image"
[ "$("$craft" -s "$b" "$img" bmap "$orphan")" = "$orphan" ] ||
	fail "the committed move was not mapped N -> N in snapshot 5"
holds "$a" 100 0x11 || fail "block 100 of snapshot 2 does not hold its own before-image"
[ "$("$craft" -s "$c" "$img" bmap 100)" = 0 ] || fail "a copy landed in snapshot 7"
[ "$("$craft" -s "$a" "$img" bmap "$orphan")" = 0 ] || fail "the move landed in snapshot 2"
"$craft" -s "$b" "$img" header | grep -q 'tail_pos=4 tail_seq=2' ||
	fail "the tail of snapshot 5 did not move"
[ "$("$craft" -s "$c" "$img" bmap "$hdr5")" != 0 ] ||
	fail "snapshot 7 did not save snapshot 5's journal header before its replay changed it: $out"
run fsck.ext3snap -fn "$img"
[ $rc = 0 ] || fail "-fn after the replay gave $rc: $out"

step "a damaged journal in the middle marks that snapshot broken, only it"
"$craft" -s "$b" "$img" record 4 2 copy:300:0x33 || fail "bijcraft record"
"$craft" -s "$b" "$img" record 6 3 copy:301:0x44 || fail "bijcraft record"
"$craft" -s "$b" "$img" poke 5 17 || fail "bijcraft poke"
run fsck.ext3snap -fy "$img"
[ $rc = 1 ] || fail "-y on a damaged middle journal gave $rc: $out"
grep -q "snapshot 5 (inode $b) is broken" <<<"$out" || fail "not marked broken: $out"
"$craft" -s "$b" "$img" header | grep -q 'flags=1 ' || fail "snapshot 5 is not BROKEN"
"$craft" -s "$c" "$img" header | grep -q 'flags=0 ' || fail "snapshot 7 was marked too"
"$craft" -s "$a" "$img" header | grep -q 'flags=0 ' || fail "snapshot 2 was marked too"

step "a loop in the chain: reported, nothing guessed, --remove-snapshots cures"
new_chain
"$craft" "$img" xattr "$a" 2 "$c" 0 || fail "bijcraft xattr"
cp "$img" "$tmp/before"
run fsck.ext3snap -fn "$img"
[ $rc = 4 ] || fail "-n on a loop gave $rc, not 4: $out"
grep -q "x_prev of snapshot 2 (inode $a) names inode $c, which is already in the chain: the chain is a loop" <<<"$out" ||
	fail "the loop was not reported: $out"
grep -q -- "--remove-snapshots $img" <<<"$out" || fail "no advice: $out"
cmp -s "$img" "$tmp/before" || fail "-n changed the image"
run fsck.ext3snap -fy "$img"
[ $((rc & 4)) = 4 ] || fail "-y on a loop gave $rc, without 4: $out"
[ "$(xattr_of "$a")" = "id=2 prev=$c flags=0" ] || fail "-y changed the chain"
snapflag "$a" && snapflag "$b" && snapflag "$c" || fail "-y dropped a member of the loop"
run fsck.ext3snap --remove-snapshots "$img"
[ $rc = 0 ] || fail "--remove-snapshots on a loop gave $rc: $out"
run e2fsck -fn "$img"
[ $rc = 0 ] || fail "plain e2fsck after removing a loop gave $rc: $out"

step "ids out of order: the chain is damaged"
new_chain
"$craft" "$img" xattr "$b" 9 "$a" 0 || fail "bijcraft xattr"
run fsck.ext3snap -fn "$img"
[ $rc = 4 ] && grep -q "whose id 9 is not below 7" <<<"$out" || fail "ids out of order: $rc $out"

step "a bad xattr in the middle: the chain is damaged"
new_chain
"$craft" "$img" xattr-raw "$b" 0x12345678 32 || fail "bijcraft xattr-raw"
run fsck.ext3snap -fn "$img"
[ $rc = 4 ] && grep -q "inode $b has magic 0x12345678" <<<"$out" || fail "bad magic: $rc $out"
"$craft" "$img" xattr-raw "$b" 0x58533345 20 || fail "bijcraft xattr-raw"
run fsck.ext3snap -fn "$img"
[ $rc = 4 ] && grep -q "inode $b has 20 bytes, not 32" <<<"$out" || fail "short xattr: $rc $out"

"$craft" "$img" xattr-rm "$b" || fail "bijcraft xattr-rm"
run fsck.ext3snap -fn "$img"
[ $rc = 4 ] && grep -q "names inode $b, which has no trusted.ext3snap xattr" <<<"$out" ||
	fail "a member without xattr: $rc $out"

step "a dangling x_prev: reported; the older snapshot is left alone"
new_chain
"$craft" "$img" xattr "$b" 5 5000 1 || fail "bijcraft xattr"
run fsck.ext3snap -fy "$img"
[ $((rc & 4)) = 4 ] || fail "-y on a dangling x_prev gave $rc, without 4: $out"
grep -q "x_prev of snapshot 5 (inode $b) names inode 5000, which is not a snapshot file (a free inode)" <<<"$out" ||
	fail "the dangling x_prev was not reported: $out"
grep -q "inode $a left alone" <<<"$out" || fail "no word on the unreachable snapshot: $out"
snapflag "$a" || fail "-y cleared the flag of a snapshot past the damage"
[ "$(xattr_of "$b")" = "id=5 prev=5000 flags=1" ] || fail "-y changed the chain"
"$craft" "$img" xattr "$b" 5 11 1 || fail "bijcraft xattr"
run fsck.ext3snap -fn "$img"
[ $rc = 4 ] && grep -q "names inode 11, which is not a snapshot file (not a regular file)" <<<"$out" ||
	fail "x_prev at a directory: $rc $out"

step "a snapshot file outside the chain: -n reports, -y makes it ordinary"
new_chain
stray=$("$craft" "$img" member stray 1 16 0) || fail "bijcraft member"
"$craft" -s "$stray" "$img" record 1 1 copy:100:0x55 || fail "bijcraft record"
cp "$img" "$tmp/before"
run fsck.ext3snap -fn "$img"
[ $rc = 4 ] || fail "-n with a stray snapshot file gave $rc, not 4: $out"
grep -q "inode $stray has the snapshot flag but is not in the chain of snapshots (its xattr says snapshot 1)" <<<"$out" ||
	fail "the stray file was not reported: $out"
cmp -s "$img" "$tmp/before" || fail "-n changed the image"
run fsck.ext3snap -fy "$img"
[ $rc = 1 ] || fail "-y with a stray snapshot file gave $rc, not 1: $out"
grep -q "inode $stray is an ordinary read-only file now" <<<"$out" || fail "no word on the fix: $out"
snapflag "$stray" && fail "the stray file kept its flag"
[ "$(xattr_of "$stray")" = none ] || fail "the stray file kept its xattr"
snapflag "$a" && snapflag "$b" && snapflag "$c" || fail "a member lost its flag"
run fsck.ext3snap -fn "$img"
[ $rc = 0 ] || fail "-fn after the fix gave $rc: $out"

step "a head without the xattr (the format before chains) is a chain of one"
mke2fs -q -F -t ext3 -b 4096 "$img" 64M >/dev/null || fail "mke2fs"
ino=$("$craft" "$img" snapshot snap 3 16) || fail "bijcraft snapshot"
[ "$(xattr_of "$ino")" = none ] || fail "the old-format head has an xattr"
run fsck.ext3snap -fn "$img"
[ $rc = 0 ] || fail "an old-format snapshot gave $rc: $out"
grep -q "1 snapshot, newest first: snapshot 3 (inode $ino)$" <<<"$out" || fail "not listed: $out"
# A snapshot file with an xattr beside it: the head may have lost its own.
stray=$("$craft" "$img" member stray 2 16 0) || fail "bijcraft member"
run fsck.ext3snap -fy "$img"
[ $((rc & 4)) = 4 ] && grep -q "inode $stray left alone" <<<"$out" ||
	fail "a stray with an xattr beside an old-format head: $rc $out"
snapflag "$stray" || fail "-y cleared it"
# Without an xattr, it is a stray like any: cleared.
"$craft" "$img" xattr-rm "$stray" || fail "bijcraft xattr-rm"
run fsck.ext3snap -fy "$img"
[ $rc = 1 ] && ! snapflag "$stray" || fail "a stray without xattr was not cleared: $rc $out"
snapflag "$ino" || fail "the head lost its flag"

step "--remove-snapshots on a chain of three: plain ext3"
new_chain
orphan=$("$craft" "$img" orphan) || fail "bijcraft orphan"
"$craft" -s "$b" "$img" record 1 1 copy:100:0xab "move:$orphan:1:c" ||
	fail "bijcraft record"
run fsck.ext3snap --remove-snapshots "$img"
[ $rc = 0 ] || fail "--remove-snapshots on a chain gave $rc: $out"
for i in "7 $c" "5 $b" "2 $a"; do
	set -- $i
	grep -q "snapshot $1 (inode $2) removed" <<<"$out" || fail "snapshot $1 not removed: $out"
	snapflag "$2" && fail "inode $2 kept the snapshot flag"
	[ "$(xattr_of "$2")" = none ] || fail "inode $2 kept its xattr"
done
grep -q "ncheck $a $b $c'" <<<"$out" || fail "no way to find the files: $out"
has_flag && fail "the has_snapshot flag is still set"
[ "$(dumpe2fs -h "$img" 2>/dev/null | sed -n 's/^Snapshot inode: *//p')" = "" ] ||
	fail "s_snapshot_inum is still set"
run e2fsck -fn "$img"
[ $rc = 0 ] || fail "plain e2fsck after --remove-snapshots of a chain gave $rc: $out"
# The replayed move belongs to the former snapshot file, not to nobody.
debugfs -R "icheck $orphan" "$img" 2>/dev/null | grep -q "^$orphan[[:space:]]*$b\$" ||
	fail "the moved block $orphan does not belong to inode $b"

echo "fsck-snapshot: ok"
