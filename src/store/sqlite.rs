//! The SQLite state store: one file, WAL mode, one writer. A run's rows
//! are written by one writer thread into one transaction (so a file costs
//! a statement, not a commit) that commits after the run's reports; workers
//! look stored analyses up through read-only connections, which see the
//! last committed run and never the one in the making.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use super::queue::{QueuedWriter, Write};
use super::{FileIdentity, RunRecord, StatePair, Store, StoreError, StoredFile, StoredOutcome};
use crate::model::DocumentState;

/// The schema this labelscan writes. Each entry of [`MIGRATIONS`] takes a
/// store from the version before it to its own.
pub const SCHEMA_VERSION: i64 = 1;

const MIGRATIONS: &[(i64, &str)] = &[(1, SCHEMA_V1)];

const SCHEMA_V1: &str = "
CREATE TABLE runs (
    seq INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL,
    paths TEXT NOT NULL,
    options TEXT NOT NULL,
    policy_sha256 TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    detectors_sha256 TEXT NOT NULL,
    analysis_fingerprint TEXT NOT NULL,
    as_of TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL DEFAULT '',
    complete INTEGER NOT NULL,
    show_values INTEGER NOT NULL,
    committed INTEGER NOT NULL DEFAULT 0,
    counts TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX runs_by_scope ON runs (scope, committed, seq);
CREATE TABLE files (
    key TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    device INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    outcome TEXT NOT NULL,
    seen_run INTEGER NOT NULL
);
CREATE TABLE scopes (
    id INTEGER PRIMARY KEY,
    scope TEXT NOT NULL UNIQUE
);
CREATE TABLE documents (
    scope INTEGER NOT NULL,
    path TEXT NOT NULL,
    level TEXT NOT NULL,
    suggested TEXT NOT NULL,
    verdicts TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    excepted TEXT NOT NULL,
    PRIMARY KEY (scope, path)
) WITHOUT ROWID;
";

/// Per run, in the writer's connection only (never in the WAL): the keys of
/// the files seen, and the documents' states. `documents` holds the state
/// of the last completed run per scope; a run writes only the rows that
/// differ from it, so a rescan of an unchanged tree writes almost nothing.
const RUN_TABLES: &str = "
CREATE TEMP TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TEMP TABLE IF NOT EXISTS current (
    path TEXT PRIMARY KEY,
    level TEXT NOT NULL,
    suggested TEXT NOT NULL,
    verdicts TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    excepted TEXT NOT NULL
) WITHOUT ROWID;
DELETE FROM temp.seen;
DELETE FROM temp.current;
";

/// The rows of this run's documents that are new or differ from the
/// scope's stored ones (`?1` the scope); `extra` adds a column condition.
const DIFFERS: &str = "b.path IS NULL
     OR b.level IS NOT a.level OR b.suggested IS NOT a.suggested
     OR b.verdicts IS NOT a.verdicts OR b.excepted IS NOT a.excepted";

pub struct SqliteStore {
    path: PathBuf,
    /// The writer connection while no run writes, or after its writer
    /// ended (in a mutex only so that the store can be shared).
    conn: Mutex<Option<Connection>>,
    readers: Mutex<Vec<Connection>>,
    writes: QueuedWriter<Connection>,
    /// The run being written (its `seq`).
    run: i64,
    /// The id of its scope in `scopes`.
    scope: i64,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SqliteStore {
    /// A store on an open connection, with no run being written.
    fn with_connection(path: &Path, conn: Connection) -> SqliteStore {
        SqliteStore {
            path: path.to_path_buf(),
            conn: Mutex::new(Some(conn)),
            readers: Mutex::new(Vec::new()),
            writes: QueuedWriter::default(),
            run: 0,
            scope: 0,
        }
    }

    /// Opens or creates the store at `path`, migrating an older schema and
    /// refusing a newer one or a file that is no store.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path).map_err(|e| unusable(path, e))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend)?;
        // FULL: the one commit per run must survive a power loss.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA mmap_size = 1073741824;",
        )
        .map_err(|e| unusable(path, e))?;
        migrate(&conn, path)?;
        Ok(SqliteStore::with_connection(path, conn))
    }

    /// Opens an existing store to read it (`history`), without migrating it.
    pub fn open_read_only(path: &Path) -> Result<SqliteStore, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Unusable(format!(
                "{}: no state store there (scan with --state FILE, or --out DIR for DIR/{})",
                path.display(),
                super::DEFAULT_STATE_FILE
            )));
        }
        let conn = read_only(path).map_err(|e| unusable(path, e))?;
        let version = schema_version(&conn).map_err(|e| unusable(path, e))?;
        match version {
            Some(SCHEMA_VERSION) => {}
            Some(v) if v > SCHEMA_VERSION => return Err(newer(path, v)),
            _ => {
                return Err(StoreError::Unusable(format!(
                    "{}: an older state store (schema {}); a scan with this labelscan migrates it",
                    path.display(),
                    version.unwrap_or(0)
                )))
            }
        }
        Ok(SqliteStore::with_connection(path, conn))
    }

    fn conn(&mut self) -> Result<&mut Connection, StoreError> {
        self.conn
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
            .ok_or_else(|| backend("the store's writer is busy"))
    }

    fn take_conn(&mut self) -> Option<Connection> {
        self.conn
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    fn put_conn(&mut self, conn: Connection) {
        *self.conn.get_mut().unwrap_or_else(|e| e.into_inner()) = Some(conn);
    }

    /// Waits for the writer thread and takes its connection back. The
    /// readers go: their snapshots would keep the checkpoint from folding
    /// the run into the file.
    fn end_writes(&mut self) -> Result<(), StoreError> {
        self.readers
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        let finished = self
            .writes
            .finish()
            .map_err(|_| backend("the store's writer failed"))?;
        if let Some((conn, result)) = finished {
            self.put_conn(conn);
            result.map_err(StoreError::Backend)?;
        }
        Ok(())
    }

    fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let pooled = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => snapshot_reader(&self.path).map_err(backend)?,
        };
        let result = f(&conn).map_err(backend);
        self.readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
        result
    }
}

/// A reader that stays in one read transaction until it is dropped: it
/// sees the last committed run (never the run being written), and each
/// lookup skips starting a transaction of its own (a third of a lookup's
/// cost in an unchanged rescan).
fn snapshot_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = read_only(path)?;
    // Pages mapped rather than read by a system call each.
    conn.execute_batch("PRAGMA mmap_size = 1073741824; BEGIN DEFERRED")?;
    Ok(conn)
}

fn read_only(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

/// A store that could not be opened: a file that is no store (or a damaged
/// one) is unusable (exit 2); a full disk, an I/O error or a place that
/// cannot be written is a write failure like the reports' (exit 5).
fn unusable(path: &Path, e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode::*;
    let message = format!("{}: cannot use it as a state store: {e}", path.display());
    match e.sqlite_error_code() {
        Some(DiskFull | SystemIoFailure | CannotOpen | ReadOnly | PermissionDenied) => {
            StoreError::Backend(message)
        }
        _ => StoreError::Unusable(message),
    }
}

fn newer(path: &Path, version: i64) -> StoreError {
    StoreError::Unusable(format!(
        "{}: written by a newer labelscan (schema {version}; this one knows up to {SCHEMA_VERSION}); use that labelscan or another --state",
        path.display()
    ))
}

fn schema_version(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    let has_table: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
        [],
        |r| r.get(0),
    )?;
    if !has_table {
        return Ok(None);
    }
    conn.query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0))
}

/// Brings the schema to [`SCHEMA_VERSION`] in one transaction.
fn migrate(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let version = schema_version(conn).map_err(|e| unusable(path, e))?;
    let from = match version {
        Some(v) if v > SCHEMA_VERSION => return Err(newer(path, v)),
        Some(v) if v == SCHEMA_VERSION => return Ok(()),
        Some(v) => v,
        None => {
            let tables: i64 = conn
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .map_err(|e| unusable(path, e))?;
            if tables > 0 {
                return Err(StoreError::Unusable(format!(
                    "{}: an SQLite database, but not a labelscan state store; use another --state",
                    path.display()
                )));
            }
            0
        }
    };
    let mut sql = String::from("BEGIN IMMEDIATE;\n");
    if from == 0 {
        sql.push_str("CREATE TABLE schema_version (version INTEGER NOT NULL);\n");
    }
    for (version, step) in MIGRATIONS.iter().filter(|(v, _)| *v > from) {
        sql.push_str(step);
        sql.push_str(&format!(
            "\nDELETE FROM schema_version; INSERT INTO schema_version VALUES ({version});\n"
        ));
    }
    sql.push_str("COMMIT;");
    conn.execute_batch(&sql)
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy) => StoreError::Busy {
                path: path.display().to_string(),
            },
            _ => unusable(path, e),
        })
}

const RUN_COLUMNS: &str = "seq, run_id, scope, paths, options, policy_sha256, tool_version, detectors_sha256, analysis_fingerprint, as_of, started_at, finished_at, complete, show_values, counts";

fn run_of(r: &rusqlite::Row) -> rusqlite::Result<RunRecord> {
    Ok(RunRecord {
        seq: r.get(0)?,
        run_id: r.get(1)?,
        scope: r.get(2)?,
        paths: r.get(3)?,
        options: r.get(4)?,
        policy_sha256: r.get(5)?,
        tool_version: r.get(6)?,
        detectors_sha256: r.get(7)?,
        analysis_fingerprint: r.get(8)?,
        as_of: r.get(9)?,
        started_at: r.get(10)?,
        finished_at: r.get(11)?,
        complete: r.get(12)?,
        show_values: r.get(13)?,
        counts: r.get(14)?,
    })
}

fn state_of(r: &rusqlite::Row, at: usize) -> rusqlite::Result<Option<DocumentState>> {
    let path: Option<String> = r.get(at)?;
    let Some(path) = path else {
        return Ok(None);
    };
    Ok(Some(DocumentState {
        path,
        level: r.get(at + 1)?,
        suggested: r.get(at + 2)?,
        verdicts: r.get(at + 3)?,
        sha256: r.get(at + 4)?,
        excepted: r.get(at + 5)?,
    }))
}

impl Store for SqliteStore {
    fn runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE committed = 1 ORDER BY seq"
            ))?;
            let rows = stmt.query_map([], run_of)?;
            rows.collect()
        })
    }

    fn baseline(&self, scope: &str) -> Result<Option<RunRecord>, StoreError> {
        self.with_reader(|conn| {
            conn.query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE scope = ?1 AND committed = 1 ORDER BY seq DESC LIMIT 1"),
                [scope],
                run_of,
            )
            .optional()
        })
    }

    fn stored_file(&self, key: &str) -> Result<Option<StoredFile>, StoreError> {
        let row = self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT size, mtime_ns, inode, device, fingerprint, outcome FROM files WHERE key = ?1",
            )?;
            stmt.query_row([key], |r| {
                Ok((
                    FileIdentity {
                        size: r.get::<_, i64>(0)? as u64,
                        mtime_ns: r.get(1)?,
                        inode: r.get::<_, i64>(2)? as u64,
                        device: r.get::<_, i64>(3)? as u64,
                    },
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })
            .optional()
        })?;
        let Some((identity, fingerprint, outcome)) = row else {
            return Ok(None);
        };
        // A row that no longer parses (an older shape) is a cache miss.
        let Ok(outcome) = serde_json::from_str::<StoredOutcome>(&outcome) else {
            return Ok(None);
        };
        Ok(Some(StoredFile {
            key: key.to_string(),
            identity,
            fingerprint,
            outcome,
        }))
    }

    fn begin_run(&mut self, run: &RunRecord) -> Result<(), StoreError> {
        let conn = self
            .take_conn()
            .ok_or_else(|| backend("a run is already being written"))?;
        // IMMEDIATE takes the write lock now: a second scan on the same
        // store is refused before it scans anything.
        conn.busy_timeout(std::time::Duration::ZERO)
            .map_err(backend)?;
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            self.put_conn(conn);
            return Err(match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                    StoreError::Busy {
                        path: self.path.display().to_string(),
                    }
                }
                _ => backend(e),
            });
        }
        let inserted = conn.execute(
            "INSERT INTO runs (run_id, scope, paths, options, policy_sha256, tool_version, detectors_sha256, analysis_fingerprint, as_of, started_at, complete, show_values) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                run.run_id,
                run.scope,
                run.paths,
                run.options,
                run.policy_sha256,
                run.tool_version,
                run.detectors_sha256,
                run.analysis_fingerprint,
                run.as_of,
                run.started_at,
                run.complete,
                run.show_values
            ],
        );
        if let Err(e) = inserted {
            let _ = conn.execute_batch("ROLLBACK");
            self.put_conn(conn);
            return Err(backend(e));
        }
        self.run = conn.last_insert_rowid();
        let scope = conn
            .execute_batch(RUN_TABLES)
            .and_then(|_| scope_id(&conn, &run.scope));
        match scope {
            Ok(id) => self.scope = id,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                self.put_conn(conn);
                return Err(backend(e));
            }
        }
        let run_seq = self.run;
        self.writes = QueuedWriter::start(conn, move |conn, receiver| {
            write_all(conn, run_seq, receiver).map_err(|e| e.to_string())
        })
        .map_err(backend)?;
        Ok(())
    }

    fn save_file(&self, file: StoredFile) {
        self.writes.send(Write::File(Box::new(file)));
    }

    fn file_seen(&self, key: &str) {
        self.writes.send(Write::Seen(key.to_string()));
    }

    fn save_document(&self, state: DocumentState) {
        self.writes.send(Write::Document(state));
    }

    fn compare(
        &mut self,
        each: &mut dyn FnMut(StatePair) -> std::io::Result<()>,
    ) -> Result<(), StoreError> {
        self.end_writes()?;
        // The stored rows are the baseline's: a run that did not complete
        // left none.
        let scope = self.scope;
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare(&format!(
                // Two primary-key joins rather than one FULL JOIN of two
                // subqueries, which SQLite runs as a nested scan
                // (quadratic in the number of documents).
                "SELECT b.path, b.level, b.suggested, b.verdicts, b.sha256, b.excepted,
                        a.path, a.level, a.suggested, a.verdicts, a.sha256, a.excepted,
                        a.path AS sort_path
                 FROM temp.current AS a
                 LEFT JOIN documents AS b ON b.scope = ?1 AND b.path = a.path
                 WHERE {DIFFERS}
                 UNION ALL
                 SELECT b.path, b.level, b.suggested, b.verdicts, b.sha256, b.excepted,
                        NULL, NULL, NULL, NULL, NULL, NULL,
                        b.path AS sort_path
                 FROM documents AS b
                 WHERE b.scope = ?1
                   AND NOT EXISTS (SELECT 1 FROM temp.current AS a WHERE a.path = b.path)
                 ORDER BY sort_path"
            ))
            .map_err(backend)?;
        let mut rows = stmt.query(params![scope]).map_err(backend)?;
        while let Some(row) = rows.next().map_err(backend)? {
            let pair = (
                state_of(row, 0).map_err(backend)?,
                state_of(row, 6).map_err(backend)?,
            );
            each(pair).map_err(backend)?;
        }
        Ok(())
    }

    fn commit_run(&mut self, run: &RunRecord, roots: &[String]) -> Result<(), StoreError> {
        self.end_writes()?;
        let (seq, scope) = (self.run, self.scope);
        let conn = self.conn()?;
        conn.execute(
            "UPDATE runs SET finished_at = ?2, complete = ?3, counts = ?4, committed = 1 WHERE seq = ?1",
            params![seq, run.finished_at, run.complete, run.counts],
        )
        .map_err(backend)?;
        for root in roots {
            let (low, high) = key_range(root);
            conn.execute(
                "DELETE FROM files WHERE seen_run != ?1 AND (key = ?2 OR (key >= ?3 AND key < ?4))
                   AND key NOT IN (SELECT key FROM temp.seen)",
                params![seq, root, low, high],
            )
            .map_err(backend)?;
        }
        keep_documents(conn, scope).map_err(backend)?;
        conn.execute_batch("COMMIT").map_err(backend)?;
        // Fold the WAL back into the file now that nobody else writes.
        let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
        Ok(())
    }
}

/// Makes this run's document states the scope's: new and changed rows
/// are written (a changed hash too), rows of documents gone are deleted,
/// equal rows are not touched.
fn keep_documents(conn: &Connection, scope: i64) -> rusqlite::Result<()> {
    conn.execute(
        &format!(
            "INSERT OR REPLACE INTO documents (scope, path, level, suggested, verdicts, sha256, excepted)
             SELECT ?1, a.path, a.level, a.suggested, a.verdicts, a.sha256, a.excepted
             FROM temp.current AS a
             LEFT JOIN documents AS b ON b.scope = ?1 AND b.path = a.path
             WHERE {DIFFERS} OR b.sha256 IS NOT a.sha256"
        ),
        [scope],
    )?;
    conn.execute(
        "DELETE FROM documents WHERE scope = ?1
           AND NOT EXISTS (SELECT 1 FROM temp.current AS a WHERE a.path = documents.path)",
        [scope],
    )?;
    Ok(())
}

/// The id of a scope, added when new.
fn scope_id(conn: &Connection, scope: &str) -> rusqlite::Result<i64> {
    conn.execute("INSERT OR IGNORE INTO scopes (scope) VALUES (?1)", [scope])?;
    conn.query_row("SELECT id FROM scopes WHERE scope = ?1", [scope], |r| {
        r.get(0)
    })
}

/// The keys below folder `root`: `[root/, root0)`, since `0` follows `/`.
fn key_range(root: &str) -> (String, String) {
    let base = root.trim_end_matches('/');
    (format!("{base}/"), format!("{base}0"))
}

/// The writer thread: applies queued writes until the queue closes.
fn write_all(
    conn: &Connection,
    run: i64,
    receiver: std::sync::mpsc::Receiver<Vec<Write>>,
) -> rusqlite::Result<()> {
    let mut put_file = conn.prepare_cached(
        "INSERT OR REPLACE INTO files (key, size, mtime_ns, inode, device, fingerprint, outcome, seen_run) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut seen = conn.prepare_cached("INSERT OR IGNORE INTO temp.seen (key) VALUES (?1)")?;
    let mut put_document = conn.prepare_cached(
        "INSERT OR REPLACE INTO temp.current (path, level, suggested, verdicts, sha256, excepted) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for write in receiver.into_iter().flatten() {
        match write {
            Write::File(file) => {
                let outcome = serde_json::to_string(&file.outcome)
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
                let id = file.identity;
                put_file.execute(params![
                    file.key,
                    id.size as i64,
                    id.mtime_ns,
                    id.inode as i64,
                    id.device as i64,
                    file.fingerprint,
                    outcome,
                    run
                ])?;
            }
            Write::Seen(key) => {
                seen.execute([key])?;
            }
            Write::Document(d) => {
                put_document.execute(params![
                    d.path,
                    d.level,
                    d.suggested,
                    d.verdicts,
                    d.sha256,
                    d.excepted
                ])?;
            }
        }
    }
    Ok(())
}

impl Drop for SqliteStore {
    /// A run that was not committed is rolled back: the store stays as the
    /// previous run left it.
    fn drop(&mut self) {
        let _ = self.end_writes();
        if let Some(conn) = self.take_conn() {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str) -> RunRecord {
        RunRecord {
            run_id: id.into(),
            scope: "/s".into(),
            ..Default::default()
        }
    }

    fn doc(path: &str, verdicts: &str) -> DocumentState {
        DocumentState {
            path: path.into(),
            verdicts: verdicts.into(),
            ..Default::default()
        }
    }

    fn changes(store: &mut SqliteStore) -> Vec<StatePair> {
        let mut found = Vec::new();
        store
            .compare(&mut |pair| {
                found.push(pair);
                Ok(())
            })
            .unwrap();
        found
    }

    #[test]
    fn a_committed_run_is_the_baseline_and_an_uncommitted_one_leaves_no_trace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let mut store = SqliteStore::open(&path).unwrap();
        store.begin_run(&run("r1")).unwrap();
        store.save_document(doc("/s/a", "OK"));
        store.save_document(doc("/s/b", "OK"));
        assert_eq!(changes(&mut store).len(), 2);
        store.commit_run(&run("r1"), &["/s".into()]).unwrap();
        drop(store);

        let mut store = SqliteStore::open(&path).unwrap();
        assert!(
            store.baseline("/s").unwrap().is_some(),
            "r1 is the baseline"
        );
        store.begin_run(&run("r2")).unwrap();
        store.save_document(doc("/s/a", "UNLABELED"));
        let found = changes(&mut store);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].1.as_ref().unwrap().verdicts, "UNLABELED");
        assert!(found[1].1.is_none(), "b is removed");
        drop(store); // not committed

        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.runs().unwrap().len(), 1);
        assert_eq!(store.baseline("/s").unwrap().unwrap().run_id, "r1");
    }

    #[test]
    fn a_second_writer_is_refused_and_a_newer_schema_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let mut first = SqliteStore::open(&path).unwrap();
        first.begin_run(&run("r1")).unwrap();
        let mut second = SqliteStore::open(&path).unwrap();
        let err = second.begin_run(&run("r2")).unwrap_err();
        assert!(matches!(err, StoreError::Busy { .. }), "{err}");
        drop((first, second));

        let conn = Connection::open(&path).unwrap();
        conn.execute("UPDATE schema_version SET version = 99", [])
            .unwrap();
        drop(conn);
        let err = SqliteStore::open(&path).err().unwrap().to_string();
        assert!(err.contains("newer labelscan"), "{err}");
    }

    #[test]
    fn files_round_trip_and_unseen_ones_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let mut store = SqliteStore::open(&path).unwrap();
        store.begin_run(&run("r1")).unwrap();
        for key in ["/s/a", "/s/b", "/other/c"] {
            store.save_file(StoredFile {
                key: key.into(),
                identity: FileIdentity {
                    size: 3,
                    mtime_ns: 7,
                    inode: 9,
                    device: 1,
                },
                fingerprint: "f".into(),
                outcome: StoredOutcome::default(),
            });
        }
        store.commit_run(&run("r1"), &["/s".into()]).unwrap();
        let a = store.stored_file("/s/a").unwrap().unwrap();
        assert_eq!(a.identity.mtime_ns, 7);
        store.begin_run(&run("r2")).unwrap();
        store.file_seen("/s/a");
        store.commit_run(&run("r2"), &["/s".into()]).unwrap();
        assert!(store.stored_file("/s/a").unwrap().is_some());
        assert!(store.stored_file("/s/b").unwrap().is_none(), "gone from /s");
        assert!(
            store.stored_file("/other/c").unwrap().is_some(),
            "another scope"
        );
    }
}
