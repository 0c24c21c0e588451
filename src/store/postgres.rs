//! The PostgreSQL state store (`--db postgres://...`, SPEC "Many hosts"):
//! the SQLite store's schema and behaviour in a database that many hosts
//! share. As there, a run's rows are written by one writer thread into one
//! transaction that commits after the run's reports, and workers look
//! stored analyses up through connections of their own, which see the last
//! committed run and never the one in the making. Rows are written a batch
//! at a time (arrays unnested into one statement), so that a file costs no
//! round trip of its own.
//!
//! Paths are compared byte by byte (`COLLATE "C"`), as in SQLite: the key
//! ranges of folders and the order of `changes.csv` must not depend on the
//! database's locale.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls, Row, Statement};

use super::queue::{QueuedWriter, Write};
use super::{FileIdentity, RunRecord, StatePair, Store, StoreError, StoredFile, StoredOutcome};
use crate::model::DocumentState;

/// The schema this labelscan writes; the same version numbers as the
/// SQLite store's, for the same tables.
pub const SCHEMA_VERSION: i32 = 5;

const MIGRATIONS: &[(i32, &str)] = &[
    (1, SCHEMA_V1),
    (2, SCHEMA_V2),
    (3, SCHEMA_V3),
    (4, SCHEMA_V4),
    (5, SCHEMA_V5),
];

const SCHEMA_V1: &str = r#"
CREATE TABLE runs (
    seq BIGSERIAL PRIMARY KEY,
    run_id TEXT NOT NULL UNIQUE,
    scope TEXT COLLATE "C" NOT NULL,
    paths TEXT NOT NULL,
    options TEXT NOT NULL,
    policy_sha256 TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    detectors_sha256 TEXT NOT NULL,
    analysis_fingerprint TEXT NOT NULL,
    as_of TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL DEFAULT '',
    complete BOOLEAN NOT NULL,
    show_values BOOLEAN NOT NULL,
    committed BOOLEAN NOT NULL DEFAULT false,
    counts TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX runs_by_scope ON runs (scope, committed, seq);
CREATE TABLE files (
    key TEXT COLLATE "C" PRIMARY KEY,
    size BIGINT NOT NULL,
    mtime_ns BIGINT NOT NULL,
    inode BIGINT NOT NULL,
    device BIGINT NOT NULL,
    fingerprint TEXT NOT NULL,
    outcome TEXT NOT NULL,
    seen_run BIGINT NOT NULL
);
CREATE TABLE scopes (
    id BIGSERIAL PRIMARY KEY,
    scope TEXT COLLATE "C" NOT NULL UNIQUE
);
CREATE TABLE documents (
    scope BIGINT NOT NULL,
    path TEXT COLLATE "C" NOT NULL,
    level TEXT NOT NULL,
    suggested TEXT NOT NULL,
    verdicts TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    excepted TEXT NOT NULL,
    PRIMARY KEY (scope, path)
);
"#;

/// The work queue's tables (`src/queue.rs`): schema version 2.
const SCHEMA_V2: &str = r#"
CREATE TABLE queue_runs (
    id BIGSERIAL PRIMARY KEY,
    run_id TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'open',
    host TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    reported_at TIMESTAMPTZ
);
CREATE SEQUENCE queue_leases;
CREATE TABLE queue_units (
    id BIGSERIAL PRIMARY KEY,
    run BIGINT NOT NULL REFERENCES queue_runs (id) ON DELETE CASCADE,
    root INTEGER NOT NULL,
    folder BYTEA NOT NULL,
    part INTEGER NOT NULL,
    names BYTEA,
    state TEXT NOT NULL DEFAULT 'pending',
    owner TEXT,
    lease BIGINT,
    lease_until TIMESTAMPTZ,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    UNIQUE (run, root, folder, part)
);
CREATE INDEX queue_units_open ON queue_units (run, id) WHERE state IN ('pending', 'leased');
CREATE TABLE queue_items (
    run BIGINT NOT NULL,
    root INTEGER NOT NULL,
    key BYTEA NOT NULL,
    unit BIGINT NOT NULL,
    jsonl BYTEA NOT NULL,
    csv BYTEA NOT NULL,
    skipped BYTEA NOT NULL,
    PRIMARY KEY (run, root, key)
);
CREATE TABLE queue_results (
    unit BIGINT PRIMARY KEY,
    run BIGINT NOT NULL,
    summary TEXT NOT NULL
);
CREATE INDEX queue_results_run ON queue_results (run);
CREATE TABLE queue_files (
    run BIGINT NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    size BIGINT NOT NULL,
    mtime_ns BIGINT NOT NULL,
    inode BIGINT NOT NULL,
    device BIGINT NOT NULL,
    fingerprint TEXT NOT NULL,
    outcome TEXT NOT NULL,
    PRIMARY KEY (run, key)
);
CREATE TABLE queue_seen (
    run BIGINT NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (run, key)
);
CREATE TABLE queue_documents (
    run BIGINT NOT NULL,
    path TEXT COLLATE "C" NOT NULL,
    level TEXT NOT NULL,
    suggested TEXT NOT NULL,
    verdicts TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    excepted TEXT NOT NULL,
    PRIMARY KEY (run, path)
);
"#;

/// The work queue's schema version 3: the cap of units per file server (`queue_runs`),
/// each unit's file server, and the leased units by server.
const SCHEMA_V3: &str = r#"
ALTER TABLE queue_runs ADD COLUMN max_units_per_server INTEGER NOT NULL DEFAULT 0;
ALTER TABLE queue_units ADD COLUMN server TEXT NOT NULL DEFAULT '';
CREATE INDEX queue_units_leased ON queue_units (server) WHERE state = 'leased';
"#;

/// The work queue's schema version 4: an item's rows in pieces. A unit
/// whose rows grow large writes them as it goes, under its lease (`lease`,
/// pieces `seq` in order), instead of holding them until it commits; its
/// commit writes the rest with `lease` 0. Pieces under a lease count only
/// if the unit was done under that lease (see `queue::write_rows`).
const SCHEMA_V4: &str = r#"
ALTER TABLE queue_items ADD COLUMN seq INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN lease BIGINT NOT NULL DEFAULT 0;
ALTER TABLE queue_items DROP CONSTRAINT queue_items_pkey;
ALTER TABLE queue_items ADD PRIMARY KEY (run, root, key, seq, lease);
"#;

/// The work queue's schema version 5: a unit's results as parcels (see
/// `queue::parcel`), one row per unit instead of a row per document in
/// each of four tables. A run an earlier labelscan left open only that
/// version can finish and report: the migration refuses while there is
/// one, rather than strand it or drop its staged rows (rows of runs that
/// are reported or deleted are left-overs). The tables are locked first,
/// so that no worker of that version commits between the check and the
/// drop.
const SCHEMA_V5: &str = r#"
LOCK TABLE queue_runs, queue_units, queue_items, queue_files, queue_seen, queue_documents
    IN ACCESS EXCLUSIVE MODE;
DO $$
DECLARE
    open_runs TEXT;
BEGIN
    SELECT string_agg(run_id, ', ' ORDER BY id) INTO open_runs FROM queue_runs WHERE state = 'open';
    IF open_runs IS NOT NULL THEN
        RAISE EXCEPTION 'multi-host runs of an earlier labelscan are still open (%): finish and report them with that version (labelscan report DIR --db URL --run ID), or delete them (DELETE FROM queue_runs WHERE run_id = ...), before upgrading', open_runs;
    END IF;
END $$;
DROP TABLE queue_items, queue_files, queue_seen, queue_documents;
CREATE TABLE queue_parcels (
    run BIGINT NOT NULL,
    root INTEGER NOT NULL,
    unit BIGINT NOT NULL,
    lease BIGINT NOT NULL,
    seq INTEGER NOT NULL,
    first_key BYTEA,
    first_seq INTEGER NOT NULL,
    body BYTEA NOT NULL,
    PRIMARY KEY (unit, lease, seq)
);
ALTER TABLE queue_parcels ALTER COLUMN body SET STORAGE EXTERNAL;
CREATE INDEX queue_parcels_run ON queue_parcels (run);
"#;

/// Per run, in the writer's session only: the keys of the files seen and
/// the documents' states (see the SQLite store).
const RUN_TABLES: &str = r#"
CREATE TEMP TABLE IF NOT EXISTS seen (key TEXT COLLATE "C" PRIMARY KEY);
CREATE TEMP TABLE IF NOT EXISTS current (
    path TEXT COLLATE "C" PRIMARY KEY,
    level TEXT NOT NULL,
    suggested TEXT NOT NULL,
    verdicts TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    excepted TEXT NOT NULL
);
TRUNCATE seen, current;
"#;

/// The rows of this run's documents that are new or differ from the
/// scope's stored ones.
const DIFFERS: &str = "b.path IS NULL
     OR b.level IS DISTINCT FROM a.level OR b.suggested IS DISTINCT FROM a.suggested
     OR b.verdicts IS DISTINCT FROM a.verdicts OR b.excepted IS DISTINCT FROM a.excepted";

/// Advisory lock keys: one writer at a time (as SQLite's write lock), and
/// one migration at a time when several hosts start on a new database.
const WRITER_LOCK: i64 = 0x6c61_6265_6c73_0001;
const MIGRATION_LOCK: i64 = 0x6c61_6265_6c73_0002;

const RUN_COLUMNS: &str = "seq, run_id, scope, paths, options, policy_sha256, tool_version, detectors_sha256, analysis_fingerprint, as_of, started_at, finished_at, complete, show_values, counts";

/// A reader's connection and its prepared lookups.
struct Reader {
    client: Client,
    lookup: Statement,
    /// The stored files directly in one folder (`$1` to `$2` the folder's
    /// key range, `$3` where a child's name starts), at most `$4` of them.
    folder: Statement,
}

/// Most stored files one folder query reads; a larger folder is looked up
/// a file at a time.
const FOLDER_ROWS: usize = 2048;
/// Most stored files the folder cache holds, whatever the folders (a few
/// MB): the folders read last are kept.
const CACHED_ROWS: usize = 16 * 1024;

/// A stored file's row, its outcome not yet parsed.
struct FileRow {
    identity: FileIdentity,
    fingerprint: String,
    outcome: String,
}

/// A folder's stored files by key; `None` for a folder too large to read
/// whole.
type FolderFiles = Option<Arc<HashMap<String, FileRow>>>;

/// The stored files of the folders looked up last, each folder read in one
/// round trip rather than one per file (workers take a folder's files one
/// after another); `None` for a folder too large to read whole.
#[derive(Default)]
struct FolderCache {
    folders: VecDeque<(String, FolderFiles)>,
    rows: usize,
}

impl FolderCache {
    fn get(&self, folder: &str) -> Option<FolderFiles> {
        self.folders
            .iter()
            .rev()
            .find(|(f, _)| f == folder)
            .map(|(_, rows)| rows.clone())
    }

    fn put(&mut self, folder: String, rows: FolderFiles) {
        self.rows += rows.as_ref().map_or(0, |r| r.len());
        self.folders.push_back((folder, rows));
        while self.rows > CACHED_ROWS && self.folders.len() > 1 {
            if let Some((_, gone)) = self.folders.pop_front() {
                self.rows -= gone.map_or(0, |r| r.len());
            }
        }
    }
}

fn file_row(row: &Row, at: usize) -> FileRow {
    FileRow {
        identity: FileIdentity {
            size: row.get::<_, i64>(at) as u64,
            mtime_ns: row.get(at + 1),
            inode: row.get::<_, i64>(at + 2) as u64,
            device: row.get::<_, i64>(at + 3) as u64,
        },
        fingerprint: row.get(at + 4),
        outcome: row.get(at + 5),
    }
}

/// A stored file from its row; a row that no longer parses (an older
/// shape) is a cache miss.
fn stored_of(key: &str, row: &FileRow) -> Option<StoredFile> {
    let outcome = serde_json::from_str::<StoredOutcome>(&row.outcome).ok()?;
    Some(StoredFile {
        key: key.to_string(),
        identity: row.identity,
        fingerprint: row.fingerprint.clone(),
        outcome,
    })
}

pub struct PostgresStore {
    config: postgres::Config,
    /// The URL without its password, for messages and the summary.
    shown: String,
    /// The writer connection while no run writes, or after its writer ended.
    conn: Mutex<Option<Client>>,
    readers: Mutex<Vec<Reader>>,
    folders: Mutex<FolderCache>,
    writes: QueuedWriter<Client>,
    /// The run being written (its `seq`), and the id of its scope.
    run: i64,
    scope: i64,
    /// A multi-host run whose workers' results the run takes in, closed by
    /// its commit (see [`PostgresStore::close_with_queued_run`]).
    queued: Option<i64>,
    /// [`Store::prepare_commit`] is done: the commit only closes the run.
    prepared: bool,
    /// The scope had no stored documents when the run began (its first
    /// run): the run's states go straight to `documents`, as keeping them
    /// would, instead of through `current` and a comparison with nothing
    /// (about half the server's work at the end of a first run).
    first_of_scope: bool,
}

fn backend(e: postgres::Error) -> StoreError {
    StoreError::Backend(describe_error(&e))
}

/// What went wrong with the database, for an operator: the driver's own
/// text says only "db error", so the server's SQLSTATE and message are
/// added (a connection's failure gets its cause). Data exceptions (class
/// 22) quote the value they refused, so their message is left out: errors
/// never print content.
pub fn describe_error(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            if code.starts_with("22") {
                format!("database error {code}")
            } else {
                format!("database error {code}: {}", db.message())
            }
        }
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

/// `url` without the password it may carry (`postgres://user:secret@host`
/// or `password=secret`): URLs are printed and written into summaries.
pub fn redacted(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (authority, tail) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if let Some((userinfo, host)) = authority.rsplit_once('@') {
            let user = userinfo.split(':').next().unwrap_or_default();
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            return redact_params(&format!("{scheme}://{user}{hidden}@{host}{tail}"));
        }
    }
    redact_params(url)
}

/// Hides `password=...` in a key-value connection string or a URL's query.
fn redact_params(text: &str) -> String {
    let Some(at) = text.find("password=") else {
        return text.to_string();
    };
    let value = at + "password=".len();
    let end = text[value..]
        .find(['&', ' '])
        .map(|i| value + i)
        .unwrap_or(text.len());
    format!("{}***{}", &text[..value], &text[end..])
}

/// Whether a `--db` value names a PostgreSQL database.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

impl PostgresStore {
    /// Connects to the database at `url`, creating or migrating the schema
    /// and refusing a newer one or a database that holds other tables.
    pub fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let mut store = PostgresStore::connect(url)?;
        let shown = store.shown.clone();
        migrate(store.client()?, &shown)?;
        Ok(store)
    }

    /// Connects to read the runs (`history`), without migrating.
    pub fn open_read_only(url: &str) -> Result<PostgresStore, StoreError> {
        let mut store = PostgresStore::connect(url)?;
        let shown = store.shown.clone();
        match schema_version(store.client()?).map_err(|e| unusable(&shown, e))? {
            Some(SCHEMA_VERSION) => Ok(store),
            Some(v) if v > SCHEMA_VERSION => Err(newer(&shown, v)),
            Some(v) => Err(StoreError::Unusable(format!(
                "{shown}: an older state store (schema {v}); a scan with this labelscan migrates it"
            ))),
            None => Err(StoreError::Unusable(format!(
                "{shown}: no labelscan state store in this database (scan with --db URL first)"
            ))),
        }
    }

    fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let shown = redacted(url);
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Unusable(format!("{shown}: not a PostgreSQL URL ({e})")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("labelscan");
        }
        let client = config.connect(NoTls).map_err(|e| unusable(&shown, e))?;
        Ok(PostgresStore {
            config,
            shown,
            conn: Mutex::new(Some(client)),
            readers: Mutex::new(Vec::new()),
            folders: Mutex::new(FolderCache::default()),
            writes: QueuedWriter::default(),
            run: 0,
            scope: 0,
            queued: None,
            prepared: false,
            first_of_scope: false,
        })
    }

    /// Where the store is, as messages and summaries show it.
    pub fn location(&self) -> &str {
        &self.shown
    }

    fn client(&mut self) -> Result<&mut Client, StoreError> {
        self.conn
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
            .ok_or_else(|| StoreError::Backend("the store's writer is busy".into()))
    }

    fn take_client(&mut self) -> Option<Client> {
        self.conn
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    fn put_client(&mut self, client: Client) {
        *self.conn.get_mut().unwrap_or_else(|e| e.into_inner()) = Some(client);
    }

    /// Waits for the writer thread and takes its connection back.
    fn end_writes(&mut self) -> Result<(), StoreError> {
        let finished = self
            .writes
            .finish()
            .map_err(|_| StoreError::Backend("the store's writer failed".into()))?;
        if let Some((client, result)) = finished {
            self.put_client(client);
            result.map_err(StoreError::Backend)?;
        }
        Ok(())
    }

    /// Runs `f` on a pooled reader connection, opening one when none is free.
    fn with_reader<T>(
        &self,
        f: impl FnOnce(&mut Reader) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        let pooled = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut reader = match pooled {
            Some(reader) => reader,
            None => self.new_reader().map_err(backend)?,
        };
        let result = f(&mut reader).map_err(backend);
        // A reader whose connection broke is not pooled again.
        if !reader.client.is_closed() {
            self.readers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(reader);
        }
        result
    }

    fn new_reader(&self) -> Result<Reader, postgres::Error> {
        let mut client = self.config.connect(NoTls)?;
        let lookup = client.prepare(
            "SELECT size, mtime_ns, inode, device, fingerprint, outcome FROM files WHERE key = $1",
        )?;
        let folder = client.prepare(
            "SELECT key, size, mtime_ns, inode, device, fingerprint, outcome FROM files
             WHERE key >= $1 AND key < $2 AND strpos(substr(key, $3), '/') = 0 LIMIT $4",
        )?;
        Ok(Reader {
            client,
            lookup,
            folder,
        })
    }

    /// The stored files directly in `folder`, read in one query, or `None`
    /// when it holds more than [`FOLDER_ROWS`].
    fn read_folder(
        &self,
        folder: &str,
    ) -> Result<Option<Arc<HashMap<String, FileRow>>>, StoreError> {
        let (low, high) = (format!("{folder}/"), format!("{folder}0"));
        // substr counts characters, from 1.
        let start = (folder.chars().count() + 2) as i32;
        let limit = FOLDER_ROWS as i64 + 1;
        let rows =
            self.with_reader(|r| r.client.query(&r.folder, &[&low, &high, &start, &limit]))?;
        if rows.len() > FOLDER_ROWS {
            return Ok(None);
        }
        let files = rows
            .iter()
            .map(|row| (row.get(0), file_row(row, 1)))
            .collect();
        Ok(Some(Arc::new(files)))
    }

    /// Starts the run's transaction on `client`: the writer lock, the run's
    /// row, the run tables and the scope's id.
    fn start_run(&mut self, client: &mut Client, run: &RunRecord) -> Result<(), StoreError> {
        client.batch_execute("BEGIN").map_err(backend)?;
        let locked: bool = client
            .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&WRITER_LOCK])
            .map_err(backend)?
            .get(0);
        if !locked {
            return Err(StoreError::Busy {
                path: self.shown.clone(),
            });
        }
        let row = client
            .query_one(
                "INSERT INTO runs (run_id, scope, paths, options, policy_sha256, tool_version, detectors_sha256, analysis_fingerprint, as_of, started_at, complete, show_values) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING seq",
                &[
                    &run.run_id,
                    &run.scope,
                    &run.paths,
                    &run.options,
                    &run.policy_sha256,
                    &run.tool_version,
                    &run.detectors_sha256,
                    &run.analysis_fingerprint,
                    &run.as_of,
                    &run.started_at,
                    &run.complete,
                    &run.show_values,
                ],
            )
            .map_err(backend)?;
        self.run = row.get(0);
        self.prepared = false;
        client.batch_execute(RUN_TABLES).map_err(backend)?;
        self.scope = scope_id(client, &run.scope).map_err(backend)?;
        // Under the writer lock: no other run writes the scope's documents
        // until this one ends.
        self.first_of_scope = client
            .query_one(
                "SELECT NOT EXISTS (SELECT 1 FROM documents WHERE scope = $1)",
                &[&self.scope],
            )
            .map_err(backend)?
            .get(0);
        Ok(())
    }

    /// The run begun next is the multi-host run `queued` (its id in
    /// `queue_runs`), whose workers' results the reporting host writes
    /// through this store: the run's commit closes the queued run (see
    /// [`close_queued`]).
    pub fn close_with_queued_run(&mut self, queued: i64) {
        self.queued = Some(queued);
    }

    /// The client of the store, for the work queue's own statements.
    pub fn config(&self) -> &postgres::Config {
        &self.config
    }
}

/// Closes the multi-host run `queued` within the run's transaction: marked
/// reported, and the rows only its reports needed dropped (its units stay,
/// for `history`). Should the host die before the commit, the run is still
/// open with every row, and `labelscan report` writes its reports again.
fn close_queued(client: &mut Client, queued: i64) -> Result<(), postgres::Error> {
    client.execute(
        "UPDATE queue_runs SET state = 'reported', reported_at = now() WHERE id = $1",
        &[&queued],
    )?;
    for table in ["queue_parcels", "queue_results"] {
        client.execute(&format!("DELETE FROM {table} WHERE run = $1"), &[&queued])?;
    }
    Ok(())
}

fn unusable(shown: &str, e: postgres::Error) -> StoreError {
    StoreError::Unusable(format!("{shown}: {}", describe_error(&e)))
}

fn newer(shown: &str, version: i32) -> StoreError {
    StoreError::Unusable(format!(
        "{shown}: the state store was written by a newer labelscan (schema {version}, this one knows {SCHEMA_VERSION}); use that version or another --db"
    ))
}

fn schema_version(client: &mut impl Queries) -> Result<Option<i32>, postgres::Error> {
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        return Ok(None);
    }
    client
        .query_one("SELECT max(version) FROM schema_version", &[])
        .map(|r| r.get(0))
}

/// Brings the schema to [`SCHEMA_VERSION`] in one transaction; hosts
/// starting together on a new database take turns.
fn migrate(client: &mut Client, shown: &str) -> Result<(), StoreError> {
    // The server's own words: a refused migration says why.
    let failed = |e: postgres::Error| unusable(shown, e);
    let mut tx = client.transaction().map_err(failed)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(failed)?;
    let from = match schema_version(&mut tx).map_err(failed)? {
        Some(v) if v > SCHEMA_VERSION => return Err(newer(shown, v)),
        Some(v) if v == SCHEMA_VERSION => return Ok(()),
        Some(v) => v,
        None => {
            let taken: bool = tx
                .query_one(
                    "SELECT to_regclass('runs') IS NOT NULL OR to_regclass('files') IS NOT NULL",
                    &[],
                )
                .map_err(failed)?
                .get(0);
            if taken {
                return Err(StoreError::Unusable(format!(
                    "{shown}: the database has tables of its own but no labelscan state store; use another database"
                )));
            }
            tx.batch_execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                .map_err(failed)?;
            0
        }
    };
    for (version, step) in MIGRATIONS.iter().filter(|(v, _)| *v > from) {
        tx.batch_execute(step).map_err(failed)?;
        tx.execute("DELETE FROM schema_version", &[])
            .map_err(failed)?;
        tx.execute("INSERT INTO schema_version VALUES ($1)", &[version])
            .map_err(failed)?;
    }
    tx.commit().map_err(failed)
}

/// Allows `client.transaction()` to stand in for a client above.
trait Queries {
    fn query_one(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Row, postgres::Error>;
}

impl Queries for Client {
    fn query_one(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Row, postgres::Error> {
        Client::query_one(self, sql, params)
    }
}

impl Queries for postgres::Transaction<'_> {
    fn query_one(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Row, postgres::Error> {
        postgres::Transaction::query_one(self, sql, params)
    }
}

fn run_of(r: &Row) -> RunRecord {
    RunRecord {
        seq: r.get(0),
        run_id: r.get(1),
        scope: r.get(2),
        paths: r.get(3),
        options: r.get(4),
        policy_sha256: r.get(5),
        tool_version: r.get(6),
        detectors_sha256: r.get(7),
        analysis_fingerprint: r.get(8),
        as_of: r.get(9),
        started_at: r.get(10),
        finished_at: r.get(11),
        complete: r.get(12),
        show_values: r.get(13),
        counts: r.get(14),
    }
}

fn state_of(r: &Row, at: usize) -> Option<DocumentState> {
    let path: Option<String> = r.get(at);
    Some(DocumentState {
        path: path?,
        level: r.get(at + 1),
        suggested: r.get(at + 2),
        verdicts: r.get(at + 3),
        sha256: r.get(at + 4),
        excepted: r.get(at + 5),
    })
}

impl Store for PostgresStore {
    fn runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        self.with_reader(|r| {
            let rows = r.client.query(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE committed ORDER BY seq"),
                &[],
            )?;
            Ok(rows.iter().map(run_of).collect())
        })
    }

    fn baseline(&self, scope: &str) -> Result<Option<RunRecord>, StoreError> {
        self.with_reader(|r| {
            let row = r.client.query_opt(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE scope = $1 AND committed ORDER BY seq DESC LIMIT 1"),
                &[&scope],
            )?;
            Ok(row.as_ref().map(run_of))
        })
    }

    fn stored_file(&self, key: &str) -> Result<Option<StoredFile>, StoreError> {
        if let Some((folder, _)) = key.rsplit_once('/') {
            let cached = self
                .folders
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(folder);
            let files = match cached {
                Some(files) => files,
                None => {
                    let files = self.read_folder(folder)?;
                    self.folders
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .put(folder.to_string(), files.clone());
                    files
                }
            };
            if let Some(files) = files {
                return Ok(files.get(key).and_then(|row| stored_of(key, row)));
            }
        }
        let row = self.with_reader(|r| r.client.query_opt(&r.lookup, &[&key]))?;
        Ok(row.and_then(|row| stored_of(key, &file_row(&row, 0))))
    }

    fn begin_run(&mut self, run: &RunRecord) -> Result<(), StoreError> {
        let mut client = self
            .take_client()
            .ok_or_else(|| StoreError::Backend("a run is already being written".into()))?;
        if let Err(e) = self.start_run(&mut client, run) {
            let _ = client.batch_execute("ROLLBACK");
            self.put_client(client);
            return Err(e);
        }
        let run_seq = self.run;
        let states = match self.first_of_scope {
            true => StatesTo::Documents(self.scope),
            false => StatesTo::Current,
        };
        self.writes = QueuedWriter::start(client, move |client, receiver| {
            write_all(client, run_seq, states, receiver)
        })
        .map_err(|e| StoreError::Backend(e.to_string()))?;
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
        let first_of_scope = self.first_of_scope;
        let client = self.client()?;
        let sql = match first_of_scope {
            // Nothing stored before: every state is new.
            true => "SELECT NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text,
                            path, level, suggested, verdicts, sha256, excepted
                     FROM documents WHERE scope = $1 ORDER BY path"
                .to_string(),
            false => format!(
                "SELECT b.path, b.level, b.suggested, b.verdicts, b.sha256, b.excepted,
                        a.path, a.level, a.suggested, a.verdicts, a.sha256, a.excepted,
                        a.path AS sort_path
                 FROM current AS a
                 LEFT JOIN documents AS b ON b.scope = $1 AND b.path = a.path
                 WHERE {DIFFERS}
                 UNION ALL
                 SELECT b.path, b.level, b.suggested, b.verdicts, b.sha256, b.excepted,
                        NULL, NULL, NULL, NULL, NULL, NULL,
                        b.path AS sort_path
                 FROM documents AS b
                 WHERE b.scope = $1
                   AND NOT EXISTS (SELECT 1 FROM current AS a WHERE a.path = b.path)
                 ORDER BY sort_path"
            ),
        };
        let stmt = client.prepare(&sql).map_err(backend)?;
        let mut rows = client.query_raw(&stmt, [&scope]).map_err(backend)?;
        while let Some(row) = rows.next().map_err(backend)? {
            each((state_of(&row, 0), state_of(&row, 6)))
                .map_err(|e| StoreError::Backend(e.to_string()))?;
        }
        Ok(())
    }

    fn prepare_commit(&mut self, roots: &[String]) -> Result<(), StoreError> {
        self.end_writes()?;
        if self.prepared {
            return Ok(());
        }
        let (seq, scope, queued, first_of_scope) =
            (self.run, self.scope, self.queued, self.first_of_scope);
        let client = self.client()?;
        // A multi-host run's workers stored the files they read with the
        // run's mark (`queue::complete`); the others it saw are in `seen`.
        // Files that workers of another open run stored meanwhile stay.
        // Rows are locked in key order, as workers' unit commits lock them:
        // a commit of another run over the same files waits, never
        // deadlocks with this.
        let queued_mark = queued.map_or(seq, |q| -q);
        for root in roots {
            let (low, high) = key_range(root);
            client
                .execute(
                    "DELETE FROM files WHERE key IN (
                       SELECT key FROM files
                       WHERE seen_run <> $1 AND seen_run <> $5
                         AND (key = $2 OR (key >= $3 AND key < $4))
                         AND NOT EXISTS (SELECT 1 FROM seen WHERE seen.key = files.key)
                         AND NOT EXISTS (SELECT 1 FROM queue_runs q
                                         WHERE q.state = 'open' AND q.id = -files.seen_run)
                       ORDER BY key FOR UPDATE)",
                    &[&seq, root, &low, &high, &queued_mark],
                )
                .map_err(backend)?;
        }
        if !first_of_scope {
            keep_documents(client, scope).map_err(backend)?;
        }
        if let Some(queued) = queued {
            close_queued(client, queued).map_err(backend)?;
        }
        self.prepared = true;
        Ok(())
    }

    fn commit_run(&mut self, run: &RunRecord, roots: &[String]) -> Result<(), StoreError> {
        self.prepare_commit(roots)?;
        let seq = self.run;
        let client = self.client()?;
        client
            .execute(
                "UPDATE runs SET finished_at = $2, complete = $3, counts = $4, committed = true WHERE seq = $1",
                &[&seq, &run.finished_at, &run.complete, &run.counts],
            )
            .map_err(backend)?;
        client.batch_execute("COMMIT").map_err(backend)
    }
}

/// Makes this run's document states (`current`) the scope's (see the
/// SQLite store).
fn keep_documents(client: &mut Client, scope: i64) -> Result<(), postgres::Error> {
    client.execute(
        &format!(
            "INSERT INTO documents (scope, path, level, suggested, verdicts, sha256, excepted)
             SELECT $1, a.path, a.level, a.suggested, a.verdicts, a.sha256, a.excepted
             FROM current AS a
             LEFT JOIN documents AS b ON b.scope = $1 AND b.path = a.path
             WHERE {DIFFERS} OR b.sha256 IS DISTINCT FROM a.sha256
             ON CONFLICT (scope, path) DO UPDATE SET {STATES_REPLACED}"
        ),
        &[&scope],
    )?;
    client.execute(
        "DELETE FROM documents WHERE scope = $1
           AND NOT EXISTS (SELECT 1 FROM current AS a WHERE a.path = documents.path)",
        &[&scope],
    )?;
    Ok(())
}

/// The id of a scope, added when new.
fn scope_id(client: &mut Client, scope: &str) -> Result<i64, postgres::Error> {
    client.execute(
        "INSERT INTO scopes (scope) VALUES ($1) ON CONFLICT (scope) DO NOTHING",
        &[&scope],
    )?;
    Ok(client
        .query_one("SELECT id FROM scopes WHERE scope = $1", &[&scope])?
        .get(0))
}

/// The keys below folder `root`: `[root/, root0)`, since `0` follows `/`.
fn key_range(root: &str) -> (String, String) {
    let base = root.trim_end_matches('/');
    (format!("{base}/"), format!("{base}0"))
}

/// One batch of queued writes as columns, a row per key (the last write
/// of a key wins, as `INSERT OR REPLACE` does in SQLite: one statement
/// may not update a row twice).
#[derive(Default)]
struct Columns {
    files: HashMap<String, StoredFile>,
    seen: Vec<String>,
    documents: HashMap<String, DocumentState>,
}

impl Columns {
    fn of(batch: Vec<Write>) -> Columns {
        let mut columns = Columns::default();
        for write in batch {
            match write {
                Write::File(file) => {
                    columns.files.insert(file.key.clone(), *file);
                }
                Write::Seen(key) => columns.seen.push(key),
                Write::Document(d) => {
                    columns.documents.insert(d.path.clone(), d);
                }
            }
        }
        columns
    }
}

/// The columns a newer document state replaces.
const STATES_REPLACED: &str = "level = EXCLUDED.level, suggested = EXCLUDED.suggested,
    verdicts = EXCLUDED.verdicts, sha256 = EXCLUDED.sha256, excepted = EXCLUDED.excepted";

/// An upsert of stored files into `files` from the seven arrays of
/// [`FileColumns::params`], parameters `$first` on, each marked `seen_run`
/// (a parameter or an expression), written only if `condition` holds: the
/// writer's, and a multi-host unit's commit (`queue::complete`).
pub fn files_upsert(first: usize, seen_run: &str, condition: &str) -> String {
    let p = |i: usize| format!("${}", first + i);
    format!(
        "INSERT INTO files (key, size, mtime_ns, inode, device, fingerprint, outcome, seen_run)
         SELECT k, s, m, i, d, f, o, {seen_run}
         FROM unnest({}::text[], {}::int8[], {}::int8[], {}::int8[], {}::int8[], {}::text[], {}::text[])
              AS t(k, s, m, i, d, f, o)
         WHERE {condition}
         ON CONFLICT (key) DO UPDATE SET
            size = EXCLUDED.size, mtime_ns = EXCLUDED.mtime_ns, inode = EXCLUDED.inode,
            device = EXCLUDED.device, fingerprint = EXCLUDED.fingerprint,
            outcome = EXCLUDED.outcome, seen_run = EXCLUDED.seen_run",
        p(0), p(1), p(2), p(3), p(4), p(5), p(6)
    )
}

/// Stored files as the columns of `files`, one row per key (the last
/// file of a key wins: one statement may not update a row twice), in key
/// order, so that writers of overlapping files lock their rows in the same
/// order and never deadlock.
#[derive(Default)]
pub struct FileColumns {
    keys: Vec<String>,
    sizes: Vec<i64>,
    mtimes: Vec<i64>,
    inodes: Vec<i64>,
    devices: Vec<i64>,
    fingerprints: Vec<String>,
    outcomes: Vec<String>,
}

impl FileColumns {
    pub fn of(files: impl IntoIterator<Item = StoredFile>) -> Result<FileColumns, String> {
        let by_key: std::collections::BTreeMap<String, StoredFile> =
            files.into_iter().map(|f| (f.key.clone(), f)).collect();
        let mut columns = FileColumns::default();
        for (key, file) in by_key {
            let id = file.identity;
            columns
                .outcomes
                .push(serde_json::to_string(&file.outcome).map_err(|e| e.to_string())?);
            columns.keys.push(key);
            columns.sizes.push(id.size as i64);
            columns.mtimes.push(id.mtime_ns);
            columns.inodes.push(id.inode as i64);
            columns.devices.push(id.device as i64);
            columns.fingerprints.push(file.fingerprint);
        }
        Ok(columns)
    }

    /// The seven arrays, in the order [`files_upsert`] numbers them.
    pub fn params(&self) -> [&(dyn postgres::types::ToSql + Sync); 7] {
        [
            &self.keys,
            &self.sizes,
            &self.mtimes,
            &self.inodes,
            &self.devices,
            &self.fingerprints,
            &self.outcomes,
        ]
    }
}

/// Where the writer puts the run's document states: the run table
/// `current`, or, on a scope's first run, the scope's `documents` (its id).
#[derive(Clone, Copy)]
enum StatesTo {
    Current,
    Documents(i64),
}

/// The prepared statements of the writer thread.
struct Writes {
    files: Statement,
    seen: Statement,
    documents: Statement,
    states: StatesTo,
}

impl Writes {
    fn prepare(client: &mut Client, states: StatesTo) -> Result<Writes, postgres::Error> {
        let documents = match states {
            StatesTo::Current => client.prepare(&format!(
                "INSERT INTO current (path, level, suggested, verdicts, sha256, excepted)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
                 ON CONFLICT (path) DO UPDATE SET {STATES_REPLACED}"
            ))?,
            StatesTo::Documents(_) => client.prepare(&format!(
                "INSERT INTO documents (scope, path, level, suggested, verdicts, sha256, excepted)
                 SELECT $7::bigint, * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
                 ON CONFLICT (scope, path) DO UPDATE SET {STATES_REPLACED}"
            ))?,
        };
        Ok(Writes {
            files: client.prepare(&files_upsert(1, "$8", "true"))?,
            seen: client.prepare(
                "INSERT INTO seen (key) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
            )?,
            documents,
            states,
        })
    }

    fn files(
        &self,
        client: &mut Client,
        run: i64,
        files: HashMap<String, StoredFile>,
    ) -> Result<(), String> {
        if files.is_empty() {
            return Ok(());
        }
        let columns = FileColumns::of(files.into_values())?;
        let mut params = columns.params().to_vec();
        params.push(&run);
        client
            .execute(&self.files, &params)
            .map(drop)
            .map_err(|e| describe_error(&e))
    }

    fn documents(
        &self,
        client: &mut Client,
        documents: HashMap<String, DocumentState>,
    ) -> Result<(), postgres::Error> {
        if documents.is_empty() {
            return Ok(());
        }
        let mut columns: [Vec<String>; 6] = Default::default();
        for (_, d) in documents {
            for (column, value) in columns.iter_mut().zip([
                d.path,
                d.level,
                d.suggested,
                d.verdicts,
                d.sha256,
                d.excepted,
            ]) {
                column.push(value);
            }
        }
        let [a, b, c, d, e, f] = &columns;
        match &self.states {
            StatesTo::Documents(scope) => {
                client.execute(&self.documents, &[a, b, c, d, e, f, scope])?
            }
            StatesTo::Current => client.execute(&self.documents, &[a, b, c, d, e, f])?,
        };
        Ok(())
    }
}

/// The writer thread: applies queued batches until the queue closes.
fn write_all(
    client: &mut Client,
    run: i64,
    states: StatesTo,
    receiver: std::sync::mpsc::Receiver<Vec<Write>>,
) -> Result<(), String> {
    let writes = Writes::prepare(client, states).map_err(|e| describe_error(&e))?;
    for batch in receiver {
        let Columns {
            files,
            seen,
            documents,
        } = Columns::of(batch);
        writes.files(client, run, files)?;
        if !seen.is_empty() {
            client
                .execute(&writes.seen, &[&seen])
                .map_err(|e| describe_error(&e))?;
        }
        writes
            .documents(client, documents)
            .map_err(|e| describe_error(&e))?;
    }
    Ok(())
}

impl Drop for PostgresStore {
    /// A run that was not committed is rolled back: the database stays as
    /// the previous run left it (closing the connection would do the same).
    fn drop(&mut self) {
        let _ = self.end_writes();
        if let Some(mut client) = self.take_client() {
            if self.run != 0 {
                let _ = client.batch_execute("ROLLBACK");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_leave_the_url() {
        assert_eq!(
            redacted("postgres://scan:s3cret@db.example:5432/labelscan"),
            "postgres://scan:***@db.example:5432/labelscan"
        );
        assert_eq!(
            redacted("postgres://scan@db/labelscan?password=s3cret&sslmode=disable"),
            "postgres://scan@db/labelscan?password=***&sslmode=disable"
        );
        assert_eq!(
            redacted("host=db user=scan password=s3cret dbname=x"),
            "host=db user=scan password=*** dbname=x"
        );
        assert_eq!(redacted("postgres://db/x"), "postgres://db/x");
    }
}
