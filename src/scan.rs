//! The scan driver: a walker thread feeds a pool of workers; each worker
//! runs files on an executor thread under a watchdog, so that a file stuck
//! in a parser becomes `UNREADABLE`/`timeout` and the scan goes on; a
//! single writer puts records into the reports in walk order.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::extract::{ErrorKind, ExtractError};
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
/// Executor threads get large stacks: deeply nested documents recurse.
const EXECUTOR_STACK: usize = 64 * 1024 * 1024;

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

    let mut workers = Vec::with_capacity(opts.jobs);
    for i in 0..opts.jobs {
        let job_rx = job_rx.clone();
        let msg_tx = msg_tx.clone();
        let ctx = Arc::clone(&ctx);
        workers.push(
            thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || worker_loop(job_rx, msg_tx, ctx))?,
        );
    }
    drop(job_rx);
    drop(msg_tx);

    let mut pending: BTreeMap<u64, FileOutcome> = BTreeMap::new();
    let mut next = 0u64;
    let mut failed = false;
    let mut io_error = None;
    for msg in msg_rx {
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
    for w in workers {
        let _ = w.join();
    }
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
                summary.bytes_scanned += top_level_size(first, &records);
                progress.inc(top_level_size(first, &records));
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

struct Executor {
    jobs: Sender<FileJob>,
    results: Receiver<FileOutcome>,
}

fn spawn_executor(ctx: &Arc<Context>) -> Executor {
    let (jobs, job_rx) = bounded::<FileJob>(1);
    let (result_tx, results) = bounded::<FileOutcome>(1);
    let ctx = Arc::clone(ctx);
    let spawned = thread::Builder::new()
        .name("extract".into())
        .stack_size(EXECUTOR_STACK)
        .spawn(move || {
            for job in job_rx {
                if result_tx.send(inspect_file(&job, &ctx)).is_err() {
                    break;
                }
            }
        });
    if spawned.is_err() {
        // Without a thread the worker's sends fail and each file is reported as `io`.
        eprintln!("labelscan: cannot start an extraction thread");
    }
    Executor { jobs, results }
}

fn worker_loop(job_rx: Receiver<(u64, FileJob)>, msg_tx: Sender<Message>, ctx: Arc<Context>) {
    let mut executor = spawn_executor(&ctx);
    // The budget's own deadline stops well-behaved parsers; the watchdog
    // catches those stuck inside a dependency.
    let timeout = ctx.limits.file_timeout;
    let hard_limit = timeout + (timeout / 10).max(Duration::from_secs(2));
    for (seq, job) in job_rx {
        let outcome = match executor.jobs.send(job.clone()) {
            Err(_) => {
                executor = spawn_executor(&ctx);
                failed(&job, ErrorKind::Io, "the extraction thread stopped", &ctx)
            }
            Ok(()) => match executor.results.recv_timeout(hard_limit) {
                Ok(outcome) => outcome,
                Err(RecvTimeoutError::Timeout) => {
                    // Abandon the stuck thread; its result, if any, is dropped.
                    executor = spawn_executor(&ctx);
                    FileOutcome::Records(vec![unreadable_record(
                        &job,
                        None,
                        ExtractError::timeout(),
                        &ctx,
                    )])
                }
                Err(RecvTimeoutError::Disconnected) => {
                    executor = spawn_executor(&ctx);
                    failed(
                        &job,
                        ErrorKind::Corrupt,
                        "the parser failed on malformed content",
                        &ctx,
                    )
                }
            },
        };
        if msg_tx.send(Message::Done(seq, outcome)).is_err() {
            break;
        }
    }
}

fn failed(job: &FileJob, kind: ErrorKind, detail: &str, ctx: &Context) -> FileOutcome {
    FileOutcome::Records(vec![unreadable_record(
        job,
        None,
        ExtractError::new(kind, detail),
        ctx,
    )])
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
