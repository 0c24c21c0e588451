//! One file through every stage: read -> extract -> analyse (labels,
//! detectors) -> judge -> records (one, or one per archive member). `scan`
//! and `explain` both go through [`documents_of`] and [`record_of`], so they
//! reach the same records for the same file, policy and date. No global
//! state: everything a file needs comes in through [`Context`].

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;

use crate::analyse::Analyser;
use crate::detect::DetectorSet;
use crate::extract::archive::{Member, MemberFlow};
use crate::extract::{self, Outcome};
use crate::judge::judge_analysis;
use crate::model::budget::{Budget, Limits};
use crate::model::hash::hex_sha256;
use crate::model::untrusted::{open_walked, read_bounded, ReadError};
use crate::model::{
    DocumentRecord, ErrorKind, ExtractError, Extracted, FileJob, FileOrigin, Format, LevelNames,
    Skip,
};
use crate::policy::Policy;

/// Read-only settings shared by all workers of a scan.
pub struct Context {
    pub policy: Policy,
    pub analyser: Analyser,
    pub as_of: NaiveDate,
    pub limits: Limits,
    /// The scheme's level names, shared by every record.
    pub levels: LevelNames,
}

impl Context {
    /// A context whose detectors are compiled when the first document is
    /// analysed (see [`Analyser::lazy`]); `policy` must have been loaded
    /// with its checks.
    pub fn lazy(policy: Policy, as_of: NaiveDate, show_values: bool, limits: Limits) -> Context {
        Context {
            analyser: Analyser::lazy(&policy, show_values),
            levels: LevelNames::new(&policy.scheme.levels),
            policy,
            as_of,
            limits,
        }
    }

    pub fn new(
        policy: Policy,
        detectors: DetectorSet,
        as_of: NaiveDate,
        show_values: bool,
        limits: Limits,
    ) -> Context {
        Context {
            analyser: Analyser::new(&policy, detectors, show_values),
            levels: LevelNames::new(&policy.scheme.levels),
            policy,
            as_of,
            limits,
        }
    }
}

/// What became of one file.
#[derive(Debug)]
pub enum FileOutcome {
    /// The file's documents: itself, or its archive members, and the
    /// members that are no documents. `size` is the file's own size on disk.
    Records {
        size: u64,
        records: Vec<DocumentRecord>,
        skipped: Vec<Skip>,
    },
    /// Not a supported format: a row of `skipped.csv`, none of the findings.
    Skipped(Skip),
}

/// One document of a file: the file itself, or one member of an archive,
/// with what extraction read from it.
pub struct Document {
    /// The report's path (`a.zip!/dir/m.docx` for members).
    pub path: String,
    /// The absolute path exchange locations are matched against.
    pub location_path: String,
    pub format: Format,
    pub size: u64,
    pub sha256: String,
    pub extracted: Extracted,
    pub origin: FileOrigin,
}

/// The documents of one file, and the archive members that are none.
pub struct Documents {
    pub documents: Vec<Document>,
    pub skipped: Vec<Skip>,
}

/// Most rows one top-level file may put into the reports (its documents
/// and its skipped members, the archive's own `limit_exceeded` row
/// included): a row bomb (zips of zips of overlapping entries) ends there.
pub const MAX_ROWS_PER_FILE: usize = 20_000;

/// What a sink says once it has taken a document or a skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Read on. The duration is how long the sink waited for the file's
    /// turn in the reports: waiting is no work of the file's, so its
    /// deadline moves by as much.
    Go(Duration),
    /// The file was given up (the scan stops, or the watchdog reported it
    /// as timed out): read no further.
    Stop,
}

/// Where the documents of one file go as they are read: analysed at once
/// by a scan (so that only one member's text is held at a time), kept
/// whole by `explain`.
pub trait DocumentSink {
    fn document(&mut self, document: Document) -> Pace;
    fn skipped(&mut self, skip: Skip) -> Pace;
}

impl DocumentSink for Documents {
    fn document(&mut self, document: Document) -> Pace {
        self.documents.push(document);
        Pace::Go(Duration::ZERO)
    }

    fn skipped(&mut self, skip: Skip) -> Pace {
        self.skipped.push(skip);
        Pace::Go(Duration::ZERO)
    }
}

/// Where a scan's rows of one file go before the file is done: the scan
/// driver writes them to the reports as soon as every earlier file is
/// written, so that an archive's rows are streamed out, never all held.
pub trait EarlyRows {
    /// Writes a batch of the file's rows (the next ones, in order); returns
    /// how the file's reading goes on.
    fn rows(&mut self, records: Vec<DocumentRecord>, skipped: Vec<Skip>) -> Pace;
}

/// Rows of one file held before they are handed over early: an archive's
/// records then cost at most this many at a time (about 3 KB each).
pub const ROWS_PER_BATCH: usize = 256;

/// A scan's sink: each document becomes its record right away, and its
/// text is dropped; with `early`, full batches of rows go out at once.
struct RecordsOf<'a> {
    ctx: &'a Context,
    records: Vec<DocumentRecord>,
    skipped: Vec<Skip>,
    early: Option<&'a mut dyn EarlyRows>,
}

impl<'a> RecordsOf<'a> {
    fn new(ctx: &'a Context, early: Option<&'a mut dyn EarlyRows>) -> Self {
        RecordsOf {
            ctx,
            records: Vec::new(),
            skipped: Vec::new(),
            early,
        }
    }

    /// Hands a full batch over early, if a writer takes one.
    fn pace(&mut self) -> Pace {
        let Some(early) = self.early.as_deref_mut() else {
            return Pace::Go(Duration::ZERO);
        };
        if self.records.len() + self.skipped.len() < ROWS_PER_BATCH {
            return Pace::Go(Duration::ZERO);
        }
        let records = std::mem::take(&mut self.records);
        let skipped = std::mem::take(&mut self.skipped);
        early.rows(records, skipped)
    }

    fn outcome(self, size: u64, found: Result<(), Skip>) -> FileOutcome {
        match found {
            Ok(()) => FileOutcome::Records {
                size,
                records: self.records,
                skipped: self.skipped,
            },
            Err(skip) => FileOutcome::Skipped(skip),
        }
    }
}

impl DocumentSink for RecordsOf<'_> {
    fn document(&mut self, document: Document) -> Pace {
        self.records.push(record_of(&document, self.ctx));
        self.pace()
    }

    fn skipped(&mut self, skip: Skip) -> Pace {
        self.skipped.push(skip);
        self.pace()
    }
}

/// Inspects one file from disk. Never fails: problems become `UNREADABLE`
/// records. The rows of an archive with many members go to `early` in
/// batches as they are made; the outcome holds the rest.
pub fn inspect_file(job: &FileJob, ctx: &Context, early: &mut dyn EarlyRows) -> FileOutcome {
    let mut sink = RecordsOf::new(ctx, Some(early));
    let (size, found) = each_document_of_file(job, ctx, &mut sink);
    sink.outcome(size, found)
}

/// Reads and extracts one file from disk: its documents (a file that
/// cannot be read is one `UNREADABLE` document) or why it holds none, and
/// the bytes read. `scan` and `explain` both start here.
pub fn documents_of_file(job: &FileJob, ctx: &Context) -> (u64, Result<Documents, Skip>) {
    let mut found = Documents {
        documents: Vec::new(),
        skipped: Vec::new(),
    };
    let (size, result) = each_document_of_file(job, ctx, &mut found);
    (size, result.map(|()| found))
}

/// [`documents_of_file`], handing each document to `sink` as it is read.
pub fn each_document_of_file(
    job: &FileJob,
    ctx: &Context,
    sink: &mut dyn DocumentSink,
) -> (u64, Result<(), Skip>) {
    if job.size > ctx.limits.max_file_size {
        let err = ExtractError::new(
            ErrorKind::TooLarge,
            format!(
                "{} bytes exceeds --max-file-size {}",
                job.size, ctx.limits.max_file_size
            ),
        );
        sink.document(unreadable_document(job, err));
        return (job.size, Ok(()));
    }
    match read_file(&job.fs_path, ctx.limits.max_file_size) {
        Ok(bytes) => (bytes.len() as u64, each_document_of(job, &bytes, ctx, sink)),
        Err(err) => {
            sink.document(unreadable_document(job, err));
            (job.size, Ok(()))
        }
    }
}

/// How much more than its reported size a file may turn out to hold: a
/// file being appended to is read whole, but a file whose size lies (procfs
/// reports 0 for `/proc/self/pagemap`, which reads on for gigabytes) costs
/// at most this much beyond what the walk saw.
const GROWTH_ALLOWANCE: u64 = 1 << 20;

/// Reads a whole file: opened without blocking (a FIFO swapped in after
/// the walk is refused, not waited on), never through a symbolic link, and
/// without touching its access
/// time where permitted; at most `limit` bytes, and at most
/// [`GROWTH_ALLOWANCE`] beyond the size the file reports when opened.
pub fn read_file(path: &Path, limit: u64) -> Result<Vec<u8>, ExtractError> {
    let (file, metadata) = open_walked(path).map_err(|e| ExtractError::io(&e))?;
    let size = metadata.len();
    let bound = limit.min(size.saturating_add(GROWTH_ALLOWANCE));
    read_bounded(file, size, bound).map_err(|e| match e {
        ReadError::Io(e) => ExtractError::io(&e),
        ReadError::TooLarge { .. } if bound == limit => ExtractError::new(
            ErrorKind::TooLarge,
            "file grew beyond --max-file-size while reading",
        ),
        ReadError::TooLarge { .. } => ExtractError::new(
            ErrorKind::TooLarge,
            format!("file holds more than its reported size of {size} bytes (it grew while being read, or its file system does not report sizes)"),
        ),
    })
}

/// Inspects a file already in memory, all of its rows held in the outcome.
pub fn inspect_bytes(job: &FileJob, bytes: &[u8], ctx: &Context) -> FileOutcome {
    let mut sink = RecordsOf::new(ctx, None);
    let found = each_document_of(job, bytes, ctx, &mut sink);
    sink.outcome(bytes.len() as u64, found)
}

/// Extracts a file in memory under its own budget and hands its documents
/// to `sink`: the file itself, or its archive members (named
/// `archive!/member`; unsupported members are skips), at most
/// [`MAX_ROWS_PER_FILE`] rows in all. `Err` when the file is no supported
/// format.
pub fn each_document_of(
    job: &FileJob,
    bytes: &[u8],
    ctx: &Context,
    sink: &mut dyn DocumentSink,
) -> Result<(), Skip> {
    let budget = Budget::new(ctx.limits.clone());
    let mut rows = 0usize;
    let mut too_many = false;
    let mut on_member = |m: Member| {
        if rows + 1 >= MAX_ROWS_PER_FILE {
            too_many = true;
            return MemberFlow::Break(());
        }
        rows += 1;
        match member_document(job, m, sink) {
            Pace::Go(waited) => {
                budget.postpone(waited);
                MemberFlow::Continue(())
            }
            Pace::Stop => MemberFlow::Break(()),
        }
    };
    let outcome = extract_guarded(bytes, &job.display_path, &budget, &mut on_member);
    match outcome {
        Outcome::Document(format, extracted) => {
            sink.document(whole_file(job, bytes, format, extracted));
            Ok(())
        }
        Outcome::Archive(_) => {
            if too_many {
                sink.document(too_many_rows(job, bytes));
            }
            Ok(())
        }
        Outcome::Unsupported(kind) => Err(unsupported(job.display_path.clone(), &kind)),
    }
}

/// An archive member as a document of its own, or a skip.
fn member_document(job: &FileJob, m: Member, sink: &mut dyn DocumentSink) -> Pace {
    let path = format!("{}!/{}", job.display_path, m.path);
    if let Some(kind) = m.unsupported {
        return sink.skipped(unsupported(path, &kind));
    }
    sink.document(Document {
        location_path: format!("{}!/{}", job.location_path, m.path),
        path,
        format: m.format,
        size: m.size,
        sha256: m.sha256,
        extracted: m.extracted,
        origin: job.origin.clone(),
    })
}

/// The archive's own row once its members reached [`MAX_ROWS_PER_FILE`]:
/// `limit_exceeded`, so that the members not read are accounted for.
fn too_many_rows(job: &FileJob, bytes: &[u8]) -> Document {
    let error = ExtractError::limit(format!(
        "the archive holds more than {} documents and members; the rest were not read",
        MAX_ROWS_PER_FILE - 1
    ));
    whole_file(job, bytes, Format::Zip, Extracted::failed(error))
}

/// The file itself as one document, with what was extracted from it.
fn whole_file(job: &FileJob, bytes: &[u8], format: Format, extracted: Extracted) -> Document {
    Document {
        path: job.display_path.clone(),
        location_path: job.location_path.clone(),
        format,
        size: bytes.len() as u64,
        sha256: hex_sha256(bytes),
        extracted,
        origin: job.origin.clone(),
    }
}

fn unsupported(path: String, kind: &str) -> Skip {
    Skip {
        path,
        reason: format!("unsupported:{kind}"),
    }
}

/// Extracts a file under its budget, archive members through
/// `on_member`; a panic in a parser becomes a `corrupt` document instead of
/// ending the scan.
pub fn extract_guarded(
    bytes: &[u8],
    name: &str,
    budget: &Budget,
    on_member: &mut dyn FnMut(Member) -> MemberFlow,
) -> Outcome {
    catch_unwind(AssertUnwindSafe(|| {
        extract::extract_each(bytes, name, budget, on_member)
    }))
    .unwrap_or_else(|_| {
        Outcome::Document(
            extract::sniff(bytes, name),
            Extracted::failed(ExtractError::corrupt(
                "the parser failed on malformed content",
            )),
        )
    })
}

/// Analysis and judgement of one document: its record.
pub fn record_of(doc: &Document, ctx: &Context) -> DocumentRecord {
    let analysis = ctx.analyser.analyse(
        &ctx.policy,
        doc.format,
        doc.size,
        doc.sha256.clone(),
        &doc.extracted,
    );
    let judgement = judge_analysis(&analysis, &doc.location_path, &ctx.policy, ctx.as_of);
    DocumentRecord::new(doc.path.clone(), analysis, judgement, ctx.levels.clone())
        .with_origin(doc.origin.clone())
}

/// The document of a file that could not be read at all.
pub fn unreadable_document(job: &FileJob, err: ExtractError) -> Document {
    Document {
        path: job.display_path.clone(),
        location_path: job.location_path.clone(),
        format: Format::from_extension(&job.display_path).unwrap_or(Format::Unsupported),
        size: job.size,
        sha256: String::new(),
        extracted: Extracted::failed(err),
        origin: job.origin.clone(),
    }
}

/// The outcome of a file that could not be read at all: one `UNREADABLE` record.
pub fn unreadable_outcome(job: &FileJob, err: ExtractError, ctx: &Context) -> FileOutcome {
    FileOutcome::Records {
        size: job.size,
        records: vec![record_of(&unreadable_document(job, err), ctx)],
        skipped: Vec::new(),
    }
}

/// Analysis and judgement meet here, above both layers.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyse::Analyser;
    use crate::model::{Analysis, Part, PartKind};

    fn analyse(policy: &Policy, text: &str) -> Analysis {
        let detectors = DetectorSet::compile(policy).unwrap();
        let analyser = Analyser::new(policy, detectors, false);
        let mut extracted = Extracted::default();
        extracted
            .parts
            .push(Part::new(PartKind::Body, "body", text.to_string()));
        analyser.analyse(policy, Format::Text, 10, "ab".into(), &extracted)
    }

    #[test]
    fn a_stored_analysis_is_judged_as_the_fresh_one() {
        let policy = Policy::default_policy();
        let fresh = analyse(
            &policy,
            "INTERNAL\nCard 4111 1111 1111 1111, mail a.b@example.com",
        );
        assert!(!fresh.detections.is_empty() && !fresh.labels.sources.is_empty());
        let stored = serde_json::to_string(&fresh).unwrap();
        let back: Analysis = serde_json::from_str(&stored).unwrap();
        assert_eq!(back, fresh);
        assert!(!stored.contains("4111 1111 1111 1111"), "values are masked");
        let as_of = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        assert_eq!(
            judge_analysis(&back, "/a.txt", &policy, as_of),
            judge_analysis(&fresh, "/a.txt", &policy, as_of)
        );
    }

    #[test]
    fn the_fingerprint_follows_detection_relevant_policy_only() {
        let base = "[scheme]\nlevels = [\"PUBLIC\", \"INTERNAL\", \"CONFIDENTIAL\"]\n";
        let print = |text: &str, show: bool| {
            let p = Policy::parse(text, "t").unwrap();
            let d = DetectorSet::compile(&p).unwrap();
            Analyser::new(&p, d, show).fingerprint().to_string()
        };
        let partner = format!("{base}[[partners]]\nname = \"P\"\nmax_level = \"INTERNAL\"\n");
        let keyword =
            format!("{base}[[keywords]]\nid = \"k\"\nterms = [\"Helios\"]\nlevel = \"INTERNAL\"\n");
        assert_eq!(print(base, true), print(&partner, true));
        // Masked release names carry keys, so partners stay out of it.
        assert_eq!(print(base, false), print(&partner, false));
        assert_ne!(print(base, false), print(&keyword, false));
        assert_ne!(print(base, false), print(base, true));
    }
}
