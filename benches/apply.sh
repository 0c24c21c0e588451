#!/usr/bin/env bash
# labelscan apply speed on the 20,000-file benchmark corpus, against the
# scan it applies from. See benches/README.md ("labelscan apply").
#
# usage: benches/apply.sh            (from anywhere inside the repository)
# env:   CORPUS  the tree to scan and label    (default /tmp/labelscan-bench/corpus20k,
#                generated with make_corpus.py --files 20000 when missing)
#        RUNS    timed runs of scan and apply, alternated (default 3)
#        MARK    1 to apply with --mark --release-to "Precision Systems" too (default 1)
set -euo pipefail

RUNS=${RUNS:-3}
MARK=${MARK:-1}
BENCH_DIR=/tmp/labelscan-bench
CORPUS=${CORPUS:-$BENCH_DIR/corpus20k}
WORK=$BENCH_DIR/apply

die() { echo "apply.sh: error: $*" >&2; exit 1; }
say() { echo "apply.sh: $*" >&2; }

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, got '$RUNS'"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
POLICY=$ROOT/policies/examples/apex-purview.toml
MAKE_CORPUS=$ROOT/../shared/bench/make_corpus.py

command -v cargo >/dev/null || die "cargo not found"
command -v python3 >/dev/null || die "python3 not found"

say "building the release binary (cargo build --release)"
cargo build --release --quiet || die "cargo build --release failed"
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps 2>/dev/null \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
LABELSCAN=$TARGET_DIR/release/labelscan
[[ -x $LABELSCAN ]] || die "missing $LABELSCAN after build"

if [[ ! -d $CORPUS ]]; then
    say "generating $CORPUS (20,000 files)"
    python3 "$MAKE_CORPUS" "$CORPUS" --files 20000 >/dev/null || die "make_corpus.py failed"
fi
FILES=$(find "$CORPUS" -type f | wc -l)
say "corpus $CORPUS: $FILES files; load average $(cut -d' ' -f1-3 /proc/loadavg)"

rm -rf "$WORK"
mkdir -p "$WORK"

# Seconds a command takes, wall clock.
seconds() {
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null
    end=$(date +%s.%N)
    python3 -c "print(f'{$end - $start:.2f}')"
}

scan() {
    rm -rf "$WORK/run"
    "$LABELSCAN" scan "$CORPUS" --policy "$POLICY" --as-of 2026-11-23 --out "$WORK/run" \
        --no-state --quiet || [[ $? -eq 1 ]]
}

apply() {
    rm -rf "$WORK/dest"
    "$LABELSCAN" apply "$WORK/run" --to "$WORK/dest" -q "$@"
}

# Rows of the last apply.csv with the status given.
rows_with() {
    python3 - "$WORK/dest/apply.csv" "$1" <<'EOF'
import csv, sys
with open(sys.argv[1], encoding="utf-8-sig") as f:
    print(sum(1 for r in csv.DictReader(f) if r["status"] == sys.argv[2]))
EOF
}

rate() { python3 -c "print(f'{$1 / $2:,.0f}')"; }

variants=("plain")
[[ $MARK == 1 ]] && variants+=("mark")
printf '%-6s %-4s %9s %12s %9s %14s %8s\n' variant run scan_s scan_files/s apply_s applied_files/s "apply/scan"
for variant in "${variants[@]}"; do
    args=()
    [[ $variant == mark ]] && args=(--mark --release-to "Precision Systems")
    for run in $(seq 1 "$RUNS"); do
        scan_s=$(seconds scan)
        apply_s=$(seconds apply "${args[@]}")
        applied=$(rows_with applied)
        printf '%-6s %-4s %9s %12s %9s %14s %8s\n' "$variant" "$run" "$scan_s" \
            "$(rate "$FILES" "$scan_s")" "$apply_s" "$(rate "$applied" "$apply_s")" \
            "$(python3 -c "print(f'{$apply_s / $scan_s:.1f}x')")"
    done
    say "$variant: $(rows_with applied) applied, $(rows_with skipped) skipped, $(rows_with needs_review) need a person, $(rows_with failed) failed"
done
say "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
