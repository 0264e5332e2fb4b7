#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The 'make demo' scenario, run inside the VM by scripts/vm-run.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH=$top/build/bin:$PATH
dev=${DISK_demo:?run me through scripts/vm-run --disk demo:SIZE}

say() { printf '\n\033[1m# %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "A fresh ext3 filesystem on $dev"
run mkfs.ext3 -q -L demo "$dev"
run dumpe2fs -h "$dev" 2>/dev/null | grep -E '^(Filesystem features|Block size|Block count)'

say "Mounted with the ext3snap driver (the stock ext4 driver stays loaded beside it)"
run modprobe ext4
mkdir -p /mnt/src
run mount -t ext3snap "$dev" /mnt/src
run grep "$dev" /proc/mounts

say "Some files"
mkdir -p /mnt/src/etc /mnt/src/data
cp /etc/os-release /etc/hostname /mnt/src/etc/ 2>/dev/null || true
head -c 4M /dev/urandom > /mnt/src/data/blob
echo "hello from ext3snap" > /mnt/src/data/note.txt
run ls -lR /mnt/src
run cat /mnt/src/data/note.txt
run df -h /mnt/src

say "Snapshots are not there yet: the tool says so instead of pretending"
run e3snapconfig -c /mnt/src/snapshot.img || true

say "Unmount and check"
run umount /mnt/src
run fsck.ext3snap -fn "$dev"
