//! Mutation tests: documents of the real-world corpus
//! (`../shared/corpus/realworld`) are damaged in deterministic pseudo-random
//! ways and every mutant goes through the public `labelscan::extract::extract`
//! inside `catch_unwind`. No mutant may panic: neither out of `extract` nor
//! inside it (the PDF extractor contains panics and reports the file
//! `corrupt`; a panic hook sees those too, and only those raised inside
//! lopdf, whose panics the extractor contains on purpose, are allowed).
//!
//! Each family (legacy Office, OOXML, ODF, PDF, RTF) has a bounded test that
//! runs by default and a long one that is `#[ignore]`d:
//!
//! ```sh
//! cargo test --release --test mutation -- --ignored --nocapture
//! ```
//!
//! Mutants are made three ways: bytes of the whole file are overwritten,
//! set to boundary values, inserted, deleted, duplicated, or the file is cut;
//! for containers the same is done to one stream (OLE) or member (zip) and
//! the container rebuilt, so that the damage reaches the format's own
//! parser; for PDFs one stream of the decompressed document is damaged and
//! the file written anew by lopdf. A mutant that panics is written to
//! `$CARGO_TARGET_TMPDIR/mutants/` for reproduction.

use std::cell::{Cell, RefCell};
use std::io::{Cursor, Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

use labelscan::budget::{Budget, Limits};
use labelscan::extract::{extract, Outcome};

// ---------------------------------------------------------------- corpus

fn corpus() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/realworld");
    assert!(
        dir.is_dir(),
        "the real-world corpus is missing: expected the folder {} \
         (../shared/corpus/realworld beside the repository); the mutation tests need its files as seeds",
        dir.display()
    );
    dir
}

/// Files of the corpus with one of `exts` (lower-case), sorted by path.
fn seeds_with(exts: &[&str]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(corpus())
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.expect("corpus walk"))
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| exts.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no {exts:?} files in the corpus");
    out
}

// ---------------------------------------------------------------- randomness

/// xorshift64*: small, deterministic, good enough to pick bytes.
struct Rng(u64);

impl Rng {
    fn for_seed(family: &str, name: &str) -> Rng {
        // FNV-1a of the family and file name: a seed's mutants do not change
        // when other files come or go.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in family.bytes().chain([0]).chain(name.bytes()) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        Rng(h | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn chance(&mut self, one_in: u64) -> bool {
        self.next().is_multiple_of(one_in)
    }
}

/// Tokens that mean something to one of the parsers: XML, RTF and PDF syntax,
/// escapes, and length-like numbers.
const TOKENS: &[&[u8]] = &[
    b"<",
    b">",
    b"</",
    b"/>",
    b"&",
    b"&#0;",
    b"&#xFFFFFFFF;",
    b"&amp",
    b"\"",
    b"'",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"<?xml",
    b"<w:t>",
    b"<w:p>",
    b"<a:t>",
    b"<c r=\"XFD1048577\" t=\"s\"><v>999999999</v></c>",
    b"<text:p>",
    b"{",
    b"}",
    b"\\",
    b"\\u-32768?",
    b"\\'ff",
    b"\\bin999999999 ",
    b"\\uc99 ",
    b"{\\*\\",
    b"(",
    b")",
    b"[",
    b"]",
    b"<<",
    b">>",
    b"/",
    b"BT ",
    b" ET",
    b" Tj",
    b" TJ",
    b" Tf",
    b" Do",
    b" cm",
    b" q",
    b" Q",
    b"beginbfrange",
    b"endbfrange",
    b"beginbfchar",
    b"<FFFF>",
    b"<0000>",
    b" R",
    b" obj",
    b"endobj",
    b"stream\r\n",
    b"endstream",
    b"/Length 999999999",
    b"-2147483648",
    b"4294967295",
    b"99999999999999999999",
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\xc3",
    b"\xf0\x9f",
];

/// Boundary values for binary length and offset fields.
const WORDS: &[&[u8]] = &[
    &[0x00],
    &[0xff],
    &[0x7f],
    &[0x80],
    &[0xff, 0xff],
    &[0x00, 0x80],
    &[0xff, 0x7f],
    &[0xff, 0xff, 0xff, 0xff],
    &[0xff, 0xff, 0xff, 0x7f],
    &[0x00, 0x00, 0x00, 0x80],
    &[0xfe, 0xff, 0xff, 0xff],
    &[0x00, 0x00, 0x00, 0x00],
    &[0x01, 0x00, 0x00, 0x00],
];

/// One to three stacked damages to `data`; says which, for the report.
fn mutate(data: &mut Vec<u8>, rng: &mut Rng) -> String {
    let mut what = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let len = data.len();
        match rng.below(8) {
            0 if len > 0 => {
                let n = 1 + rng.below(16);
                for _ in 0..n {
                    let at = rng.below(len);
                    data[at] = rng.next() as u8;
                }
                what.push(format!("overwrite {n} bytes"));
            }
            1 if len > 0 => {
                let at = rng.below(len);
                let bit = rng.below(8);
                data[at] ^= 1 << bit;
                what.push(format!("flip bit {bit} at {at}"));
            }
            2 if len > 0 => {
                let w = WORDS[rng.below(WORDS.len())];
                // Aligned more often than not: fields sit on even offsets.
                let mut at = rng.below(len);
                if !rng.chance(4) {
                    at &= !1;
                }
                for (i, b) in w.iter().enumerate() {
                    if at + i < len {
                        data[at + i] = *b;
                    }
                }
                what.push(format!("boundary value {w:02x?} at {at}"));
            }
            3 if len > 0 => {
                let at = rng.below(len);
                data.truncate(at);
                what.push(format!("cut at {at}"));
            }
            4 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                let at = rng.below(len + 1);
                data.splice(at..at, t.iter().copied());
                what.push(format!("insert {:?} at {at}", String::from_utf8_lossy(t)));
            }
            5 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(256));
                data.drain(at..at + n);
                what.push(format!("delete {n} at {at}"));
            }
            6 if len > 0 => {
                let from = rng.below(len);
                let n = 1 + rng.below((len - from).min(512));
                let chunk: Vec<u8> = data[from..from + n].to_vec();
                let at = rng.below(len + 1);
                data.splice(at..at, chunk);
                what.push(format!("copy {n} from {from} to {at}"));
            }
            _ => {
                let n = 1 + rng.below(32);
                let at = rng.below(len + 1);
                let junk: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                data.splice(at..at, junk);
                what.push(format!("insert {n} random bytes at {at}"));
            }
        }
    }
    what.join(", ")
}

// ---------------------------------------------------------------- seeds

/// A seed file and what its structure offers to aim damage at.
struct Seed {
    name: String,
    bytes: Vec<u8>,
    inner: Inner,
}

enum Inner {
    /// Damage the file's bytes only.
    Raw,
    /// An OLE compound file's streams, rebuilt with `cfb` after damage.
    Ole(Vec<(String, Vec<u8>)>),
    /// A zip package's members, rebuilt (stored) after damage.
    Zip(Vec<(String, Vec<u8>)>),
    /// A PDF with every stream decompressed: damage one stream's content
    /// (or the written file), lopdf writes the file anew.
    Pdf(Box<lopdf::Document>, Vec<u8>),
}

fn ole_streams(bytes: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let mut ole = cfb::CompoundFile::open(Cursor::new(bytes)).ok()?;
    let paths: Vec<String> = ole
        .walk()
        .filter(|e| e.is_stream() && e.len() < 8 * 1024 * 1024)
        .map(|e| e.path().to_string_lossy().into_owned())
        .collect();
    let mut streams = Vec::new();
    for p in paths {
        let mut d = Vec::new();
        if ole
            .open_stream(&p)
            .and_then(|mut s| s.read_to_end(&mut d))
            .is_ok()
        {
            streams.push((p, d));
        }
    }
    (!streams.is_empty()).then_some(streams)
}

fn ole_build(streams: &[(String, Vec<u8>)]) -> Option<Vec<u8>> {
    let mut ole = cfb::CompoundFile::create(Cursor::new(Vec::new())).ok()?;
    for (path, data) in streams {
        if let Some((dir, _)) = path.rsplit_once('/') {
            if !dir.is_empty() {
                ole.create_storage_all(dir).ok()?;
            }
        }
        ole.create_stream(path).ok()?.write_all(data).ok()?;
    }
    ole.flush().ok()?;
    Some(ole.into_inner().into_inner())
}

fn zip_members(bytes: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let mut z = zip::ZipArchive::new(Cursor::new(bytes)).ok()?;
    let mut members = Vec::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).ok()?;
        if f.is_dir() || f.size() > 32 * 1024 * 1024 {
            continue;
        }
        let name = f.name().ok()?.into_owned();
        let mut d = Vec::new();
        f.read_to_end(&mut d).ok()?;
        members.push((name, d));
    }
    (!members.is_empty()).then_some(members)
}

fn zip_build(members: &[(String, Vec<u8>)]) -> Option<Vec<u8>> {
    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(false);
    for (name, data) in members {
        z.start_file(name.as_str(), opts).ok()?;
        z.write_all(data).ok()?;
    }
    Some(z.finish().ok()?.into_inner())
}

fn pdf_decompressed(bytes: &[u8]) -> Option<(Box<lopdf::Document>, Vec<u8>)> {
    let mut doc = lopdf::Document::load_mem(bytes).ok()?;
    if doc.is_encrypted() {
        return None;
    }
    doc.decompress();
    let mut out = Vec::new();
    doc.save_to(&mut out).ok()?;
    Some((Box::new(doc), out))
}

/// Reads a seed and what its container holds. The libraries that take it
/// apart here may panic on the corpus's broken files: such a seed is damaged
/// as raw bytes only.
fn load_seed(path: &Path, kind: Kind) -> Seed {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let inner = catch_quietly(|| match kind {
        Kind::Ole => ole_streams(&bytes).map(Inner::Ole),
        Kind::Zip => zip_members(&bytes).map(Inner::Zip),
        Kind::Pdf => pdf_decompressed(&bytes).map(|(d, b)| Inner::Pdf(d, b)),
        Kind::Raw => None,
    })
    .flatten()
    .unwrap_or(Inner::Raw);
    Seed { name, bytes, inner }
}

#[derive(Clone, Copy)]
enum Kind {
    Raw,
    Ole,
    Zip,
    Pdf,
}

/// The `i`th mutant of a seed: the bytes and how they were made.
fn mutant(seed: &Seed, rng: &mut Rng) -> (Vec<u8>, String) {
    let raw = |rng: &mut Rng| {
        let mut data = seed.bytes.clone();
        let what = mutate(&mut data, rng);
        (data, format!("file: {what}"))
    };
    match &seed.inner {
        Inner::Raw => raw(rng),
        Inner::Ole(streams) | Inner::Zip(streams) if !rng.chance(4) => {
            let mut parts = streams.clone();
            let i = pick_part(&parts, rng);
            let what = mutate(&mut parts[i].1, rng);
            let built = catch_quietly(|| match &seed.inner {
                Inner::Ole(_) => ole_build(&parts),
                _ => zip_build(&parts),
            })
            .flatten();
            match built {
                Some(b) => (b, format!("{}: {what}", parts[i].0)),
                None => raw(rng),
            }
        }
        Inner::Pdf(doc, plain) if !rng.chance(3) => {
            if rng.chance(2) {
                let mut data = plain.clone();
                let what = mutate(&mut data, rng);
                return (data, format!("decompressed file: {what}"));
            }
            let ids: Vec<lopdf::ObjectId> = doc
                .objects
                .iter()
                .filter(|(_, o)| matches!(o, lopdf::Object::Stream(_)))
                .map(|(id, _)| *id)
                .collect();
            if ids.is_empty() {
                return raw(rng);
            }
            let id = ids[rng.below(ids.len())];
            let mut doc = (**doc).clone();
            let what = match doc.objects.get_mut(&id) {
                Some(lopdf::Object::Stream(s)) => {
                    let mut content = std::mem::take(&mut s.content);
                    let what = mutate(&mut content, rng);
                    s.set_content(content);
                    what
                }
                _ => unreachable!(),
            };
            let mut out = Vec::new();
            match catch_quietly(|| doc.save_to(&mut out)) {
                Some(Ok(())) => (out, format!("stream {} {}: {what}", id.0, id.1)),
                _ => raw(rng),
            }
        }
        _ => raw(rng),
    }
}

/// A stream or member to damage: text-bearing ones (XML, Word/Excel/
/// PowerPoint streams, property sets) twice as often as the rest.
fn pick_part(parts: &[(String, Vec<u8>)], rng: &mut Rng) -> usize {
    for _ in 0..2 {
        let i = rng.below(parts.len());
        let n = parts[i].0.to_ascii_lowercase();
        if n.ends_with(".xml")
            || n.ends_with(".rels")
            || n.contains("worddocument")
            || n.contains("table")
            || n.contains("workbook")
            || n.contains("book")
            || n.contains("powerpoint")
            || n.contains("summaryinformation")
        {
            return i;
        }
    }
    rng.below(parts.len())
}

// ---------------------------------------------------------------- panics

thread_local! {
    /// Set while a mutant is extracted on this thread.
    static ARMED: Cell<bool> = const { Cell::new(false) };
    /// Panics raised on this thread while armed: (location, message).
    static PANICS: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
}

/// A panic hook that records panics raised while armed (caught or not) and
/// leaves every other panic, such as a failing assertion, to the default hook.
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if ARMED.with(|a| a.get()) {
                let location = info
                    .location()
                    .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                    .unwrap_or_default();
                let payload = info.payload();
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                PANICS.with(|p| p.borrow_mut().push((location, message)));
            } else {
                default(info);
            }
        }));
    });
}

/// Runs `f` with panics recorded instead of printed; `None` if it panicked.
fn catch_quietly<T>(f: impl FnOnce() -> T) -> Option<T> {
    install_hook();
    ARMED.with(|a| a.set(true));
    let r = catch_unwind(AssertUnwindSafe(f)).ok();
    ARMED.with(|a| a.set(false));
    PANICS.with(|p| p.borrow_mut().clear());
    r
}

/// lopdf's panics are contained by the PDF extractor on purpose (it reports
/// the file `corrupt`); a panic anywhere else is a bug.
fn contained_on_purpose(location: &str) -> bool {
    location.contains("/lopdf-")
}

// ---------------------------------------------------------------- the run

struct Report {
    mutants: usize,
    failures: Vec<String>,
    contained: usize,
    errors: std::collections::BTreeMap<String, usize>,
    slowest: (Duration, String),
    elapsed: Duration,
}

/// Runs `per_seed` mutants of every seed through `extract`.
fn run(family: &str, seeds: &[PathBuf], kind: Kind, per_seed: usize) -> Report {
    install_hook();
    let started = Instant::now();
    let limits = Limits {
        file_timeout: Duration::from_secs(20),
        ..Limits::default()
    };
    let mut report = Report {
        mutants: 0,
        failures: Vec::new(),
        contained: 0,
        errors: Default::default(),
        slowest: (Duration::ZERO, String::new()),
        elapsed: Duration::ZERO,
    };
    for path in seeds {
        let seed = load_seed(path, kind);
        let mut rng = Rng::for_seed(family, &seed.name);
        for i in 0..per_seed {
            let (bytes, what) = mutant(&seed, &mut rng);
            let label = format!("{} #{i} ({what})", seed.name);
            let budget = Budget::new(limits.clone());
            PANICS.with(|p| p.borrow_mut().clear());
            ARMED.with(|a| a.set(true));
            let t = Instant::now();
            let result = catch_unwind(AssertUnwindSafe(|| extract(&bytes, &seed.name, &budget)));
            let took = t.elapsed();
            ARMED.with(|a| a.set(false));
            let panics = PANICS.with(|p| std::mem::take(&mut *p.borrow_mut()));
            report.mutants += 1;
            if took > report.slowest.0 {
                report.slowest = (took, label.clone());
            }
            let mut bad: Vec<String> = Vec::new();
            for (location, message) in &panics {
                if result.is_ok() && contained_on_purpose(location) {
                    report.contained += 1;
                } else {
                    bad.push(format!("panicked at {location}: {message}"));
                }
            }
            match &result {
                Err(_) if bad.is_empty() => bad.push("panicked (no hook record)".into()),
                Ok(outcome) => {
                    for e in errors_of(outcome) {
                        *report.errors.entry(e).or_default() += 1;
                    }
                }
                Err(_) => {}
            }
            if !bad.is_empty() {
                let saved = save_mutant(family, &seed.name, i, &bytes);
                report
                    .failures
                    .push(format!("{label}: {} [saved as {saved}]", bad.join("; ")));
            }
        }
    }
    report.elapsed = started.elapsed();
    report
}

fn errors_of(outcome: &Outcome) -> Vec<String> {
    match outcome {
        Outcome::Document(_, x) => vec![x
            .error
            .as_ref()
            .map_or("none", |e| e.kind.as_str())
            .to_string()],
        Outcome::Archive(members) => members
            .iter()
            .map(|m| {
                m.extracted
                    .error
                    .as_ref()
                    .map_or("none", |e| e.kind.as_str())
                    .to_string()
            })
            .collect(),
        Outcome::Unsupported(_) => vec!["unsupported".to_string()],
    }
}

fn save_mutant(family: &str, name: &str, i: usize, bytes: &[u8]) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("mutants")
        .join(family);
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{i}-{name}"));
    let _ = std::fs::write(&path, bytes);
    path.display().to_string()
}

/// Runs a family and fails on any panic; prints what was run.
/// `min_seeds` guards against a corpus that lost most of its files.
fn check(family: &str, exts: &[&str], kind: Kind, per_seed: usize, min_seeds: usize) {
    let seeds = seeds_with(exts);
    assert!(
        seeds.len() >= min_seeds,
        "{family}: only {} seeds in the corpus, {min_seeds} expected",
        seeds.len()
    );
    let r = run(family, &seeds, kind, per_seed);
    eprintln!(
        "{family}: {} seeds, {} mutants in {:.1} s, outcomes {:?}, {} lopdf panics contained, slowest {:.0} ms ({})",
        seeds.len(),
        r.mutants,
        r.elapsed.as_secs_f64(),
        r.errors,
        r.contained,
        r.slowest.0.as_secs_f64() * 1000.0,
        r.slowest.1
    );
    assert_eq!(r.mutants, seeds.len() * per_seed);
    assert!(
        r.failures.is_empty(),
        "{family}: {} of {} mutants panicked:\n{}",
        r.failures.len(),
        r.mutants,
        r.failures.join("\n")
    );
}

const LEGACY: &[&str] = &["doc", "xls", "ppt", "dot", "xlt", "pot", "pps"];
const OOXML: &[&str] = &[
    "docx", "docm", "dotx", "dotm", "xlsx", "xlsm", "xltx", "xltm", "pptx", "pptm", "potx", "ppsx",
];
const ODF: &[&str] = &["odt", "ods", "odp", "ott", "ots", "otp"];
const PDF: &[&str] = &["pdf"];
const RTF: &[&str] = &["rtf"];

// Bounded runs (by default). Mutants per seed are chosen for a few thousand
// mutants per family and a few seconds each in release.

/// Word, Excel and PowerPoint 97-2003 files: streams damaged inside their
/// OLE container, and whole files damaged.
#[test]
fn legacy_mutants_never_panic() {
    check("legacy", LEGACY, Kind::Ole, 24, 130);
}

#[test]
fn ooxml_mutants_never_panic() {
    check("ooxml", OOXML, Kind::Zip, 24, 130);
}

#[test]
fn odf_mutants_never_panic() {
    check("odf", ODF, Kind::Zip, 200, 5);
}

#[test]
fn pdf_mutants_never_panic() {
    check("pdf", PDF, Kind::Pdf, 12, 170);
}

#[test]
fn rtf_mutants_never_panic() {
    check("rtf", RTF, Kind::Raw, 250, 8);
}

// Long runs: `cargo test --release --test mutation -- --ignored --nocapture`
// (about 5 minutes on two cores; 420,000 mutants). `MUTANTS_PER_SEED=N`
// sets the mutants per seed of these runs (for a debug build, whose overflow
// checks find what release wraps silently, or a longer hunt).

/// Mutants per seed of a long run: `MUTANTS_PER_SEED` or `default`.
fn long_per_seed(default: usize) -> usize {
    match std::env::var("MUTANTS_PER_SEED") {
        Ok(n) => n.parse().expect("MUTANTS_PER_SEED is a number"),
        Err(_) => default,
    }
}

/// The long legacy run (was `legacy_mutation_never_panics` in
/// `src/extract/legacy/tests.rs`):
/// `cargo test --release --test mutation legacy_mutants_long -- --ignored --nocapture`
#[test]
#[ignore]
fn legacy_mutants_long() {
    let n = long_per_seed(1_000);
    check("legacy-long", LEGACY, Kind::Ole, n, 130);
}

/// `cargo test --release --test mutation ooxml_mutants_long -- --ignored --nocapture`
#[test]
#[ignore]
fn ooxml_mutants_long() {
    let n = long_per_seed(1_000);
    check("ooxml-long", OOXML, Kind::Zip, n, 130);
}

/// `cargo test --release --test mutation odf_mutants_long -- --ignored --nocapture`
#[test]
#[ignore]
fn odf_mutants_long() {
    let n = long_per_seed(10_000);
    check("odf-long", ODF, Kind::Zip, n, 5);
}

/// `cargo test --release --test mutation pdf_mutants_long -- --ignored --nocapture`
#[test]
#[ignore]
fn pdf_mutants_long() {
    let n = long_per_seed(500);
    check("pdf-long", PDF, Kind::Pdf, n, 170);
}

/// `cargo test --release --test mutation rtf_mutants_long -- --ignored --nocapture`
#[test]
#[ignore]
fn rtf_mutants_long() {
    let n = long_per_seed(10_000);
    check("rtf-long", RTF, Kind::Raw, n, 8);
}

#[test]
fn mutants_are_deterministic() {
    let seed = Seed {
        name: "x.rtf".into(),
        bytes: b"{\\rtf1 hello}".to_vec(),
        inner: Inner::Raw,
    };
    let draw = || {
        let mut rng = Rng::for_seed("t", &seed.name);
        (0..20)
            .map(|_| mutant(&seed, &mut rng).0)
            .collect::<Vec<_>>()
    };
    assert_eq!(draw(), draw());
}

/// The hook records a panic that a callee catches itself (as the PDF
/// extractor does), and `contained_on_purpose` accepts only lopdf's.
#[test]
fn contained_panics_are_seen() {
    install_hook();
    PANICS.with(|p| p.borrow_mut().clear());
    ARMED.with(|a| a.set(true));
    let inner = catch_unwind(|| panic!("inside"));
    ARMED.with(|a| a.set(false));
    assert!(inner.is_err());
    let seen = PANICS.with(|p| std::mem::take(&mut *p.borrow_mut()));
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].0.contains("mutation.rs"), "{seen:?}");
    assert_eq!(seen[0].1, "inside");
    assert!(!contained_on_purpose(&seen[0].0));
    assert!(contained_on_purpose(
        "/root/.cargo/registry/src/index.crates.io-x/lopdf-0.47.0/src/reader.rs:1:1"
    ));
}
