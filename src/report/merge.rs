//! `labelscan merge DIR... --out DIR`: the report sets of the N shards of
//! one `scan --shard I/N` run put back together as the single report set
//! that one host's scan of the same tree writes: rows in walk order (by
//! each shard's `shard-order.csv`), change rows in path order, counts
//! added up. Rows are copied as the shards wrote them, byte for byte.
//!
//! Shards of another run configuration (tool version, detector
//! definitions, policy, as-of date, PATHs, options) are refused, as is a
//! set with a shard missing or twice, or whose files do not match its
//! manifest.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::shard_order::{read_order, OrderEntry};
use super::{
    manifest, Manifest, Summary, CHANGES_CSV_FILE, CHANGES_JSONL_FILE, CSV_FILE, JSONL_FILE,
    SHARD_ORDER_FILE, SKIPPED_FILE, SUMMARY_FILE,
};

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The folders are not the complete shards of one run.
    #[error("{0}")]
    Refused(String),
    /// A shard's files do not match its manifest.
    #[error("{0}")]
    Mismatch(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// One shard's report folder and its summary.
pub struct ShardSet {
    pub dir: PathBuf,
    pub summary: Summary,
}

/// Reads the shards' summaries, checks each folder against its manifest,
/// and checks that together they are every shard of one run; returns
/// them by index.
pub fn read_shards(dirs: &[PathBuf]) -> Result<Vec<ShardSet>, MergeError> {
    let mut shards = dirs
        .iter()
        .map(|dir| read_shard(dir))
        .collect::<Result<Vec<_>, _>>()?;
    shards.sort_by_key(|s| s.summary.shard.map(|s| s.index));
    check_same_run(&shards)?;
    check_complete(&shards)?;
    Ok(shards)
}

fn read_shard(dir: &Path) -> Result<ShardSet, MergeError> {
    let manifest = Manifest::read(dir)
        .map_err(|e| MergeError::Mismatch(format!("{}: {e}", dir.display())))?
        .ok_or_else(|| {
            MergeError::Refused(format!(
                "{}: no manifest.json: not a finished report folder",
                dir.display()
            ))
        })?;
    let bad: Vec<String> = manifest::check(dir, &manifest, &[])
        .into_iter()
        .filter(|c| !c.is_ok())
        .map(|c| c.to_string())
        .collect();
    if !bad.is_empty() {
        return Err(MergeError::Mismatch(format!(
            "{}: its files do not match its manifest.json:\n{}",
            dir.display(),
            bad.join("\n")
        )));
    }
    let text = std::fs::read_to_string(dir.join(SUMMARY_FILE))?;
    let summary: Summary = serde_json::from_str(&text).map_err(|e| {
        MergeError::Refused(format!(
            "{}: an unreadable {SUMMARY_FILE} ({e})",
            dir.display()
        ))
    })?;
    if summary.shard.is_none() || !manifest.files.contains_key(SHARD_ORDER_FILE) {
        return Err(MergeError::Refused(format!(
            "{}: not the reports of a scan --shard I/N",
            dir.display()
        )));
    }
    Ok(ShardSet {
        dir: dir.to_path_buf(),
        summary,
    })
}

/// What must be the same in every shard of one run, by name.
fn run_configuration(s: &Summary) -> Vec<(&'static str, String)> {
    let mut options = s.options.clone();
    // Each host may use its own threads and report folder.
    options.jobs = 0;
    options.out = String::new();
    vec![
        ("tool version", s.version.clone()),
        ("detector definitions", s.detectors_sha256.clone()),
        ("policy", s.policy_sha256.clone()),
        ("as-of date", s.as_of.clone()),
        ("PATHs", json(&s.paths)),
        ("resolved PATHs", json(&s.paths_resolved)),
        ("options", json(&options)),
        (
            "number of shards",
            s.shard.map(|s| s.count).unwrap_or(0).to_string(),
        ),
    ]
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn check_same_run(shards: &[ShardSet]) -> Result<(), MergeError> {
    let Some(first) = shards.first() else {
        return Err(MergeError::Refused("no shards to merge".into()));
    };
    let expected = run_configuration(&first.summary);
    for shard in &shards[1..] {
        let found = run_configuration(&shard.summary);
        for ((what, a), (_, b)) in expected.iter().zip(&found) {
            if a != b {
                return Err(MergeError::Refused(format!(
                    "{} and {} are shards of different runs: their {what} differ ({a} against {b}); merge only the shards of one scan",
                    first.dir.display(),
                    shard.dir.display()
                )));
            }
        }
    }
    Ok(())
}

fn check_complete(shards: &[ShardSet]) -> Result<(), MergeError> {
    let count = shards[0].summary.shard.map(|s| s.count).unwrap_or(0);
    let mut seen = BTreeSet::new();
    for shard in shards {
        let index = shard.summary.shard.map(|s| s.index).unwrap_or(0);
        if !seen.insert(index) {
            return Err(MergeError::Refused(format!(
                "shard {index}/{count} is given twice (the second is {})",
                shard.dir.display()
            )));
        }
    }
    let missing: Vec<String> = (0..count)
        .filter(|i| !seen.contains(i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let (noun, verb) = match missing.len() {
        1 => ("shard", "is"),
        _ => ("shards", "are"),
    };
    Err(MergeError::Refused(format!(
        "{noun} {} {verb} missing: the merged reports would not cover the run's files",
        missing.join(", ")
    )))
}

/// What the merge itself adds to the merged summary.
pub struct MergedRun {
    pub run_id: String,
    /// The report folder, as given.
    pub out: String,
}

/// Writes the merged reports with `target(name)` as each file's path and
/// returns the merged summary (also written). `with_csv`: write
/// `findings.csv`, which every shard must then have.
pub fn merge_into(
    shards: &[ShardSet],
    target: impl Fn(&str) -> PathBuf,
    with_csv: bool,
    run: MergedRun,
) -> Result<Summary, MergeError> {
    let has = |name: &str| shards.iter().filter(|s| s.dir.join(name).exists()).count();
    if with_csv && has(CSV_FILE) < shards.len() {
        return Err(MergeError::Refused(format!(
            "a shard has no {CSV_FILE} (scan the shards with --formats csv,...)"
        )));
    }
    if has(JSONL_FILE) < shards.len() {
        return Err(MergeError::Refused(format!(
            "a shard has no {JSONL_FILE}, which merge needs"
        )));
    }
    merge_rows(shards, &target, with_csv)?;
    match has(CHANGES_JSONL_FILE) {
        0 => {}
        n if n == shards.len() => merge_changes(shards, &target)?,
        _ => {
            return Err(MergeError::Refused(
                "some shards kept a state store and others did not: their change reports cannot be merged".into(),
            ))
        }
    }
    let mut summary = merged_summary(shards);
    summary.run_id = run.run_id;
    summary.options.out = run.out;
    let mut out = BufWriter::new(super::create_report_file(&target(SUMMARY_FILE))?);
    serde_json::to_writer_pretty(&mut out, &summary).map_err(io::Error::from)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(summary)
}

/// A report file read a record at a time, as raw bytes.
struct Rows {
    path: PathBuf,
    reader: BufReader<File>,
    /// CSV: a record may span lines inside quotes.
    csv: bool,
}

impl Rows {
    fn open(path: PathBuf, csv: bool) -> io::Result<Rows> {
        let reader = BufReader::with_capacity(256 * 1024, File::open(&path)?);
        Ok(Rows { path, reader, csv })
    }

    /// The next record, its line end included; empty at the end.
    fn next_record(&mut self, out: &mut Vec<u8>) -> io::Result<usize> {
        let start = out.len();
        loop {
            let n = self.reader.read_until(b'\n', out)?;
            let quotes = out[start..].iter().filter(|&&b| b == b'"').count();
            if n == 0 || !self.csv || quotes % 2 == 0 {
                return Ok(out.len() - start);
            }
        }
    }

    /// Copies `count` records into `out`.
    fn copy(&mut self, count: u64, out: &mut impl Write, buf: &mut Vec<u8>) -> io::Result<()> {
        for _ in 0..count {
            buf.clear();
            if self.next_record(buf)? == 0 {
                return Err(self.short());
            }
            out.write_all(buf)?;
        }
        Ok(())
    }

    fn short(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{}: fewer rows than its {SHARD_ORDER_FILE} lists",
                self.path.display()
            ),
        )
    }

    fn expect_end(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        buf.clear();
        if self.next_record(buf)? == 0 {
            return Ok(());
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{}: more rows than its {SHARD_ORDER_FILE} lists",
                self.path.display()
            ),
        ))
    }
}

/// A merged report file: the first shard's header, then the rows.
struct Merged {
    inputs: Vec<Rows>,
    out: BufWriter<File>,
}

impl Merged {
    fn open(shards: &[ShardSet], name: &str, target: &Path, header: bool) -> io::Result<Merged> {
        let csv = name.ends_with(".csv");
        let mut inputs = shards
            .iter()
            .map(|s| Rows::open(s.dir.join(name), csv))
            .collect::<io::Result<Vec<_>>>()?;
        let mut out = BufWriter::with_capacity(256 * 1024, super::create_report_file(target)?);
        if header {
            let mut buf = Vec::new();
            for (i, input) in inputs.iter_mut().enumerate() {
                buf.clear();
                input.next_record(&mut buf)?;
                if i == 0 {
                    out.write_all(&buf)?;
                }
            }
        }
        Ok(Merged { inputs, out })
    }

    fn finish(mut self) -> io::Result<()> {
        let mut buf = Vec::new();
        for input in &mut self.inputs {
            input.expect_end(&mut buf)?;
        }
        self.out.flush()
    }
}

/// `findings.csv`, `findings.jsonl` and `skipped.csv` in walk order.
fn merge_rows(
    shards: &[ShardSet],
    target: &impl Fn(&str) -> PathBuf,
    with_csv: bool,
) -> Result<(), MergeError> {
    let mut jsonl = Merged::open(shards, JSONL_FILE, &target(JSONL_FILE), false)?;
    let mut csv = match with_csv {
        true => Some(Merged::open(shards, CSV_FILE, &target(CSV_FILE), true)?),
        false => None,
    };
    let mut skipped = Merged::open(shards, SKIPPED_FILE, &target(SKIPPED_FILE), true)?;
    let mut orders = shards
        .iter()
        .map(|s| read_order(&s.dir.join(SHARD_ORDER_FILE)))
        .collect::<io::Result<Vec<_>>>()?;
    let mut heads: BinaryHeap<Reverse<(u64, usize, OrderEntryKey)>> = BinaryHeap::new();
    for (i, order) in orders.iter_mut().enumerate() {
        if let Some(entry) = order.next() {
            let entry = entry?;
            heads.push(Reverse((entry.position, i, OrderEntryKey(entry))));
        }
    }
    let mut buf = Vec::new();
    while let Some(Reverse((_, i, OrderEntryKey(entry)))) = heads.pop() {
        jsonl.inputs[i].copy(entry.findings, &mut jsonl.out, &mut buf)?;
        if let Some(csv) = &mut csv {
            csv.inputs[i].copy(entry.findings, &mut csv.out, &mut buf)?;
        }
        skipped.inputs[i].copy(entry.skipped, &mut skipped.out, &mut buf)?;
        if let Some(next) = orders[i].next() {
            let next = next?;
            heads.push(Reverse((next.position, i, OrderEntryKey(next))));
        }
    }
    jsonl.finish()?;
    if let Some(csv) = csv {
        csv.finish()?;
    }
    skipped.finish()?;
    Ok(())
}

/// An order entry that rides along in the heap without taking part in
/// the ordering (position and shard index decide).
#[derive(Debug, Clone, Copy)]
struct OrderEntryKey(OrderEntry);

impl PartialEq for OrderEntryKey {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for OrderEntryKey {}
impl PartialOrd for OrderEntryKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for OrderEntryKey {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

/// `changes.csv` and `changes.jsonl`, in path order as the store lists
/// them: each shard's are sorted already, so the next row is the least
/// path among the shards' next rows.
fn merge_changes(shards: &[ShardSet], target: &impl Fn(&str) -> PathBuf) -> Result<(), MergeError> {
    let mut jsonl = Merged::open(
        shards,
        CHANGES_JSONL_FILE,
        &target(CHANGES_JSONL_FILE),
        false,
    )?;
    let mut csv = Merged::open(shards, CHANGES_CSV_FILE, &target(CHANGES_CSV_FILE), true)?;
    let mut lines: Vec<Vec<u8>> = vec![Vec::new(); shards.len()];
    let mut heads = BinaryHeap::new();
    for (i, line) in lines.iter_mut().enumerate() {
        if jsonl.inputs[i].next_record(line)? > 0 {
            heads.push(Reverse((change_path(line, &jsonl.inputs[i].path)?, i)));
        }
    }
    let mut buf = Vec::new();
    while let Some(Reverse((_, i))) = heads.pop() {
        jsonl.out.write_all(&lines[i])?;
        csv.inputs[i].copy(1, &mut csv.out, &mut buf)?;
        lines[i].clear();
        if jsonl.inputs[i].next_record(&mut lines[i])? > 0 {
            heads.push(Reverse((change_path(&lines[i], &jsonl.inputs[i].path)?, i)));
        }
    }
    jsonl.finish()?;
    csv.finish()?;
    Ok(())
}

fn change_path(line: &[u8], file: &Path) -> io::Result<String> {
    #[derive(serde::Deserialize)]
    struct Line {
        path: String,
    }
    serde_json::from_slice::<Line>(line)
        .map(|l| l.path)
        .map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: a malformed line ({e})", file.display()),
            )
        })
}

fn add(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (key, n) in from {
        *into.entry(key.clone()).or_default() += n;
    }
}

fn add_nested(
    into: &mut BTreeMap<String, BTreeMap<String, u64>>,
    from: &BTreeMap<String, BTreeMap<String, u64>>,
) {
    for (key, counts) in from {
        add(into.entry(key.clone()).or_default(), counts);
    }
}

/// The shards' summaries as one: the first shard's scope and provenance,
/// every count added up, the time span of all, and the warnings that the
/// totals tell computed again from the totals.
fn merged_summary(shards: &[ShardSet]) -> Summary {
    let first = &shards[0].summary;
    let mut warnings = first.warnings.clone();
    let of_totals = first.warnings_of_totals().len();
    warnings.truncate(warnings.len().saturating_sub(of_totals));
    let mut m = Summary {
        tool: first.tool.clone(),
        version: first.version.clone(),
        as_of: first.as_of.clone(),
        policy: first.policy.clone(),
        policy_name: first.policy_name.clone(),
        policy_version: first.policy_version.clone(),
        policy_sha256: first.policy_sha256.clone(),
        detectors_sha256: first.detectors_sha256.clone(),
        paths: first.paths.clone(),
        paths_walked: first.paths_walked.clone(),
        paths_resolved: first.paths_resolved.clone(),
        paths_not_walked: first.paths_not_walked.clone(),
        options: first.options.clone(),
        show_values: first.show_values,
        user: first.user.clone(),
        complete: shards.iter().all(|s| s.summary.complete),
        fail_on: first.fail_on.clone(),
        locations: first.locations.clone(),
        warnings,
        merged_from: shards.iter().map(|s| s.summary.run_id.clone()).collect(),
        ..Default::default()
    };
    for location in &mut m.locations {
        location.files = 0;
    }
    let mut hosts: Vec<&str> = Vec::new();
    for s in shards.iter().map(|s| &s.summary) {
        if !hosts.contains(&s.host.as_str()) {
            hosts.push(&s.host);
        }
        add_counts(&mut m, s);
    }
    m.host = hosts.join(", ");
    m.started_at = shards
        .iter()
        .map(|s| s.summary.started_at.clone())
        .min()
        .unwrap_or_default();
    m.finished_at = shards
        .iter()
        .map(|s| s.summary.finished_at.clone())
        .max()
        .unwrap_or_default();
    let baselines: BTreeSet<&Option<String>> =
        shards.iter().map(|s| &s.summary.baseline_run_id).collect();
    if baselines.len() == 1 {
        m.baseline_run_id = first.baseline_run_id.clone();
    }
    let secs = m.duration_seconds;
    let rate = |amount: f64| {
        if secs > 0.0 {
            ((amount / secs) * 10.0).round() / 10.0
        } else {
            0.0
        }
    };
    m.files_per_second = rate(m.files_scanned as f64);
    m.megabytes_per_second = rate(m.bytes_scanned as f64 / 1e6);
    m.close_counts();
    m
}

/// Adds one shard's (or work unit's) counts to the merged summary.
pub fn add_counts(m: &mut Summary, s: &Summary) {
    m.duration_seconds = m.duration_seconds.max(s.duration_seconds);
    m.peak_rss_kb = m.peak_rss_kb.max(s.peak_rss_kb);
    m.files_scanned += s.files_scanned;
    m.documents += s.documents;
    m.bytes_scanned += s.bytes_scanned;
    m.documents_without_text += s.documents_without_text;
    m.files_skipped += s.files_skipped;
    m.files_filtered_out += s.files_filtered_out;
    m.documents_failing += s.documents_failing;
    m.read += s.read;
    m.reused += s.reused;
    if s.state.is_some() {
        m.state = s.state.clone().map(|_| "per shard".to_string());
    }
    for (into, from) in [
        (&mut m.verdicts, &s.verdicts),
        (&mut m.formats, &s.formats),
        (&mut m.levels, &s.levels),
        (&mut m.suggested_levels, &s.suggested_levels),
        (&mut m.detectors, &s.detectors),
        (&mut m.errors, &s.errors),
        (&mut m.skipped, &s.skipped),
        (&mut m.exceptions, &s.exceptions),
        (&mut m.changes, &s.changes),
    ] {
        add(into, from);
    }
    add_nested(&mut m.by_path, &s.by_path);
    add_nested(&mut m.by_folder, &s.by_folder);
    add_nested(&mut m.releases, &s.releases);
    add_nested(&mut m.level_matrix, &s.level_matrix);
    for (into, from) in m.locations.iter_mut().zip(&s.locations) {
        into.files += from.files;
    }
}
