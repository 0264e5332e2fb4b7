#!/bin/bash
# vm-run: --disk a:384M --timeout 300
# A read-only remount of the origin while a snapshot is bound: pending
# copies are written out, the snapshot stays readable and unchanged, and
# after remounting read-write it is still followed (more changes, same
# image). Unmounting the origin after unbinding writes everything out:
# e2fsck is clean with the snapshot file in place.
. "$(dirname "$0")/lib.sh"

dev=$DISK_a
src=/mnt/src
ss=/mnt/ss
snap=$src/snapshot.img
mkdir -p "$src" "$ss"
mkfs.ext3 -q -b 4096 "$dev"
mount -t ext3snap "$dev" "$src"
"$TOOLS/populate" "$src" --seed 51 --size-mb 12 >/dev/null
manifest_rec "$src" -o /tmp/m.before

step "snapshot, changes, bind"
snap_take "$snap"
"$TOOLS/churn" "$src" --seed 51 --exclude snapshot.img >/dev/null
ss_bind "$snap" 0
sum1=$(dev_sha /dev/ssdev/0)

step "remount the origin read-only: nothing pending, the image unchanged"
mount -o remount,ro "$src"
snap_status "$snap"
[ "$(snap_num pending)" = 0 ] || fail "copies still pending on a read-only origin"
[ "$(snap_state)" = active ] || fail "the snapshot is $(snap_state) after remount,ro"
[ "$(dev_sha /dev/ssdev/0)" = "$sum1" ] || fail "the image changed across remount,ro"

step "read-write again: changes are still saved"
mount -o remount,rw "$src"
"$TOOLS/churn" "$src" --seed 52 --exclude snapshot.img --fill >/dev/null
[ "$(dev_sha /dev/ssdev/0)" = "$sum1" ] || fail "the image changed after remount,rw and more changes"
mount -t ext3snap -o ro /dev/ssdev/0 "$ss"
manifest_rec "$ss" -o /tmp/m.snap
manifest_same /tmp/m.before /tmp/m.snap "snapshot after ro/rw remounts vs record"
umount "$ss"
fsck_clean /dev/ssdev/0

step "unbind, unmount: the origin is clean with the snapshot file in it"
ss_unbind 0
umount "$src"
fsck_clean "$dev"
echo "snap-remount: ok"
