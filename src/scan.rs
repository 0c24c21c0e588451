//! The scan driver: a walker thread feeds a pool of workers that run the
//! whole per-file pipeline; a watchdog replaces a worker stuck in a parser,
//! so that its file becomes `UNREADABLE`/`timeout` and the scan goes on; a
//! single writer puts records into the reports in walk order.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::extract::ExtractError;
use crate::pipeline::{inspect_file, unreadable_record, Context, FileJob, FileOutcome};
use crate::record::{DocumentRecord, VerdictCode};
use crate::report::{ReportWriter, Summary};
use crate::walk::{walk, Filter, WalkItem};

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

enum Message {
    Done(u64, FileOutcome),
    WalkSkip(String),
}

pub fn run(opts: ScanOptions, ctx: Context) -> std::io::Result<ScanResult> {
    let started = Instant::now();
    let ctx = Arc::new(ctx);
    let progress = make_progress(opts.progress);
    let mut writer = ReportWriter::create(&opts.out_dir)?;
    let mut summary = Summary {
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

    let (job_tx, job_rx) = bounded::<(u64, FileJob)>(opts.jobs * 4);
    let (msg_tx, msg_rx) = bounded::<Message>(opts.jobs * 4 + 64);
    let written = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));

    let walker = {
        let msg_tx = msg_tx.clone();
        let written = Arc::clone(&written);
        let stop = Arc::clone(&stop);
        let progress = progress.clone();
        let paths = opts.paths.clone();
        let filter = opts.filter;
        thread::Builder::new().name("walk".into()).spawn(move || {
            let mut seq = 0u64;
            for root in &paths {
                walk(root, &filter, |item| {
                    match item {
                        WalkItem::File(job) => {
                            while seq >= written.load(Ordering::Acquire) + REORDER_WINDOW {
                                if stop.load(Ordering::Relaxed) {
                                    return false;
                                }
                                thread::sleep(Duration::from_millis(2));
                            }
                            progress.inc_length(job.size);
                            if job_tx.send((seq, job)).is_err() {
                                return false;
                            }
                            seq += 1;
                        }
                        WalkItem::Skip(skip) => {
                            let _ = msg_tx.send(Message::WalkSkip(skip.reason));
                        }
                    }
                    true
                });
            }
        })?
    };

    let epoch = Instant::now();
    let mut workers = Vec::with_capacity(opts.jobs);
    for i in 0..opts.jobs {
        workers.push(spawn_worker(i, &job_rx, &msg_tx, &ctx, epoch)?);
    }
    let watchdog = {
        let (job_rx, msg_tx, ctx) = (job_rx.clone(), msg_tx.clone(), Arc::clone(&ctx));
        thread::Builder::new()
            .name("watchdog".into())
            .spawn(move || watchdog(workers, job_rx, msg_tx, ctx, epoch))?
    };
    drop(job_rx);
    drop(msg_tx);

    let mut pending: BTreeMap<u64, FileOutcome> = BTreeMap::new();
    let mut next = 0u64;
    let mut failed = false;
    let mut io_error = None;
    // An abandoned worker still holds a sender, so the channel may never
    // close: the scan is over once the watchdog has seen every live worker finish.
    loop {
        let msg = match msg_rx.recv_timeout(Duration::from_millis(50)) {
            Ok(msg) => msg,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) if watchdog.is_finished() => {
                match msg_rx.try_recv() {
                    Ok(msg) => msg,
                    Err(_) => break,
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => continue,
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        };
        match msg {
            Message::WalkSkip(reason) => summary.skip(&reason),
            Message::Done(seq, outcome) => {
                pending.insert(seq, outcome);
                while let Some(outcome) = pending.remove(&next) {
                    next += 1;
                    written.store(next, Ordering::Release);
                    if let Err(e) = emit(
                        outcome,
                        &mut writer,
                        &mut summary,
                        &opts.fail_on,
                        &mut failed,
                        &progress,
                    ) {
                        io_error.get_or_insert(e);
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            }
        }
    }
    let _ = walker.join();
    let _ = watchdog.join();
    if let Some(e) = io_error {
        return Err(e);
    }
    progress.finish_and_clear();

    let secs = started.elapsed().as_secs_f64();
    summary.duration_seconds = (secs * 1000.0).round() / 1000.0;
    summary.files_per_second = rate(summary.files_scanned as f64, secs);
    summary.megabytes_per_second = rate(summary.bytes_scanned as f64 / 1e6, secs);
    summary.fill_zero_counts();
    writer.finish(&summary)?;
    Ok(ScanResult { summary, failed })
}

fn rate(amount: f64, secs: f64) -> f64 {
    if secs <= 0.0 {
        return 0.0;
    }
    ((amount / secs) * 10.0).round() / 10.0
}

fn emit(
    outcome: FileOutcome,
    writer: &mut ReportWriter,
    summary: &mut Summary,
    fail_on: &[VerdictCode],
    failed: &mut bool,
    progress: &ProgressBar,
) -> std::io::Result<()> {
    match outcome {
        FileOutcome::Skipped { reason, .. } => summary.skip(&reason),
        FileOutcome::Records(records) => {
            summary.files_scanned += 1;
            if let Some(first) = records.first() {
                let size = top_level_size(first, &records);
                summary.bytes_scanned += size;
                progress.inc(size);
            }
            for record in &records {
                if record.verdicts.iter().any(|v| fail_on.contains(&v.code)) {
                    *failed = true;
                    summary.documents_failing += 1;
                }
                summary.count(record);
                writer.write(record)?;
            }
        }
    }
    progress.set_message(format!("{} files", summary.files_scanned));
    Ok(())
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
    current: Mutex<Option<(u64, FileJob)>>,
}

const IDLE: u8 = 0;
const RUNNING: u8 = 1;
const ABANDONED: u8 = 2;

impl Slot {
    fn new() -> Arc<Slot> {
        Arc::new(Slot {
            state: AtomicU8::new(IDLE),
            started_ms: AtomicU64::new(0),
            current: Mutex::new(None),
        })
    }
}

/// Runs files on the calling thread until the job queue closes or the
/// watchdog abandons this worker.
fn worker_loop(
    slot: Arc<Slot>,
    job_rx: Receiver<(u64, FileJob)>,
    msg_tx: Sender<Message>,
    ctx: Arc<Context>,
    epoch: Instant,
) {
    for (seq, job) in job_rx {
        *slot.current.lock().unwrap_or_else(|e| e.into_inner()) = Some((seq, job.clone()));
        slot.started_ms
            .store(epoch.elapsed().as_millis() as u64, Ordering::Release);
        slot.state.store(RUNNING, Ordering::Release);
        let outcome = inspect_file(&job, &ctx);
        if slot
            .state
            .compare_exchange(RUNNING, IDLE, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // The watchdog reported this file as timed out and started a
            // replacement worker: drop the late result and stop.
            return;
        }
        if msg_tx.send(Message::Done(seq, outcome)).is_err() {
            return;
        }
    }
}

fn spawn_worker(
    i: usize,
    job_rx: &Receiver<(u64, FileJob)>,
    msg_tx: &Sender<Message>,
    ctx: &Arc<Context>,
    epoch: Instant,
) -> std::io::Result<(Arc<Slot>, thread::JoinHandle<()>)> {
    let slot = Slot::new();
    let handle = {
        let (slot, job_rx, msg_tx, ctx) = (
            Arc::clone(&slot),
            job_rx.clone(),
            msg_tx.clone(),
            Arc::clone(ctx),
        );
        thread::Builder::new()
            .name(format!("worker-{i}"))
            .stack_size(WORKER_STACK)
            .spawn(move || worker_loop(slot, job_rx, msg_tx, ctx, epoch))?
    };
    Ok((slot, handle))
}

/// Watches the workers. The budget's own deadline stops well-behaved
/// parsers; the watchdog catches one stuck inside a dependency: it reports
/// the file as `timeout`, abandons the thread and starts a replacement.
fn watchdog(
    mut workers: Vec<(Arc<Slot>, thread::JoinHandle<()>)>,
    job_rx: Receiver<(u64, FileJob)>,
    msg_tx: Sender<Message>,
    ctx: Arc<Context>,
    epoch: Instant,
) {
    let timeout = ctx.limits.file_timeout;
    let hard_limit = (timeout + (timeout / 10).max(Duration::from_secs(2))).as_millis() as u64;
    let tick = Duration::from_millis((hard_limit / 20).clamp(10, 250));
    let mut spawned = workers.len();
    loop {
        workers.retain(|(slot, handle)| {
            !handle.is_finished() || slot.state.load(Ordering::Acquire) == RUNNING
        });
        if workers.is_empty() {
            return;
        }
        let now = epoch.elapsed().as_millis() as u64;
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
            let current = slot
                .current
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            if let Some((seq, job)) = current {
                let record = unreadable_record(&job, None, ExtractError::timeout(), &ctx);
                let _ = msg_tx.send(Message::Done(seq, FileOutcome::Records(vec![record])));
            }
            match spawn_worker(spawned, &job_rx, &msg_tx, &ctx, epoch) {
                Ok(worker) => replacements.push(worker),
                Err(_) => eprintln!("labelscan: cannot start a replacement worker"),
            }
            spawned += 1;
        }
        workers.retain(|(slot, _)| slot.state.load(Ordering::Acquire) != ABANDONED);
        workers.extend(replacements);
        thread::sleep(tick);
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
