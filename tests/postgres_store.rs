//! The PostgreSQL state store (`scan --db postgres://...`): the same
//! incremental rescans and change reports as the SQLite store, on a real,
//! throwaway PostgreSQL server (tests/common/postgres.rs).

use std::path::Path;

mod common;
use common::postgres::Postgres;
use common::reports::{changes, count, scan, scan_command, summary};
use common::{bin, repo, stderr};

use labelscan::store::{PostgresStore, RunRecord, Store, StoreError};

const APEX: &str = "policies/examples/apex-precision.toml";
/// The apex policy as of a fixed date: the same verdicts on any day.
const WITH_APEX: [&str; 4] = ["--policy", APEX, "--as-of", "2026-11-23"];

fn text_tree(count: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..count {
        std::fs::write(
            dir.path().join(format!("memo-{i:03}.txt")),
            format!("INTERNAL\nMemo {i}: contact a.b{i}@example.com.\n"),
        )
        .unwrap();
    }
    dir
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_rescan_through_postgres_reads_only_what_changed_and_reports_the_changes() {
    let pg = Postgres::start();
    let tree = text_tree(20);
    let out = tempfile::tempdir().unwrap();
    let db = ["--db", pg.url.as_str()];
    scan(tree.path(), out.path(), &db);
    assert_eq!(count(out.path(), "read"), 20);
    assert_eq!(summary(out.path())["changes"]["NEW"], 20);
    assert_eq!(summary(out.path())["state"], pg.url.as_str());
    assert!(
        !out.path().join("labelscan.sqlite").exists(),
        "no SQLite file beside the reports"
    );
    let first_csv = read(&out.path().join("findings.csv"));

    // Unchanged: nothing is read, the same findings, no change rows.
    scan(tree.path(), out.path(), &db);
    assert_eq!(count(out.path(), "read"), 0);
    assert_eq!(count(out.path(), "reused"), 20);
    assert_eq!(read(&out.path().join("findings.csv")), first_csv);
    assert!(changes(out.path(), tree.path()).is_empty());

    let t = tree.path();
    std::fs::write(t.join("memo-003.txt"), "No label here.\n").unwrap();
    std::fs::write(t.join("memo-100.txt"), "INTERNAL\nA new memo.\n").unwrap();
    std::fs::remove_file(t.join("memo-007.txt")).unwrap();
    scan(t, out.path(), &db);
    assert_eq!(
        changes(out.path(), t),
        vec![
            (
                "CHANGED".into(),
                "memo-003.txt".into(),
                "content_changed".into()
            ),
            ("REMOVED".into(), "memo-007.txt".into(), "removed".into()),
            ("NEW".into(), "memo-100.txt".into(), "new".into()),
        ]
    );
    assert_eq!(count(out.path(), "read"), 2);
    assert_eq!(count(out.path(), "reused"), 18);

    let h = bin()
        .args(["history", "--json", "--db", &pg.url])
        .output()
        .unwrap();
    assert_eq!(h.status.code(), Some(0), "{}", stderr(&h));
    let runs: Vec<serde_json::Value> = String::from_utf8_lossy(&h.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[1]["counts"]["reused"], 20);
    // The store holds what the SQLite one holds: one row per file.
    assert_eq!(pg.psql("SELECT count(*) FROM files"), "20");
}

/// Scans `tree` with the apex policy into `with_sqlite` (its own SQLite
/// store) and into `with_pg` through the PostgreSQL store at `url`.
fn scan_with_both_stores(tree: &Path, with_sqlite: &Path, with_pg: &Path, url: &str) {
    scan(tree, with_sqlite, &WITH_APEX);
    scan(tree, with_pg, &[&WITH_APEX[..], &["--db", url]].concat());
}

#[test]
fn postgres_and_sqlite_stores_give_the_same_reports() {
    let pg = Postgres::start();
    let tree = repo().join("examples");
    let (with_sqlite, with_pg) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for _ in 0..2 {
        scan_with_both_stores(&tree, with_sqlite.path(), with_pg.path(), &pg.url);
        for name in [
            "findings.csv",
            "findings.jsonl",
            "skipped.csv",
            "changes.csv",
            "changes.jsonl",
        ] {
            assert!(
                read(&with_sqlite.path().join(name)) == read(&with_pg.path().join(name)),
                "{name} differs"
            );
        }
        for key in ["documents", "read", "reused"] {
            assert_eq!(count(with_sqlite.path(), key), count(with_pg.path(), key));
        }
    }
    assert_eq!(count(with_pg.path(), "read"), 0);
}

/// The rows of `sql` in an SQLite store, each row's columns joined by `|`.
fn sqlite_rows(store: &Path, sql: &str) -> Vec<String> {
    let db = rusqlite::Connection::open(store).unwrap();
    let mut stmt = db.prepare(sql).unwrap();
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

/// A scope's first run puts its document states straight into
/// `documents`, and the run's workers store the files they read with
/// their units: the store must hold what the SQLite store holds after the
/// same scan, and a rescan must find nothing changed.
#[test]
fn a_first_run_keeps_the_states_and_files_the_sqlite_store_keeps() {
    let pg = Postgres::start();
    let tree = repo().join("examples");
    let (with_sqlite, with_pg) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    scan_with_both_stores(&tree, with_sqlite.path(), with_pg.path(), &pg.url);
    let store = with_sqlite.path().join("labelscan.sqlite");
    let lines = |text: String| -> Vec<String> { text.lines().map(str::to_string).collect() };
    let documents = "SELECT path || '|' || level || '|' || suggested || '|' || verdicts || '|' || sha256 || '|' || excepted FROM documents ORDER BY path";
    let kept = sqlite_rows(&store, documents);
    assert!(kept.len() > 10, "the examples give documents: {kept:?}");
    assert_eq!(lines(pg.psql(documents)), kept);
    let files = "SELECT key || '|' || size || '|' || mtime_ns || '|' || fingerprint || '|' || outcome FROM files ORDER BY key";
    let stored = sqlite_rows(&store, files);
    assert!(!stored.is_empty());
    assert_eq!(lines(pg.psql(files)), stored);

    scan(
        &tree,
        with_pg.path(),
        &[&WITH_APEX[..], &["--db", &pg.url]].concat(),
    );
    assert_eq!(count(with_pg.path(), "read"), 0);
    assert!(changes(with_pg.path(), &tree).is_empty());
}

fn run(id: &str) -> RunRecord {
    RunRecord {
        run_id: id.into(),
        scope: "/s".into(),
        ..Default::default()
    }
}

#[test]
fn a_second_writer_is_refused_an_uncommitted_run_leaves_no_trace_and_a_newer_schema_is_refused() {
    let pg = Postgres::start();
    let mut first = PostgresStore::open(&pg.url).unwrap();
    first.begin_run(&run("r1")).unwrap();
    let mut second = PostgresStore::open(&pg.url).unwrap();
    let err = second.begin_run(&run("r2")).unwrap_err();
    assert!(matches!(err, StoreError::Busy { .. }), "{err}");
    drop(first); // never committed
    second.begin_run(&run("r2")).unwrap();
    second.commit_run(&run("r2"), &["/s".into()]).unwrap();
    let runs = second.runs().unwrap();
    assert_eq!(runs.len(), 1, "r1 left no trace");
    assert_eq!(runs[0].run_id, "r2");
    drop(second);

    pg.psql("UPDATE schema_version SET version = 99");
    let err = PostgresStore::open(&pg.url).err().unwrap().to_string();
    assert!(err.contains("newer labelscan"), "{err}");

    let tree = text_tree(1);
    let out = tempfile::tempdir().unwrap();
    let empty = pg.new_database("empty_one");
    let o = scan_command(tree.path(), out.path(), &["--db", &empty])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "an empty database becomes a store: {}",
        stderr(&o)
    );
    // A database that holds another application's tables is not taken over.
    let taken = pg.new_database("someone_elses");
    pg.psql_at(&taken, "CREATE TABLE files (name TEXT)");
    let o = scan_command(tree.path(), out.path(), &["--db", &taken])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no labelscan state store"),
        "{}",
        stderr(&o)
    );
    let bad = scan_command(tree.path(), out.path(), &["--db", "sqlite:///tmp/x"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    let refused = scan_command(
        tree.path(),
        out.path(),
        &["--db", "postgres://nobody:s3cret@127.0.0.1:1/none"],
    )
    .output()
    .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        !stderr(&refused).contains("s3cret"),
        "a password is never printed: {}",
        stderr(&refused)
    );
}

/// Lookups read a folder's stored files in one query: each file is found
/// in its own folder only (not a sub-folder's, not a sibling `a0`'s), a
/// folder larger than one query reads is looked up file by file, and a
/// name with characters of several bytes is found too.
#[test]
fn lookups_by_folder_find_each_file_and_only_it() {
    use labelscan::store::{FileIdentity, StoredFile, StoredOutcome};
    let pg = Postgres::start();
    let mut store = PostgresStore::open(&pg.url).unwrap();
    store.begin_run(&run("r1")).unwrap();
    let mut keys: Vec<String> = (0..2100).map(|i| format!("/s/big/f{i}")).collect();
    keys.extend(
        [
            "/s/a/x",
            "/s/a/sub/x",
            "/s/a0/x",
            "/s/a/Geschäft-ä.docx",
            "/s/top",
        ]
        .map(String::from),
    );
    for (size, key) in keys.iter().enumerate() {
        store.save_file(StoredFile {
            key: key.clone(),
            identity: FileIdentity {
                size: size as u64,
                ..Default::default()
            },
            fingerprint: "f".into(),
            outcome: StoredOutcome::default(),
        });
    }
    store.commit_run(&run("r1"), &["/s".into()]).unwrap();
    let store = PostgresStore::open(&pg.url).unwrap();
    for (size, key) in keys.iter().enumerate().rev() {
        let found = store.stored_file(key).unwrap();
        assert_eq!(found.map(|f| f.identity.size), Some(size as u64), "{key}");
    }
    for absent in ["/s/a/y", "/s/a/sub", "/s/big/f2100", "/s/a0/sub/x"] {
        assert!(store.stored_file(absent).unwrap().is_none(), "{absent}");
    }
}

/// Schema 5 packs a unit's staged results into parcels and drops the
/// per-document staging tables of schema 4: a run an earlier labelscan
/// left open only that version can finish and report, so the migration
/// refuses, naming it; once it is reported, the migration goes ahead and
/// drops what was left staged.
#[test]
fn the_parcel_migration_refuses_an_earlier_versions_open_run() {
    let pg = Postgres::start();
    let db = pg.new_database("schema_four");
    drop(PostgresStore::open(&db).unwrap());
    // The tables schema 4 had and 5 drops, one holding a staged row, and
    // an open run.
    pg.psql_at(
        &db,
        "DROP TABLE queue_parcels;
         CREATE TABLE queue_items (run BIGINT);
         CREATE TABLE queue_files (run BIGINT);
         CREATE TABLE queue_seen (run BIGINT);
         CREATE TABLE queue_documents (run BIGINT);
         INSERT INTO queue_runs (run_id, spec) VALUES ('20261201T000000Z-0ld0ld00', '{}');
         INSERT INTO queue_files VALUES (1);
         UPDATE schema_version SET version = 4;",
    );
    let err = PostgresStore::open(&db).err().unwrap().to_string();
    assert!(
        err.contains("runs of an earlier labelscan are still open (20261201T000000Z-0ld0ld00)"),
        "{err}"
    );
    let version = || pg.psql_at(&db, "SELECT version FROM schema_version");
    assert_eq!(version().trim(), "4");
    pg.psql_at(&db, "UPDATE queue_runs SET state = 'reported'");
    drop(PostgresStore::open(&db).unwrap());
    assert_eq!(version().trim(), "5");
    assert_eq!(
        pg.psql_at(
            &db,
            "SELECT to_regclass('queue_files') IS NULL, to_regclass('queue_parcels') IS NOT NULL"
        )
        .trim(),
        "t|t"
    );
}

/// The driver's own text of a server's error is "db error": logs and
/// messages add the SQLSTATE and the server's words, except for data
/// exceptions, whose words quote the value refused (content).
#[test]
fn database_errors_say_what_the_server_said_but_never_a_value() {
    use labelscan::store::postgres::describe_error;
    let pg = Postgres::start();
    let mut client = postgres::Client::connect(&pg.url, postgres::NoTls).unwrap();
    let refused = client
        .query_one("SELECT $1::text::int", &[&"secret-4111"])
        .unwrap_err();
    assert!(refused.to_string().starts_with("db error"), "{refused}");
    assert_eq!(describe_error(&refused), "database error 22P02");
    let missing = client
        .query_one("SELECT * FROM no_such_table", &[])
        .unwrap_err();
    assert_eq!(
        describe_error(&missing),
        "database error 42P01: relation \"no_such_table\" does not exist"
    );
    drop(client);
    // Port 1: nothing listens there (a port found free could be taken by
    // a parallel test's server before the connection).
    let Err(closed) = postgres::Client::connect(
        "postgres://labelscan@127.0.0.1:1/labelscan",
        postgres::NoTls,
    ) else {
        panic!("port 1 took a connection");
    };
    assert!(
        describe_error(&closed).starts_with("error connecting to server: "),
        "{}",
        describe_error(&closed)
    );
}
