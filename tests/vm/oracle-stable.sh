#!/bin/bash
# vm-run: --disk a:512M --timeout 400
# The snapshot oracle's precondition on the ext3snap driver itself: a
# manifest of a populated tree is identical after umount/mount, and a hard
# churn (mmap, O_DIRECT, punch-hole, truncates, fill to ENOSPC) changes it
# and leaves the filesystem clean.
. "$(dirname "$0")/lib.sh"

dev=$DISK_a
tools=$TOP/tests/tools
mkfs.ext3 -q "$dev"
mount -t ext3snap "$dev" /mnt

step "populate and record"
"$tools/populate" /mnt --seed 7 --size-mb 16
"$tools/manifest" record /mnt -o /tmp/before
umount /mnt
fsck_clean "$dev"

step "remount: same manifest"
echo 3 > /proc/sys/vm/drop_caches
mount -t ext3snap "$dev" /mnt
"$tools/manifest" record /mnt -o /tmp/after
"$tools/manifest" compare /tmp/before /tmp/after || fail "manifest changed across remount"

step "churn: the manifest must change, the filesystem stay clean"
"$tools/churn" /mnt --seed 7
"$tools/manifest" record /mnt -o /tmp/churned
if "$tools/manifest" compare /tmp/before /tmp/churned >/tmp/diff; then
	fail "churn changed nothing the manifest sees"
fi
echo "churn changed: $(grep -c . /tmp/diff) lines of differences"
"$tools/churn" /mnt --seed 8 --fill
umount /mnt
fsck_clean "$dev"
echo "oracle-stable: ok"
