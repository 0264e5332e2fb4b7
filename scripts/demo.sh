#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The 'make demo' scenario, run inside the VM by scripts/vm-run: a snapshot
# taken, the origin changed, the old tree browsed beside the new one.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH=$top/build/bin:$PATH
dev=${DISK_demo:?run me through scripts/vm-run --disk demo:SIZE}
src=/mnt/src
ss=/mnt/snapshot
snap=$src/snapshot.img

say() { printf '\n\033[1m# %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
shrun() { printf '$ %s\n' "$1"; sh -c "$1"; }	# a command line with redirections
pause() { sleep "${DEMO_PAUSE:-0}"; }

say "A fresh ext3 filesystem on $dev"
run mkfs.ext3 -q -b 4096 -L demo "$dev"
run dumpe2fs -h "$dev" 2>/dev/null | grep -E '^(Filesystem features|Block size|Block count)'
pause

say "Mounted with the ext3snap driver (the stock ext4 driver stays loaded beside it)"
run modprobe ext4
mkdir -p "$src" "$ss"
run mount -t ext3snap "$dev" "$src"
run grep "$dev" /proc/mounts
pause

say "Some files"
mkdir -p "$src/etc" "$src/data" "$src/projects/report"
cp /etc/os-release /etc/hostname "$src/etc/" 2>/dev/null || true
head -c 32M /dev/urandom >"$src/data/blob"
echo "hello from ext3snap" >"$src/data/note.txt"
seq 1 1000 >"$src/projects/report/numbers.txt"
printf 'draft 1\n' >"$src/projects/report/text.md"
sync
run ls -lR "$src"
run df -h "$src"
pause

say "Take a snapshot: near-instant, whatever the size of the filesystem"
run e3snapconfig -c "$snap"
say "The snapshot is a file as big as the filesystem that holds (almost) nothing yet"
run ls -ls "$snap"
run e3snapconfig -s "$snap"
say "Nobody can change it, not even root"
run rm -f "$snap" || true
run chmod 600 "$snap" || true
pause

say "Now change the origin: edit, append, overwrite, delete, add"
shrun "echo 'hello, changed' > $src/data/note.txt"
shrun "echo 'draft 2: much better' >> $src/projects/report/text.md"
run dd if=/dev/urandom of="$src/data/blob" bs=1M count=8 seek=4 conv=notrunc status=none
run rm -r "$src/etc"
run rm "$src/projects/report/numbers.txt"
shrun "echo 'a new file' > $src/projects/new.txt"
sync
run df -h "$src"
pause

say "Bind the snapshot to a read-only block device and mount it"
run ssdevconfig -c "$snap" /dev/ssdev/0
run ssdevconfig -l
run mount -o ro /dev/ssdev/0 "$ss"
run grep ssdev /proc/mounts
pause

say "Then and now, side by side"
run ls -lR "$ss" "$src" | grep -v '^total'
say "What changed (diff -rq snapshot origin)"
run diff -rq "$ss" "$src" || true
say "The note, then and now"
run cat "$ss/data/note.txt" "$src/data/note.txt"
say "The report text, then and now"
run diff "$ss/projects/report/text.md" "$src/projects/report/text.md" || true
pause

say "What the snapshot costs: only the overwritten 8 MiB and the deleted files' blocks"
run e3snapconfig -s "$snap"
run du -h "$snap"
run df -h "$src"
pause

say "Tear down: unmount, unbind, delete the snapshot, check"
run umount "$ss"
run ssdevconfig -d /dev/ssdev/0
run e3snapconfig -d "$snap"
run df -h "$src"
run umount "$src"
run fsck.ext3snap -fn "$dev"
say "Done."
