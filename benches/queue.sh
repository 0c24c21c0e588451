#!/usr/bin/env bash
# The cost of the PostgreSQL work queue (SPEC "Many hosts", issue 20):
#   - throughput: two processes of `--jobs 1` sharing one run through the
#     queue (`scan --db URL --jobs 1` plus one `worker --jobs 1 --follow`,
#     started before the run as a service waits for runs) against one
#     `scan --jobs 2` (its own SQLite state store), same corpus, alternating
#     rounds, medians; plus one process alone (`scan --db --jobs 1`) and
#     three (two workers), for how throughput grows with workers here;
#   - claims per second of the queue: its claim and complete statements on
#     empty units, run by pgbench (the statements the workers send, without
#     any file work), 1 and 2 clients;
#   - database size per million files after the runs.
# Every database run starts from an empty database, every file read; its
# schema is in place (a copy of a database a worker migrated), as an
# operator's is after the first run: creating the schema is a cost of a
# database, once, not of a run.
# See benches/README.md for the figures measured on the 2-core machine.
#
# usage: benches/queue.sh            (from anywhere inside the repository)
# env:   CORPUS  the tree to scan      (default /tmp/labelscan-bench/corpus20k;
#                generated with 20,000 files when missing)
#        RUNS    rounds                (default 3)
#        UNITS   empty units for the claim benchmark (default 20000)
#        LABELSCAN  a labelscan binary to measure instead of building one
#        PINNED  1: also measure with the database on a core of its own
#                (taskset; see the end of this script)
#        NICE    niceness of the measured processes (default 19; 0 on a
#                machine shared with niced builds, which then yield to them)
set -euo pipefail

RUNS=${RUNS:-3}
NICE=${NICE:-19}
UNITS=${UNITS:-20000}
BENCH_DIR=/tmp/labelscan-bench
CORPUS=${CORPUS:-$BENCH_DIR/corpus20k}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

die() { echo "queue.sh: error: $*" >&2; exit 1; }
say() { echo "queue.sh: $*" >&2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[[ -x $PGBIN/initdb ]] || die "PostgreSQL server binaries not in $PGBIN (apt-get install postgresql)"

if [[ -z ${LABELSCAN:-} ]]; then
    say "building (cargo build --release)"
    nice -n 19 cargo build --release --quiet || die "cargo build --release failed"
    TARGET_DIR=$(cargo metadata --format-version 1 --no-deps 2>/dev/null \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    LABELSCAN=$TARGET_DIR/release/labelscan
fi
[[ -x $LABELSCAN ]] || die "no labelscan binary at $LABELSCAN"

if [[ ! -d $CORPUS ]]; then
    say "generating $CORPUS (20,000 files)"
    python3 "$ROOT/../shared/bench/make_corpus.py" "$CORPUS" --files 20000 >/dev/null
fi
# Another engineer may still be generating it: wait until it stops growing.
prev=-1
while :; do
    now=$(find "$CORPUS" -type f | wc -l)
    [[ $now -eq $prev ]] && break
    prev=$now
    sleep 5
done
FILES=$prev
say "corpus $CORPUS: $FILES files"

# ---- a throwaway PostgreSQL, with its default durability -----------------
WORK=$(mktemp -d /tmp/labelscan-queue-bench.XXXXXX)
RUN_AS=()
if [[ $(id -u) -eq 0 ]]; then
    chown postgres: "$WORK" 2>/dev/null || chown nobody: "$WORK"
    RUN_AS=(runuser -u "$(stat -c %U "$WORK")" --)
fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${RUN_AS[@]}" "$PGBIN/initdb" -D "$WORK/data" -U labelscan -A trust >/dev/null
"${RUN_AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/log" -w \
    -o "-p $PORT -k $WORK -c listen_addresses=127.0.0.1" start >/dev/null
cleanup() {
    "${RUN_AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$WORK" "$BENCH_DIR/queue-out"
}
trap cleanup EXIT
PSQL=("$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U labelscan -qAtX)
# A new database per run (called in command substitutions: the count
# lives in a file).
echo 0 > "$WORK/databases"
"${PSQL[@]}" -d postgres -c "CREATE DATABASE q0" >/dev/null
# No run is open: the worker migrates the schema and leaves.
"$LABELSCAN" worker --db "postgres://labelscan@127.0.0.1:$PORT/q0" >/dev/null 2>&1 \
    || die "labelscan worker could not migrate an empty database"
fresh_db() {
    local n; n=$(( $(cat "$WORK/databases") + 1 ))
    echo "$n" > "$WORK/databases"
    "${PSQL[@]}" -d postgres -c "CREATE DATABASE q$n TEMPLATE q0" >/dev/null
    echo "postgres://labelscan@127.0.0.1:$PORT/q$n" | tee "$WORK/last-database"
}

OUT=$BENCH_DIR/queue-out
mkdir -p "$OUT"
secs() { python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.2f}')" "$1" "$2"; }
now() { date +%s.%N; }

single() {
    rm -rf "$OUT/single"
    local t0; t0=$(now)
    nice -n "$NICE" "$LABELSCAN" scan "$CORPUS" --quiet --jobs 2 --out "$OUT/single" || [[ $? -eq 1 ]]
    secs "$t0" "$(now)"
}

queued() { # $1: worker processes besides the starting host
    local url; url=$(fresh_db)
    rm -rf "$OUT/queued"
    # The workers run as services do (`worker --follow`), started before
    # the run and waiting for one: queueing the run wakes them.
    local pids=()
    for _ in $(seq 1 "$1"); do
        nice -n "$NICE" "$LABELSCAN" worker --db "$url" --jobs 1 --follow 2>/dev/null &
        pids+=($!)
    done
    local db=${url##*/}
    # Each waiting worker holds 3 connections (its store's, and a thread's
    # two sessions) once it is ready.
    local waited=0
    until [[ $("${PSQL[@]}" -d "$db" -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db' AND application_name = 'labelscan'" 2>/dev/null) -ge $((3 * $1)) ]]; do
        sleep 0.02
        waited=$((waited + 1))
        [[ $waited -lt 3000 ]] || die "the workers did not connect within a minute"
    done
    local t0; t0=$(now)
    nice -n "$NICE" "$LABELSCAN" scan "$CORPUS" --quiet --jobs 1 --db "$url" --out "$OUT/queued" 2>/dev/null \
        || [[ $? -eq 1 ]]
    local t1; t1=$(now)
    for p in "${pids[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
    secs "$t0" "$t1"
}

median() { python3 -c "import statistics,sys; print(statistics.median(map(float, sys.argv[1:])))" "$@"; }

declare -a S Q1 Q2 Q3
for round in $(seq 1 "$RUNS"); do
    s=$(single); q2=$(queued 1); q1=$(queued 0); q3=$(queued 2)
    S+=("$s"); Q2+=("$q2"); Q1+=("$q1"); Q3+=("$q3")
    say "round $round: scan --jobs 2 ${s}s | 2 processes x --jobs 1 through the queue ${q2}s | 1 process ${q1}s | 3 processes ${q3}s"
done
cmp -s "$OUT/single/findings.csv" "$OUT/queued/findings.csv" \
    || die "the queued run's findings.csv differs from the single scan's"

ms=$(median "${S[@]}"); mq2=$(median "${Q2[@]}"); mq1=$(median "${Q1[@]}"); mq3=$(median "${Q3[@]}")
python3 - "$FILES" "$ms" "$mq2" "$mq1" "$mq3" <<'EOF'
import sys
files, s, q2, q1, q3 = int(sys.argv[1]), *map(float, sys.argv[2:])
print(f"files: {files}")
print(f"scan --jobs 2 (single host, SQLite state)      median {s:7.2f}s  {files/s:8.0f} files/s")
print(f"queue: 2 processes x --jobs 1                  median {q2:7.2f}s  {files/q2:8.0f} files/s  cost {100*(q2/s-1):+.1f}%")
print(f"queue: 1 process  x --jobs 1                   median {q1:7.2f}s  {files/q1:8.0f} files/s  (2 processes: x{q1/q2:.2f})")
print(f"queue: 3 processes x --jobs 1                  median {q3:7.2f}s  {files/q3:8.0f} files/s  (x{q1/q3:.2f} of 1 process)")
EOF

# ---- database size -------------------------------------------------------
LAST_URL=$(cat "$WORK/last-database")
db=${LAST_URL##*/}
size=$("${PSQL[@]}" -d "$db" -c "SELECT pg_database_size(current_database())")
empty=$("${PSQL[@]}" -d postgres -c "SELECT pg_database_size('q0')")
# The parcels are deleted when the run is reported, their space kept until
# VACUUM: the table's size is what the open run held.
staged=$("${PSQL[@]}" -d "$db" -c "SELECT pg_total_relation_size('queue_parcels')")
python3 - "$FILES" "$size" "$empty" "$staged" <<'EOF'
import sys
files, size, empty, staged = map(int, sys.argv[1:])
per_m = lambda b: b / files * 1e6 / 1e9
print(f"database after one run: {size/1e6:.1f} MB ({per_m(size - empty):.2f} GB per million files,"
      f" state store, units and the parcels' space until VACUUM);"
      f" the open run's parcels: {staged/1e6:.1f} MB ({per_m(staged):.2f} GB per million files)")
EOF

# ---- claims per second ---------------------------------------------------
url=$(fresh_db)
db=${url##*/}
"$LABELSCAN" scan "$ROOT/examples" --quiet --db "$url" --out "$OUT/claims" >/dev/null 2>&1 || true
"${PSQL[@]}" -d "$db" <<EOF >/dev/null
INSERT INTO queue_runs (run_id, spec) VALUES ('claims', '{}');
INSERT INTO queue_units (run, root, folder, part)
SELECT (SELECT id FROM queue_runs WHERE run_id = 'claims'), 0, int4send(i), 0
FROM generate_series(1, $UNITS) AS i;
EOF
RUN=$("${PSQL[@]}" -d "$db" -c "SELECT id FROM queue_runs WHERE run_id = 'claims'")
cat > "$WORK/claim.sql" <<EOF
UPDATE queue_units SET state = 'leased', owner = 'bench', lease = nextval('queue_leases'),
       lease_until = clock_timestamp() + make_interval(secs => 60), attempts = attempts + 1
WHERE id = (SELECT u.id FROM queue_units u JOIN queue_runs r ON r.id = u.run
            WHERE r.state = 'open' AND u.run = $RUN AND r.max_units_per_server = 0
              AND (u.state = 'pending' OR (u.state = 'leased' AND u.lease_until < clock_timestamp()))
              AND u.attempts < 5
            ORDER BY u.id LIMIT 1 FOR UPDATE OF u SKIP LOCKED)
RETURNING id AS unit, lease \gset
BEGIN;
SELECT 1 FROM queue_units WHERE id = :unit AND lease = :lease AND state = 'leased' FOR UPDATE;
INSERT INTO queue_results (unit, run, summary) VALUES (:unit, $RUN, '{}');
UPDATE queue_units SET state = 'done', lease_until = NULL, error = NULL WHERE id = :unit;
COMMIT;
EOF
for clients in 1 2; do
    per=$((UNITS / 2 / clients))
    tps=$(nice -n 19 "$PGBIN/pgbench" -n -h 127.0.0.1 -p "$PORT" -U labelscan -c "$clients" -j "$clients" \
        -t "$per" -f "$WORK/claim.sql" "$db" 2>/dev/null | awk '/^tps/ {print $3; exit}')
    echo "claims+completes per second (pgbench, $clients client(s), durable commits): $tps"
done

# ---- with the database on a core of its own (PINNED=1) -------------------
# On this machine the server shares the workers' cores, as it would not in
# a deployment (a database host of its own). Pinned here: the server's
# processes (new backends inherit the postmaster's affinity) to the last
# core, the measured commands to the others; one process of --jobs N
# through the queue against one `scan --jobs N`, N the other cores.
if [[ ${PINNED:-0} == 1 ]]; then
    command -v taskset >/dev/null || die "PINNED=1 needs taskset (util-linux)"
    cores=$(nproc)
    [[ $cores -ge 2 ]] || die "PINNED=1 needs 2 cores or more"
    db_core=$((cores - 1))
    work_cores=0-$((cores - 2))
    jobs=$((cores - 1))
    pm=$(head -1 "$WORK/data/postmaster.pid")
    for p in $pm $(pgrep -P "$pm"); do
        taskset -a -p -c "$db_core" "$p" >/dev/null || die "cannot pin the server's processes (run as root)"
    done
    declare -a PS PQ
    for round in $(seq 1 "$RUNS"); do
        rm -rf "$OUT/single"
        t0=$(now)
        taskset -c "$work_cores" nice -n "$NICE" "$LABELSCAN" scan "$CORPUS" --quiet --jobs "$jobs" \
            --out "$OUT/single" || [[ $? -eq 1 ]]
        ps=$(secs "$t0" "$(now)")
        url=$(fresh_db)
        rm -rf "$OUT/queued"
        t0=$(now)
        taskset -c "$work_cores" nice -n "$NICE" "$LABELSCAN" scan "$CORPUS" --quiet --jobs "$jobs" \
            --db "$url" --out "$OUT/queued" 2>/dev/null || [[ $? -eq 1 ]]
        pq=$(secs "$t0" "$(now)")
        PS+=("$ps"); PQ+=("$pq")
        say "pinned round $round: scan --jobs $jobs ${ps}s | 1 process x --jobs $jobs through the queue ${pq}s"
    done
    cmp -s "$OUT/single/findings.csv" "$OUT/queued/findings.csv" \
        || die "the pinned queued run's findings.csv differs from the single scan's"
    mps=$(median "${PS[@]}"); mpq=$(median "${PQ[@]}")
    python3 - "$FILES" "$mps" "$mpq" "$jobs" "$db_core" <<'PY'
import sys
files, s, q = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
jobs, core = sys.argv[4], sys.argv[5]
print(f"database on core {core} of its own, the work on the others:")
print(f"  scan --jobs {jobs} (single host, SQLite state)   median {s:7.2f}s  {files/s:8.0f} files/s")
print(f"  queue: 1 process x --jobs {jobs}                median {q:7.2f}s  {files/q:8.0f} files/s  cost {100*(q/s-1):+.1f}%")
PY
fi
