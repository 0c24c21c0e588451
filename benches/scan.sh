#!/usr/bin/env bash
# labelscan end-to-end speed benchmark against the "floor" (walk + read +
# inflate, nothing else). See benches/README.md.
#
# usage: benches/scan.sh            (from anywhere inside the repository)
# env:   FILES   corpus size for make_corpus.py            (default 20000)
#        RUNS    timed runs of each program                (default 5)
#        JOBS    --jobs for the floor/labelscan comparison (default: nproc)
#        CORPUS  use this tree instead of generating one   (default /tmp/labelscan-bench/corpus)
#        SCALING 0 to skip the --jobs 1 vs --jobs 2 runs   (default 1)
set -euo pipefail

FILES=${FILES:-20000}
RUNS=${RUNS:-5}
JOBS=${JOBS:-$(nproc)}
SCALING=${SCALING:-1}
BENCH_DIR=/tmp/labelscan-bench
OUT=$BENCH_DIR/out

die() { echo "scan.sh: error: $*" >&2; exit 1; }
say() { echo "scan.sh: $*" >&2; }

for v in FILES RUNS JOBS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
MAKE_CORPUS=$ROOT/../shared/bench/make_corpus.py

command -v cargo >/dev/null || die "cargo not found"
command -v python3 >/dev/null || die "python3 not found"
if [[ ! -x /usr/bin/time ]]; then
    say "/usr/bin/time missing; installing the 'time' package"
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        apt-get install -y -qq time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; } \
            || die "could not install 'time' (apt-get install -y time)"
    else
        die "/usr/bin/time is required (apt-get install -y time)"
    fi
fi

# ---- build ---------------------------------------------------------------
say "building release binaries (cargo build --release; --example floor)"
cargo build --release --quiet || die "cargo build --release failed"
cargo build --release --quiet --example floor || die "cargo build --release --example floor failed"
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps 2>/dev/null \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
LABELSCAN=$TARGET_DIR/release/labelscan
FLOOR=$TARGET_DIR/release/examples/floor
[[ -x $LABELSCAN ]] || die "missing $LABELSCAN after build"
[[ -x $FLOOR ]] || die "missing $FLOOR after build"

# ---- corpus --------------------------------------------------------------
mkdir -p "$BENCH_DIR"
if [[ -n ${CORPUS:-} ]]; then
    [[ -d $CORPUS ]] || die "CORPUS=$CORPUS is not a directory"
else
    CORPUS=$BENCH_DIR/corpus
    STAMP=$BENCH_DIR/corpus.files   # outside the corpus, so it is not scanned
    if [[ -d $CORPUS && $(cat "$STAMP" 2>/dev/null || true) != "$FILES" ]]; then
        say "existing $CORPUS was not made with --files $FILES; regenerating it"
        rm -rf -- "$CORPUS" "$STAMP"
    fi
    if [[ ! -d $CORPUS ]]; then
        [[ -f $MAKE_CORPUS ]] || die "corpus generator not found at $MAKE_CORPUS"
        say "generating $FILES files into $CORPUS (make_corpus.py, seed 1)"
        python3 "$MAKE_CORPUS" "$CORPUS" --files "$FILES" >&2 || die "make_corpus.py failed"
        echo "$FILES" >"$STAMP"
    fi
fi
NFILES=$(find "$CORPUS" -type f | wc -l)
NBYTES=$(find "$CORPUS" -type f -printf '%s\n' | awk '{s+=$1} END {printf "%d", s}')
(( NFILES > 0 )) || die "corpus $CORPUS holds no files"
case "$(realpath -m "$OUT")/" in "$(realpath "$CORPUS")"/*) die "report folder $OUT lies inside the corpus" ;; esac

# ---- runners -------------------------------------------------------------
TIMEFILE=$(mktemp)
LOGFILE=$(mktemp)
trap 'rm -f "$TIMEFILE" "$LOGFILE"' EXIT

# run NAME CMD... : runs CMD under /usr/bin/time, prints "seconds rss_kb".
# labelscan exits 1 when a verdict is listed in --fail-on: that is a finished scan.
run() {
    local name=$1 rc=0
    shift
    /usr/bin/time -f '%e %M' -o "$TIMEFILE" "$@" >"$LOGFILE" 2>&1 || rc=$?
    if (( rc != 0 && !(rc == 1 && name == labelscan) )); then
        echo "scan.sh: error: $name exited with $rc: $*" >&2
        tail -n 20 "$LOGFILE" >&2
        exit 1
    fi
    tail -n 1 "$TIMEFILE"
}
run_floor() { run floor "$FLOOR" "$CORPUS" --jobs "$@"; }
# --no-state: every timed run is a full scan (with the default state store
# the runs after the first would be rescans; benches/rescan.sh times those).
run_scan() { run labelscan "$LABELSCAN" scan "$CORPUS" --out "$OUT" --quiet --no-state --jobs "$1"; }

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
maxof() { printf '%s\n' "$@" | sort -g | tail -n 1; }
calc() { awk "BEGIN {printf \"%.${2:-2}f\", $1}"; }
# ratio A B: A/B, both clamped to >= 0.01 s (the resolution of /usr/bin/time).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a < 0.01) a = 0.01; if (b < 0.01) b = 0.01; printf "%.2f", a / b}'; }

# ---- warm-up -------------------------------------------------------------
say "corpus: $NFILES files, $(calc "$NBYTES/1e6" 1) MB in $CORPUS"
say "warm-up: one run of each (the page cache stays warm; no caches are dropped)"
"$FLOOR" "$CORPUS" --jobs "$JOBS" >&2 || die "floor failed on $CORPUS"
r=$(run_scan "$JOBS")
say "labelscan warm-up: $r (seconds, peak RSS KB)"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- floors vs labelscan, alternating ------------------------------------
# The floor inflates as the standard crates do (zip + flate2/zlib-rs); the
# strict floor decodes with libdeflate as labelscan itself mostly does.
FT=(); ST=(); LT=(); LR=()
for ((i = 1; i <= RUNS; i++)); do
    r=$(run_floor "$JOBS"); FT+=("${r% *}")
    r=$(run_floor "$JOBS" --libdeflate); ST+=("${r% *}")
    r=$(run_scan "$JOBS"); LT+=("${r% *}"); LR+=("${r#* }")
    say "run $i/$RUNS: floor ${FT[-1]} s, strict floor ${ST[-1]} s, labelscan ${LT[-1]} s (peak RSS $(calc "${LR[-1]}/1024" 1) MB)"
done
FM=$(median "${FT[@]}")
SM=$(median "${ST[@]}")
LM=$(median "${LT[@]}")
# /usr/bin/time has 10 ms resolution; keep the ratios finite on tiny corpora.
FMD=$(calc "($FM > 0.01 ? $FM : 0.01)" 3)
SMD=$(calc "($SM > 0.01 ? $SM : 0.01)" 3)
LMD=$(calc "($LM > 0.01 ? $LM : 0.01)" 3)

# ---- --jobs 1 vs --jobs 2 ------------------------------------------------
if [[ $SCALING != 0 ]]; then
    J1=(); J2=(); F1=(); F2=()
    for ((i = 1; i <= RUNS; i++)); do
        r=$(run_scan 1); J1+=("${r% *}")
        r=$(run_scan 2); J2+=("${r% *}")
        r=$(run_floor 1); F1+=("${r% *}")
        r=$(run_floor 2); F2+=("${r% *}")
        say "scaling run $i/$RUNS: labelscan jobs1 ${J1[-1]} s, jobs2 ${J2[-1]} s; floor jobs1 ${F1[-1]} s, jobs2 ${F2[-1]} s"
    done
    J1M=$(median "${J1[@]}"); J2M=$(median "${J2[@]}")
    F1M=$(median "${F1[@]}"); F2M=$(median "${F2[@]}")
fi
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report ----------------------------------------------------------------
cat <<EOF

labelscan benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')
corpus        $CORPUS: $NFILES files, $(calc "$NBYTES/1e6" 1) MB
machine       $(nproc) cores; load average $LOAD_START at start, $LOAD_END at end
cache         page cache warm (one warm-up run of each program; nothing dropped)
runs          $RUNS timed runs each, alternating floor / strict floor / labelscan, --jobs $JOBS

floor median        $FM s   ($(calc "$NFILES/$FMD" 0) files/s, $(calc "$NBYTES/1e6/$FMD" 1) MB/s)   zip crate + flate2 (zlib-rs)
strict floor median $SM s   ($(calc "$NFILES/$SMD" 0) files/s, $(calc "$NBYTES/1e6/$SMD" 1) MB/s)   libdeflate, as labelscan
labelscan median    $LM s   ($(calc "$NFILES/$LMD" 0) files/s, $(calc "$NBYTES/1e6/$LMD" 1) MB/s)
ratio               $(ratio "$LM" "$FM")x   (target: <= 3x)
ratio, strict       $(ratio "$LM" "$SM")x   (labelscan's overhead beyond its own inflater)
labelscan peak RSS  $(calc "$(maxof "${LR[@]}")/1024" 1) MB (max over runs)
EOF
if [[ $SCALING != 0 ]]; then
    cat <<EOF

labelscan --jobs 1  $J1M s   --jobs 2  $J2M s   speed-up $(ratio "$J1M" "$J2M")x
floor     --jobs 1  $F1M s   --jobs 2  $F2M s   speed-up $(ratio "$F1M" "$F2M")x
EOF
fi
echo
echo "all times: floor ${FT[*]} | strict floor ${ST[*]} | labelscan ${LT[*]}"
