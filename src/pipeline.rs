//! One file through every stage: read -> extract -> labels -> detect ->
//! judge, producing the document records (one, or one per archive member).
//! No global state: everything a file needs comes in through [`Context`].

use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use chrono::NaiveDate;

use crate::budget::{Budget, Limits};
use crate::detect::DetectorSet;
use crate::extract::{self, ErrorKind, ExtractError, Extracted, Format, Outcome};
use crate::judge::{judge, Case};
use crate::labels::find_labels;
use crate::policy::{hex_sha256, Policy};
use crate::record::{document_id, DocumentRecord, Unreadable};

/// Read-only settings shared by all workers of a scan.
pub struct Context {
    pub policy: Policy,
    pub detectors: DetectorSet,
    pub as_of: NaiveDate,
    pub show_values: bool,
    pub limits: Limits,
}

/// A file to inspect, as the walker found it.
#[derive(Debug, Clone)]
pub struct FileJob {
    /// The PATH argument joined with the path below it: the report's `path`.
    pub display_path: String,
    /// The path below the scanned PATH, `/`-separated (for exchange locations).
    pub relative_path: String,
    pub fs_path: std::path::PathBuf,
    pub size: u64,
}

/// What became of one file.
#[derive(Debug)]
pub enum FileOutcome {
    Records(Vec<DocumentRecord>),
    /// Not a supported format: counted in the summary, no row.
    Skipped {
        path: String,
        reason: String,
    },
}

/// Inspects one file from disk. Never panics and never fails: problems
/// become `UNREADABLE` records.
pub fn inspect_file(job: &FileJob, ctx: &Context) -> FileOutcome {
    if job.size > ctx.limits.max_file_size {
        let err = ExtractError::new(
            ErrorKind::TooLarge,
            format!(
                "{} bytes exceeds --max-file-size {}",
                job.size, ctx.limits.max_file_size
            ),
        );
        return FileOutcome::Records(vec![unreadable_record(job, None, err, ctx)]);
    }
    let bytes = match read_file(&job.fs_path, job.size, ctx.limits.max_file_size) {
        Ok(b) => b,
        Err(err) => return FileOutcome::Records(vec![unreadable_record(job, None, err, ctx)]),
    };
    inspect_bytes(job, &bytes, ctx)
}

/// Reads a whole file of about `size` bytes (the walk's figure): sized up
/// front, the read takes two calls instead of a dozen growing ones.
fn read_file(path: &Path, size: u64, limit: u64) -> Result<Vec<u8>, ExtractError> {
    let file = std::fs::File::open(path).map_err(|e| ExtractError::io(&e))?;
    let mut bytes = Vec::with_capacity(size.min(limit) as usize + 1);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ExtractError::io(&e))?;
    if bytes.len() as u64 > limit {
        return Err(ExtractError::new(
            ErrorKind::TooLarge,
            "file grew beyond --max-file-size while reading",
        ));
    }
    Ok(bytes)
}

/// Inspects a file already in memory.
pub fn inspect_bytes(job: &FileJob, bytes: &[u8], ctx: &Context) -> FileOutcome {
    let sha256 = hex_sha256(bytes);
    match extract_guarded(bytes, &job.display_path, &ctx.limits) {
        Outcome::Document(format, extracted) => FileOutcome::Records(vec![build_record(
            &job.display_path,
            &job.relative_path,
            format,
            bytes.len() as u64,
            sha256,
            &extracted,
            ctx,
        )]),
        Outcome::Archive(members) => {
            let records = members
                .into_iter()
                .filter(|m| m.format != Format::Unsupported)
                .map(|m| {
                    build_record(
                        &format!("{}!/{}", job.display_path, m.path),
                        &format!("{}!/{}", job.relative_path, m.path),
                        m.format,
                        m.size,
                        m.sha256,
                        &m.extracted,
                        ctx,
                    )
                })
                .collect();
            FileOutcome::Records(records)
        }
        Outcome::Unsupported(reason) => FileOutcome::Skipped {
            path: job.display_path.clone(),
            reason,
        },
    }
}

/// Extracts a file under its own budget; a panic in a parser becomes a
/// `corrupt` document instead of ending the scan.
pub fn extract_guarded(bytes: &[u8], name: &str, limits: &Limits) -> Outcome {
    let budget = Budget::new(limits.clone());
    catch_unwind(AssertUnwindSafe(|| extract::extract(bytes, name, &budget))).unwrap_or_else(|_| {
        Outcome::Document(
            extract::sniff(bytes, name),
            Extracted::failed(ExtractError::corrupt(
                "the parser failed on malformed content",
            )),
        )
    })
}

/// Labels, detectors and verdicts for one extracted document.
pub fn build_record(
    path: &str,
    relative_path: &str,
    format: Format,
    size: u64,
    sha256: String,
    extracted: &Extracted,
    ctx: &Context,
) -> DocumentRecord {
    let policy = &ctx.policy;
    let labels = find_labels(extracted, policy);
    let content_known = extracted.error.is_none();
    let detections = if content_known {
        catch_unwind(AssertUnwindSafe(|| {
            ctx.detectors.scan(&extracted.parts, ctx.show_values)
        }))
        .unwrap_or_default()
    } else {
        Vec::new()
    };
    let unreadable_reason = extracted.error.as_ref().map(|e| e.to_string());
    let case = Case {
        labels: &labels,
        detections: &detections,
        relative_path,
        content_known,
        unreadable: unreadable_reason,
    };
    let judgement = judge(&case, policy, ctx.as_of);
    let name = |l: Option<usize>| l.map(|l| policy.scheme.name(l).to_string());
    DocumentRecord {
        id: document_id(path),
        path: path.to_string(),
        format: format.as_str().to_string(),
        size,
        sha256,
        level: name(judgement.level),
        released_to: judgement.released_to,
        tlp: labels.strictest_tlp(),
        suggested_level: name(judgement.suggested).unwrap_or_default(),
        verdicts: judgement.verdicts,
        error: extracted.error.as_ref().map(|e| Unreadable {
            kind: e.kind,
            detail: e.detail.clone(),
        }),
        parts_read: extracted.parts_read.len(),
        text_chars: extracted.text_len(),
        label_sources: labels.sources,
        releases: labels.releases,
        tlp_markings: labels.tlp,
        detections,
    }
}

/// A record for a file that could not even be read.
pub fn unreadable_record(
    job: &FileJob,
    format: Option<Format>,
    err: ExtractError,
    ctx: &Context,
) -> DocumentRecord {
    let format = format
        .or_else(|| Format::from_extension(&job.display_path))
        .unwrap_or(Format::Unsupported);
    build_record(
        &job.display_path,
        &job.relative_path,
        format,
        job.size,
        String::new(),
        &Extracted::failed(err),
        ctx,
    )
}
