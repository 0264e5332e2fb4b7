#!/bin/bash
# bij-cost.sh: what the before-image journal costs, as ratios within one
# VM run. Run it with:
#   scripts/vm-run --disk a:1G --timeout 1500 -- bench/bij-cost.sh [ROUNDS]
# Each round, for the journal on and off (module parameter
# journal_before_images, which exists for this measurement only), on a
# fresh filesystem holding a 128 MiB file: take a snapshot, then time the
# first overwrite pass after it (1 MiB sequential with fsync, and 4 KiB
# random buffered writes with an fsync every 64), and count the sectors
# written to the disk per byte overwritten. Prints medians and ratios.
set -euo pipefail
. "$(dirname "$0")/../tests/vm/lib.sh"
rounds=${1:-3}
dev=$DISK_a
src=/mnt/src
param=/sys/module/ext3snap/parameters/journal_before_images
mkdir -p "$src"
[ -w "$param" ] || fail "$param missing"

sectors() { awk '{ print $7 }' "/sys/block/${dev#/dev/}/stat"; }

# run WHICH: prints "seq_MBps rand_MBps sectors_per_byte"
run() {
	local t0 t1 s0 s1 seq rnd
	mkfs.ext3 -q -b 4096 "$dev"
	mount -t ext3snap "$dev" "$src"
	dd if=/dev/urandom of="$src/f" bs=1M count=128 status=none conv=fsync
	snap_take "$src/snap" >/dev/null
	sync
	s0=$(sectors)
	t0=$(date +%s%N)
	dd if=/dev/zero of="$src/f" bs=1M count=64 conv=notrunc,fsync status=none
	t1=$(date +%s%N)
	seq=$(( 64 * 1000000000 / (t1 - t0) ))
	t0=$(date +%s%N)
	python3 - "$src/f" <<'PY'
import os, random, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
r = random.Random(7)
buf = b"\xab" * 4096
for i in range(4096):
    os.pwrite(fd, buf, r.randrange(16384, 32768) * 4096)
    if i % 64 == 63:
        os.fsync(fd)
os.fsync(fd)
PY
	t1=$(date +%s%N)
	rnd=$(( 16 * 1000000000 / (t1 - t0) ))
	e3snapconfig -s "$src/snap" >/dev/null
	sync
	s1=$(sectors)
	e3snapconfig -d "$src/snap" >/dev/null
	umount "$src"
	echo "$seq $rnd $(( (s1 - s0) * 512 * 100 / (80 << 20) ))"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

: >/tmp/on; : >/tmp/off
for r in $(seq "$rounds"); do
	echo Y >"$param"; run >>/tmp/on
	echo N >"$param"; run >>/tmp/off
	echo "round $r: on $(tail -n1 /tmp/on) / off $(tail -n1 /tmp/off)"
done
echo Y >"$param"
for f in on off; do
	for c in 1 2 3; do
		eval "${f}_$c=$(cut -d' ' -f$c /tmp/$f | median)"
	done
done
echo "median, journal on vs off ($rounds rounds):"
echo "  1 MiB sequential overwrite, first pass: $on_1 vs $off_1 MB/s, ratio $(awk "BEGIN { printf \"%.2f\", $on_1 / $off_1 }")"
echo "  4 KiB random overwrite + fsync/64:      $on_2 vs $off_2 MB/s, ratio $(awk "BEGIN { printf \"%.2f\", $on_2 / $off_2 }")"
echo "  disk writes per overwritten byte (x100): $on_3 vs $off_3"
