#!/bin/bash
# vm-run: --disk orig:32M --disk log:512M --disk replay:32M --disk cow:32M --timeout 1800
# Every flush point: a workload that takes a snapshot is recorded through
# dm-log-writes (the mark 'snap' right after the snapshot is taken and
# synced), then the log is replayed onto a fresh disk up to EVERY FLUSH and
# FUA entry after the mark, i.e. to each state the disk could have been in
# at a power cut. At each point the filesystem must recover by one of the
# two paths, alternately: at odd points fsck.ext3snap -y first (exit 0 or
# 1), then the mount; at even points the mount alone (-t ext3snap, which
# recovers). Then the snapshot must be active, its image identical, byte
# for byte, to the one at the mark (which fsck.ext3snap -fn found clean
# on /dev/ssdev/0 right after the take: the same bytes are as clean, so
# the image is fsck'd again only when it differs, to say whether the
# difference also breaks it), every file whose fsync had returned (a mark
# after each) intact, fsck.ext3snap -fn clean after unmounting, and the
# kernel log clean. Each point is checked through a throw-away dm snapshot
# of the replay disk, so the replay goes on incrementally from the exact
# replayed state. The filesystem is small (32 MiB) so that reading the
# whole snapshot image at each of the points stays cheap; the test fails
# if the log has fewer than MIN_POINTS flush points after the mark, or if
# it checked fewer than all of them.
. "$(dirname "$0")/lib.sh"

MIN_POINTS=20
LR=$TOP/build/tests/logreplay
[ -x "$LR" ] || fail "$LR is not built: run 'make $LR' (make check builds it)"
command -v dmsetup >/dev/null || fail "dmsetup is missing (scripts/install-deps installs it)"
# No udev in the guest: libdevmapper makes the /dev/mapper nodes itself.
export DM_DISABLE_UDEV=1
modprobe dm-log-writes || fail "cannot load dm-log-writes"
modprobe dm-snapshot || fail "cannot load dm-snapshot"

mark_log
src=/mnt/src
snap=$src/snap
# The snapshot image right after the take, read from the live filesystem:
# every replayed state must show exactly these bytes (kept in guest memory).
ref_img=/tmp/snap-at-mark.img
mkdir -p "$src"
sectors=$(blockdev --getsz "$DISK_orig")
[ "$(blockdev --getsz "$DISK_replay")" = "$sectors" ] ||
	fail "the replay disk is not the size of the recorded one ($sectors sectors)"

# image_same DEV WHAT: DEV (read with O_DIRECT, so that no cached page can
# stand in for the device's own answer) must hold the bytes of $ref_img.
# A difference is explained: where, how many blocks, and whether the
# changed image is still fsck-clean.
image_same() {
	local out first fsck_out
	out=$(set -o pipefail
	      dd if="$1" bs=4M iflag=direct status=none | cmp - "$ref_img" 2>&1) && return 0
	first=$(sed -nE 's/.*differ: (byte|char) ([0-9]+).*/\2/p' <<<"$out")
	[ -z "$first" ] || out="$out (first difference in block $(((first - 1) / 4096)) of 4 KiB; $(set +o pipefail
		dd if="$1" bs=4M iflag=direct status=none | cmp -l - "$ref_img" 2>/dev/null |
		awk '{ b[int(($1 - 1) / 4096)] = 1 } END { print length(b) }') blocks differ)"
	if fsck_out=$(fsck.ext3snap -fn "$1" 2>&1); then
		out="$out; fsck.ext3snap -fn on the changed image is clean"
	else
		out="$out; fsck.ext3snap -fn on the changed image is not clean either:
$fsck_out"
	fi
	fail "$2: the snapshot image differs from the one at the mark: $out"
}

step "record: mkfs, populate, snapshot, mark 'snap', workload, through dm-log-writes"
dmsetup create lw --table "0 $sectors log-writes $DISK_orig $DISK_log" ||
	fail "cannot create the log-writes target on $DISK_orig logging to $DISK_log"
mkfs.ext3 -q -b 4096 -N 2048 /dev/mapper/lw
dmsetup message lw 0 mark mkfs
# commit=300: no timer commits, so the flush points are those of the
# workload's fsyncs and syncs, the before-image journal's own flushes and
# a full journal, and their number depends less on the machine's speed.
mount -t ext3snap -o commit=300 /dev/mapper/lw "$src"
"$TOOLS/populate" "$src" --seed 91 --size-mb 3 >/dev/null
mkdir "$src/keep" "$src/durable"
for k in 1 2 3; do
	dd if=/dev/urandom of="$src/keep/k$k" bs=64k count=4 status=none
done
sync
snap_take "$snap"
sync
dmsetup message lw 0 mark snap
df -P -k "$src" | awk 'NR == 2 { print "    at the mark:", $3, "of", $2, "KiB used" }'
ss_bind "$snap" 0
dd if=/dev/ssdev/0 of="$ref_img" bs=4M iflag=direct status=none ||
	fail "reading the snapshot image after the take failed"
# Clean once, clean at every point whose image has the same bytes.
fsck_clean /dev/ssdev/0
ss_unbind 0
echo "    snapshot image at the mark: $(stat -c %s "$ref_img") bytes, sha256 $(sha256sum <"$ref_img" | cut -d' ' -f1)"

# durable FILE COUNT SEEK CONV: write COUNT random 4 KiB blocks at block
# SEEK of FILE with fsync, between the marks pre-N and dur-N: from dur-N
# on, FILE must read back as written (until the next pre-M of FILE; in
# between, its state is undetermined). Lines "MARK FILE SHA" go to
# /tmp/durable, "-" for the sha of a pre-N mark.
: >/tmp/durable
nd=0
durable() {
	nd=$((nd + 1))
	echo "pre-$nd $1 -" >>/tmp/durable
	dmsetup message lw 0 mark "pre-$nd"
	dd if=/dev/urandom of="$1" bs=4k count="$2" seek="$3" conv="$4" \
		status=none || fail "writing $1 failed"
	echo "dur-$nd $1 $(sha256sum <"$1" | cut -d' ' -f1)" >>/tmp/durable
	dmsetup message lw 0 mark "dur-$nd"
}
# One round of churn (every kind of change; its copies go through the
# before-image journal), made durable by the fsyncs after it, then two
# rounds of fsync'd writes alone, overwriting files from before the
# snapshot. Each churn round adds some 20-30 flush points to check.
for r in 1 2 3; do
	[ "$r" != 1 ] || "$TOOLS/churn" "$src" --seed $((90 + r)) --exclude snap \
		--exclude keep --exclude durable >/dev/null || fail "churn round $r failed"
	durable "$src/durable/new$r" $((r * 5)) 0 fsync
	durable "$src/keep/k$r" 4 $((r * 3)) notrunc,fsync
	durable "$src/durable/new$r" 2 $((r * 5)) notrunc,fsync
done
snap_status "$snap" >/dev/null
[ "$(snap_state)" = active ] || fail "the snapshot is $(snap_state) at the end of the workload"
ss_bind "$snap" 0
image_same /dev/ssdev/0 "the live snapshot at the end of the workload (before any replay)"
ss_unbind 0
df -P -k "$src" | awk 'NR == 2 { printf "    filesystem at the end: %d of %d KiB used\n", $3, $2 }'
umount "$src"
status=$(dmsetup status lw)
case $status in
*logging_disabled*) fail "dm-log-writes stopped logging (log device full?): $status" ;;
esac
dmsetup remove lw
log_clean "the recorded workload"

step "the log"
"$LR" --list "$DISK_log" >/tmp/lw.list || fail "logreplay --list failed"
head -n 1 /tmp/lw.list | sed 's/^# /    /'
markidx=$("$LR" --find-mark snap "$DISK_log") || fail "no mark 'snap' in the log"
"$LR" --flush-points-after snap "$DISK_log" >/tmp/lw.points ||
	fail "logreplay --flush-points-after snap failed"
mapfile -t points </tmp/lw.points
n=${#points[@]}
echo "    mark 'snap' is entry $markidx; $n FLUSH/FUA entries after it, all to be checked"
[ "$n" -ge "$MIN_POINTS" ] ||
	fail "only $n FLUSH/FUA entries after the mark 'snap' (entry $markidx), fewer than $MIN_POINTS: the workload no longer exercises what this test is for"
# The flags of each entry after the mark, for the messages.
declare -A flags_of=()
# (No process substitution: the guest has no /dev/fd.)
awk -v m="$markidx" '$1 ~ /^[0-9]+$/ && $1 > m { print $1, $4 }' /tmp/lw.list >/tmp/lw.flags
while read -r i f; do
	flags_of[$i]=$f
done </tmp/lw.flags
# "INDEX FILE SHA-or-dash MARK" for each pre-N and dur-N mark, by index.
awk '$4 == "MARK" && $5 ~ /^(pre|dur)-/ { print $5, $1 }' /tmp/lw.list | sort >/tmp/lw.marks
sort /tmp/durable | join /tmp/lw.marks - | awk '{ print $2, $3, $4, $1 }' |
	sort -n >/tmp/durable.idx
[ "$(wc -l </tmp/durable.idx)" = $((2 * nd)) ] ||
	fail "the log has $(wc -l </tmp/lw.marks) of the $((2 * nd)) marks around fsync'd writes"

# secs VAR FROM TO: VAR = TO - FROM (both ${EPOCHREALTIME/./}, in µs) as
# seconds with one decimal; bash only, no process per call.
secs() {
	local tenths=$((($3 - $2 + 50000) / 100000))
	printf -v "$1" '%d.%d' $((tenths / 10)) $((tenths % 10))
}

# check_at WHAT UPTO [fsck]: the replay disk holds entries 0..UPTO-1.
# Recover that state through a transient dm snapshot (the replay disk
# itself stays as replayed): with fsck, fsck.ext3snap -y first, then the
# mount; else the mount alone. Check it, and throw the changes of
# recovery and fsck away.
rsz=$sectors
FSCK_SAVED=0	# points whose fsck.ext3snap -y saved blocks for the snapshot
check_at() {
	local what=$1 upto=$2 path=${3:-mount} idx f sha m s out bad=0 count=0 rc=0
	local t0 t1 t2 t3 t4 t5 tf
	local s_fsck_y s_mount s_status s_image s_files s_fsck fsck_note=
	local -A want=() by=() got=()
	local -a files=() kl=()

	t0=${EPOCHREALTIME/./}
	dmesg >/tmp/dmesg.before
	mapfile -t kl </tmp/dmesg.before
	dmsetup create rpsnap --table "0 $rsz snapshot $DISK_replay $DISK_cow N 8" ||
		fail "$what: cannot create the dm snapshot of the replay disk"
	if [ "$path" = fsck ]; then
		# Its replay and e2fsck's repairs must keep the image exact,
		# as the mount's recovery does (issue 22).
		out=$(fsck.ext3snap -y /dev/mapper/rpsnap 2>&1) || rc=$?
		[ $rc -le 1 ] || fail "$what: fsck.ext3snap -y before the mount exited $rc:
$out"
		fsck_note="fsck -y (exit $rc"
		if [[ $out =~ saved\ ([0-9]+)\ blocks ]]; then
			fsck_note="$fsck_note, saved ${BASH_REMATCH[1]} blocks"
			FSCK_SAVED=$((FSCK_SAVED + 1))
		fi
	fi
	tf=${EPOCHREALTIME/./}
	mount -t ext3snap /dev/mapper/rpsnap "$src" ||
		fail "$what: mount -t ext3snap (with recovery) failed:
$(dmesg | tail -n 30)"
	t1=${EPOCHREALTIME/./}
	SNAP_STATUS=$(e3snapconfig -s "$snap" 2>&1) ||
		fail "$what: e3snapconfig -s $snap failed after recovery: $SNAP_STATUS
$(dmesg | tail -n 30)"
	[[ $SNAP_STATUS =~ (^|$'\n')\ *state:\ *active([^a-z]|$) ]] ||
		fail "$what: after recovery the snapshot is $(snap_state):
$SNAP_STATUS"
	t2=${EPOCHREALTIME/./}
	ss_bind "$snap" 0
	image_same /dev/ssdev/0 "$what"
	ss_unbind 0
	t3=${EPOCHREALTIME/./}
	# The last mark of each file before this point: dur-N vouches for
	# its sha, pre-N says a write is under way.
	while read -r idx f sha m; do
		[ "$idx" -lt "$upto" ] || break
		want[$f]=$sha
		by[$f]="$m (entry $idx)"
	done </tmp/durable.idx
	for f in "${!want[@]}"; do
		[ "${want[$f]}" = - ] || files+=("$f")
	done
	count=${#files[@]}
	if [ "$count" -gt 0 ]; then
		# One sha256sum for all; an unreadable file has no line.
		sha256sum -- "${files[@]}" >/tmp/sums 2>/dev/null || true
		while read -r s f; do
			got[$f]=$s
		done </tmp/sums
		for f in "${files[@]}"; do
			[ "${got[$f]:-unreadable}" = "${want[$f]}" ] || {
				echo "    not intact: $f ($(stat -c '%s bytes' "$f" 2>&1)), sha256 ${got[$f]:-unreadable}, fsync'd as ${want[$f]} before ${by[$f]}"
				bad=$((bad + 1))
			}
		done
	fi
	[ $bad = 0 ] || fail "$what: $bad of the $count files fsync'd before this point are not intact"
	umount "$src"
	t4=${EPOCHREALTIME/./}
	out=$(fsck.ext3snap -fn /dev/mapper/rpsnap 2>&1) ||
		fail "$what: fsck.ext3snap -fn after recovery is not clean:
$out"
	dmsetup remove rpsnap || fail "$what: cannot remove the dm snapshot of the replay disk"
	# The kernel log since the start of this point (log_clean's check,
	# with one process instead of five).
	dmesg >/tmp/dmesg.after
	mapfile -t -s "${#kl[@]}" kl </tmp/dmesg.after
	for m in "${kl[@]}"; do
		[[ $m =~ BUG|WARNING|Oops|general\ protection|Call\ Trace|hung\ task|soft\ lockup|RCU\ stall ]] &&
			fail "kernel log after $what:
$(printf '%s\n' "${kl[@]}" | tail -n 60)"
	done
	t5=${EPOCHREALTIME/./}
	DURABLE_CHECKED=$count
	secs s_fsck_y "$t0" "$tf"
	secs s_mount "$tf" "$t1"
	secs s_status "$t1" "$t2"
	secs s_image "$t2" "$t3"
	secs s_files "$t3" "$t4"
	secs s_fsck "$t4" "$t5"
	TIMES="mount $s_mount, status $s_status, image $s_image, files $s_files, fsck $s_fsck s"
	[ -z "$fsck_note" ] || TIMES="$fsck_note) $s_fsck_y, $TIMES"
}

step "reference: the replay up to the mark"
"$LR" --replay "$DISK_log" "$DISK_replay" --to-mark snap >/dev/null ||
	fail "replaying the log up to the mark failed"
check_at "the mark (entry $markidx)" $((markidx + 1))
echo "    the replayed snapshot image equals the live one ($TIMES)"

step "every flush point after the mark"
next=$((markidx + 1))
checked=0
for p in "${points[@]}"; do
	k=$((checked + 1))
	"$LR" --replay "$DISK_log" "$DISK_replay" --from "$next" --limit $((p + 1)) >/dev/null ||
		fail "replaying entries $next..$p failed"
	next=$((p + 1))
	flags=${flags_of[$p]:-?}
	# Both recovery paths, alternately: odd points fsck.ext3snap -y first.
	path=mount
	[ $((k % 2)) = 0 ] || path=fsck
	check_at "entry $p ($flags, flush point $k of $n, recovery by $path)" $((p + 1)) $path
	checked=$k
	printf '    [%ss] %d/%d: entry %s %s: ok (%s fsync'\''d files intact; %s)\n' \
		"$SECONDS" "$k" "$n" "$p" "$flags" "$DURABLE_CHECKED" "$TIMES"
done
echo "    $n flush points after the mark, $checked checked: $(((checked + 1) / 2)) recovered by fsck.ext3snap -y first (it saved blocks for the snapshot at $FSCK_SAVED of them), $((checked / 2)) by mount alone"
[ "$checked" = "$n" ] || fail "checked $checked of the $n flush points after the mark"
test_done snap-logwrites
