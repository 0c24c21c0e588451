//! The scan driver: workers pull the next file from a shared walk, run the
//! whole per-file pipeline on their own thread and hand the result to a
//! shared, ordered output that writes records in walk order. There is no
//! walker or writer thread to hand work through: on a 2-core machine those
//! threads and their channel wake-ups took CPU from the workers. A watchdog
//! replaces a worker stuck in a parser, so that its file becomes
//! `UNREADABLE`/`timeout` and the scan goes on.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::extract::ExtractError;
use crate::pipeline::{inspect_file, unreadable_record, Context, FileJob, FileOutcome};
use crate::record::{DocumentRecord, VerdictCode};
use crate::report::{ReportWriter, Summary};
use crate::walk::{Filter, Walk, WalkItem};

/// How a scan is run (everything but the policy, which lives in [`Context`]).
pub struct ScanOptions {
    pub paths: Vec<PathBuf>,
    pub out_dir: PathBuf,
    pub jobs: usize,
    pub filter: Filter,
    pub fail_on: Vec<VerdictCode>,
    pub progress: bool,
}

/// What the caller needs after a scan.
pub struct ScanResult {
    pub summary: Summary,
    /// Whether a document got a verdict listed in `--fail-on`.
    pub failed: bool,
}

/// Records out of walk order are held back at most this far ahead, so
/// memory stays bounded even when one file takes long.
const REORDER_WINDOW: u64 = 4096;
/// Worker threads get large stacks: deeply nested documents recurse.
const WORKER_STACK: usize = 64 * 1024 * 1024;

/// Locks a mutex, also after a panic elsewhere: the guarded data stays
/// consistent because every critical section below is panic-free or
/// idempotent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The walk, shared by the workers: each takes the next file and its number.
struct Feed {
    walk: Walk,
    next_seq: u64,
}

/// Reports in the making: outcomes wait in `pending` until every earlier
/// file has been written.
struct Output {
    /// Taken when the scan is finished.
    writer: Option<ReportWriter>,
    summary: Summary,
    pending: BTreeMap<u64, FileOutcome>,
    next: u64,
    failed: bool,
    io_error: Option<std::io::Error>,
}

/// What the workers, the watchdog and the caller share.
struct Shared {
    ctx: Arc<Context>,
    feed: Mutex<Feed>,
    out: Mutex<Output>,
    /// Files written so far (`Output::next`), readable without the lock.
    written: AtomicU64,
    /// Set on a write error: workers stop taking files.
    stop: AtomicBool,
    fail_on: Vec<VerdictCode>,
    progress: ProgressBar,
    epoch: Instant,
    /// Woken by each worker as it ends, so the scan finishes as soon as
    /// the last file is written instead of at the watchdog's next tick.
    watchdog: OnceLock<thread::Thread>,
}

impl Shared {
    /// The next file to inspect, or `None` when the walk is over. Walk
    /// skips are counted on the way.
    fn next_job(&self) -> Option<(u64, Arc<FileJob>)> {
        let (seq, job) = {
            let mut feed = lock(&self.feed);
            loop {
                if self.stop.load(Ordering::Relaxed) {
                    return None;
                }
                match feed.walk.next()? {
                    WalkItem::File(job) => {
                        let seq = feed.next_seq;
                        feed.next_seq += 1;
                        break (seq, job);
                    }
                    WalkItem::Skip(skip) => lock(&self.out).summary.skip(&skip.reason),
                }
            }
        };
        // Far ahead of the oldest unwritten file: wait, so that `pending`
        // stays small while one file takes long.
        while seq >= self.written.load(Ordering::Acquire) + REORDER_WINDOW {
            if self.stop.load(Ordering::Relaxed) {
                return None;
            }
            thread::sleep(Duration::from_millis(2));
        }
        self.progress.inc_length(job.size);
        Some((seq, Arc::new(job)))
    }

    /// Files one outcome and writes every outcome that is now in order.
    fn deliver(&self, seq: u64, outcome: FileOutcome) {
        let mut out = lock(&self.out);
        out.pending.insert(seq, outcome);
        loop {
            let next = out.next;
            let Some(outcome) = out.pending.remove(&next) else {
                break;
            };
            out.next += 1;
            self.written.store(out.next, Ordering::Release);
            if out.io_error.is_some() {
                continue;
            }
            if let Err(e) = self.emit(outcome, &mut out) {
                out.io_error = Some(e);
                self.stop.store(true, Ordering::Relaxed);
            }
        }
    }

    fn emit(&self, outcome: FileOutcome, out: &mut Output) -> std::io::Result<()> {
        let Output {
            writer,
            summary,
            failed,
            ..
        } = out;
        match outcome {
            FileOutcome::Skipped { reason, .. } => summary.skip(&reason),
            FileOutcome::Records(records) => {
                summary.files_scanned += 1;
                if let Some(first) = records.first() {
                    let size = top_level_size(first, &records);
                    summary.bytes_scanned += size;
                    self.progress.inc(size);
                }
                for record in &records {
                    if record
                        .verdicts
                        .iter()
                        .any(|v| self.fail_on.contains(&v.code))
                    {
                        *failed = true;
                        summary.documents_failing += 1;
                    }
                    summary.count(record);
                    if let Some(w) = writer {
                        w.write(record)?;
                    }
                }
            }
        }
        if !self.progress.is_hidden() {
            self.progress
                .set_message(format!("{} files", summary.files_scanned));
        }
        Ok(())
    }
}

pub fn run(opts: ScanOptions, ctx: Context) -> std::io::Result<ScanResult> {
    let started = Instant::now();
    let writer = ReportWriter::create(&opts.out_dir)?;
    let summary = Summary {
        tool: "labelscan",
        version: crate::VERSION,
        as_of: ctx.as_of.to_string(),
        policy: ctx.policy.origin.clone(),
        policy_sha256: ctx.policy.sha256.clone(),
        paths: opts.paths.iter().map(|p| p.display().to_string()).collect(),
        started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        fail_on: opts
            .fail_on
            .iter()
            .map(|c| c.as_str().to_string())
            .collect(),
        ..Default::default()
    };
    let shared = Arc::new(Shared {
        ctx: Arc::new(ctx),
        feed: Mutex::new(Feed {
            walk: Walk::new(opts.paths.clone(), opts.filter),
            next_seq: 0,
        }),
        out: Mutex::new(Output {
            writer: Some(writer),
            summary,
            pending: BTreeMap::new(),
            next: 0,
            failed: false,
            io_error: None,
        }),
        written: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        fail_on: opts.fail_on,
        progress: make_progress(opts.progress),
        epoch: Instant::now(),
        watchdog: OnceLock::new(),
    });

    let mut workers = Vec::with_capacity(opts.jobs);
    for i in 0..opts.jobs {
        workers.push(spawn_worker(i, &shared)?);
    }
    // The watchdog returns once every live worker has finished; an
    // abandoned worker may still be stuck, and is not waited for.
    let watchdog = {
        let shared = Arc::clone(&shared);
        thread::Builder::new()
            .name("watchdog".into())
            .spawn(move || watchdog(workers, shared))?
    };
    let _ = watchdog.join();
    shared.progress.finish_and_clear();

    let mut out = lock(&shared.out);
    if let Some(e) = out.io_error.take() {
        return Err(e);
    }
    let secs = started.elapsed().as_secs_f64();
    let Output {
        writer, summary, ..
    } = &mut *out;
    summary.duration_seconds = (secs * 1000.0).round() / 1000.0;
    summary.files_per_second = rate(summary.files_scanned as f64, secs);
    summary.megabytes_per_second = rate(summary.bytes_scanned as f64 / 1e6, secs);
    summary.fill_zero_counts();
    if let Some(w) = writer.take() {
        w.finish(summary)?;
    }
    Ok(ScanResult {
        summary: std::mem::take(summary),
        failed: out.failed,
    })
}

fn rate(amount: f64, secs: f64) -> f64 {
    if secs <= 0.0 {
        return 0.0;
    }
    ((amount / secs) * 10.0).round() / 10.0
}

/// Bytes of the file on disk (archive members are counted once, via the archive).
fn top_level_size(first: &DocumentRecord, records: &[DocumentRecord]) -> u64 {
    if first.path.contains("!/") {
        records.iter().map(|r| r.size).max().unwrap_or(0)
    } else {
        first.size
    }
}

/// One worker's state, shared with the watchdog.
struct Slot {
    /// `IDLE`, `RUNNING` or `ABANDONED`; the worker and the watchdog race on
    /// RUNNING -> IDLE / RUNNING -> ABANDONED, and the winner reports the file.
    state: AtomicU8,
    /// When the current file started, in milliseconds since the scan began.
    started_ms: AtomicU64,
    /// Set when the worker's loop has ended.
    ended: AtomicBool,
    current: Mutex<Option<(u64, Arc<FileJob>)>>,
}

const IDLE: u8 = 0;
const RUNNING: u8 = 1;
const ABANDONED: u8 = 2;

impl Slot {
    fn new() -> Arc<Slot> {
        Arc::new(Slot {
            state: AtomicU8::new(IDLE),
            started_ms: AtomicU64::new(0),
            ended: AtomicBool::new(false),
            current: Mutex::new(None),
        })
    }
}

/// Marks the worker as ended and wakes the watchdog, also when the worker
/// unwinds.
struct EndGuard<'a> {
    slot: &'a Slot,
    shared: &'a Shared,
}

impl Drop for EndGuard<'_> {
    fn drop(&mut self) {
        self.slot.ended.store(true, Ordering::Release);
        if let Some(watchdog) = self.shared.watchdog.get() {
            watchdog.unpark();
        }
    }
}

/// Runs files on the calling thread until the walk is over or the
/// watchdog abandons this worker.
fn worker_loop(slot: Arc<Slot>, shared: Arc<Shared>) {
    let _end = EndGuard {
        slot: &slot,
        shared: &shared,
    };
    while let Some((seq, job)) = shared.next_job() {
        *lock(&slot.current) = Some((seq, Arc::clone(&job)));
        slot.started_ms
            .store(shared.epoch.elapsed().as_millis() as u64, Ordering::Release);
        slot.state.store(RUNNING, Ordering::Release);
        let outcome = inspect_file(&job, &shared.ctx);
        if slot
            .state
            .compare_exchange(RUNNING, IDLE, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // The watchdog reported this file as timed out and started a
            // replacement worker: drop the late result and stop.
            return;
        }
        shared.deliver(seq, outcome);
    }
}

fn spawn_worker(
    i: usize,
    shared: &Arc<Shared>,
) -> std::io::Result<(Arc<Slot>, thread::JoinHandle<()>)> {
    let slot = Slot::new();
    let handle = {
        let (slot, shared) = (Arc::clone(&slot), Arc::clone(shared));
        thread::Builder::new()
            .name(format!("worker-{i}"))
            .stack_size(WORKER_STACK)
            .spawn(move || worker_loop(slot, shared))?
    };
    Ok((slot, handle))
}

/// Watches the workers. The budget's own deadline stops well-behaved
/// parsers; the watchdog catches one stuck inside a dependency: it reports
/// the file as `timeout`, abandons the thread and starts a replacement.
fn watchdog(mut workers: Vec<(Arc<Slot>, thread::JoinHandle<()>)>, shared: Arc<Shared>) {
    let timeout = shared.ctx.limits.file_timeout;
    let hard_limit = (timeout + (timeout / 10).max(Duration::from_secs(2))).as_millis() as u64;
    let tick = Duration::from_millis((hard_limit / 20).clamp(10, 250));
    let mut spawned = workers.len();
    // Before the first look at the workers: a worker that ends after it
    // finds the thread to wake.
    let _ = shared.watchdog.set(thread::current());
    loop {
        workers.retain(|(slot, _)| {
            !slot.ended.load(Ordering::Acquire) || slot.state.load(Ordering::Acquire) == RUNNING
        });
        if workers.is_empty() {
            return;
        }
        let now = shared.epoch.elapsed().as_millis() as u64;
        let mut replacements = Vec::new();
        for (slot, _) in &workers {
            if slot.state.load(Ordering::Acquire) != RUNNING
                || now.saturating_sub(slot.started_ms.load(Ordering::Acquire)) < hard_limit
            {
                continue;
            }
            if slot
                .state
                .compare_exchange(RUNNING, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                continue;
            }
            if let Some((seq, job)) = lock(&slot.current).take() {
                let record = unreadable_record(&job, None, ExtractError::timeout(), &shared.ctx);
                shared.deliver(seq, FileOutcome::Records(vec![record]));
            }
            match spawn_worker(spawned, &shared) {
                Ok(worker) => replacements.push(worker),
                Err(_) => eprintln!("labelscan: cannot start a replacement worker"),
            }
            spawned += 1;
        }
        workers.retain(|(slot, _)| slot.state.load(Ordering::Acquire) != ABANDONED);
        workers.extend(replacements);
        thread::park_timeout(tick);
    }
}

fn make_progress(enabled: bool) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(4));
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg} {bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}
