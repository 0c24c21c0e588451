//! The bounds every hostile input and hostile place must keep (issue 16):
//! exit 0 or 1, between 1 and 20,000 rows, under 2 s of CPU (the child's
//! own rusage from `wait4`, so other tests running beside it do not count)
//! and under 100 MB of peak RSS beyond the scanner's baseline. A scan's
//! peak RSS is `summary.json`'s `peak_rss_kb` (the child's own high-water
//! mark); `ru_maxrss` would count this test process's memory too, which
//! the child shares until it `exec`s.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::bin;

/// Most rows one top-level file may yield (`pipeline::MAX_ROWS_PER_FILE`).
pub const MAX_ROWS: usize = 20_000;
pub const RSS_ALLOWANCE_KB: i64 = 100 * 1024;
pub const CPU_ALLOWANCE: Duration = Duration::from_secs(2);

/// What one run of the binary cost and said.
pub struct Measured {
    pub code: i32,
    pub cpu: Duration,
    /// `ru_maxrss` of the child: includes the memory it shared with this
    /// test process before `exec`, so compare it only with another run's.
    pub max_rss_kb: i64,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` to its end, with stdout and stderr captured, measuring the
/// child alone (`wait4`).
pub fn run_measured(cmd: &mut Command) -> Measured {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("labelscan starts");
    wait_measured(child)
}

/// Waits for `child` with `wait4`, which returns the rusage of that child
/// only (and reaps it).
fn wait_measured(mut child: std::process::Child) -> Measured {
    let mut out_pipe = child.stdout.take().expect("stdout piped");
    // Read on a thread of its own: a child blocked on a full stdout pipe
    // would never close stderr.
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        out_pipe.read_to_end(&mut s).unwrap();
        s
    });
    let mut stderr = Vec::new();
    if let Some(mut e) = child.stderr.take() {
        e.read_to_end(&mut stderr).unwrap();
    }
    let stdout = reader.join().unwrap();
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills in; the pid is our own
    // child, not yet waited for.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t, "wait4 failed");
    assert!(
        libc::WIFEXITED(status),
        "labelscan did not exit normally: {stderr}"
    );
    Measured {
        code: libc::WEXITSTATUS(status),
        cpu: cpu_time(&usage),
        max_rss_kb: usage.ru_maxrss,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr,
    }
}

fn cpu_time(u: &libc::rusage) -> Duration {
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// `summary.json`'s `peak_rss_kb` of the report set in `out`.
pub fn peak_rss_kb(out: &Path) -> i64 {
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary.json"))
            .expect("summary.json is JSON");
    let peak = summary["peak_rss_kb"].as_i64().expect("peak_rss_kb");
    assert!(peak > 0, "the peak RSS is measured");
    peak
}

/// The rows of `findings.csv` in `out`, with its header.
pub fn rows(out: &Path) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut reader = csv::Reader::from_path(out.join("findings.csv")).expect("findings.csv");
    let header = reader.headers().expect("a header row").clone();
    let rows = reader.records().map(|r| r.unwrap()).collect();
    (header, rows)
}

/// `labelscan scan TREE --out OUT --quiet`.
pub fn quiet_scan(tree: &Path, out: &Path) -> Command {
    let mut command = bin();
    command
        .arg("scan")
        .arg(tree)
        .arg("--out")
        .arg(out)
        .arg("--quiet");
    command
}

/// Exit 0 or 1, and no panic message.
fn assert_ended_cleanly(name: &str, m: &Measured) {
    assert!(
        m.code == 0 || m.code == 1,
        "{name}: exit {}: {}",
        m.code,
        m.stderr
    );
    assert!(!m.stderr.contains("panicked"), "{name}: {}", m.stderr);
}

/// The peak RSS of scanning one small text file: the scanner's baseline.
pub fn baseline_kb(dir: &Path) -> i64 {
    let tree = dir.join("baseline");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("a.txt"), "INTERNAL\nhello\n").unwrap();
    let out = dir.join("baseline.out");
    let m = run_measured(&mut quiet_scan(&tree, &out));
    assert_eq!(m.code, 0, "{}", m.stderr);
    peak_rss_kb(&out)
}

/// Checks the bounds of a scan that wrote its reports to `out`; returns
/// its rows for the case's own checks.
pub fn assert_scan_bounded(
    name: &str,
    m: &Measured,
    out: &Path,
    baseline_kb: i64,
) -> Vec<csv::StringRecord> {
    assert_ended_cleanly(name, m);
    let (_, rows) = rows(out);
    let peak = peak_rss_kb(out);
    eprintln!(
        "{name}: {} rows, peak RSS {peak} KB (baseline {baseline_kb} KB), CPU {:?}",
        rows.len(),
        m.cpu
    );
    assert!(
        (1..=MAX_ROWS).contains(&rows.len()),
        "{name}: {} rows",
        rows.len()
    );
    assert!(
        peak - baseline_kb < RSS_ALLOWANCE_KB,
        "{name}: peak RSS {peak} KB against a baseline of {baseline_kb} KB"
    );
    assert!(m.cpu < CPU_ALLOWANCE, "{name}: {:?} of CPU", m.cpu);
    rows
}

/// Checks the bounds of a run that writes no report set (`explain`): exit
/// 0 or 1, CPU, and `ru_maxrss` against that of `baseline`, a run of the
/// same command on a small file from this same test process.
pub fn assert_run_bounded(name: &str, m: &Measured, baseline: &Measured) {
    assert_ended_cleanly(name, m);
    eprintln!(
        "{name}: max RSS {} KB (baseline {} KB), CPU {:?}",
        m.max_rss_kb, baseline.max_rss_kb, m.cpu
    );
    assert!(
        m.max_rss_kb - baseline.max_rss_kb < RSS_ALLOWANCE_KB,
        "{name}: max RSS {} KB against a baseline of {} KB",
        m.max_rss_kb,
        baseline.max_rss_kb
    );
    assert!(m.cpu < CPU_ALLOWANCE, "{name}: {:?} of CPU", m.cpu);
}
