#!/bin/bash
# fsck reaches fsck.ext3snap for a filesystem listed as type ext3snap in
# fstab (fsck itself prefers the probed type, ext3, for a bare device), and
# fsck.ext3snap passes e2fsck's verdict through and refuses formats
# ext3snap does not handle.
set -uo pipefail
cd "$(dirname "$0")/../.."
export PATH=$PWD/build/bin:$PATH
fail() { echo "FAIL: $*"; exit 1; }
img=$(mktemp "${TMPDIR:-/tmp}/fsck-tool.XXXXXX")
fstab=$(mktemp "${TMPDIR:-/tmp}/fsck-fstab.XXXXXX")
trap 'rm -f "$img" "$fstab"' EXIT

mke2fs -q -F -t ext3 "$img" 32M
echo "$img /srv/snaptest ext3snap defaults 0 2" > "$fstab"
out=$(LIBMOUNT_FSTAB=$fstab fsck -V -fn "$img" 2>&1); rc=$?
[ $rc = 0 ] || fail "clean ext3 gave $rc: $out"
grep -q 'fsck.ext3snap -fn' <<<"$out" || fail "fsck did not run fsck.ext3snap: $out"
grep -q 'Pass 5' <<<"$out" || fail "no e2fsck output: $out"

# Damage lost+found's link count: e2fsck -n must report it (exit 4).
debugfs -w -R 'sif <11> links_count 7' "$img" >/dev/null 2>&1
out=$(fsck.ext3snap -fn "$img" 2>&1); rc=$?
[ $rc = 4 ] || fail "a damaged fs gave $rc, not 4: $out"

mke2fs -q -F -t ext4 "$img" 32M
out=$(fsck.ext3snap -fn "$img" 2>&1); rc=$?
[ $rc = 8 ] || fail "ext4 gave $rc, not 8"
grep -q "'extent'" <<<"$out" || fail "no reason given: $out"

fsck.ext3snap >/dev/null 2>&1; rc=$?
[ $rc = 16 ] || fail "no arguments gave $rc, not 16"
echo "fsck-tool: ok"
