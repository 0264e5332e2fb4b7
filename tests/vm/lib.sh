# SPDX-License-Identifier: GPL-2.0
# Helpers for tests that run inside the guest (source this file).
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PATH=$TOP/build/bin:$PATH

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }

# Run a command that must fail; its output is kept in $OUT.
must_fail() {
	if OUT=$("$@" 2>&1); then
		fail "expected failure: $* (output: $OUT)"
	fi
}

# The kernel log since the last call to mark_log.
mark_log() { LOG_MARK=$(dmesg | wc -l); }
new_log() { dmesg | tail -n +$((LOG_MARK + 1)); }

# e2fsck -fn must report a clean filesystem.
fsck_clean() {
	local out
	out=$(e2fsck -fn "$1" 2>&1) || fail "e2fsck -fn $1 is not clean:
$out"
}
