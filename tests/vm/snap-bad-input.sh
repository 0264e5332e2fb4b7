#!/bin/bash
# vm-run: --disk a:512M --disk b:512M --timeout 720
# Every wrong use of e3snapconfig and ssdevconfig, and every attempt to
# change a snapshot file (root included), must fail with a non-zero exit and
# a message naming the problem, change nothing (no file left behind, no
# snapshot state left over, the bound image unchanged) and leave no kernel
# warning.
. "$(dirname "$0")/lib.sh"

src=/mnt/src
ss=/mnt/ss
other=/mnt/b
tmpfs=/mnt/tmpfs
snap=$src/snapshot.img
mkdir -p "$src" "$ss" "$other" "$tmpfs"
modprobe ext4

absent() { [ ! -e "$1" ] && [ ! -L "$1" ] || fail "$2: $1 was left behind: $(ls -l "$1")"; }

# The tools check most mistakes before asking the kernel; the kernel must
# refuse them too. /tmp/ioc.py issues the ioctls of include/uapi/ext3snap.h
# directly and prints "ok" or the errno's name.
cat >/tmp/ioc.py <<'PY'
import errno, fcntl, os, struct, sys
op, path = sys.argv[1], sys.argv[2]
def ioc(d, nr, size):
    return (d << 30) | (size << 16) | (ord("3") << 8) | nr
try:
    if op == "stat":
        fd = os.open(path, os.O_RDONLY)
        fcntl.ioctl(fd, ioc(3, 3, 48), bytearray(48))
    else:
        d, name = os.path.split(path)
        fd = os.open(d or ".", os.O_RDONLY | os.O_DIRECTORY)
        name = name.encode().ljust(256, b"\0")
        if op == "take":
            fcntl.ioctl(fd, ioc(3, 1, 272), bytearray(struct.pack("=IIQ", 0, 0, 0) + name))
        else:
            fcntl.ioctl(fd, ioc(1, 2, 264), bytearray(struct.pack("=II", 0, 0) + name))
    print("ok")
except OSError as e:
    print("EOPNOTSUPP" if e.errno == errno.EOPNOTSUPP else
          errno.errorcode.get(e.errno, str(e.errno)))
PY
chmod 644 /tmp/ioc.py
py=/usr/bin/python3	# not a per-user interpreter: nobody runs it too
nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
# kref WHAT ERRNO CMD...: CMD (ending in an ioc.py call) must print ERRNO.
kref() {
	local what=$1 want=$2 got
	shift 2
	mark_log
	got=$("$@" 2>&1)
	[ "$got" = "$want" ] || fail "kernel, $what: got '$got', want $want"
	echo "    kernel, $what: $got"
	log_clean "kernel, $what"
}

mkfs.ext3 -q -b 4096 "$DISK_a"
mount -t ext3snap "$DISK_a" "$src"
mkdir "$src/tree"
"$TOOLS/populate" "$src/tree" --seed 41 --size-mb 4 >/dev/null

step "taking a snapshot where it cannot be taken"
mount -t tmpfs tmpfs "$tmpfs"
refused "-c on tmpfs" 'ext3snap' e3snapconfig -c "$tmpfs/snap.img"
absent "$tmpfs/snap.img" "-c on tmpfs"
umount "$tmpfs"

mkfs.ext3 -q -b 4096 "$DISK_b"
mount -t ext3 "$DISK_b" "$other"
grep -q "^$DISK_b $other ext3 " /proc/mounts || fail "$DISK_b is not mounted by the stock ext3 driver"
refused "-c on a stock ext3 mount" 'ext3snap' e3snapconfig -c "$other/snap.img"
absent "$other/snap.img" "-c on a stock ext3 mount"
umount "$other"

echo "I was here first" >"$src/exists"
refused "-c on an existing file" 'exist' e3snapconfig -c "$src/exists"
[ "$(cat "$src/exists")" = "I was here first" ] || fail "-c on an existing file changed it"
[ "$(stat -c '%a %s' "$src/exists")" = "644 17" ] || fail "-c on an existing file changed its mode or size"

mount -o remount,ro "$src"
refused "-c on a read-only mount" 'read-only|read only' e3snapconfig -c "$snap"
mount -o remount,rw "$src"
absent "$snap" "-c on a read-only mount"

mkdir -m 1777 "$src/open"
refused "-c as an unprivileged user" 'permi|root|privilege' \
	setpriv --reuid=65534 --regid=65534 --clear-groups e3snapconfig -c "$src/open/snap.img"
absent "$src/open/snap.img" "-c as an unprivileged user"

for bs in 1024 2048; do
	mkfs.ext3 -q -b $bs "$DISK_b"
	mount -t ext3snap "$DISK_b" "$other"
	refused "-c with $bs-byte blocks" 'block.?size|4096|4 ?ki?b' e3snapconfig -c "$other/snap.img"
	absent "$other/snap.img" "-c with $bs-byte blocks"
	umount "$other"
done

mkfs.ext3 -q -b 4096 "$DISK_b"
mount -t ext3snap -o data=journal "$DISK_b" "$other"
refused "-c with data=journal" 'journal|support' e3snapconfig -c "$other/snap.img"
new_log | grep -qi 'journal' || fail "-c with data=journal: no reason in the kernel log: $(new_log)"
echo "    kernel: $(new_log | grep -i journal | tail -n1)"
absent "$other/snap.img" "-c with data=journal"
umount "$other"
fsck_clean "$DISK_b"

step "the kernel refuses the same, asked directly"
mount -t tmpfs tmpfs "$tmpfs"
kref "TAKE on tmpfs" ENOTTY "$py" /tmp/ioc.py take "$tmpfs/snap.img"
umount "$tmpfs"
kref "TAKE by an unprivileged user" EPERM "${nobody[@]}" "$py" /tmp/ioc.py take "$src/open/snap.img"
absent "$src/open/snap.img" "TAKE by an unprivileged user"
kref "TAKE onto an existing file" EEXIST "$py" /tmp/ioc.py take "$src/exists"
[ "$(cat "$src/exists")" = "I was here first" ] || fail "TAKE onto an existing file changed it"
for name in . .. ''; do
	kref "TAKE named '$name'" EINVAL "$py" /tmp/ioc.py take "$src/$name"
done
mount -o remount,ro "$src"
kref "TAKE on a read-only mount" EROFS "$py" /tmp/ioc.py take "$snap"
mount -o remount,rw "$src"
absent "$snap" "TAKE on a read-only mount"
for bs in 1024 2048; do
	mkfs.ext3 -q -b $bs "$DISK_b"
	mount -t ext3snap "$DISK_b" "$other"
	kref "TAKE with $bs-byte blocks" EOPNOTSUPP "$py" /tmp/ioc.py take "$other/snap.img"
	absent "$other/snap.img" "TAKE with $bs-byte blocks"
	umount "$other"
done
fsck_clean "$DISK_b"
mkfs.ext3 -q -b 4096 "$DISK_b"
kref "DELETE of a regular file" EINVAL "$py" /tmp/ioc.py delete "$src/exists"
[ "$(cat "$src/exists")" = "I was here first" ] || fail "DELETE of a regular file changed it"
kref "STAT of a regular file" EINVAL "$py" /tmp/ioc.py stat "$src/exists"

step "a real snapshot, bound and mounted: the reference"
snap_take "$snap"
ss_bind "$snap" 0
mount -o ro /dev/ssdev/0 "$ss"
manifest_rec "$ss" -o /tmp/m.ref
grep -q '^tree/big type=file ' /tmp/m.ref || fail "the snapshot does not show the populated tree"
sum_ref=$(dev_sha /dev/ssdev/0)
id_ref=$(stat -c '%i %a %u %g %s %h' "$snap")
echo "    snapshot file: inode mode uid gid size nlink = $id_ref"

# The snapshot file, and the image, must be as they were.
intact() {
	[ -f "$snap" ] || fail "$1: the snapshot file is gone"
	[ "$(stat -c '%i %a %u %g %s %h' "$snap")" = "$id_ref" ] ||
		fail "$1: the snapshot file changed: $(stat -c '%i %a %u %g %s %h' "$snap"), was $id_ref"
}

step "wrong uses of the tools with a snapshot in place"
kref "TAKE onto an existing name" EEXIST "$py" /tmp/ioc.py take "$snap"
intact "TAKE onto an existing name"
kref "DELETE by an unprivileged user" EPERM "${nobody[@]}" "$py" /tmp/ioc.py delete "$snap"
intact "DELETE by an unprivileged user"
refused "-c onto an existing snapshot" 'already exists' e3snapconfig -c "$snap"
intact "-c onto an existing snapshot"

echo "plain data" >"$src/plain"
refused "-d on a regular file" 'not an? (ext3snap )?snapshot|no snapshot' e3snapconfig -d "$src/plain"
[ "$(cat "$src/plain")" = "plain data" ] || fail "-d on a regular file changed it"
refused "-d on a missing file" 'no such|not exist|does not exist' e3snapconfig -d "$src/missing.img"
refused "-s on a regular file" 'not an? (ext3snap )?snapshot|no snapshot' e3snapconfig -s "$src/plain"

refused "ssdevconfig -c on a regular file" 'not an? (ext3snap )?snapshot|no snapshot' \
	ssdevconfig -c "$src/plain" /dev/ssdev/1
[ ! -b /dev/ssdev/1 ] || fail "ssdevconfig -c on a regular file: /dev/ssdev/1 appeared"
refused "binding the same snapshot twice" 'already|bound' ssdevconfig -c "$snap" /dev/ssdev/1
[ ! -b /dev/ssdev/1 ] || fail "binding the same snapshot twice: /dev/ssdev/1 appeared"
refused "binding to a device number out of range" 'range|invalid|no such|256|not a' \
	ssdevconfig -c "$snap" /dev/ssdev/999
refused "unbinding a device that is not bound" 'not bound|no such|unbound|not in use' ssdevconfig -d /dev/ssdev/7

mount -t ext3snap "$DISK_b" "$other"
OUT=$(e3snapconfig -c "$other/snap.img" 2>&1) || fail "a snapshot of the second filesystem failed: $OUT"
refused "binding to a device number in use" 'in use|already|bound|busy' \
	ssdevconfig -c "$other/snap.img" /dev/ssdev/0
ss_bind "$other/snap.img" 1	# the number was the only problem
ss_unbind 1
OUT=$(e3snapconfig -d "$other/snap.img" 2>&1) || fail "deleting the second filesystem's snapshot failed: $OUT"
umount "$other"
fsck_clean "$DISK_b"

refused "ssdevconfig -d of a mounted device" 'busy|in use|mounted|open' ssdevconfig -d /dev/ssdev/0
ls "$ss/tree" >/dev/null || fail "the mounted snapshot is unreadable after a refused unbind"
refused "e3snapconfig -d of a bound snapshot" 'busy|bound|in use|ssdev' e3snapconfig -d "$snap"
intact "e3snapconfig -d of a bound snapshot"
refused "umount of the origin while bound (and mounted)" 'busy' umount "$src"
mountpoint -q "$src" || fail "the origin was unmounted while its snapshot is bound"

step "root cannot change the snapshot file"
eperm='not permitted'
mkdir "$src/sub"
while IFS='|' read -r what cmd; do
	refused "$what" "$eperm" bash -c "$cmd" _ "$snap" </dev/null
	intact "$what"
done <<'EOF'
echo >>|echo garbage >>"$1"
dd conv=notrunc|dd if=/dev/zero of="$1" bs=4096 count=1 conv=notrunc status=none
open O_TRUNC|: >"$1"
open O_RDWR|exec 3<>"$1"
truncate -s 0|truncate -s 0 "$1"
truncate -s +1M|truncate -s +1M "$1"
fallocate punch-hole|fallocate -p -o 0 -l 4096 "$1"
chmod 600|chmod 600 "$1"
chmod 444|chmod 444 "$1"
chown 1000|chown 1000 "$1"
chgrp 1000|chgrp 1000 "$1"
setfattr user.x|setfattr -n user.x -v 1 "$1"
setfattr trusted.x|setfattr -n trusted.x -v 1 "$1"
setfattr security.x|setfattr -n security.x -v 1 "$1"
chattr -i|chattr -i "$1"
chattr +i|chattr +i "$1"
chattr +a|chattr +a "$1"
mv within the directory|mv "$1" "${1%/*}/moved.img"
mv to another directory|mv "$1" "${1%/*}/sub/"
mv a file over it|mv "${1%/*}/plain" "$1"
ln|ln "$1" "${1%/*}/link.img"
rm|rm -f "$1"
EOF
absent "$src/moved.img" "mv"
absent "$src/sub/snapshot.img" "mv to another directory"
absent "$src/link.img" "ln"
[ "$(cat "$src/plain")" = "plain data" ] || fail "mv over the snapshot moved the other file away"

step "the snapshot is intact"
umount "$ss"
echo 3 > /proc/sys/vm/drop_caches
[ "$(dev_sha /dev/ssdev/0)" = "$sum_ref" ] || fail "/dev/ssdev/0 changed during the refused attempts"
mount -o ro /dev/ssdev/0 "$ss"
manifest_rec "$ss" -o /tmp/m.after
manifest_same /tmp/m.ref /tmp/m.after "snapshot after every refused attempt vs before"
umount "$ss"
fsck_clean /dev/ssdev/0

step "bound but not mounted: still no umount of the origin"
refused "umount of the origin while bound" 'busy' umount "$src"
mountpoint -q "$src" || fail "the origin was unmounted while its snapshot is bound"

step "tear down, and nothing left over: a new snapshot can be taken"
ss_unbind 0
OUT=$(e3snapconfig -d "$snap" 2>&1) || fail "e3snapconfig -d failed: $OUT"
absent "$snap" "e3snapconfig -d"
snap_take "$src/again.img"
OUT=$(e3snapconfig -d "$src/again.img" 2>&1) || fail "e3snapconfig -d again.img failed: $OUT"
umount "$src"
fsck_clean "$DISK_a"
test_done snap-bad-input
