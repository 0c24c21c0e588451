//! Runs the legacy OLE extractor over every .doc/.xls/.ppt under the given
//! directories (default: the shared real-world corpus) and reports OK /
//! errors by kind / panics / time, plus word recall against catdoc,
//! xls2csv and catppt when they are installed.
//!
//!   cargo run --release --example legacy_bench [DIR...]
//!   cargo run --example legacy_bench -- strip-thumbnail IN OUT
//!
//! `strip-thumbnail` rewrites an OLE file without the thumbnail (PID 17) of
//! its SummaryInformation; the fixture generator uses it to keep the .ppt small.

use std::collections::{BTreeMap, HashSet};
use std::io::{Cursor, Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use labelscan::budget::{Budget, Limits};
use labelscan::extract::{legacy, sniff};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("strip-thumbnail") && args.len() == 3 {
        strip_thumbnail(Path::new(&args[1]), Path::new(&args[2]));
        return;
    }
    let dirs: Vec<PathBuf> = if args.is_empty() {
        vec![PathBuf::from("/work/shared/corpus/realworld")]
    } else {
        args.iter().map(PathBuf::from).collect()
    };
    let mut files = Vec::new();
    for d in &dirs {
        collect(d, &mut files);
    }
    files.sort();
    let verbose = std::env::var_os("VERBOSE").is_some();
    let mut stats: BTreeMap<String, (usize, BTreeMap<String, usize>, usize, Duration)> =
        BTreeMap::new();
    let mut recall: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    for f in &files {
        let ext = f
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let Ok(bytes) = std::fs::read(f) else {
            continue;
        };
        let name = f.to_string_lossy();
        let format = sniff(&bytes, &name);
        let entry = stats.entry(ext.clone()).or_default();
        let start = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| {
            let budget = Budget::new(Limits::default());
            legacy::extract(format, &bytes, &budget)
        }));
        entry.3 += start.elapsed();
        if verbose && start.elapsed() > Duration::from_millis(200) {
            println!("SLOW {} {:?}", f.display(), start.elapsed());
        }
        let x = match result {
            Ok(x) => x,
            Err(_) => {
                entry.2 += 1;
                println!("PANIC {}", f.display());
                continue;
            }
        };
        match &x.error {
            None => entry.0 += 1,
            Some(e) => {
                *entry.1.entry(e.kind.as_str().to_string()).or_default() += 1;
                if verbose {
                    println!("ERR {} {} ({:?})", f.display(), e, format);
                }
            }
        }
        if x.error.is_none() {
            if let Some(theirs) = reference_text(&ext, f) {
                let ours: String = x
                    .parts
                    .iter()
                    .map(|p| p.text.as_str())
                    .collect::<Vec<_>>()
                    .join("\n");
                let ours = words(&ours);
                let theirs = words(&theirs);
                let hit = theirs.iter().filter(|w| ours.contains(*w)).count();
                let r = recall.entry(ext.clone()).or_default();
                r.0 += hit;
                r.1 += theirs.len();
                if !theirs.is_empty() && (hit * 100) / theirs.len() < 80 {
                    r.2 += 1;
                    if verbose {
                        println!("LOW {} {}/{}", f.display(), hit, theirs.len());
                    }
                }
            }
        }
    }
    println!("ext   files    ok  panics  time_ms  errors");
    for (ext, (ok, errs, panics, time)) in &stats {
        let total = ok + errs.values().sum::<usize>() + panics;
        println!(
            "{ext:5} {total:5} {ok:5} {panics:7} {:8.1}  {errs:?}",
            time.as_secs_f64() * 1000.0
        );
    }
    for (ext, (hit, total, low)) in &recall {
        println!(
            "{ext}: word recall vs reference tool {:.3} ({hit}/{total} unique words per file summed), files under 80%: {low}",
            *hit as f64 / (*total).max(1) as f64
        );
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if let Some(ext) = p.extension() {
            let ext = ext.to_string_lossy().to_ascii_lowercase();
            if matches!(ext.as_str(), "doc" | "xls" | "ppt") {
                out.push(p);
            }
        }
    }
}

fn reference_text(ext: &str, f: &Path) -> Option<String> {
    let tool = match ext {
        "doc" => "catdoc",
        "xls" => "xls2csv",
        "ppt" => "catppt",
        _ => return None,
    };
    let out = Command::new("timeout")
        .args(["10", tool, "-d", "utf-8"])
        .arg(f)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn words(s: &str) -> HashSet<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3 && w.chars().any(|c| c.is_alphabetic()))
        .map(|w| w.to_lowercase())
        .collect()
}

fn strip_thumbnail(src: &Path, dst: &Path) {
    let data = std::fs::read(src).expect("read input");
    let mut input = cfb::CompoundFile::open(Cursor::new(data)).expect("OLE input");
    let entries: Vec<(PathBuf, bool)> = input
        .walk()
        .filter(|e| !e.is_root())
        .map(|e| (e.path().to_path_buf(), e.is_stream()))
        .collect();
    let mut output = cfb::CompoundFile::create(Cursor::new(Vec::new())).expect("OLE output");
    for (path, is_stream) in entries {
        if !is_stream {
            output.create_storage_all(&path).expect("storage");
            continue;
        }
        let mut buf = Vec::new();
        input
            .open_stream(&path)
            .unwrap()
            .read_to_end(&mut buf)
            .unwrap();
        if path == Path::new("/\u{5}SummaryInformation") {
            buf = drop_property(&buf, 17);
        }
        let mut s = output.create_stream(&path).expect("stream");
        s.write_all(&buf).unwrap();
    }
    output.flush().unwrap();
    std::fs::write(dst, output.into_inner().into_inner()).expect("write output");
}

/// Removes property `pid` from the first section of a property set stream,
/// rebuilding the section with the remaining values.
fn drop_property(s: &[u8], pid: u32) -> Vec<u8> {
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    let off = u32_at(s, 44) as usize;
    let sec = &s[off..off + u32_at(s, off) as usize];
    let n = u32_at(sec, 4) as usize;
    let mut props: Vec<(u32, usize)> = (0..n)
        .map(|i| (u32_at(sec, 8 + i * 8), u32_at(sec, 12 + i * 8) as usize))
        .collect();
    let mut ends: Vec<usize> = props.iter().map(|p| p.1).collect();
    ends.push(sec.len());
    ends.sort();
    let end_of = |o: usize| *ends.iter().find(|&&e| e > o).unwrap();
    props.retain(|p| p.0 != pid);
    let header = 8 + props.len() * 8;
    let mut table = Vec::new();
    let mut body = Vec::new();
    for (id, o) in &props {
        table.extend_from_slice(&id.to_le_bytes());
        table.extend_from_slice(&((header + body.len()) as u32).to_le_bytes());
        body.extend_from_slice(&sec[*o..end_of(*o)]);
    }
    let mut new_sec = ((header + body.len()) as u32).to_le_bytes().to_vec();
    new_sec.extend_from_slice(&(props.len() as u32).to_le_bytes());
    new_sec.extend(table);
    new_sec.extend(body);
    let mut out = s[..off].to_vec();
    out.extend(new_sec);
    out
}
