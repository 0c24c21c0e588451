#!/usr/bin/env bash
# Bounded fuzzing session of labelscan's extractors (see fuzz/README.md).
#
#   tools/fuzz.sh [TARGET] [SECONDS]
#
# TARGET: extract (default), ooxml, odf, pdf, legacy, rtf, text, archive, or
# "all" to run every target one after the other for SECONDS each.
# SECONDS: libFuzzer's -max_total_time (default 60).
#
# Seeds: the matching files of the shared real-world corpus ($LABELSCAN_SEEDS,
# default /work/shared/corpus/realworld, skipped when absent) and of examples/,
# copied into fuzz/corpus/TARGET/ (git-ignored) at run time. libFuzzer adds the
# inputs it finds there; crashes, timeouts and OOMs go to fuzz/artifacts/TARGET/.
#
# One job, one worker: the machine's cores are shared. Environment:
#   FUZZ_ARGS          extra libFuzzer flags (e.g. "-max_len=1048576")
#   FUZZ_SANITIZER     cargo fuzz --sanitizer (default: address)
#   FUZZ_KEEP_GOING=1  do not stop at the first finding: libFuzzer's fork mode
#                      with one worker, collecting every crash, timeout and OOM
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${1:-extract}
SECONDS_=${2:-60}
SEEDS=${LABELSCAN_SEEDS:-/work/shared/corpus/realworld}
SANITIZER=${FUZZ_SANITIZER:-address}
TARGETS="extract ooxml odf pdf legacy rtf text archive"

# cargo-fuzz needs nightly-only flags (-Zsanitizer, sanitizer coverage); the
# stable toolchain accepts them with RUSTC_BOOTSTRAP=1.
export RUSTC_BOOTSTRAP=1

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "cargo-fuzz not found: cargo install cargo-fuzz" >&2
    exit 2
fi

if [ "$TARGET" = all ]; then
    for t in $TARGETS; do
        "$0" "$t" "$SECONDS_"
    done
    exit 0
fi

case " $TARGETS " in
*" $TARGET "*) ;;
*)
    echo "unknown target '$TARGET' (one of: $TARGETS, all)" >&2
    exit 2
    ;;
esac

# Which file extensions seed which target.
case "$TARGET" in
extract) EXTS="docx docm dotx xlsx xlsm pptx pptm odt ods odp pdf doc xls ppt rtf txt md csv zip" ;;
ooxml) EXTS="docx docm dotx xlsx xlsm pptx pptm" ;;
odf) EXTS="odt ods odp" ;;
pdf) EXTS="pdf" ;;
legacy) EXTS="doc xls ppt msg" ;;
rtf) EXTS="rtf" ;;
text) EXTS="txt md csv tsv log" ;;
archive) EXTS="zip docx odt" ;;
esac

CORPUS="$ROOT/fuzz/corpus/$TARGET"
ARTIFACTS="$ROOT/fuzz/artifacts/$TARGET"
mkdir -p "$CORPUS" "$ARTIFACTS"

# Copy seeds under content-hash names: reruns add nothing twice, and the
# corpus never holds the seeds' own names. Larger files are skipped: they only
# slow every mutation, and the extractors' size paths are tested elsewhere.
copied=0
for dir in "$SEEDS" "$ROOT/examples"; do
    [ -d "$dir" ] || continue
    for ext in $EXTS; do
        while IFS= read -r -d '' f; do
            h=$(sha1sum "$f" | cut -c1-40)
            if [ ! -e "$CORPUS/$h" ]; then
                cp "$f" "$CORPUS/$h"
                copied=$((copied + 1))
            fi
        done < <(find "$dir" -type f -iname "*.$ext" -size -4M -print0)
    done
done
# Stored regression inputs are seeds too.
if [ -d "$ROOT/tests/fuzz_regressions/$TARGET" ]; then
    for f in "$ROOT/tests/fuzz_regressions/$TARGET"/*; do
        [ -f "$f" ] || continue
        cp -n "$f" "$CORPUS/" || true
    done
fi
echo "fuzz.sh: $TARGET: $copied new seed(s), $(find "$CORPUS" -type f | wc -l) input(s) in fuzz/corpus/$TARGET" >&2

KEEP_GOING=
if [ "${FUZZ_KEEP_GOING:-0}" = 1 ]; then
    KEEP_GOING="-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1"
fi

cd "$ROOT/fuzz"
# cargo fuzz run builds the target first (release, debug assertions, ASan).
# One process (no -jobs/-workers: libFuzzer's default is a single in-process
# worker; -fork=1 is one worker too). -max_len is left to libFuzzer: the
# largest seed's size.
# shellcheck disable=SC2086
exec cargo fuzz run --sanitizer "$SANITIZER" "$TARGET" "$CORPUS" -- \
    -max_total_time="$SECONDS_" \
    -rss_limit_mb=2048 \
    -timeout=10 \
    -print_final_stats=1 \
    -artifact_prefix="$ARTIFACTS/" \
    $KEEP_GOING ${FUZZ_ARGS:-}
