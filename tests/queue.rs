//! Multi-host scans through the PostgreSQL work queue (SPEC "Many hosts"):
//! `scan --db` plus three `worker`s over a generated tree, one worker
//! SIGKILLed while it holds leases and another SIGSTOPped past its lease,
//! give the reports a single-host scan of the same tree writes, byte for
//! byte (run provenance aside), with every file exactly once. On a real,
//! throwaway PostgreSQL server (tests/common/postgres.rs).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use regex::Regex;

mod common;
use common::postgres::Postgres;
use common::reports::{assert_same_reports, copy_dir};
use common::{bin, repo, signal, stderr, write_memos};

const APEX: &str = "policies/examples/apex-precision.toml";
const AS_OF: [&str; 2] = ["--as-of", "2026-11-23"];
/// Short leases, so that a stopped worker loses its units within the test.
const LEASE: &str = "1.5";
/// Many folders of the bundled examples and of the real-world corpus
/// (when present), nested, with memos, odd names, a link and a lock file:
/// a run of a few seconds with many units.
fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..6 {
        copy_dir(
            &repo().join("examples"),
            &dir.path().join(format!("dept-{i}/examples")),
        );
    }
    let realworld = Path::new("/work/shared/corpus/realworld");
    if realworld.is_dir() {
        copy_dir(realworld, &dir.path().join("dept-2/realworld"));
    }
    for folder in ["alpha", "beta/deep", "gamma", "dept-0/examples/misc/more"] {
        write_memos(&dir.path().join(folder), 40, |i| {
            format!("Memo {i}: mail a.b{i}@example.com, card 4111 1111 1111 1111.\n")
        });
    }
    // Folders with a large text each: units that take a while, so that a
    // worker is caught holding a lease.
    let mut bulk = String::new();
    for i in 0..40_000 {
        bulk.push_str(&format!(
            "Line {i}: write to x{i}@example.com about 4111 1111 1111 1111.\n"
        ));
    }
    for i in 0..40 {
        let at = dir.path().join(format!("load/f-{i:02}"));
        std::fs::create_dir_all(&at).unwrap();
        std::fs::write(at.join("bulk.txt"), &bulk).unwrap();
    }
    // A folder larger than one unit: it is split into batches of files.
    let big = dir.path().join("big");
    std::fs::create_dir_all(&big).unwrap();
    for i in 0..600 {
        std::fs::write(
            big.join(format!("n-{i:04}.txt")),
            format!("INTERNAL\nNote {i}.\n"),
        )
        .unwrap();
    }
    let odd = dir.path().join("alpha");
    std::fs::write(odd.join("a \"quoted\", name.txt"), "INTERNAL\nplain\n").unwrap();
    std::fs::write(odd.join("line\nbreak.txt"), "CONFIDENTIAL\nplain\n").unwrap();
    std::fs::write(odd.join("=formula.txt"), "nothing\n").unwrap();
    std::fs::write(odd.join("~$lock.docx"), "lock").unwrap();
    std::os::unix::fs::symlink("/etc/hostname", odd.join("link.txt")).unwrap();
    // Names that sort around a folder's: `alpha-2` after `alpha/...`.
    std::fs::write(dir.path().join("alpha-2.txt"), "INTERNAL\n").unwrap();
    std::fs::write(dir.path().join("alpha.txt"), "INTERNAL\n").unwrap();
    dir
}

fn scan_command(tree: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = bin();
    cmd.current_dir(repo())
        .arg("scan")
        .arg(tree)
        .args(["--jobs", "2", "--policy", APEX])
        .args(AS_OF)
        .arg("--out")
        .arg(out)
        .args(extra);
    cmd
}

fn ok(o: Output) -> Output {
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "failed: {}",
        stderr(&o)
    );
    o
}

/// Looks every 10 ms until `done`; fails the test after a minute, naming
/// `what` never happened.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits for the host's run to be in the queue: workers without
/// --follow that find no open run leave at once.
fn wait_until_queued(pg: &Postgres) {
    wait_until("the run's queueing", || {
        pg.psql("SELECT to_regclass('queue_runs') IS NOT NULL") == "t"
            && pg.psql("SELECT count(*) FROM queue_runs") != "0"
    });
}

/// Creates the schema (a worker that finds no open run and leaves).
fn migrate(pg: &Postgres) {
    let migrated = bin().args(["worker", "--db", &pg.url]).output().unwrap();
    assert_eq!(migrated.status.code(), Some(0), "{}", stderr(&migrated));
}

/// `labelscan report DIR --db URL --run RUN_ID`.
fn report(url: &str, dir: &Path, run_id: &str) -> Output {
    bin()
        .arg("report")
        .arg(dir)
        .args(["--db", url, "--run", run_id])
        .output()
        .unwrap()
}

fn worker(url: &str) -> Child {
    bin()
        .args(["worker", "--db", url, "--jobs", "1", "--lease-secs", LEASE])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Every document path of `findings.jsonl`, each once.
fn document_paths(out: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(out.join("findings.jsonl")).unwrap();
    let mut paths = BTreeSet::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let path = v["path"].as_str().unwrap().to_string();
        assert!(paths.insert(path.clone()), "{path} is reported twice");
    }
    paths
}

/// Waits until the worker with process id `pid` holds a lease.
fn until_leasing(pg: &Postgres, pid: u32, deadline: Instant) -> bool {
    let sql =
        format!("SELECT count(*) FROM queue_units WHERE state = 'leased' AND owner LIKE '%:{pid}'");
    while pg.psql("SELECT to_regclass('queue_units') IS NOT NULL") != "t" {
        assert!(
            Instant::now() < deadline,
            "the queue's tables never appeared"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    while Instant::now() < deadline {
        if pg.psql(&sql) != "0" {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Stops `child` at a moment it holds a lease (checked once stopped).
fn stop_while_leasing(pg: &Postgres, child: &Child, deadline: Instant, single: Duration) -> String {
    let sql = format!(
        "SELECT coalesce(string_agg(id::text, ','), '') FROM queue_units WHERE state = 'leased' AND owner LIKE '%:{}'",
        child.id()
    );
    loop {
        assert!(
            until_leasing(pg, child.id(), deadline),
            "worker {} never held a lease (the single scan took {single:?})",
            child.id()
        );
        signal(child, libc::SIGSTOP);
        // Twice, apart: a commit sent just before the stop may reach the
        // server a moment after the first look.
        settle(pg);
        let first = pg.psql(&sql);
        settle(pg);
        let held = pg.psql(&sql);
        if !first.is_empty() && !held.is_empty() {
            return held;
        }
        signal(child, libc::SIGCONT);
    }
}

/// Waits until no unit's commit is running in the server: one the worker
/// sent before it was stopped may still mark its unit done, and a lease
/// seen before that is not one the worker will lose.
fn settle(pg: &Postgres) {
    let running = "SELECT count(*) FROM pg_stat_activity
                   WHERE state = 'active' AND pid <> pg_backend_pid() AND query LIKE 'WITH held AS%'";
    let deadline = Instant::now() + Duration::from_secs(10);
    std::thread::sleep(Duration::from_millis(50));
    while pg.psql(running) != "0" {
        assert!(Instant::now() < deadline, "a unit's commit ran for 10 s");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A session that takes a lock (`lock`, a statement) and keeps it, once
/// it holds it, until the test ends it with [`release`].
fn hold(pg: &Postgres, lock: &str) -> Child {
    let holder = pg.psql_in_background(&format!("BEGIN; {lock}; SELECT pg_sleep(600)"));
    wait_until("the lock", || {
        pg.psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'") == "1"
    });
    holder
}

/// Holds `queue_results`, so that no unit can be committed and no worker
/// can start (preparing its commit statement waits).
fn hold_units(pg: &Postgres) -> Child {
    hold(pg, "LOCK TABLE queue_results IN EXCLUSIVE MODE")
}

fn release(pg: &Postgres, mut holder: Child) {
    pg.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event = 'PgSleep'");
    let _ = holder.wait();
}

/// A run whose starting host (`scan --db` of `tree`, with `extra`) is
/// killed once the run is open, then worked to its end by one worker and
/// left open, its reports unwritten: its run id. The host is held before
/// it can do any unit (however small the tree, it would otherwise finish
/// and report between two looks at the queue).
fn finished_by_a_worker(pg: &Postgres, tree: &Path, out: &Path, extra: &[&str]) -> String {
    queued_by_a_killed_host(pg, tree, out, extra);
    let w = bin()
        .args(["worker", "--db", &pg.url, "--lease-secs", LEASE])
        .output()
        .unwrap();
    assert_eq!(w.status.code(), Some(0), "{}", stderr(&w));
    pg.psql("SELECT run_id FROM queue_runs WHERE state = 'open'")
}

/// A run queued by `scan --db` of `tree` (with `extra`), whose host is
/// killed before it could do any unit: every unit of the open run pending.
fn queued_by_a_killed_host(pg: &Postgres, tree: &Path, out: &Path, extra: &[&str]) {
    // The schema, so that the lock below has its table.
    migrate(pg);
    let locker = hold_units(pg);
    let mut host = scan_command(tree, out, &["--quiet", "--db", &pg.url])
        .args(["--lease-secs", LEASE])
        .args(extra)
        .spawn()
        .unwrap();
    wait_until("the run's queueing", || {
        pg.psql("SELECT count(*) FROM queue_runs WHERE state = 'open'") != "0"
    });
    host.kill().unwrap();
    let _ = host.wait();
    release(pg, locker);
    assert_eq!(
        pg.psql(
            "SELECT count(*) FROM queue_units u JOIN queue_runs r ON r.id = u.run
             WHERE r.state = 'open' AND u.state <> 'pending'"
        ),
        "0",
        "the held host did a unit"
    );
}

/// A worker stopped inside a capped claim holds the cap's lock: claims for
/// runs without a cap never wait for it (here a session holds it for the
/// whole run, and the run still ends).
#[test]
fn claims_of_runs_without_a_cap_never_wait_for_the_caps_lock() {
    let pg = Postgres::start();
    let tree = tree();
    let work = tempfile::tempdir().unwrap();
    migrate(&pg);
    let holder = hold(
        &pg,
        &format!("SELECT pg_advisory_lock({})", labelscan::queue::CAP_LOCK),
    );
    let mut host = scan_command(
        tree.path(),
        &work.path().join("out"),
        &["--quiet", "--db", &pg.url],
    )
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = host.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = host.kill();
            panic!("the run waited for the cap's lock");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    release(&pg, holder);
    assert!(matches!(status.code(), Some(0 | 1)), "scan --db: {status}");
}

/// A lease that ran out is not brought back by its worker's renewal: it
/// no longer counts against its file server's cap, and another unit of
/// that server may already have taken its place.
#[test]
fn a_lease_that_ran_out_is_not_renewed() {
    let pg = Postgres::start();
    let tree = tree();
    let work = tempfile::tempdir().unwrap();
    queued_by_a_killed_host(&pg, tree.path(), &work.path().join("out"), &[]);
    // The root's unit and a second one beside it.
    pg.psql(
        "INSERT INTO queue_units (run, root, folder, part, names, server)
         SELECT run, root, folder, part + 1000, names, server FROM queue_units",
    );
    pg.psql(
        "UPDATE queue_units SET state = 'leased', lease = 41, lease_until = clock_timestamp() - interval '1 second'
         WHERE id = (SELECT min(id) FROM queue_units);
         UPDATE queue_units SET state = 'leased', lease = 42, lease_until = clock_timestamp() + interval '1 minute'
         WHERE id = (SELECT max(id) FROM queue_units)",
    );
    let mut client = postgres::Client::connect(&pg.url, postgres::NoTls).unwrap();
    let renewed = labelscan::queue::renew(&mut client, &[41, 42], 60.0).unwrap();
    assert_eq!(renewed, 1);
    assert_eq!(
        pg.psql(
            "SELECT string_agg(lease::text || ':' || (lease_until > clock_timestamp())::text, ' ' ORDER BY lease)
             FROM queue_units WHERE lease IS NOT NULL"
        ),
        "41:false 42:true"
    );
}

#[test]
fn four_hosts_one_killed_one_stopped_give_the_single_scans_reports() {
    let pg = Postgres::start();
    let tree = tree();
    let work = tempfile::tempdir().unwrap();
    let single = work.path().join("single");
    let started = Instant::now();
    ok(scan_command(tree.path(), &single, &["--quiet"])
        .output()
        .unwrap());
    let single_secs = started.elapsed();

    let multi = work.path().join("multi");
    let host = scan_command(
        tree.path(),
        &multi,
        &["--db", &pg.url, "--lease-secs", LEASE],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    // Workers without --follow join the open runs: start them once the
    // run is queued.
    wait_until_queued(&pg);
    let (mut killed, stopped, third) = (worker(&pg.url), worker(&pg.url), worker(&pg.url));

    let held_by_killed = stop_while_leasing(&pg, &killed, deadline, single_secs);
    signal(&killed, libc::SIGKILL);
    let _ = killed.wait();
    let held_by_stopped = stop_while_leasing(&pg, &stopped, deadline, single_secs);
    // Past its lease, another worker takes its units over: it stays
    // stopped until they have (the others may be busy with long units
    // for a while on a loaded machine).
    let still_its = format!(
        "SELECT count(*) FROM queue_units WHERE id IN ({held_by_stopped}) AND owner LIKE '%:{}'",
        stopped.id()
    );
    let taken_by = Instant::now() + Duration::from_secs(120);
    while pg.psql(&still_its) != "0" {
        assert!(
            Instant::now() < taken_by,
            "the stopped worker's units {held_by_stopped} were never taken over"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    signal(&stopped, libc::SIGCONT);

    let host_out = host.wait_with_output().unwrap();
    assert!(
        matches!(host_out.status.code(), Some(0 | 1)),
        "scan --db failed: {}",
        stderr(&host_out)
    );
    let stopped_out = stopped.wait_with_output().unwrap();
    let third_out = third.wait_with_output().unwrap();
    assert_eq!(
        stopped_out.status.code(),
        Some(0),
        "{}",
        stderr(&stopped_out)
    );
    assert_eq!(third_out.status.code(), Some(0), "{}", stderr(&third_out));

    assert_same_reports(&single, &multi);
    let paths = document_paths(&multi);
    assert_eq!(paths, document_paths(&single));
    assert!(paths.len() > 700, "{} documents", paths.len());

    // The killed and the stopped worker's units were done again by others.
    // Takeovers, not units: the stopped worker may have been holding the
    // killed one's unit, taken over twice then.
    let retried: u64 = pg
        .psql("SELECT coalesce(sum(attempts - 1), 0) FROM queue_units")
        .parse()
        .unwrap();
    assert!(
        retried >= 2,
        "{retried} takeovers: {}; held by the killed worker: {held_by_killed}, by the stopped one: {held_by_stopped}; units: {}; stopped worker: {}",
        pg.psql("SELECT string_agg(id || ':' || attempts || ':' || owner, ' ') FROM queue_units WHERE attempts > 1"),
        pg.psql("SELECT string_agg(id || ':' || state || ':' || attempts || ':' || owner, ' ' ORDER BY id) FROM queue_units"),
        stderr(&stopped_out)
    );
    assert_eq!(
        pg.psql("SELECT count(*) FROM queue_units WHERE state <> 'done'"),
        "0"
    );
    assert!(
        pg.psql("SELECT count(*) FROM queue_units WHERE part > 0") != "0",
        "the large folder was split into batches"
    );
    assert!(
        stderr(&stopped_out).contains("lost the lease"),
        "{}",
        stderr(&stopped_out)
    );

    // history shows the run's units by state.
    let h = bin().args(["history", "--db", &pg.url]).output().unwrap();
    assert_eq!(h.status.code(), Some(0), "{}", stderr(&h));
    let text = String::from_utf8_lossy(&h.stdout);
    assert!(text.contains("MULTI-HOST RUN"), "{text}");
    assert!(text.contains("reported"), "{text}");
}

/// --include and --exclude leave out what a single scan leaves out, in
/// listed folders and in batches of a large folder alike, and count it.
#[test]
fn filters_leave_out_and_count_what_a_single_scan_does() {
    let pg = Postgres::start();
    let tree = tempfile::tempdir().unwrap();
    let t = tree.path();
    for folder in ["a", "a/b", "c"] {
        write_memos(&t.join(folder), 30, |i| format!("INTERNAL\nMemo {i}.\n"));
    }
    // Past one unit's files: batches listed by name on other units.
    write_memos(&t.join("big"), 600, |i| {
        format!("Memo {i}, mail m{i}@example.com.\n")
    });
    std::fs::write(t.join("a/notes.md"), "CONFIDENTIAL\n").unwrap();
    std::os::unix::fs::symlink("/etc/hostname", t.join("c/link.txt")).unwrap();
    let work = tempfile::tempdir().unwrap();
    let (single, multi) = (work.path().join("single"), work.path().join("multi"));
    let filters = ["--quiet", "--include", "*.txt", "--exclude", "memo-1*"];
    ok(scan_command(t, &single, &filters).output().unwrap());
    let mut queued = filters.to_vec();
    queued.extend(["--db", &pg.url]);
    ok(scan_command(t, &multi, &queued).output().unwrap());
    assert_same_reports(&single, &multi);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(multi.join("summary.json")).unwrap())
            .unwrap();
    // memo-10..19 of each folder, memo-100..199 of big, and notes.md.
    assert_eq!(
        summary["files_filtered_out"],
        3 * 10 + 10 + 100 + 1,
        "{summary}"
    );
}

/// An incremental rescan across hosts reads only what changed, and a run
/// whose starting host died gets its reports from `report --db --run`.
#[test]
fn rescans_reuse_across_hosts_and_any_host_writes_a_runs_reports() {
    let pg = Postgres::start();
    let tree = tree();
    let t = tree.path();
    let work = tempfile::tempdir().unwrap();
    let single = work.path().join("single");
    let multi = work.path().join("multi");
    ok(scan_command(t, &single, &["--quiet"]).output().unwrap());
    ok(scan_command(t, &multi, &["--quiet", "--db", &pg.url])
        .output()
        .unwrap());
    assert_same_reports(&single, &multi);

    std::fs::write(t.join("alpha/memo-03.txt"), "No label, no data.\n").unwrap();
    std::fs::write(t.join("gamma/new.txt"), "CONFIDENTIAL\nnew\n").unwrap();
    std::fs::remove_file(t.join("beta/deep/memo-07.txt")).unwrap();
    ok(scan_command(t, &single, &["--quiet"]).output().unwrap());
    ok(scan_command(t, &multi, &["--quiet", "--db", &pg.url])
        .output()
        .unwrap());
    assert_same_reports(&single, &multi);
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(multi.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(s["read"], 2, "only the changed and the new file are read");
    let changes = std::fs::read_to_string(multi.join("changes.jsonl")).unwrap();
    assert_eq!(changes.lines().count(), 3, "{changes}");

    // A starting host killed at once: workers finish the run, and any
    // host writes its reports.
    let run_id = finished_by_a_worker(&pg, t, &work.path().join("lost"), &["--full"]);
    let from_any = work.path().join("from-any-host");
    let r = report(&pg.url, &from_any, &run_id);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    ok(scan_command(t, &single, &["--quiet", "--full"])
        .output()
        .unwrap());
    assert_eq!(
        std::fs::read(single.join("findings.csv")).unwrap(),
        std::fs::read(from_any.join("findings.csv")).unwrap()
    );
    let again = report(&pg.url, &work.path().join("again"), &run_id);
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
}

/// A service waiting for runs (`worker --follow`) starts on a new run at
/// once: queueing a run, and a unit queueing more, notify the waiting
/// threads. Here the service's next look is some 10 s away when the run is
/// queued (`--idle-secs` lets its pauses grow that long), and the run is
/// reported long before: only a notice brings the service in.
#[test]
fn a_waiting_worker_is_woken_by_a_new_run() {
    let pg = Postgres::start();
    let tree = tempfile::tempdir().unwrap();
    // Two PATHs, two root units: the host's one thread takes one, so the
    // other waits for the service whatever the order of their claims (with
    // one root, a service claiming just after the host would find nothing
    // and pause past the run's end).
    for f in 0..40 {
        let half = if f < 20 { "a" } else { "b" };
        write_memos(&tree.path().join(half).join(format!("f-{f:02}")), 20, |i| {
            format!("INTERNAL\nMemo {i}: mail a.b{i}@example.com.\n")
        });
    }
    let work = tempfile::tempdir().unwrap();
    // The schema, so that the service finds it in place.
    migrate(&pg);
    let log = work.path().join("service.log");
    let mut service = bin()
        .args(["worker", "--db", &pg.url, "--jobs", "1", "--follow"])
        .args(["--idle-secs", "600"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // Pauses of 10 ms doubling: looks at about 5.1 s and 10.2 s, the next
    // at 20.5 s.
    std::thread::sleep(Duration::from_secs(11));
    let out = work.path().join("out");
    ok(bin()
        .arg("scan")
        .args([tree.path().join("a"), tree.path().join("b")])
        .args(["--jobs", "1", "--quiet", "--db", &pg.url, "--out"])
        .arg(&out)
        .output()
        .unwrap());
    let _ = service.kill();
    let _ = service.wait();
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(said.contains("started with 1 thread"), "{said}");
    assert!(
        said.contains("joined run"),
        "the service did not join the run: {said}"
    );
    assert_eq!(
        pg.psql("SELECT count(*) FROM queue_units WHERE state <> 'done'"),
        "0"
    );
}

/// A run an earlier build queued (its spec says nothing of
/// `store_was_empty`) is reported by that build, which keeps only the
/// analyses it takes in from the parcels: workers put them there, as that
/// build's did, rather than into the store (where its end would drop them).
#[test]
fn workers_put_analyses_in_the_parcels_of_a_run_an_earlier_build_queued() {
    let pg = Postgres::start();
    let tree = tree();
    let t = tree.path();
    let work = tempfile::tempdir().unwrap();
    let mut host = scan_command(t, &work.path().join("lost"), &["--quiet", "--db", &pg.url])
        .args(["--lease-secs", LEASE])
        .spawn()
        .unwrap();
    wait_until_queued(&pg);
    host.kill().unwrap();
    let _ = host.wait();
    pg.psql("UPDATE queue_runs SET spec = (spec::jsonb - 'store_was_empty')::text");
    let w = bin()
        .args(["worker", "--db", &pg.url, "--lease-secs", LEASE])
        .output()
        .unwrap();
    assert_eq!(w.status.code(), Some(0), "{}", stderr(&w));
    let run_id = pg.psql("SELECT run_id FROM queue_runs WHERE state = 'open'");
    let reports = work.path().join("reports");
    let r = report(&pg.url, &reports, &run_id);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    let taken_in: u64 = pg
        .psql("SELECT count(*) FROM files WHERE seen_run > 0")
        .parse()
        .unwrap();
    assert!(
        taken_in > 100,
        "the worker's analyses came through the parcels: {taken_in}"
    );
    let again = work.path().join("again");
    ok(scan_command(t, &again, &["--quiet", "--db", &pg.url])
        .output()
        .unwrap());
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(again.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(s["read"], 0, "every analysis was kept: {}", s["reused"]);
}

/// `--max-units-per-server 1`: the tree is on one file server, so never
/// more than one of its units is leased at once, whatever the number of
/// workers; the reports are still the single scan's.
#[test]
fn a_cap_of_units_per_file_server_holds_across_workers() {
    let pg = Postgres::start();
    let tree = tree();
    let work = tempfile::tempdir().unwrap();
    let single = work.path().join("single");
    ok(scan_command(tree.path(), &single, &["--quiet"])
        .output()
        .unwrap());
    let multi = work.path().join("multi");
    let mut host = scan_command(
        tree.path(),
        &multi,
        &["--quiet", "--db", &pg.url, "--max-units-per-server", "1"],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    wait_until_queued(&pg);
    let workers = [worker(&pg.url), worker(&pg.url)];
    let live = "SELECT count(*) FROM queue_units
                WHERE state = 'leased' AND lease_until >= clock_timestamp()";
    let (mut most, mut busy) = (0u32, 0u32);
    let status = loop {
        if let Some(status) = host.try_wait().unwrap() {
            break status;
        }
        let n: u32 = pg.psql(live).parse().unwrap();
        most = most.max(n);
        busy += u32::from(n > 0);
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(matches!(status.code(), Some(0 | 1)), "scan --db: {status}");
    for w in workers {
        let out = w.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    assert!(busy > 0, "no unit was ever seen leased");
    assert_eq!(most, 1, "units leased at once on one server");
    assert_eq!(pg.psql("SELECT max_units_per_server FROM queue_runs"), "1");
    assert_eq!(
        pg.psql("SELECT count(DISTINCT server) FROM queue_units WHERE server <> ''"),
        "1"
    );
    assert_same_reports(&single, &multi);
}

/// The server ends the connections of three unit commits while they run
/// (a restart, a network cut, an administrator's pg_terminate_backend):
/// each worker reconnects, its units go back to the queue and are done
/// again, and the reports are the single scan's.
#[test]
fn commits_cut_by_the_server_are_done_again() {
    let pg = Postgres::start();
    let tree = tree();
    let work = tempfile::tempdir().unwrap();
    let single = work.path().join("single");
    ok(scan_command(tree.path(), &single, &["--quiet"])
        .output()
        .unwrap());
    let multi = work.path().join("multi");
    let mut host = scan_command(tree.path(), &multi, &["--db", &pg.url])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_queued(&pg);
    // Every other unit's commit lingers in the server, so that the test
    // catches some while they run, however loaded the machine.
    pg.psql(
        "CREATE FUNCTION linger() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN IF NEW.unit % 2 = 0 THEN PERFORM pg_sleep(0.5); END IF; RETURN NEW; END $$;
         CREATE TRIGGER linger BEFORE INSERT ON queue_results
           FOR EACH ROW EXECUTE FUNCTION linger()",
    );
    let other = worker(&pg.url);
    // Only commits lingering in the trigger: a statement being prepared
    // shows the same text, and a worker's first connection is another
    // test's matter (below).
    let cut = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
               WHERE state = 'active' AND wait_event = 'PgSleep' AND query LIKE 'WITH held AS%'";
    let mut cuts = 0;
    while cuts < 3 && host.try_wait().unwrap().is_none() {
        cuts += pg.psql(cut).parse::<u32>().unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    let host_out = host.wait_with_output().unwrap();
    let other_out = other.wait_with_output().unwrap();
    assert!(
        matches!(host_out.status.code(), Some(0 | 1)),
        "scan --db failed: {}",
        stderr(&host_out)
    );
    assert_eq!(other_out.status.code(), Some(0), "{}", stderr(&other_out));
    assert!(cuts > 0, "no unit's commit was ever seen running");
    assert_same_reports(&single, &multi);
    assert_eq!(document_paths(&multi), document_paths(&single));
    let retried: u32 = pg
        .psql("SELECT count(*) FROM queue_units WHERE attempts > 1")
        .parse()
        .unwrap();
    assert!(retried >= 1, "{cuts} commits cut, no unit done again");
    let logs = format!("{}{}", stderr(&host_out), stderr(&other_out));
    assert!(logs.contains("back in the queue"), "{logs}");
}

/// The server ends a worker's connection while the worker prepares its
/// statements (here, while a lock holds the preparation up): the worker
/// connects again, says why in the server's words, and goes on.
#[test]
fn a_worker_whose_connection_is_cut_as_it_starts_connects_again() {
    let pg = Postgres::start();
    migrate(&pg);
    let locker = hold_units(&pg);
    let starting = worker(&pg.url);
    // The commit statement names queue_results: preparing it waits.
    wait_until("the worker's preparation waiting on the lock", || {
        pg.psql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE wait_event_type = 'Lock' AND query LIKE 'WITH held AS%'",
        ) == "1"
    });
    release(&pg, locker);
    let out = starting.wait_with_output().unwrap();
    let log = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    // The server's words when they come before the socket closes.
    let cut = Regex::new(
        r"connecting failed \((database error 57P01: terminating connection due to administrator command|connection closed|error communicating with the server: .*)\); connecting again",
    )
    .unwrap();
    assert!(cut.is_match(&log), "{log}");
}

/// A zip of `members` small text members: that many rows.
fn zip_of_members(members: usize, tag: usize) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for i in 0..members {
        w.start_file(format!("m-{i:05}.txt"), options).unwrap();
        write!(w, "INTERNAL\nmember {i} of archive {tag}\n").unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A folder of archives with thousands of members each: a unit holds its
/// rows until it commits, so past 20,000 rows it leaves the files it has
/// not begun to a unit of their own (in the same transaction), and no
/// unit holds all of them. The reports are still the single scan's.
#[test]
fn a_unit_leaves_files_past_its_row_limit_to_the_queue() {
    let pg = Postgres::start();
    let tree = tempfile::tempdir().unwrap();
    let archives = tree.path().join("archives");
    std::fs::create_dir_all(&archives).unwrap();
    for i in 0..6 {
        std::fs::write(
            archives.join(format!("a-{i}.zip")),
            zip_of_members(9_000, i),
        )
        .unwrap();
    }
    std::fs::write(
        archives.join("z-last.txt"),
        "CONFIDENTIAL\nafter the archives\n",
    )
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let single = work.path().join("single");
    let multi = work.path().join("multi");
    ok(scan_command(tree.path(), &single, &["--quiet"])
        .output()
        .unwrap());
    ok(
        scan_command(tree.path(), &multi, &["--quiet", "--db", &pg.url])
            .output()
            .unwrap(),
    );
    assert_same_reports(&single, &multi);
    assert_eq!(document_paths(&multi).len(), 6 * 9_000 + 1);
    // 54,001 rows in one folder of 7 files: without the limit, one unit.
    // With it, the folder's unit stops after the archive that passes
    // 20,000 rows (a-2, 27,000), and so does the unit of the rest.
    let rest = pg.psql(
        "SELECT string_agg(convert_from(folder, 'UTF8'), ' ' ORDER BY id) FROM queue_units \
         WHERE part = -2 AND state = 'done'",
    );
    assert_eq!(rest, "archives/a-3.zip archives/z-last.txt");
    // Rows are written ahead past 2 MiB: a unit holds no archive's rows
    // whole (27,000 rows of about 1 KB each were held, 4 times over, before).
    let peak = |out: &Path| {
        common::reports::summary(out)["peak_rss_kb"]
            .as_i64()
            .unwrap()
    };
    let (single_kb, multi_kb) = (peak(&single), peak(&multi));
    eprintln!("peak RSS: single {single_kb} KB, queued {multi_kb} KB");
    assert!(
        multi_kb - single_kb < 50_000,
        "queued {multi_kb} KB against a single scan's {single_kb} KB"
    );
}

/// A parcel (`src/queue/parcel.rs`) of piece `seq` of one item, `key`,
/// with these `findings.jsonl` and `findings.csv` lines, as hex. It is of
/// version 1 (not deflated), as labelscan wrote parcels before version 2:
/// the reporting host must still read those of a run open across an
/// upgrade.
fn parcel_hex(key: &[u8], seq: i32, jsonl: &[u8], csv: &[u8]) -> String {
    let mut body = vec![1u8];
    let bytes = |body: &mut Vec<u8>, b: &[u8]| {
        body.extend_from_slice(&(b.len() as u32).to_le_bytes());
        body.extend_from_slice(b);
    };
    body.extend_from_slice(&1u32.to_le_bytes());
    bytes(&mut body, key);
    body.extend_from_slice(&seq.to_le_bytes());
    bytes(&mut body, jsonl);
    bytes(&mut body, csv);
    bytes(&mut body, b"");
    for _ in 0..3 {
        body.extend_from_slice(&0u32.to_le_bytes());
    }
    body.iter().map(|b| format!("{b:02x}")).collect()
}

/// Rows a worker wrote ahead under a lease it then lost are not the
/// run's: the reports take an item's pieces only from the lease its unit
/// was done under (or from the unit's commit), in walk-key order. An item
/// two units inspected is reported once, and the run says so.
#[test]
fn rows_of_a_lost_lease_are_left_out_and_an_item_of_two_units_is_reported_once() {
    let pg = Postgres::start();
    let tree = tempfile::tempdir().unwrap();
    for i in 0..5 {
        std::fs::write(
            tree.path().join(format!("memo-{i}.txt")),
            format!("CONFIDENTIAL\nmemo {i}, card 4111 1111 1111 1111\n"),
        )
        .unwrap();
    }
    let work = tempfile::tempdir().unwrap();
    let run_id = finished_by_a_worker(&pg, tree.path(), &work.path().join("lost"), &[]);
    // A parcel of memo-2's rows from a lease that is not the one its unit
    // was done under, and, as a check that such parcels are read, one from
    // the lease it was done under: a second piece of memo-2's rows.
    // (Its `findings.csv` line only: report.html reads findings.jsonl.)
    // And memo-2's rows once more, as a unit's commit gives them: as if a
    // second unit had inspected it too.
    for (lease, seq, piece, jsonl, csv) in [
        ("u.lease + 1000", 1, 1, "LOST\n", "LOST\n"),
        ("u.lease", 1, 1, "", "KEPT\n"),
        ("0", 7, 0, "DOUBLE\n", "DOUBLE\n"),
    ] {
        pg.psql(&format!(
            "INSERT INTO queue_parcels (run, root, unit, lease, seq, first_key, first_seq, body)
             SELECT u.run, 0, u.id, {lease}, {seq}, convert_to('memo-2.txt', 'UTF8'), {piece}, '\\x{}'::bytea
             FROM queue_units u WHERE u.state = 'done' LIMIT 1",
            parcel_hex(b"memo-2.txt", piece, jsonl.as_bytes(), csv.as_bytes())
        ));
    }
    let out = work.path().join("reported");
    let r = report(&pg.url, &out, &run_id);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    let single = work.path().join("single");
    ok(
        scan_command(tree.path(), &single, &["--quiet", "--no-state"])
            .output()
            .unwrap(),
    );
    for name in ["findings.jsonl", "findings.csv"] {
        let got = std::fs::read_to_string(out.join(name)).unwrap();
        assert!(!got.contains("LOST"), "{name}: {got}");
        assert!(!got.contains("DOUBLE"), "{name}: {got}");
        if name == "findings.csv" {
            let lines: Vec<&str> = got.lines().collect();
            let kept = lines.iter().position(|l| *l == "KEPT");
            assert!(
                kept.is_some_and(|at| lines[at - 1].contains("memo-2.txt")),
                "the piece from the unit's lease follows memo-2's row: {got}"
            );
        }
        assert_eq!(
            got.replace("KEPT\n", ""),
            std::fs::read_to_string(single.join(name)).unwrap(),
            "{name}"
        );
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["complete"], false);
    let warnings = summary["warnings"].to_string();
    assert!(
        warnings.contains("1 items were inspected by two work units"),
        "{warnings}"
    );
}
