//! One file through every stage: read -> extract -> analyse (labels,
//! detectors) -> judge -> records (one, or one per archive member). `scan`
//! and `explain` both go through [`documents_of`] and [`record_of`], so they
//! reach the same records for the same file, policy and date. No global
//! state: everything a file needs comes in through [`Context`].

use std::io::{self, Read};
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
use crate::model::hash::{hash_reader, hex_sha256};
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
    /// The file waited `more` for its turn ([`large_turn`]): not its time.
    fn waited(&mut self, _more: Duration) {}
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
    /// The file waited `more` for its turn ([`large_turn`]): not its time.
    fn waited(&mut self, _more: Duration) {}
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

    fn waited(&mut self, more: Duration) {
        if let Some(early) = self.early.as_deref_mut() {
            early.waited(more);
        }
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
    let mut waited = |more: Duration| sink.waited(more);
    let read = read_for_inspection(&job.fs_path, &job.display_path, &ctx.limits, &mut waited);
    match read {
        Ok(FileRead::Whole(bytes)) => {
            (bytes.len() as u64, each_document_of(job, &bytes, ctx, sink))
        }
        Ok(FileRead::LargeWhole(bytes, turn)) => {
            let found = each_document_of(job, &bytes, ctx, sink);
            let size = bytes.len() as u64;
            // The bytes go before the turn does: the next large file is
            // read only once this one's memory is given back.
            drop(bytes);
            drop(turn);
            (size, found)
        }
        Ok(FileRead::TextStart(start)) => {
            sink.document(text_start_document(job, start, ctx));
            (job.size, Ok(()))
        }
        Ok(FileRead::ZipOnDisk(zip)) => (zip.size, zip_on_disk_documents(job, &zip, ctx, sink)),
        Err(err) => {
            sink.document(unreadable_document(job, err));
            (job.size, Ok(()))
        }
    }
}

/// A file as read for inspection.
pub enum FileRead {
    Whole(Vec<u8>),
    /// A text file longer than a document may keep: only its start.
    TextStart(TextStart),
    /// A zip file too large to hold, read in place.
    ZipOnDisk(ZipOnDisk),
    /// A file over [`LARGE_HELD`] held whole (a PDF, an OLE file) during
    /// its turn: held until the turn is dropped.
    LargeWhole(Vec<u8>, LargeTurn),
}

/// Files held whole above this size take turns, process-wide.
const LARGE_HELD: u64 = 32 << 20;

/// The turn of the one file held whole above [`LARGE_HELD`]: PDFs and OLE
/// files are read whole, and workers each holding one of up to
/// `--max-file-size` would hold that many times as much.
pub type LargeTurn = std::sync::MutexGuard<'static, ()>;

static LARGE_TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Waits for the turn to hold a large file whole, telling `waited` how
/// long, a little at a time.
fn large_turn(waited: &mut dyn FnMut(Duration)) -> LargeTurn {
    let mut last = std::time::Instant::now();
    loop {
        match LARGE_TURN.try_lock() {
            Ok(turn) => return turn,
            Err(std::sync::TryLockError::Poisoned(p)) => return p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => {}
        }
        std::thread::sleep(Duration::from_millis(2));
        let now = std::time::Instant::now();
        waited(now - last);
        last = now;
    }
}

/// A zip file read in place: the open file, its first bytes, and the size
/// and SHA-256 of all of it.
pub struct ZipOnDisk {
    pub file: std::fs::File,
    pub head: Vec<u8>,
    pub size: u64,
    pub sha256: String,
}

/// Zip files up to this size are read whole (their entries inflated from
/// memory, the fastest way); larger ones are read in place.
const ZIP_HELD_WHOLE: u64 = 32 << 20;

/// The start of a large text file, with the size and SHA-256 of all of it.
pub struct TextStart {
    pub bytes: Vec<u8>,
    pub size: u64,
    pub sha256: String,
}

/// How much of a file is read before its format is known.
const HEAD_BYTES: usize = 64 * 1024;

/// Reads a file for inspection ([`read_file`]'s safeguards): whole, except
/// a text file (by content and name, as [`extract::sniff`] tells) longer
/// than a document's text may be, of which only what can be kept is held;
/// the rest is read only to be hashed. A 500 MB log costs the 16 MiB of
/// text it may keep, not 500 MB.
pub fn read_for_inspection(
    path: &Path,
    name: &str,
    limits: &Limits,
    waited: &mut dyn FnMut(Duration),
) -> Result<FileRead, ExtractError> {
    let (file, metadata) = open_walked(path).map_err(|e| ExtractError::io(&e))?;
    let size = metadata.len();
    let bound = limits
        .max_file_size
        .min(size.saturating_add(GROWTH_ALLOWANCE));
    // Most files: read whole at once, as [`read_file`] reads them.
    if size <= ZIP_HELD_WHOLE.min(limits.max_text_chars as u64) {
        return read_bounded(file, size, bound)
            .map(FileRead::Whole)
            .map_err(|e| match e {
                ReadError::Io(e) => ExtractError::io(&e),
                ReadError::TooLarge { .. } => grew_error(size, bound == limits.max_file_size),
            });
    }
    let mut file = file.take(bound.saturating_add(1));
    let mut bytes = Vec::with_capacity(HEAD_BYTES);
    (&mut file)
        .take(HEAD_BYTES as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| ExtractError::io(&e))?;
    let zip = bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06");
    // A zip's head holds no central directory to sniff: its kind is read later.
    let format = if zip {
        Format::Zip
    } else {
        extract::sniff(&bytes, name)
    };
    // A large video, image or disk image is skipped by what its start
    // says: reading the rest would tell nothing more.
    if format == Format::Unsupported {
        return Ok(FileRead::Whole(bytes));
    }
    let keep = text_bytes_kept(&bytes, format, limits);
    let read = match keep {
        Some(keep) if size > keep as u64 => read_text_start(file, bytes, keep),
        None if zip && size > ZIP_HELD_WHOLE => read_zip_identity(file, bytes),
        _ => {
            let turn = (size > LARGE_HELD).then(|| large_turn(waited));
            bytes.reserve(size.min(bound).saturating_sub(bytes.len() as u64) as usize + 1);
            file.read_to_end(&mut bytes).map(|_| match turn {
                Some(turn) => FileRead::LargeWhole(bytes, turn),
                None => FileRead::Whole(bytes),
            })
        }
    };
    let read = read.map_err(|e| ExtractError::io(&e))?;
    let total = match &read {
        FileRead::Whole(bytes) | FileRead::LargeWhole(bytes, _) => bytes.len() as u64,
        FileRead::TextStart(start) => start.size,
        FileRead::ZipOnDisk(zip) => zip.size,
    };
    if total > bound {
        return Err(grew_error(size, bound == limits.max_file_size));
    }
    Ok(read)
}

/// How many bytes of a text file are read to fill a document's text:
/// `None` when the file (`format`, sniffed from `head`) is no text format.
fn text_bytes_kept(head: &[u8], format: Format, limits: &Limits) -> Option<usize> {
    if !matches!(format, Format::Text | Format::Csv) {
        return None;
    }
    // UTF-16 takes two bytes for a character that UTF-8 writes in one.
    let per_char = if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        2
    } else {
        1
    };
    Some(
        limits
            .max_text_chars
            .saturating_mul(per_char)
            .max(HEAD_BYTES),
    )
}

/// Reads on to `keep` bytes and keeps them, cut before a character split
/// in two; hashes the rest of the file without keeping it.
fn read_text_start(mut file: impl Read, mut bytes: Vec<u8>, keep: usize) -> io::Result<FileRead> {
    bytes.reserve(keep.saturating_sub(bytes.len()));
    (&mut file)
        .take(keep.saturating_sub(bytes.len()) as u64)
        .read_to_end(&mut bytes)?;
    let (size, sha256) = hash_reader(&mut bytes.as_slice().chain(file))?;
    bytes.truncate(whole_characters(&bytes));
    Ok(FileRead::TextStart(TextStart {
        bytes,
        size,
        sha256,
    }))
}

/// Hashes a zip file too large to hold to its end (after `head`, already
/// read), holding a buffer at a time; its entries are read later in place.
fn read_zip_identity(mut file: io::Take<std::fs::File>, head: Vec<u8>) -> io::Result<FileRead> {
    let (size, sha256) = hash_reader(&mut head.as_slice().chain(&mut file))?;
    Ok(FileRead::ZipOnDisk(ZipOnDisk {
        file: file.into_inner(),
        head,
        size,
        sha256,
    }))
}

/// The length of `bytes` without a character cut at its end: an
/// incomplete UTF-8 sequence, or the odd byte of UTF-16. A cut sequence
/// would make the text look like no UTF-8 at all.
fn whole_characters(bytes: &[u8]) -> usize {
    let n = bytes.len();
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return n & !1;
    }
    for back in 1..=n.min(4) {
        let lead = bytes[n - back];
        if lead & 0xC0 == 0x80 {
            continue;
        }
        let needs = match lead {
            0xF0.. => 4,
            0xE0.. => 3,
            0xC0.. => 2,
            _ => 1,
        };
        return if needs > back { n - back } else { n };
    }
    n
}

/// The documents of a zip file read in place ([`each_document_of`]).
fn zip_on_disk_documents(
    job: &FileJob,
    zip: &ZipOnDisk,
    ctx: &Context,
    sink: &mut dyn DocumentSink,
) -> Result<(), Skip> {
    let identity = || (zip.size, zip.sha256.clone());
    let name = &job.display_path;
    each_document_by(job, &identity, ctx, sink, &mut |budget, on_member| {
        catch_unwind(AssertUnwindSafe(|| {
            extract::extract_each_zip_file(&zip.file, zip.size, &zip.head, name, budget, on_member)
        }))
        .unwrap_or_else(|_| Outcome::Document(extract::sniff(&zip.head, name), parser_failed()))
    })
}

/// The document of a large text file read in part: `limit_exceeded`
/// whatever its text, since the rest of the file was not read.
fn text_start_document(job: &FileJob, start: TextStart, ctx: &Context) -> Document {
    let budget = Budget::new(ctx.limits.clone());
    let format = extract::sniff(&start.bytes, &job.display_path);
    let mut extracted = catch_unwind(AssertUnwindSafe(|| {
        extract::extract_document(format, &start.bytes, &budget)
    }))
    .unwrap_or_else(|_| parser_failed());
    // The file's own cut says more than the text limit it also reached.
    if extracted
        .error
        .as_ref()
        .is_none_or(|e| e.kind == ErrorKind::LimitExceeded)
    {
        extracted.error = Some(ExtractError::limit(format!(
            "only the first {} MiB of the file were read",
            start.bytes.len() >> 20
        )));
    }
    Document {
        path: job.display_path.clone(),
        location_path: job.location_path.clone(),
        format,
        size: start.size,
        sha256: start.sha256,
        extracted,
        origin: job.origin.clone(),
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
        ReadError::TooLarge { .. } => grew_error(size, bound == limit),
    })
}

/// A file that held more than it may: beyond `--max-file-size`
/// (`at_limit`), or beyond the size it reported when opened.
fn grew_error(size: u64, at_limit: bool) -> ExtractError {
    if at_limit {
        ExtractError::new(
            ErrorKind::TooLarge,
            "file grew beyond --max-file-size while reading",
        )
    } else {
        ExtractError::new(
            ErrorKind::TooLarge,
            format!("file holds more than its reported size of {size} bytes (it grew while being read, or its file system does not report sizes)"),
        )
    }
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
    let identity = || (bytes.len() as u64, hex_sha256(bytes));
    each_document_by(job, &identity, ctx, sink, &mut |budget, on_member| {
        extract_guarded(bytes, &job.display_path, budget, on_member)
    })
}

/// The size and SHA-256 of a whole file.
type Identity<'a> = dyn Fn() -> (u64, String) + 'a;

/// How a file is extracted: under a budget, members to a callback.
type ExtractBy<'a> = dyn FnMut(&Budget, &mut dyn FnMut(Member) -> MemberFlow) -> Outcome + 'a;

/// [`each_document_of`] with the file's extraction and identity given.
fn each_document_by(
    job: &FileJob,
    identity: &Identity,
    ctx: &Context,
    sink: &mut dyn DocumentSink,
    extract_by: &mut ExtractBy,
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
    let outcome = extract_by(&budget, &mut on_member);
    match outcome {
        Outcome::Document(format, extracted) => {
            sink.document(whole_file(job, identity, format, extracted));
            Ok(())
        }
        Outcome::Archive(_) => {
            if too_many {
                sink.document(too_many_rows(job, identity));
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
fn too_many_rows(job: &FileJob, identity: &Identity) -> Document {
    let error = ExtractError::limit(format!(
        "the archive holds more than {} documents and members; the rest were not read",
        MAX_ROWS_PER_FILE - 1
    ));
    whole_file(job, identity, Format::Zip, Extracted::failed(error))
}

/// The file itself as one document, with what was extracted from it.
fn whole_file(
    job: &FileJob,
    identity: &Identity,
    format: Format,
    extracted: Extracted,
) -> Document {
    let (size, sha256) = identity();
    Document {
        path: job.display_path.clone(),
        location_path: job.location_path.clone(),
        format,
        size,
        sha256,
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
    .unwrap_or_else(|_| Outcome::Document(extract::sniff(bytes, name), parser_failed()))
}

/// What a document is when its parser panicked: `corrupt`, never a lost run.
fn parser_failed() -> Extracted {
    Extracted::failed(ExtractError::corrupt(
        "the parser failed on malformed content",
    ))
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
    fn a_cut_character_is_left_out_of_a_text_start() {
        assert_eq!(whole_characters(b"abc"), 3);
        assert_eq!(whole_characters("aé".as_bytes()), 3);
        assert_eq!(whole_characters(&"aé".as_bytes()[..2]), 1);
        assert_eq!(whole_characters(&"a€".as_bytes()[..3]), 1);
        assert_eq!(whole_characters("a€".as_bytes()), 4);
        assert_eq!(whole_characters(&"a😀".as_bytes()[..4]), 1);
        assert_eq!(whole_characters("a😀".as_bytes()), 5);
        assert_eq!(whole_characters(b"\xff\xfea\x00b"), 4);
        // Windows-1252 bytes are whole characters: at most the last one goes.
        assert_eq!(whole_characters(b"caf\xe9s"), 5);
        assert_eq!(whole_characters(b""), 0);
    }

    #[test]
    fn a_large_text_file_is_read_in_part_and_hashed_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.log");
        let line = "é ".repeat(40) + "\n";
        let text = line.repeat(3000);
        std::fs::write(&path, &text).unwrap();
        let limits = Limits {
            max_text_chars: 100_000,
            ..Limits::default()
        };
        let FileRead::TextStart(start) =
            read_for_inspection(&path, "big.log", &limits, &mut |_| {}).unwrap()
        else {
            panic!("read whole");
        };
        assert_eq!(start.size, text.len() as u64);
        assert_eq!(start.sha256, hex_sha256(text.as_bytes()));
        assert!(start.bytes.len() <= 100_000 && start.bytes.len() > 99_990);
        assert!(std::str::from_utf8(&start.bytes).is_ok());
        // Below the limit, and of any other format, a file is read whole.
        let small = Limits {
            max_text_chars: text.len(),
            ..Limits::default()
        };
        assert!(matches!(
            read_for_inspection(&path, "big.log", &small, &mut |_| {}).unwrap(),
            FileRead::Whole(b) if b == text.as_bytes()
        ));
        let pdf = dir.path().join("big.pdf");
        std::fs::write(&pdf, format!("%PDF-1.4\n{text}")).unwrap();
        assert!(matches!(
            read_for_inspection(&pdf, "big.pdf", &limits, &mut |_| {}).unwrap(),
            FileRead::Whole(_)
        ));
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
