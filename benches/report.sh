#!/usr/bin/env bash
# labelscan auditor report benchmark (issue 19): a scan of 100,000 small
# documents, then report.html opened in headless Chromium: its size, first
# contentful paint, and the time to filter, search, sort and scroll.
# Runs the ignored test a_report_of_100000_documents_stays_usable (which
# checks structure only) and checks the time target here: filtering by a
# verdict answers in under a second.
#
# usage: benches/report.sh   (needs /usr/bin/chromium: apt-get install chromium)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[[ -x /usr/bin/chromium ]] || { echo "report.sh: /usr/bin/chromium is required" >&2; exit 1; }
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
cargo test --release --test html_report -- --ignored --nocapture \
    a_report_of_100000_documents_stays_usable 2>&1 | tee "$LOG" >&2
FIGURES=$(grep -m1 '^report-figures ' "$LOG" | cut -d' ' -f2-)
[[ -n $FIGURES ]] || { echo "report.sh: the test printed no figures" >&2; exit 1; }
grep -m1 '^100,000 documents:' "$LOG" || true
python3 - "$FIGURES" <<'PY'
import json, sys
f = json.loads(sys.argv[1])
print(f"first contentful paint {f['fcp']:.0f} ms; filter by verdict {f['byVerdict']:.0f} ms "
      f"({f['shown']} rows); search {f['bySearch']:.0f} ms; sort {f['sort']:.0f} ms; "
      f"scroll {f['scroll']:.0f} ms; rows drawn {f['drawn']}")
ok = f["byVerdict"] < 1000 and f["bySearch"] < 1000
print("target (filtering under 1 s):", "met" if ok else "NOT met")
sys.exit(0 if ok else 1)
PY
