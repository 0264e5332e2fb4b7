#!/bin/bash
# vm-run: --disk a:384M --timeout 400
# The oracle again, shorter, on a filesystem mounted data=writeback: the
# mode must work fully (data=ordered is snap-oracle; data=journal is
# refused, see snap-bad-input).
. "$(dirname "$0")/lib.sh"

dev=$DISK_a
src=/mnt/src
ss=/mnt/ss
snap=$src/snapshot.img
mkdir -p "$src" "$ss"

mkfs.ext3 -q -b 4096 "$dev"
mount -t ext3snap -o data=writeback "$dev" "$src"
grep -q "^$dev $src ext3snap .*data=writeback" /proc/mounts ||
	fail "not mounted data=writeback: $(grep "^$dev " /proc/mounts)"

step "populate, record, snapshot"
"$TOOLS/populate" "$src" --seed 41 --size-mb 12
manifest_rec "$src" -o /tmp/m.before
snap_take "$snap"

step "churn, then empty and fill the origin"
"$TOOLS/churn" "$src" --seed 41 --exclude snapshot.img >/dev/null
"$TOOLS/churn" "$src" --seed 42 --exclude snapshot.img --fill >/dev/null
snap_status "$snap"
[ "$(snap_state)" = active ] || fail "the snapshot is $(snap_state) after the churn"

step "the snapshot shows the recorded tree"
ss_bind "$snap" 0
mount -o ro -t ext3snap /dev/ssdev/0 "$ss"
manifest_rec "$ss" -o /tmp/m.snap
manifest_same /tmp/m.before /tmp/m.snap "snapshot (data=writeback) vs record"
image_done "$ss" "$snap" "$src" "$dev"
echo "snap-writeback: ok"
