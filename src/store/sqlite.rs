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
    /// Files and documents the run added to the store (not replaced).
    new_files: usize,
    new_documents: usize,
}

impl Seen {
    /// Sorts both lists for [`Seen::has`].
    fn sorted(mut self) -> Seen {
        let sort = |list: &mut Vec<u128>| {
            list.sort_unstable();
            list.dedup();
        };
        let Seen {
            files, documents, ..
        } = &mut self;
        // Side by side: the run waits for both.
        std::thread::scope(|scope| {
            scope.spawn(|| sort(documents));
            sort(files);
        });
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

/// How many rows the store holds: files below the run's roots, documents
/// of its scope. Unknown is counted (a pass over the index); known, the
/// run adds what it stored anew, and when that equals what it saw, none
/// is unseen and an unchanged rescan is spared both passes.
#[derive(Default, Clone, Copy, Debug, PartialEq)]
struct Held {
    files: Option<usize>,
    documents: Option<usize>,
}

/// Where a run's counts keep what the store held after it.
const HELD_FILES: &str = "store_files";
const HELD_DOCUMENTS: &str = "store_documents";

impl Held {
    /// What the store held after the scope's baseline run, as its counts
    /// say. Documents change only with runs of their scope; files below the
    /// roots also with other scopes' runs, so their count holds only while
    /// the baseline is the last committed run of all.
    fn after_baseline(conn: &Connection, scope: &str) -> rusqlite::Result<Held> {
        let baseline = conn
            .query_row(
                "SELECT seq, counts, seq = (SELECT max(seq) FROM runs WHERE committed = 1)
                 FROM runs WHERE scope = ?1 AND committed = 1 ORDER BY seq DESC LIMIT 1",
                [scope],
                |r| Ok((r.get::<_, String>(1)?, r.get::<_, bool>(2)?)),
            )
            .optional()?;
        let Some((counts, last)) = baseline else {
            return Ok(Held::default());
        };
        let counts: serde_json::Value = serde_json::from_str(&counts).unwrap_or_default();
        let held = |key: &str| counts[key].as_u64().and_then(|n| usize::try_from(n).ok());
        Ok(Held {
            files: held(HELD_FILES).filter(|_| last),
            documents: held(HELD_DOCUMENTS),
        })
    }

    /// `counts` with what the store holds added.
    fn noted_in(self, counts: &str) -> String {
        let mut value: serde_json::Value = serde_json::from_str(counts).unwrap_or_default();
        if let serde_json::Value::Object(map) = &mut value {
            if let Some(n) = self.files {
                map.insert(HELD_FILES.into(), n.into());
            }
            if let Some(n) = self.documents {
                map.insert(HELD_DOCUMENTS.into(), n.into());
            }
            return value.to_string();
        }
        counts.to_string()
    }
}

/// The writer thread's side of a run: its connection and what it saw.
struct RunWriter {
    conn: Connection,
    seen: Seen,
    /// A reader of the last committed run's states, for [`InOrder`];
    /// none if it could not be opened (the writer then searches each).
    baseline: Option<Connection>,
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
    /// What the store held when the run began, if known, and once its
    /// writes are in (before dropping what it did not see).
    held_before: Held,
    held: Held,
    /// The thread closing the run's readers.
    closing_readers: Option<std::thread::JoinHandle<()>>,
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
            held_before: Held::default(),
            held: Held::default(),
            closing_readers: None,
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
        self.readers_closed();
        let readers = std::mem::take(self.readers.get_mut().unwrap_or_else(|e| e.into_inner()));
        if !readers.is_empty() {
            // Closing a reader unmaps its pages and frees its cache, some
            // milliseconds for a few of them: beside the end of the run,
            // not on its way (they must be gone before the writer closes).
            self.closing_readers = std::thread::Builder::new()
                .name("close-readers".into())
                .spawn(move || drop(readers))
                .ok();
        }
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

    /// Waits until the readers [`SqliteStore::end_writes`] let go are closed.
    fn readers_closed(&mut self) {
        if let Some(closing) = self.closing_readers.take() {
            let _ = closing.join();
        }
    }

    /// The documents of the run's scope the store holds with the run's
    /// writes in: the baseline's plus those the run added, or counted.
    fn documents_held(&mut self) -> Result<usize, StoreError> {
        if let Some(n) = self.held.documents {
            return Ok(n);
        }
        let added = self.seen.new_documents;
        let n = match self.held_before.documents {
            Some(n) => n + added,
            None => {
                let scope = self.scope;
                count(self.conn()?, DOCUMENTS_IN_SCOPE, params![scope]).map_err(backend)?
            }
        };
        self.held.documents = Some(n);
        Ok(n)
    }

    /// The stored files below `roots` with the run's writes in.
    fn files_held(&mut self, roots: &[String]) -> Result<usize, StoreError> {
        if let Some(n) = self.held.files {
            return Ok(n);
        }
        let added = self.seen.new_files;
        let n = match self.held_before.files {
            Some(n) => n + added,
            None => files_below(self.conn()?, roots).map_err(backend)?,
        };
        self.held.files = Some(n);
        Ok(n)
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
                // Parsed where SQLite keeps the text, not from a copy.
                let outcome = serde_json::from_slice::<StoredOutcome>(r.get_ref(5)?.as_bytes()?);
                Ok((
                    FileIdentity {
                        size: r.get::<_, i64>(0)? as u64,
                        mtime_ns: r.get(1)?,
                        inode: r.get::<_, i64>(2)? as u64,
                        device: r.get::<_, i64>(3)? as u64,
                    },
                    r.get::<_, String>(4)?,
                    outcome,
                ))
            })
            .optional()
        })?;
        // A row that no longer parses (an older shape) is a cache miss.
        let Some((identity, fingerprint, Ok(outcome))) = row else {
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
            .and_then(|_| scope_id(&conn, &run.scope))
            .and_then(|id| Ok((id, Held::after_baseline(&conn, &run.scope)?)));
        match scope {
            Ok((id, held)) => (self.scope, self.held_before) = (id, held),
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                self.put_conn(conn);
                return Err(backend(e));
            }
        }
        let (run_seq, scope) = (self.run, self.scope);
        self.seen = Seen::default();
        self.dropped = false;
        self.held = Held::default();
        let writer = RunWriter {
            conn,
            seen: Seen::default(),
            baseline: baseline_reader(&self.path).ok(),
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
        let held = self.documents_held()?;
        let seen = std::mem::take(&mut self.seen);
        let all_seen = held == seen.documents.len();
        let result = {
            let conn = self.conn()?;
            compare_with_baseline(conn, scope, &seen, all_seen, each)
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
        let documents = self.documents_held()?;
        let files = self.files_held(roots)?;
        let seen = std::mem::take(&mut self.seen);
        let dropped = {
            let conn = self.conn()?;
            drop_unseen_files(conn, roots, &seen, files)
                .and_then(|f| Ok((f, drop_unseen_documents(conn, scope, &seen, documents)?)))
        };
        self.seen = seen;
        let (files_dropped, documents_dropped) = dropped.map_err(backend)?;
        self.held = Held {
            files: Some(files - files_dropped),
            documents: Some(documents - documents_dropped),
        };
        self.dropped = true;
        Ok(())
    }

    fn commit_run(&mut self, run: &RunRecord, roots: &[String]) -> Result<(), StoreError> {
        self.prepare_commit(roots)?;
        let seq = self.run;
        let counts = self.held.noted_in(&run.counts);
        let conn = self.conn()?;
        conn.execute(
            "UPDATE runs SET finished_at = ?2, complete = ?3, counts = ?4, committed = 1 WHERE seq = ?1",
            params![seq, run.finished_at, run.complete, counts],
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
    all_seen: bool,
    each: &mut dyn FnMut(StatePair) -> std::io::Result<()>,
) -> rusqlite::Result<()> {
    let mut changed = conn.prepare(
        "SELECT b_level, b_suggested, b_verdicts, b_sha256, b_excepted,
                path, level, suggested, verdicts, sha256, excepted
         FROM temp.changed ORDER BY path",
    )?;
    // Paths only: the full state is read for the few that are gone.
    let stored_sql = if all_seen {
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

/// Counts what `count_sql` selects.
fn count(
    conn: &Connection,
    count_sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<usize> {
    let n: i64 = conn.query_row(count_sql, params, |r| r.get(0))?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Counts the stored files below `roots`.
fn files_below(conn: &Connection, roots: &[String]) -> rusqlite::Result<usize> {
    let mut stored = 0usize;
    for root in roots {
        let (low, high) = key_range(root);
        let sql = "SELECT count(*) FROM files WHERE key = ?1 OR (key >= ?2 AND key < ?3)";
        stored = stored.saturating_add(count(conn, sql, params![root, low, high])?);
    }
    Ok(stored)
}

/// Deletes the stored files below `roots` that the run did not see, of
/// the `held` there; returns how many. Every file the run saw is stored by
/// now (the unchanged ones were, the others were written as they came),
/// so when the run saw as many as are held, none is unseen.
fn drop_unseen_files(
    conn: &Connection,
    roots: &[String],
    seen: &Seen,
    held: usize,
) -> rusqlite::Result<usize> {
    if held == seen.files.len() {
        return Ok(0);
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
    for key in &gone {
        delete.execute([key])?;
    }
    Ok(gone.len())
}

/// Deletes the stored documents of `scope` that the run did not see, of
/// the `held` there; returns how many. The scope's states become the
/// run's (new and changed ones were written as they came).
fn drop_unseen_documents(
    conn: &Connection,
    scope: i64,
    seen: &Seen,
    held: usize,
) -> rusqlite::Result<usize> {
    if held == seen.documents.len() {
        return Ok(0);
    }
    let sql = "SELECT path FROM documents WHERE scope = ?1";
    let gone = unseen(conn, sql, params![scope], seen, &seen.documents)?;
    let mut delete = conn.prepare_cached("DELETE FROM documents WHERE scope = ?1 AND path = ?2")?;
    for path in &gone {
        delete.execute(params![scope, path])?;
    }
    Ok(gone.len())
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
    let RunWriter {
        conn,
        seen,
        baseline,
    } = writer;
    let mut ordered = match baseline {
        Some(reader) => Some(reader.prepare(STATES_IN_ORDER)?),
        None => None,
    };
    let mut in_order = match &mut ordered {
        Some(statement) => Some(InOrder::new(statement.query([scope])?)),
        None => None,
    };
    // Added and replaced files apart: the run counts what it added.
    let mut add_file = conn.prepare_cached(
        "INSERT OR IGNORE INTO files (key, size, mtime_ns, inode, device, fingerprint, outcome, seen_run) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut replace_file = conn.prepare_cached(
        "UPDATE files SET size = ?2, mtime_ns = ?3, inode = ?4, device = ?5, fingerprint = ?6, outcome = ?7, seen_run = ?8 WHERE key = ?1",
    )?;
    let mut documents = DocumentWriter::new(conn, scope)?;
    for write in receiver.into_iter().flatten() {
        match write {
            Write::File(file) => {
                let outcome = serde_json::to_string(&file.outcome)
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
                let id = file.identity;
                let row = params![
                    file.key,
                    id.size as i64,
                    id.mtime_ns,
                    id.inode as i64,
                    id.device as i64,
                    file.fingerprint,
                    outcome,
                    run
                ];
                if add_file.execute(row)? == 1 {
                    seen.new_files += 1;
                } else {
                    replace_file.execute(row)?;
                }
                seen.files.push(seen.keys.hash(&file.key));
            }
            Write::Seen(key) => seen.files.push(seen.keys.hash(&key)),
            Write::Document(d) => {
                seen.documents.push(seen.keys.hash(&d.path));
                if documents.save(d, in_order.as_mut())? {
                    seen.new_documents += 1;
                }
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

    /// Saves `d`; returns whether the scope had no state for it.
    /// Saves `d`; returns whether the scope had no state for it. Its stored
    /// state comes from `in_order` while the documents come in path
    /// order, else from a search in the run's own transaction (which also
    /// sees a path saved earlier in the run).
    fn save(&mut self, d: DocumentState, in_order: Option<&mut InOrder>) -> rusqlite::Result<bool> {
        let seen = match in_order {
            Some(in_order) => in_order.seek(&d.path)?,
            None => Seek::OutOfOrder,
        };
        let stored = match seen {
            Seek::At(row) => Some(Compared::of(&d, row)),
            Seek::Absent => None,
            Seek::OutOfOrder => self
                .stored
                .query_row(params![self.scope, d.path], |r| {
                    Ok(state_of(r, 0)?.map(|b| Compared::of(&d, &b)))
                })
                .optional()?
                .flatten(),
        };
        let differs = stored.as_ref().is_none_or(|c| c.before.is_some());
        if differs {
            let b = stored.as_ref().and_then(|c| c.before.as_ref());
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
        if differs || stored.as_ref().is_some_and(|c| !c.same_hash) {
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
        Ok(stored.is_none())
    }
}

/// A document's stored state against its state in the run.
struct Compared {
    /// The stored state when it differs (copied only then).
    before: Option<DocumentState>,
    same_hash: bool,
}

impl Compared {
    fn of(d: &DocumentState, stored: &DocumentState) -> Compared {
        let same = (
            &stored.level,
            &stored.suggested,
            &stored.verdicts,
            &stored.excepted,
        ) == (&d.level, &d.suggested, &d.verdicts, &d.excepted);
        Compared {
            before: (!same).then(|| stored.clone()),
            same_hash: stored.sha256 == d.sha256,
        }
    }
}

/// The stored states of a run's scope, in path order.
const STATES_IN_ORDER: &str = "SELECT path, level, suggested, verdicts, sha256, excepted
     FROM documents WHERE scope = ?1 ORDER BY path";

/// A reader that stays in one read transaction: the last committed run's
/// states, none of the run's own. Unmapped: the snapshot readers map the
/// file already, and a page mapped twice counts twice in resident memory.
fn baseline_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = read_only(path)?;
    conn.execute_batch("BEGIN DEFERRED")?;
    Ok(conn)
}

/// The scope's stored states read in step with the run's documents, which
/// come in the walk's order: path order, but where a folder's name sorts
/// before a file name it prefixes (`a/x` is walked before `a.txt`). In
/// order, a document costs a step through the states; out of order (or a
/// path seen again) the writer searches, as without this.
struct InOrder<'s> {
    rows: rusqlite::Rows<'s>,
    /// The state the rows are at, copied into buffers that are reused.
    at: DocumentState,
    started: bool,
    ended: bool,
    /// The last path sought.
    last: String,
}

enum Seek<'a> {
    At(&'a DocumentState),
    Absent,
    OutOfOrder,
}

impl<'s> InOrder<'s> {
    fn new(rows: rusqlite::Rows<'s>) -> InOrder<'s> {
        InOrder {
            rows,
            at: DocumentState::default(),
            started: false,
            ended: false,
            last: String::new(),
        }
    }

    fn seek(&mut self, path: &str) -> rusqlite::Result<Seek<'_>> {
        if self.started && path <= self.last.as_str() {
            return Ok(Seek::OutOfOrder);
        }
        self.last.clear();
        self.last.push_str(path);
        if !self.started {
            self.started = true;
            self.step()?;
        }
        while !self.ended && self.at.path.as_str() < path {
            self.step()?;
        }
        Ok(if !self.ended && self.at.path == path {
            Seek::At(&self.at)
        } else {
            Seek::Absent
        })
    }

    /// Moves to the next stored state.
    fn step(&mut self) -> rusqlite::Result<()> {
        let Some(row) = self.rows.next()? else {
            self.ended = true;
            return Ok(());
        };
        let at = &mut self.at;
        for (i, field) in [
            &mut at.path,
            &mut at.level,
            &mut at.suggested,
            &mut at.verdicts,
            &mut at.sha256,
            &mut at.excepted,
        ]
        .into_iter()
        .enumerate()
        {
            field.clear();
            field.push_str(row.get_ref(i)?.as_str()?);
        }
        Ok(())
    }
}

impl Drop for SqliteStore {
    /// A run that was not committed is rolled back: the store stays as the
    /// previous run left it.
    fn drop(&mut self) {
        let _ = self.end_writes();
        self.readers_closed();
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

    fn file(key: &str, size: u64) -> StoredFile {
        StoredFile {
            key: key.into(),
            identity: FileIdentity {
                size,
                ..Default::default()
            },
            fingerprint: "f".into(),
            outcome: StoredOutcome::default(),
        }
    }

    fn held_after(store: &SqliteStore, id: &str) -> (u64, u64) {
        let run = store.runs().unwrap().into_iter().find(|r| r.run_id == id);
        let counts: serde_json::Value = serde_json::from_str(&run.unwrap().counts).unwrap();
        let held = |key: &str| counts[key].as_u64().unwrap();
        (held(HELD_FILES), held(HELD_DOCUMENTS))
    }

    #[test]
    fn what_a_run_leaves_is_counted_and_the_next_run_of_the_scope_goes_on_from_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("s.sqlite")).unwrap();
        let on = |id: &str, scope: &str| RunRecord {
            scope: scope.into(),
            counts: "{}".into(),
            ..run(id)
        };
        store.begin_run(&on("r1", "/s")).unwrap();
        for key in ["/s/a", "/s/b"] {
            store.save_file(file(key, 1));
            store.save_document(doc(key, "OK"));
        }
        store.commit_run(&on("r1", "/s"), &["/s".into()]).unwrap();
        assert_eq!(held_after(&store, "r1"), (2, 2));

        // b read again (replaced, not added), nothing unseen: nothing dropped.
        store.begin_run(&on("r2", "/s")).unwrap();
        assert_eq!(store.held_before.files, Some(2));
        store.file_seen("/s/a");
        store.save_file(file("/s/b", 2));
        store.save_document(doc("/s/a", "OK"));
        store.save_document(doc("/s/b", "OK"));
        assert!(changes(&mut store).is_empty());
        store.commit_run(&on("r2", "/s"), &["/s".into()]).unwrap();
        assert_eq!(held_after(&store, "r2"), (2, 2));
        assert_eq!(store.stored_file("/s/b").unwrap().unwrap().identity.size, 2);

        // b unseen: removed and dropped, though no pass counted the store.
        store.begin_run(&on("r3", "/s")).unwrap();
        store.file_seen("/s/a");
        store.save_document(doc("/s/a", "OK"));
        let found = changes(&mut store);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0.as_ref().unwrap().path, "/s/b");
        assert!(found[0].1.is_none());
        store.commit_run(&on("r3", "/s"), &["/s".into()]).unwrap();
        assert_eq!(held_after(&store, "r3"), (1, 1));
        assert!(store.stored_file("/s/b").unwrap().is_none());

        // Another scope's run adds a file below /s: /s's count no longer
        // holds, and the next /s run counts and drops it.
        store.begin_run(&on("r4", "/s/sub")).unwrap();
        store.save_file(file("/s/sub/c", 1));
        store
            .commit_run(&on("r4", "/s/sub"), &["/s/sub".into()])
            .unwrap();
        store.begin_run(&on("r5", "/s")).unwrap();
        assert_eq!(
            store.held_before,
            Held {
                files: None,
                documents: Some(1)
            }
        );
        store.file_seen("/s/a");
        store.save_document(doc("/s/a", "OK"));
        store.commit_run(&on("r5", "/s"), &["/s".into()]).unwrap();
        assert!(
            store.stored_file("/s/sub/c").unwrap().is_none(),
            "unseen by /s"
        );
        assert_eq!(held_after(&store, "r5"), (1, 1));
    }

    #[test]
    fn stored_states_are_read_in_step_and_sought_when_out_of_order_or_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("s.sqlite")).unwrap();
        let on = |id: &str| RunRecord {
            counts: "{}".into(),
            ..run(id)
        };
        store.begin_run(&on("r1")).unwrap();
        for p in ["/s/a", "/s/a.txt", "/s/a/x", "/s/b"] {
            store.save_document(doc(p, "OK"));
        }
        store.commit_run(&on("r1"), &["/s".into()]).unwrap();

        // The walk's order: a folder before the file its name prefixes.
        store.begin_run(&on("r2")).unwrap();
        store.save_document(doc("/s/a/x", "OK"));
        store.save_document(doc("/s/a.txt", "OK"));
        store.save_document(doc("/s/b", "UNLABELED"));
        store.save_document(doc("/s/c", "OK"));
        store.save_document(doc("/s/c", "UNLABELED"));
        let found: Vec<(Option<String>, Option<String>)> = changes(&mut store)
            .into_iter()
            .map(|(b, a)| (b.map(|b| b.verdicts), a.map(|a| a.path)))
            .collect();
        let expected = [
            (Some("OK".to_string()), None),
            (Some("OK".to_string()), Some("/s/b".to_string())),
            (None, Some("/s/c".to_string())),
        ];
        assert_eq!(found, expected, "a removed, b changed, c new once");
        store.commit_run(&on("r2"), &["/s".into()]).unwrap();
        assert_eq!(held_after(&store, "r2").1, 4);
        let verdicts: String = store
            .conn()
            .unwrap()
            .query_row(
                "SELECT verdicts FROM documents WHERE path = '/s/c'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            verdicts, "UNLABELED",
            "the later state of a path saved twice"
        );
    }
}
