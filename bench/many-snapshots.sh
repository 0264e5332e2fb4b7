#!/bin/bash
# many-snapshots.sh: does a write cost more with more snapshots? Ratios
# within one VM run (issue 5). Run it with:
#   scripts/vm-run --disk a:2G --timeout 2400 -- bench/many-snapshots.sh [ROUNDS]
# Each round, for N = 1, 8 and 100 snapshots, on a fresh filesystem holding
# a 256 MiB file: take N snapshots (1 MiB of that file changed between two
# of them), then time the first pass of 4 KiB random O_DIRECT overwrites
# over the file (every block it writes is saved once, into the newest) and
# a 1 MiB sequential overwrite with fsync. Then reads the first 512 MiB of
# the oldest and of the newest snapshot through ssdev (O_DIRECT): the
# oldest reads most blocks through all the newer ones. Also prints the
# kernel memory (Slab + the store) and the file blocks the snapshots hold.
# Prints medians and ratios against N = 1.
set -euo pipefail
. "$(dirname "$0")/../tests/vm/lib.sh"
rounds=${1:-3}
dev=$DISK_a
src=/mnt/src
mkdir -p "$src"

meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }

# read_mbps SNAPFILE: MB/s of an O_DIRECT read of its first 512 MiB.
read_mbps() {
	local t0 t1
	ss_bind "$1" 0
	t0=$(date +%s%N)
	dd if=/dev/ssdev/0 of=/dev/null bs=1M count=512 iflag=direct status=none ||
		fail "reading $1 through /dev/ssdev/0 failed"
	t1=$(date +%s%N)
	ss_unbind 0
	awk -v t=$((t1 - t0)) 'BEGIN { printf "%.2f", 512 * 1e9 / t }'
}

# run N: prints "rand_MBps seq_MBps slab_kib_per_snapshot oldest_read_MBps
# newest_read_MBps"
run() {
	local n=$1 i t0 t1 rnd seq slab0 slab1 old new
	mkfs.ext3 -q -b 4096 "$dev"
	mount -t ext3snap "$dev" "$src"
	mkdir "$src/snaps"
	dd if=/dev/urandom of="$src/f" bs=1M count=256 status=none conv=fsync
	sync
	echo 3 >/proc/sys/vm/drop_caches
	slab0=$(meminfo Slab)
	for i in $(seq 1 "$n"); do
		[ "$i" -gt 1 ] && dd if=/dev/urandom of="$src/f" bs=1M count=1 \
			seek=$((i % 256)) conv=notrunc,fsync status=none
		e3snapconfig -c "$src/snaps/s$i" >/dev/null || fail "take $i of $n failed"
	done
	sync
	slab1=$(meminfo Slab)
	t0=$(date +%s%N)
	fio --name=randw --filename="$src/f" --size=256M --io_size=32M \
		--rw=randwrite --bs=4k --direct=1 --ioengine=psync \
		--randrepeat=1 --randseed=$((4242 + n)) --output=/dev/null
	t1=$(date +%s%N)
	rnd=$(awk -v t=$((t1 - t0)) 'BEGIN { printf "%.2f", 32 * 1e9 / t }')
	t0=$(date +%s%N)
	dd if=/dev/zero of="$src/f" bs=1M count=64 seek=128 conv=notrunc,fsync status=none
	t1=$(date +%s%N)
	seq=$(awk -v t=$((t1 - t0)) 'BEGIN { printf "%.2f", 64 * 1e9 / t }')
	e3snapconfig -l "$src" -o json >/tmp/list.json
	python3 - "$n" <<'PY' >&2
import json, sys
snaps = json.load(open("/tmp/list.json"))
held = sum(s["file_blocks"] for s in snaps)
print(f"    {len(snaps)} snapshots hold {held} blocks; newest {snaps[0]['file_blocks']}")
PY
	old=$(read_mbps "$src/snaps/s1")
	new=$(read_mbps "$src/snaps/s$n")
	umount "$src"
	echo "$rnd $seq $(( (slab1 - slab0) / n )) $old $new"
}

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

for r in $(seq 1 "$rounds"); do
	for n in 1 8 100; do
		step "round $r: $n snapshots"
		res=$(run "$n")
		echo "    random 4K ${res%% *} MB/s, rest: $res"
		echo "$n $res" >>/tmp/res
	done
done
printf '\n%-12s %12s %12s %18s %16s %16s\n' snapshots "rand4k MB/s" "seq1M MB/s" \
	"slab KiB/snapshot" "oldest read MB/s" "newest read MB/s"
for n in 1 8 100; do
	r=$(awk -v n=$n '$1 == n { print $2 }' /tmp/res | median)
	s=$(awk -v n=$n '$1 == n { print $3 }' /tmp/res | median)
	m=$(awk -v n=$n '$1 == n { print $4 }' /tmp/res | median)
	o=$(awk -v n=$n '$1 == n { print $5 }' /tmp/res | median)
	w=$(awk -v n=$n '$1 == n { print $6 }' /tmp/res | median)
	printf '%-12s %12s %12s %18s %16s %16s\n' "$n" "$r" "$s" "$m" "$o" "$w"
	eval "r$n=$r s$n=$s o$n=$o w$n=$w"
done
awk -v r1="$r1" -v r8="$r8" -v r100="$r100" -v s1="$s1" -v s8="$s8" -v s100="$s100" 'BEGIN {
	printf "ratio 8/1:   rand %.2f  seq %.2f\n", r8 / r1, s8 / s1
	printf "ratio 100/1: rand %.2f  seq %.2f\n", r100 / r1, s100 / s1 }'
awk -v o8="$o8" -v w8="$w8" -v o100="$o100" -v w100="$w100" 'BEGIN {
	printf "read oldest/newest: 8 snapshots %.2f, 100 snapshots %.2f\n", o8 / w8, o100 / w100 }'
