//! Snapshots of the reports the binary writes for the bundled examples
//! (`findings.csv`, `findings.jsonl`, `summary.json`), under the built-in
//! default policy and under the worked Apex policy of the README, and of
//! `explain` for three of the examples. Snapshots live in
//! `tests/snapshots/reports/`. Run-dependent values are redacted: the start
//! time, duration and throughput in `summary.json`, the default run's as-of
//! date (today), and the temporary report folder's path.
//!
//! These replace the former golden files `tests/golden/findings.{csv,jsonl}`.
//! After checking a change, accept it with
//! `INSTA_UPDATE=always cargo test --release --test snapshots_reports`
//! (or `cargo insta review`).

use std::path::PathBuf;
use std::process::{Command, Output};

const APEX: &str = "policies/examples/apex-precision.toml";
const AS_OF: &str = "2026-11-23";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn labelscan(args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_labelscan"))
        .current_dir(repo())
        .args(args)
        .output()
        .expect("labelscan runs");
    assert!(
        o.status.success(),
        "labelscan {args:?}: {:?}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("snapshots/reports");
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    s
}

/// Replaces the report folder's path (and the repository's, should a
/// report ever carry it) by placeholders.
fn redact_paths(text: &str, out: Option<&std::path::Path>) -> String {
    let mut text = text.to_string();
    let out = out.map(|p| (p.to_path_buf(), "[OUT]"));
    for (path, placeholder) in out.into_iter().chain([(repo(), "[REPO]")]) {
        let shown = path.to_string_lossy().into_owned();
        text = text.replace(&shown, placeholder);
        if let Ok(canonical) = path.canonicalize() {
            text = text.replace(&*canonical.to_string_lossy(), placeholder);
        }
    }
    text
}

/// `summary.json` with the values of `keys` replaced by `"[redacted]"`.
/// Every key must occur exactly once: a renamed field fails here instead of
/// slipping unredacted into the snapshot.
fn redact_summary(text: &str, keys: &[&str]) -> String {
    let mut seen = vec![0; keys.len()];
    let mut out = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let hit = keys
            .iter()
            .position(|k| trimmed.starts_with(&format!("\"{k}\":")));
        match hit {
            Some(i) => {
                seen[i] += 1;
                let indent = &line[..line.len() - trimmed.len()];
                let comma = if trimmed.ends_with(',') { "," } else { "" };
                out.push_str(&format!("{indent}\"{}\": \"[redacted]\"{comma}", keys[i]));
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    for (k, n) in keys.iter().zip(seen) {
        assert_eq!(n, 1, "summary.json: {k:?} occurs {n} times:\n{text}");
    }
    out
}

/// Replaces the file facts that differ from checkout to checkout (the
/// files' modification times and owner) in CSV rows, JSONL records and
/// `explain` text by placeholders.
fn redact_file_facts(text: &str) -> String {
    let csv_tail = regex::Regex::new(
        r"(?m),\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ,[^,\n]*,(\d+),([0-9a-f]{16})(,[^,\n]*)?$",
    )
    .unwrap();
    let text = csv_tail.replace_all(text, ",[modified],[owner],$1,$2$3");
    let json = regex::Regex::new(r#""(modified|owner)":"[^"]*""#).unwrap();
    let text = json.replace_all(&text, "\"$1\":\"[redacted]\"");
    let explain = regex::Regex::new(r"modified:( +)\S+( +)owner: \S+").unwrap();
    explain
        .replace_all(&text, "modified:${1}[redacted]${2}owner: [redacted]")
        .into_owned()
}

/// A report file as text, with a first line saying what a text diff would
/// not show: the byte order mark, carriage returns, the final newline.
fn with_file_facts(bytes: &[u8]) -> String {
    let text = String::from_utf8(bytes.to_vec()).expect("reports are UTF-8");
    let (bom, body) = match text.strip_prefix('\u{feff}') {
        Some(rest) => ("yes", rest),
        None => ("no", text.as_str()),
    };
    format!(
        "# BOM: {bom}, CR bytes: {}, ends with a newline: {}\n{body}",
        body.matches('\r').count(),
        if body.ends_with('\n') { "yes" } else { "no" }
    )
}

/// Scans `examples` with `args` added and snapshots the three reports as
/// `{name}__findings.csv`, `{name}__findings.jsonl` and `{name}__summary.json`.
fn snapshot_scan(name: &str, args: &[&str], redact: &[&str]) {
    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().to_string_lossy().into_owned();
    let mut all = vec!["scan", "examples", "--quiet", "--out", &out_arg];
    all.extend_from_slice(args);
    let o = labelscan(&all);
    assert!(o.stdout.is_empty(), "scan --quiet prints nothing");
    let read = |f: &str| std::fs::read(out.path().join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    let csv = redact_paths(&with_file_facts(&read("findings.csv")), Some(out.path()));
    let csv = redact_file_facts(&csv);
    let jsonl = redact_paths(&with_file_facts(&read("findings.jsonl")), Some(out.path()));
    let jsonl = redact_file_facts(&jsonl);
    let summary = String::from_utf8(read("summary.json")).unwrap();
    serde_json::from_str::<serde_json::Value>(&summary).expect("summary.json is JSON");
    let summary = redact_paths(&redact_summary(&summary, redact), Some(out.path()));
    let s = settings();
    s.bind(|| {
        insta::assert_snapshot!(format!("{name}__findings.csv"), csv);
        insta::assert_snapshot!(format!("{name}__findings.jsonl"), jsonl);
        insta::assert_snapshot!(format!("{name}__summary.json"), summary);
    });
}

/// Run id, host, user, times and throughput differ from run to run.
const RUN_FIELDS: [&str; 9] = [
    "run_id",
    "host",
    "user",
    "started_at",
    "finished_at",
    "duration_seconds",
    "files_per_second",
    "megabytes_per_second",
    "peak_rss_kb",
];

/// The README's first command: the built-in default policy, as of today.
#[test]
fn reports_under_the_default_policy() {
    let mut redact = RUN_FIELDS.to_vec();
    // As of today, with as many workers as the machine has cores.
    redact.extend(["as_of", "jobs"]);
    snapshot_scan("default", &[], &redact);
}

/// The README's worked policy on a fixed date, on two workers (the reports
/// must not depend on which worker finished first).
#[test]
fn reports_under_the_apex_policy() {
    snapshot_scan(
        "apex",
        &["--policy", APEX, "--as-of", AS_OF, "--jobs", "2"],
        &RUN_FIELDS,
    );
}

/// `explain` under the Apex policy for an Excel workbook released to a
/// partner whose agreement has expired (the README's example, with its
/// text), a Word 97 file whose MSIP label and footer marking disagree, and a
/// zip archive whose members are explained one by one.
#[test]
fn explain_under_the_apex_policy() {
    let cases: [(&str, &str, &[&str]); 3] = [
        (
            "explain__shipping-plan.xlsx",
            "examples/exchange/beta/shipping-plan.xlsx",
            &["--text"],
        ),
        (
            "explain__settlement-word97.doc",
            "examples/legal/settlement-word97.doc",
            &[],
        ),
        (
            "explain__project-2025.zip",
            "examples/archive/project-2025.zip",
            &[],
        ),
    ];
    let s = settings();
    for (name, file, extra) in cases {
        let mut args = vec!["explain", file, "--policy", APEX, "--as-of", AS_OF];
        args.extend_from_slice(extra);
        let o = labelscan(&args);
        let text = String::from_utf8(o.stdout).expect("explain prints UTF-8");
        let text = redact_file_facts(&redact_paths(&text, None));
        s.bind(|| insta::assert_snapshot!(name, text));
    }
}

#[test]
fn redaction_keeps_the_rest_and_fails_on_a_missing_key() {
    let text = "{\n  \"a\": 1,\n  \"started_at\": \"2026-01-01T00:00:00Z\",\n  \"b\": 2\n}\n";
    assert_eq!(
        redact_summary(text, &["started_at"]),
        "{\n  \"a\": 1,\n  \"started_at\": \"[redacted]\",\n  \"b\": 2\n}\n"
    );
    let missing = std::panic::catch_unwind(|| redact_summary(text, &["files_per_second"]));
    assert!(missing.is_err());
}
