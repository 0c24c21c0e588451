//! A run is an audit record (SPEC "A run is an audit record", "Exchange
//! locations"): explain and scan agree on every file, verdicts do not depend
//! on the folder scanned, every path is accounted for, and the summary and
//! the reports carry scope, provenance and evidence. The real binary on
//! real documents.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::{bin, pdf, repo, run, stderr};

const APEX: [&str; 4] = [
    "--policy",
    "policies/examples/apex-precision.toml",
    "--as-of",
    "2026-11-23",
];

/// Scans `paths` (relative to the repository) with `extra` options into a
/// fresh report folder.
fn scan(paths: &[&str], extra: &[&str]) -> (tempfile::TempDir, Output) {
    let out = tempfile::tempdir().unwrap();
    let o = run(bin()
        .current_dir(repo())
        .arg("scan")
        .args(paths)
        .args(["--out"])
        .arg(out.path())
        .args(extra));
    (out, o)
}

fn jsonl(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("findings.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

fn csv_table(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text
        .strip_prefix('\u{feff}')
        .expect("CSV starts with a BOM");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .cloned()
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect()
}

/// The scan's JSONL lines grouped by the file they came from (members
/// under their archive), in walk order.
fn lines_by_file(dir: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(dir.join("findings.jsonl")).unwrap();
    let mut by_file: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        let file = record["path"].as_str().unwrap();
        let file = file.split("!/").next().unwrap().to_string();
        match by_file.last_mut() {
            Some((last, lines)) if *last == file => {
                lines.push_str(line);
                lines.push('\n');
            }
            _ => by_file.push((file, format!("{line}\n"))),
        }
    }
    by_file
}

/// `explain --json` over every file a scan reported, in one call, must
/// print exactly the scan's lines.
fn assert_explain_matches_scan(paths: &[&str], policy: &[&str], at_least: usize) {
    let (out, o) = scan(paths, &[policy, &["--quiet"]].concat());
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(&o));
    let by_file = lines_by_file(out.path());
    assert!(
        by_file.len() >= at_least,
        "{:?}: {} files reported, expected at least {at_least}; is the corpus missing?",
        paths,
        by_file.len()
    );
    let files: Vec<&str> = by_file.iter().map(|(f, _)| f.as_str()).collect();
    let o = run(bin()
        .current_dir(repo())
        .args(["explain", "--json"])
        .args(policy)
        .args(&files));
    assert!(o.status.success(), "{}", stderr(&o));
    let want: String = by_file.iter().map(|(_, l)| l.as_str()).collect();
    let got = String::from_utf8_lossy(&o.stdout);
    if got != want {
        for (g, w) in got.lines().zip(want.lines()) {
            assert_eq!(g, w, "explain and scan disagree");
        }
        panic!(
            "explain printed {} lines, scan wrote {}",
            got.lines().count(),
            want.lines().count()
        );
    }
}

#[test]
fn explain_json_is_the_scan_record_for_every_example() {
    assert_explain_matches_scan(&["examples"], &APEX, 20);
}

#[test]
fn explain_json_is_the_scan_record_for_every_realworld_file() {
    let corpus = repo().join("../shared/corpus/realworld");
    assert!(
        corpus.is_dir(),
        "the real-world corpus is missing ({}); this test never skips",
        corpus.display()
    );
    assert_explain_matches_scan(&["../shared/corpus/realworld"], &[], 400);
}

#[test]
fn explain_takes_an_archive_member_as_the_reports_name_it() {
    let member = "examples/archive/project-2025.zip!/notes/secret.txt";
    let o = run(bin()
        .current_dir(repo())
        .args(["explain", member, "--json"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let got: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(got["path"], member);
    let o = run(bin().current_dir(repo()).args(["explain", member]));
    assert!(String::from_utf8_lossy(&o.stdout).contains("aws_access_key"));
}

/// Verdicts per file, keyed by the path below `examples/`.
fn verdicts_below_examples(dir: &Path) -> BTreeMap<String, String> {
    jsonl(dir)
        .iter()
        .map(|r| {
            let path = r["path"].as_str().unwrap();
            let below = path.split_once("examples/").map(|(_, b)| b).unwrap_or(path);
            let codes: Vec<&str> = r["verdicts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            (below.to_string(), codes.join(";"))
        })
        .collect()
}

#[test]
fn verdicts_do_not_depend_on_the_folder_scanned() {
    let (whole, o) = scan(&["examples"], &[&APEX[..], &["--quiet"]].concat());
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(&o));
    let all = verdicts_below_examples(whole.path());
    let mut folders: BTreeSet<String> = BTreeSet::new();
    for path in all.keys() {
        let parts: Vec<&str> = path.split('/').collect();
        for depth in 1..parts.len() {
            let folder = parts[..depth].join("/");
            if !folder.contains('!') {
                folders.insert(folder);
            }
        }
    }
    assert!(folders.contains("exchange/precision"), "{folders:?}");
    for folder in &folders {
        let (part, o) = scan(
            &[&format!("examples/{folder}")],
            &[&APEX[..], &["--quiet"]].concat(),
        );
        assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(&o));
        let some = verdicts_below_examples(part.path());
        assert!(!some.is_empty(), "{folder}");
        for (path, codes) in &some {
            assert_eq!(Some(codes), all.get(path), "{path} scanned under {folder}");
        }
    }
    // The TLP:RED file in a partner's exchange folder, scanned from below.
    let (deep, _) = scan(
        &["examples/exchange/alpha"],
        &[&APEX[..], &["--quiet"]].concat(),
    );
    let codes = verdicts_below_examples(deep.path());
    assert!(
        codes.values().any(|c| c.contains("TLP_VIOLATION")),
        "{codes:?}"
    );
}

#[test]
fn overlapping_paths_are_scanned_once() {
    let (once, _) = scan(&["examples"], &[&APEX[..], &["--quiet"]].concat());
    let (twice, o) = scan(&["examples/exchange", "examples", "examples"], &APEX);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(&o));
    assert_eq!(
        verdicts_below_examples(once.path()),
        verdicts_below_examples(twice.path())
    );
    let s = summary(twice.path());
    assert_eq!(s["documents"], summary(once.path())["documents"]);
    assert_eq!(s["paths_walked"], serde_json::json!(["examples"]));
    let not_walked = s["paths_not_walked"].as_array().unwrap();
    assert_eq!(not_walked.len(), 2, "{not_walked:?}");
    assert_eq!(not_walked[0]["path"], "examples/exchange");
    assert_eq!(not_walked[0]["covered_by"], "examples");
    assert!(stderr(&o).contains("examples/exchange lies inside examples"));
}

/// A tree with one file of each kind a scan passes over.
fn tree_with_skips() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("docs/sub")).unwrap();
    std::fs::write(root.join("docs/plan.txt"), "INTERNAL\nThe plan.\n").unwrap();
    std::fs::write(root.join("docs/~$plan.docx"), b"owner lock").unwrap();
    std::fs::write(root.join("docs/Thumbs.db"), [0u8; 64]).unwrap();
    std::fs::write(root.join("docs/desktop.ini"), "[.ShellClassInfo]\n").unwrap();
    std::fs::write(root.join("docs/.DS_Store"), [0u8, 0, 0, 1, 0x42, 0x75]).unwrap();
    std::fs::write(
        root.join("docs/sub/photo.png"),
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
    )
    .unwrap();
    std::fs::write(root.join("docs/sub/tool.exe"), b"MZ\x90\0\x03\0\0\0").unwrap();
    std::fs::write(root.join("docs/notes.log"), "INTERNAL\nlog\n").unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/etc/hostname", root.join("docs/link.txt")).unwrap();
        let fifo = root.join("docs/pipe");
        let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(status.success());
    }
    // A zip with a document and an image.
    let file = std::fs::File::create(root.join("docs/bundle.zip")).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default();
    zip.start_file("a.txt", opts).unwrap();
    std::io::Write::write_all(&mut zip, b"PUBLIC\nhello\n").unwrap();
    zip.start_file("img/logo.png", opts).unwrap();
    std::io::Write::write_all(&mut zip, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    zip.finish().unwrap();
    dir
}

#[test]
fn every_path_not_inspected_is_listed_with_its_reason() {
    let tree = tree_with_skips();
    let docs = tree.path().join("docs");
    let out = tempfile::tempdir().unwrap();
    let o = run(bin()
        .arg("scan")
        .arg(&docs)
        .args(["--quiet", "--exclude", "*.log", "--out"])
        .arg(out.path()));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let base = docs.display().to_string();
    let rows = csv_table(&out.path().join("skipped.csv"));
    let got: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r["path"].replacen(&base, "docs", 1), r["reason"].clone()))
        .collect();
    let want: BTreeSet<(String, String)> = [
        ("docs/~$plan.docx", "excluded_by_default"),
        ("docs/Thumbs.db", "excluded_by_default"),
        ("docs/desktop.ini", "excluded_by_default"),
        ("docs/.DS_Store", "excluded_by_default"),
        ("docs/sub/photo.png", "unsupported:image/png"),
        ("docs/sub/tool.exe", "unsupported:executable/pe"),
        ("docs/link.txt", "symlink"),
        ("docs/pipe", "not_a_file"),
        ("docs/bundle.zip!/img/logo.png", "unsupported:image/png"),
    ]
    .iter()
    .map(|(p, r)| (p.to_string(), r.to_string()))
    .collect();
    assert_eq!(got, want);
    let s = summary(out.path());
    assert_eq!(s["files_skipped"], 9);
    assert_eq!(s["skipped"]["excluded_by_default"], 4);
    assert_eq!(
        s["files_filtered_out"], 1,
        "--exclude is counted, not listed"
    );
    let findings = csv_table(&out.path().join("findings.csv"));
    let paths: Vec<String> = findings
        .iter()
        .map(|r| r["path"].replacen(&base, "docs", 1))
        .collect();
    assert_eq!(paths, vec!["docs/bundle.zip!/a.txt", "docs/plan.txt"]);
}

#[test]
fn a_missing_path_is_named_and_the_others_are_still_scanned() {
    let (out, o) = scan(&["no-such-share", "examples"], &APEX);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("no-such-share"), "{}", stderr(&o));
    let s = summary(out.path());
    assert!(s["documents"].as_u64().unwrap() >= 20);
    assert_eq!(s["complete"], false);
    assert_eq!(s["paths_not_walked"][0]["path"], "no-such-share");
    assert_eq!(s["paths_not_walked"][0]["reason"], "not_found");
}

#[test]
fn an_empty_share_is_a_warning_not_a_silent_success() {
    let empty = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = run(bin()
        .arg("scan")
        .arg(empty.path())
        .arg("--out")
        .arg(out.path()));
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("warning: no documents found under"),
        "{}",
        stderr(&o)
    );
    let s = summary(out.path());
    assert_eq!(s["documents"], 0);
    assert!(s["warnings"][0]
        .as_str()
        .unwrap()
        .contains("failed to mount"));
}

#[test]
fn summary_records_scope_provenance_and_breakdowns() {
    let (out, o) = scan(
        &["examples"],
        &[&APEX[..], &["--include", "**", "--jobs", "2"]].concat(),
    );
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(&o));
    let s = summary(out.path());
    let run_id = s["run_id"].as_str().unwrap();
    assert_eq!(run_id.len(), "20261203T130501Z-0123abcd".len(), "{run_id}");
    assert_eq!(s["policy"], "policies/examples/apex-precision.toml");
    assert_eq!(s["policy_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(s["detectors_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(s["paths"], serde_json::json!(["examples"]));
    assert!(s["paths_resolved"][0].as_str().unwrap().starts_with('/'));
    assert_eq!(s["options"]["include"], serde_json::json!(["**"]));
    assert_eq!(s["options"]["jobs"], 2);
    assert_eq!(s["options"]["show_values"], false);
    assert_eq!(s["show_values"], false);
    assert!(!s["host"].as_str().unwrap().is_empty());
    assert!(!s["user"].as_str().unwrap().is_empty());
    assert!(s["finished_at"].as_str().unwrap() >= s["started_at"].as_str().unwrap());
    assert_eq!(s["complete"], true);
    // Breakdowns add up to the totals.
    let nonzero: serde_json::Map<String, serde_json::Value> = s["verdicts"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, n)| n.as_u64() != Some(0))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(s["by_path"]["examples"], serde_json::Value::Object(nonzero));
    let exchange = &s["by_folder"]["examples/exchange"];
    assert_eq!(exchange["TLP_VIOLATION"], 1, "{exchange}");
    let precision = &s["releases"]["Precision Systems"];
    assert!(precision["covered"].as_u64().unwrap() >= 1, "{precision}");
    assert!(
        s["releases"]["(not a partner)"]["unknown_partner"]
            .as_u64()
            .unwrap()
            >= 1
    );
    let locations = s["locations"].as_array().unwrap();
    assert!(
        locations.iter().all(|l| l["files"].as_u64().unwrap() >= 1),
        "{locations:?}"
    );
    // The closing line breaks findings down by verdict.
    let o = run(bin()
        .current_dir(repo())
        .args(["scan", "examples", "--out"])
        .arg(out.path())
        .args(APEX));
    let closing = stderr(&o);
    assert!(
        closing.contains("UNDER_CLASSIFIED 5") && closing.contains(" OK,"),
        "{closing}"
    );
}

#[test]
fn a_location_that_matches_nothing_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.toml");
    std::fs::write(
        &policy,
        r#"
[scheme]
levels = ["PUBLIC", "INTERNAL", "CONFIDENTIAL"]
[[partners]]
name = "Nobody"
agreement = "NDA-1"
max_level = "INTERNAL"
[[locations]]
path = "exchange/nobody/**"
partner = "Nobody"
"#,
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = run(bin()
        .current_dir(repo())
        .args(["scan", "examples/finance", "--policy"])
        .arg(&policy)
        .arg("--out")
        .arg(out.path()));
    assert!(
        stderr(&o).contains("exchange location exchange/nobody/** (Nobody) matched no file"),
        "{}",
        stderr(&o)
    );
    let s = summary(out.path());
    assert_eq!(s["locations"][0]["files"], 0);
    assert_eq!(s["warnings"].as_array().unwrap().len(), 1);
}

#[test]
fn findings_carry_file_evidence_columns_after_the_spec_columns() {
    let (out, _) = scan(&["examples"], &[&APEX[..], &["--quiet"]].concat());
    let text = std::fs::read_to_string(out.path().join("findings.csv")).unwrap();
    let header = text.lines().next().unwrap().trim_start_matches('\u{feff}');
    assert_eq!(
        header,
        "path,format,size,sha256,level,label_sources,released_to,tlp,suggested_level,\
         detections,verdicts,reasons,error,modified,owner,text_chars,doc_id,excepted"
    );
    let rows = csv_table(&out.path().join("findings.csv"));
    let records = jsonl(out.path());
    for (row, record) in rows.iter().zip(&records) {
        assert_eq!(row["doc_id"], record["id"].as_str().unwrap());
        assert_eq!(row["text_chars"], record["text_chars"].to_string());
        assert_eq!(row["modified"], record["modified"].as_str().unwrap_or(""));
        assert!(!row["owner"].is_empty(), "{row:?}");
    }
    let row = rows
        .iter()
        .find(|r| r["path"] == "examples/hr/onboarding-checklist.docx")
        .unwrap();
    let file = std::fs::metadata(repo().join("examples/hr/onboarding-checklist.docx")).unwrap();
    let secs = file
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let want = chrono::DateTime::from_timestamp(secs, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    assert_eq!(row["modified"], want);
}

#[test]
fn releases_name_their_agreement_as_fields() {
    let (out, _) = scan(&["examples"], &[&APEX[..], &["--quiet"]].concat());
    let records = jsonl(out.path());
    let checks: Vec<&serde_json::Value> = records
        .iter()
        .flat_map(|r| r["release_checks"].as_array().unwrap())
        .collect();
    let statuses: BTreeSet<&str> = checks
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        BTreeSet::from(["covered", "exceeds", "expired", "unknown_partner"])
    );
    for c in &checks {
        match c["status"].as_str().unwrap() {
            "unknown_partner" => assert!(c["partner"].is_null() && c["agreement"].is_null()),
            _ => {
                assert!(c["partner"].is_string(), "{c}");
                assert!(c["max_level"].is_string(), "{c}");
            }
        }
    }
    let covered = checks.iter().find(|c| c["status"] == "covered").unwrap();
    assert!(covered["agreement"].is_string(), "{covered}");
    let in_location = records
        .iter()
        .find(|r| r["path"].as_str().unwrap().contains("exchange/precision/"))
        .unwrap();
    assert_eq!(
        in_location["exchange_location"]["partner"],
        "Precision Systems"
    );
}

/// A one-page PDF that draws no text (a scanned image, as far as text goes).
fn image_only_pdf() -> Vec<u8> {
    pdf(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>".to_vec(),
        b"<< /Length 24 >>\nstream\nq 612 0 0 792 0 0 cm Q\nendstream".to_vec(),
    ])
}

#[test]
fn a_document_without_text_gets_no_suggested_level() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("scan.pdf"), image_only_pdf()).unwrap();
    std::fs::write(dir.path().join("memo.txt"), "An ordinary memo.\n").unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = run(bin()
        .arg("scan")
        .arg(dir.path())
        .args(["--quiet", "--out"])
        .arg(out.path()));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = csv_table(&out.path().join("findings.csv"));
    let pdf = rows
        .iter()
        .find(|r| r["path"].ends_with("scan.pdf"))
        .unwrap();
    assert_eq!(pdf["error"], "", "{pdf:?}");
    assert_eq!(pdf["text_chars"], "0");
    assert_eq!(pdf["suggested_level"], "", "never a silent PUBLIC");
    assert!(pdf["reasons"].contains("no text could be read"), "{pdf:?}");
    let memo = rows
        .iter()
        .find(|r| r["path"].ends_with("memo.txt"))
        .unwrap();
    assert_eq!(memo["suggested_level"], "PUBLIC");
    assert_eq!(memo["text_chars"], "18");
    let s = summary(out.path());
    assert_eq!(s["documents_without_text"], 1);
    assert_eq!(s["suggested_levels"]["unknown"], 1);
}
