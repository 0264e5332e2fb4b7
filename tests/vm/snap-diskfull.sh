#!/bin/bash
# vm-run: --disk a:384M --disk b:256M --timeout 900
# The disk fills up while snapshots need copies. The origin's writes must
# go on wherever the origin itself has room: with several snapshots the
# oldest intact one is broken and its blocks freed, and the newer ones stay
# exact; with only one, that one is broken. Never an oops, never a
# read-only origin, a clear kernel message, e2fsck clean, and a broken
# snapshot refuses to bind and can be deleted.
. "$(dirname "$0")/lib.sh"

mark_log
src=/mnt/src
ss=/mnt/ss
mkdir -p "$src" "$ss"
modprobe ext4

# fill DIR: new data until only about 4 MiB are left (the filesystems are
# made with -m 0: no root reserve). The writes that follow need copies, not
# blocks of the origin's; a writer that went on filling would take the
# space a broken snapshot gives back too, and the next oldest would follow.
fill() {
	local mb
	mb=$(df -m --output=avail "$1" | tail -n 1)
	dd if=/dev/zero of="$1/filler" bs=1M count=$((mb - 4)) conv=fsync status=none ||
		fail "filling $1 with $((mb - 4)) MiB failed"
	df -k "$1" | tail -n 1
}

state_of() {
	snap_status "$1" >/dev/null
	snap_state
}

# origin_writable DIR: the origin still takes new data once there is room.
origin_writable() {
	rm -f "$1"/filler
	echo "after the fill" >"$1/after" || fail "the origin refuses writes after the fill"
	sync
	grep -q " $1 .* rw[ ,]" /proc/mounts || fail "the origin is no longer mounted read-write"
}

step "several snapshots: the oldest gives way"
dev=$DISK_a
mkfs.ext3 -q -m 0 -b 4096 "$dev"
mount -t ext3snap "$dev" "$src"
mkdir "$src/snaps"
"$TOOLS/populate" "$src" --seed 31 --size-mb 8 >/dev/null
dd if=/dev/urandom of="$src/A" bs=1M count=120 status=none
manifest_rec "$src" --exclude snaps -o /tmp/m1
snap_take "$src/snaps/s1" >/dev/null
dd if=/dev/urandom of="$src/A" bs=1M count=120 conv=notrunc status=none
manifest_rec "$src" --exclude snaps -o /tmp/m2
snap_take "$src/snaps/s2" >/dev/null
dd if=/dev/urandom of="$src/B" bs=1M count=40 status=none
manifest_rec "$src" --exclude snaps -o /tmp/m3
snap_take "$src/snaps/s3" >/dev/null
fill "$src"
# Overwrites need no block of the origin's, but copies for s3.
dd if=/dev/urandom of="$src/B" bs=1M count=40 conv=notrunc,fsync status=none ||
	fail "overwriting B failed on the full disk: the origin must not pay for a snapshot"
e3snapconfig -s "$src/snaps/s3" -o json >/dev/null
sync
for i in 1 2 3; do echo "    s$i: $(state_of "$src/snaps/s$i")"; done
new_log | grep -E 'ext3snap|EXT4' | sed 's/^/    | /'
[ "$(state_of "$src/snaps/s1")" = broken ] || fail "s1, the oldest, is not broken after the disk filled"
[ "$(state_of "$src/snaps/s2")" = ok ] || fail "s2 is $(state_of "$src/snaps/s2"), want ok"
[ "$(state_of "$src/snaps/s3")" = active ] || fail "s3 is $(state_of "$src/snaps/s3"), want active"
new_log | grep -q 'disk full: snapshot 1' || fail "no kernel message names snapshot 1 as given up:
$(new_log | tail -n 20)"
refused "binding the broken s1" 'broken' ssdevconfig -c "$src/snaps/s1" /dev/ssdev/1
i=2
for ref in /tmp/m2 /tmp/m3; do
	ss_bind "$src/snaps/s$i" "$i"
	mount -o ro /dev/ssdev/$i "$ss"
	manifest_rec "$ss" --exclude snaps -o /tmp/m.ss
	umount "$ss"
	manifest_same "$ref" /tmp/m.ss "s$i after the disk filled vs its record"
	fsck_clean /dev/ssdev/$i
	ss_unbind "$i"
	echo "    s$i: identical to its record, e2fsck clean"
	i=$((i + 1))
done
origin_writable "$src"
e3snapconfig -d "$src/snaps/s1" || fail "deleting the broken s1 failed"
umount "$src"
fsck_clean "$dev"
echo "    origin: fsck.ext3snap -fn clean"

step "one snapshot: that one is broken"
dev=$DISK_b
mkfs.ext3 -q -m 0 -b 4096 "$dev"
mount -t ext3snap "$dev" "$src"
dd if=/dev/urandom of="$src/A" bs=1M count=64 status=none
snap_take "$src/s1" >/dev/null
fill "$src"
dd if=/dev/urandom of="$src/A" bs=1M count=64 conv=notrunc,fsync status=none ||
	fail "overwriting A failed on the full disk: the origin must not pay for a snapshot"
sync
[ "$(state_of "$src/s1")" = broken ] || fail "the only snapshot is $(state_of "$src/s1") after the disk filled, want broken"
refused "binding the broken s1" 'broken' ssdevconfig -c "$src/s1" /dev/ssdev/1
origin_writable "$src"
e3snapconfig -d "$src/s1" || fail "deleting the broken snapshot failed"
umount "$src"
has_snapshot_flag "$dev" && fail "has_snapshot still set after deleting the only snapshot"
e2fsck -fn "$dev" >/tmp/fsck.out 2>&1 || fail "plain e2fsck -fn not clean:
$(cat /tmp/fsck.out)"
log_clean snap-diskfull
test_done snap-diskfull
