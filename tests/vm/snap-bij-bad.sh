#!/bin/bash
# vm-run: --disk a:256M --timeout 300
# The before-image journal read back at mount, from records crafted with
# bijcraft on an unmounted filesystem: whole records are replayed (the
# snapshot shows their contents); a damaged record (bad data checksum, bad
# descriptor checksum, a sequence number out of turn) followed by a later
# one is detected by mount and by fsck.ext3snap: the snapshot is reported
# and marked broken, refuses to bind, can be deleted, and the origin
# mounts read-write and stays clean. No oops.
. "$(dirname "$0")/lib.sh"

dev=$DISK_a
src=/mnt/src
craft=$TOP/build/tests/bijcraft
mkdir -p "$src"
[ -x "$craft" ] || fail "$craft missing: run 'make check' (it builds it)"

# fresh: a filesystem with a crafted snapshot "snap" (id 1, 800-block
# journal); $lfblk is the first of three blocks in use, unsaved
fresh() {
	mkfs.ext3 -q -b 4096 "$dev"
	"$craft" "$dev" snapshot snap 1 800 >/dev/null || fail "bijcraft snapshot"
	# lost+found's blocks: in use at the instant, and not among the
	# blocks a take changes (and so saves: bijcraft saves those as the
	# kernel does), so a replayed copy is what the image shows.
	lfblk=$(debugfs -R "bmap <11> 0" "$dev" 2>/dev/null)
	[ -n "$lfblk" ] || fail "no block for lost+found"
	[ "$(debugfs -R "bmap <11> 2" "$dev" 2>/dev/null)" = $((lfblk + 2)) ] ||
		fail "lost+found's first blocks are not contiguous: the test needs three"
}

step "whole records: replayed at mount"
fresh
"$craft" "$dev" record 1 1 "copy:$lfblk:0x55" || fail "bijcraft record"
"$craft" "$dev" record 3 2 "copy:$((lfblk + 1)):0x66" || fail "bijcraft record"
mark_log
mount -t ext3snap "$dev" "$src"
new_log | grep -q 'snapshot 1: 2 before-image records replayed' ||
	fail "mount did not report replaying 2 records: $(new_log | tail -n 5)"
snap_status "$src/snap"
[ "$(snap_state)" = active ] || fail "after a clean replay the snapshot is $(snap_state)"
ss_bind "$src/snap" 0
want=$(head -c 4096 /dev/zero | tr '\0' '\125' | sha256sum)
have=$(dd if=/dev/ssdev/0 bs=4096 skip="$lfblk" count=1 iflag=direct status=none | sha256sum)
[ "$have" = "$want" ] || fail "block $lfblk of the snapshot does not hold the replayed copy"
ss_unbind 0
umount "$src"
log_clean "a clean replay"
fsck_clean "$dev"

# damaged HOW: the record that must be there is damaged, a later one whole
damaged() {
	local how=$1 out rc=0
	step "damaged record ($how): detected by mount and by fsck"
	fresh
	case $how in
	data)
		"$craft" "$dev" record 1 1 "copy:$lfblk:0x55" "copy:$((lfblk + 1)):0x66"
		"$craft" "$dev" record 4 2 "copy:$((lfblk + 2)):0x77"
		"$craft" "$dev" poke 3 100 ;;
	descriptor)
		"$craft" "$dev" record 1 1 "copy:$lfblk:0x55"
		"$craft" "$dev" record 3 2 "copy:$((lfblk + 1)):0x66"
		"$craft" "$dev" poke 1 40 ;;
	sequence)
		"$craft" "$dev" record 1 5 "copy:$lfblk:0x55" ;;
	esac
	run_fsck=$(fsck.ext3snap -fn "$dev" 2>&1) && rc=0 || rc=$?
	[ $rc -ge 4 ] || fail "fsck.ext3snap -fn did not report the damaged record ($how), exit $rc:
$run_fsck"
	echo "    fsck.ext3snap -fn: exit $rc"
	mark_log
	mount -t ext3snap "$dev" "$src" || fail "the origin does not mount with a damaged journal ($how)"
	new_log | grep -q 'is damaged' || fail "mount did not report the damaged record ($how):
$(new_log | tail -n 8)"
	new_log | grep 'damaged\|broken' | sed 's/^/    /'
	snap_status "$src/snap"
	[ "$(snap_state)" = broken ] || fail "a damaged journal left the snapshot $(snap_state) ($how)"
	out=$(ssdevconfig -c "$src/snap" /dev/ssdev/0 2>&1) &&
		fail "a broken snapshot was bound ($how)"
	echo "    ssdevconfig -c: $out"
	touch "$src/still-writable" || fail "the origin is not writable ($how)"
	umount "$src"
	mount -t ext3snap "$dev" "$src"
	snap_status "$src/snap" >/dev/null
	[ "$(snap_state)" = broken ] || fail "after a remount the snapshot is $(snap_state), not broken ($how)"
	e3snapconfig -d "$src/snap" || fail "cannot delete the broken snapshot ($how)"
	umount "$src"
	log_clean "a damaged journal ($how)"
	fsck_clean "$dev"
}
damaged data
damaged descriptor
damaged sequence
test_done snap-bij-bad
