//! The speed floor for labelscan: walk a tree, read every file, inflate every
//! zip member and every PDF `/FlateDecode` stream, and nothing else (no XML,
//! no text, no detectors, no reports). A whole `labelscan scan` should stay
//! within 3x of this program's wall time on the same tree.
//!
//! usage: cargo run --release --example floor -- PATH [--jobs N] [--libdeflate]
//!
//! Prints one line: files, bytes read, bytes inflated, seconds (and the
//! derived rates). Broken zips and streams are counted, not fatal.
//!
//! By default it inflates the way a scanner built on the standard crates
//! does: the `zip` crate's reader and flate2 (zlib-rs backend). With
//! `--libdeflate` it decodes every stream in one call with libdeflate, as
//! labelscan does where the output size is known or guessed: a stricter
//! floor, reported beside the first so that labelscan's own faster inflater
//! does not flatter its ratio.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use flate2::read::ZlibDecoder;
use memchr::memmem;
use rayon::prelude::*;

/// Same per-part cap as labelscan's default `max_part_bytes`, so a hostile
/// file cannot make the floor itself run away.
const MAX_PART: u64 = 256 * 1024 * 1024;

#[derive(Default)]
struct Totals {
    files: AtomicU64,
    bytes_read: AtomicU64,
    bytes_inflated: AtomicU64,
    zip_members: AtomicU64,
    pdf_streams: AtomicU64,
    errors: AtomicU64,
}

/// Counts for one file, added to the totals once.
#[derive(Default)]
struct FileCounts {
    inflated: u64,
    members: u64,
    streams: u64,
    errors: u64,
}

/// Per-thread reusable buffers and decoder.
struct Buffers {
    file: Vec<u8>,
    out: Vec<u8>,
    /// Set with `--libdeflate`.
    one_shot: Option<libdeflater::Decompressor>,
}

impl Buffers {
    fn new(libdeflate: bool) -> Buffers {
        Buffers {
            file: Vec::new(),
            out: Vec::new(),
            one_shot: libdeflate.then(libdeflater::Decompressor::new),
        }
    }
}

fn main() {
    let (root, jobs, libdeflate) = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("floor: {msg}");
            eprintln!("usage: floor PATH [--jobs N] [--libdeflate]");
            std::process::exit(2);
        }
    };
    if !root.exists() {
        eprintln!("floor: {} does not exist", root.display());
        std::process::exit(3);
    }
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(jobs).build() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("floor: cannot start {jobs} threads: {e}");
            std::process::exit(2);
        }
    };

    let started = Instant::now();
    let totals = Totals::default();
    pool.install(|| {
        walkdir::WalkDir::new(&root)
            .follow_links(false)
            .into_iter()
            .filter_map(|e| match e {
                Ok(e) if e.file_type().is_file() => Some(e.into_path()),
                Ok(_) => None,
                Err(_) => {
                    totals.errors.fetch_add(1, Ordering::Relaxed);
                    None
                }
            })
            .par_bridge()
            .for_each_init(
                || Buffers::new(libdeflate),
                |bufs, path| process(&path, bufs, &totals),
            );
    });
    let secs = started.elapsed().as_secs_f64();

    let files = totals.files.load(Ordering::Relaxed);
    let read = totals.bytes_read.load(Ordering::Relaxed);
    let inflated = totals.bytes_inflated.load(Ordering::Relaxed);
    println!(
        "floor: files {files} bytes_read {read} bytes_inflated {inflated} seconds {secs:.3} \
         | zip_members {} pdf_streams {} errors {} jobs {jobs} inflater {} \
         | {:.0} files/s {:.1} MB/s read {:.1} MB/s inflated",
        totals.zip_members.load(Ordering::Relaxed),
        totals.pdf_streams.load(Ordering::Relaxed),
        totals.errors.load(Ordering::Relaxed),
        if libdeflate { "libdeflate" } else { "zlib-rs" },
        files as f64 / secs,
        read as f64 / 1e6 / secs,
        inflated as f64 / 1e6 / secs,
    );
}

fn parse_args() -> Result<(PathBuf, usize, bool), String> {
    let mut root = None;
    let mut libdeflate = false;
    let mut jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        let s = arg.to_string_lossy();
        if s == "--jobs" || s == "-j" {
            let v = args.next().ok_or("--jobs needs a number")?;
            jobs = parse_jobs(&v.to_string_lossy())?;
        } else if let Some(v) = s.strip_prefix("--jobs=") {
            jobs = parse_jobs(v)?;
        } else if s == "--libdeflate" {
            libdeflate = true;
        } else if s == "--help" || s == "-h" {
            println!("usage: floor PATH [--jobs N] [--libdeflate]");
            std::process::exit(0);
        } else if s.starts_with('-') {
            return Err(format!("unknown option {s}"));
        } else if root.is_some() {
            return Err("only one PATH is accepted".into());
        } else {
            root = Some(PathBuf::from(arg));
        }
    }
    Ok((root.ok_or("missing PATH")?, jobs, libdeflate))
}

fn parse_jobs(v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("--jobs must be a positive number, not {v:?}")),
    }
}

fn process(path: &Path, bufs: &mut Buffers, totals: &Totals) {
    bufs.file.clear();
    let read = std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut bufs.file));
    if read.is_err() {
        totals.errors.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let data = &bufs.file[..];
    let counts = if data.starts_with(b"PK\x03\x04") {
        match &mut bufs.one_shot {
            Some(dec) => inflate_zip_one_shot(data, dec, &mut bufs.out),
            None => inflate_zip(data, &mut bufs.out),
        }
    } else if data.starts_with(b"%PDF") {
        inflate_pdf(data, &mut bufs.out, bufs.one_shot.as_mut())
    } else {
        FileCounts::default()
    };
    totals.files.fetch_add(1, Ordering::Relaxed);
    totals
        .bytes_read
        .fetch_add(data.len() as u64, Ordering::Relaxed);
    totals
        .bytes_inflated
        .fetch_add(counts.inflated, Ordering::Relaxed);
    totals
        .zip_members
        .fetch_add(counts.members, Ordering::Relaxed);
    totals
        .pdf_streams
        .fetch_add(counts.streams, Ordering::Relaxed);
    totals.errors.fetch_add(counts.errors, Ordering::Relaxed);
}

/// Reads every member of a zip fully into `out` (reused).
fn inflate_zip(data: &[u8], out: &mut Vec<u8>) -> FileCounts {
    let mut c = FileCounts::default();
    let mut archive = match zip::ZipArchive::new(Cursor::new(data)) {
        Ok(a) => a,
        Err(_) => {
            c.errors += 1;
            return c;
        }
    };
    for i in 0..archive.len() {
        let member = match archive.by_index(i) {
            Ok(m) => m,
            Err(_) => {
                c.errors += 1;
                continue;
            }
        };
        if member.is_dir() {
            continue;
        }
        out.clear();
        match member.take(MAX_PART).read_to_end(out) {
            Ok(n) => {
                c.inflated += n as u64;
                c.members += 1;
            }
            Err(_) => c.errors += 1,
        }
    }
    c
}

/// Like [`inflate_zip`], decoding each deflated member in one call into a
/// buffer of its declared size; other members (and any that fail) go
/// through the zip crate's reader.
fn inflate_zip_one_shot(
    data: &[u8],
    dec: &mut libdeflater::Decompressor,
    out: &mut Vec<u8>,
) -> FileCounts {
    let mut c = FileCounts::default();
    let mut archive = match zip::ZipArchive::new(Cursor::new(data)) {
        Ok(a) => a,
        Err(_) => {
            c.errors += 1;
            return c;
        }
    };
    for i in 0..archive.len() {
        let raw = match archive.by_index_raw(i) {
            Ok(m) if m.is_dir() => continue,
            Ok(m)
                if m.compression() == zip::CompressionMethod::Deflated && m.size() <= MAX_PART =>
            {
                let start = m.data_start().unwrap_or(0) as usize;
                let end = start.saturating_add(m.compressed_size() as usize);
                data.get(start..end).map(|raw| (raw, m.size() as usize))
            }
            Ok(_) => None,
            Err(_) => {
                c.errors += 1;
                continue;
            }
        };
        if let Some((raw, size)) = raw {
            out.clear();
            out.resize(size, 0);
            if let Ok(n) = dec.deflate_decompress(raw, out) {
                c.inflated += n as u64;
                c.members += 1;
                continue;
            }
        }
        let Ok(member) = archive.by_index(i) else {
            c.errors += 1;
            continue;
        };
        out.clear();
        match member.take(MAX_PART).read_to_end(out) {
            Ok(n) => {
                c.inflated += n as u64;
                c.members += 1;
            }
            Err(_) => c.errors += 1,
        }
    }
    c
}

/// Finds `stream ... endstream` spans and inflates those whose dictionary
/// (the bytes since the object's `obj` keyword) names `/FlateDecode`.
fn inflate_pdf(
    data: &[u8],
    out: &mut Vec<u8>,
    mut one_shot: Option<&mut libdeflater::Decompressor>,
) -> FileCounts {
    let mut c = FileCounts::default();
    let stream = memmem::Finder::new(b"stream");
    let endstream = memmem::Finder::new(b"endstream");
    let obj = memmem::FinderRev::new(b"obj");
    let flate = memmem::Finder::new(b"/FlateDecode");
    let mut pos = 0;
    // Start of the region where the current object's dictionary can lie.
    let mut region = 0;
    while let Some(rel) = data.get(pos..).and_then(|d| stream.find(d)) {
        let at = pos + rel;
        if at >= 3 && data.get(at - 3..at) == Some(b"end") {
            pos = at + 6;
            continue;
        }
        // Data starts after the EOL following the keyword.
        let mut start = at + 6;
        if data.get(start) == Some(&b'\r') {
            start += 1;
        }
        if data.get(start) == Some(&b'\n') {
            start += 1;
        }
        let Some(end_rel) = data.get(start..).and_then(|d| endstream.find(d)) else {
            c.errors += 1;
            break;
        };
        let end = start + end_rel;
        let dict_from = data
            .get(region..at)
            .and_then(|d| obj.rfind(d))
            .map_or(region, |r| region + r);
        let dict = data.get(dict_from..at).unwrap_or_default();
        if flate.find(dict).is_some() {
            let body = data.get(start..end).unwrap_or_default();
            c.streams += 1;
            if let Some(n) = one_shot
                .as_deref_mut()
                .and_then(|d| zlib_one_shot(d, body, out))
            {
                c.inflated += n as u64;
                pos = end + 9;
                region = pos;
                continue;
            }
            out.clear();
            let mut dec = ZlibDecoder::new(body).take(MAX_PART);
            match dec.read_to_end(out) {
                Ok(n) => c.inflated += n as u64,
                // Count what came out before the error, as labelscan keeps it too.
                Err(_) => {
                    c.inflated += out.len() as u64;
                    c.errors += 1;
                }
            }
        }
        pos = end + 9;
        region = pos;
    }
    c
}

/// A PDF stream in one call: its size is unknown, so as labelscan does,
/// a guess of four times the input, then eight times that.
fn zlib_one_shot(
    dec: &mut libdeflater::Decompressor,
    body: &[u8],
    out: &mut Vec<u8>,
) -> Option<usize> {
    let first = body.len().saturating_mul(4).max(1024);
    for size in [first, first.saturating_mul(8)] {
        out.clear();
        out.resize(size.min(MAX_PART as usize), 0);
        match dec.zlib_decompress(body, out) {
            Ok(n) => return Some(n),
            Err(libdeflater::DecompressionError::InsufficientSpace) => continue,
            Err(_) => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::ZlibEncoder;
    use std::io::Write;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn pdf_streams_inflated_only_when_flate() {
        let z = zlib(b"BT (hello) Tj ET");
        let mut pdf =
            b"%PDF-1.7\n1 0 obj\n<< /Length 3 >>\nstream\nabc\nendstream\nendobj\n".to_vec();
        pdf.extend_from_slice(b"2 0 obj\n<< /Filter /FlateDecode >>\nstream\n");
        pdf.extend_from_slice(&z);
        pdf.extend_from_slice(b"\nendstream\nendobj\n%%EOF\n");
        let mut out = Vec::new();
        for one_shot in [None, Some(&mut libdeflater::Decompressor::new())] {
            let c = inflate_pdf(&pdf, &mut out, one_shot);
            assert_eq!(c.streams, 1);
            assert_eq!(c.inflated, 16);
            assert_eq!(c.errors, 0);
        }
    }

    #[test]
    fn zip_members_read_fully() {
        let mut buf = Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut buf);
            let o = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            w.start_file("a.xml", o).unwrap();
            w.write_all(&[b'x'; 1000]).unwrap();
            w.start_file("b.xml", o).unwrap();
            w.write_all(b"hello").unwrap();
            w.finish().unwrap();
        }
        let mut out = Vec::new();
        let c = inflate_zip(buf.get_ref(), &mut out);
        assert_eq!(c.members, 2);
        assert_eq!(c.inflated, 1005);
        let mut dec = libdeflater::Decompressor::new();
        let c = inflate_zip_one_shot(buf.get_ref(), &mut dec, &mut out);
        assert_eq!(c.members, 2);
        assert_eq!(c.inflated, 1005);
    }

    #[test]
    fn garbage_is_counted_not_fatal() {
        let mut out = Vec::new();
        assert_eq!(inflate_zip(b"PK\x03\x04garbage", &mut out).errors, 1);
        let c = inflate_pdf(b"%PDF stream\n", &mut out, None);
        assert_eq!(c.errors, 1);
    }
}
