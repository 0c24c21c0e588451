//! Labelled and marked files open in a maintained office suite: Debian's
//! LibreOffice (headless) converts documents that `labelscan apply --mark
//! --release-to` wrote (from `examples/` and a sample of the real-world
//! corpus, every OOXML format) to PDF; every conversion must succeed, and
//! a scan of the PDFs must read the dual marking off the rendered pages,
//! which shows that the headers, footers and slide-master text boxes are
//! where a reader sees them.
//!
//! Without `soffice` the test fails under CI (`CI` set) and skips loudly
//! elsewhere; `.ci/run` installs Debian's `libreoffice-*-nogui`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{bin, repo, run, stderr};

const AS_OF: &str = "2026-11-23";
const SOFFICE: &str = "soffice";
/// Real-world documents per format, besides examples/.
const SAMPLE_PER_FORMAT: usize = 4;

fn soffice_present() -> bool {
    let found = Command::new(SOFFICE)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{SOFFICE} is missing: .ci/run installs Debian's libreoffice-*-nogui");
    }
    eprintln!();
    eprintln!(
        "!!!!!!!! office_reader: SKIPPED: {SOFFICE} is missing (apt-get install libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui) !!!!!!!!"
    );
    eprintln!();
    false
}

fn policy() -> PathBuf {
    repo().join("policies/examples/apex-purview.toml")
}

fn scan(dir: &Path, what: &str, out: &str) -> BTreeMap<String, serde_json::Value> {
    let o = run(bin()
        .current_dir(dir)
        .args(["scan", what, "--out", out, "--no-state", "--quiet"])
        .args(["--exclude", "apply*.csv", "--as-of", AS_OF, "--policy"])
        .arg(policy()));
    assert!(o.status.code().unwrap() <= 1, "{}", stderr(&o));
    std::fs::read_to_string(dir.join(out).join("findings.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["path"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

/// `examples/` and the first few real-world documents of each OOXML format.
fn make_store(dir: &Path) {
    let examples = repo().join("examples");
    for entry in walkdir::WalkDir::new(&examples) {
        let entry = entry.unwrap();
        let target = dir
            .join("src/ex")
            .join(entry.path().strip_prefix(&examples).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else if entry.file_type().is_file() {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
    let corpus = repo().join("../shared/corpus/realworld");
    assert!(
        corpus.is_dir(),
        "the real-world corpus is missing; this test never skips"
    );
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(&corpus)
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    std::fs::create_dir_all(dir.join("src/rw")).unwrap();
    for ext in ["docx", "xlsx", "pptx"] {
        let chosen = files
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case(ext)))
            .filter(|p| std::fs::metadata(p).unwrap().len() < 2 << 20);
        for (i, path) in chosen.take(SAMPLE_PER_FORMAT * 3).enumerate() {
            std::fs::copy(path, dir.join(format!("src/rw/{ext}-{i}.{ext}"))).unwrap();
        }
    }
}

/// Converts every file to PDF in `out` with one LibreOffice process (its
/// own profile, so that it runs beside any other).
fn convert_to_pdf(dir: &Path, files: &[PathBuf], out: &Path) {
    let profile = dir.join("lo-profile");
    // Bounded: a hung office suite fails this test rather than stalling
    // CI until its own limit (coreutils' timeout, exit 124).
    let o = Command::new("timeout")
        .args(["--kill-after=10", "600", SOFFICE])
        .arg(format!(
            "-env:UserInstallation=file://{}",
            profile.display()
        ))
        .args([
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
        ])
        .arg(out)
        .args(files)
        .env("HOME", dir)
        .output()
        .expect("soffice runs");
    assert!(
        o.status.success(),
        "soffice failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
}

#[test]
fn marked_files_open_in_libreoffice_and_show_the_dual_marking() {
    if !soffice_present() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    make_store(dir);
    scan(dir, "src", "run");
    let o = run(bin().current_dir(dir).args([
        "apply",
        "run",
        "--to",
        "dest",
        "--mark",
        "--release-to",
        "Precision Systems",
    ]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(dir.join("dest/apply.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (status, dest, level) = (column("status"), column("dest"), column("level_written"));
    let mut applied: BTreeMap<String, String> = BTreeMap::new();
    for record in reader.records() {
        let record = record.unwrap();
        if &record[status] == "applied" {
            applied.insert(record[dest].to_string(), record[level].to_string());
        }
    }
    for ext in ["docx", "xlsx", "pptx"] {
        let n = applied.keys().filter(|d| d.ends_with(ext)).count();
        assert!(n >= 3, "only {n} {ext} files applied: {applied:?}");
    }
    let files: Vec<PathBuf> = applied.keys().map(|d| dir.join(d)).collect();
    let started = std::time::Instant::now();
    convert_to_pdf(dir, &files, &dir.join("pdf"));
    eprintln!(
        "office_reader: LibreOffice converted {} files in {:.1} s",
        files.len(),
        started.elapsed().as_secs_f64()
    );
    let pdfs = scan(dir, "pdf", "run-pdf");
    for (dest, level) in &applied {
        let stem = Path::new(dest).file_stem().unwrap().to_string_lossy();
        let pdf = format!("pdf/{stem}.pdf");
        let record = pdfs
            .get(&pdf)
            .unwrap_or_else(|| panic!("LibreOffice wrote no PDF for {dest}"));
        assert!(
            record["text_chars"].as_u64().unwrap() > 0,
            "{dest}: empty PDF"
        );
        let marked = record["label_sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["kind"] == "marking" && s["level"] == level.as_str());
        assert!(
            marked,
            "{dest}: no {level} marking on the rendered pages: {record}"
        );
        assert_eq!(
            record["released_to"][0], "Precision Systems",
            "{dest}: {record}"
        );
    }
}
