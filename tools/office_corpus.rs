//! Runs the OOXML/ODF/zip extractors over a folder and reports outcomes and
//! timings. `cargo run --release --example office_corpus -- DIR [--inflate-only]`
//!
//! With `--inflate-only` it only inflates every zip member (the baseline).

use std::collections::BTreeMap;
use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use labelscan::budget::{Budget, Limits};
use labelscan::extract::{self, Format, Outcome};

const EXTS: &[&str] = &[
    "docx", "docm", "dotx", "xlsx", "xlsm", "pptx", "pptm", "odt", "ods", "odp", "zip",
];

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if let Some(ext) = p.extension().and_then(|e| e.to_str()) {
            if EXTS.contains(&ext.to_ascii_lowercase().as_str()) {
                out.push(p);
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(
        args.get(1)
            .expect("usage: office_corpus DIR [--inflate-only] [-v]"),
    );
    let scan_only = args.iter().any(|a| a == "--scan-only");
    let inflate_only = scan_only || args.iter().any(|a| a == "--inflate-only");
    let verbose = args.iter().any(|a| a == "-v");
    if args.iter().any(|a| a == "--dump") {
        let bytes = std::fs::read(&dir).expect("read");
        let budget = Budget::new(Limits::default());
        match extract::extract(&bytes, &dir.to_string_lossy(), &budget) {
            Outcome::Document(f, x) => {
                println!("format {} error {:?}", f.as_str(), x.error);
                for p in &x.parts {
                    let t: String = p.text.chars().take(300).collect();
                    println!("--- {} [{}]\n{t}", p.kind.as_str(), p.location);
                }
                for p in &x.properties {
                    println!("prop {} = {} ({})", p.name, p.value, p.location);
                }
                println!("parts_read {:?}", x.parts_read);
            }
            Outcome::Archive(m) => {
                for m in m {
                    println!(
                        "{} {} {} {:?}",
                        m.path,
                        m.format.as_str(),
                        m.size,
                        m.extracted.error
                    );
                }
            }
            Outcome::Unsupported(w) => println!("unsupported {w}"),
        }
        return;
    }
    let mut files = Vec::new();
    walk(&dir, &mut files);
    files.sort();
    // Read everything first so that timings are extraction only.
    let data: Vec<(PathBuf, Vec<u8>)> = files
        .into_iter()
        .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
        .collect();
    let bytes: usize = data.iter().map(|d| d.1.len()).sum();
    let start = Instant::now();
    let mut ok = 0usize;
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    let mut panics = 0usize;
    let mut inflated = 0u64;
    let mut chars = 0usize;
    let mut slowest: Vec<(Duration, String)> = Vec::new();
    for (path, bytes) in &data {
        let name = path.to_string_lossy().to_string();
        let t = Instant::now();
        if inflate_only {
            let Ok(mut z) = zip::ZipArchive::new(std::io::Cursor::new(bytes.as_slice())) else {
                *errors.entry("zip".into()).or_default() += 1;
                continue;
            };
            let mut buf = Vec::new();
            for i in 0..z.len() {
                if let Ok(mut f) = z.by_index(i) {
                    buf.clear();
                    let _ = f.read_to_end(&mut buf);
                    inflated += buf.len() as u64;
                    if scan_only && f.name().is_ok_and(|n| n.ends_with(".xml")) {
                        // Baseline: a bare tokenizer loop over the part.
                        if let Ok(text) = std::str::from_utf8(&buf) {
                            let mut tokens = labelscan::extract::xml::Tokens::new(text);
                            let mut count = 0u64;
                            while let Ok(Some(_)) = tokens.next_token() {
                                count += 1;
                            }
                            chars += count as usize;
                        }
                    }
                }
            }
            ok += 1;
            continue;
        }
        let budget = Budget::new(Limits::default());
        let r = catch_unwind(AssertUnwindSafe(|| extract::extract(bytes, &name, &budget)));
        slowest.push((t.elapsed(), name.clone()));
        match r {
            Err(_) => {
                panics += 1;
                println!("PANIC {name}");
            }
            Ok(Outcome::Document(format, x)) => {
                chars += x.text_len();
                match &x.error {
                    None => ok += 1,
                    Some(e) => {
                        *errors
                            .entry(format!("{}/{}", format.as_str(), e.kind.as_str()))
                            .or_default() += 1;
                        if verbose {
                            println!("ERR {name}: {e}");
                        }
                    }
                }
                if verbose
                    || name.contains("docSecurity")
                    || name.contains("bug66675")
                    || name.contains("60810.pptx")
                {
                    println!(
                        "{name}: {} parts, {} props, {} labelinfo",
                        x.parts.len(),
                        x.properties.len(),
                        x.label_info.len()
                    );
                    if !verbose {
                        for p in &x.properties {
                            println!("   prop {} = {} ({})", p.name, p.value, p.location);
                        }
                        for l in &x.label_info {
                            println!("   label {:?}", l);
                        }
                    }
                }
                let _ = format == Format::Zip;
            }
            Ok(Outcome::Archive(m)) => {
                ok += 1;
                println!("archive {name}: {} members", m.len());
            }
            Ok(Outcome::Unsupported(why)) => {
                *errors.entry(format!("unsupported {why}")).or_default() += 1;
            }
        }
    }
    let el = start.elapsed();
    println!(
        "files {} ({:.1} MB): ok {ok}, panics {panics}, errors {:?}",
        data.len(),
        bytes as f64 / 1e6,
        errors
    );
    if inflate_only {
        println!(
            "{}: {:.3} s, {:.1} MB inflated",
            if scan_only {
                "inflate + bare XML scan"
            } else {
                "inflate only"
            },
            el.as_secs_f64(),
            inflated as f64 / 1e6
        );
    } else {
        println!(
            "extract: {:.3} s, {:.1} M chars of text",
            el.as_secs_f64(),
            chars as f64 / 1e6
        );
        slowest.sort();
        for (d, n) in slowest.iter().rev().take(3) {
            println!("  slow: {:.1} ms {n}", d.as_secs_f64() * 1e3);
        }
    }
}
