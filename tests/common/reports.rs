//! Scanning a tree with the real binary and reading the reports it wrote:
//! `summary.json` counters, CSV rows by column name, `changes.csv`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use super::{bin, repo, stderr};

/// `labelscan scan TREE --quiet --jobs 2 --out OUT EXTRA...`, run from the
/// repository (policy paths in `extra` are relative to it).
pub fn scan_command(tree: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = bin();
    cmd.current_dir(repo())
        .arg("scan")
        .arg(tree)
        .args(["--quiet", "--jobs", "2", "--out"])
        .arg(out)
        .args(extra);
    cmd
}

/// Runs [`scan_command`], which must finish (exit 0, or 1 for findings).
pub fn scan(tree: &Path, out: &Path, extra: &[&str]) -> Output {
    let o = scan_command(tree, out, extra).output().unwrap();
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "scan failed: {}",
        stderr(&o)
    );
    o
}

pub fn summary(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

/// A number in `summary.json`.
pub fn count(out: &Path, key: &str) -> u64 {
    summary(out)[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key}"))
}

/// The rows of a report CSV (which starts with a BOM), by column name.
pub fn csv_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.strip_prefix('\u{feff}').expect("a BOM");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    reader
        .records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

/// (change, path relative to the tree, cause) of each `changes.csv` row.
pub fn changes(out: &Path, tree: &Path) -> Vec<(String, String, String)> {
    let prefix = format!("{}/", tree.display());
    csv_rows(&out.join("changes.csv"))
        .into_iter()
        .map(|r| {
            (
                r["change"].clone(),
                r["path"].trim_start_matches(&prefix).to_string(),
                r["cause"].clone(),
            )
        })
        .collect()
}

/// Copies the folder `from` to `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// The reports a single scan and a multi-host or merged run must write
/// with the same bytes.
pub const SAME_BYTES: [&str; 5] = [
    "findings.csv",
    "findings.jsonl",
    "skipped.csv",
    "changes.csv",
    "changes.jsonl",
];

/// summary.json without what differs between any two runs: ids, hosts,
/// times, rates, memory, where the reports and the state went, and which
/// shards a merge took.
pub fn comparable_summary(out: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(out.join("summary.json")).unwrap();
    let mut s: serde_json::Value = serde_json::from_str(&text).unwrap();
    let o = s.as_object_mut().unwrap();
    for key in [
        "run_id",
        "host",
        "started_at",
        "finished_at",
        "duration_seconds",
        "files_per_second",
        "megabytes_per_second",
        "peak_rss_kb",
        "state",
        "baseline_run_id",
        "earlier_runs",
        "merged_from",
    ] {
        o.remove(key);
    }
    o["options"].as_object_mut().unwrap().remove("out");
    s
}

/// report.html up to the end of its findings rows (what follows names
/// the run).
fn html_rows(out: &Path) -> Vec<u8> {
    let mut page = std::fs::read(out.join("report.html")).unwrap();
    let end = page
        .windows(10)
        .position(|w| w == b"\n]</script")
        .expect("report.html holds its findings rows");
    page.truncate(end);
    page
}

/// `other`'s reports are `single`'s: the same bytes of [`SAME_BYTES`], the
/// same summary but for run-specific fields, the same report.html rows,
/// and a folder `verify` passes.
pub fn assert_same_reports(single: &Path, other: &Path) {
    for name in SAME_BYTES {
        let (a, b) = (
            std::fs::read(single.join(name)).unwrap(),
            std::fs::read(other.join(name)).unwrap(),
        );
        assert!(
            a == b,
            "{name} differs:\n--- single\n{}\n--- other\n{}",
            String::from_utf8_lossy(&a),
            String::from_utf8_lossy(&b)
        );
    }
    assert_eq!(comparable_summary(single), comparable_summary(other));
    let (a, b) = (html_rows(single), html_rows(other));
    if let Some(at) = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)) {
        let near = |rows: &[u8]| {
            String::from_utf8_lossy(&rows[at.min(rows.len())..(at + 200).min(rows.len())])
                .into_owned()
        };
        panic!(
            "report.html's findings rows differ from byte {at}:\n--- single\n{}\n--- other\n{}",
            near(&a),
            near(&b)
        );
    }
    let v = bin().arg("verify").arg(other).output().unwrap();
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
}
