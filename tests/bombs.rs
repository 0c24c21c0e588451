//! Archives built to cost memory, time or rows (issue 16): each is
//! generated here, scanned by the real binary, and must end with exit 0 or
//! 1, between 1 and 20,000 rows, under 2 s of CPU (the child's own rusage,
//! so other tests running beside it do not count) and under 100 MB of
//! peak RSS beyond a scan of one small file (`summary.json`'s
//! `peak_rss_kb`: `ru_maxrss` would count this test process's memory,
//! which the child inherits until it `exec`s).

mod common;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use common::bin;

/// Most rows one top-level file may yield (`pipeline::MAX_ROWS_PER_FILE`).
const MAX_ROWS: usize = 20_000;
const RSS_ALLOWANCE_KB: i64 = 100 * 1024;
const CPU_ALLOWANCE: Duration = Duration::from_secs(2);

/// A zip written byte by byte, so that a test controls what the central
/// directory says: several entries may point at one local header.
#[derive(Default)]
struct RawZip {
    bytes: Vec<u8>,
    central: Vec<u8>,
    entries: u16,
}

/// A member's data, compressed once and reusable at many offsets.
#[derive(Clone)]
struct Data {
    method: u16,
    crc: u32,
    compressed: Vec<u8>,
    size: u32,
}

impl Data {
    fn deflated(plain: &[u8]) -> Data {
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(plain).unwrap();
        Data {
            method: 8,
            crc: crc32(plain),
            compressed: enc.finish().unwrap(),
            size: plain.len() as u32,
        }
    }
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    crc.sum()
}

impl RawZip {
    /// Writes a local header and its data; returns the header's offset.
    fn local(&mut self, name: &str, data: &Data) -> u32 {
        let at = self.bytes.len() as u32;
        let b = &mut self.bytes;
        b.extend_from_slice(b"PK\x03\x04");
        b.extend_from_slice(&20u16.to_le_bytes()); // version needed
        b.extend_from_slice(&0u16.to_le_bytes()); // flags
        b.extend_from_slice(&data.method.to_le_bytes());
        b.extend_from_slice(&[0; 4]); // time, date
        b.extend_from_slice(&data.crc.to_le_bytes());
        b.extend_from_slice(&(data.compressed.len() as u32).to_le_bytes());
        b.extend_from_slice(&data.size.to_le_bytes());
        b.extend_from_slice(&(name.len() as u16).to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes()); // extra length
        b.extend_from_slice(name.as_bytes());
        b.extend_from_slice(&data.compressed);
        at
    }

    /// Lists `name` in the central directory, its data at `offset`.
    fn central(&mut self, name: &str, data: &Data, offset: u32) {
        let c = &mut self.central;
        c.extend_from_slice(b"PK\x01\x02");
        c.extend_from_slice(&20u16.to_le_bytes()); // made by
        c.extend_from_slice(&20u16.to_le_bytes()); // needed
        c.extend_from_slice(&0u16.to_le_bytes());
        c.extend_from_slice(&data.method.to_le_bytes());
        c.extend_from_slice(&[0; 4]);
        c.extend_from_slice(&data.crc.to_le_bytes());
        c.extend_from_slice(&(data.compressed.len() as u32).to_le_bytes());
        c.extend_from_slice(&data.size.to_le_bytes());
        c.extend_from_slice(&(name.len() as u16).to_le_bytes());
        c.extend_from_slice(&[0; 4]); // extra, comment lengths
        c.extend_from_slice(&[0; 4]); // disk, internal attributes
        c.extend_from_slice(&[0; 4]); // external attributes
        c.extend_from_slice(&offset.to_le_bytes());
        c.extend_from_slice(name.as_bytes());
        self.entries += 1;
    }

    fn member(&mut self, name: &str, data: &Data) {
        let at = self.local(name, data);
        self.central(name, data, at);
    }

    fn finish(mut self) -> Vec<u8> {
        let cd_at = self.bytes.len() as u32;
        self.bytes.extend_from_slice(&self.central);
        let b = &mut self.bytes;
        b.extend_from_slice(b"PK\x05\x06");
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&self.entries.to_le_bytes());
        b.extend_from_slice(&self.entries.to_le_bytes());
        b.extend_from_slice(&(self.central.len() as u32).to_le_bytes());
        b.extend_from_slice(&cd_at.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        self.bytes
    }
}

/// A zip whose central directory lists `entries` names, all pointing at
/// the one local entry holding `plain`.
fn overlapping(plain: &[u8], entries: usize) -> Vec<u8> {
    let data = Data::deflated(plain);
    let mut zip = RawZip::default();
    let at = zip.local("m0.txt", &data);
    for i in 0..entries {
        zip.central(&format!("m{i}.txt"), &data, at);
    }
    zip.finish()
}

/// What one scan cost and gave.
struct Scanned {
    code: i32,
    header: csv::StringRecord,
    rows: Vec<csv::StringRecord>,
    stderr: String,
    peak_rss_kb: i64,
    cpu: Duration,
}

/// Scans `tree` into a fresh folder beside it, measuring the child alone.
fn scan(tree: &Path) -> Scanned {
    let out = tree.with_extension("out");
    let child = bin()
        .arg("scan")
        .arg(tree)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("labelscan starts");
    let (code, usage, stderr) = wait_measured(child);
    let mut reader = csv::Reader::from_path(out.join("findings.csv")).expect("findings.csv");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let peak_rss_kb = summary["peak_rss_kb"].as_i64().expect("peak_rss_kb");
    assert!(peak_rss_kb > 0, "the peak RSS is measured");
    let header = reader.headers().expect("a header row").clone();
    let rows = reader.records().map(|r| r.unwrap()).collect();
    Scanned {
        code,
        header,
        rows,
        stderr,
        peak_rss_kb,
        cpu: cpu_time(&usage),
    }
}

/// Waits for `child` with wait4, which returns the rusage of that child only.
fn wait_measured(mut child: std::process::Child) -> (i32, libc::rusage, String) {
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        std::io::Read::read_to_string(&mut e, &mut stderr).unwrap();
    }
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills in; the pid is our own
    // child, not yet waited for.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t, "wait4 failed");
    assert!(
        libc::WIFEXITED(status),
        "labelscan did not exit normally: {stderr}"
    );
    (libc::WEXITSTATUS(status), usage, stderr)
}

fn cpu_time(u: &libc::rusage) -> Duration {
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// The peak RSS of scanning one small text file: the scanner's baseline.
fn baseline_kb(dir: &Path) -> i64 {
    let tree = dir.join("baseline");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("a.txt"), "INTERNAL\nhello\n").unwrap();
    scan(&tree).peak_rss_kb
}

/// Scans a tree holding `bytes` as `name` and checks the bounds every
/// hostile file must keep; returns the scan for the case's own checks.
fn bounded(name: &str, bytes: &[u8]) -> Scanned {
    let dir = tempfile::tempdir().unwrap();
    let baseline = baseline_kb(dir.path());
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join(name), bytes).unwrap();
    let s = scan(&tree);
    eprintln!(
        "{name}: {} bytes, {} rows, peak RSS {} KB (baseline {baseline} KB), CPU {:?}",
        bytes.len(),
        s.rows.len(),
        s.peak_rss_kb,
        s.cpu
    );
    assert!(
        s.code == 0 || s.code == 1,
        "{name}: exit {}: {}",
        s.code,
        s.stderr
    );
    assert!(!s.stderr.contains("panicked"), "{name}: {}", s.stderr);
    assert!(
        (1..=MAX_ROWS).contains(&s.rows.len()),
        "{name}: {} rows",
        s.rows.len()
    );
    assert!(
        s.peak_rss_kb - baseline < RSS_ALLOWANCE_KB,
        "{name}: peak RSS {} KB against a baseline of {baseline} KB",
        s.peak_rss_kb
    );
    assert!(s.cpu < CPU_ALLOWANCE, "{name}: {:?} of CPU", s.cpu);
    s
}

impl Scanned {
    /// Rows whose `column` contains `needle`.
    fn count(&self, column: &str, needle: &str) -> usize {
        self.rows
            .iter()
            .filter(|r| self.cell(r, column).contains(needle))
            .count()
    }

    fn cell<'a>(&self, row: &'a csv::StringRecord, column: &str) -> &'a str {
        let at = self
            .header
            .iter()
            .position(|c| c.trim_start_matches('\u{feff}') == column);
        &row[at.unwrap_or_else(|| panic!("no column {column}"))]
    }
}

#[test]
fn entries_sharing_one_member_are_read_once() {
    // 1,000 names for one 1 MiB member: once 1 GB of inflated text.
    let plain = "quarterly figures 4111 1111 1111 1111\n".repeat(28_000);
    let zip = overlapping(plain.as_bytes(), 1_000);
    assert!(zip.len() < 100 * 1024);
    let s = bounded("shared.zip", &zip);
    assert_eq!(s.rows.len(), 1_000);
    assert_eq!(
        s.count("reasons", "overlaps"),
        999,
        "all but the first entry are refused"
    );
}

#[test]
fn a_row_bomb_ends_at_the_row_limit() {
    // 100 inner zips, each listing 20,000 names for one tiny member:
    // 2 million rows before the limit.
    let inner = overlapping(b"x", 20_000);
    let inner = Data::deflated(&inner);
    let mut outer = RawZip::default();
    for i in 0..100 {
        outer.member(&format!("inner{i}.zip"), &inner);
    }
    let outer = outer.finish();
    assert!(outer.len() < 8 * 1024 * 1024, "{} bytes", outer.len());
    let s = bounded("bomb.zip", &outer);
    assert_eq!(s.rows.len(), MAX_ROWS);
    let last = s.rows.last().unwrap();
    assert!(s.cell(last, "path").ends_with("bomb.zip"), "{last:?}");
    assert_eq!(s.cell(last, "error"), "limit_exceeded", "{last:?}");
}

#[test]
fn many_large_members_are_read_one_at_a_time() {
    // 1,100 members of 1 MiB: more than the file's inflated total, which
    // once was 1 GiB read and held at once.
    let plain = vec![b'a'; 1024 * 1024];
    let data = Data::deflated(&plain);
    let mut zip = RawZip::default();
    for i in 0..1_100 {
        zip.member(&format!("m{i}.txt"), &data);
    }
    let s = bounded("many.zip", &zip.finish());
    assert_eq!(s.rows.len(), 1_100);
    assert!(
        s.count("error", "limit_exceeded") > 0,
        "the inflated total must run out"
    );
}

// ---- documents built to cost time or memory ----

/// A zip holding the given members, each deflated.
fn package(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = RawZip::default();
    for (name, plain) in members {
        zip.member(name, &Data::deflated(plain));
    }
    zip.finish()
}

const CONTENT_TYPES: &[u8] = br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#;

/// A docx whose body holds `n` paragraph properties never closed, each
/// under a prefix of its own: no later start tag of the same name stops
/// a search for its end tag.
fn unclosed_properties_docx(n: usize) -> Vec<u8> {
    let mut body = String::from(
        r#"<w:document xmlns:w="w"><w:body><w:p><w:r><w:t>INTERNAL</w:t></w:r></w:p>"#,
    );
    for i in 0..n {
        body.push_str(&format!("<p{i}:pPr><w:r><w:t>x</w:t></w:r>"));
    }
    body.push_str("</w:body></w:document>");
    package(&[
        ("[Content_Types].xml", CONTENT_TYPES),
        ("word/document.xml", body.as_bytes()),
    ])
}

#[test]
fn unclosed_properties_under_many_prefixes_take_linear_time() {
    // Once 56 s of CPU: each skip searched to the end of the part for its
    // end tag.
    let s = bounded("unclosed.docx", &unclosed_properties_docx(200_000));
    assert_eq!(s.rows.len(), 1);
    assert_eq!(s.cell(&s.rows[0], "error"), "", "{:?}", s.rows[0]);
    assert_eq!(s.cell(&s.rows[0], "level"), "INTERNAL", "{:?}", s.rows[0]);
}
