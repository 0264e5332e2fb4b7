#!/bin/bash
# The benchmark (make bench, issue 6) must not rot: run it once with
# BENCH_SMOKE sizes (tiny files, one run, a subset of the configurations)
# in one VM and check that the report, the plot and the raw fio JSON come
# out with every line the report promises. Timings are never asserted:
# a smoke run measures nothing.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }

out=$(mktemp -d "$top/build/tmp/bench-smoke.XXXXXX" 2>/dev/null || { mkdir -p "$top/build/tmp" && mktemp -d "$top/build/tmp/bench-smoke.XXXXXX"; })
trap 'rm -rf "$out"' EXIT
"$top/bench/run" --smoke --out "$out" || fail "bench/run --smoke failed"

md=$(ls "$out"/smoke-*.md 2>/dev/null | head -n1)
[ -s "$md" ] || fail "no report written in $out"
png=${md%.md}.png
raw=${md%.md}
[ -s "$png" ] && [ "$(head -c 4 "$png" | tail -c 3)" = PNG ] || fail "no PNG plot at $png"
ls "$raw"/*.json >/dev/null 2>&1 || fail "no fio JSON in $raw"
for j in "$raw"/*.json; do
	jq -e '.jobs | length > 0' "$j" >/dev/null || fail "$j is not fio JSON output"
done
grep -q 'SMOKE RUN' "$md" || fail "the smoke report does not say it is a smoke run"

# Every target row is there with a verdict, and the counts add up.
rows=$(grep -cE '^\| .* \| \*\*(PASS|FAIL)\*\* \|$' "$md" || true)
[ "$rows" = 27 ] || fail "$rows target rows with a verdict in the report, expected 27:
$(cat "$md")"
for want in '/ LVM snapshot' '8 snapshots / 1 snapshot' 'take latency, idle' \
	'freeze+thaw, under load' 'ssdev read / origin read' 'space grown by workload 1 / bytes overwritten' \
	'4K random overwrite, O_DIRECT, 1st pass (IOPS)' 'disk bytes / user byte'; do
	grep -qF "$want" "$md" || fail "report line missing: '$want'"
done
# The configurations the smoke run measures must have figures, not "—".
for fig in '1. 4K random overwrite, O_DIRECT, 1st pass' '7. snapshot space after workload 1' \
	'6. O_DIRECT read of /dev/ssdev/0'; do
	line=$(grep -F "| $fig" "$md" | head -n1)
	[ -n "$line" ] || fail "no figure row '$fig'"
	echo "$line" | awk -F'|' '{ for (i = 3; i < NF; i++) if ($i ~ /[0-9]/) ok = 1 } END { exit !ok }' ||
		fail "figure row '$fig' has no number: $line"
done
# Until issue 5 is done the 8-snapshot configuration is refused: then the
# report must say so rather than show figures from something else.
if grep -q 'refused' "$raw/notes.txt" 2>/dev/null; then
	grep -q 'not supported yet (issue 5)' "$md" || fail "the 8-snapshot configuration is not reported as unsupported"
fi
grep -qE '^\*\*[0-9]+ PASS, [0-9]+ FAIL\.\*\*$' "$md" || fail "no PASS/FAIL count in the report"
echo "bench-smoke: ok ($(basename "$md"), $rows target rows)"
