//! The labelscan command line: parses arguments and wires the stages.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};

use labelscan::budget::Limits;
use labelscan::describe;
use labelscan::detect::DetectorSet;
use labelscan::model::VerdictCode;
use labelscan::pipeline::Context;
use labelscan::policy::{LoadOptions, Loaded, Policy};
use labelscan::report::formats::{self, Formats};
use labelscan::report::html::{RunFiles, RunSummary};
use labelscan::report::lock::{DirLock, LockError};
use labelscan::report::merge::{self, MergeError, MergedRun};
use labelscan::report::set::Recovery;
use labelscan::report::shard_order::ShardOrderSink;
use labelscan::report::summary::RunOptions;
use labelscan::report::{self, Manifest, ReportSet, SetError, Summary, MANIFEST_FILE};
use labelscan::scan::{self, Inspector, ScanOptions};
use labelscan::state::StateRun;
use labelscan::store::postgres::{is_postgres_url, redacted};
use labelscan::store::{PostgresStore, SqliteStore, Store, StoreError, DEFAULT_STATE_FILE};
use labelscan::walk::{plan_roots, Filter, JobSource, Shard, ShardOrder, Sharded, Walk, WalkAhead};
use std::sync::Arc;

/// The scan allocates and frees a buffer per part, cell and hit from several
/// workers; glibc's malloc took about 7% of a scan's time (perf), mimalloc
/// about half of that (benches/README.md, 0.4.0).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EXIT_FAIL_ON: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_PATH: u8 = 3;
/// `verify` found a report that does not match its manifest.
const EXIT_MISMATCH: u8 = 4;
/// The reports could not be written (full disk, no permission, a link in
/// the way); the report folder keeps its previous set.
const EXIT_REPORTS: u8 = 5;
/// Another labelscan holds the report folder's lock; nothing was done.
const EXIT_BUSY: u8 = 6;

#[derive(Parser)]
#[command(
    name = "labelscan",
    version,
    about = "Find documents whose classification labels do not match their content or their release"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scan files and folders and write findings.csv, findings.jsonl, summary.json and manifest.json.
    Scan(ScanArgs),
    /// Explain what labelscan sees in one file and why it gets its verdicts.
    Explain(ExplainArgs),
    /// Check a report folder's files against its manifest.json.
    Verify {
        /// The report folder (a scan's --out).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Work with policy files.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// List every detector: id, category, effective level, min_count, enabled.
    Detectors(DetectorsArgs),
    /// List the runs in a state store: id, start, end, PATHs, complete or not, counts.
    History(HistoryArgs),
    /// Merge the reports of the N shards of a `scan --shard I/N` into the reports one scan would write.
    Merge(MergeArgs),
    /// Render a finished run's report.html (and findings.xlsx) again from its files, byte for byte as the scan wrote it.
    Report(ReportArgs),
    /// Write a finished run's suggested levels into its OOXML and ODF documents as labels (copies under DEST, or in place with a backup).
    Apply(ApplyArgs),
    /// Join the open multi-host runs of a PostgreSQL database (`scan --db`) and work on them until they are done.
    Worker(WorkerArgs),
    /// Take back what one apply wrote, from its apply.csv: restore the originals from the backup (--in-place) or remove the labelled copies (--to); only files still as apply wrote them.
    Undo(UndoArgs),
}

#[derive(Args)]
struct WorkerArgs {
    /// The PostgreSQL database of the runs (postgres://user@host/db).
    #[arg(long, value_name = "URL")]
    db: String,
    /// Work units worked on at once; default: the number of CPUs.
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Keep waiting for new runs when none is open (a long-lived service).
    #[arg(long)]
    follow: bool,
    /// How long a unit's lease lasts unless renewed (tests shorten it).
    #[arg(long, value_name = "SECONDS", default_value_t = labelscan::queue::DEFAULT_LEASE_SECS, hide = true)]
    lease_secs: f64,
    /// The longest pause between an idle thread's looks for work while a
    /// run has units open (tests lengthen it; notices wake it anyway).
    #[arg(long, value_name = "SECONDS", default_value_t = 0.2, hide = true)]
    idle_secs: f64,
}

#[derive(Args)]
struct UndoArgs {
    /// The apply.csv (or apply-<time>.csv) of the apply to take back.
    #[arg(value_name = "APPLY_CSV")]
    apply_csv: PathBuf,
    /// Check everything, change nothing; undo.csv goes to standard output (or --out).
    #[arg(long)]
    dry_run: bool,
    /// Folder for undo.csv; default: the folder of APPLY_CSV.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// No closing line on stderr.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args)]
struct ApplyArgs {
    /// A finished run's report folder (a scan's --out).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// Write labelled copies under DEST, at the documents' paths below their PATH.
    #[arg(long, value_name = "DEST", conflicts_with = "in_place")]
    to: Option<PathBuf>,
    /// Rewrite the originals; requires --backup.
    #[arg(long)]
    in_place: bool,
    /// With --in-place: copy each original here first.
    #[arg(long, value_name = "DIR")]
    backup: Option<PathBuf>,
    /// The level to write: `suggested` (the run's suggestion) or a level of the policy; never lower than the document's.
    #[arg(long, value_name = "suggested|LEVEL", default_value = "suggested")]
    level: String,
    /// Decide and check everything, write nothing but apply.csv (to --out, or standard output).
    #[arg(long)]
    dry_run: bool,
    /// Add a visual marking: a header and footer line with the level (docx, xlsx, pptx).
    #[arg(long)]
    mark: bool,
    /// With --mark: the release marking ("INTERNAL // RELEASED TO: PARTNER"); a document whose level a partner's agreement does not cover on the as-of date is skipped.
    #[arg(
        long,
        value_name = "PARTNER[,PARTNER...]",
        value_delimiter = ',',
        requires = "mark"
    )]
    release_to: Vec<String>,
    /// Folder for apply.csv; default: DEST (or the backup folder with --in-place).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Policy file with [labels.msip] and msip_site_id; default: the run's policy.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// The date agreements are checked against; default: the run's as-of date.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    as_of: Option<NaiveDate>,
    /// Worker threads; default: 4 per CPU (writes wait for fsync).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// No closing line on stderr.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args)]
struct HistoryArgs {
    /// The state store; default: DIR/labelscan.sqlite for --out DIR.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// A PostgreSQL state store (postgres://user@host/db) instead of a file.
    #[arg(long, value_name = "URL", conflicts_with = "state")]
    db: Option<String>,
    /// The report folder whose default state store to read.
    #[arg(long, value_name = "DIR", default_value = "labelscan-report")]
    out: PathBuf,
    /// Print JSON (one object per run) instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate a policy: print every error and warning, then a summary.
    Check(PolicyArgs),
    /// Print the effective policy: levels, aliases, detector levels, partners, locations.
    Show(PolicyArgs),
}

#[derive(Args)]
struct PolicyArgs {
    file: PathBuf,
    /// The date agreements are checked against (YYYY-MM-DD); default: today.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    as_of: Option<NaiveDate>,
    /// Print JSON instead of text (`show` only).
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct DetectorsArgs {
    /// Policy file (TOML); default: the built-in policies/default.toml.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct CommonArgs {
    /// Policy file (TOML); default: the built-in policies/default.toml.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// The date agreements are checked against (YYYY-MM-DD); default: today.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    as_of: Option<NaiveDate>,
    /// Put matched values into the reports unmasked.
    #[arg(long)]
    show_values: bool,
}

#[derive(Args)]
struct ScanArgs {
    /// Files and folders to scan.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    common: CommonArgs,
    /// Folder for the reports.
    #[arg(long, value_name = "DIR", default_value = "labelscan-report")]
    out: PathBuf,
    /// Worker threads; default: the number of CPUs.
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Only scan files matching this glob (relative path, or file name for globs without `/`).
    #[arg(long, value_name = "GLOB")]
    include: Vec<String>,
    /// Skip files matching this glob.
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,
    /// Files larger than this are reported UNREADABLE (too_large) without being read.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_file_size)]
    max_file_size: u64,
    /// Most bytes inflated from one file, its parts, members and embedded
    /// documents together; what lies beyond is reported UNREADABLE (limit_exceeded).
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_total_inflated)]
    max_inflated: u64,
    /// Time budget per file; a file taking longer is reported UNREADABLE (timeout).
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0, value_parser = parse_timeout)]
    file_timeout: f64,
    /// Exit with 1 when a document gets one of these verdicts.
    #[arg(long, value_name = "CODE[,CODE...]", value_delimiter = ',', value_parser = parse_code)]
    fail_on: Vec<VerdictCode>,
    /// No progress bar and no closing line on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// The state store for incremental rescans and changes; default: DIR/labelscan.sqlite for --out DIR.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Scan without a state store: every file is read, no changes are reported.
    #[arg(long, conflicts_with = "state")]
    no_state: bool,
    /// Keep the state in a PostgreSQL database (postgres://user@host/db)
    /// instead of an SQLite file, to share it between hosts.
    #[arg(long, value_name = "URL", conflicts_with_all = ["state", "no_state"])]
    db: Option<String>,
    /// Scan only shard I of N of the files (I/N; `auto/N` takes I from
    /// JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID); `labelscan merge`
    /// puts the N shards' reports together.
    #[arg(long, value_name = "I/N", conflicts_with = "db")]
    shard: Option<String>,
    /// Read every file again, even those unchanged since the last run.
    #[arg(long)]
    full: bool,
    /// With --db: how long a unit's lease lasts unless renewed (tests shorten it).
    #[arg(long, value_name = "SECONDS", default_value_t = labelscan::queue::DEFAULT_LEASE_SECS, hide = true)]
    lease_secs: f64,
    /// With --db: at most N units of the run worked on at once per file
    /// server (the mount source of the PATH), across all hosts; 0: no cap.
    #[arg(long, value_name = "N", default_value_t = 0, requires = "db")]
    max_units_per_server: u32,
    /// Report formats: csv, jsonl, html, xlsx (summary.json, skipped.csv and manifest.json are always written).
    #[arg(long, value_name = "LIST", default_value = "csv,jsonl,html", value_parser = parse_formats)]
    formats: Formats,
}

#[derive(Args)]
struct MergeArgs {
    /// The shards' report folders (each a `scan --shard I/N --out DIR`).
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// Folder for the merged reports.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Report formats: csv, jsonl, html, xlsx.
    #[arg(long, value_name = "LIST", default_value = "csv,jsonl,html", value_parser = parse_formats)]
    formats: Formats,
    /// The policy file the shards applied, when it is no longer where they
    /// read it (for report.html; its SHA-256 must match).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// No closing line on stderr.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args)]
struct ReportArgs {
    /// A finished run's report folder (a scan's --out).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// Reports to render again from the run's files: html, xlsx.
    #[arg(long, value_name = "LIST", default_value = "html", value_parser = parse_formats)]
    formats: Formats,
    /// The policy file the run applied, when it is no longer where the run
    /// read it (its SHA-256 must match the run's).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// With --run: write the reports of a multi-host run from this PostgreSQL database into DIR.
    #[arg(long, value_name = "URL", requires = "run")]
    db: Option<String>,
    /// The multi-host run (its run id) whose reports to write.
    #[arg(long, value_name = "ID", requires = "db")]
    run: Option<String>,
}

#[derive(Args)]
struct ExplainArgs {
    /// Files, or archive members as the reports name them (`a.zip!/dir/m.docx`).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    #[command(flatten)]
    common: CommonArgs,
    /// Also print the extracted text, part by part.
    #[arg(long)]
    text: bool,
    /// Print the file's findings.jsonl record(s) instead.
    #[arg(long, conflicts_with = "text")]
    json: bool,
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("\"{s}\" is not a date (YYYY-MM-DD)"))
}

/// Longest `--file-timeout`: a week. Far larger values overflow the clock
/// a deadline is computed on.
const MAX_FILE_TIMEOUT_SECS: f64 = 7.0 * 24.0 * 3600.0;

fn parse_timeout(s: &str) -> Result<f64, String> {
    let seconds: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("\"{s}\" is not a number of seconds"))?;
    if seconds > 0.0 && seconds <= MAX_FILE_TIMEOUT_SECS {
        Ok(seconds)
    } else {
        Err(format!(
            "\"{s}\" is out of range: more than 0 and at most {MAX_FILE_TIMEOUT_SECS} seconds (a week)"
        ))
    }
}

fn parse_formats(s: &str) -> Result<Formats, String> {
    let mut formats = Formats::none();
    for name in s.split(',').filter(|n| !n.trim().is_empty()) {
        formats.add(name)?;
    }
    Ok(formats)
}

fn parse_code(s: &str) -> Result<VerdictCode, String> {
    VerdictCode::parse(s).ok_or_else(|| {
        let all: Vec<&str> = VerdictCode::ALL.iter().map(|c| c.as_str()).collect();
        format!("unknown verdict code \"{s}\" (codes: {})", all.join(", "))
    })
}

fn main() -> ExitCode {
    scan::install_panic_hook();
    ignore_file_size_signal();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(args) => run_scan(args),
        Command::Explain(args) => run_explain(args),
        Command::Policy {
            command: PolicyCommand::Check(args),
        } => run_policy_check(&args),
        Command::Policy {
            command: PolicyCommand::Show(args),
        } => run_policy_show(&args),
        Command::Detectors(args) => run_detectors(&args),
        Command::Verify { dir } => run_verify(&dir),
        Command::History(args) => run_history(&args),
        Command::Report(args) => run_report(&args),
        Command::Apply(args) => run_apply(&args),
        Command::Undo(args) => run_undo(&args),
        Command::Merge(args) => run_merge(&args),
        Command::Worker(args) => run_worker(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("labelscan: {:#}", failure.error);
            ExitCode::from(failure.code)
        }
    }
}

/// A file-size limit (`ulimit -f`) would kill the process with SIGXFSZ in
/// the middle of a report; ignored, the write fails with EFBIG and the run
/// ends as on a full disk: a clear error, the previous reports kept.
fn ignore_file_size_signal() {
    #[cfg(unix)]
    // SAFETY: installs the predefined SIG_IGN disposition before any thread starts.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// Writes command output to stdout. A reader that went away (`explain FILE
/// | head -1`) ends the command quietly, as it does any filter; other write
/// errors are output errors (exit 5).
fn emit(text: &str) -> Result<(), Failure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(Failure {
            code: EXIT_REPORTS,
            error: anyhow::Error::new(e).context("writing to standard output"),
        }),
    }
}

/// `println!` through [`emit`].
macro_rules! outln {
    ($($arg:tt)*) => {
        emit(&format!("{}\n", format_args!($($arg)*)))
    };
}

struct Failure {
    code: u8,
    error: anyhow::Error,
}

fn usage(error: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: EXIT_USAGE,
        error: error.into(),
    }
}

/// Loads the policy and compiles its detectors: both are usage errors (exit
/// 2). The policy's warnings go to stderr unless `quiet`.
fn load(common: &CommonArgs, limits: Limits, quiet: bool) -> Result<Context, Failure> {
    let (policy, as_of) = load_checked(common, quiet)?;
    context_of(policy, as_of, common.show_values, limits)
}

/// Loads the policy with every check (its patterns and detector ids
/// included) for a scan, whose detectors are compiled only when the first
/// file is read: an unchanged rescan reads none.
fn load_for_scan(common: &CommonArgs, limits: Limits, quiet: bool) -> Result<Context, Failure> {
    let (policy, as_of) = load_checked(common, quiet)?;
    Ok(Context::lazy(policy, as_of, common.show_values, limits))
}

/// The policy of `common` (checked, its warnings printed unless `quiet`)
/// and the date it applies on.
fn load_checked(common: &CommonArgs, quiet: bool) -> Result<(Policy, NaiveDate), Failure> {
    let as_of = common
        .as_of
        .unwrap_or_else(|| chrono::Local::now().date_naive());
    let policy = match &common.policy {
        Some(path) => {
            let loaded = load_policy(path, as_of)?;
            if !quiet {
                for warning in &loaded.warnings {
                    eprintln!(
                        "labelscan: policy warning: {}",
                        warning.render(&loaded.policy.origin)
                    );
                }
            }
            loaded.policy
        }
        None => Policy::default_policy(),
    };
    Ok((policy, as_of))
}

/// The inspection context of `policy`, its detectors compiled.
fn context_of(
    policy: Policy,
    as_of: NaiveDate,
    show_values: bool,
    limits: Limits,
) -> Result<Context, Failure> {
    let detectors = DetectorSet::compile(&policy)
        .map_err(|e| usage(anyhow::anyhow!("{}: {e}", policy.origin)))?;
    Ok(Context::new(policy, detectors, as_of, show_values, limits))
}

/// Loads a policy file with every check: its errors become one usage
/// failure listing them all.
fn load_policy(path: &Path, as_of: NaiveDate) -> Result<Loaded, Failure> {
    let ids = builtin_detector_ids()?;
    let options = LoadOptions {
        as_of: Some(as_of),
        builtin_detectors: Some(&ids),
    };
    Policy::load_file(path, &options).map_err(|e| {
        let count = e.errors().count();
        usage(anyhow::anyhow!(
            "invalid policy {} ({count} error{}):\n{e}",
            e.origin,
            plural(count)
        ))
    })
}

fn builtin_detector_ids() -> Result<Vec<String>, Failure> {
    let definitions = labelscan::detect::builtin_definitions().map_err(usage)?;
    Ok(definitions.into_iter().map(|d| d.id).collect())
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

fn run_scan(args: ScanArgs) -> Result<u8, Failure> {
    let limits = Limits {
        max_file_size: args.max_file_size,
        max_total_inflated: args.max_inflated,
        file_timeout: Duration::from_secs_f64(args.file_timeout),
        ..Limits::default()
    };
    let ctx = load_for_scan(&args.common, limits, args.quiet)?;
    let shard = match &args.shard {
        Some(text) => Some(
            Shard::parse(text, |name| std::env::var(name).ok())
                .map_err(|e| usage(anyhow::anyhow!("--shard: {e}")))?,
        ),
        None => None,
    };
    let mut formats = args.formats;
    if shard.is_some() {
        // Merge makes the merged reports from these.
        formats.csv = true;
        formats.jsonl = true;
    }
    let policy_shown = policy_as_applied(&ctx.policy, ctx.as_of)?;
    let state_at = state_location(&args);
    let plan = plan_roots(&args.paths);
    let report_set = ReportSet::begin(&args.out, args.common.show_values)
        .map_err(|e| set_failure(&args.out, e))?;
    let skip_dirs = report_dir_inside(&args.out, report_set.staging_dir(), &plan.roots, args.quiet);
    let filter_dirs = skip_dirs.clone();
    let filter = Filter::new(&args.include, &args.exclude, skip_dirs).map_err(usage)?;
    let jobs = jobs_or_cores(args.jobs);
    let progress = !args.quiet && std::io::stderr().is_terminal();
    let opts = ScanOptions {
        jobs,
        fail_on: args.fail_on.clone(),
        progress,
        count_ahead: progress.then(|| {
            shard_of(
                Box::new(Walk::new(plan.roots.clone(), filter.clone())),
                shard,
                &ShardOrder::default(),
            )
        }),
        file_timeout: ctx.limits.file_timeout,
    };
    let options = RunOptions {
        include: args.include.clone(),
        exclude: args.exclude.clone(),
        max_file_size: ctx.limits.max_file_size,
        max_inflated: ctx.limits.max_total_inflated,
        file_timeout_seconds: args.file_timeout,
        jobs,
        show_values: args.common.show_values,
        fail_on: opts
            .fail_on
            .iter()
            .map(|c| c.as_str().to_string())
            .collect(),
        out: args.out.display().to_string(),
    };
    let mut summary = scan::new_summary(&ctx, &args.paths, &plan, options);
    summary.shard = shard;
    let warned_at_start = summary.warnings.len();
    if !args.quiet {
        for warning in &summary.warnings {
            eprintln!("labelscan: warning: {warning}");
        }
    }
    let paths_unreadable = !plan.unreadable.is_empty();
    if let Some(url) = &args.db {
        let queued = Queued {
            plan: &plan,
            set: report_set,
            skip_dirs: filter_dirs,
            formats,
            policy_shown: &policy_shown,
            jobs,
        };
        return run_queued_scan(&args, url, ctx, summary, queued).map(|code| {
            if paths_unreadable && code == 0 {
                EXIT_PATH
            } else {
                code
            }
        });
    }
    let state = match &state_at {
        Some(at) => Some(begin_state(at, &ctx, &summary, &plan.roots)?),
        None => None,
    };
    let ctx = Arc::new(ctx);
    let inspector: Arc<dyn Inspector> = match &state {
        Some(state) => state.inspector(Arc::clone(&ctx), args.full),
        None => ctx,
    };
    // On an error the set is dropped uncommitted: its staging folder is
    // removed and the folder keeps the previous reports; the store rolls
    // the run back.
    let order = ShardOrder::default();
    let result = report::file_sinks(&report_set, &formats, &summary.paths_walked)
        .and_then(|mut sinks| {
            sinks.extend(state.as_ref().map(|s| s.sink(&report_set)));
            if shard.is_some() {
                let path = report_set.path_of(report::SHARD_ORDER_FILE);
                sinks.push(Box::new(ShardOrderSink::create(&path, order.clone())?));
            }
            let source = shard_of(Box::new(Walk::new(plan.roots, filter)), shard, &order);
            let source: Box<dyn JobSource> = Box::new(WalkAhead::start(source)?);
            scan::run(source, inspector, sinks, summary, opts)
        })
        .and_then(|result| {
            // The store's share of committing the run is done meanwhile:
            // it needs no report. Should it fail, the store's commit tries
            // again and reports the error once the reports are in place.
            std::thread::scope(|scope| {
                scope.spawn(|| state.as_ref().map(StateRun::prepare_commit));
                formats::finish_staged(&report_set, &formats, &policy_shown)
            })
            .map(|_| result)
        })
        .with_context(|| format!("writing reports to {}", args.out.display()))
        .map_err(|e| Failure {
            code: EXIT_REPORTS,
            error: e,
        })?;
    // The reports are in place before the run becomes the baseline of the
    // next one: the store commits once every report file is renamed into
    // the folder, while the report commit syncs the folder and frees the
    // previous reports.
    let (_, stored) = report_set
        .commit_then(|| state.map(|state| state.commit(&result.summary)))
        .with_context(|| format!("writing reports to {}", args.out.display()))
        .map_err(|e| Failure {
            code: EXIT_REPORTS,
            error: e,
        })?;
    if let Some(Err(e)) = stored {
        return Err(Failure {
            code: EXIT_REPORTS,
            error: anyhow::anyhow!(
                "the reports in {} are complete, but the state store could not record the run ({e}); the next run compares with the run before",
                args.out.display()
            ),
        });
    }
    if !args.quiet {
        print_closing(&result.summary, &args.out, warned_at_start);
    }
    Ok(if paths_unreadable {
        EXIT_PATH
    } else if result.failed {
        EXIT_FAIL_ON
    } else {
        0
    })
}

/// What a multi-host scan takes over from `run_scan`.
struct Queued<'a> {
    plan: &'a labelscan::walk::RootPlan,
    set: ReportSet,
    skip_dirs: Vec<PathBuf>,
    formats: Formats,
    policy_shown: &'a serde_json::Value,
    jobs: usize,
}

/// Failures of the store as exit codes: busy 6, unusable 2, else 5.
fn store_failure(e: StoreError) -> Failure {
    Failure {
        code: match e {
            StoreError::Busy { .. } => EXIT_BUSY,
            StoreError::Unusable(_) => EXIT_USAGE,
            StoreError::Backend(_) => EXIT_REPORTS,
        },
        error: e.into(),
    }
}

fn queue_failure(e: String) -> Failure {
    Failure {
        code: EXIT_REPORTS,
        error: anyhow::anyhow!(e),
    }
}

/// Opens (creating or migrating) the PostgreSQL store of a multi-host run.
fn open_postgres(url: &str) -> Result<PostgresStore, Failure> {
    check_db_url(url).map_err(store_failure)?;
    PostgresStore::open(url).map_err(store_failure)
}

/// `scan PATH... --db URL` (SPEC "Many hosts"): queues the run in the
/// database, works on it with `--jobs` threads beside any `labelscan
/// worker`s, and writes the reports once every unit is done.
fn run_queued_scan(
    args: &ScanArgs,
    url: &str,
    ctx: Context,
    summary: Summary,
    q: Queued,
) -> Result<u8, Failure> {
    use labelscan::model::job::{location_path, path_text};
    use labelscan::queue::{self, RunSpec, WorkerOptions};
    let store = open_postgres(url)?;
    let policy_text = match &args.common.policy {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
            usage(anyhow::anyhow!(
                "cannot read the policy {}: {e}",
                path.display()
            ))
        })?),
        None => None,
    };
    let warned_at_start = summary.warnings.len();
    let run_id = summary.run_id.clone();
    let f = q.formats;
    let spec = RunSpec {
        roots: q
            .plan
            .roots
            .iter()
            .map(|r| {
                std::path::absolute(r)
                    .unwrap_or_else(|_| r.clone())
                    .display()
                    .to_string()
            })
            .collect(),
        displays: q
            .plan
            .roots
            .iter()
            .map(|r| path_text(r.as_os_str()))
            .collect(),
        locations: q.plan.roots.iter().map(|r| location_path(r)).collect(),
        policy_text,
        policy_origin: ctx.policy.origin.clone(),
        show_values: args.common.show_values,
        max_file_size: ctx.limits.max_file_size,
        max_inflated: ctx.limits.max_total_inflated,
        file_timeout: args.file_timeout,
        skip_dirs: q
            .skip_dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect(),
        full: args.full,
        formats: [f.csv, f.jsonl, f.html, f.xlsx],
        max_units_per_server: args.max_units_per_server,
        servers: q
            .plan
            .roots
            .iter()
            .map(|r| queue::file_server(&std::path::absolute(r).unwrap_or_else(|_| r.clone())))
            .collect(),
        store_was_empty: None,
        summary,
    };
    let mut client = queue::connect(store.config()).map_err(queue_failure)?;
    let id = queue::create_run(&mut client, &spec).map_err(queue_failure)?;
    if !args.quiet {
        eprintln!(
            "labelscan: run {run_id} queued in {}; other hosts join it with: labelscan worker --db URL",
            store.location()
        );
    }
    let opts = WorkerOptions {
        jobs: q.jobs,
        run: id,
        follow: false,
        lease_secs: args.lease_secs,
        idle: Duration::from_millis(200),
    };
    let store = Arc::new(store);
    queue::run_worker(Arc::clone(&store), opts).map_err(queue_failure)?;
    // The worker's threads are done with it: the state store writes the
    // run on the same connection (no new connection at the run's end).
    let store = match Arc::try_unwrap(store) {
        Ok(store) => store,
        Err(_) => open_postgres(url)?,
    };
    let run = queue::find_run(&mut client, &run_id)
        .map_err(queue_failure)?
        .ok_or_else(|| queue_failure(format!("run {run_id} is gone from the database")))?;
    let summary = report_queued(
        &mut client,
        store,
        &run,
        &ctx,
        q.set,
        q.policy_shown,
        &args.out,
    )?;
    if !args.quiet {
        print_closing(&summary, &args.out, warned_at_start);
    }
    Ok(if summary.documents_failing > 0 {
        EXIT_FAIL_ON
    } else {
        0
    })
}

/// Writes a finished multi-host run's reports into `set` and commits
/// them, then the run in the state store, whose commit closes the run.
#[allow(clippy::too_many_arguments)]
fn report_queued(
    client: &mut postgres::Client,
    store: PostgresStore,
    run: &labelscan::queue::QueuedRun,
    ctx: &Context,
    set: ReportSet,
    policy_shown: &serde_json::Value,
    out: &Path,
) -> Result<Summary, Failure> {
    use labelscan::queue;
    // The formats the run was queued with: `write_reports` begins
    // report.html from them too.
    let formats = &run.spec.formats();
    let reporting = queue::write_reports(client, store, run, ctx, &set).map_err(|e| Failure {
        code: if e.contains("in use by another") {
            EXIT_BUSY
        } else {
            EXIT_REPORTS
        },
        error: anyhow::anyhow!(e),
    })?;
    let queue::Reporting { summary, state } = reporting;
    // As a single host's scan: the store's share of the commit (the
    // documents kept, the queued run closed) is done while the reports are
    // rendered, and its commit beside the report set's last syncs.
    let (_, stored) = std::thread::scope(|scope| {
        scope.spawn(|| state.prepare_commit());
        formats::finish_staged(&set, formats, policy_shown)
    })
    .and_then(|_| set.commit_then(|| state.commit(&summary)))
    .with_context(|| format!("writing reports to {}", out.display()))
    .map_err(|e| Failure {
        code: EXIT_REPORTS,
        error: e,
    })?;
    stored.map_err(|e| Failure {
        code: EXIT_REPORTS,
        error: anyhow::anyhow!(
            "the reports in {} are complete, but the state store could not record the run ({e})",
            out.display()
        ),
    })?;
    Ok(summary)
}

/// `labelscan worker --db URL`: works on the open multi-host runs.
/// `--jobs`, else one worker per core.
fn jobs_or_cores(jobs: Option<usize>) -> usize {
    jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    })
    .max(1)
}

fn run_worker(args: &WorkerArgs) -> Result<u8, Failure> {
    use labelscan::queue::{self, WorkerOptions};
    if args.lease_secs.is_nan() || args.lease_secs <= 0.0 {
        return Err(usage(anyhow::anyhow!("--lease-secs must be more than 0")));
    }
    if !(args.idle_secs > 0.0 && args.idle_secs <= 86_400.0) {
        return Err(usage(anyhow::anyhow!(
            "--idle-secs must be more than 0 and at most 86400"
        )));
    }
    let store = open_postgres(&args.db)?;
    let jobs = jobs_or_cores(args.jobs);
    let opts = WorkerOptions {
        jobs,
        run: 0,
        follow: args.follow,
        lease_secs: args.lease_secs,
        idle: Duration::from_secs_f64(args.idle_secs),
    };
    queue::run_worker(Arc::new(store), opts).map_err(queue_failure)?;
    Ok(0)
}

/// `labelscan report DIR --db URL --run ID`: the reports of a finished
/// multi-host run whose starting host did not write them.
fn run_queued_report(dir: &Path, url: &str, run_id: &str) -> Result<u8, Failure> {
    use labelscan::queue;
    let store = open_postgres(url)?;
    let mut client = queue::connect(store.config()).map_err(queue_failure)?;
    let run = queue::find_run(&mut client, run_id)
        .map_err(queue_failure)?
        .ok_or_else(|| {
            usage(anyhow::anyhow!(
                "no multi-host run {run_id} in the database"
            ))
        })?;
    if run.state == "reported" {
        return Err(usage(anyhow::anyhow!(
            "the reports of run {run_id} were written already, and the run is the baseline of the next one; use those reports"
        )));
    }
    let ctx = queue::context_of(&run.spec).map_err(|e| usage(anyhow::anyhow!(e)))?;
    let as_of = ctx.as_of;
    let policy_shown = policy_as_applied(&ctx.policy, as_of)?;
    let set = ReportSet::begin(dir, run.spec.show_values).map_err(|e| set_failure(dir, e))?;
    let summary = report_queued(&mut client, store, &run, &ctx, set, &policy_shown, dir)?;
    print_closing(&summary, dir, summary.warnings.len());
    Ok(0)
}

/// The walk, or only its shard's part of it with `--shard`.
fn shard_of(
    walk: Box<dyn JobSource>,
    shard: Option<Shard>,
    order: &ShardOrder,
) -> Box<dyn JobSource> {
    match shard {
        Some(shard) => Box::new(Sharded::new(walk, shard, order.clone())),
        None => walk,
    }
}

/// Where a scan keeps its state: an SQLite file or a PostgreSQL database.
enum StateAt {
    File(PathBuf),
    Db(String),
}

/// The state store a scan uses, unless `--no-state`.
fn state_location(args: &ScanArgs) -> Option<StateAt> {
    if args.no_state {
        return None;
    }
    if let Some(url) = &args.db {
        return Some(StateAt::Db(url.clone()));
    }
    Some(StateAt::File(
        args.state
            .clone()
            .unwrap_or_else(|| args.out.join(DEFAULT_STATE_FILE)),
    ))
}

/// Opens a store to write a run into.
fn open_store(at: &StateAt) -> Result<(Box<dyn Store>, String), StoreError> {
    Ok(match at {
        StateAt::File(path) => (
            Box::new(SqliteStore::open(path)?),
            path.display().to_string(),
        ),
        StateAt::Db(url) => {
            check_db_url(url)?;
            let store = PostgresStore::open(url)?;
            let location = store.location().to_string();
            (Box::new(store), location)
        }
    })
}

fn check_db_url(url: &str) -> Result<(), StoreError> {
    if is_postgres_url(url) {
        return Ok(());
    }
    Err(StoreError::Unusable(format!(
        "--db takes a PostgreSQL URL (postgres://user@host:port/database), not \"{}\"",
        redacted(url)
    )))
}

/// Opens the store and starts the run in it: busy is exit 6 as for the
/// report folder, a store this labelscan cannot use is exit 2.
fn begin_state(
    at: &StateAt,
    ctx: &Context,
    summary: &Summary,
    roots: &[PathBuf],
) -> Result<StateRun, Failure> {
    let failure = |e: StoreError| Failure {
        code: match e {
            StoreError::Busy { .. } => EXIT_BUSY,
            StoreError::Unusable(_) => EXIT_USAGE,
            StoreError::Backend(_) => EXIT_REPORTS,
        },
        error: e.into(),
    };
    let (store, location) = open_store(at).map_err(failure)?;
    StateRun::begin(store, &location, ctx, summary, roots).map_err(failure)
}

/// The closing line on stderr: totals, findings per verdict, and the
/// warnings only the totals can tell (those known at the start were
/// printed then).
fn print_closing(s: &Summary, out: &Path, warned_at_start: usize) {
    let with_findings = s.documents - s.verdicts.get("OK").copied().unwrap_or(0);
    let per_verdict: Vec<String> = s
        .verdicts
        .iter()
        .filter(|(code, n)| **n > 0 && code.as_str() != "OK")
        .map(|(code, n)| format!("{code} {n}"))
        .collect();
    let breakdown = if per_verdict.is_empty() {
        String::new()
    } else {
        format!(" ({})", per_verdict.join(", "))
    };
    eprintln!(
        "labelscan: {} documents in {} files ({:.1} MB) in {:.1}s: {} OK, {} with findings{}; {} skipped (skipped.csv); reports in {}",
        s.documents,
        s.files_scanned,
        s.bytes_scanned as f64 / 1e6,
        s.duration_seconds,
        s.verdicts.get("OK").copied().unwrap_or(0),
        with_findings,
        breakdown,
        s.files_skipped,
        out.display()
    );
    if let Some(state) = &s.state {
        let changed: u64 = s.changes.values().sum();
        let since = match &s.baseline_run_id {
            Some(run) => format!("since run {run}"),
            None => "(first run in this store)".to_string(),
        };
        eprintln!(
            "labelscan: {changed} documents changed {since} (changes.csv); {} files read, {} unchanged and not read again; state in {state}",
            s.read, s.reused
        );
    }
    for warning in s.warnings.iter().skip(warned_at_start) {
        eprintln!("labelscan: warning: {warning}");
    }
}

/// Why the report folder could not be taken: another labelscan holds it
/// (exit 6), or it cannot be written (exit 5).
fn set_failure(dir: &Path, e: SetError) -> Failure {
    match e {
        SetError::Busy(busy) => Failure {
            code: EXIT_BUSY,
            error: busy.into(),
        },
        SetError::Io(io) => Failure {
            code: EXIT_REPORTS,
            error: anyhow::Error::new(io).context(format!("writing reports to {}", dir.display())),
        },
    }
}

/// The report folder, if it lies inside a scanned folder: it is never scanned,
/// and the user is told that reports are written inside the scanned tree.
/// Its staging folder is skipped even when the report folder is a PATH
/// itself, so that a scan never reads its own reports in the making.
fn report_dir_inside(out: &Path, staging: &Path, paths: &[PathBuf], quiet: bool) -> Vec<PathBuf> {
    let (Ok(out), Ok(staging)) = (out.canonicalize(), staging.canonicalize()) else {
        return Vec::new();
    };
    let inside = paths
        .iter()
        .filter_map(|p| p.canonicalize().ok())
        .any(|p| out.starts_with(&p));
    if inside && !quiet {
        eprintln!(
            "labelscan: note: the report folder {} lies inside a scanned folder; it is excluded from the scan (use --out to write elsewhere)",
            out.display()
        );
    }
    if !inside {
        return Vec::new();
    }
    let mut never_walked: Vec<PathBuf> = report::report_names()
        .into_iter()
        .chain([
            MANIFEST_FILE,
            report::lock::LOCK_FILE,
            report::set::JOURNAL_FILE,
        ])
        .map(|name| out.join(name))
        .collect();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        never_walked.push(out.join(format!("{DEFAULT_STATE_FILE}{suffix}")));
    }
    never_walked.extend([out, staging]);
    never_walked
}

fn run_explain(args: ExplainArgs) -> Result<u8, Failure> {
    let ctx = load(&args.common, Limits::default(), false)?;
    let mut code = 0;
    for (i, file) in args.files.iter().enumerate() {
        let explained = match labelscan::explain::inspect(file, &ctx) {
            Ok(explained) => explained,
            Err(e) => {
                eprintln!("labelscan: {}: {e}", file.display());
                code = EXIT_PATH;
                continue;
            }
        };
        if args.json {
            emit(&labelscan::explain::explain_json(&explained))?;
        } else {
            if i > 0 {
                emit("\n")?;
            }
            emit(&labelscan::explain::explain(&explained, args.text))?;
        }
    }
    Ok(code)
}

/// `labelscan verify DIR`: under the folder's lock, completes or discards
/// what an interrupted run left, then checks every file in manifest.json.
fn run_verify(dir: &Path) -> Result<u8, Failure> {
    if !dir.is_dir() {
        return Err(usage(anyhow::anyhow!(
            "{}: no such report folder",
            dir.display()
        )));
    }
    // A folder without a manifest or a pending commit has no report set to
    // verify: say so without leaving a lock file in it.
    let pending = dir.join(report::set::JOURNAL_FILE);
    if !dir.join(MANIFEST_FILE).exists() && std::fs::symlink_metadata(pending).is_err() {
        return Err(no_manifest(dir));
    }
    let lock = take_lock_to_verify(dir)?;
    let recovery = report::set::recover(dir, &lock).map_err(|e| Failure {
        code: EXIT_REPORTS,
        error: anyhow::Error::new(e).context(format!(
            "completing an interrupted commit in {}",
            dir.display()
        )),
    })?;
    match recovery {
        Recovery::Clean => {}
        Recovery::Completed => eprintln!(
            "labelscan: note: completed the interrupted commit of a run in {}",
            dir.display()
        ),
        Recovery::Discarded => eprintln!(
            "labelscan: note: removed the unfinished reports of an interrupted run in {}",
            dir.display()
        ),
        Recovery::Pending => {
            return Err(Failure {
                code: EXIT_MISMATCH,
                error: anyhow::anyhow!(
                    "{}: a run was interrupted while committing its reports; run labelscan verify with write access to the folder to complete it",
                    dir.display()
                ),
            })
        }
    }
    let manifest = match Manifest::read(dir) {
        Ok(Some(manifest)) => manifest,
        Ok(None) => return Err(no_manifest(dir)),
        Err(e) => {
            return Err(Failure {
                code: EXIT_MISMATCH,
                error: e.into(),
            })
        }
    };
    let checks = report::manifest::check(dir, &manifest, &report::report_names());
    for check in &checks {
        outln!("{check}")?;
    }
    let bad = checks.iter().filter(|c| !c.is_ok()).count();
    if bad == 0 {
        outln!(
            "{}: all {} report files match {MANIFEST_FILE}",
            dir.display(),
            manifest.files.len()
        )?;
        Ok(0)
    } else {
        outln!(
            "{}: {bad} report file(s) do not match {MANIFEST_FILE}",
            dir.display()
        )?;
        Ok(EXIT_MISMATCH)
    }
}

fn no_manifest(dir: &Path) -> Failure {
    usage(anyhow::anyhow!(
        "{}: no {MANIFEST_FILE}: not a labelscan report folder, or written before reports had manifests",
        dir.display()
    ))
}

/// The lock for `verify`: exclusive, so that it may repair; shared and
/// look-only when the folder is not writable to us.
fn take_lock_to_verify(dir: &Path) -> Result<DirLock, Failure> {
    let busy = |e: LockError| Failure {
        code: match e {
            LockError::Busy { .. } => EXIT_BUSY,
            LockError::Io(_) => EXIT_REPORTS,
        },
        error: e.into(),
    };
    match DirLock::exclusive(dir) {
        Err(LockError::Io(e))
            if matches!(
                e.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            DirLock::shared_read_only(dir).map_err(busy)
        }
        other => other.map_err(busy),
    }
}

/// A policy that `policy check` found valid.
struct Checked {
    policy: Policy,
    detectors: DetectorSet,
    as_of: NaiveDate,
    warnings: usize,
}

/// Loads a policy for `policy check` and `policy show`: every diagnostic
/// goes to stderr, one per line; any error fails with exit 2.
fn checked_policy(args: &PolicyArgs) -> Result<Checked, Failure> {
    let as_of = args
        .as_of
        .unwrap_or_else(|| chrono::Local::now().date_naive());
    let ids = builtin_detector_ids()?;
    let options = LoadOptions {
        as_of: Some(as_of),
        builtin_detectors: Some(&ids),
    };
    let (policy, diagnostics) = match Policy::load_file(&args.file, &options) {
        Ok(loaded) => (Some(loaded.policy), loaded.warnings),
        Err(e) => (None, e.diagnostics),
    };
    let origin = args.file.display().to_string();
    for d in &diagnostics {
        eprintln!("{}", d.render(&origin));
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let Some(policy) = policy else {
        return Err(usage(anyhow::anyhow!(
            "{origin}: invalid policy: {errors} error{}, {warnings} warning{}",
            plural(errors),
            plural(warnings)
        )));
    };
    let detectors =
        DetectorSet::compile(&policy).map_err(|e| usage(anyhow::anyhow!("{origin}: {e}")))?;
    Ok(Checked {
        policy,
        detectors,
        as_of,
        warnings,
    })
}

fn run_policy_check(args: &PolicyArgs) -> Result<u8, Failure> {
    let Checked {
        policy,
        detectors,
        warnings,
        ..
    } = checked_policy(args)?;
    outln!(
        "{}: valid, {warnings} warning{}",
        args.file.display(),
        plural(warnings)
    )?;
    if let Some(name) = &policy.name {
        outln!("  name:      {name}")?;
    }
    if let Some(version) = &policy.version {
        outln!("  version:   {version}")?;
    }
    outln!("  levels:    {}", policy.scheme.levels.join(" < "))?;
    outln!(
        "  aliases:   {}",
        policy.scheme.names().len() - policy.scheme.levels.len()
    )?;
    outln!(
        "  partners:  {}, locations: {}",
        policy.partners.len(),
        policy.locations.len()
    )?;
    outln!("  detectors: {} enabled", detectors.ids().len())?;
    outln!(
        "  keyword lists: {}, patterns: {}",
        policy.keywords.len(),
        policy.patterns.len()
    )?;
    outln!("  sha256:    {}", policy.sha256)?;
    outln!("  (`labelscan policy show` prints the whole effective policy)")?;
    Ok(0)
}

fn run_policy_show(args: &PolicyArgs) -> Result<u8, Failure> {
    let checked = checked_policy(args)?;
    let (policy, as_of) = (&checked.policy, checked.as_of);
    let rows = describe::detector_rows(policy).map_err(usage)?;
    if args.json {
        emit(&describe::policy_json(policy, as_of, &rows))?;
    } else {
        emit(&describe::policy_text(policy, as_of, &rows))?;
    }
    Ok(0)
}

fn run_detectors(args: &DetectorsArgs) -> Result<u8, Failure> {
    let policy = match &args.policy {
        Some(path) => {
            let today = chrono::Local::now().date_naive();
            load_policy(path, today)?.policy
        }
        None => Policy::default_policy(),
    };
    let rows = describe::detector_rows(&policy).map_err(usage)?;
    if args.json {
        emit(&describe::detectors_json(&rows))?;
    } else {
        emit(&describe::detectors_text(&rows))?;
    }
    Ok(0)
}

/// `labelscan history`: the completed runs in a state store, oldest first.
fn run_history(args: &HistoryArgs) -> Result<u8, Failure> {
    let (store, location): (Box<dyn Store>, String) = match &args.db {
        Some(url) => {
            check_db_url(url).map_err(usage)?;
            let store = PostgresStore::open_read_only(url).map_err(usage)?;
            let location = store.location().to_string();
            (Box::new(store), location)
        }
        None => {
            let path = args
                .state
                .clone()
                .unwrap_or_else(|| args.out.join(DEFAULT_STATE_FILE));
            let store = SqliteStore::open_read_only(&path).map_err(usage)?;
            (Box::new(store), path.display().to_string())
        }
    };
    let runs = store.runs().map_err(|e| Failure {
        code: EXIT_REPORTS,
        error: e.into(),
    })?;
    if args.json {
        for run in &runs {
            println!("{}", history_json(run));
        }
        return Ok(0);
    }
    println!(
        "{:<26} {:<20} {:<20} {:<8} {:>9} {:>9} {:>9} {:>7} {:>7} {:>7}  PATHS",
        "RUN",
        "STARTED",
        "FINISHED",
        "COMPLETE",
        "DOCUMENTS",
        "READ",
        "REUSED",
        "NEW",
        "CHANGED",
        "REMOVED"
    );
    for run in &runs {
        print!("{}", history_text(run));
    }
    if runs.is_empty() {
        println!("(no completed runs in {location})");
    }
    if let Some(url) = &args.db {
        print_queued_runs(url)?;
    }
    Ok(0)
}

/// The multi-host runs of a database and their work units by state.
fn print_queued_runs(url: &str) -> Result<(), Failure> {
    use labelscan::queue;
    let store = PostgresStore::open_read_only(url).map_err(usage)?;
    let mut client = queue::connect(store.config()).map_err(queue_failure)?;
    let runs = queue::runs_with_units(&mut client).map_err(queue_failure)?;
    if runs.is_empty() {
        return Ok(());
    }
    println!();
    println!(
        "{:<26} {:<9} {:>8} {:>8} {:>8} {:>8}  STARTED BY",
        "MULTI-HOST RUN", "STATE", "PENDING", "LEASED", "DONE", "FAILED"
    );
    for (run_id, state, host, units) in runs {
        let state = match (state.as_str(), units.open()) {
            ("open", 0) => "finished",
            ("open", _) => "running",
            (other, _) => other,
        };
        println!(
            "{run_id:<26} {state:<9} {:>8} {:>8} {:>8} {:>8}  {host}",
            units.pending, units.leased, units.done, units.failed
        );
    }
    Ok(())
}

fn history_counts(run: &labelscan::store::RunRecord) -> serde_json::Value {
    serde_json::from_str(&run.counts).unwrap_or(serde_json::Value::Null)
}

fn history_json(run: &labelscan::store::RunRecord) -> String {
    serde_json::json!({
        "run_id": run.run_id,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "paths": serde_json::from_str::<serde_json::Value>(&run.paths).unwrap_or_default(),
        "complete": run.complete,
        "as_of": run.as_of,
        "policy_sha256": run.policy_sha256,
        "version": run.tool_version,
        "counts": history_counts(run),
    })
    .to_string()
}

fn history_text(run: &labelscan::store::RunRecord) -> String {
    let counts = history_counts(run);
    let n = |key: &str| counts[key].as_u64().unwrap_or(0);
    let change = |kind: &str| counts["changes"][kind].as_u64().unwrap_or(0);
    let paths: Vec<String> = serde_json::from_str(&run.paths).unwrap_or_default();
    let verdicts: Vec<String> = counts["verdicts"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(code, n)| {
                    n.as_u64().filter(|n| *n > 0).map(|n| format!("{code} {n}"))
                })
                .collect()
        })
        .unwrap_or_default();
    format!(
        "{:<26} {:<20} {:<20} {:<8} {:>9} {:>9} {:>9} {:>7} {:>7} {:>7}  {}\n    verdicts: {}\n",
        run.run_id,
        run.started_at,
        run.finished_at,
        if run.complete { "yes" } else { "no" },
        n("documents"),
        n("read"),
        n("reused"),
        change("NEW"),
        change("CHANGED"),
        change("REMOVED"),
        paths.join(" "),
        if verdicts.is_empty() {
            "-".to_string()
        } else {
            verdicts.join(", ")
        }
    )
}

/// The policy as `labelscan policy show --json` prints it: the
/// methodology appendix of `report.html`.
fn policy_as_applied(policy: &Policy, as_of: NaiveDate) -> Result<serde_json::Value, Failure> {
    let rows = describe::detector_rows(policy).map_err(usage)?;
    serde_json::from_str(&describe::policy_json(policy, as_of, &rows)).map_err(usage)
}

/// `labelscan report DIR`: renders the rendered reports (report.html) of a
/// finished run again from its files, as a new report set of the folder:
/// the run's other files are carried into it as they are (linked, not
/// copied), so the manifest still covers every file.
fn run_report(args: &ReportArgs) -> Result<u8, Failure> {
    let dir = &args.dir;
    if let (Some(url), Some(run)) = (&args.db, &args.run) {
        return run_queued_report(dir, url, run);
    }
    let private = RunFiles::new(dir)
        .summary()
        .map(|s| s.show_values)
        .unwrap_or(true);
    let set = ReportSet::begin(dir, private).map_err(|e| set_failure(dir, e))?;
    let manifest = match Manifest::read(dir) {
        Ok(Some(manifest)) => manifest,
        Ok(None) => return Err(no_manifest(dir)),
        Err(e) => return Err(mismatch(e.into())),
    };
    check_run_inputs(dir, &manifest)?;
    let run = RunFiles::new(dir);
    let summary = run.summary().map_err(usage)?;
    let policy = policy_of_run(&summary, args.policy.as_deref())?;
    let as_of = parse_date(&summary.as_of).map_err(|e| usage(anyhow::anyhow!(e)))?;
    let policy_shown = policy_as_applied(&policy, as_of)?;
    let rendered = rendered_names(&args.formats);
    let written = carry_over(dir, &set, &manifest, &rendered)
        .and_then(|_| formats::render(&run, &args.formats, &policy_shown, |n| set.path_of(n)))
        .and_then(|_| set.commit())
        .with_context(|| format!("writing reports to {}", dir.display()))
        .map_err(|e| Failure {
            code: EXIT_REPORTS,
            error: e,
        })?;
    for name in rendered.iter().filter(|n| written.files.contains_key(**n)) {
        eprintln!("labelscan: wrote {}", dir.join(name).display());
    }
    Ok(0)
}

fn mismatch(error: anyhow::Error) -> Failure {
    Failure {
        code: EXIT_MISMATCH,
        error,
    }
}

/// The report files `formats` renders from the others.
fn rendered_names(formats: &Formats) -> Vec<&'static str> {
    let mut names = Vec::new();
    if formats.html {
        names.push(report::HTML_FILE);
    }
    if formats.xlsx {
        names.push(report::XLSX_FILE);
    }
    names
}

/// The files a report is rendered from must be the run's own, as its
/// manifest lists them.
fn check_run_inputs(dir: &Path, manifest: &Manifest) -> Result<(), Failure> {
    if !formats::has_findings(dir) || !manifest.files.contains_key(report::JSONL_FILE) {
        return Err(usage(anyhow::anyhow!(
            "{}: the run wrote no {}, which the report is rendered from (scan with --formats ...,jsonl)",
            dir.display(),
            report::JSONL_FILE
        )));
    }
    let inputs = [
        report::SUMMARY_FILE,
        report::JSONL_FILE,
        report::CHANGES_JSONL_FILE,
    ];
    let bad = report::manifest::mismatched(dir, manifest, &inputs);
    if bad.is_empty() {
        return Ok(());
    }
    Err(mismatch(anyhow::anyhow!(
        "{}: the run's files do not match {MANIFEST_FILE}, so no report is rendered from them:\n{}",
        dir.display(),
        bad.join("\n")
    )))
}

/// The policy the run applied: the file it names (or `given`), which must
/// hash to the run's policy SHA-256, and the same detector definitions.
fn policy_of_run(summary: &RunSummary, given: Option<&Path>) -> Result<Policy, Failure> {
    let as_of = parse_date(&summary.as_of).map_err(|e| usage(anyhow::anyhow!(e)))?;
    let builtin = Policy::default_policy();
    let mut policy = match given {
        Some(path) => load_policy(path, as_of)?.policy,
        None if summary.policy == builtin.origin => builtin,
        None => load_policy(Path::new(&summary.policy), as_of)?.policy,
    };
    if policy.sha256 != summary.policy_sha256 {
        return Err(usage(anyhow::anyhow!(
            "the policy {} is not the one run {} applied (its SHA-256 differs); give that policy with --policy FILE",
            policy.origin,
            summary.run_id
        )));
    }
    if labelscan::analyse::detector_definitions_sha256() != summary.detectors_sha256 {
        return Err(usage(anyhow::anyhow!(
            "run {} used other detector definitions (labelscan {}); render its report with that version",
            summary.run_id,
            summary.version
        )));
    }
    // The report names the policy as the run did, wherever it is now.
    policy.origin = summary.policy.clone();
    Ok(policy)
}

/// Links the run's files that are not rendered again into the new set.
fn carry_over(
    dir: &Path,
    set: &ReportSet,
    manifest: &Manifest,
    rendered: &[&str],
) -> std::io::Result<()> {
    for name in manifest.files.keys() {
        if rendered.contains(&name.as_str()) {
            continue;
        }
        let (from, to) = (dir.join(name), set.path_of(name));
        if std::fs::hard_link(&from, &to).is_err() {
            // A file system without hard links: a copy holds the same bytes.
            std::fs::copy(&from, &to)?;
        }
    }
    Ok(())
}

/// `labelscan apply DIR`: labels the documents of a finished run.
fn run_apply(args: &ApplyArgs) -> Result<u8, Failure> {
    use labelscan::apply::{self, ApplyCsv, ApplyOptions, LevelChoice, Status, Target};
    let target = match (&args.to, args.in_place, &args.backup) {
        (_, true, None) => {
            return Err(usage(anyhow::anyhow!(
            "--in-place needs --backup DIR: every original is copied there before it is rewritten"
        )))
        }
        (_, true, Some(backup)) => Target::InPlace {
            backup: backup.clone(),
        },
        (Some(dest), false, None) => Target::To(dest.clone()),
        (Some(_), false, Some(_)) => {
            return Err(usage(anyhow::anyhow!("--backup goes with --in-place only")))
        }
        (None, false, _) => {
            return Err(usage(anyhow::anyhow!(
                "say where the labelled files go: --to DEST, or --in-place --backup DIR"
            )))
        }
    };
    let run = apply::run::Run::open(&args.dir).map_err(|e| match e {
        apply::run::RunError::Unusable(_) => usage(e),
        apply::run::RunError::Mismatch(_) => mismatch(e.into()),
    })?;
    apply::check_target(&run, &target).map_err(|e| usage(anyhow::anyhow!(e)))?;
    let ctx = apply_context(args, &run.summary)?;
    let level = match args.level.as_str() {
        "suggested" => LevelChoice::Suggested,
        name => LevelChoice::Fixed(ctx.policy.scheme.level_of(name).ok_or_else(|| {
            usage(anyhow::anyhow!(
                "--level {name}: not a level of the policy ({}) nor `suggested`",
                ctx.policy.scheme.levels.join(", ")
            ))
        })?),
    };
    warn_label_settings(&ctx.policy, args.quiet);
    let mark = match args.mark {
        true => Some(apply::Mark {
            release_to: release_partners(&args.release_to, &ctx)?,
        }),
        false => None,
    };
    let opts = ApplyOptions {
        target: target.clone(),
        level,
        dry_run: args.dry_run,
        mark,
    };
    let csv_folder = args.out.clone().or_else(|| match (&target, args.dry_run) {
        (_, true) => None,
        (Target::To(dest), false) => Some(dest.clone()),
        (Target::InPlace { backup }, false) => Some(backup.clone()),
    });
    let written = |e: std::io::Error| Failure {
        code: EXIT_REPORTS,
        error: anyhow::Error::new(e).context("writing apply.csv"),
    };
    let mut csv = match &csv_folder {
        Some(folder) => ApplyCsv::create_in(folder).map_err(written)?,
        None => ApplyCsv::stdout().map_err(written)?,
    };
    let mut counts = std::collections::BTreeMap::new();
    let findings = run
        .findings()
        .map_err(|e| usage(anyhow::Error::new(e)))?
        .map(|f| f.map_err(|e| mismatch(anyhow::Error::new(e))));
    // Writing is mostly waiting for fsync: more workers than CPUs keep
    // the CPUs busy (benches/README.md "apply": 4 per CPU halved the time).
    let jobs = args.jobs.unwrap_or_else(|| {
        4 * std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    });
    apply::apply_all(findings, &run, &ctx, &opts, jobs, &mut |row| {
        *counts.entry(row.status).or_insert(0u64) += 1;
        csv.write(&row).map_err(written)
    })?;
    let csv_path = csv.path.clone();
    csv.finish().map_err(written)?;
    if !args.quiet {
        let parts: Vec<String> = Status::ALL
            .iter()
            .filter_map(|s| counts.get(s).map(|n| format!("{} {n}", s.as_str())))
            .collect();
        let record = csv_path
            .map(|p| format!("; every decision in {}", p.display()))
            .unwrap_or_default();
        eprintln!(
            "labelscan: {} documents of run {}: {}{record}",
            counts.values().sum::<u64>(),
            run.summary.run_id,
            parts.join(", ")
        );
    }
    Ok(if counts.contains_key(&Status::Failed) {
        EXIT_REPORTS
    } else {
        0
    })
}

/// `labelscan undo APPLY_CSV`: takes back what one apply wrote.
fn run_undo(args: &UndoArgs) -> Result<u8, Failure> {
    use labelscan::apply::undo::{self, UndoCsv, UndoStatus};
    let rows = undo::read_apply_csv(&args.apply_csv).map_err(|e| usage(anyhow::anyhow!(e)))?;
    let folder = args.out.clone().or_else(|| match args.dry_run {
        true => None,
        false => Some(
            args.apply_csv
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf(),
        ),
    });
    let written = |e: std::io::Error| Failure {
        code: EXIT_REPORTS,
        error: anyhow::Error::new(e).context("writing undo.csv"),
    };
    let mut csv = match &folder {
        Some(folder) => UndoCsv::create_in(folder).map_err(written)?,
        None => UndoCsv::stdout().map_err(written)?,
    };
    let mut counts = std::collections::BTreeMap::new();
    for row in &rows {
        let done = undo::undo_one(row, args.dry_run);
        *counts.entry(done.status).or_insert(0u64) += 1;
        csv.write(&done).map_err(written)?;
    }
    let csv_path = csv.path.clone();
    csv.finish().map_err(written)?;
    if !args.quiet {
        let parts: Vec<String> = UndoStatus::ALL
            .iter()
            .filter_map(|s| counts.get(s).map(|n| format!("{} {n}", s.as_str())))
            .collect();
        let record = csv_path
            .map(|p| format!("; every decision in {}", p.display()))
            .unwrap_or_default();
        eprintln!(
            "labelscan: {} files written by apply: {}{record}",
            rows.len(),
            if parts.is_empty() {
                "none".to_string()
            } else {
                parts.join(", ")
            }
        );
    }
    Ok(if counts.contains_key(&UndoStatus::Failed) {
        EXIT_REPORTS
    } else if counts.contains_key(&UndoStatus::Skipped) {
        // Done, but not all taken back: the caller must look at undo.csv.
        EXIT_FAIL_ON
    } else {
        0
    })
}

/// `labelscan merge DIR... --out DIR`: the shards' reports as one set.
fn run_merge(args: &MergeArgs) -> Result<u8, Failure> {
    let failure = |e: MergeError| Failure {
        code: match e {
            MergeError::Refused(_) => EXIT_USAGE,
            MergeError::Mismatch(_) => EXIT_MISMATCH,
            MergeError::Io(_) => EXIT_REPORTS,
        },
        error: e.into(),
    };
    let shards = merge::read_shards(&args.dirs).map_err(failure)?;
    let show_values = shards[0].summary.show_values;
    let set = ReportSet::begin(&args.out, show_values).map_err(|e| set_failure(&args.out, e))?;
    let run = MergedRun {
        run_id: scan::new_run_id(),
        out: args.out.display().to_string(),
    };
    let summary = merge::merge_into(&shards, |name| set.path_of(name), args.formats.csv, run)
        .map_err(failure)?;
    let run_files = RunFiles::new(set.staging_dir());
    let policy = policy_of_run(&run_files.summary().map_err(usage)?, args.policy.as_deref())?;
    let as_of = parse_date(&summary.as_of).map_err(|e| usage(anyhow::anyhow!(e)))?;
    let policy_shown = policy_as_applied(&policy, as_of)?;
    formats::finish_staged(&set, &args.formats, &policy_shown)
        .and_then(|_| match args.formats.jsonl {
            true => Ok(()),
            false => std::fs::remove_file(set.path_of(report::JSONL_FILE)),
        })
        .and_then(|_| set.commit())
        .with_context(|| format!("writing reports to {}", args.out.display()))
        .map_err(|e| Failure {
            code: EXIT_REPORTS,
            error: e,
        })?;
    if !args.quiet {
        eprintln!(
            "labelscan: merged {} shards: {} documents in {} files, {} skipped; reports in {}",
            shards.len(),
            summary.documents,
            summary.files_scanned,
            summary.files_skipped,
            args.out.display()
        );
    }
    Ok(if summary.documents_failing > 0 {
        EXIT_FAIL_ON
    } else {
        0
    })
}

/// The policy and date `apply` labels with: `--policy` (its levels must
/// name every level the run reported) or the run's own policy.
fn apply_context(args: &ApplyArgs, summary: &RunSummary) -> Result<Context, Failure> {
    let run_as_of = parse_date(&summary.as_of).map_err(|e| usage(anyhow::anyhow!(e)))?;
    let as_of = args.as_of.unwrap_or(run_as_of);
    let policy = match &args.policy {
        Some(path) => {
            let policy = load_policy(path, as_of)?.policy;
            let unknown: Vec<&String> = summary
                .levels
                .keys()
                .filter(|name| name.as_str() != "none" && policy.scheme.level_of(name).is_none())
                .collect();
            if !unknown.is_empty() {
                return Err(usage(anyhow::anyhow!(
                    "the policy {} has no level {:?} that run {} reported; apply with a policy of the same scheme",
                    policy.origin,
                    unknown,
                    summary.run_id
                )));
            }
            policy
        }
        None => policy_of_run(summary, None)?,
    };
    context_of(policy, as_of, false, Limits::default())
}

/// The partners of `--release-to` as the policy names them. Refused up
/// front: a name that is no partner, one a release marking cannot carry
/// (it would read back as other names), and a partner with no agreement
/// valid on the as-of date at any level.
fn release_partners(names: &[String], ctx: &Context) -> Result<Vec<String>, Failure> {
    let policy = &ctx.policy;
    let mut partners: Vec<String> = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let partner = policy.partner_named(name).ok_or_else(|| {
            let known: Vec<&str> = policy.partners.iter().map(|p| p.name.as_str()).collect();
            usage(anyhow::anyhow!(
                "--release-to {name}: not a partner in the policy ({})",
                if known.is_empty() {
                    "it names none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })?;
        let lowest = policy.scheme.lowest();
        if let Some(problem) =
            labelscan::judge::release_problems(&partner.name, policy, ctx.as_of, lowest).first()
        {
            return Err(usage(anyhow::anyhow!(
                "--release-to {name}: {} on {}: {}",
                problem.code.as_str(),
                ctx.as_of,
                problem.reason
            )));
        }
        if !partners.contains(&partner.name) {
            partners.push(partner.name.clone());
        }
    }
    let line =
        labelscan::apply::mark::marking_line(policy.scheme.name(policy.scheme.lowest()), &partners);
    let read = labelscan::labels::parse_marking_line(&line, policy)
        .map(|m| m.released_to)
        .unwrap_or_default();
    if read != partners {
        return Err(usage(anyhow::anyhow!(
            "--release-to: the marking \"{line}\" would read back as other partners ({}); a partner name holding , ; / & or \"and\" cannot be written in a release marking",
            read.join(", ")
        )));
    }
    Ok(partners)
}

/// Says up front what the policy lets `apply` write.
fn warn_label_settings(policy: &Policy, quiet: bool) {
    if quiet {
        return;
    }
    let labels = &policy.labels;
    if labels.msip_site_id.is_none() {
        eprintln!("labelscan: note: the policy has no [labels] msip_site_id: no Purview label is written, only the custom property");
    } else {
        let missing: Vec<&str> = policy
            .scheme
            .levels
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                labels
                    .msip_guid_of(labelscan::model::Level::new(*i))
                    .is_none()
            })
            .map(|(_, name)| name.as_str())
            .collect();
        if !missing.is_empty() {
            eprintln!(
                "labelscan: note: [labels.msip] maps no GUID to {}: documents labelled so get no Purview label, only the custom property",
                missing.join(", ")
            );
        }
    }
    if labels.custom_properties.is_empty() {
        eprintln!("labelscan: note: the policy names no labels.custom_properties: no custom property is written");
    }
}
