//! Measures the PDF (or RTF) extractor against a reference tool on a corpus.
//!
//!     cargo run --release --example pdf_bench -- [pdf|rtf] [DIR]
//!
//! PDF reference: `pdftotext -enc UTF-8 FILE -` (poppler-utils); RTF:
//! `unrtf --text` with its banner lines removed. Reference outputs are cached
//! under /tmp/pdf_bench_cache. Single-threaded. Prints files the reference
//! reads, how many of those we read without error, word recall (multiset
//! overlap of lower-cased alphanumeric words), panics, timeouts and timings.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Panics raised inside the extractor (it catches them itself and reports `corrupt`).
static PANICS: AtomicUsize = AtomicUsize::new(0);

use labelscan::budget::{Budget, Limits};
use labelscan::extract::{pdf, rtf, ErrorKind, Extracted};

fn walk(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in rd.flatten() {
        let p = entry.path();
        if p.is_dir() {
            walk(&p, ext, out);
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case(ext))
        {
            out.push(p);
        }
    }
}

fn words(text: &str) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for w in text.split(|c: char| !c.is_alphanumeric()) {
        if !w.is_empty() {
            *m.entry(w.to_lowercase()).or_insert(0) += 1;
        }
    }
    m
}

fn reference(mode: &str, path: &Path) -> (bool, String) {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    path.hash(&mut h);
    let cache = PathBuf::from("/tmp/pdf_bench_cache").join(format!("{mode}-{:016x}", h.finish()));
    if let Ok(s) = std::fs::read_to_string(&cache) {
        if let Some(rest) = s.strip_prefix("ok\n") {
            return (true, rest.to_string());
        }
        if let Some(rest) = s.strip_prefix("err\n") {
            return (false, rest.to_string());
        }
    }
    let output = if mode == "rtf" {
        Command::new("timeout")
            .args(["30", "unrtf", "--text"])
            .arg(path)
            .output()
    } else {
        Command::new("timeout")
            .args(["30", "pdftotext", "-q", "-enc", "UTF-8"])
            .arg(path)
            .arg("-")
            .output()
    };
    let (ok, text) = match output {
        Ok(o) => {
            let mut text = String::from_utf8_lossy(&o.stdout).into_owned();
            if mode == "rtf" {
                text = text
                    .lines()
                    .filter(|l| !l.starts_with("###") && !l.starts_with("-----------------"))
                    .collect::<Vec<_>>()
                    .join("\n");
            }
            (o.status.success(), text)
        }
        Err(_) => (false, String::new()),
    };
    let _ = std::fs::create_dir_all("/tmp/pdf_bench_cache");
    let _ = std::fs::write(&cache, format!("{}\n{text}", if ok { "ok" } else { "err" }));
    (ok, text)
}

fn lopdf_text(bytes: &[u8]) -> Extracted {
    let mut out = Extracted::default();
    match lopdf::Document::load_mem(bytes) {
        Ok(doc) => {
            let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
            match doc.extract_text(&pages) {
                Ok(t) => out.push_part(labelscan::extract::PartKind::Page, "all", t),
                Err(_) => out.error = Some(labelscan::extract::ExtractError::corrupt("lopdf text")),
            }
        }
        Err(_) => out.error = Some(labelscan::extract::ExtractError::corrupt("lopdf load")),
    }
    out
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "pdf".to_string());
    let dir = args
        .next()
        .unwrap_or_else(|| "/work/shared/corpus/realworld".to_string());
    let verbose = std::env::var("BENCH_VERBOSE").is_ok();
    if mode == "dump" {
        // Prints what we extract from one file.
        let bytes = std::fs::read(&dir).expect("read file");
        let budget = Budget::new(Limits::default());
        let out = if dir.to_ascii_lowercase().ends_with(".rtf") {
            rtf::extract(&bytes, &budget)
        } else {
            pdf::extract(&bytes, &budget)
        };
        for p in &out.properties {
            println!("[{}] {} = {}", p.location, p.name, p.value);
        }
        for p in &out.parts {
            println!("--- {:?} {}\n{}", p.kind, p.location, p.text);
        }
        println!("error: {:?}; parts_read: {:?}", out.error, out.parts_read);
        return;
    }
    std::panic::set_hook(Box::new(|_| {
        PANICS.fetch_add(1, Ordering::SeqCst);
    }));
    let mut panics_caught = 0usize;
    // `lopdf` mode: lopdf's own extract_text, for comparison.
    let lopdf_mode = mode == "lopdf";
    let mode = if lopdf_mode { "pdf".to_string() } else { mode };
    let mut files = Vec::new();
    walk(Path::new(&dir), &mode, &mut files);
    files.sort();

    let mut ref_readable = 0usize;
    let mut ours_ok_of_readable = 0usize;
    let mut ours_ok = 0usize;
    let mut errors: HashMap<&'static str, usize> = HashMap::new();
    let mut panics = 0usize;
    let mut timeouts = 0usize;
    let mut times: Vec<Duration> = Vec::new();
    let (mut shared_total, mut ref_total) = (0usize, 0usize);
    let mut recall_files = 0usize;
    let mut low = Vec::new();
    for path in &files {
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        let (ref_ok, ref_text) = reference(&mode, path);
        let readable = ref_ok || !ref_text.trim().is_empty();
        if readable {
            ref_readable += 1;
        }
        let limits = Limits {
            file_timeout: Duration::from_secs(30),
            ..Limits::default()
        };
        let budget = Budget::new(limits);
        let start = Instant::now();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if lopdf_mode {
                lopdf_text(&bytes)
            } else if mode == "rtf" {
                rtf::extract(&bytes, &budget)
            } else {
                pdf::extract(&bytes, &budget)
            }
        }));
        let caught = PANICS.swap(0, Ordering::SeqCst);
        if caught > 0 {
            panics_caught += 1;
            eprintln!("CAUGHT PANIC {}", path.display());
        }
        let elapsed = start.elapsed();
        times.push(elapsed);
        let out: Extracted = match result {
            Ok(o) => o,
            Err(_) => {
                panics += 1;
                eprintln!("PANIC {}", path.display());
                continue;
            }
        };
        match &out.error {
            None => {
                ours_ok += 1;
                if readable {
                    ours_ok_of_readable += 1;
                }
            }
            Some(e) => {
                if e.kind == ErrorKind::Timeout {
                    timeouts += 1;
                }
                *errors.entry(e.kind.as_str()).or_insert(0) += 1;
                if readable {
                    eprintln!(
                        "ERR {} {} (ref chars {})",
                        e,
                        path.display(),
                        ref_text.trim().len()
                    );
                }
            }
        }
        // Parts, plus property values for RTF (unrtf prints \info fields).
        let ours: String = out
            .parts
            .iter()
            .map(|p| p.text.as_str())
            .chain(
                out.properties
                    .iter()
                    .filter(|_| mode == "rtf")
                    .map(|p| p.value.as_str()),
            )
            .collect::<Vec<_>>()
            .join("\n");
        if ref_text.trim().chars().count() >= 50 {
            let r = words(&ref_text);
            let o = words(&ours);
            let total: usize = r.values().sum();
            let shared: usize = r
                .iter()
                .map(|(w, n)| (*n).min(o.get(w).copied().unwrap_or(0)))
                .sum();
            shared_total += shared;
            ref_total += total;
            recall_files += 1;
            let recall = shared as f64 / total.max(1) as f64;
            if recall < 0.5 {
                low.push((recall, path.clone()));
            }
            if verbose {
                println!(
                    "{recall:.3} {:>8.1}ms {}",
                    elapsed.as_secs_f64() * 1e3,
                    path.display()
                );
            }
        }
    }
    let mut sorted = times.clone();
    sorted.sort();
    let pct = |p: f64| {
        sorted
            .get(((sorted.len() as f64 - 1.0) * p).round() as usize)
            .map(|d| d.as_secs_f64() * 1e3)
            .unwrap_or(0.0)
    };
    let total: f64 = times.iter().map(|d| d.as_secs_f64()).sum();
    println!("mode {mode}, files {}", files.len());
    println!(
        "reference reads {ref_readable}; we read {ours_ok_of_readable} of those without error ({:.1}%)",
        100.0 * ours_ok_of_readable as f64 / ref_readable.max(1) as f64
    );
    println!(
        "we read {ours_ok} of all {} files without error; errors {errors:?}",
        files.len()
    );
    println!("panics escaping {panics}, panics caught inside (reported corrupt) {panics_caught}, timeouts {timeouts}");
    println!(
        "word recall vs reference over {recall_files} files with >= 50 chars: {:.3} (words {shared_total}/{ref_total}); files below 0.5: {}",
        shared_total as f64 / ref_total.max(1) as f64,
        low.len()
    );
    low.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (r, p) in &low {
        println!("  low {r:.3} {}", p.display());
    }
    println!(
        "time total {:.2}s, p50 {:.1}ms, p95 {:.1}ms, max {:.1}ms",
        total,
        pct(0.5),
        pct(0.95),
        pct(1.0)
    );
}
