# SPDX-License-Identifier: GPL-2.0
# Helpers for tests that run inside the guest (source this file).
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PATH=$TOP/build/bin:$PATH

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- [${SECONDS}s] $*"; }

# Run a command that must fail; its output is kept in $OUT.
must_fail() {
	if OUT=$("$@" 2>&1); then
		fail "expected failure: $* (output: $OUT)"
	fi
}

# refused WHAT REGEX CMD...: CMD must fail with a message matching REGEX
# (case-insensitive) and no kernel warning.
refused() {
	local what=$1 re=$2
	shift 2
	mark_log
	must_fail "$@"
	grep -qiE -- "$re" <<<"$OUT" ||
		fail "$what: refused, but the message does not name the problem (want /$re/): $OUT"
	echo "    $what: refused: $(head -n1 <<<"$OUT")"
	log_clean "$what"
}

# The kernel log since the last call to mark_log.
mark_log() { LOG_MARK=$(dmesg | wc -l); }
# Without a mark, the whole log since boot.
new_log() { dmesg | tail -n +$((${LOG_MARK:-0} + 1)); }

# The filesystem must be clean: fsck.ext3snap -fn, which checks the
# snapshot's structures and runs e2fsck -fn (plain e2fsck refuses a
# filesystem that has a snapshot).
fsck_clean() {
	local out
	out=$(fsck.ext3snap -fn "$1" 2>&1) || fail "fsck.ext3snap -fn $1 is not clean:
$out"
}

# ---- snapshots ---------------------------------------------------------
TOOLS=$TOP/tests/tools

# No BUG, WARNING, oops or call trace in the kernel log since mark_log.
log_clean() {
	local bad
	bad=$(new_log | grep -E 'BUG|WARNING|Oops|general protection|Call Trace|hung task|soft lockup|RCU stall' || true)
	[ -z "$bad" ] || fail "kernel log after $1:
$(new_log | tail -n 60)"
}

# Does the superblock of DEV carry RO_COMPAT_HAS_SNAPSHOT (0x80)? e2p has
# no name for it ("FEATURE_R7"), so read s_feature_ro_compat directly.
has_snapshot_flag() {
	local v
	v=$(dd if="$1" bs=1 skip=1124 count=4 status=none | od -An -tu4 | tr -d ' ')
	[ $((v & 0x80)) -ne 0 ]
}

# Size in bytes of the filesystem on DEV (block count x block size).
fs_bytes() {
	dumpe2fs -h "$1" 2>/dev/null |
		awk -F: '/^Block count/ {c = $2} /^Block size/ {s = $2} END {print c * s}'
}

# Used 1 KiB blocks of the filesystem mounted at MNT, after a sync.
df_used_kb() {
	sync
	df -P -k "$1" | awk 'NR == 2 {print $3}'
}

# snap_take FILE: take a snapshot into FILE; the tool's output is printed
# and kept in $OUT. Fails unless the tool succeeds and FILE exists.
snap_take() {
	OUT=$(e3snapconfig -c "$1" 2>&1) || fail "e3snapconfig -c $1 failed (exit $?): $OUT
$(dmesg | tail -n 20)"
	printf '%s\n' "$OUT"
	[ -f "$1" ] || fail "e3snapconfig -c $1 succeeded but $1 is not a regular file"
}

# snap_status FILE: 'e3snapconfig -s FILE' (it settles pending copies
# first); the output is printed and kept in $SNAP_STATUS.
snap_status() {
	SNAP_STATUS=$(e3snapconfig -s "$1" 2>&1) || fail "e3snapconfig -s $1 failed: $SNAP_STATUS"
	printf '%s\n' "$SNAP_STATUS" | sed 's/^/    /'
}

# snap_num REGEX: the first number after REGEX (case-insensitive) in
# $SNAP_STATUS, e.g. snap_num 'pending'.
snap_num() {
	local n
	n=$(printf '%s\n' "$SNAP_STATUS" |
		sed -nE "s/.*($1)[^0-9]*([0-9]+).*/\\2/Ip" | head -n1)
	[ -n "$n" ] || fail "no number for '$1' in the output of e3snapconfig -s:
$SNAP_STATUS"
	echo "$n"
}

# A failure that must not hide the checks after it: reported at once,
# counted, and made fatal by test_done (works from subshells too).
soft_fail() {
	echo "FAIL (the test goes on, and fails at the end): $*" >&2
	echo "$*" >>/tmp/soft-failures
}
rm -f /tmp/soft-failures
# test_done NAME: fail if any soft_fail happened, else print "NAME: ok".
test_done() {
	if [ -s /tmp/soft-failures ]; then
		fail "$(wc -l </tmp/soft-failures) check(s) failed above:
$(sed 's/^/  - /' /tmp/soft-failures)"
	fi
	echo "$1: ok"
}

# Blocks (4 KiB) the snapshot file holds, as e3snapconfig -s says, on an
# idle filesystem: -s settles the snapshot first, so nothing may be pending.
snap_file_blocks() {
	local p
	snap_status "$1" >&2
	p=$(snap_num pending)
	[ "$p" = 0 ] || soft_fail "e3snapconfig -s on an idle filesystem reports $p pending blocks: it did not settle"
	snap_num 'file holds'
}

# The state in $SNAP_STATUS (active, broken, inactive).
snap_state() {
	local s
	s=$(printf '%s\n' "$SNAP_STATUS" | sed -nE 's/^ *state: *([a-z]+).*/\1/p' | head -n1)
	[ -n "$s" ] || fail "no state in the output of e3snapconfig -s:
$SNAP_STATUS"
	echo "$s"
}

# Blocks (4 KiB) of FILE as stat sees them (st_blocks is in 512 B units).
stat_blocks() { echo $(($(stat -c %b "$1") / 8)); }

# ss_bind SNAPFILE N: bind the snapshot to /dev/ssdev/N and wait for the node.
ss_bind() {
	local i
	OUT=$(ssdevconfig -c "$1" "/dev/ssdev/$2" 2>&1) || fail "ssdevconfig -c $1 /dev/ssdev/$2 failed: $OUT
$(dmesg | tail -n 20)"
	for i in $(seq 50); do
		[ -b "/dev/ssdev/$2" ] && return 0
		sleep 0.1
	done
	fail "ssdevconfig -c succeeded but /dev/ssdev/$2 is not a block device"
}

ss_unbind() {
	OUT=$(ssdevconfig -d "/dev/ssdev/$1" 2>&1) || fail "ssdevconfig -d /dev/ssdev/$1 failed: $OUT"
}

# sha256 of a whole device, read with O_DIRECT so that no cached page can
# stand in for the device's own answer.
dev_sha() {
	local s
	s=$(set -o pipefail; dd if="$1" bs=1M iflag=direct status=none | sha256sum) ||
		fail "reading $1 failed"
	echo "${s%% *}"
}

# manifest_same A B WHAT [soft]: the two manifests must be identical
# (with soft, a difference is a soft_fail).
manifest_same() {
	local out
	if ! out=$("$TOOLS/manifest" compare "$1" "$2"); then
		[ "${4:-}" = soft ] || fail "$3: manifests differ:
$out"
		soft_fail "$3: manifests differ:
$out"
		return 0
	fi
	echo "    $3: identical ($(($(wc -l <"$1") - 1)) entries)"
}

# Record a manifest, failing on read errors.
manifest_rec() {
	"$TOOLS/manifest" record "$@" || fail "manifest record $* failed"
}

# explain_chunks IMAGE LIST [CHUNK]: for the first chunks listed in LIST
# (indexes of CHUNK-byte chunks, default 64 KiB, e.g. from devhash --list),
# which files of the filesystem in IMAGE own their blocks (debugfs icheck,
# ncheck), to say what a difference is about.
explain_chunks() {
	local img=$1 list=$2 per=$((${3:-65536} / 4096)) blocks=() c b
	for c in $(head -n 8 "$list"); do
		for b in $(seq $((c * per)) $((c * per + per - 1))); do
			blocks+=("$b")
		done
	done
	[ ${#blocks[@]} -gt 0 ] || return 0
	debugfs -R "icheck ${blocks[*]}" "$img" 2>/dev/null | awk '
		NR > 1 { if ($2 ~ /^[0-9]+$/) { own[$2] = own[$2] " " $1; n[$2]++ } else other++ }
		END {
			for (i in own) printf "    inode %s owns %d of these blocks:%s\n", i, n[i], substr(own[i], 1, 120)
			if (other) printf "    %d blocks owned by no inode (fs metadata or free at the snapshot)\n", other
		}'
	local inodes
	inodes=$(debugfs -R "icheck ${blocks[*]}" "$img" 2>/dev/null | awk 'NR > 1 && $2 ~ /^[0-9]+$/ {print $2}' | sort -un | tr '\n' ' ')
	[ -z "$inodes" ] || debugfs -R "ncheck $inodes" "$img" 2>/dev/null | sed 's/^/    /'
}

# one_instant FILE: FILE was rewritten pass after pass, pass p filling it
# with byte p, while a snapshot was taken; FILE as the snapshot shows it
# must be one instant of that: a prefix of pass p, the rest pass p - 1.
# Prints where the instant fell; fails (non-zero) otherwise.
one_instant() {
	python3 - "$1" <<'PY'
import os, sys
vals = []
with open(sys.argv[1], "rb") as f:
    while b := f.read(4096):
        if b.count(b[:1]) != len(b):
            sys.exit(f"block {len(vals)} mixes bytes")
        vals.append(b[0])
p = vals[0]
k = next((i for i, v in enumerate(vals) if v != p), len(vals))
if any(v != p - 1 for v in vals[k:]):
    sys.exit(f"pass {p} up to block {k}, then not all pass {p - 1}")
print(f"    {os.path.basename(sys.argv[1])}: pass {p} up to block {k}, pass {p - 1} after it")
PY
}

# rewrite_passes FILE BS COUNT MAX: in the background, rewrite FILE with
# O_DIRECT (COUNT blocks of BS) pass after pass, pass p filling it with
# byte p, until MAX passes are done or /tmp/stop exists; /tmp/pass holds
# the pass under way. Returns once the first has begun, its pid in $WRITER.
rewrite_passes() {
	local file=$1 bs=$2 count=$3 max=$4
	rm -f /tmp/pass /tmp/stop
	(set +o pipefail	# tr ends on SIGPIPE
	for p in $(seq 1 "$max"); do
		[ -e /tmp/stop ] && break
		echo "$p" >/tmp/pass
		tr '\0' "\\$(printf %03o "$p")" </dev/zero |
			dd of="$file" bs="$bs" count="$count" oflag=direct iflag=fullblock \
				conv=notrunc status=none || exit 1
	done) &
	WRITER=$!
	while [ ! -e /tmp/pass ]; do sleep 0.1; done
}

# image_done IMAGE_MNT SNAPFILE ORIGIN_MNT DEV: the end of a test that
# bound its snapshot to /dev/ssdev/0 and mounted the image: unmount and
# check the image, unbind, delete the snapshot, and check the origin.
image_done() {
	umount "$1"
	fsck_clean /dev/ssdev/0
	ss_unbind 0
	step "delete it; the origin is clean"
	e3snapconfig -d "$2"
	umount "$3"
	fsck_clean "$4"
}
