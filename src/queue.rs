//! The work queue of multi-host scans (SPEC "Many hosts") in PostgreSQL.
//!
//! A run (`queue_runs`) holds its scope, policy text and options, so that a
//! worker needs nothing but the database URL and the mounts. Its work
//! units (`queue_units`) are folders: the worker that leases a folder lists
//! it, queues its sub-folders at once (idempotently: a unit listed twice
//! queues nothing new) and, for a large folder, batches of its files, and
//! inspects the rest of its files. Units are claimed with `FOR UPDATE SKIP
//! LOCKED` and leased for a limited time that a heartbeat renews while the
//! worker lives; a lease that runs out puts the unit back into the queue.
//! A worker commits a unit's results (each item's report rows with its walk
//! key and the unit's document states, packed as one parcel; the unit's
//! counts; the analyses of the files it read, straight into the store's
//! reuse cache, `files`) and marks it done in one transaction that first
//! checks it still holds the lease: a worker that lost its lease cannot
//! overwrite another's results. A unit that
//! fails (or whose lease runs out) too often is marked failed with its
//! error, and the run's reports say so.
//!
//! When no unit is pending or leased, the reports are written from the
//! parcels' rows merged in walk-key order, which is the order of a single
//! host's walk: the same bytes as a single-host scan.

mod parcel;

use std::collections::HashSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls};
use serde::{Deserialize, Serialize};

use crate::detect::DetectorSet;
use crate::model::budget::Limits;
use crate::model::{DocumentRecord, DocumentState, Skip, VerdictCode};
use crate::pipeline::Context;
use crate::policy::{LoadOptions, Policy};
use crate::report::csv_report::CsvSink;
use crate::report::html::RowsAhead;
use crate::report::jsonl::JsonlSink;
use crate::report::skipped_csv::SkippedCsvSink;
use crate::report::summary::SummarySink;
use crate::report::{
    formats::Formats, RecordSink, ReportSet, Summary, CSV_FILE, JSONL_FILE, SKIPPED_FILE,
    SUMMARY_FILE,
};
use crate::scan::{self, ScanOptions};
use crate::state::{self, StateRun};
use crate::store::postgres::{describe_error, files_upsert, FileColumns};
use crate::store::{PostgresStore, RunRecord, StatePair, Store, StoreError, StoredFile};
use crate::walk::{walk_key, Filter, JobSource, Listed, UnitTree, WalkItem};
use parcel::{ItemRows, StateWrites};

/// Files a unit inspects at most: the files its folders hold past this
/// many are queued as batches of this many.
pub const UNIT_FILES: usize = 256;
/// Sub-folders queued as one unit (listed, and their files inspected, by
/// the worker that leases it): a unit costs a few round trips, so that
/// folders of a few files each are worth packing.
pub const UNIT_FOLDERS: usize = 16;
/// Rows (documents and skipped members) a unit gathers before the files
/// it has not begun go back to the queue as a unit of their own: a unit's
/// rows and document states are held until it commits, and a folder of
/// archives of 20,000 members each must not hold millions of them.
pub const UNIT_ROWS: u64 = 20_000;
/// `part` of a unit of the files a unit left for the queue past
/// [`UNIT_ROWS`] (its `folder` is the first of them, `names` all of them).
pub const REST_PART: i32 = -2;
/// Leases a unit may take (claims, or failures) before it is marked failed.
pub const MAX_ATTEMPTS: i32 = 5;
/// How long an idle worker thread first waits before it looks again.
const IDLE_FIRST: Duration = Duration::from_millis(10);
/// The longest an idle thread waits while no run has a unit open: a
/// service waiting for the next run. Looking every 0.2 s cost the server
/// about 1% of a core per idle thread pair (7 statements a look).
const IDLE_NOTHING_OPEN: Duration = Duration::from_secs(2);
/// Wait before connecting again after the server dropped a connection.
const RECONNECT_PAUSE: Duration = Duration::from_millis(200);
/// How long a lease lasts unless renewed; the heartbeat renews it every
/// third of that while the worker lives.
pub const DEFAULT_LEASE_SECS: f64 = 60.0;

/// Everything a worker needs to work on a run, stored with the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSpec {
    /// Each walked PATH as an absolute path, as every host must see it.
    pub roots: Vec<String>,
    /// Each walked PATH as the reports print it (as given).
    pub displays: Vec<String>,
    /// Each walked PATH's absolute form, for exchange locations and keys.
    pub locations: Vec<String>,
    /// The policy's text; `None` for the built-in policy.
    pub policy_text: Option<String>,
    pub policy_origin: String,
    pub show_values: bool,
    pub max_file_size: u64,
    pub max_inflated: u64,
    pub file_timeout: f64,
    /// Folders never listed (the report folder when it lies inside a PATH).
    pub skip_dirs: Vec<String>,
    pub full: bool,
    /// `--formats`: csv, jsonl, html, xlsx.
    pub formats: [bool; 4],
    /// `--max-units-per-server`: units of the run leased at once per
    /// file server, at most (0: no cap).
    #[serde(default)]
    pub max_units_per_server: u32,
    /// Each PATH's file server (see [`file_server`]).
    #[serde(default)]
    pub servers: Vec<String>,
    /// The state store held no file when the run was queued (set by
    /// [`create_run`]): its workers look nothing up. Asked once, as the
    /// run's workers store files while others join.
    #[serde(default)]
    pub store_was_empty: Option<bool>,
    /// The run's summary before any file: scope, provenance, options.
    pub summary: Summary,
}

impl RunSpec {
    pub fn formats(&self) -> Formats {
        let [csv, jsonl, html, xlsx] = self.formats;
        Formats {
            csv,
            jsonl,
            html,
            xlsx,
        }
    }
}

fn err(e: postgres::Error) -> String {
    describe_error(&e)
}

/// The inspection context of a run, from its stored policy and options;
/// refused when this labelscan would judge differently (another version
/// or other detector definitions) or the policy is not the run's.
pub fn context_of(spec: &RunSpec) -> Result<Context, String> {
    let s = &spec.summary;
    if s.version != crate::VERSION {
        return Err(format!(
            "run {} was started by labelscan {}; this is {}: work on it with that version",
            s.run_id,
            s.version,
            crate::VERSION
        ));
    }
    if crate::analyse::detector_definitions_sha256() != s.detectors_sha256 {
        return Err(format!(
            "run {} uses other detector definitions than this labelscan",
            s.run_id
        ));
    }
    let as_of =
        chrono::NaiveDate::parse_from_str(&s.as_of, "%Y-%m-%d").map_err(|e| e.to_string())?;
    let policy = match &spec.policy_text {
        None => Policy::default_policy(),
        Some(text) => {
            let ids: Vec<String> = crate::detect::builtin_definitions()
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|d| d.id)
                .collect();
            let options = LoadOptions {
                as_of: Some(as_of),
                builtin_detectors: Some(&ids),
            };
            Policy::load(text, &spec.policy_origin, &options)
                .map_err(|e| format!("the run's policy: {e}"))?
                .policy
        }
    };
    if policy.sha256 != s.policy_sha256 {
        return Err(format!(
            "run {}: its stored policy does not hash to the run's policy SHA-256",
            s.run_id
        ));
    }
    let detectors = DetectorSet::compile(&policy).map_err(|e| e.to_string())?;
    let limits = Limits {
        max_file_size: spec.max_file_size,
        max_total_inflated: spec.max_inflated,
        file_timeout: Duration::from_secs_f64(spec.file_timeout),
        ..Limits::default()
    };
    Ok(Context::new(
        policy,
        detectors,
        as_of,
        spec.show_values,
        limits,
    ))
}

/// The file server a PATH is on, for `--max-units-per-server`: the host
/// of a network file system's mount source (`//server/share` of CIFS/SMB,
/// `server:/export` of NFS, `user@server:path` of SSHFS), else `local:`
/// and the device of a local file system (`local:8:1`). Units of one
/// server count together, whichever run and PATH they belong to.
pub fn file_server(path: &Path) -> String {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut best: Option<(usize, String)> = None;
    for line in mountinfo.lines() {
        let Some((mine, theirs)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = mine.split(' ').collect();
        let (Some(device), Some(point)) = (fields.get(2), fields.get(4)) else {
            continue;
        };
        let point = PathBuf::from(unescape_mount(point));
        if !path.starts_with(&point) {
            continue;
        }
        let depth = point.components().count();
        if best.as_ref().is_some_and(|(d, _)| *d > depth) {
            continue;
        }
        let mut theirs = theirs.split(' ');
        let fstype = theirs.next().unwrap_or("");
        let source = unescape_mount(theirs.next().unwrap_or(""));
        best = Some((depth, server_of(fstype, &source, device)));
    }
    best.map(|(_, server)| server)
        .unwrap_or_else(|| "local:".to_string())
}

/// A mount's server from its file system type, source and device.
fn server_of(fstype: &str, source: &str, device: &str) -> String {
    let network = [
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "ceph",
        "glusterfs",
        "9p",
    ]
    .contains(&fstype)
        || fstype.starts_with("fuse.sshfs");
    if network {
        let host = if let Some(unc) = source.strip_prefix("//") {
            unc.split('/').next().unwrap_or(unc)
        } else {
            let before = source.split(":/").next().unwrap_or(source);
            let before = before.rsplit_once(':').map_or(before, |(h, _)| h);
            before.rsplit_once('@').map_or(before, |(_, h)| h)
        };
        if !host.is_empty() {
            return host.to_ascii_lowercase();
        }
    }
    format!("local:{device}")
}

/// A mountinfo field with its octal escapes (`\040` for a space) undone.
fn unescape_mount(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let digits = std::str::from_utf8(&bytes[i + 1..i + 4]).unwrap_or("");
            if let Ok(n) = u8::from_str_radix(digits, 8) {
                out.push(n);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Who a worker is in logs and in the units it leases: `host:pid`.
pub fn worker_id() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into `buf`.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let host = if rc == 0 {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "unknown".to_string()
    };
    format!("{host}:{}", std::process::id())
}

/// Connects a client of its own (each worker thread has one).
pub fn connect(config: &postgres::Config) -> Result<Client, String> {
    config.connect(NoTls).map_err(err)
}

/// Creates a run and queues its PATHs; returns its id in `queue_runs`.
pub fn create_run(client: &mut Client, spec: &RunSpec) -> Result<i64, String> {
    let mut tx = client.transaction().map_err(err)?;
    let store_was_empty: bool = tx
        .query_one("SELECT NOT EXISTS (SELECT 1 FROM files)", &[])
        .map_err(err)?
        .get(0);
    let spec = RunSpec {
        store_was_empty: Some(store_was_empty),
        ..spec.clone()
    };
    let text = serde_json::to_string(&spec).map_err(|e| e.to_string())?;
    let cap = spec.max_units_per_server as i32;
    let id: i64 = tx
        .query_one(
            "INSERT INTO queue_runs (run_id, spec, host, max_units_per_server)
             VALUES ($1, $2, $3, $4) RETURNING id",
            &[&spec.summary.run_id, &text, &worker_id(), &cap],
        )
        .map_err(err)?
        .get(0);
    for root in 0..spec.roots.len() as i32 {
        let server = spec.servers.get(root as usize).cloned().unwrap_or_default();
        tx.execute(
            "INSERT INTO queue_units (run, root, folder, part, server)
             VALUES ($1, $2, ''::bytea, 0, $3)",
            &[&id, &root, &server],
        )
        .map_err(err)?;
    }
    tx.execute("SELECT pg_notify($1, '')", &[&NOTICES])
        .map_err(err)?;
    tx.commit().map_err(err)?;
    Ok(id)
}

/// A run as the queue keeps it.
pub struct QueuedRun {
    pub id: i64,
    pub run_id: String,
    pub state: String,
    pub spec: RunSpec,
}

/// The run `run_id` (as `summary.json` and `history` name it).
pub fn find_run(client: &mut Client, run_id: &str) -> Result<Option<QueuedRun>, String> {
    let row = client
        .query_opt(
            "SELECT id, run_id, state, spec FROM queue_runs WHERE run_id = $1",
            &[&run_id],
        )
        .map_err(err)?;
    row.map(|r| {
        Ok(QueuedRun {
            id: r.get(0),
            run_id: r.get(1),
            state: r.get(2),
            spec: serde_json::from_str(r.get::<_, &str>(3)).map_err(|e| e.to_string())?,
        })
    })
    .transpose()
}

/// Units of a run by state.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UnitCounts {
    pub pending: i64,
    pub leased: i64,
    pub done: i64,
    pub failed: i64,
}

impl UnitCounts {
    pub fn open(&self) -> i64 {
        self.pending + self.leased
    }
}

/// The units of run `run` (every open run for 0) by state.
pub fn unit_counts(client: &mut Client, run: i64) -> Result<UnitCounts, String> {
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE u.state = 'pending'),
                    count(*) FILTER (WHERE u.state = 'leased'),
                    count(*) FILTER (WHERE u.state = 'done'),
                    count(*) FILTER (WHERE u.state = 'failed')
             FROM queue_units u JOIN queue_runs r ON r.id = u.run
             WHERE CASE WHEN $1::int8 = 0 THEN r.state = 'open' ELSE u.run = $1::int8 END",
            &[&run],
        )
        .map_err(err)?;
    Ok(UnitCounts {
        pending: row.get(0),
        leased: row.get(1),
        done: row.get(2),
        failed: row.get(3),
    })
}

/// How long an idle thread waits next, having waited `last`: twice as
/// long, up to `busy_max` while `open` units remain (one being listed
/// queues more), up to [`IDLE_NOTHING_OPEN`] once none does.
fn next_idle_wait(last: Duration, open: i64, busy_max: Duration) -> Duration {
    let max = match open {
        0 => IDLE_NOTHING_OPEN.max(busy_max),
        _ => busy_max,
    };
    (last * 2).min(max)
}

/// Waits up to `pause` for a notice on [`NOTICES`] (the session listens);
/// returns at once when one came while the thread was busy, or when the
/// connection is closed (the next claim finds it so and connects again,
/// after a pause). Whether a notice ended the wait.
fn wait_for_notice(client: &mut Client, pause: Duration) -> bool {
    let mut notices = client.notifications();
    if notices.iter().count().unwrap_or(0) > 0 {
        return true;
    }
    let waited = notices.timeout_iter(pause).next();
    match waited {
        Ok(notice) => notice.is_some(),
        Err(_) => {
            std::thread::sleep(pause);
            false
        }
    }
}

/// Units pending or leased in the open runs but those of `refused`.
fn open_units(client: &mut Client, refused: &[i64]) -> Result<i64, String> {
    client
        .query_one(
            "SELECT count(*) FROM queue_units u JOIN queue_runs r ON r.id = u.run
             WHERE r.state = 'open' AND u.state IN ('pending', 'leased')
               AND NOT (u.run = ANY($1))",
            &[&refused],
        )
        .map(|r| r.get(0))
        .map_err(err)
}

/// Every queued run with its units by state, oldest first (`history`).
pub fn runs_with_units(
    client: &mut Client,
) -> Result<Vec<(String, String, String, UnitCounts)>, String> {
    let rows = client
        .query(
            "SELECT r.run_id, r.state, r.host,
                    count(u.id) FILTER (WHERE u.state = 'pending'),
                    count(u.id) FILTER (WHERE u.state = 'leased'),
                    count(u.id) FILTER (WHERE u.state = 'done'),
                    count(u.id) FILTER (WHERE u.state = 'failed')
             FROM queue_runs r LEFT JOIN queue_units u ON u.run = r.id
             GROUP BY r.id ORDER BY r.id",
            &[],
        )
        .map_err(err)?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                r.get(2),
                UnitCounts {
                    pending: r.get(3),
                    leased: r.get(4),
                    done: r.get(5),
                    failed: r.get(6),
                },
            )
        })
        .collect())
}

/// A leased unit.
#[derive(Debug, Clone)]
pub struct Unit {
    pub id: i64,
    pub run: i64,
    pub root: i32,
    /// The folder below the PATH, as bytes (empty: the PATH itself); of
    /// a pack of folders, its first one.
    pub folder: Vec<u8>,
    /// 0: the folder `folder` (a PATH); -1: the pack of folders `names`;
    /// 1, 2, ...: a batch of the files `names` (past the files a unit
    /// inspects) of the unit whose folder is `folder`; [`REST_PART`]: the
    /// files `names` a unit left past [`UNIT_ROWS`], the first `folder`.
    pub part: i32,
    /// Paths below the PATH, each ended by a 0 byte (no path holds one):
    /// the folders of a pack, or the files of a batch.
    pub names: Option<Vec<u8>>,
    pub attempts: i32,
    pub lease: i64,
    /// The file server its PATH is on (see [`file_server`]).
    pub server: String,
}

impl Unit {
    fn folder_path(&self) -> PathBuf {
        PathBuf::from(OsStr::from_bytes(&self.folder))
    }

    /// The unit in log lines: its folder (a path, never content).
    fn describe(&self, spec: &RunSpec) -> String {
        let root = spec
            .displays
            .get(self.root as usize)
            .cloned()
            .unwrap_or_default();
        let folder = self.folder_path();
        let at = if self.folder.is_empty() {
            root
        } else {
            format!("{root}/{}", folder.display())
        };
        let more = self
            .names
            .as_deref()
            .map_or(0, |n| split_names(n).len().saturating_sub(1));
        match self.part {
            0 => format!("unit {} ({at})", self.id),
            REST_PART => format!("unit {} ({at} and {more} more files)", self.id),
            p if p < 0 && more > 0 => format!("unit {} ({at} and {more} more folders)", self.id),
            p if p < 0 => format!("unit {} ({at})", self.id),
            p => format!("unit {} ({at}, batch {p})", self.id),
        }
    }
}

/// Claims the next unit of run `$1` (of any open run for 0) but those of
/// the runs `$5`: pending, or leased with its lease run out. `$2` owner,
/// `$3` lease seconds, `$4` attempts allowed. `{RUNS}`: which runs, by
/// their cap of units per server.
const CLAIM_OF: &str =
    "UPDATE queue_units SET state = 'leased', owner = $2, lease = nextval('queue_leases'),
        lease_until = clock_timestamp() + make_interval(secs => $3),
        attempts = attempts + 1
 WHERE id = (
    {WITH}
    SELECT u.id FROM queue_units u JOIN queue_runs r ON r.id = u.run
    WHERE r.state = 'open' AND ($1::int8 = 0 OR u.run = $1::int8)
      AND NOT (u.run = ANY($5))
      AND (u.state = 'pending'
           OR (u.state = 'leased' AND u.lease_until < clock_timestamp()))
      AND u.attempts < $4
      AND {RUNS}
    ORDER BY u.id LIMIT 1
    FOR UPDATE OF u SKIP LOCKED)
 RETURNING id, run, root, folder, part, names, attempts, lease, server";

/// The claim of units of runs without a cap: one statement.
fn claim_sql() -> String {
    CLAIM_OF
        .replace("{WITH}", "")
        .replace("{RUNS}", "r.max_units_per_server = 0")
}

/// The claim of units of runs with a cap of units per file server: only
/// while fewer of the server's units are leased (live leases, of any
/// run). Run after taking [`CAP_LOCK`], so that two claims never both
/// take the last place.
fn claim_capped_sql() -> String {
    CLAIM_OF
        .replace(
            "{WITH}",
            "WITH busy AS MATERIALIZED (
                SELECT server, count(*) AS n FROM queue_units
                WHERE state = 'leased' AND lease_until >= clock_timestamp()
                GROUP BY server)",
        )
        .replace(
            "{RUNS}",
            "r.max_units_per_server > 0
      AND coalesce((SELECT n FROM busy WHERE busy.server = u.server), 0) < r.max_units_per_server",
        )
}

/// The advisory lock that capped claims take, one at a time.
pub const CAP_LOCK: i64 = 0x6c61_6265_6c63_6170;

/// Queues sub-folders (`names` NULL) and batches of a folder's files, once.
const CHILDREN: &str = "WITH queued AS (
    INSERT INTO queue_units (run, root, folder, part, names, server)
    SELECT $1, $2, f, p, n, $6 FROM unnest($3::bytea[], $4::int4[], $5::bytea[]) AS t(f, p, n)
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT pg_notify($7, '') WHERE EXISTS (SELECT 1 FROM queued)";

/// The channel on which idle worker threads wait: notified when a run is
/// queued, when a unit queues more, and when a run's last open unit is
/// done, so that a waiting thread starts (or leaves) at once instead of at
/// its next look.
const NOTICES: &str = "labelscan_queue";

/// Tells the idle threads when `run` has no unit pending or leased left
/// (they leave, the starting host reports).
const RUN_DONE_NOTICE: &str = "SELECT pg_notify($2, '')
 WHERE NOT EXISTS (SELECT 1 FROM queue_units WHERE run = $1 AND state IN ('pending', 'leased'))";

/// A unit's results and its end, in one statement (one transaction, one
/// round trip): nothing is written unless the unit is still leased with
/// lease `$2`, which it locks first. The files it left past [`UNIT_ROWS`]
/// are queued in the same transaction.
fn complete_sql() -> String {
    format!(
        "WITH held AS (
    SELECT id FROM queue_units WHERE id = $1 AND lease = $2 AND state = 'leased' FOR UPDATE
), parcel AS (
    INSERT INTO queue_parcels (run, root, unit, lease, seq, first_key, first_seq, body)
    SELECT $3, $4, $1, 0, 0, $5, $6, $7
    WHERE EXISTS (SELECT 1 FROM held) AND $7::bytea IS NOT NULL
), result AS (
    INSERT INTO queue_results (unit, run, summary)
    SELECT $1, $3, $8 WHERE EXISTS (SELECT 1 FROM held)
), rest AS (
    INSERT INTO queue_units (run, root, folder, part, names, server)
    SELECT $3, $4, $9, $10, $11, $12
    WHERE EXISTS (SELECT 1 FROM held) AND $11::bytea IS NOT NULL
    ON CONFLICT DO NOTHING
), stored AS (
    {}
)
UPDATE queue_units SET state = 'done', lease_until = NULL, error = NULL
WHERE id IN (SELECT id FROM held)",
        files_upsert(13, "-$3::int8", "EXISTS (SELECT 1 FROM held)")
    )
}

/// A worker thread's connection and its prepared statements: a unit costs
/// a round trip to claim, one to queue what its folder holds, one to commit
/// (and one to tell waiting threads whether the run has a unit open left).
pub struct Session {
    pub client: Client,
    claim: postgres::Statement,
    claim_capped: postgres::Statement,
    children: postgres::Statement,
    complete: postgres::Statement,
    run_done: postgres::Statement,
    /// The session listens on [`NOTICES`]: only a thread's claiming
    /// session, which waits for them and drains them after each claim
    /// (notices a connection never reads hold back the server's queue).
    listening: bool,
}

impl Session {
    pub fn open(config: &postgres::Config) -> Result<Session, String> {
        let mut client = connect(config)?;
        // A unit's commit may be lost with the database's last moments (a
        // crash): the commits after it are lost with it, and the unit is
        // then done again; no need to wait for the disk on every unit.
        // A session left inside a transaction (its worker stopped, its
        // host cut off) would hold the cap's lock and the rows it locked
        // until TCP gives up, for hours: the server ends it instead.
        client
            .batch_execute(
                "SET synchronous_commit = off; SET idle_in_transaction_session_timeout = '10s'",
            )
            .map_err(err)?;
        let claim = client.prepare(&claim_sql()).map_err(err)?;
        let claim_capped = client.prepare(&claim_capped_sql()).map_err(err)?;
        let children = client.prepare(CHILDREN).map_err(err)?;
        let complete = client.prepare(&complete_sql()).map_err(err)?;
        let run_done = client.prepare(RUN_DONE_NOTICE).map_err(err)?;
        Ok(Session {
            client,
            claim,
            claim_capped,
            children,
            complete,
            run_done,
            listening: false,
        })
    }

    /// Listens on [`NOTICES`] from now on, if it does not yet.
    fn listen(&mut self) -> Result<(), String> {
        if !self.listening {
            self.client
                .batch_execute(&format!("LISTEN {NOTICES}"))
                .map_err(err)?;
            self.listening = true;
        }
        Ok(())
    }

    /// Drops the notices that came while the thread was busy.
    fn drain_notices(&mut self) {
        let _ = self.client.notifications().iter().count();
    }
}

/// Claims the next unit: of a run without a cap in one statement, else
/// of a run with a cap of units per file server under [`CAP_LOCK`].
pub fn claim(
    session: &mut Session,
    run: i64,
    owner: &str,
    lease_secs: f64,
    refused: &[i64],
) -> Result<Option<Unit>, String> {
    let params: [&(dyn postgres::types::ToSql + Sync); 5] =
        [&run, &owner, &lease_secs, &MAX_ATTEMPTS, &refused];
    let mut row = session
        .client
        .query_opt(&session.claim, &params)
        .map_err(err)?;
    if row.is_none() {
        // The lock only while a run with a cap is open: a worker stopped
        // or cut off inside this transaction holds it (until the server's
        // `idle_in_transaction_session_timeout` ends its session), and
        // other threads' claims must not wait on it for runs without one.
        let mut tx = session.client.transaction().map_err(err)?;
        let capped = tx
            .query_opt(
                "SELECT pg_advisory_xact_lock($1) FROM queue_runs
                 WHERE state = 'open' AND max_units_per_server > 0 LIMIT 1",
                &[&CAP_LOCK],
            )
            .map_err(err)?
            .is_some();
        if capped {
            row = tx.query_opt(&session.claim_capped, &params).map_err(err)?;
        }
        tx.commit().map_err(err)?;
    }
    Ok(row.map(|r| Unit {
        id: r.get(0),
        run: r.get(1),
        root: r.get(2),
        folder: r.get(3),
        part: r.get(4),
        names: r.get(5),
        attempts: r.get(6),
        lease: r.get(7),
        server: r.get(8),
    }))
}

/// Marks failed the units whose lease ran out on their last attempt.
pub fn reap(client: &mut Client) -> Result<u64, String> {
    client
        .execute(
            "UPDATE queue_units SET state = 'failed', lease = NULL,
                    error = coalesce(error || '; ', '') || format('its lease ran out on attempt %s of %s (the worker died or hung)', attempts, $1::int)
             WHERE state = 'leased' AND lease_until < clock_timestamp() AND attempts >= $1",
            &[&MAX_ATTEMPTS],
        )
        .map_err(err)
}

/// Gives a unit back after an error: to the queue, or failed on its last
/// attempt. Nothing when the lease is no longer this worker's.
pub fn release(client: &mut Client, unit: &Unit, error: &str) -> Result<bool, String> {
    let failed: Option<bool> = client
        .query_opt(
            "UPDATE queue_units SET state = CASE WHEN attempts >= $3 THEN 'failed' ELSE 'pending' END,
                    error = $4, lease = NULL, lease_until = NULL
             WHERE id = $1 AND lease = $2 AND state = 'leased'
             RETURNING state = 'failed'",
            &[&unit.id, &unit.lease, &MAX_ATTEMPTS, &error],
        )
        .map_err(err)?
        .map(|r| r.get(0));
    Ok(failed.unwrap_or(false))
}

/// Gives a unit back untouched (this worker cannot work on its run): the
/// claim does not count as an attempt.
pub fn give_back(client: &mut Client, unit: &Unit) -> Result<(), String> {
    client
        .execute(
            "UPDATE queue_units SET state = 'pending', attempts = attempts - 1,
                    lease = NULL, lease_until = NULL
             WHERE id = $1 AND lease = $2 AND state = 'leased'",
            &[&unit.id, &unit.lease],
        )
        .map(drop)
        .map_err(err)
}

/// Renews the leases `leases` (those this process holds) that have not
/// run out: one that ran out is any worker's to take and no longer counts
/// against its file server's cap, so bringing it back could put more of
/// the server's units at work than the cap allows. Its unit can still be
/// committed while no other worker has taken it.
pub fn renew(client: &mut Client, leases: &[i64], lease_secs: f64) -> Result<u64, String> {
    client
        .execute(
            "UPDATE queue_units SET lease_until = clock_timestamp() + make_interval(secs => $2)
             WHERE id IN (SELECT id FROM queue_units WHERE state = 'leased' AND lease = ANY($1)
                            AND lease_until >= clock_timestamp()
                          FOR UPDATE SKIP LOCKED)",
            &[&leases, &lease_secs],
        )
        .map_err(err)
}

/// Queues the units a unit's listing gave: its sub-folders in packs
/// (`(first folder, folders)`, part -1) and the batches of its further
/// files (part 1, 2, ... under the unit's own folder). A unit listed again
/// (its first lister lost its lease) lists the same and queues nothing
/// twice: a folder is listed by one unit only, so the first folder of a
/// pack names it.
fn queue_children(
    session: &mut Session,
    unit: &Unit,
    groups: Vec<(Vec<u8>, Vec<u8>)>,
    batches: Vec<Vec<u8>>,
) -> Result<(), String> {
    if groups.is_empty() && batches.is_empty() {
        return Ok(());
    }
    let mut paths: Vec<Vec<u8>> = Vec::with_capacity(groups.len() + batches.len());
    let mut parts: Vec<i32> = Vec::with_capacity(paths.capacity());
    let mut names: Vec<Option<Vec<u8>>> = Vec::with_capacity(paths.capacity());
    for (first, group) in groups {
        paths.push(first);
        parts.push(-1);
        names.push(Some(group));
    }
    for (i, batch) in batches.into_iter().enumerate() {
        paths.push(unit.folder.clone());
        parts.push(i as i32 + 1);
        names.push(Some(batch));
    }
    session
        .client
        .execute(
            &session.children,
            &[
                &unit.run,
                &unit.root,
                &paths,
                &parts,
                &names,
                &unit.server,
                &NOTICES,
            ],
        )
        .map(drop)
        .map_err(err)
}

/// A unit's items by walk key, and how many files --include/--exclude
/// left out.
type KeyedItems = (Vec<(Vec<u8>, WalkItem)>, u64);

/// What a unit's work gave: each item's rows by walk key, the unit's
/// counts, and what the state store keeps of it.
#[derive(Default)]
pub struct UnitResult {
    pub items: Vec<ItemRows>,
    /// The files left for the queue past [`UNIT_ROWS`]: the first one's
    /// path and all of them as `names`.
    pub rest: Option<(Vec<u8>, Vec<u8>)>,
    /// Items worked on (those left for the queue aside).
    pub worked: u64,
    pub summary: String,
    /// The unit's writes to the state store, committed with the unit.
    pub writes: StateWrites,
    /// The files' analyses go straight to `files` with the unit's commit
    /// (see [`complete`]); else into the parcel, for a run an earlier
    /// build queued, whose reporting host keeps only what it takes in.
    pub files_direct: bool,
}

/// Commits a unit's results and marks it done, in one statement that
/// first checks that the lease is still this worker's (see [`complete_sql`]).
/// `Ok(false)`: the lease was lost (another worker has or will have the
/// unit), nothing was written.
pub fn complete(
    session: &mut Session,
    unit: &Unit,
    result: &mut UnitResult,
) -> Result<bool, String> {
    // The analyses are stored with the unit, not at the run's end: the
    // cache is keyed by the file's identity, valid whichever run wrote it,
    // and this takes about 40% of the state store's writes out of the end,
    // the one part of a run that more workers do not shorten. They carry
    // the queued run's mark (`seen_run` its id, negated), which its end
    // keeps.
    let files = match result.files_direct {
        true => FileColumns::of(std::mem::take(&mut result.writes.files))?,
        false => FileColumns::default(),
    };
    let items: Vec<&ItemRows> = result.items.iter().collect();
    let packed = match items.is_empty() && result.writes.is_empty() {
        true => None,
        false => Some(parcel::pack(&items, &result.writes)?),
    };
    let (first_key, first_seq) = first_of(packed.as_ref().and_then(|(first, _)| first.as_ref()));
    let body = packed.as_ref().map(|(_, body)| body.as_slice());
    let rest_first = result
        .rest
        .as_ref()
        .map_or(&[][..], |(first, _)| first.as_slice());
    let rest_names = result.rest.as_ref().map(|(_, names)| names.as_slice());
    let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> = vec![
        &unit.id,
        &unit.lease,
        &unit.run,
        &unit.root,
        &first_key,
        &first_seq,
        &body,
        &result.summary,
        &rest_first,
        &REST_PART,
        &rest_names,
        &unit.server,
    ];
    params.extend(files.params());
    let done = session
        .client
        .execute(&session.complete, &params)
        .map_err(err)?;
    Ok(done == 1)
}

/// A parcel's first key and piece as the columns that order parcels.
fn first_of(first: Option<&(Vec<u8>, i32)>) -> (Option<&[u8]>, i32) {
    match first {
        Some((key, seq)) => (Some(key.as_slice()), *seq),
        None => (None, 0),
    }
}

/// The state store as one unit sees it: lookups of the last completed
/// run through the shared store, writes kept for the unit's commit.
struct UnitStore {
    lookups: Arc<PostgresStore>,
    /// The store held no file when the worker joined the run: nothing to
    /// look up (a first run costs no lookup round trips).
    empty: bool,
    writes: Arc<Mutex<StateWrites>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Store for UnitStore {
    fn runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        self.lookups.runs()
    }
    fn baseline(&self, scope: &str) -> Result<Option<RunRecord>, StoreError> {
        self.lookups.baseline(scope)
    }
    fn stored_file(&self, key: &str) -> Result<Option<StoredFile>, StoreError> {
        if self.empty {
            return Ok(None);
        }
        self.lookups.stored_file(key)
    }
    fn begin_run(&mut self, _run: &RunRecord) -> Result<(), StoreError> {
        Ok(())
    }
    fn save_file(&self, file: StoredFile) {
        lock(&self.writes).files.push(file);
    }
    fn file_seen(&self, key: &str) {
        lock(&self.writes).seen.push(key.to_string());
    }
    fn save_document(&self, state: DocumentState) {
        lock(&self.writes).documents.push(state);
    }
    fn compare(
        &mut self,
        _each: &mut dyn FnMut(StatePair) -> std::io::Result<()>,
    ) -> Result<(), StoreError> {
        Ok(())
    }
    fn commit_run(&mut self, _run: &RunRecord, _roots: &[String]) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Held rows of a unit past this many bytes are written to the queue
/// before the unit commits ([`Spill`]): a unit holds at most about this
/// much of rows, whatever its files yield.
const SPILL_BYTES: usize = 2 << 20;

/// Writes a unit's rows to the queue before it commits, under its lease,
/// on a connection of its own (the unit's session waits on the scan).
struct Spill {
    config: postgres::Config,
    client: Option<(Client, postgres::Statement)>,
    run: i64,
    root: i32,
    unit: i64,
    lease: i64,
    /// Parcels written ahead so far.
    written: i32,
}

/// A parcel of items' rows written under a lease: it counts once the unit
/// is done under that lease (see [`write_rows`]).
const SPILLED: &str =
    "INSERT INTO queue_parcels (run, root, unit, lease, seq, first_key, first_seq, body)
 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

impl Spill {
    fn write(&mut self, items: &[&ItemRows]) -> Result<(), String> {
        if self.client.is_none() {
            let mut client = connect(&self.config)?;
            let stmt = client.prepare(SPILLED).map_err(err)?;
            self.client = Some((client, stmt));
        }
        let Some((client, stmt)) = &mut self.client else {
            unreachable!("connected above")
        };
        let (first, body) = parcel::pack(items, &StateWrites::default())?;
        let (first_key, first_seq) = first_of(first.as_ref());
        self.written += 1;
        client
            .execute(
                stmt,
                &[
                    &self.run,
                    &self.root,
                    &self.unit,
                    &self.lease,
                    &self.written,
                    &first_key,
                    &first_seq,
                    &body,
                ],
            )
            .map(drop)
            .map_err(err)
    }
}

/// Renders each item's rows as the report sinks of a single scan would
/// write them, keeps each document's state for the store, and writes the
/// rows ahead past [`SPILL_BYTES`].
struct ItemSink {
    /// Keys of the items the source gave, in order: the front one's rows
    /// are being made.
    given: Arc<Mutex<std::collections::VecDeque<Vec<u8>>>>,
    /// Rows held for the commit.
    held: Arc<Mutex<Vec<ItemRows>>>,
    held_bytes: usize,
    /// The current item's rows (its `key` set when they are written or
    /// held); `seq` counts its pieces already written ahead.
    current: ItemRows,
    writes: Arc<Mutex<StateWrites>>,
    /// The unit's rows so far, for its source.
    rows: Arc<AtomicU64>,
    line: Vec<u8>,
    spill: Spill,
}

impl ItemSink {
    /// Appends one CSV record to `to`, quoted as the report files quote.
    fn csv_record<I, T>(to: &mut Vec<u8>, cells: I) -> std::io::Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let mut writer = csv::WriterBuilder::new()
            .buffer_capacity(1024)
            .from_writer(to);
        writer.write_record(cells)?;
        writer.flush()
    }

    /// Writes ahead every held row and the current item's so far, once
    /// they are more than [`SPILL_BYTES`].
    fn spill_if_large(&mut self) -> std::io::Result<()> {
        if self.held_bytes + self.current.len() < SPILL_BYTES {
            return Ok(());
        }
        let mut held = lock(&self.held);
        let mut items: Vec<&ItemRows> = held.iter().collect();
        let current_written = self.current.len() > 0;
        if current_written {
            self.current.key = lock(&self.given).front().cloned().unwrap_or_default();
            items.push(&self.current);
        }
        let written = self.spill.write(&items).map_err(std::io::Error::other);
        drop(items);
        if current_written {
            self.current.seq += 1;
        }
        held.clear();
        self.held_bytes = 0;
        // Cleared, not dropped: the buffers are filled again at once.
        self.current.jsonl.clear();
        self.current.csv.clear();
        self.current.skipped.clear();
        written
    }
}

impl RecordSink for ItemSink {
    fn record(&mut self, record: &DocumentRecord) -> std::io::Result<()> {
        self.rows.fetch_add(1, Ordering::Relaxed);
        self.line.clear();
        crate::report::jsonl::write_line_noting(&mut self.line, record, &mut |_, _| {});
        self.current.jsonl.extend_from_slice(&self.line);
        Self::csv_record(
            &mut self.current.csv,
            crate::report::csv_report::row(record)
                .iter()
                .map(|c| c.as_bytes()),
        )?;
        lock(&self.writes)
            .documents
            .push(state::document_state(record));
        self.spill_if_large()
    }
    fn skipped(&mut self, skip: &Skip) -> std::io::Result<()> {
        self.rows.fetch_add(1, Ordering::Relaxed);
        Self::csv_record(
            &mut self.current.skipped,
            crate::report::skipped_csv::row(skip),
        )?;
        self.spill_if_large()
    }
    fn item_end(&mut self) -> std::io::Result<()> {
        let key = lock(&self.given)
            .pop_front()
            .ok_or_else(|| std::io::Error::other("an item the source never gave"))?;
        let mut rows = std::mem::take(&mut self.current);
        rows.key = key;
        self.held_bytes += rows.len();
        lock(&self.held).push(rows);
        self.spill_if_large()
    }
    fn finish(&mut self, _summary: &Summary) -> std::io::Result<()> {
        Ok(())
    }
}

/// A unit's items as the scan driver's job source: each key given goes
/// to `given`. Past [`UNIT_ROWS`] rows it gives no more files (skips
/// still, a row each): their keys go to `left`, for the queue.
struct UnitSource {
    items: std::vec::IntoIter<(Vec<u8>, WalkItem)>,
    filtered_out: u64,
    rows: Arc<AtomicU64>,
    given: Arc<Mutex<std::collections::VecDeque<Vec<u8>>>>,
    left: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl JobSource for UnitSource {
    fn next_item(&mut self) -> Option<WalkItem> {
        loop {
            let (key, item) = self.items.next()?;
            let full = self.rows.load(Ordering::Relaxed) >= UNIT_ROWS;
            match item {
                WalkItem::File(_) if full => lock(&self.left).push(key),
                item => {
                    lock(&self.given).push_back(key);
                    return Some(item);
                }
            }
        }
    }
    fn filtered_out(&self) -> u64 {
        self.filtered_out
    }
}

/// A run as a worker holds it: its spec, context and trees.
pub struct RunState {
    pub id: i64,
    pub spec: RunSpec,
    ctx: Arc<Context>,
    trees: Vec<UnitTree>,
    filter: Filter,
    fail_on: Vec<VerdictCode>,
    /// The state store held no file when the run was queued: no lookups.
    pub empty_store: bool,
}

impl RunState {
    pub fn new(id: i64, spec: RunSpec) -> Result<RunState, String> {
        let ctx = Arc::new(context_of(&spec)?);
        let trees = spec
            .roots
            .iter()
            .zip(&spec.displays)
            .zip(&spec.locations)
            .map(|((root, display), location)| {
                UnitTree::new(PathBuf::from(root), display.clone(), location.clone())
            })
            .collect();
        let options = &spec.summary.options;
        let filter = Filter::new(
            &options.include,
            &options.exclude,
            spec.skip_dirs.iter().map(PathBuf::from).collect(),
        )
        .map_err(|e| e.to_string())?;
        let fail_on = options
            .fail_on
            .iter()
            .filter_map(|c| VerdictCode::parse(c))
            .collect();
        Ok(RunState {
            id,
            empty_store: spec.store_was_empty.unwrap_or(false),
            spec,
            ctx,
            trees,
            filter,
            fail_on,
        })
    }

    pub fn context(&self) -> &Arc<Context> {
        &self.ctx
    }
}

/// Splits a unit's `names` (each ended by a 0 byte) into paths.
fn split_names(names: &[u8]) -> Vec<PathBuf> {
    names
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| PathBuf::from(OsStr::from_bytes(n)))
        .collect()
}

/// Paths joined as a unit's `names`, each ended by a 0 byte.
fn join_names<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Vec<u8> {
    let mut joined = Vec::new();
    for path in paths {
        joined.extend_from_slice(path.as_os_str().as_bytes());
        joined.push(0);
    }
    joined
}

/// The items of files `files` (paths below the PATH, grouped by folder
/// as listed), with their keys.
fn file_items(tree: &UnitTree, files: &[PathBuf], filter: &Filter) -> KeyedItems {
    let (mut items, mut filtered_out) = (Vec::with_capacity(files.len()), 0);
    let mut at = 0;
    while at < files.len() {
        let folder = files[at].parent().unwrap_or(Path::new("")).to_path_buf();
        let mut names = Vec::new();
        while let Some(path) = files.get(at) {
            if path.parent().unwrap_or(Path::new("")) != folder {
                break;
            }
            names.push(path.file_name().unwrap_or_default().to_os_string());
            at += 1;
        }
        let (more, out) = tree.items(&folder, &names, filter);
        items.extend(more);
        filtered_out += out;
    }
    (items, filtered_out)
}

/// Lists the unit's folders (queuing their sub-folders, packed into units
/// of [`UNIT_FOLDERS`], and the files past the unit's [`UNIT_FILES`] as
/// batches) and gives its items with their keys.
fn unit_items(session: &mut Session, run: &RunState, unit: &Unit) -> Result<KeyedItems, String> {
    let tree = run
        .trees
        .get(unit.root as usize)
        .ok_or_else(|| format!("unit {}: no PATH {}", unit.id, unit.root))?;
    let members = match (&unit.names, unit.part) {
        // A batch of files, by path below the PATH.
        (Some(names), part) if part > 0 || part == REST_PART => {
            return Ok(file_items(tree, &split_names(names), &run.filter))
        }
        // Folders listed together.
        (Some(names), _) => split_names(names),
        // The PATH itself.
        (None, _) => {
            if unit.folder.is_empty() {
                if let Some(item) = tree.root_file() {
                    return Ok((vec![(Vec::new(), item)], 0));
                }
            }
            vec![unit.folder_path()]
        }
    };
    let mut unlisted = Vec::new();
    let mut folders: Vec<PathBuf> = Vec::new();
    let mut files: Vec<PathBuf> = Vec::new();
    for member in &members {
        match tree.list(member, &run.filter) {
            Ok(listed) => {
                for entry in listed {
                    match entry {
                        Listed::Folder(path) => folders.push(path),
                        Listed::Entry(name) => files.push(member.join(name)),
                    }
                }
            }
            Err(skip) => unlisted.push((walk_key(member), WalkItem::Skip(skip))),
        }
    }
    let rest = files.split_off(files.len().min(UNIT_FILES));
    let groups: Vec<(Vec<u8>, Vec<u8>)> = folders
        .chunks(UNIT_FOLDERS)
        .map(|group| {
            (
                group[0].as_os_str().as_bytes().to_vec(),
                join_names(group.iter().map(PathBuf::as_path)),
            )
        })
        .collect();
    let batches: Vec<Vec<u8>> = rest
        .chunks(UNIT_FILES)
        .map(|batch| join_names(batch.iter().map(PathBuf::as_path)))
        .collect();
    queue_children(session, unit, groups, batches)?;
    let (mut items, filtered_out) = file_items(tree, &files, &run.filter);
    items.extend(unlisted);
    Ok((items, filtered_out))
}

/// Inspects a unit's items with the scan driver, its rows rendered as a
/// single scan's report sinks render them.
fn inspect_unit(
    run: &RunState,
    lookups: &Arc<PostgresStore>,
    items: Vec<(Vec<u8>, WalkItem)>,
    filtered_out: u64,
    spill: Spill,
) -> Result<UnitResult, String> {
    let total = items.len() as u64;
    let writes = Arc::new(Mutex::new(StateWrites::default()));
    let held = Arc::new(Mutex::new(Vec::with_capacity(items.len())));
    let given = Arc::new(Mutex::new(std::collections::VecDeque::new()));
    let rows = Arc::new(AtomicU64::new(0));
    let left = Arc::new(Mutex::new(Vec::new()));
    let store = UnitStore {
        lookups: Arc::clone(lookups),
        empty: run.empty_store,
        writes: Arc::clone(&writes),
    };
    let (inspector, reused) =
        state::unit_inspector(Arc::clone(&run.ctx), Box::new(store), run.spec.full);
    let sinks: Vec<Box<dyn RecordSink>> = vec![Box::new(ItemSink {
        given: Arc::clone(&given),
        held: Arc::clone(&held),
        held_bytes: 0,
        current: ItemRows::default(),
        writes: Arc::clone(&writes),
        rows: Arc::clone(&rows),
        line: Vec::new(),
        spill,
    })];
    let mut summary = run.spec.summary.clone();
    summary.warnings.clear();
    let source = Box::new(UnitSource {
        items: items.into_iter(),
        filtered_out,
        rows,
        given: Arc::clone(&given),
        left: Arc::clone(&left),
    });
    let opts = ScanOptions {
        jobs: 1,
        fail_on: run.fail_on.clone(),
        progress: false,
        count_ahead: None,
        file_timeout: run.ctx.limits.file_timeout,
    };
    let result = scan::run(source, inspector, sinks, summary, opts).map_err(|e| e.to_string())?;
    let mut summary = result.summary;
    let reused = reused.load(Ordering::Relaxed);
    summary.reused = reused;
    summary.read = summary.read.saturating_sub(reused);
    summary.warnings.clear();
    summary.paths.clear();
    summary.paths_walked.clear();
    summary.paths_resolved.clear();
    summary.paths_not_walked.clear();
    if !lock(&given).is_empty() {
        return Err("an item gave no result".to_string());
    }
    let writes = std::mem::take(&mut *lock(&writes));
    let items = std::mem::take(&mut *lock(&held));
    let left = std::mem::take(&mut *lock(&left));
    Ok(UnitResult {
        items,
        rest: left_for_queue(&left),
        worked: total - left.len() as u64,
        summary: serde_json::to_string(&summary).map_err(|e| e.to_string())?,
        writes,
        // A run whose spec says whether the store was empty was queued by a
        // build whose end keeps the files its workers store.
        files_direct: run.spec.store_was_empty.is_some(),
    })
}

/// The files left for the queue, by key: the first one's path and all of
/// them as a unit's `names`, paths below the PATH (a key is one with its
/// separators as 0 bytes).
fn left_for_queue(left: &[Vec<u8>]) -> Option<(Vec<u8>, Vec<u8>)> {
    let path_of =
        |key: &[u8]| -> Vec<u8> { key.iter().map(|&b| if b == 0 { b'/' } else { b }).collect() };
    let first = path_of(left.first()?);
    let mut names = Vec::new();
    for key in left {
        names.extend(path_of(key));
        names.push(0);
    }
    Some((first, names))
}

/// How a worker (or the starting host) works on the queue.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Units worked on at once (threads).
    pub jobs: usize,
    /// Only this run (the starting host); 0: every open run.
    pub run: i64,
    /// Keep waiting for new runs when none is open.
    pub follow: bool,
    pub lease_secs: f64,
    /// How long an idle worker waits before it looks again.
    pub idle: Duration,
}

/// What a worker did.
#[derive(Debug, Default, Clone, Copy)]
pub struct WorkerTotals {
    pub units: u64,
    pub items: u64,
    pub lost: u64,
    pub failed: u64,
}

/// The leases this process holds, renewed by its heartbeat.
#[derive(Default)]
struct Leases(Mutex<HashSet<i64>>);

/// Set when the process's unit threads are done: wakes the heartbeat at
/// once, so that the host's reports do not wait out its pause.
#[derive(Default)]
struct Stop {
    stopped: Mutex<bool>,
    wake: std::sync::Condvar,
}

impl Stop {
    fn set(&self) {
        *lock(&self.stopped) = true;
        self.wake.notify_all();
    }

    fn is_set(&self) -> bool {
        *lock(&self.stopped)
    }

    /// Waits `pause` or until set; whether it is set.
    fn wait(&self, pause: Duration) -> bool {
        let stopped = lock(&self.stopped);
        let (stopped, _) = self
            .wake
            .wait_timeout_while(stopped, pause, |stopped| !*stopped)
            .unwrap_or_else(|e| e.into_inner());
        *stopped
    }
}

struct Worker {
    id: String,
    config: postgres::Config,
    lookups: Arc<PostgresStore>,
    opts: WorkerOptions,
    leases: Leases,
    runs: Mutex<Vec<Arc<RunState>>>,
    /// Runs this worker cannot work on (another version, say), by id.
    refused: Mutex<HashSet<i64>>,
    stop: Stop,
    units: AtomicU64,
    items: AtomicU64,
    lost: AtomicU64,
    failed: AtomicU64,
}

fn log(id: &str, message: &str) {
    eprintln!("labelscan worker {id}: {message}");
}

impl Worker {
    /// The run `id` as this worker holds it; `Ok(None)` when this worker
    /// cannot work on it (logged once; its units are left to others).
    fn run_state(&self, client: &mut Client, id: i64) -> Result<Option<Arc<RunState>>, String> {
        if let Some(run) = lock(&self.runs).iter().find(|r| r.id == id) {
            return Ok(Some(Arc::clone(run)));
        }
        let row = client
            .query_one("SELECT run_id, spec FROM queue_runs WHERE id = $1", &[&id])
            .map_err(err)?;
        let run_id: String = row.get(0);
        let state = serde_json::from_str::<RunSpec>(row.get::<_, &str>(1))
            .map_err(|e| e.to_string())
            .and_then(|spec| RunState::new(id, spec));
        let state = match state {
            // A run queued by an earlier build: whether the store holds any
            // file now.
            Ok(run) if run.spec.store_was_empty.is_none() => {
                let empty_store: bool = client
                    .query_one("SELECT NOT EXISTS (SELECT 1 FROM files)", &[])
                    .map_err(err)?
                    .get(0);
                Ok(RunState { empty_store, ..run })
            }
            state => state,
        };
        let run = match state {
            Ok(run) => Arc::new(run),
            Err(e) => {
                if lock(&self.refused).insert(id) {
                    log(
                        &self.id,
                        &format!(
                            "cannot work on run {run_id}, its units are left to other workers: {e}"
                        ),
                    );
                }
                return Ok(None);
            }
        };
        log(&self.id, &format!("joined run {run_id}"));
        lock(&self.runs).push(Arc::clone(&run));
        Ok(Some(run))
    }

    /// One thread's loop: claim, work, hand to the commit, until no unit
    /// is left. A unit's commit runs on a connection of its own while the
    /// next unit is claimed and inspected (at most one unit waits for its
    /// commit, its lease still renewed), so the inspection does not wait
    /// for the server.
    fn work(&self) -> Result<(), String> {
        let mut session = self.open_session()?;
        let mut commits = self.open_session()?;
        std::thread::scope(|scope| {
            let (hand, inspected) = std::sync::mpsc::sync_channel::<(Unit, UnitResult)>(0);
            let committer = std::thread::Builder::new()
                .name("unit-commit".to_string())
                .spawn_scoped(scope, move || {
                    for (unit, mut result) in inspected {
                        self.commit(&mut commits, &unit, &mut result)?;
                    }
                    Ok::<(), String>(())
                })
                .map_err(|e| e.to_string())?;
            let worked = self.claim_and_inspect(&mut session, &hand);
            drop(hand);
            let committed = committer
                .join()
                .unwrap_or_else(|_| Err("a unit's commit failed".to_string()));
            worked.and(committed)
        })
    }

    fn claim_and_inspect(
        &self,
        session: &mut Session,
        hand: &std::sync::mpsc::SyncSender<(Unit, UnitResult)>,
    ) -> Result<(), String> {
        // An idle thread looks again soon (a unit being listed queues
        // more), then less and less often, up to `opts.idle`.
        let mut idle = IDLE_FIRST.min(self.opts.idle);
        // The last wait ended with a notice.
        let mut woken = false;
        while !self.stop.is_set() {
            let refused: Vec<i64> = lock(&self.refused).iter().copied().collect();
            let claim_next = |session: &mut Session| {
                claim(
                    session,
                    self.opts.run,
                    &self.id,
                    self.opts.lease_secs,
                    &refused,
                )
            };
            // The server may have ended the connection since the last
            // unit: once, a new one.
            let claimed = match claim_next(session) {
                Ok(claimed) => claimed,
                Err(e) => {
                    log(
                        &self.id,
                        &format!("claiming failed ({e}); connecting again"),
                    );
                    *session = self.reconnect()?;
                    claim_next(session)?
                }
            };
            let Some(unit) = claimed else {
                session.listen()?;
                let client = &mut session.client;
                reap(client)?;
                // A unit waiting for its commit here is still leased, so
                // counts as open.
                let open = match self.opts.run {
                    0 => open_units(client, &refused)?,
                    run => unit_counts(client, run)?.open(),
                };
                if open == 0 && !self.opts.follow {
                    return Ok(());
                }
                if woken {
                    // The notice brought nothing (other threads took the
                    // units): the pause is waited out before the next one
                    // is heeded, so that a fleet's idle threads, all woken
                    // by every listing, look no more often than without
                    // notices.
                    std::thread::sleep(idle);
                    woken = false;
                } else {
                    woken = wait_for_notice(client, idle);
                }
                idle = next_idle_wait(idle, open, self.opts.idle);
                continue;
            };
            woken = false;
            idle = IDLE_FIRST.min(self.opts.idle);
            session.drain_notices();
            lock(&self.leases.0).insert(unit.lease);
            match self.inspect(session, &unit) {
                Ok(Some(result)) => {
                    if let Err(std::sync::mpsc::SendError((unit, _))) = hand.send((unit, result)) {
                        // The commit thread ended on an error, which the
                        // caller reports; the unit's lease runs out and
                        // another worker does it.
                        lock(&self.leases.0).remove(&unit.lease);
                        return Ok(());
                    }
                }
                Ok(None) => {
                    lock(&self.leases.0).remove(&unit.lease);
                }
                Err(e) => self.give_up(session, &unit, &e)?,
            }
        }
        Ok(())
    }

    /// A unit that failed goes back to the queue, or is marked failed on
    /// its last attempt. The error may have been the connection's (the
    /// server ended it, the network cut it), so when giving the unit back
    /// fails the session starts anew and tries once more; should that fail
    /// too, the unit's lease, no longer renewed, runs out.
    fn give_up(&self, session: &mut Session, unit: &Unit, e: &str) -> Result<(), String> {
        lock(&self.leases.0).remove(&unit.lease);
        let failed = match release(&mut session.client, unit, e) {
            Ok(failed) => failed,
            Err(_) => {
                *session = self.reconnect()?;
                release(&mut session.client, unit, e)?
            }
        };
        self.failed.fetch_add(failed as u64, Ordering::Relaxed);
        log(
            &self.id,
            &format!(
                "unit {} failed on attempt {} ({e}){}",
                unit.id,
                unit.attempts,
                if failed {
                    "; marked failed"
                } else {
                    "; back in the queue"
                }
            ),
        );
        Ok(())
    }

    /// A thread's session; should the server end the connection while its
    /// statements are prepared (a restart, an administrator's
    /// pg_terminate_backend), once more after a pause, as after a
    /// connection lost later.
    fn open_session(&self) -> Result<Session, String> {
        Session::open(&self.config).or_else(|e| {
            log(
                &self.id,
                &format!("connecting failed ({e}); connecting again"),
            );
            self.reconnect()
        })
    }

    /// A new session after a lost connection, after a pause: a server
    /// restarting refuses connections for a moment.
    fn reconnect(&self) -> Result<Session, String> {
        std::thread::sleep(RECONNECT_PAUSE);
        Session::open(&self.config)
    }

    /// Lists and inspects a unit; `Ok(None)` when this worker cannot work
    /// on its run (the unit is given back).
    fn inspect(&self, session: &mut Session, unit: &Unit) -> Result<Option<UnitResult>, String> {
        let Some(run) = self.run_state(&mut session.client, unit.run)? else {
            give_back(&mut session.client, unit)?;
            return Ok(None);
        };
        if unit.attempts > 1 {
            log(
                &self.id,
                &format!(
                    "took over {} (attempt {})",
                    unit.describe(&run.spec),
                    unit.attempts
                ),
            );
        }
        let (items, filtered_out) = unit_items(session, &run, unit)?;
        let spill = Spill {
            config: self.config.clone(),
            client: None,
            run: unit.run,
            root: unit.root,
            unit: unit.id,
            lease: unit.lease,
            written: 0,
        };
        inspect_unit(&run, &self.lookups, items, filtered_out, spill).map(Some)
    }

    /// Commits an inspected unit on the commit thread's connection.
    fn commit(
        &self,
        session: &mut Session,
        unit: &Unit,
        result: &mut UnitResult,
    ) -> Result<(), String> {
        let done = match session.client.is_closed() {
            true => Session::open(&self.config).map(|s| *session = s),
            false => Ok(()),
        }
        .and_then(|()| complete(session, unit, result));
        // Done, lost or failed, the lease is no longer renewed: should the
        // unit not be given back below, it runs out and another worker
        // does the unit.
        lock(&self.leases.0).remove(&unit.lease);
        match done {
            Ok(true) => {
                self.units.fetch_add(1, Ordering::Relaxed);
                self.items.fetch_add(result.worked, Ordering::Relaxed);
                // Best effort: without it, waiting threads see the run done
                // at their next look.
                let _ = session
                    .client
                    .execute(&session.run_done, &[&unit.run, &NOTICES]);
            }
            Ok(false) => {
                self.lost.fetch_add(1, Ordering::Relaxed);
                let what = lock(&self.runs)
                    .iter()
                    .find(|r| r.id == unit.run)
                    .map(|run| unit.describe(&run.spec))
                    .unwrap_or_else(|| format!("unit {}", unit.id));
                log(
                    &self.id,
                    &format!(
                        "lost the lease of {what} before it was done; its results are dropped, another worker's count"
                    ),
                );
            }
            Err(e) => self.give_up(session, unit, &e)?,
        }
        Ok(())
    }
}

/// Renews the process's leases every third of their length, until `stop`.
fn heartbeat(worker: &Worker) {
    let every = Duration::from_secs_f64((worker.opts.lease_secs / 3.0).max(0.05));
    let mut client: Option<Client> = None;
    while !worker.stop.wait(every) {
        let leases: Vec<i64> = lock(&worker.leases.0).iter().copied().collect();
        if leases.is_empty() {
            continue;
        }
        if client.as_ref().is_none_or(|c| c.is_closed()) {
            client = connect(&worker.config).ok();
        }
        let Some(c) = client.as_mut() else {
            log(&worker.id, "cannot reach the database to renew leases");
            continue;
        };
        if let Err(e) = renew(c, &leases, worker.opts.lease_secs) {
            log(&worker.id, &format!("renewing leases failed: {e}"));
            client = None;
        }
    }
}

/// Works on the queue with `opts.jobs` threads until no unit of the runs
/// it works on is pending or leased (or, with `follow`, for ever).
pub fn run_worker(
    url_store: Arc<PostgresStore>,
    opts: WorkerOptions,
) -> Result<WorkerTotals, String> {
    let worker = Worker {
        id: worker_id(),
        config: url_store.config().clone(),
        lookups: url_store,
        opts,
        leases: Leases::default(),
        runs: Mutex::new(Vec::new()),
        refused: Mutex::new(HashSet::new()),
        stop: Stop::default(),
        units: AtomicU64::new(0),
        items: AtomicU64::new(0),
        lost: AtomicU64::new(0),
        failed: AtomicU64::new(0),
    };
    let started = Instant::now();
    log(
        &worker.id,
        &format!(
            "started with {} thread{}, leases of {}s",
            worker.opts.jobs,
            if worker.opts.jobs == 1 { "" } else { "s" },
            worker.opts.lease_secs
        ),
    );
    let errors: Vec<String> = std::thread::scope(|scope| {
        let beat = scope.spawn(|| heartbeat(&worker));
        let threads: Vec<_> = (0..worker.opts.jobs.max(1))
            .map(|i| {
                std::thread::Builder::new()
                    .name(format!("unit-{i}"))
                    .spawn_scoped(scope, || worker.work())
            })
            .collect();
        let mut errors = Vec::new();
        for t in threads {
            match t {
                Ok(t) => match t.join() {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => errors.push(e),
                    Err(_) => errors.push("a worker thread failed".to_string()),
                },
                Err(e) => errors.push(e.to_string()),
            }
        }
        worker.stop.set();
        let _ = beat.join();
        errors
    });
    let totals = WorkerTotals {
        units: worker.units.load(Ordering::Relaxed),
        items: worker.items.load(Ordering::Relaxed),
        lost: worker.lost.load(Ordering::Relaxed),
        failed: worker.failed.load(Ordering::Relaxed),
    };
    log(
        &worker.id,
        &format!(
            "done: {} units ({} items) in {:.1}s; {} leases lost, {} units failed",
            totals.units,
            totals.items,
            started.elapsed().as_secs_f64(),
            totals.lost,
            totals.failed
        ),
    );
    match errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(totals),
    }
}

/// The reports of a finished run are being written: the state store's run
/// in the making, to commit once the reports are.
pub struct Reporting {
    pub summary: Summary,
    pub state: StateRun,
}

/// Writes the reports of finished run `run` into `set`'s staging folder,
/// as a single host's scan of the same files writes them, and begins the
/// run in the state store (`store`, told to take in the queued results).
/// The caller renders the rest, commits `set`, then the state, whose
/// commit closes the queued run.
pub fn write_reports(
    client: &mut Client,
    store: PostgresStore,
    run: &QueuedRun,
    ctx: &Context,
    set: &ReportSet,
) -> Result<Reporting, String> {
    let counts = unit_counts(client, run.id)?;
    if counts.open() > 0 {
        return Err(format!(
            "run {} is not finished: {} units pending, {} leased (start workers with labelscan worker --db URL)",
            run.run_id, counts.pending, counts.leased
        ));
    }
    let spec = &run.spec;
    let mut summary = spec.summary.clone();
    for row in client
        .query(
            "SELECT root, folder, part, attempts, coalesce(error, ''), names FROM queue_units
             WHERE run = $1 AND state = 'failed' ORDER BY id",
            &[&run.id],
        )
        .map_err(err)?
    {
        let unit = Unit {
            id: 0,
            run: run.id,
            root: row.get(0),
            folder: row.get(1),
            part: row.get(2),
            names: row.get(5),
            attempts: row.get(3),
            lease: 0,
            server: String::new(),
        };
        let what = unit.describe(spec);
        let what = what
            .split_once(" (")
            .map(|(_, w)| w.trim_end_matches(')'))
            .unwrap_or(&what);
        summary.complete = false;
        summary.warnings.push(format!(
            "work unit {what} failed after {} attempts and is not in the reports: {}",
            unit.attempts,
            row.get::<_, String>(4)
        ));
    }
    let stmt = client
        .prepare("SELECT summary FROM queue_results WHERE run = $1 ORDER BY unit")
        .map_err(err)?;
    let mut rows = client.query_raw(&stmt, [&run.id]).map_err(err)?;
    while let Some(row) = rows.next().map_err(err)? {
        let unit: Summary =
            serde_json::from_str(row.get::<_, &str>(0)).map_err(|e| e.to_string())?;
        crate::report::merge::add_counts(&mut summary, &unit);
    }
    drop(rows);
    // Units count their reused files apart; the state sink takes them off
    // the files read, as a single scan's does.
    let reused = std::mem::take(&mut summary.reused);
    summary.read += reused;

    let mut store = store;
    store.close_with_queued_run(run.id);
    let location = store.location().to_string();
    let roots: Vec<PathBuf> = spec.locations.iter().map(PathBuf::from).collect();
    let state = StateRun::begin(Box::new(store), &location, ctx, &summary, &roots)
        .map_err(|e| e.to_string())?;
    // The store's writer thread stores the parcels' state writes on its
    // connection while the rows are read on this one.
    let doubled = write_rows(client, run, set, &state).map_err(|e| e.to_string())?;
    if doubled > 0 {
        // The units' counts include those items twice.
        summary.complete = false;
        summary.warnings.push(format!(
            "{doubled} items were inspected by two work units (a folder changed while the run was worked on and was listed again): each is in the reports once, but the run's counts include them twice"
        ));
    }
    state.add_reused(reused);
    let mut sinks: Vec<Box<dyn RecordSink>> = vec![
        state.sink(set),
        Box::new(SummarySink::new(&set.path_of(SUMMARY_FILE))),
    ];
    let finished = chrono::Utc::now();
    let secs = chrono::DateTime::parse_from_rfc3339(&summary.started_at)
        .map(|s| (finished - s.with_timezone(&chrono::Utc)).num_milliseconds() as f64 / 1000.0)
        .unwrap_or(summary.duration_seconds)
        .max(0.001);
    let rate = |amount: f64| ((amount / secs) * 10.0).round() / 10.0;
    summary.duration_seconds = secs;
    summary.files_per_second = rate(summary.files_scanned as f64);
    summary.megabytes_per_second = rate(summary.bytes_scanned as f64 / 1e6);
    summary.finished_at = finished.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    summary.close_counts();
    for sink in sinks.iter_mut() {
        sink.conclude(&mut summary).map_err(|e| e.to_string())?;
    }
    for sink in sinks.iter_mut() {
        sink.finish(&summary).map_err(|e| e.to_string())?;
    }
    Ok(Reporting { summary, state })
}

/// `findings.jsonl`, `findings.csv` and `skipped.csv` from the items' rows
/// in walk order, each file begun as its sink begins it; the parcels'
/// state writes go to `state`'s store. Gives the number of items left out
/// because two units inspected them (see [`parcel::Merge`]).
///
/// report.html's rows are rendered meanwhile on a thread of their own (see
/// [`RowsAhead`]), so that the render after the run only appends what
/// shows the run, as after a single host's scan.
fn write_rows(
    client: &mut Client,
    run: &QueuedRun,
    set: &ReportSet,
    state: &StateRun,
) -> std::io::Result<u64> {
    let formats = run.spec.formats();
    let rows_ahead = formats
        .html
        .then(|| RowsAhead::create(set.staging_dir(), &run.spec.summary.paths_walked))
        .transpose()?;
    std::thread::scope(|scope| {
        let (lines, to_render) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
        let renderer = rows_ahead.map(|mut rows| {
            scope.spawn(move || {
                for block in to_render {
                    rows.add_lines(&block)?;
                }
                rows.finish()
            })
        });
        let lines = renderer.is_some().then_some(lines);
        let merged = merge_rows(client, run, &formats, set, state, lines);
        let rendered = renderer.map_or(Ok(()), |r| {
            r.join()
                .unwrap_or_else(|_| Err(std::io::Error::other("rendering rows failed")))
        });
        // A failed render stops the merge at its next hand-over, with an
        // error that only says so: the render's own comes first. A failed
        // merge only ends the render early.
        rendered?;
        merged
    })
}

/// How many bytes of findings lines go to report.html's rows at a time.
const ROWS_BLOCK: usize = 256 * 1024;

/// The merge of [`write_rows`]: the files written here, the findings lines
/// handed to `lines` in blocks, when given.
fn merge_rows(
    client: &mut Client,
    run: &QueuedRun,
    formats: &Formats,
    set: &ReportSet,
    state: &StateRun,
    lines: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
) -> std::io::Result<u64> {
    use std::io::Write;
    let empty = Summary::default();
    let jsonl = formats.stages_jsonl().then(|| set.path_of(JSONL_FILE));
    let csv = formats.csv.then(|| set.path_of(CSV_FILE));
    let skipped = set.path_of(SKIPPED_FILE);
    if let Some(path) = &jsonl {
        JsonlSink::create(path)?.finish(&empty)?;
    }
    if let Some(path) = &csv {
        CsvSink::create(path)?.finish(&empty)?;
    }
    SkippedCsvSink::create(&skipped)?.finish(&empty)?;
    let append = |path: &Path| -> std::io::Result<std::io::BufWriter<std::fs::File>> {
        Ok(std::io::BufWriter::with_capacity(
            256 * 1024,
            std::fs::OpenOptions::new().append(true).open(path)?,
        ))
    };
    let mut jsonl = jsonl.as_deref().map(append).transpose()?;
    let mut csv = csv.as_deref().map(append).transpose()?;
    let mut skipped = append(&skipped)?;
    let mut block = Vec::new();
    // The renderer ends early only on an error, which `write_rows` reports.
    let hand_over = |block: &mut Vec<u8>| match &lines {
        Some(lines) => lines
            .send(std::mem::replace(block, Vec::with_capacity(ROWS_BLOCK)))
            .map_err(|_| std::io::Error::other("report.html's rows could not be rendered")),
        None => Ok(()),
    };
    let mut write = |item: ItemRows| -> std::io::Result<()> {
        if let Some(out) = &mut jsonl {
            out.write_all(&item.jsonl)?;
        }
        if lines.is_some() {
            block.extend_from_slice(&item.jsonl);
            if block.len() >= ROWS_BLOCK {
                hand_over(&mut block)?;
            }
        }
        if let Some(out) = &mut csv {
            out.write_all(&item.csv)?;
        }
        skipped.write_all(&item.skipped)
    };
    // Parcels written ahead count only if their unit was done under the
    // lease they were written under.
    let stmt = client
        .prepare(
            "SELECT p.root, p.first_key, p.first_seq, p.body
             FROM queue_parcels p JOIN queue_units u ON u.id = p.unit
             WHERE p.run = $1 AND (p.lease = 0 OR (p.lease = u.lease AND u.state = 'done'))
             ORDER BY p.root, p.first_key, p.first_seq, p.unit, p.lease, p.seq",
        )
        .map_err(std::io::Error::other)?;
    let mut parcels = client
        .query_raw(&stmt, [&run.id])
        .map_err(std::io::Error::other)?;
    let mut merge = parcel::Merge::default();
    // The next parcel, read but not yet added: its root, first key, row.
    let mut waiting: Option<(i32, parcel::FirstKey, postgres::Row)> = None;
    let mut read_all = false;
    loop {
        if waiting.is_none() && !read_all {
            waiting = parcels.next().map_err(std::io::Error::other)?.map(|row| {
                let first = row
                    .get::<_, Option<Vec<u8>>>(1)
                    .map(|key| (key, row.get::<_, i32>(2)));
                (row.get::<_, i32>(0), first, row)
            });
            read_all = waiting.is_none();
        }
        match waiting.take() {
            Some((root, first, row)) if merge.wants(root, &first) => {
                let parcel =
                    parcel::unpack(row.get::<_, &[u8]>(3)).map_err(std::io::Error::other)?;
                drop(row);
                let writes = parcel.state;
                state.take_in(writes.files, writes.seen, writes.documents);
                merge.add(root, parcel.items);
            }
            held => {
                waiting = held;
                match merge.next() {
                    Some((_, item)) => write(item)?,
                    None if waiting.is_none() => break,
                    None => {}
                }
            }
        }
    }
    if !block.is_empty() {
        hand_over(&mut block)?;
    }
    for out in [jsonl.as_mut(), csv.as_mut(), Some(&mut skipped)]
        .into_iter()
        .flatten()
    {
        out.flush()?;
        out.get_ref().sync_all()?;
    }
    Ok(merge.doubled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_units_server_is_the_host_of_a_network_mount_else_the_device() {
        assert_eq!(server_of("cifs", "//Files01/share", "0:52"), "files01");
        assert_eq!(server_of("nfs4", "nas2:/export/home", "0:53"), "nas2");
        assert_eq!(server_of("fuse.sshfs", "scan@host3:data", "0:54"), "host3");
        assert_eq!(server_of("ext4", "/dev/vda", "254:0"), "local:254:0");
        assert_eq!(unescape_mount("/mnt/a\\040b"), "/mnt/a b");
        assert!(!file_server(Path::new("/")).is_empty());
    }

    #[test]
    fn an_idle_thread_looks_seldom_only_while_no_unit_is_open() {
        let busy_max = Duration::from_millis(200);
        let mut wait = IDLE_FIRST;
        for _ in 0..20 {
            wait = next_idle_wait(wait, 3, busy_max);
        }
        assert_eq!(wait, busy_max, "units open: looks again soon");
        for _ in 0..20 {
            wait = next_idle_wait(wait, 0, busy_max);
        }
        assert_eq!(wait, IDLE_NOTHING_OPEN, "nothing open: looks seldom");
        assert_eq!(next_idle_wait(wait, 1, busy_max), busy_max);
    }

    #[test]
    fn a_stop_wakes_the_waiting_heartbeat_at_once() {
        let stop = Arc::new(Stop::default());
        assert!(
            !stop.wait(Duration::from_millis(1)),
            "not set: waits it out"
        );
        let waiter = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let started = Instant::now();
                (stop.wait(Duration::from_secs(60)), started.elapsed())
            })
        };
        std::thread::sleep(Duration::from_millis(20));
        stop.set();
        let (stopped, waited) = waiter.join().unwrap();
        assert!(stopped);
        assert!(
            waited < Duration::from_secs(30),
            "woken by the stop, not the pause"
        );
        assert!(stop.wait(Duration::from_secs(60)), "stays set");
    }

    #[test]
    fn names_round_trip_and_files_keep_their_folders() {
        let paths = [
            Path::new("a/b.txt"),
            Path::new("a/c d.txt"),
            Path::new("e.txt"),
        ];
        let joined = join_names(paths);
        assert_eq!(split_names(&joined), paths.map(Path::to_path_buf).to_vec());
    }
}
