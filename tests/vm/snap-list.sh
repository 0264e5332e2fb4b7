#!/bin/bash
# vm-run: --disk a:512M --disk b:64M --timeout 600
# e3snapconfig -l and -l -o json (issue 5): three snapshots in two
# directories (one name with a space) are listed newest first, with their
# paths, increasing ids, times, states (the newest active, the others ok),
# the space they hold, and the ssdev device one is bound to. Deleting the
# middle one leaves it out of the list, or in it as 'deleting' while the
# older one needs its blocks, and it goes when that one does. Deleting on a
# terminal may show progress, and nothing but the result otherwise. -l on
# what is not an ext3snap mount is refused in words.
. "$(dirname "$0")/lib.sh"

py=/usr/bin/python3
src=/mnt/src
other=/mnt/b
tmpfs=/mnt/tmpfs
d1=$src/d1
d2="$src/dir two"
s1=$d1/s1.img
s2=$d2/s2.img
s3=$d1/s3.img
mkdir -p "$src" "$other" "$tmpfs"
modprobe ext4
mark_log

mkfs.ext3 -q -b 4096 "$DISK_a"
# noatime: listing reads directories, and an atime update would be a
# change the active snapshot copies, moving its numbers between two calls.
mount -t ext3snap -o noatime "$DISK_a" "$src"
mkdir "$d1" "$d2" "$src/data" "$src/tree"
"$TOOLS/populate" "$src/tree" --seed 52 --size-mb 4 >/dev/null
dd if=/dev/urandom of="$src/data/big" bs=1M count=48 status=none
sync

# rewrite MIB: overwrite the first MIB MiB of the big file, so that the
# active snapshot saves (and holds) at least that much.
rewrite() {
	dd if=/dev/urandom of="$src/data/big" bs=1M count="$1" conv=notrunc,fsync status=none
}

# list [ARGS]: 'e3snapconfig -l $src ARGS'; must succeed with nothing on
# stderr. The output is printed and kept in $LIST.
list() {
	local err=/tmp/list.err
	LIST=$(e3snapconfig -l "$src" "$@" 2>"$err") ||
		fail "e3snapconfig -l $src $* failed (exit $?): $(cat "$err")"
	[ ! -s "$err" ] || soft_fail "e3snapconfig -l $src $*: unexpected stderr: $(cat "$err")"
	printf '%s\n' "$LIST" | sed 's/^/    /'
}

# The JSON checker: the listing on stdin against what the test knows (a
# JSON object in argv[1]): 'snaps', newest first, each with path, id, state
# and optionally devices, min_bytes, file_blocks (at least); 't0'/'t1' bound the times.
cat >/tmp/check-list.py <<'PY'
import json, sys
want = json.loads(sys.argv[1])
try:
    got = json.load(sys.stdin)
except ValueError as e:
    sys.exit("not JSON: %s" % e)
bad = []
if not isinstance(got, list):
    sys.exit("not a JSON array: %r" % (got,))
if [s.get("path") for s in got] != [w["path"] for w in want["snaps"]]:
    bad.append("paths, newest first: got %r, want %r" %
               ([s.get("path") for s in got], [w["path"] for w in want["snaps"]]))
ids = [s.get("id") for s in got]
if ids != sorted(ids, reverse=True) or len(set(ids)) != len(ids):
    bad.append("ids are not decreasing down the list (newest first): %r" % ids)
times = [s.get("time") for s in got]
if times != sorted(times, reverse=True):
    bad.append("times are not newest first: %r" % times)
keys = {"path", "ino", "generation", "id", "state", "time", "taken",
        "file_blocks", "block_size", "bytes", "bound", "devices"}
for s, w in zip(got, want["snaps"]):
    p = w["path"]
    if set(s) != keys:
        bad.append("%s: keys %r, want %r" % (p, sorted(s), sorted(keys)))
        continue
    for k in ("id", "state"):
        if s[k] != w[k]:
            bad.append("%s: %s is %r, want %r" % (p, k, s[k], w[k]))
    if s["block_size"] != 4096 or s["bytes"] != s["file_blocks"] * 4096:
        bad.append("%s: bytes %r is not file_blocks %r x block_size %r" %
                   (p, s["bytes"], s["file_blocks"], s["block_size"]))
    if not want["t0"] <= s["time"] <= want["t1"]:
        bad.append("%s: time %r not within [%r, %r]" % (p, s["time"], want["t0"], want["t1"]))
    if s["bytes"] < w.get("min_bytes", 0):
        bad.append("%s: holds %r bytes, want at least %r" % (p, s["bytes"], w["min_bytes"]))
    if s["file_blocks"] < w.get("file_blocks", 0):
        bad.append("%s: file_blocks %r, fewer than e3snapconfig -s said just before: %r" %
                   (p, s["file_blocks"], w["file_blocks"]))
    devs = w.get("devices", [])
    if s["devices"] != devs or s["bound"] != len(devs):
        bad.append("%s: bound %r, devices %r, want %r" % (p, s["bound"], s["devices"], devs))
if bad:
    sys.exit("\n".join(bad))
print("    json: %d snapshots as expected" % len(got))
PY

# check_json SPEC: the JSON listing must match SPEC (see the checker).
check_json() {
	list -o json
	printf '%s' "$LIST" | $py /tmp/check-list.py "$1" ||
		soft_fail "e3snapconfig -l -o json does not match what the test knows (above)"
}

# text_line PATH: the line of the table for PATH, without the path; the
# fields are then: id, date, time, state, size, unit, devices.
text_line() {
	local l
	l=$(printf '%s\n' "$LIST" | grep -F -- "$1 ") ||
		{ soft_fail "e3snapconfig -l: no line for $1"; return 0; }
	echo "${l#"$1"}"
}

# check_text PATH ID STATE DEVICES: its line in the table.
check_text() {
	local f
	read -r -a f <<<"$(text_line "$1")"
	[ ${#f[@]} -eq 7 ] || { soft_fail "e3snapconfig -l, $1: want 7 fields after the path, got '${f[*]}'"; return 0; }
	[ "${f[0]}" = "$2" ] || soft_fail "e3snapconfig -l, $1: id ${f[0]}, want $2"
	[ "${f[3]}" = "$3" ] || soft_fail "e3snapconfig -l, $1: state ${f[3]}, want $3"
	[ "${f[6]}" = "$4" ] || soft_fail "e3snapconfig -l, $1: devices '${f[6]}', want '$4'"
	[[ "${f[1]} ${f[2]}" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}\ [0-9]{2}:[0-9]{2}:[0-9]{2}$ ]] ||
		soft_fail "e3snapconfig -l, $1: time '${f[1]} ${f[2]}' is not YYYY-MM-DD HH:MM:SS"
	[[ "${f[5]}" =~ ^(B|KiB|MiB|GiB)$ ]] ||
		soft_fail "e3snapconfig -l, $1: size '${f[4]} ${f[5]}' has no binary unit"
}

# id_of: the id in the output of snap_take ("snapshot N taken: ...").
id_of() { sed -nE 's/^snapshot ([0-9]+) taken.*/\1/p' <<<"$OUT"; }

# blocks_of FILE: what e3snapconfig -s says the file holds (it settles).
blocks_of() { snap_file_blocks "$1" 2>/dev/null; }

step "no snapshot: a header, and []"
list
[ "$(printf '%s\n' "$LIST" | wc -l)" = 1 ] && [[ $LIST == PATH* ]] ||
	soft_fail "e3snapconfig -l with no snapshot: want the header line only, got: $LIST"
list -o json
[ "$LIST" = "[]" ] || soft_fail "e3snapconfig -l -o json with no snapshot: want [], got: $LIST"

step "three snapshots in two directories"
t0=$(date +%s)
snap_take "$s1"
id1=$(id_of)
rewrite 8
snap_take "$s2"
id2=$(id_of)
rewrite 8
snap_take "$s3"
id3=$(id_of)
rewrite 8
t1=$(date +%s)
[ -n "$id1" ] && [ -n "$id2" ] && [ -n "$id3" ] || fail "no ids in the output of e3snapconfig -c"
[ "$id1" -lt "$id2" ] && [ "$id2" -lt "$id3" ] || fail "ids do not increase: $id1 $id2 $id3"

b3=$(blocks_of "$s3")	# -s settles the active one: its numbers are final
list
lines=$(printf '%s\n' "$LIST" | wc -l)
[ "$lines" = 4 ] || soft_fail "e3snapconfig -l: want a header and 3 lines, got $lines"
order=$(printf '%s\n' "$LIST" | tail -n +2 | grep -oE '/s[0-9]\.img ' | tr -d ' \n')
[ "$order" = "/s3.img/s2.img/s1.img" ] ||
	soft_fail "e3snapconfig -l: not newest first: $order"
check_text "$s3" "$id3" active -
check_text "$s2" "$id2" ok -
check_text "$s1" "$id1" ok -

check_json "$($py -c 'import json, sys; a = sys.argv
print(json.dumps({"t0": int(a[1]), "t1": int(a[2]), "snaps": [
    {"path": a[3], "id": int(a[4]), "state": "active", "min_bytes": 8 << 20, "file_blocks": int(a[9])},
    {"path": a[5], "id": int(a[6]), "state": "ok", "min_bytes": 8 << 20},
    {"path": a[7], "id": int(a[8]), "state": "ok", "min_bytes": 8 << 20}]}))' \
	"$t0" "$t1" "$s3" "$id3" "$s2" "$id2" "$s1" "$id1" "$b3")"
list -o text
[ "$(printf '%s\n' "$LIST" | wc -l)" = 4 ] || soft_fail "-l -o text is not the table"

step "any file or directory of the filesystem lists the same"
for p in "$d2" "$src/data/big"; do
	a=$(e3snapconfig -l "$p" -o json 2>&1) || soft_fail "e3snapconfig -l $p failed: $a"
	b=$(e3snapconfig -l "$src" -o json 2>&1)
	[ "$a" = "$b" ] || soft_fail "e3snapconfig -l $p differs from -l $src:
$a
$b"
done

step "bound to /dev/ssdev/0"
ss_bind "$s3" 0
list
check_text "$s3" "$id3" active /dev/ssdev/0
check_text "$s2" "$id2" ok -
check_json "$($py -c 'import json, sys; a = sys.argv
print(json.dumps({"t0": int(a[1]), "t1": int(a[2]), "snaps": [
    {"path": a[3], "id": int(a[4]), "state": "active", "devices": ["/dev/ssdev/0"]},
    {"path": a[5], "id": int(a[6]), "state": "ok"},
    {"path": a[7], "id": int(a[8]), "state": "ok"}]}))' \
	"$t0" "$t1" "$s3" "$id3" "$s2" "$id2" "$s1" "$id1")"
ss_unbind 0

step "delete the middle one"
OUT=$(e3snapconfig -d "$s2" 2>/tmp/del.err) || fail "e3snapconfig -d $s2 failed: $OUT $(cat /tmp/del.err)"
echo "    $OUT"
[ ! -s /tmp/del.err ] || soft_fail "e3snapconfig -d, not on a terminal, wrote to stderr: $(cat /tmp/del.err)"
list
if [ -e "$s2" ]; then
	grep -qF "kept as 'deleting'" <<<"$OUT" ||
		soft_fail "$s2 is still there, but e3snapconfig -d did not say it is kept: $OUT"
	check_text "$s2" "$id2" deleting -
	check_json "$($py -c 'import json, sys; a = sys.argv
print(json.dumps({"t0": int(a[1]), "t1": int(a[2]), "snaps": [
    {"path": a[3], "id": int(a[4]), "state": "active"},
    {"path": a[5], "id": int(a[6]), "state": "deleting"},
    {"path": a[7], "id": int(a[8]), "state": "ok"}]}))' \
		"$t0" "$t1" "$s3" "$id3" "$s2" "$id2" "$s1" "$id1")"
	kept=1
else
	grep -qE "^snapshot $id2 deleted" <<<"$OUT" ||
		soft_fail "$s2 is gone, but e3snapconfig -d said: $OUT"
	! grep -qF -- "$s2" <<<"$LIST" || soft_fail "$s2 is gone but still listed"
	check_json "$($py -c 'import json, sys; a = sys.argv
print(json.dumps({"t0": int(a[1]), "t1": int(a[2]), "snaps": [
    {"path": a[3], "id": int(a[4]), "state": "active"},
    {"path": a[5], "id": int(a[6]), "state": "ok"}]}))' \
		"$t0" "$t1" "$s3" "$id3" "$s1" "$id1")"
	kept=0
fi
list	# check_json left the JSON listing in LIST
check_text "$s3" "$id3" active -
check_text "$s1" "$id1" ok -
echo "    the middle one is $([ $kept = 1 ] && echo "kept as deleting" || echo gone)"

step "delete the oldest on a terminal: progress, then the result"
rm -f /tmp/tty.out
script -qec "e3snapconfig -d '$s1'; echo \"exit=\$?\"" /dev/null >/tmp/tty.out </dev/null ||
	fail "script failed: $(cat /tmp/tty.out)"
tr '\r' '\n' </tmp/tty.out | sed 's/\x1b\[K//g; /^$/d; s/^/    | /'
grep -q 'exit=0' /tmp/tty.out || soft_fail "e3snapconfig -d $s1 on a terminal failed: $(cat /tmp/tty.out)"
grep -qE "snapshot $id1 deleted: $s1|kept as 'deleting'" /tmp/tty.out ||
	soft_fail "e3snapconfig -d $s1 on a terminal: no result line"
if grep -q 'freed' /tmp/tty.out; then
	tr '\r' '\n' </tmp/tty.out | grep 'freed' | grep -vqE "^deleting $s1: [0-9]+ MiB of [0-9]+ MiB freed$" &&
		soft_fail "a progress line is not 'deleting FILE: N MiB of M MiB freed'"
	echo "    progress shown"
else
	echo "    (the delete took less than half a second: no progress line)"
fi
[ ! -e "$s1" ] || soft_fail "$s1, the oldest, is still there after its delete"
# The middle one was kept for the oldest only: it must go with it.
for _ in $(seq 60); do
	[ -e "$s2" ] || break
	sleep 0.5
done
[ ! -e "$s2" ] || soft_fail "$s2 (deleting) is still there though no older snapshot is left"
list
[ "$(printf '%s\n' "$LIST" | wc -l)" = 2 ] || soft_fail "after deleting all but the newest, want one line: $LIST"
check_text "$s3" "$id3" active -

step "the last one: an empty list again"
OUT=$(e3snapconfig -d "$s3" 2>&1) || fail "e3snapconfig -d $s3 failed: $OUT"
list -o json
[ "$LIST" = "[]" ] || soft_fail "after deleting every snapshot, -o json is not []: $LIST"

step "errors"
must_fail e3snapconfig -l /nonexistent
grep -qi 'no such' <<<"$OUT" || soft_fail "-l /nonexistent: $OUT"
echo "    $OUT"
mkfs.ext3 -q -b 4096 "$DISK_b"
mount -t ext3 "$DISK_b" "$other"
must_fail e3snapconfig -l "$other"
grep -q 'mount -t ext3snap' <<<"$OUT" || soft_fail "-l on a stock ext3 mount does not say how to mount it: $OUT"
echo "    $OUT"
umount "$other"
mount -t tmpfs tmpfs "$tmpfs"
must_fail e3snapconfig -l "$tmpfs"
grep -qi 'ext3snap' <<<"$OUT" || soft_fail "-l on tmpfs: $OUT"
echo "    $OUT"
umount "$tmpfs"
must_fail setpriv --reuid=65534 --regid=65534 --clear-groups e3snapconfig -l "$src"
grep -qi 'root' <<<"$OUT" || soft_fail "-l as nobody: $OUT"
echo "    $OUT"
set +e
e3snapconfig -l "$src" -o yaml >/dev/null 2>&1
rc=$?
set -e
[ $rc = 2 ] || soft_fail "-l -o yaml: exit $rc, want 2 (usage)"

umount "$src"
fsck_clean "$DISK_a"
log_clean "snap-list"
test_done snap-list
