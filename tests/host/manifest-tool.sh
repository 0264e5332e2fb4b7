#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The snapshot oracle must see every change: tests/tools/manifest records a
# tree populated by tests/tools/populate, and compare must report each kind
# of single change (content, mode, owner, mtime, xattrs, symlink target,
# removal, addition, hard links, sparse files) naming the path and field,
# and nothing when nothing changed.  --exclude must exclude, populate and
# churn must be deterministic per seed, and churn must change the tree.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
tools=$PWD/tests/tools
M=$tools/manifest
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/manifest-tool.XXXXXX") || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT
tree=$tmp/tree
mkdir "$tree" "$tmp/twin" "$tmp/other"

# --- populate: a summary, deterministic per seed
out=$("$tools/populate" "$tree" --seed 7 --size-mb 2) || fail "populate failed: $out"
tail -n1 <<<"$out" | grep -qE '^populate: [1-9][0-9]* files, [1-9][0-9]* dirs, [1-9][0-9]* bytes' ||
	fail "no summary line from populate: $out"
"$tools/populate" "$tmp/twin" --seed 7 --size-mb 2 >/dev/null || fail "populate (twin) failed"
"$tools/populate" "$tmp/other" --seed 8 --size-mb 2 >/dev/null || fail "populate (seed 8) failed"

"$M" record "$tree" -o "$tmp/base" || fail "record failed"
"$M" record "$tree" >"$tmp/stdout" || fail "record to stdout failed"
cmp -s "$tmp/base" "$tmp/stdout" || fail "record to stdout differs from -o FILE"
"$M" record "$tmp/twin" -o "$tmp/twin.m" || fail "record (twin) failed"
"$M" record "$tmp/other" -o "$tmp/other.m" || fail "record (seed 8) failed"

out=$("$M" compare "$tmp/base" "$tmp/stdout"); rc=$?
[ $rc = 0 ] || fail "two records of an unchanged tree: compare gave $rc: $out"
grep -q '^identical: ' <<<"$out" || fail "compare did not say identical: $out"
# Two trees written alike may differ in blocks= on an extent filesystem
# (an extent block appears when the allocator fragments a directory), so
# determinism is checked without that field.
out=$("$M" compare --ignore blocks "$tmp/base" "$tmp/twin.m"); rc=$?
[ $rc = 0 ] || fail "populate --seed 7 twice gave different trees ($rc): $out"
out=$("$M" compare "$tmp/base" "$tmp/other.m"); rc=$?
[ $rc = 1 ] || fail "populate --seed 7 and --seed 8 gave the same tree ($rc)"
grep -q 'sha256' <<<"$out" || fail "different seeds did not change content: $out"

# --- the record itself: every entry, odd names on one line, true hashes
want=$(($(find "$tree" -printf x | wc -c) + 1))
have=$(wc -l <"$tmp/base")
[ "$have" = "$want" ] || fail "manifest has $have lines, want $want (header + every entry)"
[ "$(sed -n 2p "$tmp/base" | cut -d' ' -f1-2)" = ". type=dir" ] || fail "root '.' is not the first entry"
for p in 'names/new%0Aline' 'names/bad-utf8-%FF%FE%80' 'names/with%20space' \
	'names/-leading-dash' 'names/percent%2541' 'sparse/past-double-1k' \
	'special/fifo' 'symlinks/dangling' 'modes/closed/hidden'; do
	grep -q "^$p type=" "$tmp/base" || fail "no entry for $p"
done
grep -q '^links/a-again type=file .* nlink=2 .* link=links/a ' "$tmp/base" ||
	fail "hard link group not recorded for links/a-again"
grep -q '^symlinks/dangling type=symlink .* target=does/not/exist' "$tmp/base" ||
	fail "symlink target not recorded"
grep -q '^xattrs/small .* xattr=trusted.tag=00010262696e617279' "$tmp/base" ||
	fail "trusted.tag xattr not recorded"
grep -q '^modes/setuid type=file mode=4755 uid=1000 gid=1000 ' "$tmp/base" ||
	fail "setuid mode or owner not recorded"
grep -q '^modes/sticky type=dir mode=1777 ' "$tmp/base" || fail "sticky dir not recorded"
for f in sparse/past-double-1k big sizes/s1; do
	sum=$(sha256sum "$tree/$f" | cut -d' ' -f1)
	grep -q "^$f .* sha256=$sum" "$tmp/base" || fail "sha256 of $f is not $sum"
done

# --- each single change is reported, naming path and field
n=0
# expect COUNTS REGEX: record, compare with the last record; compare must
# exit 1, report COUNTS (e.g. "0 only in A, 0 only in B, 1 changed") and
# print a line matching REGEX. The new record becomes the base.
expect() {
	local counts=$1 re=$2 out rc
	n=$((n + 1))
	"$M" record "$tree" -o "$tmp/m$n" || fail "record $n failed"
	out=$("$M" compare "$tmp/base" "$tmp/m$n"); rc=$?
	[ $rc = 1 ] || fail "change $n ($re): compare gave $rc, not 1: $out"
	head -n1 <<<"$out" | grep -qF ": $counts" ||
		fail "change $n: want '$counts' in the summary: $out"
	grep -qE "$re" <<<"$out" || fail "change $n: no line matching '$re': $out"
	cp "$tmp/m$n" "$tmp/base"
}
keep_time() { touch -r "$tree/$1" "$tmp/ref-$2"; }      # path slot
put_time() { touch -r "$tmp/ref-$2" "$tree/$1"; }

# poke FILE OFFSET: change one byte of FILE in place, keeping its mtime.
poke() {
	local b
	b=$(od -An -tu1 -j"$2" -N1 "$tree/$1" | tr -d ' ')
	[ -n "$b" ] || fail "cannot read byte $2 of $1"
	keep_time "$1" f
	printf '%b' "\\$(printf %03o $(((b + 1) % 256)))" |
		dd of="$tree/$1" bs=1 seek="$2" conv=notrunc status=none || fail "dd into $1"
	put_time "$1" f
}
one='0 only in A, 0 only in B, 1 changed'
sha='sha256 [0-9a-f]{16}\.\.\. -> [0-9a-f]{16}\.\.\.$'

poke sizes/s4096 100
expect "$one" "^differs:   sizes/s4096: $sha"
chmod 0700 "$tree/modes/exec"
expect "$one" '^differs:   modes/exec: mode 0755 -> 0700$'
chown 1234:5678 "$tree/sizes/s1"
expect "$one" '^differs:   sizes/s1: uid 0 -> 1234; gid 0 -> 5678$'
touch -d '2011-11-11 11:11:11.123456789 UTC' "$tree/sizes/s0"
expect "$one" '^differs:   sizes/s0: mtime [0-9]+ .* -> 1321009871123456789 \(2011-11-11 11:11:11\.123456789Z\)$'
setfattr -n trusted.tag -v 0x0102 "$tree/xattrs/small" || fail "setfattr"
expect "$one" '^differs:   xattrs/small: xattr trusted.tag: 00010262696e617279 -> 0102$'
setfattr -n trusted.added -v 0x00ff "$tree/sizes/s511" || fail "setfattr"
expect "$one" '^differs:   sizes/s511: xattr trusted.added: \(none\) -> 00ff$'
keep_time symlinks d
ln -sfn somewhere/else "$tree/symlinks/dangling" || fail "ln -sfn"
put_time symlinks d
expect "$one" '^differs:   symlinks/dangling: .*target does/not/exist -> somewhere/else'
keep_time sizes d
rm "$tree/sizes/s1023"
put_time sizes d
expect '1 only in A, 0 only in B, 0 changed' '^only in A: sizes/s1023 \(file\)$'
keep_time names d
echo new >"$tree/names/added-file"
put_time names d
expect '0 only in A, 1 only in B, 0 changed' '^only in B: names/added-file \(file\)$'
keep_time links d
{ cp -p "$tree/links/a" "$tree/links/copy" && mv "$tree/links/copy" "$tree/links/a-again"; } ||
	fail "breaking the hard link"
put_time links d
cmp -s "$tree/links/a" "$tree/links/a-again" || fail "the broken link changed content"
expect '0 only in A, 0 only in B, 2 changed' '^differs:   links/a-again: nlink 2 -> 1; link links/a -> \(none\)$'
grep -q '^differs:   links/a: nlink 2 -> 1; link links/a -> (none)$' < <("$M" compare "$tmp/m$((n - 1))" "$tmp/m$n") ||
	fail "the other half of the broken hard link is not reported"
# Same size, same mtime, one byte changed in the data after a 2 MiB hole.
poke sparse/hole-middle $((2 * 1024 * 1024 + 5))
expect "$one" "^differs:   sparse/hole-middle: $sha"
# Zeros written into a hole: same content, but the allocation shows.
keep_time sparse/all-hole f
dd if=/dev/zero of="$tree/sparse/all-hole" bs=4096 seek=10 count=1 conv=notrunc status=none
put_time sparse/all-hole f
expect "$one" '^differs:   sparse/all-hole: blocks 0 -> [1-9][0-9]*$'

# --- --exclude leaves out the path and everything below it
ex=(--exclude ./tree/sub0/ --exclude sizes/s4095)
"$M" record "$tree" "${ex[@]}" -o "$tmp/ex1" || fail "record --exclude failed"
grep -qE '^(tree/sub0|sizes/s4095)[ /]' "$tmp/ex1" && fail "--exclude did not exclude"
grep -q '^tree/sub1 ' "$tmp/ex1" || fail "--exclude tree/sub0 also dropped tree/sub1"
grep -q '^sizes/s4096 ' "$tmp/ex1" || fail "--exclude sizes/s4095 also dropped sizes/s4096"
[ $(($(wc -l <"$tmp/base") - $(wc -l <"$tmp/ex1"))) -ge 7 ] || fail "--exclude dropped too little"
poke tree/sub0/file0 3
poke sizes/s4095 0
"$M" record "$tree" "${ex[@]}" -o "$tmp/ex2" || fail "record --exclude failed"
out=$("$M" compare "$tmp/ex1" "$tmp/ex2"); rc=$?
[ $rc = 0 ] || fail "a change below an excluded path was reported ($rc): $out"
expect '0 only in A, 0 only in B, 2 changed' "^differs:   tree/sub0/file0: $sha"

# --- errors: exit 2 with a message
"$M" compare "$tmp/base" "$tmp/no-such" 2>/dev/null; rc=$?
[ $rc = 2 ] || fail "compare with a missing file gave $rc, not 2"
"$M" compare "$tmp/base" "$tree/sizes/s4096" 2>/dev/null; rc=$?
[ $rc = 2 ] || fail "compare with a non-manifest gave $rc, not 2"
"$M" record "$tree/sizes/s1" >/dev/null 2>&1; rc=$?
[ $rc = 2 ] || fail "record of a file gave $rc, not 2"
"$M" >/dev/null 2>&1; rc=$?
[ $rc = 2 ] || fail "no arguments gave $rc, not 2"

# --- churn changes a copy thoroughly, and the same way for the same seed
{ cp -a "$tree" "$tmp/c1" && cp -a "$tree" "$tmp/c2"; } || fail "cp -a"
"$M" record "$tmp/c1" -o "$tmp/c1.before" || fail "record c1"
out=$("$tools/churn" "$tmp/c1" --seed 3) || fail "churn failed: $out"
steps=$(grep -c '^churn: ' <<<"$out")
[ "$steps" -ge 22 ] || fail "churn printed $steps step lines, want 22: $out"
"$tools/churn" "$tmp/c2" --seed 3 >/dev/null || fail "churn (c2) failed"
"$M" record "$tmp/c1" -o "$tmp/c1.after" || fail "record c1 after churn"
"$M" record "$tmp/c2" -o "$tmp/c2.after" || fail "record c2 after churn"
out=$("$M" compare "$tmp/c1.before" "$tmp/c1.after"); rc=$?
[ $rc = 1 ] || fail "compare after churn gave $rc, not 1"
grep -qE '^\.\.\. [0-9]+ more differences$' <<<"$out" || fail "no '... N more differences' after churn: $out"
[ "$(wc -l <<<"$out")" -le 52 ] || fail "compare printed more than 50 differences"
# Which fields churn changed, read from the manifests independently of
# compare: every kind of change must be there.
full=$(python3 - "$tmp/c1.before" "$tmp/c1.after" <<'EOF'
import sys
def load(n):
    return {l.split(" ")[0]: dict(w.split("=", 1) for w in l.split(" ")[1:])
            for l in open(n).read().splitlines()[1:]}
a, b = load(sys.argv[1]), load(sys.argv[2])
kinds = set()
for p in set(a) | set(b):
    if p not in b: kinds.add("removed")
    elif p not in a: kinds.add("added")
    else:
        kinds |= {k for k in set(a[p]) | set(b[p]) if a[p].get(k) != b[p].get(k)}
print(" ".join(sorted(kinds)))
EOF
)
for k in added removed sha256 size blocks mode uid gid mtime xattr nlink; do
	grep -qw "$k" <<<"$full" || fail "churn changed no '$k' (changed: $full)"
done
out=$("$M" compare --ignore mtime,blocks "$tmp/c1.after" "$tmp/c2.after"); rc=$?
[ $rc = 0 ] || fail "churn --seed 3 twice gave different trees ($rc): $out"
echo "manifest-tool: ok"
