//! The scan driver: workers pull the next file from a shared job source,
//! run an [`Inspector`] (the per-file pipeline) on their own thread and hand
//! the result to a shared, ordered output that passes records to the record
//! sinks in source order. The driver knows neither where files come from
//! nor which reports are written. There is no
//! walker or writer thread to hand work through: on a 2-core machine those
//! threads and their channel wake-ups took CPU from the workers. A watchdog
//! replaces a worker stuck in a parser, so that its file becomes
//! `UNREADABLE`/`timeout` and the scan goes on.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, TryLockError};
use std::thread;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::analyse::detector_definitions_sha256;
use crate::model::{DocumentRecord, ExtractError, FileJob, Scope, Skip, VerdictCode};
use crate::pipeline::{inspect_file, unreadable_outcome, Context, EarlyRows, FileOutcome, Pace};
use crate::report::summary::{LocationCount, PathNote, RunOptions};
use crate::report::{RecordSink, Summary};
use crate::walk::{JobSource, RootPlan, WalkItem};

/// The per-file work the driver runs: the pipeline in a scan, a fake in the
/// driver's own tests.
pub trait Inspector: Send + Sync {
    /// Everything about one file. May be slow or panic: the driver copes.
    /// Rows handed to `early` are written before the outcome's own.
    fn inspect(&self, job: &FileJob, early: &mut dyn EarlyRows) -> FileOutcome;
    /// The outcome of a file the driver gave up on (`timeout`, `internal`).
    fn failed(&self, job: &FileJob, error: ExtractError) -> FileOutcome;
}

impl Inspector for Context {
    fn inspect(&self, job: &FileJob, early: &mut dyn EarlyRows) -> FileOutcome {
        inspect_file(job, self, early)
    }

    fn failed(&self, job: &FileJob, error: ExtractError) -> FileOutcome {
        unreadable_outcome(job, error, self)
    }
}

/// How a scan is run.
pub struct ScanOptions {
    pub jobs: usize,
    pub fail_on: Vec<VerdictCode>,
    pub progress: bool,
    /// A second source over the same scope, walked ahead of the workers
    /// only to count files, so that the progress bar knows the total (and
    /// an ETA) long before the workers' own walk ends. Used only with
    /// `progress`.
    pub count_ahead: Option<Box<dyn JobSource>>,
    /// A worker on one file longer than this (plus a grace period) is
    /// abandoned and the file reported `timeout`.
    pub file_timeout: Duration,
}

/// The summary a scan starts from: its provenance and scope (the PATHs as
/// given and as walked, every option, policy, host and user), no counts yet.
pub fn new_summary(
    ctx: &Context,
    given: &[PathBuf],
    plan: &RootPlan,
    options: RunOptions,
) -> Summary {
    let policy = &ctx.policy;
    let started = chrono::Utc::now();
    let mut not_walked: Vec<PathNote> = plan
        .unreadable
        .iter()
        .map(|(path, reason)| PathNote {
            path: path.clone(),
            reason: reason.clone(),
            covered_by: None,
        })
        .collect();
    not_walked.extend(plan.covered.iter().map(|(path, outer)| PathNote {
        path: path.clone(),
        reason: "covered_by".to_string(),
        covered_by: Some(outer.clone()),
    }));
    let as_of = ctx.as_of;
    let (in_force, lapsed): (Vec<_>, Vec<_>) =
        policy.exceptions.iter().partition(|e| e.in_force_on(as_of));
    let mut warnings: Vec<String> = plan
        .unreadable
        .iter()
        .map(|(path, reason)| format!("PATH {path} was not scanned: {reason}"))
        .collect();
    warnings.extend(plan.covered.iter().map(|(path, outer)| {
        format!("PATH {path} lies inside {outer} and is scanned as part of it")
    }));
    warnings.extend(lapsed.iter().map(|e| {
        format!(
            "exception {} expired on {} and no longer applies",
            e.id,
            e.expires.map(|d| d.to_string()).unwrap_or_default()
        )
    }));
    Summary {
        tool: "labelscan".to_string(),
        version: crate::VERSION.to_string(),
        run_id: run_id(started),
        as_of: ctx.as_of.to_string(),
        policy: policy.origin.clone(),
        policy_name: policy.name.clone(),
        policy_version: policy.version.clone(),
        policy_sha256: policy.sha256.clone(),
        detectors_sha256: detector_definitions_sha256(),
        paths: given.iter().map(|p| p.display().to_string()).collect(),
        paths_walked: plan.roots.iter().map(|p| p.display().to_string()).collect(),
        paths_resolved: plan.resolved.clone(),
        paths_not_walked: not_walked,
        show_values: options.show_values,
        fail_on: options.fail_on.clone(),
        options,
        host: host_name(),
        user: crate::model::job::user_name(current_uid()).unwrap_or_default(),
        started_at: started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        complete: plan.unreadable.is_empty(),
        locations: policy
            .locations
            .iter()
            .map(|l| LocationCount {
                path: l.pattern.clone(),
                partner: policy.partners[l.partner].name.clone(),
                files: 0,
            })
            .collect(),
        exceptions: in_force.iter().map(|e| (e.id.clone(), 0)).collect(),
        warnings,
        ..Default::default()
    }
}

/// A new run id, for a run starting now.
pub fn new_run_id() -> String {
    run_id(chrono::Utc::now())
}

/// A run id that sorts by start time and is unique across hosts:
/// `20261203T130501Z-` and 8 random hex digits.
fn run_id(started: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "{}-{}",
        started.format("%Y%m%dT%H%M%SZ"),
        crate::model::hash::random_hex(4)
    )
}

fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into `buf`.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Prints panics without their payload: a panic message may quote document
/// text (a string slice of a part, say), and logs must never carry content.
/// The file is reported `UNREADABLE` by whoever caught the panic.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let thread = thread::current();
        let name = thread.name().unwrap_or("unnamed");
        match info.location() {
            Some(at) => eprintln!(
                "labelscan: internal error in thread {name} at {}:{} (details withheld: they may quote document content)",
                at.file(),
                at.line()
            ),
            None => eprintln!("labelscan: internal error in thread {name}"),
        }
    }));
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

/// The job source, shared by the workers: each takes the next file and its number.
struct Feed {
    source: Box<dyn JobSource>,
    next_seq: u64,
    /// Set once the source is exhausted: the number of files is known.
    exhausted: bool,
}

/// What waits in the ordered output: a file's outcome with the scope it was
/// found in (none for a walk skip).
type Delivery = (Option<Scope>, FileOutcome);

/// Reports in the making: outcomes wait in `pending` until every earlier
/// file has been written.
struct Output {
    sinks: Vec<Box<dyn RecordSink>>,
    summary: Summary,
    pending: BTreeMap<u64, Delivery>,
    next: u64,
    failed: bool,
    io_error: Option<std::io::Error>,
}

/// What the workers, the watchdog and the caller share.
struct Shared {
    inspector: Arc<dyn Inspector>,
    file_timeout: Duration,
    feed: Mutex<Feed>,
    out: Mutex<Output>,
    /// Outcomes not yet filed into `out` (see `deliver`).
    inbox: Mutex<Vec<(u64, Delivery)>>,
    /// Files written so far (`Output::next`), readable without the lock.
    written: AtomicU64,
    /// Set on a write error: workers stop taking files.
    stop: AtomicBool,
    fail_on: Vec<VerdictCode>,
    progress: ProgressBar,
    /// Whether a counting walk sets the bar's total (else the workers' walk does).
    counted_ahead: bool,
    epoch: Instant,
    /// Woken by each worker as it ends, so the scan finishes as soon as
    /// the last file is written instead of at the watchdog's next tick.
    watchdog: OnceLock<thread::Thread>,
}

impl Shared {
    /// The next file to inspect, or `None` when the walk is over. Walk
    /// skips take their place in the ordered output on the way, so that
    /// `skipped.csv` lists them in walk order.
    fn next_job(&self) -> Option<(u64, Arc<FileJob>)> {
        let mut skips = Vec::new();
        let next = self.take_job(&mut skips);
        // Delivered outside the feed's lock: the delivering thread may
        // become the writer for a while.
        for (seq, skip) in skips {
            self.deliver(seq, None, FileOutcome::Skipped(skip));
        }
        let (seq, job) = next?;
        // Far ahead of the oldest unwritten file: wait, so that `pending`
        // stays small while one file takes long.
        while seq >= self.written.load(Ordering::Acquire) + REORDER_WINDOW {
            if self.stop.load(Ordering::Relaxed) {
                return None;
            }
            thread::sleep(Duration::from_millis(2));
        }
        if !self.counted_ahead {
            self.progress.inc_length(1);
        }
        Some((seq, Arc::new(job)))
    }

    /// The next file of the walk and its number; the walk skips met on
    /// the way, with their numbers, go to `skips`.
    fn take_job(&self, skips: &mut Vec<(u64, Skip)>) -> Option<(u64, FileJob)> {
        let mut feed = lock(&self.feed);
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return None;
            }
            let Some(item) = feed.source.next_item() else {
                if !feed.exhausted {
                    feed.exhausted = true;
                    if !self.counted_ahead {
                        walk_finished(&self.progress);
                    }
                }
                return None;
            };
            let seq = feed.next_seq;
            feed.next_seq += 1;
            match item {
                WalkItem::File(job) => return Some((seq, job)),
                WalkItem::Skip(skip) => skips.push((seq, skip)),
            }
        }
    }

    /// Files one outcome and writes every outcome that is now in order.
    ///
    /// The writing is combined, never waited for: an outcome goes to the
    /// inbox, and whichever thread holds the output drains it. A worker
    /// that finds the output busy goes back to work instead of sleeping
    /// on the lock (on a rescan, where a file costs little more than its
    /// rows, the workers otherwise spent their time waking each other).
    fn deliver(&self, seq: u64, scope: Option<Scope>, outcome: FileOutcome) {
        lock(&self.inbox).push((seq, (scope, outcome)));
        self.drain_inbox();
    }

    /// Writes what waits in the inbox, unless another thread holds the
    /// output (it looks at the inbox again after it lets go).
    fn drain_inbox(&self) {
        let mut batch = Vec::new();
        loop {
            let mut out = match self.out.try_lock() {
                Ok(out) => out,
                Err(TryLockError::Poisoned(e)) => e.into_inner(),
                // The holder looks at the inbox again after it lets go.
                Err(TryLockError::WouldBlock) => return,
            };
            loop {
                std::mem::swap(&mut *lock(&self.inbox), &mut batch);
                if batch.is_empty() {
                    break;
                }
                self.write_in_order(&mut out, batch.drain(..));
            }
            drop(out);
            // An outcome filed while this thread held the output, by a
            // thread that then found the output busy: written by nobody
            // else.
            if lock(&self.inbox).is_empty() {
                return;
            }
        }
    }

    /// Writes rows of file `seq` before the file is done, once every
    /// earlier file is written: an archive's rows are streamed to the
    /// reports instead of held until its end. The worker waits for that
    /// turn; the watchdog does not count the wait as the file's time.
    fn write_early(
        &self,
        slot: &Slot,
        seq: u64,
        scope: &Scope,
        records: Vec<DocumentRecord>,
        skipped: Vec<Skip>,
    ) -> Pace {
        let waiting = Instant::now();
        let work_started = slot.started_ms.load(Ordering::Acquire);
        let still_mine = || {
            !self.stop.load(Ordering::Relaxed) && slot.state.load(Ordering::Acquire) == token(seq)
        };
        let rebase = || {
            let waited = waiting.elapsed().as_millis() as u64;
            slot.started_ms
                .store(work_started.saturating_add(waited), Ordering::Release);
        };
        while self.written.load(Ordering::Acquire) < seq {
            if !still_mine() {
                return Pace::Stop;
            }
            rebase();
            thread::sleep(Duration::from_millis(1));
        }
        let mut out = lock(&self.out);
        // Checked under the output's lock: a file the watchdog has given up
        // gets no more rows, and nothing is written after an error.
        if !still_mine() || out.next != seq || out.io_error.is_some() {
            return Pace::Stop;
        }
        let written = self.emit_rows(Some(scope), &records, &skipped, &mut out);
        if let Err(e) = written {
            out.io_error = Some(e);
            self.stop.store(true, Ordering::Relaxed);
        }
        drop(out);
        self.drain_inbox();
        rebase();
        if self.stop.load(Ordering::Relaxed) {
            return Pace::Stop;
        }
        Pace::Go(waiting.elapsed())
    }

    /// Files `outcomes` and writes every outcome that is now in order.
    fn write_in_order(&self, out: &mut Output, outcomes: impl Iterator<Item = (u64, Delivery)>) {
        out.pending.extend(outcomes);
        loop {
            let next = out.next;
            let Some((scope, outcome)) = out.pending.remove(&next) else {
                break;
            };
            out.next += 1;
            self.written.store(out.next, Ordering::Release);
            if out.io_error.is_some() {
                continue;
            }
            if let Err(e) = self.emit(scope.as_ref(), outcome, out) {
                out.io_error = Some(e);
                self.stop.store(true, Ordering::Relaxed);
            }
        }
    }

    fn emit(
        &self,
        scope: Option<&Scope>,
        outcome: FileOutcome,
        out: &mut Output,
    ) -> std::io::Result<()> {
        match outcome {
            FileOutcome::Skipped(skip) => {
                out.summary.skip(&skip.reason);
                for sink in out.sinks.iter_mut() {
                    sink.skipped(&skip)?;
                }
                if scope.is_some() {
                    // A file the pipeline looked at: not a supported format.
                    out.summary.read += 1;
                    self.progress.inc(1);
                }
            }
            FileOutcome::Records {
                size,
                records,
                skipped,
            } => {
                out.summary.files_scanned += 1;
                out.summary.read += 1;
                out.summary.bytes_scanned += size;
                self.progress.inc(1);
                self.emit_rows(scope, &records, &skipped, out)?;
            }
        }
        let Output { sinks, summary, .. } = out;
        for sink in sinks.iter_mut() {
            sink.item_end()?;
        }
        if !self.progress.is_hidden() {
            // The counting walk may lag behind the workers on a slow listing.
            let done = self.progress.position();
            if self.progress.length().is_some_and(|found| found < done) {
                self.progress.set_length(done);
            }
            self.progress.set_message(progress_message(
                summary.bytes_scanned,
                self.epoch.elapsed().as_secs_f64(),
            ));
        }
        Ok(())
    }

    /// Writes rows of one file: its skipped members, then its records.
    fn emit_rows(
        &self,
        scope: Option<&Scope>,
        records: &[DocumentRecord],
        skipped: &[Skip],
        out: &mut Output,
    ) -> std::io::Result<()> {
        let Output {
            sinks,
            summary,
            failed,
            ..
        } = out;
        for skip in skipped {
            summary.skip(&skip.reason);
            for sink in sinks.iter_mut() {
                sink.skipped(skip)?;
            }
        }
        for record in records {
            // Excepted verdicts are reported but accepted: they never
            // fail the run.
            if record.judgement.fails_on(&self.fail_on) {
                *failed = true;
                summary.documents_failing += 1;
            }
            summary.count(record, scope);
            for sink in sinks.iter_mut() {
                sink.record(record)?;
            }
        }
        Ok(())
    }
}

/// A worker's way to the reports for the file it is on.
struct Streamer<'a> {
    shared: &'a Shared,
    slot: &'a Slot,
    seq: u64,
    scope: &'a Scope,
}

impl EarlyRows for Streamer<'_> {
    fn rows(&mut self, records: Vec<DocumentRecord>, skipped: Vec<Skip>) -> Pace {
        self.shared
            .write_early(self.slot, self.seq, self.scope, records, skipped)
    }
    fn waited(&mut self, more: Duration) {
        // The watchdog does not count a wait for a turn as the file's time.
        self.slot
            .started_ms
            .fetch_add(more.as_millis() as u64, Ordering::AcqRel);
    }
}

/// Runs every file of `source` through `inspector` on `opts.jobs` workers
/// and hands the records to `sinks` in source order; `summary` carries the
/// run's provenance in and its counts out.
pub fn run(
    source: Box<dyn JobSource>,
    inspector: Arc<dyn Inspector>,
    sinks: Vec<Box<dyn RecordSink>>,
    summary: Summary,
    opts: ScanOptions,
) -> std::io::Result<ScanResult> {
    let started = Instant::now();
    let shared = Arc::new(Shared {
        inspector,
        file_timeout: opts.file_timeout,
        feed: Mutex::new(Feed {
            source,
            next_seq: 0,
            exhausted: false,
        }),
        out: Mutex::new(Output {
            sinks,
            summary,
            pending: BTreeMap::new(),
            next: 0,
            failed: false,
            io_error: None,
        }),
        inbox: Mutex::new(Vec::new()),
        written: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        fail_on: opts.fail_on,
        progress: make_progress(opts.progress),
        counted_ahead: opts.progress && opts.count_ahead.is_some(),
        epoch: Instant::now(),
        watchdog: OnceLock::new(),
    });

    if let (true, Some(source)) = (shared.counted_ahead, opts.count_ahead) {
        spawn_counter(source, &shared)?;
    }
    let mut workers = Vec::with_capacity(opts.jobs);
    for i in 0..opts.jobs.max(1) {
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

    let filtered_out = lock(&shared.feed).source.filtered_out();
    let mut out = lock(&shared.out);
    // Every delivery drains the inbox before it returns; this one only
    // makes the end independent of that.
    let left = std::mem::take(&mut *lock(&shared.inbox));
    shared.write_in_order(&mut out, left.into_iter());
    if let Some(e) = out.io_error.take() {
        return Err(e);
    }
    out.summary.files_filtered_out = filtered_out;
    let secs = started.elapsed().as_secs_f64();
    let Output { sinks, summary, .. } = &mut *out;
    summary.duration_seconds = (secs * 1000.0).round() / 1000.0;
    summary.files_per_second = rate(summary.files_scanned as f64, secs);
    summary.megabytes_per_second = rate(summary.bytes_scanned as f64 / 1e6, secs);
    summary.peak_rss_kb = peak_rss_kb();
    summary.finished_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    summary.close_counts();
    for sink in sinks.iter_mut() {
        sink.conclude(summary)?;
    }
    for sink in sinks.iter_mut() {
        sink.finish(summary)?;
    }
    Ok(ScanResult {
        summary: std::mem::take(summary),
        failed: out.failed,
    })
}

/// Counts the files of `source` into the progress bar's total, then
/// switches the bar to a real ETA. Never waited for: it only feeds the bar,
/// and stops with the scan.
fn spawn_counter(mut source: Box<dyn JobSource>, shared: &Arc<Shared>) -> std::io::Result<()> {
    let shared = Arc::clone(shared);
    thread::Builder::new()
        .name("counter".into())
        .spawn(move || {
            let mut found: u64 = 0;
            while let Some(item) = source.next_item() {
                if shared.stop.load(Ordering::Relaxed) || shared.progress.is_finished() {
                    return;
                }
                if let WalkItem::File(_) = item {
                    found += 1;
                    let done = shared.progress.position();
                    shared.progress.set_length(found.max(done));
                }
            }
            walk_finished(&shared.progress);
        })?;
    Ok(())
}

/// This process's peak resident memory in KB, from `/proc/self/status`
/// (the high-water mark of this program's own memory since it started,
/// unlike `ru_maxrss`, which also counts the parent's before `exec`).
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn rate(amount: f64, secs: f64) -> f64 {
    if secs <= 0.0 {
        return 0.0;
    }
    ((amount / secs) * 10.0).round() / 10.0
}

/// One worker's state, shared with the watchdog.
struct Slot {
    /// `IDLE`, `ABANDONED`, or the running file's token (its sequence
    /// number + 1). The worker and the watchdog race on token -> IDLE /
    /// token -> ABANDONED, and the winner reports the file. Because the
    /// watchdog swaps only the exact token it judged, a worker that moved on
    /// to the next file in between cannot lose that file.
    state: AtomicU64,
    /// When the current file started, in milliseconds since the scan began.
    started_ms: AtomicU64,
    /// Set when the worker's loop has ended.
    ended: AtomicBool,
    current: Mutex<Option<(u64, Arc<FileJob>)>>,
}

const IDLE: u64 = 0;
const ABANDONED: u64 = u64::MAX;

fn token(seq: u64) -> u64 {
    seq + 1
}

fn is_running(state: u64) -> bool {
    state != IDLE && state != ABANDONED
}

impl Slot {
    fn new() -> Arc<Slot> {
        Arc::new(Slot {
            state: AtomicU64::new(IDLE),
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
        slot.state.store(token(seq), Ordering::Release);
        let mut early = Streamer {
            shared: &shared,
            slot: &slot,
            seq,
            scope: &job.scope,
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            shared.inspector.inspect(&job, &mut early)
        }))
        .unwrap_or_else(|_| {
            shared
                .inspector
                .failed(&job, ExtractError::internal("the pipeline"))
        });
        if slot
            .state
            .compare_exchange(token(seq), IDLE, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // The watchdog reported this file as timed out and started a
            // replacement worker: drop the late result and stop.
            return;
        }
        shared.deliver(seq, Some(job.scope.clone()), outcome);
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
    let timeout = shared.file_timeout;
    let hard_limit = (timeout + (timeout / 10).max(Duration::from_secs(2))).as_millis() as u64;
    let tick = Duration::from_millis((hard_limit / 20).clamp(10, 250));
    let mut spawned = workers.len();
    // Before the first look at the workers: a worker that ends after it
    // finds the thread to wake.
    let _ = shared.watchdog.set(thread::current());
    loop {
        workers.retain(|(slot, _)| {
            !slot.ended.load(Ordering::Acquire) || is_running(slot.state.load(Ordering::Acquire))
        });
        if workers.is_empty() {
            return;
        }
        let now = shared.epoch.elapsed().as_millis() as u64;
        let mut replacements = Vec::new();
        for (slot, _) in &workers {
            // The token first, then the start time: the worker writes them
            // the other way round, so a start time read here is never older
            // than the token's file.
            let running = slot.state.load(Ordering::Acquire);
            if !is_running(running)
                || now.saturating_sub(slot.started_ms.load(Ordering::Acquire)) < hard_limit
            {
                continue;
            }
            if slot
                .state
                .compare_exchange(running, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                continue;
            }
            if let Some((seq, job)) = lock(&slot.current).take() {
                let outcome = shared.inspector.failed(&job, ExtractError::timeout());
                shared.deliver(seq, Some(job.scope.clone()), outcome);
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

/// While the walk runs the number of files is not known: the bar shows
/// files done of files found so far, without an ETA that would be a guess.
fn make_progress(enabled: bool) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(4));
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {pos}/{len} files (still finding files) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar
}

/// The walk is over: the total is known, so the bar and the ETA are real.
fn walk_finished(bar: &ProgressBar) {
    if bar.is_hidden() {
        return;
    }
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} files {msg} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
}

fn progress_message(bytes: u64, secs: f64) -> String {
    let mb = bytes as f64 / 1e6;
    format!("{mb:.1} MB, {:.1} MB/s", rate(mb, secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Analysis, Format, Judgement, LevelNames, Verdict, ANALYSIS_VERSION};
    use std::sync::atomic::AtomicUsize;

    /// A fake per-file function: `slow` sleeps, `panic` panics, others are instant.
    struct Fake {
        calls: AtomicUsize,
    }

    fn record(path: &str, error: Option<ExtractError>) -> crate::model::DocumentRecord {
        let code = if error.is_some() {
            VerdictCode::Unreadable
        } else {
            VerdictCode::Ok
        };
        let analysis = Analysis {
            version: ANALYSIS_VERSION,
            format: Format::Text,
            size: 1,
            sha256: String::new(),
            labels: Default::default(),
            detections: Vec::new(),
            error,
            parts_read: 0,
            text_chars: 0,
            no_text_cause: None,
        };
        let judgement = Judgement {
            level: None,
            suggested: None,
            released_to: Vec::new(),
            releases: Vec::new(),
            location: None,
            verdicts: vec![Verdict {
                code,
                reason: String::new(),
                excepted: None,
            }],
        };
        crate::model::DocumentRecord::new(
            path.to_string(),
            analysis,
            judgement,
            LevelNames::new(&["PUBLIC".to_string()]),
        )
    }

    impl Inspector for Fake {
        fn inspect(&self, job: &FileJob, early: &mut dyn EarlyRows) -> FileOutcome {
            self.calls.fetch_add(1, Ordering::Relaxed);
            if job.display_path.contains("many") {
                // An archive: three batches of two members handed over
                // early, the archive's own row last.
                for batch in 0..3 {
                    thread::sleep(Duration::from_millis(1));
                    let records = (0..2)
                        .map(|m| record(&format!("{}!/m{batch}{m}", job.display_path), None))
                        .collect();
                    if early.rows(records, Vec::new()) == Pace::Stop {
                        break;
                    }
                }
            }
            if job.display_path.contains("slow") {
                thread::sleep(Duration::from_secs(5));
            }
            if job.display_path.contains("panic") {
                panic!("document text that must never be printed");
            }
            if job.display_path.contains("jitter") {
                thread::sleep(Duration::from_millis(3));
            }
            FileOutcome::Records {
                size: 1,
                records: vec![record(&job.display_path, None)],
                skipped: Vec::new(),
            }
        }

        fn failed(&self, job: &FileJob, error: ExtractError) -> FileOutcome {
            FileOutcome::Records {
                size: 1,
                records: vec![record(&job.display_path, Some(error))],
                skipped: Vec::new(),
            }
        }
    }

    /// (path, error kind) of each record, in the order a sink got them.
    type Seen = Vec<(String, Option<String>)>;

    /// Collects what reaches a sink.
    struct Collect(Arc<Mutex<Seen>>);

    impl RecordSink for Collect {
        fn record(&mut self, r: &crate::model::DocumentRecord) -> std::io::Result<()> {
            let error = r
                .analysis
                .error
                .as_ref()
                .map(|e| e.kind.as_str().to_string());
            lock(&self.0).push((r.path.clone(), error));
            Ok(())
        }
        fn finish(&mut self, _summary: &Summary) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn drive(names: &[&str], jobs: usize) -> (Seen, ScanResult) {
        let items: Vec<WalkItem> = names
            .iter()
            .map(|n| {
                WalkItem::File(FileJob {
                    display_path: n.to_string(),
                    location_path: format!("/{n}"),
                    fs_path: n.into(),
                    size: 1,
                    origin: Default::default(),
                    scope: Scope {
                        root: Arc::from("."),
                        folder: Arc::from("."),
                    },
                })
            })
            .collect();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sinks: Vec<Box<dyn RecordSink>> = vec![Box::new(Collect(Arc::clone(&seen)))];
        let inspector = Arc::new(Fake {
            calls: AtomicUsize::new(0),
        });
        let result = run(
            Box::new(items.into_iter()),
            inspector,
            sinks,
            Summary::default(),
            ScanOptions {
                jobs,
                fail_on: vec![VerdictCode::Unreadable],
                progress: false,
                count_ahead: None,
                file_timeout: Duration::from_millis(50),
            },
        )
        .unwrap();
        let seen = lock(&seen).clone();
        (seen, result)
    }

    #[test]
    fn records_arrive_in_source_order_whatever_the_finishing_order() {
        let names: Vec<String> = (0..300)
            .map(|i| {
                if i % 7 == 0 {
                    format!("jitter-{i:03}")
                } else {
                    format!("f-{i:03}")
                }
            })
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let (seen, result) = drive(&refs, 4);
        let paths: Vec<&str> = seen.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, refs);
        assert_eq!(result.summary.files_scanned, 300);
        assert!(!result.failed);
    }

    #[test]
    fn rows_written_early_keep_their_place_in_source_order() {
        let names: Vec<String> = (0..120)
            .map(|i| match i % 5 {
                0 => format!("many-{i:03}"),
                1 => format!("jitter-{i:03}"),
                _ => format!("f-{i:03}"),
            })
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let (seen, result) = drive(&refs, 3);
        let paths: Vec<&str> = seen.iter().map(|(p, _)| p.as_str()).collect();
        let mut expected = Vec::new();
        for name in &names {
            if name.starts_with("many") {
                for member in ["m00", "m01", "m10", "m11", "m20", "m21"] {
                    expected.push(format!("{name}!/{member}"));
                }
            }
            expected.push(name.clone());
        }
        assert_eq!(paths, expected);
        assert_eq!(result.summary.files_scanned, 120);
    }

    #[test]
    fn a_stuck_file_is_abandoned_as_timeout_and_the_scan_goes_on() {
        let started = Instant::now();
        let (seen, result) = drive(&["a", "slow", "b", "c", "d"], 2);
        let expected: Seen = [
            ("a", None),
            ("slow", Some("timeout")),
            ("b", None),
            ("c", None),
            ("d", None),
        ]
        .iter()
        .map(|(p, e)| (p.to_string(), e.map(str::to_string)))
        .collect();
        assert_eq!(seen, expected);
        assert!(result.failed, "UNREADABLE is in --fail-on");
        // The grace period is 2 s; the stuck file sleeps 5 s and is not waited for.
        assert!(started.elapsed() < Duration::from_millis(4500));
    }

    #[test]
    fn a_panicking_file_becomes_an_internal_error_and_the_scan_goes_on() {
        let (seen, _) = drive(&["a", "panic", "b"], 1);
        assert_eq!(
            seen,
            vec![
                ("a".to_string(), None),
                ("panic".to_string(), Some("internal".to_string())),
                ("b".to_string(), None),
            ]
        );
    }

    #[test]
    fn tokens_name_one_file_each() {
        assert!(!is_running(IDLE) && !is_running(ABANDONED));
        assert!(is_running(token(0)) && token(0) != token(1));
    }
}
