//! `labelscan apply DIR --to DEST`: turns a finished run's suggestions into
//! labels that Purview, other labelling tools and people see, for
//! migration projects that classify legacy stores (SPEC "Applying labels").
//!
//! Do no harm, in this order for each document of the run:
//! - leave alone what needs a person (`LABEL_CONFLICT`, `UNKNOWN_LABEL`,
//!   `UNREADABLE`, no text), what is not OOXML or ODF, archive members,
//!   signed packages, and files that changed since the scan (size, time or
//!   SHA-256 differ from the report);
//! - never lower a level: the level written is the higher of the chosen one
//!   and the one the document has;
//! - rewrite only the label parts (every other zip member byte for byte, see
//!   [`zipraw`]), then read the result back as a scan would: it must carry
//!   the level written, no conflict and no unknown label, and its other
//!   members must be the original's bytes, or nothing is written;
//! - write through a temporary file and a rename, with the original's
//!   times and permissions; `--in-place` copies each original into the
//!   backup folder first;
//! - record every decision, with its reason, in `apply.csv`.

pub mod csv_out;
pub mod label;
pub mod mark;
pub mod odf;
pub mod ooxml;
pub mod run;
pub mod undo;
pub mod write;
pub mod xmledit;
pub mod zipraw;

use std::path::{Path, PathBuf};

use crate::model::hash::hex_sha256;
use crate::model::job::FileOrigin;
use crate::model::{Level, VerdictCode};
use crate::pipeline::{self, Context, Document};
use label::{Label, Msip};
use run::{Finding, Run};
use write::Existing;
use zipraw::RawZip;

pub use csv_out::{ApplyCsv, Row, Status};

/// Where the labelled files go.
#[derive(Debug, Clone)]
pub enum Target {
    /// Copies under DEST, at the documents' paths below their PATH.
    To(PathBuf),
    /// The originals, each copied into the backup folder first.
    InPlace { backup: PathBuf },
}

/// Which level to write.
#[derive(Debug, Clone, Copy)]
pub enum LevelChoice {
    Suggested,
    Fixed(Level),
}

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub target: Target,
    pub level: LevelChoice,
    pub dry_run: bool,
    /// `--mark`: a visual marking too.
    pub mark: Option<Mark>,
}

/// The visual marking `--mark` adds (see [`mark`]).
#[derive(Debug, Clone, Default)]
pub struct Mark {
    /// `--release-to`: the partners, as the policy names them.
    pub release_to: Vec<String>,
}

/// Why a document was left alone: its status and reason in `apply.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: Status,
    pub reason: String,
}

impl Refusal {
    fn new(status: Status, reason: impl Into<String>) -> Refusal {
        Refusal {
            status,
            reason: reason.into(),
        }
    }

    pub fn signed() -> Refusal {
        Refusal::new(
            Status::Skipped,
            "signed document: a label would break its digital signature",
        )
    }

    pub fn broken(why: &str) -> Refusal {
        Refusal::new(Status::Skipped, format!("cannot label this package: {why}"))
    }

    fn review(why: impl Into<String>) -> Refusal {
        Refusal::new(Status::NeedsReview, why)
    }

    fn skip(why: impl Into<String>) -> Refusal {
        Refusal::new(Status::Skipped, why)
    }

    fn failed(why: impl Into<String>) -> Refusal {
        Refusal::new(Status::Failed, why)
    }
}

impl From<zipraw::ZipError> for Refusal {
    fn from(e: zipraw::ZipError) -> Refusal {
        Refusal::broken(&e.0)
    }
}

/// Checks the options against the run before anything is read: DEST and
/// the backup folder must lie outside the scanned PATHs (and not hold
/// them), so that nothing is written into the scanned tree unless
/// `--in-place` asks for exactly that.
pub fn check_target(run: &Run, target: &Target) -> Result<(), String> {
    let (folder, what) = match target {
        Target::To(dest) => (dest, "DEST"),
        Target::InPlace { backup } => (backup, "the backup folder"),
    };
    let resolved = resolved_folder(folder);
    for root in run.resolved_roots() {
        if resolved.starts_with(&root) || root.starts_with(&resolved) {
            return Err(format!(
                "{what} {} overlaps the scanned PATH {}: choose a folder outside the scanned tree",
                folder.display(),
                root.display()
            ));
        }
    }
    Ok(())
}

/// A folder's absolute path with links resolved as far as it exists.
fn resolved_folder(folder: &Path) -> PathBuf {
    let absolute = std::path::absolute(folder).unwrap_or_else(|_| folder.to_path_buf());
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            let mut out = real;
            out.extend(rest.iter().rev());
            return out;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

/// Applies every document of `findings` on `jobs` threads and hands the
/// rows to `record` in the run's order (so `apply.csv` follows
/// `findings.jsonl`). Workers overlap one file's fsync with another's
/// work; at most `4 * jobs` rows wait for an earlier one.
pub fn apply_all<E: Send>(
    findings: impl Iterator<Item = Result<Finding, E>> + Send,
    run: &Run,
    ctx: &Context,
    opts: &ApplyOptions,
    jobs: usize,
    record: &mut dyn FnMut(Row) -> Result<(), E>,
) -> Result<(), E> {
    use std::collections::BTreeMap;
    use std::sync::{mpsc, Mutex};
    let source = Mutex::new(findings.enumerate());
    let (tx, rx) = mpsc::sync_channel::<(usize, Result<Row, E>)>(4 * jobs.max(1));
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            let (tx, source) = (tx.clone(), &source);
            scope.spawn(move || loop {
                let next = source.lock().map(|mut s| s.next()).unwrap_or(None);
                let Some((i, finding)) = next else { break };
                let row = finding.map(|f| apply_one(&f, run, ctx, opts));
                if tx.send((i, row)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut waiting = BTreeMap::new();
        let mut next = 0;
        for (i, row) in rx {
            waiting.insert(i, row);
            while let Some(row) = waiting.remove(&next) {
                next += 1;
                // An error stops the run: dropping the receiver ends the workers.
                record(row?)?;
            }
        }
        Ok(())
    })
}

/// Decides, and unless `dry_run` writes, one document of the run.
pub fn apply_one(finding: &Finding, run: &Run, ctx: &Context, opts: &ApplyOptions) -> Row {
    let mut row = Row::of(finding);
    match label_document(finding, run, ctx, opts, &mut row) {
        Ok(status) => {
            row.status = status;
            row.marked =
                opts.mark.is_some() && matches!(status, Status::Applied | Status::WouldApply);
        }
        Err(refusal) => {
            row.status = refusal.status;
            row.reason = refusal.reason;
        }
    }
    row
}

const NEEDS_A_PERSON: [(&str, &str); 3] = [
    ("UNREADABLE", "unreadable"),
    ("LABEL_CONFLICT", "its label sources disagree"),
    ("UNKNOWN_LABEL", "it carries a label the policy cannot map"),
];

fn label_document(
    f: &Finding,
    run: &Run,
    ctx: &Context,
    opts: &ApplyOptions,
    row: &mut Row,
) -> Result<Status, Refusal> {
    if f.path.contains("!/") {
        return Err(Refusal::skip(
            "archive member: labelscan does not rewrite archives",
        ));
    }
    if let Some((code, why)) = NEEDS_A_PERSON.iter().find(|(code, _)| f.has(code)) {
        let detail = f
            .error
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        return Err(Refusal::review(format!(
            "{code}: {why}{detail}; a person decides"
        )));
    }
    if f.text_chars == 0 || f.suggested_level.is_empty() {
        return Err(Refusal::review(
            "no text was read, so its content is unknown; a person decides",
        ));
    }
    let kind = PackageKind::of(&f.format).ok_or_else(|| {
        Refusal::skip(format!(
            "format {}: apply labels OOXML and ODF documents only",
            f.format
        ))
    })?;
    let scheme = &ctx.policy.scheme;
    let level_of = |name: &str| {
        scheme
            .level_of(name)
            .ok_or_else(|| Refusal::failed(format!("level {name} is not in the policy's scheme")))
    };
    let before = f.level.as_deref().map(level_of).transpose()?;
    let chosen = match opts.level {
        LevelChoice::Suggested => level_of(&f.suggested_level)?,
        LevelChoice::Fixed(level) => level,
    };
    let level = before.map_or(chosen, |b| b.max(chosen));
    row.level_written = scheme.name(level).to_string();
    let line = match &opts.mark {
        Some(mark) => Some(marking_for(mark, kind, level, ctx)?),
        None => None,
    };
    let label = label_for(ctx, level, opts, &f.path);
    row.label_guid = label
        .msip
        .as_ref()
        .map(|m| m.guid.clone())
        .unwrap_or_default();
    if label.properties().is_empty() {
        return Err(Refusal::skip(format!(
            "the policy gives no label for {}: no [labels.msip] GUID with msip_site_id, no labels.custom_properties",
            label.level_name
        )));
    }
    if already_labelled(f, &label, opts.mark.as_ref()) {
        row.level_written.clear();
        return Ok(Status::Unchanged);
    }
    let (fs_path, relative) = run
        .locate(&f.path)
        .ok_or_else(|| Refusal::failed("the path does not lie under the run's PATHs"))?;
    let (bytes, metadata) = read_unchanged(&fs_path, f)?;
    let (labelled, marked_parts) = label_bytes(kind, f, &bytes, &label, line.as_deref())?;
    check_untouched(&bytes, &labelled, kind, &marked_parts)?;
    let after = read_back(&labelled, &fs_path, f, ctx)?;
    check_read_back(&after, level, ctx)?;
    if let Some(mark) = &opts.mark {
        check_marking_read_back(&after, level, mark)?;
    }
    row.verdicts_after = verdict_list(&after);
    row.sha256_after = hex_sha256(&labelled);
    let dest = match &opts.target {
        Target::To(dest) => dest.join(&relative),
        Target::InPlace { .. } => fs_path.clone(),
    };
    row.dest = dest.display().to_string();
    if opts.dry_run {
        return Ok(Status::WouldApply);
    }
    match &opts.target {
        Target::To(_) => write::write_file(&dest, &labelled, &metadata, Existing::Keep)
            .map_err(|e| write_refusal(e, "at the destination"))?,
        Target::InPlace { backup } => {
            let copy = backup.join(&relative);
            write::write_file(&copy, &bytes, &metadata, Existing::Keep)
                .map_err(|e| write_refusal(e, "in the backup folder"))?;
            row.backup = copy.display().to_string();
            read_unchanged(&fs_path, f)?;
            write::write_file(&fs_path, &labelled, &metadata, Existing::Replace)
                .map_err(|e| write_refusal(e, "over the original"))?;
        }
    }
    Ok(Status::Applied)
}

fn write_refusal(e: std::io::Error, place: &str) -> Refusal {
    if e.kind() == std::io::ErrorKind::AlreadyExists {
        return Refusal::skip(format!("a file exists {place}; it was not overwritten"));
    }
    Refusal::failed(format!("writing {place}: {e}"))
}

/// The two package families `apply` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PackageKind {
    Ooxml,
    Odf,
}

impl PackageKind {
    fn of(format: &str) -> Option<PackageKind> {
        match format {
            "docx" | "xlsx" | "pptx" => Some(PackageKind::Ooxml),
            "odt" | "ods" | "odp" => Some(PackageKind::Odf),
            _ => None,
        }
    }
}

/// The label for `level`: Purview's when the policy maps a GUID to the
/// level and names the tenant, and the policy's first custom property.
fn label_for(ctx: &Context, level: Level, opts: &ApplyOptions, salt: &str) -> Label {
    let labels = &ctx.policy.labels;
    let msip = match (labels.msip_guid_of(level), &labels.msip_site_id) {
        (Some(guid), Some(site)) => Some(Msip {
            guid: guid.to_string(),
            site_id: site.clone(),
        }),
        _ => None,
    };
    Label {
        level_name: ctx.policy.scheme.name(level).to_string(),
        msip,
        method: match opts.level {
            LevelChoice::Suggested => "Standard",
            LevelChoice::Fixed(_) => "Privileged",
        },
        set_date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        action_id: label::action_id(salt),
        // What the labelling applied, as Office records it.
        content_bits: match opts.mark {
            Some(_) => label::CONTENT_BITS_HEADER_FOOTER,
            None => 0,
        },
        property: labels.custom_properties.first().cloned(),
    }
}

/// The marking line for a document at `level`, once every partner of
/// `--release-to` is found to be covered for it on the as-of date (the
/// judge's own rule, so that a rescan gives no release verdict).
fn marking_for(
    mark: &Mark,
    kind: PackageKind,
    level: Level,
    ctx: &Context,
) -> Result<String, Refusal> {
    if kind == PackageKind::Odf {
        return Err(Refusal::skip(
            "--mark: labelscan writes visual markings into docx, xlsx and pptx documents, not ODF",
        ));
    }
    for partner in &mark.release_to {
        let problems = crate::judge::release_problems(partner, &ctx.policy, ctx.as_of, level);
        if let Some(problem) = problems.first() {
            return Err(Refusal::skip(format!(
                "--release-to {partner}: {} ({}); nothing written",
                problem.code.as_str(),
                problem.reason
            )));
        }
    }
    let level_name = ctx.policy.scheme.name(level);
    Ok(mark::marking_line(level_name, &mark.release_to))
}

/// The document already carries this label: a Purview label of the same
/// GUID (or, without one, the policy's property) at the level, and no
/// other source below it; with `--mark`, a visual marking at the level
/// too, released to every partner of `--release-to`.
fn already_labelled(f: &Finding, label: &Label, mark: Option<&Mark>) -> bool {
    let marked = mark.is_none_or(|m| {
        f.label_sources
            .iter()
            .any(|s| s.kind == "marking" && s.level.as_deref() == Some(label.level_name.as_str()))
            && m.release_to.iter().all(|p| f.released_to(p))
    });
    marked && carries_label(f, label)
}

fn carries_label(f: &Finding, label: &Label) -> bool {
    let at_level = |s: &run::SourceLine| s.level.as_deref() == Some(label.level_name.as_str());
    let carries = match &label.msip {
        Some(m) => f.label_sources.iter().any(|s| {
            s.kind == "msip" && at_level(s) && s.location.to_ascii_lowercase().contains(&m.guid)
        }),
        None => f
            .label_sources
            .iter()
            .any(|s| s.kind == "property" && at_level(s)),
    };
    carries && f.label_sources.iter().all(at_level)
}

/// The file's bytes, if it is still the file the run reported: same size,
/// same modification time (to the second, as reported), same SHA-256.
fn read_unchanged(path: &Path, f: &Finding) -> Result<(Vec<u8>, std::fs::Metadata), Refusal> {
    let changed = |what: &str| Refusal::skip(format!("changed since the scan ({what} differs)"));
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Refusal::skip("no longer exists"))
        }
        Err(e) => return Err(Refusal::failed(format!("reading the file: {e}"))),
    };
    if !metadata.is_file() {
        return Err(Refusal::skip("no longer a regular file"));
    }
    if metadata.len() != f.size {
        return Err(changed("size"));
    }
    let modified = FileOrigin::of(&metadata, &mut Default::default()).modified_iso();
    if f.modified.as_deref().is_some_and(|m| m != modified) {
        return Err(changed("modification time"));
    }
    let bytes =
        std::fs::read(path).map_err(|e| Refusal::failed(format!("reading the file: {e}")))?;
    if hex_sha256(&bytes) != f.sha256 {
        return Err(changed("SHA-256"));
    }
    Ok((bytes, metadata))
}

/// The labelled (and with `line`, marked) package, and the parts the
/// marking changed.
fn label_bytes(
    kind: PackageKind,
    f: &Finding,
    bytes: &[u8],
    label: &Label,
    line: Option<&str>,
) -> Result<(Vec<u8>, Vec<String>), Refusal> {
    let zip = RawZip::parse(bytes)?;
    match kind {
        PackageKind::Ooxml => {
            let mut edits = ooxml::Edits::default();
            if let Some(line) = line {
                if ooxml::is_signed(&zip) {
                    return Err(Refusal::signed());
                }
                mark::mark_package(&zip, &f.format, line, &mut edits)?;
            }
            let marked = edits.names();
            Ok((ooxml::label_package(&zip, label, edits)?, marked))
        }
        PackageKind::Odf => Ok((odf::label_package(&zip, label)?, Vec::new())),
    }
}

/// The label parts (and the parts the marking changed) are the only
/// members whose bytes may differ: every other member of the original is
/// in the result, byte for byte, in the same order.
fn check_untouched(
    original: &[u8],
    labelled: &[u8],
    kind: PackageKind,
    marked: &[String],
) -> Result<(), Refusal> {
    let fail = || {
        Refusal::failed("the rewritten package would change a member other than the label parts; nothing written")
    };
    let (before, after) = (
        RawZip::parse(original)?,
        RawZip::parse(labelled).map_err(|_| fail())?,
    );
    let label_part = |name: &str| match kind {
        _ if marked.iter().any(|m| m == name) => true,
        PackageKind::Ooxml => {
            matches!(
                name,
                "docProps/custom.xml"
                    | "docMetadata/LabelInfo.xml"
                    | "[Content_Types].xml"
                    | "_rels/.rels"
            ) || name.ends_with(".xml") && is_label_target(&before, name)
        }
        PackageKind::Odf => matches!(name, "meta.xml" | "META-INF/manifest.xml"),
    };
    let mut kept = after.entries().iter().filter(|e| !label_part(e.name_str()));
    for e in before
        .entries()
        .iter()
        .filter(|e| !label_part(e.name_str()))
    {
        let same = kept
            .next()
            .is_some_and(|a| a.name == e.name && after.segment(a) == before.segment(e));
        if !same {
            return Err(fail());
        }
    }
    Ok(())
}

/// A custom-properties or LabelInfo part at a path of the package's own
/// choosing (named by its root relationships).
fn is_label_target(zip: &RawZip, name: &str) -> bool {
    let Ok(Some(rels)) = ooxml::read_text(zip, "_rels/.rels") else {
        return false;
    };
    xmledit::elements(&rels, "Relationship")
        .unwrap_or_default()
        .iter()
        .any(|r| {
            let t = r.attr("Type").unwrap_or_default();
            (t.ends_with("/custom-properties") || t.ends_with("/classificationlabels"))
                && r.attr("Target").is_some_and(|target| {
                    crate::extract::ooxml::resolve_target("", &target) == name
                })
        })
}

/// The labelled bytes as a scan would see them at the original's place.
fn read_back(
    bytes: &[u8],
    fs_path: &Path,
    f: &Finding,
    ctx: &Context,
) -> Result<crate::model::DocumentRecord, Refusal> {
    let name = fs_path.to_string_lossy();
    let budget = crate::model::budget::Budget::new(ctx.limits.clone());
    let outcome = pipeline::extract_guarded(bytes, &name, &budget, &mut |_| {
        crate::extract::archive::MemberFlow::Continue(())
    });
    let crate::extract::Outcome::Document(format, extracted) = outcome else {
        return Err(Refusal::failed(
            "the labelled file no longer reads as a document; nothing written",
        ));
    };
    let doc = Document {
        path: f.path.clone(),
        location_path: crate::model::job::location_path(fs_path),
        format,
        size: bytes.len() as u64,
        sha256: hex_sha256(bytes),
        extracted,
        origin: FileOrigin::default(),
    };
    Ok(pipeline::record_of(&doc, ctx))
}

/// The labelled document must read back with the level written, and with
/// no verdict that would need a person.
fn check_read_back(
    after: &crate::model::DocumentRecord,
    level: Level,
    ctx: &Context,
) -> Result<(), Refusal> {
    if after.has(VerdictCode::Unreadable) {
        return Err(Refusal::failed(
            "the labelled file would not be readable; nothing written",
        ));
    }
    if after.has(VerdictCode::LabelConflict) {
        let others: Vec<String> = after
            .analysis
            .labels
            .sources
            .iter()
            .filter(|s| s.level != Some(level))
            .map(|s| {
                format!(
                    "{} {} ({})",
                    s.kind.as_str(),
                    s.level.map(|l| ctx.policy.scheme.name(l)).unwrap_or("?"),
                    s.location
                )
            })
            .collect();
        return Err(Refusal::review(format!(
            "a label at another level stays in the document ({}); labelling would make a LABEL_CONFLICT, a person decides",
            others.join("; ")
        )));
    }
    if after.judgement.level != Some(level) || after.has(VerdictCode::UnknownLabel) {
        return Err(Refusal::failed(format!(
            "the labelled file would read back as {}; nothing written",
            after.level().unwrap_or("no level")
        )));
    }
    Ok(())
}

/// With `--mark`, the document must read back with a visual marking at
/// the level, released to every partner of `--release-to` with no release
/// verdict.
fn check_marking_read_back(
    after: &crate::model::DocumentRecord,
    level: Level,
    mark: &Mark,
) -> Result<(), Refusal> {
    let marking = after
        .analysis
        .labels
        .sources
        .iter()
        .any(|s| s.kind == crate::model::LabelKind::Marking && s.level == Some(level));
    if !marking {
        return Err(Refusal::failed(
            "the visual marking would not read back; nothing written",
        ));
    }
    let releases = &after.judgement.releases;
    for partner in &mark.release_to {
        let covered = releases.iter().any(|r| {
            r.partner.as_deref() == Some(partner.as_str())
                && r.status == crate::model::ReleaseStatus::Covered
        });
        if !covered {
            return Err(Refusal::failed(format!(
                "the release to {partner} would not read back as covered; nothing written"
            )));
        }
    }
    Ok(())
}

fn verdict_list(r: &crate::model::DocumentRecord) -> String {
    r.judgement
        .verdicts
        .iter()
        .map(|v| v.code.as_str())
        .collect::<Vec<_>>()
        .join(";")
}
