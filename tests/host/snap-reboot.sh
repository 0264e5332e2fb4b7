#!/bin/bash
# Two snapshots survive a reboot (issue 4, test 1): one VM takes s1, changes
# the filesystem, takes s2, changes it again and unmounts; a second VM,
# booted on the same disk image, mounts it, changes it more, and binds both
# snapshots: each shows exactly the tree recorded at its instant, and every
# filesystem involved is e2fsck-clean.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$top/build/tmp/reboot
guest=$top/tests/tools/reboot-guest
rm -rf "$work"
mkdir -p "$work"
img=$work/origin.img
truncate -s 512M "$img"

fail() { echo "FAIL: $*" >&2; exit 1; }

echo "--- first boot: take s1 and s2"
"$top/scripts/vm-run" --disk "a:$img" --timeout 400 -- "$guest" take \
	>"$work/take.log" 2>&1 || { cat "$work/take.log"; fail "the first boot failed"; }
for m in M1 M2; do
	sed -n "/^==$m==/,/^==END==/p" "$work/take.log" | tr -d '\r' |
		sed '1d;$d' >"$work/$m"
	[ -s "$work/$m" ] || { cat "$work/take.log"; fail "the first boot printed no $m"; }
done

echo "--- second boot: mount, change, bind both"
"$top/scripts/vm-run" --disk "a:$img" --timeout 400 -- "$guest" check \
	"$work/M1" "$work/M2" >"$work/check.log" 2>&1 || {
	cat "$work/check.log"; fail "the second boot failed"; }
grep -q REBOOT-CHECK-OK "$work/check.log" || {
	cat "$work/check.log"; fail "the second boot did not finish its checks"; }
grep '^    s[12]:\|origin:' "$work/check.log" | tr -d '\r'
rm -rf "$work"
echo "snap-reboot: ok"
