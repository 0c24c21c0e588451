#!/usr/bin/env bash
# labelscan incremental rescan benchmark (SPEC "Scheduled scans"): a first
# scan into a fresh state store, an unchanged rescan, and a rescan with 1%
# of the files changed, each against the floor (walk + read + inflate) in
# the same run. See benches/README.md and README "Nightly scans".
#
# usage: benches/rescan.sh           (from anywhere inside the repository)
# env:   CORPUS  the tree to scan   (default /tmp/labelscan-bench/corpus20k;
#                generated with make_corpus.py --files FILES if missing).
#                It is copied (times kept) and only the copy is changed.
#        FILES   corpus size when generating          (default 20000)
#        RUNS    timed rounds                         (default 3)
#        JOBS    --jobs for floor and labelscan       (default: nproc)
# Targets: unchanged rescan <= 0.35x floor, 1% changed <= 0.5x floor,
# store < 1 KB per file.
set -euo pipefail

FILES=${FILES:-20000}
RUNS=${RUNS:-3}
JOBS=${JOBS:-$(nproc)}
BENCH_DIR=/tmp/labelscan-bench
CORPUS=${CORPUS:-$BENCH_DIR/corpus20k}
WORK=$BENCH_DIR/rescan
OUT=$WORK/out
TREE=$WORK/tree

die() { echo "rescan.sh: error: $*" >&2; exit 1; }
say() { echo "rescan.sh: $*" >&2; }

for v in FILES RUNS JOBS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is required (apt-get install -y time)"

say "building release binaries"
cargo build --release --quiet || die "cargo build --release failed"
cargo build --release --quiet --example floor || die "cargo build --example floor failed"
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps 2>/dev/null \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
LABELSCAN=$TARGET_DIR/release/labelscan
FLOOR=$TARGET_DIR/release/examples/floor

if [[ ! -d $CORPUS ]]; then
    say "generating $FILES files into $CORPUS"
    python3 "$ROOT/../shared/bench/make_corpus.py" "$CORPUS" --files "$FILES" >&2 || die "make_corpus.py failed"
fi
rm -rf -- "$WORK"
mkdir -p "$WORK"
# A copy, with times kept: the 1% change touches only the copy.
cp -a -- "$CORPUS" "$TREE"
NFILES=$(find "$TREE" -type f | wc -l)
(( NFILES > 0 )) || die "corpus $CORPUS holds no files"
CHANGE=$(( NFILES / 100 > 0 ? NFILES / 100 : 1 ))

TIMEFILE=$(mktemp)
LOGFILE=$(mktemp)
trap 'rm -f "$TIMEFILE" "$LOGFILE"' EXIT
# run NAME CMD...: "seconds peak_rss_kb"; labelscan's exit 1 (--fail-on) is a finished scan.
run() {
    local name=$1 rc=0
    shift
    /usr/bin/time -f '%e %M' -o "$TIMEFILE" "$@" >"$LOGFILE" 2>&1 || rc=$?
    if (( rc != 0 && !(rc == 1 && name == labelscan) )); then
        echo "rescan.sh: error: $name exited with $rc: $*" >&2
        tail -n 20 "$LOGFILE" >&2
        exit 1
    fi
    tail -n 1 "$TIMEFILE"
}
scan() { run labelscan "$LABELSCAN" scan "$TREE" --out "$OUT" --quiet --jobs "$JOBS"; }
summary_field() { python3 -c "import json,sys; print(json.load(open('$OUT/summary.json'))['$1'])"; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
maxof() { printf '%s\n' "$@" | sort -g | tail -n 1; }
calc() { awk "BEGIN {printf \"%.${2:-2}f\", $1}"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a < 0.01) a = 0.01; if (b < 0.01) b = 0.01; printf "%.2f", a / b}'; }

say "corpus copy: $NFILES files in $TREE; $CHANGE files change per round"
"$FLOOR" "$TREE" --jobs "$JOBS" >/dev/null 2>&1 || die "floor failed"   # warm the page cache

FT=(); FIRST=(); SAME=(); CHANGED=(); RSS=(); STORE=()
for ((i = 1; i <= RUNS; i++)); do
    r=$(run floor "$FLOOR" "$TREE" --jobs "$JOBS"); FT+=("${r% *}")
    rm -rf -- "$OUT"
    r=$(scan); FIRST+=("${r% *}"); RSS+=("${r#* }")
    STORE+=("$(stat -c %s "$OUT/labelscan.sqlite")")
    r=$(scan); SAME+=("${r% *}"); RSS+=("${r#* }")
    [[ $(summary_field read) == 0 ]] || die "the unchanged rescan read $(summary_field read) files"
    # 1% of the files get a new modification time: read again, judged again.
    find "$TREE" -type f | shuf -n "$CHANGE" --random-source=<(yes "$i") \
        | xargs -d '\n' touch -m -d "@$(( $(date +%s) - i ))"
    r=$(scan); CHANGED+=("${r% *}"); RSS+=("${r#* }")
    say "round $i/$RUNS: floor ${FT[-1]} s; first ${FIRST[-1]} s; unchanged ${SAME[-1]} s; 1% changed ${CHANGED[-1]} s (read $(summary_field read))"
done
FM=$(median "${FT[@]}")
STORE_BYTES=$(maxof "${STORE[@]}")
cat <<EOF

labelscan rescan benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')
corpus          $CORPUS (copied): $NFILES files; $(nproc) cores, --jobs $JOBS, page cache warm
floor median          $FM s
first scan median     $(median "${FIRST[@]}") s   $(ratio "$(median "${FIRST[@]}")" "$FM")x floor
unchanged rescan      $(median "${SAME[@]}") s   $(ratio "$(median "${SAME[@]}")" "$FM")x floor   (target <= 0.35x)
1% changed rescan     $(median "${CHANGED[@]}") s   $(ratio "$(median "${CHANGED[@]}")" "$FM")x floor   (target <= 0.5x)
store after a first scan  $(calc "$STORE_BYTES/1024" 0) KB, $(calc "$STORE_BYTES/$NFILES" 0) bytes per file (target < 1024)
peak RSS            $(calc "$(maxof "${RSS[@]}")/1024" 1) MB (max over all scans)
all times: floor ${FT[*]} | first ${FIRST[*]} | unchanged ${SAME[*]} | 1% changed ${CHANGED[*]}
EOF
