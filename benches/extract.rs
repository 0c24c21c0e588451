//! Per-format extraction micro-benchmarks (criterion).
//!
//! At start this generates a small synthetic corpus with
//! `../shared/bench/make_corpus.py` into a temporary folder and takes, for
//! each of docx, xlsx, pptx, odt, pdf and txt, the file of median size. If
//! the generator cannot run, it falls back to `../shared/corpus/realworld`
//! (the first file of each extension that sniffs as that format).
//! `LABELSCAN_BENCH_SAMPLES=DIR` picks samples from DIR instead.
//!
//! Benchmarks: `extract/<fmt>` = `labelscan::extract::extract(bytes, name,
//! &budget)`; `pipeline/inspect_bytes/docx` = the whole per-file pipeline
//! (sniff, hash, extract, labels, detectors, verdict) with the default policy.
//!
//! usage: cargo bench --bench extract [-- FILTER]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use labelscan::budget::{Budget, Limits};
use labelscan::detect::DetectorSet;
use labelscan::extract::{self, Outcome};
use labelscan::model::FileJob;
use labelscan::pipeline::{self, Context, FileOutcome};
use labelscan::policy::Policy;

const FORMATS: [&str; 6] = ["docx", "xlsx", "pptx", "odt", "pdf", "txt"];
/// Files generated for picking samples: enough for a few odt (5%) files.
const SAMPLE_CORPUS_FILES: &str = "240";

struct Sample {
    ext: &'static str,
    name: String,
    bytes: Vec<u8>,
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// All files under `dir`, with their extension (lower case).
fn files_by_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(walkdir::DirEntry::into_path)
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case(ext))
        })
        .collect();
    v.sort();
    v
}

/// The file of median size among `paths`.
fn median_sized(paths: &[PathBuf]) -> Option<PathBuf> {
    let mut sized: Vec<(u64, &PathBuf)> = paths
        .iter()
        .filter_map(|p| Some((std::fs::metadata(p).ok()?.len(), p)))
        .collect();
    sized.sort();
    sized.get(sized.len() / 2).map(|(_, p)| (*p).clone())
}

fn generate(dir: &Path) -> bool {
    let script = repo_root().join("../shared/bench/make_corpus.py");
    if !script.is_file() {
        return false;
    }
    Command::new("python3")
        .arg(&script)
        .arg(dir)
        .args(["--files", SAMPLE_CORPUS_FILES, "--seed", "1"])
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn load_samples() -> (Vec<Sample>, Option<tempfile::TempDir>) {
    let (dir, tmp, median) = if let Some(d) = std::env::var_os("LABELSCAN_BENCH_SAMPLES") {
        (PathBuf::from(d), None, true)
    } else {
        let tmp = tempfile::tempdir().expect("a temporary folder for the sample corpus");
        if generate(tmp.path()) {
            (tmp.path().to_path_buf(), Some(tmp), true)
        } else {
            eprintln!("extract bench: make_corpus.py failed; using ../shared/corpus/realworld");
            (repo_root().join("../shared/corpus/realworld"), None, false)
        }
    };
    let mut samples = Vec::new();
    for ext in FORMATS {
        let candidates = files_by_ext(&dir, ext);
        let chosen = if median {
            median_sized(&candidates)
        } else {
            // Real-world files are often broken: take the first that sniffs right.
            candidates.into_iter().find(|p| {
                std::fs::read(p).is_ok_and(|b| {
                    let f = extract::sniff(&b, &p.to_string_lossy());
                    format!("{f:?}").eq_ignore_ascii_case(ext)
                        || (ext == "txt" && format!("{f:?}") == "Text")
                })
            })
        };
        match chosen.and_then(|p| Some((std::fs::read(&p).ok()?, p))) {
            Some((bytes, path)) => {
                eprintln!(
                    "extract bench: {ext} sample {} ({} bytes)",
                    path.display(),
                    bytes.len()
                );
                samples.push(Sample {
                    ext,
                    name: path.to_string_lossy().into_owned(),
                    bytes,
                });
            }
            None => eprintln!("extract bench: no {ext} sample found in {}", dir.display()),
        }
    }
    (samples, tmp)
}

/// Text characters extracted, to keep the work observable (and print it once).
fn text_chars(outcome: &Outcome) -> usize {
    match outcome {
        Outcome::Document(_, e) => e.text_len(),
        Outcome::Archive(members) => members.iter().map(|m| m.extracted.text_len()).sum(),
        Outcome::Unsupported(_) => 0,
    }
}

fn bench_extract(c: &mut Criterion) {
    let (samples, _tmp) = load_samples();

    let mut group = c.benchmark_group("extract");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_secs(1));
    for s in &samples {
        let budget = Budget::new(Limits::default());
        let first = extract::extract(&s.bytes, &s.name, &budget);
        let err = match &first {
            Outcome::Document(_, e) => e.error.as_ref().map(|e| e.to_string()),
            _ => None,
        };
        eprintln!(
            "extract bench: {} -> {} text chars{}",
            s.ext,
            text_chars(&first),
            err.map(|e| format!(" (error: {e})")).unwrap_or_default()
        );
        group.throughput(Throughput::Bytes(s.bytes.len() as u64));
        group.bench_function(s.ext, |b| {
            b.iter(|| {
                // A fresh budget per file, as the pipeline does.
                let budget = Budget::new(Limits::default());
                black_box(extract::extract(black_box(&s.bytes), &s.name, &budget))
            })
        });
    }
    group.finish();

    let Some(docx) = samples.iter().find(|s| s.ext == "docx") else {
        return;
    };
    let policy = Policy::default_policy();
    let detectors = DetectorSet::compile(&policy).expect("the default policy's detectors compile");
    let as_of = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("a valid date");
    let ctx = Context::new(policy, detectors, as_of, false, Limits::default());
    let job = FileJob {
        display_path: docx.name.clone(),
        location_path: "/sample.docx".into(),
        fs_path: PathBuf::from(&docx.name),
        size: docx.bytes.len() as u64,
        origin: Default::default(),
        scope: labelscan::model::Scope {
            root: ".".into(),
            folder: ".".into(),
        },
    };
    if let FileOutcome::Records { records, .. } = pipeline::inspect_bytes(&job, &docx.bytes, &ctx) {
        eprintln!(
            "extract bench: pipeline on docx -> {} record(s)",
            records.len()
        );
    }
    let mut group = c.benchmark_group("pipeline");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Bytes(docx.bytes.len() as u64));
    group.bench_function("inspect_bytes/docx", |b| {
        b.iter(|| black_box(pipeline::inspect_bytes(&job, black_box(&docx.bytes), &ctx)))
    });
    group.finish();
}

criterion_group!(benches, bench_extract);
criterion_main!(benches);
