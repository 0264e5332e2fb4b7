#!/bin/bash
# The VM runner must report failures, or no VM test can be trusted:
# a guest crash, a kernel WARNING, a hang and a failing command all fail
# the run; a disk given as a file keeps its contents across two runs.
set -uo pipefail
cd "$(dirname "$0")/../.."
vm=scripts/vm-run
fail() { echo "FAIL: $*"; exit 1; }

$vm -- sh -c 'exit 0' || fail "a clean run did not exit 0"
$vm -- sh -c 'exit 7'; rc=$?
[ $rc = 7 ] || fail "COMMAND status 7 came back as $rc"
$vm -- sh -c 'echo c > /proc/sysrq-trigger'; rc=$?
[ $rc = 125 ] || fail "a guest crash gave $rc, not 125"
$vm -- sh -c 'echo "WARNING: CPU: 0 PID: 1 at test" > /dev/kmsg'; rc=$?
[ $rc = 70 ] || fail "a kernel WARNING gave $rc, not 70"
$vm -- sh -c 'echo "BUG: unable to handle page fault" > /dev/kmsg'; rc=$?
[ $rc = 70 ] || fail "a kernel BUG gave $rc, not 70"
$vm --timeout 20 -- sleep 300; rc=$?
[ $rc = 124 ] || fail "a hung guest gave $rc, not 124"

img=$(mktemp "${TMPDIR:-/tmp}/vmrun-disk.XXXXXX")
trap 'rm -f "$img"' EXIT
truncate -s 64M "$img"
$vm --disk "keep:$img" -- sh -c 'echo persisted | dd of=$DISK_keep bs=512 count=1 conv=sync status=none' ||
	fail "writing the file-backed disk failed"
out=$($vm --disk "keep:$img" -- sh -c 'head -c 9 $DISK_keep')
[ "$out" = persisted ] || fail "second boot read '$out' from the disk"
$vm --disk 'bad name:1M' -- true 2>/dev/null && fail "a bad --disk name was accepted"
echo "vm-run-selftest: ok"
