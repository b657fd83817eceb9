#!/usr/bin/env bash
# check-prometheus.sh - `make check-prometheus`: contrib/prometheus and contrib/grafana against
# the metrics pgpitr really writes.
#  1. promtool check rules and promtool test rules (the alert rules and their unit tests);
#  2. the output of a real `pgpitr metrics` run (on an empty repository: every family's HELP
#     and TYPE is written on every run) passes promtool check metrics;
#  3. every pgpitr_* name the rules, their tests and the dashboard use is a family of that
#     output: a metric renamed in the code without the rules fails here; every metric an alert
#     rule uses is on the dashboard; and every family of the output has its row in
#     docs/metrics.md.
# Prints "check-prometheus: N passed, M failed"; exits non-zero when anything failed.
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${PGPITR_BIN:-$top/build/pgpitr}
rules=$top/contrib/prometheus/pgpitr-rules.yml
tests=$top/contrib/prometheus/pgpitr-rules.test.yml
dash=$top/contrib/grafana/pgpitr-dashboard.json
passed=0 failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAILED: $*"; failed=$((failed + 1)); }

command -v promtool >/dev/null || { echo "check-prometheus: promtool missing (contrib/install-deps.sh installs prometheus)"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/pgpitr-check-prom.XXXXXX")
trap 'rm -rf "$work"' EXIT

promtool check rules "$rules" >"$work/out" 2>&1 && ok "promtool check rules" || { cat "$work/out"; bad "promtool check rules"; }
(cd "$(dirname "$tests")" && promtool test rules "$(basename "$tests")") >"$work/out" 2>&1 &&
    ok "promtool test rules" || { cat "$work/out"; bad "promtool test rules"; }

mkdir "$work/repo"
if "$bin" --repo "$work/repo" metrics >"$work/metrics.prom" 2>"$work/err"; then
    ok "pgpitr metrics on an empty repository"
else
    cat "$work/err"; bad "pgpitr metrics on an empty repository"
fi
# promtool check metrics prints lint problems and exits non-zero on a format error
if promtool check metrics <"$work/metrics.prom" >"$work/out" 2>&1 && [ ! -s "$work/out" ]; then
    ok "promtool check metrics"
else
    cat "$work/out"; bad "promtool check metrics"
fi
awk '$1 == "#" && $2 == "TYPE" {print $3}' "$work/metrics.prom" | sort -u >"$work/names"
[ "$(wc -l <"$work/names")" -ge 20 ] && ok "$(wc -l <"$work/names") metric families" ||
    bad "too few metric families in the output"

jq empty "$dash" 2>"$work/out" && ok "dashboard is JSON" || { cat "$work/out"; bad "dashboard is JSON"; }
for f in "$rules" "$tests" "$dash"; do
    grep -v '^[[:space:]]*#' "$f" | grep -oE 'pgpitr_[a-z0-9_]+' | sort -u >"$work/used"
    unknown=$(comm -23 "$work/used" "$work/names")
    n=$(wc -l <"$work/used")
    if [ "$n" -gt 0 ] && [ -z "$unknown" ]; then
        ok "$(basename "$f"): its $n metric names are all in pgpitr metrics' output"
    else
        bad "$(basename "$f") uses metrics pgpitr metrics does not write: ${unknown:-none used}"
    fi
done
# an alert's metric is on the dashboard: whoever is paged can see what fired and its history
grep -v '^[[:space:]]*#' "$rules" | grep -oE 'pgpitr_[a-z0-9_]+' | sort -u >"$work/alerted"
grep -oE 'pgpitr_[a-z0-9_]+' "$dash" | sort -u >"$work/shown"
unshown=$(comm -23 "$work/alerted" "$work/shown")
[ -z "$unshown" ] && ok "every metric an alert rule uses has a dashboard panel" ||
    bad "metrics the alert rules use but the dashboard does not show: $(tr "\n" " " <<<"$unshown")"
# and every metric written is documented (a row of docs/metrics.md's table)
undocumented=$(while read -r n; do grep -q "^| \`$n\` |" "$top/docs/metrics.md" || echo "$n"; done <"$work/names")
[ -z "$undocumented" ] && ok "every metric has a row in docs/metrics.md" ||
    bad "metrics missing from docs/metrics.md: $undocumented"
echo "check-prometheus: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
