#!/bin/bash
# vm-run: --disk a:512M --timeout 900
# A snapshot taken and read under load. Writers (random dd overwrites, one
# with O_DIRECT, fsync'd appends of numbered records, file creation and
# deletion) run on the origin; a snapshot is taken while they run. While
# they continue (and heavier whole-file overwrites join them), /dev/ssdev/0
# read in full three times, spaced out, must hash the same, every 64 KiB
# chunk (O_DIRECT reads) equal to the first read's; so must chunks read in
# random order for 20 s. The image is e2fsck-clean, holds the untouched
# tree exactly as recorded and the files deleted under load intact, and its
# append log is a gapless run of whole records, as many as were written
# when the snapshot was taken (the instant is one instant). Writers must see
# no error.
. "$(dirname "$0")/lib.sh"

dev=$DISK_a
src=/mnt/src
ss=/mnt/ss
snap=$src/snapshot.img
load=$src/load
mkdir -p "$src" "$ss"
rm -f /tmp/stop /tmp/load-errors
touch /tmp/load-errors
modprobe ext4	# mount -o ro /dev/ssdev/0 picks the stock ext3 driver
# Writers copy from a random pool in memory: /dev/urandom is slow under TCG.
dd if=/dev/urandom of=/tmp/pool bs=1M count=32 status=none

mkfs.ext3 -q -b 4096 "$dev" 40960	# 160 MiB: every full read of the snapshot costs
mount -t ext3snap "$dev" "$src"

step "populate: a tree nobody touches, and files for the writers"
mkdir "$src/tree" "$load" "$load/cd"
"$TOOLS/populate" "$src/tree" --seed 21 --size-mb 8
manifest_rec "$src/tree" -o /tmp/m.tree
for i in 1 2 3; do
	dd if=/dev/urandom of="$load/ow$i" bs=1M count=12 status=none
done
for i in $(seq 1 40); do
	head -c $((i * 3000)) /dev/urandom >"$load/cd/old$i"
done
(cd "$load/cd" && sha256sum old*) >/tmp/old.sums	# never changed, deleted under load
: >"$load/log"
sync

# Writers: loop until /tmp/stop exists; any failure is written to
# /tmp/load-errors (checked at the end).
err() { echo "$*" >>/tmp/load-errors; }
w_overwrite() {	# FILE [DD OPTIONS...]: random 64 KiB overwrites
	local f=$1 n=0; shift
	while [ ! -e /tmp/stop ]; do
		n=$((n + 1))
		dd if=/tmp/pool of="$f" bs=64k count=1 skip=$((RANDOM % 512)) \
			seek=$((RANDOM % 192)) conv=notrunc "$@" status=none 2>>/tmp/load-errors ||
			err "overwrite $f $* failed"
		[ $((n % 16)) != 0 ] || sync "$f" || err "sync $f failed"
	done
}
w_append() {	# numbered 32-byte records, one write and an fsync each
	local n=0
	while [ ! -e /tmp/stop ]; do
		n=$((n + 1))
		sleep 0.05
		printf 'rec %010d %016d\n' "$n" "$n" |
			dd of="$load/log" bs=32 count=1 iflag=fullblock oflag=append \
				conv=notrunc,fsync status=none 2>>/tmp/load-errors ||
			err "append $n failed"
	done
}
w_create() {	# new files of random sizes, deleting old ones (also pre-snapshot ones)
	local n=0
	while [ ! -e /tmp/stop ]; do
		n=$((n + 1))
		sleep 0.05
		dd if=/tmp/pool of="$load/cd/new$n" bs=4k count=$((RANDOM % 32)) \
			skip=$((RANDOM % 8192)) status=none || err "create new$n failed"
		[ $((n % 3)) != 0 ] || rm -f "$load/cd/old$((n / 3))" || err "rm old$((n / 3)) failed"
		[ $n -le 30 ] || rm -f "$load/cd/new$((n - 30))" || err "rm new$((n - 30)) failed"
		if [ $((n % 10)) = 0 ]; then
			mkdir "$load/cd/d$n" && echo x >"$load/cd/d$n/x" &&
				rm -r "$load/cd/d$n" || err "mkdir/rm -r d$n failed"
		fi
	done
}
pids=()
start_writers() {
	w_overwrite "$load/ow1" & pids+=($!)
	w_overwrite "$load/ow2" conv=fsync & pids+=($!)
	w_overwrite "$load/ow3" oflag=direct & pids+=($!)
	w_append & pids+=($!)
	w_create & pids+=($!)
}
stop_writers() {
	touch /tmp/stop
	wait "${pids[@]}" || true
	pids=()
	rm -f /tmp/stop
}
records() { echo $(($(stat -c %s "$1") / 32)); }
trap 'touch /tmp/stop' EXIT

step "start the writers"
start_writers
sleep 10
r0=$(records "$load/log")
[ "$r0" -gt 0 ] || fail "the append writer wrote nothing in 10 s"
echo "    $r0 records appended so far"
[ ! -s /tmp/load-errors ] || fail "writers failed before the snapshot: $(cat /tmp/load-errors)"

step "take a snapshot while they write"
snap_take "$snap"
sleep 5
r1=$(records "$load/log")
[ "$r1" -gt "$r0" ] || fail "the writers stalled after the snapshot ($r0 then $r1 records)"
ss_bind "$snap" 0

heavy() {	# FILE [DD OPTIONS...]: whole-file overwrites, 1 MiB at a time
	local f=$1; shift
	while [ ! -e /tmp/stop ]; do
		dd if=/tmp/pool of="$f" bs=1M count=12 skip=$((RANDOM % 20)) conv=notrunc "$@" \
			status=none 2>>/tmp/load-errors || err "heavy overwrite $f $* failed"
	done
}

step "read /dev/ssdev/0 fully three times, spaced out, heavier overwrites from the second on"
# The first read is the settled image: its chunk hashes are the reference
# every later read is compared with, chunk by chunk.
"$TOOLS/devhash" record /dev/ssdev/0 -o /tmp/settled.ref >/tmp/read1 || fail "reading /dev/ssdev/0 failed"
sum1=$(sed -n 's/.*sha256 //p' /tmp/read1)
echo "    read 1: $sum1"
heavy "$load/ow1" & pids+=($!)
heavy "$load/ow2" oflag=direct & pids+=($!)
for n in 2 3; do
	sleep 8
	if ! "$TOOLS/devhash" check /dev/ssdev/0 /tmp/settled.ref --list /tmp/bad$n >/tmp/read$n; then
		cat /tmp/read$n
		explain_chunks /dev/ssdev/0 /tmp/bad$n
		soft_fail "read $n of /dev/ssdev/0 differs from read 1 in $(wc -l </tmp/bad$n) chunks: the snapshot changed while the origin was written"
	fi
	sum=$(sed -n 's/.*pass 1: sha256 //p' /tmp/read$n)
	echo "    read $n: $sum"
	[ "$sum" = "$sum1" ] || soft_fail "read $n of /dev/ssdev/0 has sha256 $sum, read 1 had $sum1"
done

step "continuous chunk reads in random order under the overwrites"
"$TOOLS/devhash" check /dev/ssdev/0 /tmp/settled.ref --list /tmp/bad --seconds 20 --random || {
	explain_chunks /dev/ssdev/0 /tmp/bad
	soft_fail "chunk reads of /dev/ssdev/0 in random order, under heavy overwrites, differ from the settled image in $(wc -l </tmp/bad) chunks"
}
# The same check can fail: the origin, under the writers, is not the image,
# and the snapshot has been saving blocks for them.
if out=$("$TOOLS/devhash" check "$dev" /tmp/settled.ref --prefix --seconds 5 --random); then
	fail "the origin device still reads like the snapshot image: the writers change nothing, the test proves nothing"
fi
grep -qE ', [1-9][0-9]* chunks differ$' <<<"$out" || fail "comparing the origin with the image failed: $out"
echo "    origin vs image: $(tail -n1 <<<"$out" | sed 's/.*passes, //')"
snap_status "$snap"
[ "$(snap_num copied)" -ge 1024 ] || fail "the snapshot saved only $(snap_num copied) blocks under the writers"

step "the image is clean and consistent"
fsck_clean /dev/ssdev/0
echo "    e2fsck -fn /dev/ssdev/0: clean"
mount -o ro /dev/ssdev/0 "$ss"
manifest_rec "$ss/tree" -o /tmp/m.tree.snap
manifest_same /tmp/m.tree /tmp/m.tree.snap "untouched tree in the snapshot vs record" soft
[ ! -e "$ss/snapshot.img" ] || fail "the snapshot file is visible inside the snapshot"
k=$(records "$ss/load/log")
python3 - "$ss/load/log" <<'EOF' || fail "the append log in the snapshot is not a gapless run of whole records"
import sys
data = open(sys.argv[1], "rb").read()
if len(data) % 32:
    sys.exit(f"log is {len(data)} bytes, not whole 32-byte records")
for i in range(len(data) // 32):
    want = b"rec %010d %016d\n" % (i + 1, i + 1)
    if data[i * 32:(i + 1) * 32] != want:
        sys.exit(f"record {i + 1} is {data[i * 32:(i + 1) * 32]!r}, want {want!r}")
EOF
now=$(records "$load/log")
echo "    log: $k records in the snapshot; $r0 before it, $r1 just after, $now now"
[ "$k" -ge "$r0" ] && [ "$k" -le "$r1" ] ||
	fail "the snapshot's log has $k records; it was taken between $r0 and $r1"
for i in 1 2 3; do
	[ "$(stat -c %s "$ss/load/ow$i")" = $((12 << 20)) ] || fail "load/ow$i in the snapshot is not 12 MiB"
done
nold=0
for f in "$ss"/load/cd/old*; do
	want=$(awk -v n="${f##*/}" '$2 == n {print $1}' /tmp/old.sums)
	have=$(sha256sum <"$f" | cut -d' ' -f1)
	[ "$want" = "$have" ] || fail "load/cd/${f##*/}, deleted after the snapshot, has other contents in it"
	nold=$((nold + 1))
done
echo "    $nold of the 40 old files are in the snapshot, intact; $(ls "$load/cd" | grep -c '^old' || true) left on the origin"
umount "$ss"

step "stop the writers: no errors, the image unchanged, everything clean"
stop_writers
[ ! -s /tmp/load-errors ] || fail "writers failed: $(head -n 20 /tmp/load-errors)"
sum4=$(dev_sha /dev/ssdev/0)
[ "$sum4" = "$sum1" ] || soft_fail "the snapshot changed: $sum1 at first, $sum4 at the end"
echo "    /dev/ssdev/0 now: sha256 $sum4 (read 1: $sum1)"
snap_status "$snap"
[ "$(snap_state)" = active ] || fail "the snapshot is $(snap_state), not active"
[ "$(snap_num pending)" = 0 ] || soft_fail "e3snapconfig -s on an idle filesystem reports $(snap_num pending) pending blocks: it did not settle"
ss_unbind 0
OUT=$(e3snapconfig -d "$snap" 2>&1) || fail "e3snapconfig -d failed: $OUT"
umount "$src"
fsck_clean "$dev"
test_done snap-load
