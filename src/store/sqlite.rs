//! The SQLite state store: one file, WAL mode, one writer. A run's rows
//! are written by one writer thread into one transaction (so a file costs
//! a statement, not a commit) that commits after the run's reports; workers
//! look stored analyses up through read-only connections, which see the
//! last committed run and never the one in the making.

use std::hash::{BuildHasher, RandomState};
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

/// Per run, in the writer's connection only (never in the WAL): the
/// documents that are new or whose state differs from the scope's stored
/// one, with the stored state (`b_*`, NULL for a new document). The writer
/// compares each document as it arrives and writes `documents` at once, in
/// the run's transaction; an unchanged document costs one lookup and no
/// write, so a rescan of an unchanged tree writes almost nothing.
const RUN_TABLES: &str = "
CREATE TEMP TABLE IF NOT EXISTS changed (
    path TEXT PRIMARY KEY,
    b_level TEXT, b_suggested TEXT, b_verdicts TEXT, b_sha256 TEXT, b_excepted TEXT,
    level TEXT NOT NULL,
    suggested TEXT NOT NULL,
    verdicts TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    excepted TEXT NOT NULL
) WITHOUT ROWID;
DELETE FROM temp.changed;
";

/// What a run saw, as 128-bit hashes of the files' keys and the documents'
/// paths (16 bytes each, where rows of a temporary table cost ~200): what
/// the store holds and the run did not see is gone. The hashes are keyed
/// at random per run (they never leave the process), so no file name can
/// be made to collide with another.
#[derive(Default)]
struct Seen {
    keys: SeenKeys,
    files: Vec<u128>,
    documents: Vec<u128>,
}

impl Seen {
    /// Sorts both lists for [`Seen::has`].
    fn sorted(mut self) -> Seen {
        self.files.sort_unstable();
        self.files.dedup();
        self.documents.sort_unstable();
        self.documents.dedup();
        self
    }

    fn has(&self, list: &[u128], text: &str) -> bool {
        list.binary_search(&self.keys.hash(text)).is_ok()
    }
}

/// Two randomly keyed SipHash functions, one for each half of a hash.
#[derive(Default, Clone)]
struct SeenKeys(RandomState, RandomState);

impl SeenKeys {
    fn hash(&self, text: &str) -> u128 {
        let high = u128::from(self.0.hash_one(text));
        let low = u128::from(self.1.hash_one(text));
        (high << 64) | low
    }
}

/// The writer thread's side of a run: its connection and what it saw.
struct RunWriter {
    conn: Connection,
    seen: Seen,
}

pub struct SqliteStore {
    path: PathBuf,
    /// The writer connection while no run writes, or after its writer
    /// ended (in a mutex only so that the store can be shared).
    conn: Mutex<Option<Connection>>,
    readers: Mutex<Vec<Connection>>,
    writes: QueuedWriter<RunWriter>,
    /// What the run saw, once its writer has ended.
    seen: Seen,
    /// The run being written (its `seq`).
    run: i64,
    /// The id of its scope in `scopes`.
    scope: i64,
    /// Whether the run's unseen files and documents are already dropped
    /// ([`Store::prepare_commit`]).
    dropped: bool,
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
            seen: Seen::default(),
            run: 0,
            scope: 0,
            dropped: false,
        }
    }

    /// Opens or creates the store at `path`, migrating an older schema and
    /// refusing a newer one or a file that is no store.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path).map_err(|e| unusable(path, e))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend)?;
        // FULL: the one commit per run must survive a power loss. The
        // writer reads through SQLite's page cache, not a mapping: the
        // snapshot reader maps the file already, and every page mapped
        // twice counted twice in the process's resident memory (an
        // unchanged rescan of 100,000 files peaked at 192-235 MB, the
        // 81 MB store mapped by both connections).
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
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
        if let Some((writer, result)) = finished {
            self.put_conn(writer.conn);
            self.seen = writer.seen.sorted();
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
        let (run_seq, scope) = (self.run, self.scope);
        self.seen = Seen::default();
        self.dropped = false;
        let writer = RunWriter {
            conn,
            seen: Seen::default(),
        };
        self.writes = QueuedWriter::start(writer, move |writer, receiver| {
            write_all(writer, run_seq, scope, receiver).map_err(|e| e.to_string())
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
        let scope = self.scope;
        let seen = std::mem::take(&mut self.seen);
        let result = {
            let conn = self.conn()?;
            compare_with_baseline(conn, scope, &seen, each)
        };
        self.seen = seen;
        result.map_err(backend)
    }

    fn prepare_commit(&mut self, roots: &[String]) -> Result<(), StoreError> {
        self.end_writes()?;
        if self.dropped {
            return Ok(());
        }
        let scope = self.scope;
        let seen = std::mem::take(&mut self.seen);
        let dropped = {
            let conn = self.conn()?;
            drop_unseen_files(conn, roots, &seen)
                .and_then(|_| drop_unseen_documents(conn, scope, &seen))
        };
        self.seen = seen;
        dropped.map_err(backend)?;
        self.dropped = true;
        Ok(())
    }

    fn commit_run(&mut self, run: &RunRecord, roots: &[String]) -> Result<(), StoreError> {
        self.prepare_commit(roots)?;
        let seq = self.run;
        let conn = self.conn()?;
        conn.execute(
            "UPDATE runs SET finished_at = ?2, complete = ?3, counts = ?4, committed = 1 WHERE seq = ?1",
            params![seq, run.finished_at, run.complete, run.counts],
        )
        .map_err(backend)?;
        conn.execute_batch("COMMIT").map_err(backend)?;
        // The WAL is folded back into the file when the store is closed,
        // the last connection on it (see `Drop`).
        Ok(())
    }
}

/// Calls `each` for every document of `scope` that is new, changed (both
/// from `temp.changed`) or removed (stored, and not among `seen`), in path
/// order: the two queries are merged as they stream.
fn compare_with_baseline(
    conn: &Connection,
    scope: i64,
    seen: &Seen,
    each: &mut dyn FnMut(StatePair) -> std::io::Result<()>,
) -> rusqlite::Result<()> {
    let mut changed = conn.prepare(
        "SELECT b_level, b_suggested, b_verdicts, b_sha256, b_excepted,
                path, level, suggested, verdicts, sha256, excepted
         FROM temp.changed ORDER BY path",
    )?;
    // Paths only: the full state is read for the few that are gone.
    let stored_sql = if all_seen(conn, DOCUMENTS_IN_SCOPE, params![scope], &seen.documents)? {
        "SELECT path FROM documents WHERE scope = ?1 AND 0"
    } else {
        "SELECT path FROM documents WHERE scope = ?1 ORDER BY path"
    };
    let mut stored = conn.prepare(stored_sql)?;
    let mut state =
        conn.prepare_cached("SELECT path, level, suggested, verdicts, sha256, excepted FROM documents WHERE scope = ?1 AND path = ?2")?;
    let mut changed = changed.query([])?.mapped(|r| {
        let after = state_of(r, 5)?.ok_or(rusqlite::Error::InvalidColumnType(
            5,
            "path".into(),
            rusqlite::types::Type::Null,
        ))?;
        let before = match r.get::<_, Option<String>>(0)? {
            None => None,
            Some(level) => Some(DocumentState {
                path: after.path.clone(),
                level,
                suggested: r.get(1)?,
                verdicts: r.get(2)?,
                sha256: r.get(3)?,
                excepted: r.get(4)?,
            }),
        };
        Ok((before, Some(after)))
    });
    let mut removed = stored
        .query([scope])?
        .mapped(|r| r.get::<_, String>(0))
        .filter(|path| match path {
            Ok(path) => !seen.has(&seen.documents, path),
            Err(_) => true,
        })
        .map(|path| state.query_row(params![scope, path?], |r| state_of(r, 0)));
    let mut next_changed = changed.next().transpose()?;
    let mut next_removed = removed.next().transpose()?.flatten();
    loop {
        let pair = match (&next_changed, &next_removed) {
            (None, None) => return Ok(()),
            (Some((_, Some(a))), Some(b)) if a.path < b.path => next_changed.take(),
            (Some(_), None) => next_changed.take(),
            _ => next_removed.take().map(|b| (Some(b), None)),
        };
        if let Some(pair) = pair {
            each(pair).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        }
        if next_changed.is_none() {
            next_changed = changed.next().transpose()?;
        }
        if next_removed.is_none() {
            next_removed = removed.next().transpose()?.flatten();
        }
    }
}

/// Counts the stored documents of a scope.
const DOCUMENTS_IN_SCOPE: &str = "SELECT count(*) FROM documents WHERE scope = ?1";

/// Whether the run saw every stored row that `count_sql` counts. Every
/// file and document the run saw is stored by now (the unchanged ones
/// were, the others were written as they came), so when the run saw as
/// many distinct ones as are stored, none is unseen: a rescan where
/// nothing was removed is spared the pass over every stored key.
fn all_seen(
    conn: &Connection,
    count_sql: &str,
    params: impl rusqlite::Params,
    seen: &[u128],
) -> rusqlite::Result<bool> {
    let stored: i64 = conn.query_row(count_sql, params, |r| r.get(0))?;
    Ok(usize::try_from(stored).is_ok_and(|stored| stored == seen.len()))
}

/// Deletes the stored files below `roots` that the run did not see.
fn drop_unseen_files(conn: &Connection, roots: &[String], seen: &Seen) -> rusqlite::Result<()> {
    let mut stored = 0usize;
    for root in roots {
        let (low, high) = key_range(root);
        let count = "SELECT count(*) FROM files WHERE key = ?1 OR (key >= ?2 AND key < ?3)";
        let n: i64 = conn.query_row(count, params![root, low, high], |r| r.get(0))?;
        stored += usize::try_from(n).unwrap_or(usize::MAX);
    }
    if stored == seen.files.len() {
        return Ok(());
    }
    let mut gone = Vec::new();
    for root in roots {
        let (low, high) = key_range(root);
        gone.extend(unseen(
            conn,
            "SELECT key FROM files WHERE key = ?1 OR (key >= ?2 AND key < ?3)",
            params![root, low, high],
            seen,
            &seen.files,
        )?);
    }
    let mut delete = conn.prepare_cached("DELETE FROM files WHERE key = ?1")?;
    for key in gone {
        delete.execute([key])?;
    }
    Ok(())
}

/// Deletes the stored documents of `scope` that the run did not see: the
/// scope's states become the run's (new and changed ones were written as
/// they came).
fn drop_unseen_documents(conn: &Connection, scope: i64, seen: &Seen) -> rusqlite::Result<()> {
    if all_seen(conn, DOCUMENTS_IN_SCOPE, params![scope], &seen.documents)? {
        return Ok(());
    }
    let sql = "SELECT path FROM documents WHERE scope = ?1";
    let gone = unseen(conn, sql, params![scope], seen, &seen.documents)?;
    let mut delete = conn.prepare_cached("DELETE FROM documents WHERE scope = ?1 AND path = ?2")?;
    for path in gone {
        delete.execute(params![scope, path])?;
    }
    Ok(())
}

/// The texts `sql` selects (one column) that are not in `list` of `seen`.
fn unseen(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    seen: &Seen,
    list: &[u128],
) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut gone = Vec::new();
    while let Some(row) = rows.next()? {
        let text: String = row.get(0)?;
        if !seen.has(list, &text) {
            gone.push(text);
        }
    }
    Ok(gone)
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
    writer: &mut RunWriter,
    run: i64,
    scope: i64,
    receiver: std::sync::mpsc::Receiver<Vec<Write>>,
) -> rusqlite::Result<()> {
    let RunWriter { conn, seen } = writer;
    let mut put_file = conn.prepare_cached(
        "INSERT OR REPLACE INTO files (key, size, mtime_ns, inode, device, fingerprint, outcome, seen_run) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut documents = DocumentWriter::new(conn, scope)?;
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
                seen.files.push(seen.keys.hash(&file.key));
            }
            Write::Seen(key) => seen.files.push(seen.keys.hash(&key)),
            Write::Document(d) => {
                seen.documents.push(seen.keys.hash(&d.path));
                documents.save(d)?;
            }
        }
    }
    Ok(())
}

/// Compares each document of the run with the scope's stored state and
/// writes only what differs: the new state into `documents`, and a
/// new or changed one into `temp.changed` too (a new hash alone is no
/// change to report, but is stored).
struct DocumentWriter<'c> {
    stored: rusqlite::CachedStatement<'c>,
    put: rusqlite::CachedStatement<'c>,
    changed: rusqlite::CachedStatement<'c>,
    scope: i64,
}

impl<'c> DocumentWriter<'c> {
    fn new(conn: &'c Connection, scope: i64) -> rusqlite::Result<DocumentWriter<'c>> {
        Ok(DocumentWriter {
            stored: conn.prepare_cached(
                "SELECT path, level, suggested, verdicts, sha256, excepted
                 FROM documents WHERE scope = ?1 AND path = ?2",
            )?,
            put: conn.prepare_cached(
                "INSERT OR REPLACE INTO documents (scope, path, level, suggested, verdicts, sha256, excepted) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?,
            // A path saved twice keeps its first stored state as `b_*`.
            changed: conn.prepare_cached(
                "INSERT INTO temp.changed (path, b_level, b_suggested, b_verdicts, b_sha256, b_excepted, level, suggested, verdicts, sha256, excepted)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (path) DO UPDATE SET level = excluded.level, suggested = excluded.suggested,
                   verdicts = excluded.verdicts, sha256 = excluded.sha256, excepted = excluded.excepted",
            )?,
            scope,
        })
    }

    fn save(&mut self, d: DocumentState) -> rusqlite::Result<()> {
        let before = self
            .stored
            .query_row(params![self.scope, d.path], |r| state_of(r, 0))
            .optional()?
            .flatten();
        let differs = before.as_ref().is_none_or(|b| {
            (&b.level, &b.suggested, &b.verdicts, &b.excepted)
                != (&d.level, &d.suggested, &d.verdicts, &d.excepted)
        });
        if differs {
            let b = before.as_ref();
            self.changed.execute(params![
                d.path,
                b.map(|b| &b.level),
                b.map(|b| &b.suggested),
                b.map(|b| &b.verdicts),
                b.map(|b| &b.sha256),
                b.map(|b| &b.excepted),
                d.level,
                d.suggested,
                d.verdicts,
                d.sha256,
                d.excepted
            ])?;
        }
        if differs || before.is_some_and(|b| b.sha256 != d.sha256) {
            self.put.execute(params![
                self.scope,
                d.path,
                d.level,
                d.suggested,
                d.verdicts,
                d.sha256,
                d.excepted
            ])?;
        }
        Ok(())
    }
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
    fn changes_come_in_path_order_and_a_new_hash_alone_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let mut store = SqliteStore::open(&path).unwrap();
        store.begin_run(&run("r1")).unwrap();
        for p in ["/s/a", "/s/b", "/s/c", "/s/d"] {
            store.save_document(doc(p, "OK"));
        }
        store.commit_run(&run("r1"), &["/s".into()]).unwrap();

        store.begin_run(&run("r2")).unwrap();
        store.save_document(doc("/s/e", "OK"));
        store.save_document(doc("/s/a", "UNLABELED"));
        store.save_document(DocumentState {
            sha256: "new".into(),
            ..doc("/s/b", "OK")
        });
        store.save_document(doc("/s/d", "OK"));
        let found: Vec<(Option<String>, Option<String>)> = changes(&mut store)
            .into_iter()
            .map(|(b, a)| (b.map(|b| b.path), a.map(|a| a.verdicts)))
            .collect();
        let expected = [
            (Some("/s/a".to_string()), Some("UNLABELED".to_string())),
            (Some("/s/c".to_string()), None),
            (None, Some("OK".to_string())),
        ];
        assert_eq!(found, expected);
        store.commit_run(&run("r2"), &["/s".into()]).unwrap();

        store.begin_run(&run("r3")).unwrap();
        store.save_document(doc("/s/a", "UNLABELED"));
        store.save_document(DocumentState {
            sha256: "new".into(),
            ..doc("/s/b", "OK")
        });
        store.save_document(doc("/s/d", "OK"));
        store.save_document(doc("/s/e", "OK"));
        assert!(changes(&mut store).is_empty(), "r2's states were kept");
        store.commit_run(&run("r3"), &["/s".into()]).unwrap();
        let hash: String = store
            .conn()
            .unwrap()
            .query_row(
                "SELECT sha256 FROM documents WHERE path = '/s/b'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(hash, "new", "a new hash is stored though it is no change");
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
