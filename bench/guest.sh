#!/bin/bash
# guest.sh: the benchmark of issue 6, run inside ONE VM by bench/run:
#   scripts/vm-run --cache none --disk b:17G -- bench/guest.sh [--smoke] [--runs N]
# Every configuration uses the same virtual disk ($DISK_b), re-made for
# each one. It writes raw figures (raw.tsv: run, config, metric, value),
# fio's JSON and notes into /tmp/bench, then prints all of it as a base64
# tarball between @@BENCH-RAW-BEGIN@@ and @@BENCH-RAW-END@@ on stdout:
# the guest cannot write to the host tree, so bench/run extracts it.
# bench/report turns it into the table and the plot.
set -euo pipefail
. "$(dirname "$0")/../tests/vm/lib.sh"
BENCH=$TOP/bench
JOBS=$BENCH/jobs

smoke=
runs=3
CONFIGS="baseline e3s0 e3s1 e3s8 lvm thin"
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) smoke=1; shift ;;
	--runs) runs=${2:?}; shift 2 ;;
	*) fail "guest.sh: unknown option $1" ;;
	esac
done

dev=${DISK_b:?no disk b: run through bench/run}
disk=${dev#/dev/}
mnt=/mnt/bench
out=/tmp/bench
rm -rf "$out" && mkdir -p "$out/json" "$mnt"
raw=$out/raw.tsv
: >"$raw"

# Sizes. The full run must end within an hour on 2 TCG cores; the smoke
# run (make check) only proves the driver works end to end.
if [ -n "$smoke" ]; then
	runs=1 FS_SIZE=256M FILE_MB=8 RAND_IO=1M META_FILES=50
	COW_SIZE=128M POOL_SIZE=512M TAKE_SIZES="1 2" TAKE_REPS=1
	# Each configuration costs about a minute under TCG even this small:
	# the ones with the most code of their own (ext3snap with one and with
	# eight snapshots, LVM) stand for the rest.
	CONFIGS="e3s1 e3s8 lvm" PASSES=1
else
	FS_SIZE=1G FILE_MB=64 RAND_IO=8M META_FILES=500
	COW_SIZE=512M POOL_SIZE=2G TAKE_SIZES="1 4 16" TAKE_REPS=5 PASSES="1 2"
fi
export BENCH_DIR=$mnt FILE_SIZE=${FILE_MB}M RAND_IO META_FILES

# A long fsync or freeze under TCG on a busy host can legitimately exceed
# the 30 s hung-task limit vm-run sets for the correctness tests; here a
# slow machine must not turn into a failed run.
echo 300 >/proc/sys/kernel/hung_task_timeout_secs

modprobe ext4 || fail "modprobe ext4 (the baseline driver) failed"
modprobe dm-snapshot || fail "modprobe dm-snapshot failed"
modprobe dm-thin-pool || fail "modprobe dm-thin-pool failed"

# LVM in the chrooted guest: no udev, no lvmetad, no dmeventd.
mkdir -p /run/lvm /run/lock/lvm
LVMCONF='global { use_lvmetad = 0 } activation { udev_sync = 0 udev_rules = 0 monitoring = 0 } devices { obtain_device_list_from_udev = 0 }'
lvm_() {
	local cmd=$1
	shift
	OUT=$("$cmd" --config "$LVMCONF" "$@" 2>&1) || fail "$cmd $* failed: $OUT"
}

rec() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$raw"; }
note() { echo "$*" >>"$out/notes.txt"; echo "    note: $*"; }
ms() { awk -v n="$1" 'BEGIN { printf "%.3f", n / 1e6 }'; }
sectors() { awk '{ print $7 }' "/sys/block/$disk/stat"; }

# ---- configurations ----------------------------------------------------
# setup CONFIG: a fresh ext3 filesystem of FS_SIZE mounted on $mnt through
# the configuration's driver and device; sets $fsdev.
setup() {
	wipefs -qa "$dev" >/dev/null
	case $1 in
	baseline | e3s*)
		fsdev=$dev
		mkfs.ext3 -q -F -b 4096 "$fsdev" "$FS_SIZE"
		;;
	lvm | thin)
		lvm_ pvcreate -ff -y "$dev"
		lvm_ vgcreate bench "$dev"
		if [ "$1" = lvm ]; then
			lvm_ lvcreate -y -n origin -L "$FS_SIZE" bench
		else
			# 64 KiB is lvm's default thin chunk; said in the report.
			lvm_ lvcreate -y --type thin-pool -c 64k -L "$POOL_SIZE" -n pool bench
			lvm_ lvcreate -y -V "$FS_SIZE" -T bench/pool -n origin
		fi
		fsdev=/dev/mapper/bench-origin
		mkfs.ext3 -q -F -b 4096 "$fsdev"
		;;
	esac
	case $1 in
	e3s*) mount -t ext3snap "$fsdev" "$mnt" ;;
	*) mount -t ext3 "$fsdev" "$mnt" ;;
	esac
	# The point of the baseline: the stock ext4.ko serving type ext3.
	grep -q " $mnt $( [[ $1 == e3s* ]] && echo ext3snap || echo ext3 ) " /proc/mounts ||
		fail "$1: $mnt is not mounted with the expected type: $(grep " $mnt " /proc/mounts)"
}

teardown() {
	local s
	for s in "$mnt"/snap*.img; do
		[ -e "$s" ] || continue
		e3snapconfig -d "$s" >/dev/null || fail "deleting $s failed"
	done
	umount "$mnt"
	case $1 in
	lvm | thin)
		lvm_ lvremove -f bench
		lvm_ vgremove -f bench
		lvm_ pvremove -ff -y "$dev"
		;;
	esac
}

# The pre-existing data set: the files workloads 1 and 2 overwrite.
dataset() {
	local f
	for f in rand-direct rand-buffered seq; do
		dd if=/dev/zero of="$mnt/$f" bs=1M count="$FILE_MB" conv=fsync status=none
	done
	mkdir -p "$mnt/new" "$mnt/meta/d0" "$mnt/meta/d1" "$mnt/meta/d2" "$mnt/meta/d3"
	sync
}

# Snapshot space in bytes: what the snapshot file holds (ext3snap), the
# COW volume's use (dm-snapshot) or the thin pool's data use (dm-thin).
space_bytes() {
	case $1 in
	e3s*)
		snap_status "$mnt/snap1.img" >/dev/null
		echo $(($(snap_num 'file holds') * 4096))
		;;
	lvm)
		lvs --config "$LVMCONF" --noheadings --units b --nosuffix \
			-o snap_percent,lv_size bench/snap |
			awk '{ printf "%.0f\n", $1 / 100 * $2 }'
		;;
	thin)
		lvs --config "$LVMCONF" --noheadings --units b --nosuffix \
			-o data_percent,lv_size bench/pool |
			awk '{ printf "%.0f\n", $1 / 100 * $2 }'
		;;
	esac
}

# snapshot CONFIG: take the configuration's (first) snapshot.
snapshot() {
	case $1 in
	e3s1 | e3s8) snap_take "$mnt/snap1.img" >/dev/null ;;
	lvm) lvm_ lvcreate -y -s -c 4k -L "$COW_SIZE" -n snap bench/origin ;;
	thin) lvm_ lvcreate -y -s -n snap bench/origin ;;
	esac
}

# Write out what is still pending, so the sector count of a workload
# includes it: ext3snap may hold copies in memory (e3snapconfig -s
# flushes them).
settle() {
	sync
	case $1 in
	e3s1 | e3s8) e3snapconfig -s "$mnt/snap1.img" >/dev/null ;;
	esac
	sync
}

# job RUN CONFIG NAME JOBFILE: run one fio job file, keep its JSON, and
# record the sectors written to the disk per byte fio wrote.
job() {
	local run=$1 cfg=$2 name=$3 jf=$JOBS/$4 json s0 s1 ub
	json=$out/json/$run-$cfg-$name.json
	settle "$cfg"
	s0=$(sectors)
	fio --output-format=json --output="$json" "$jf" >/dev/null 2>"$out/fio.err" ||
		fail "fio $4 ($cfg) failed: $(cat "$out/fio.err")"
	settle "$cfg"
	s1=$(sectors)
	# One jq per job (each exec costs under TCG): user bytes, write IOPS,
	# write MiB/s, and the per-job-name read IOPS workload 4 reports.
	# (A here-string, not < <(...): the guest's chroot has no /dev/fd.)
	read -r ub IOPS MBPS <<<"$(jq -r '[([.jobs[].write.io_bytes] | add),
		([.jobs[].write.iops] | add), ([.jobs[].write.bw_bytes] | add / 1048576)] | @tsv' "$json")"
	JOBIOPS=$(jq -r '.jobs[] | "\(.jobname) \(.read.iops)"' "$json")
	[ "$ub" -gt 0 ] 2>/dev/null &&
		rec "$run" "$cfg" "wa_$name" "$(awk -v s=$((s1 - s0)) -v u="$ub" 'BEGIN { printf "%.3f", s * 512 / u }')"
	JSON=$json
}

iops() { echo "$IOPS"; }
mbps() { echo "$MBPS"; }

# workloads RUN CONFIG: workloads 1-4 (and 6, 7) on a mounted, populated
# filesystem, with the configuration's snapshot(s) already taken.
workloads() {
	local run=$1 cfg=$2 sp0 sp1 pass snapped=
	case $cfg in e3s1 | e3s8 | lvm | thin) snapped=1 ;; esac
	[ -z "$snapped" ] || sp0=$(space_bytes "$cfg")
	for pass in $PASSES; do
		job "$run" "$cfg" w1_direct_p$pass randw-direct.fio
		rec "$run" "$cfg" w1_direct_p$pass "$(iops)"
		job "$run" "$cfg" w1_buf_p$pass randw-buffered.fio
		rec "$run" "$cfg" w1_buf_p$pass "$(iops)"
	done
	# 7: space held after workload 1 against the distinct bytes it
	# overwrote (RAND_IO in each of the two files; pass 2 rewrites them).
	if [ -n "$snapped" ]; then
		settle "$cfg"
		sp1=$(space_bytes "$cfg")
		local ow=$((2 * $(numfmt --from=iec "$RAND_IO")))
		rec "$run" "$cfg" space_at_take_mb "$(awk -v b="$sp0" 'BEGIN { printf "%.2f", b / 1048576 }')"
		rec "$run" "$cfg" space_held_mb "$(awk -v b="$sp1" 'BEGIN { printf "%.2f", b / 1048576 }')"
		rec "$run" "$cfg" overwritten_mb "$(awk -v b="$ow" 'BEGIN { printf "%.2f", b / 1048576 }')"
		# What workload 1 made the snapshot hold: the growth since the
		# take. What it held at the take is fixed metadata (ext3snap) or,
		# for the thin pool, the origin's own data; both are shown apart.
		rec "$run" "$cfg" space_ratio "$(awk -v a="$sp0" -v b="$sp1" -v o="$ow" 'BEGIN { printf "%.3f", (b - a) / o }')"
	fi
	job "$run" "$cfg" w2_seq seqw.fio
	rec "$run" "$cfg" w2_seq "$(mbps)"
	job "$run" "$cfg" w3_new newfiles.fio
	rec "$run" "$cfg" w3_new "$(mbps)"
	job "$run" "$cfg" w4_meta meta.fio
	local ph
	for ph in create stat delete; do
		rec "$run" "$cfg" "w4_$ph" "$(awk -v p="$ph" '$1 == p { print $2 }' <<<"$JOBIOPS")"
	done
}

# 6: the snapshot read through /dev/ssdev/0 against the same read of the
# origin device, both O_DIRECT, the whole filesystem.
read_figures() {
	local run=$1 mb t0 t1
	mb=$(($(fs_bytes "$dev") >> 20))
	ss_bind "$mnt/snap1.img" 0
	for which in origin ssdev; do
		local src=$dev
		[ $which = ssdev ] && src=/dev/ssdev/0
		t0=$(date +%s%N)
		dd if="$src" of=/dev/null bs=1M count="$mb" iflag=direct status=none ||
			fail "O_DIRECT read of $src failed"
		t1=$(date +%s%N)
		rec "$run" e3s1 "read_$which" "$(awk -v m="$mb" -v t=$((t1 - t0)) 'BEGIN { printf "%.2f", m * 1e9 / t }')"
	done
	ss_unbind 0
}

# The 8-snapshot configuration: snapshots 2..8 are taken between rounds of
# overwrites. A refused take (an older module) is recorded, not worked
# around.
e3s8_snapshots() {
	local i
	for i in 2 3 4 5 6 7 8; do
		fio --output-format=json --output=/dev/null "$JOBS/randw-direct.fio" >/dev/null ||
			fail "e3s8: overwrite round before snapshot $i failed"
		if ! OUT=$(e3snapconfig -c "$mnt/snap$i.img" 2>&1); then
			note "e3s8: snapshot $i of 8 refused: $OUT"
			return 1
		fi
	done
}

e3s8_supported=1
config_run() {
	local run=$1 cfg=$2
	[ "$cfg" = e3s8 ] && [ -z "$e3s8_supported" ] && return 0
	step "run $run: $cfg"
	setup "$cfg"
	dataset
	snapshot "$cfg"
	if [ "$cfg" = e3s8 ] && ! e3s8_snapshots; then
		e3s8_supported=
		echo "e3s8	unsupported	$(tail -n1 "$out/notes.txt")" >>"$out/status.tsv"
		teardown "$cfg"
		return 0
	fi
	workloads "$run" "$cfg"
	[ "$cfg" = e3s1 ] && read_figures "$run"
	teardown "$cfg"
}

# ---- 5: take latency -----------------------------------------------------
# One take and one bare freeze+thaw, on the ext3snap filesystem on $mnt.
take_once() {	# REP LABEL
	local r
	r=$("$BENCH/takelat.py" take "$mnt" snap1.img) || fail "take ($2) failed"
	rec "$1" take "take_$2_ms" "$(ms "${r% *}")"
	rec "$1" take "held_$2_ms" "$(ms "${r#* }")"
	e3snapconfig -d "$mnt/snap1.img" >/dev/null || fail "deleting the snapshot ($2) failed"
	sync
	r=$("$BENCH/takelat.py" freeze "$mnt") || fail "freeze+thaw ($2) failed"
	rec "$1" take "freeze_$2_ms" "$(ms "$r")"
}

take_latency() {
	local g rep lp
	for g in $TAKE_SIZES; do
		step "take latency: idle ${g} GiB filesystem"
		wipefs -qa "$dev" >/dev/null
		# Sparse: mkfs writes only the metadata; the disk image stays small.
		mkfs.ext3 -q -F -b 4096 "$dev" "${g}G"
		mount -t ext3snap "$dev" "$mnt"
		dd if=/dev/zero of="$mnt/data" bs=1M count="$FILE_MB" conv=fsync status=none
		sync
		for rep in $(seq "$TAKE_REPS"); do
			take_once "$rep" "idle_${g}G"
		done
		# Under load: measured on the smallest filesystem.
		if [ "$g" = "${TAKE_SIZES%% *}" ]; then
			step "take latency: ${g} GiB filesystem under a random-write load"
			fio --output-format=json --output="$out/take-load.out" "$JOBS/load.fio" \
				>/dev/null 2>&1 &
			lp=$!
			sleep 3
			kill -0 "$lp" 2>/dev/null || fail "the load fio died at once"
			for rep in $(seq "$TAKE_REPS"); do
				take_once "$rep" load
				sleep 1
			done
			kill -INT "$lp"
			wait "$lp" || true
			# fio stopped by a signal says so before its JSON.
			sed -n '/^{/,$p' "$out/take-load.out" >"$out/json/take-load.json"
			rm -f "$out/take-load.out"
		fi
		umount "$mnt"
	done
}

# ---- main ------------------------------------------------------------------
{
	echo "mode	$([ -n "$smoke" ] && echo smoke || echo full)"
	echo "runs	$runs"
	echo "kernel	$(uname -r)"
	echo "date	$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "disk	$dev $(($(blockdev --getsize64 "$dev") >> 30)) GiB virtio-blk"
	echo "cpus	$(nproc)"
	echo "mem	$(awk '/MemTotal/ { print int($2 / 1024) " MiB" }' /proc/meminfo)"
	echo "fs_size	$FS_SIZE"
	echo "file_mb	$FILE_MB"
	echo "rand_io	$RAND_IO"
	echo "meta_files	$META_FILES x 4"
	echo "cow_size	$COW_SIZE"
	echo "pool_size	$POOL_SIZE"
	echo "take_sizes	$TAKE_SIZES"
	echo "take_reps	$TAKE_REPS"
	echo "fio	$(fio --version)"
} >"$out/meta.tsv"
: >"$out/status.tsv"
: >"$out/notes.txt"

# Runs outermost, configurations inside: a change in the host's load hits
# every configuration of a run alike, and ratios are taken within a run.
for run in $(seq "$runs"); do
	for cfg in $CONFIGS; do
		config_run "$run" "$cfg"
	done
done
take_latency
wipefs -qa "$dev" >/dev/null
step "done"

echo "@@BENCH-RAW-BEGIN@@"
tar -C "$out" -czf - . | base64 -w 76
echo "@@BENCH-RAW-END@@"
