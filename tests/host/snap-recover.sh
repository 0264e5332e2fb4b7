#!/bin/bash
# Power cuts with before-image records pending, then bind and read at once
# (issue 21). Each cut leaves moves (files deleted that the newest snapshot
# needs) committed to its before-image journal but not yet linked into its
# file; the next boot recovers (by mount, or by fsck.ext3snap -y first on
# odd cuts), binds every snapshot and reads it at once while the flusher
# links the replayed moves into groups nobody has loaded since the mount.
# RECOVER_FSCK=1 recovers odd cuts with fsck.ext3snap -y first (make
# check-long); each image is then also read offline (imagedump) before the
# kernel sees the disk, so that damage done by fsck is told from damage
# done by the mount.
# Each image must equal, block for block, what it was when taken, and be
# e2fsck-clean; a hang fails through the runner's hung-task check.
#
# RECOVER_CUTS (default 1: the first recovery is where the flusher hung)
# sets the number of cuts; make check-long runs 20.
# See tests/tools/recover-guest for the guest half.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cuts=${RECOVER_CUTS:-1}
fsck=${RECOVER_FSCK:+fsck}
work=$top/build/tmp/recover
guest=$top/tests/tools/recover-guest
rm -rf "$work"
mkdir -p "$work"
img=$work/origin.img
state=$work/state.img
truncate -s 512M "$img"
truncate -s 16M "$state"

fail() { echo "FAIL: $*" >&2; exit 1; }
vm() { "$top/scripts/vm-run" --disk "a:$img" --disk "b:$state" --timeout 600 -- "$guest" "$@"; }

vm setup >"$work/setup.log" 2>&1 || { cat "$work/setup.log"; fail "setup failed"; }
replays=0
for n in $(seq 0 "$cuts"); do
	log=$work/cut$n.log
	if [ "$n" = "$cuts" ]; then
		vm final "$n" $fsck >"$log" 2>&1 || { cat "$log"; fail "the last recovery failed"; }
	else
		rc=0
		vm cut "$n" $fsck >"$log" 2>&1 || rc=$?
		# The guest powers itself off with sysrq b: the runner sees it die.
		if [ "$rc" != 125 ] || ! grep -q '^==CUT==' "$log"; then
			cat "$log"
			fail "cut $n: the guest failed before its power cut (exit $rc)"
		fi
	fi
	r=$(tr -d '\r' <"$log" | sed -n 's/^REPLAYED //p')
	[ "$n" = 0 ] || printf 'cut %2d recovered (%s): %s records replayed, images unchanged\n' \
		$((n - 1)) "$([ $((n % 2)) = 1 ] && [ -n "$fsck" ] && echo "fsck.ext3snap -y, mount" || echo mount)" "${r:-?}"
	[ "${r:-0}" -gt 0 ] && replays=$((replays + 1))
done
# A run whose cuts found nothing to replay tested nothing.
[ "$replays" -gt 0 ] || fail "no recovery replayed a before-image record: the cuts came too late"
echo "snap-recover: ok ($cuts cuts, $replays with records replayed)"
