//! `labelscan explain FILE`: everything labelscan saw in one file and why
//! each verdict was given, for a human.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::model::job::{path_from_text, path_text};
use crate::model::{DocumentRecord, Extracted, FileJob};
use crate::pipeline::{documents_of_file, record_of, Context, Document};

/// What `explain` found for one FILE argument.
pub enum Explained {
    /// The file's documents (one, or the archive's members), each with what
    /// was extracted from it.
    Documents(Vec<(DocumentRecord, Extracted)>),
    /// Not a supported document: a scan skips it.
    Unsupported { path: String, reason: String },
}

/// Inspects `arg` exactly as a scan would: a file, or an archive member
/// named as the reports name it (`a.zip!/dir/m.docx`; a name that is not
/// UTF-8 as the reports escape it, `a\xff.docx`, or as the raw bytes). The
/// error is the file's I/O error when neither exists.
pub fn inspect(arg: &Path, ctx: &Context) -> Result<Explained, std::io::Error> {
    let target = resolve(arg)?;
    // A link given by name is read where it points (a scan never follows
    // links, and reads the file it walked without following one).
    let fs_path = match std::fs::symlink_metadata(&target.file) {
        Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(&target.file)?,
        _ => target.file.clone(),
    };
    let metadata = std::fs::metadata(&fs_path)?;
    if !metadata.is_file() {
        return Err(crate::model::untrusted::not_regular());
    }
    let job = FileJob::single(&target.file_text, &fs_path, &metadata);
    let (member, arg) = (target.member, target.wanted);
    let documents = match documents_of_file(&job, ctx).1 {
        Ok(found) => found.documents,
        Err(skip) => {
            return Ok(Explained::Unsupported {
                path: skip.path,
                reason: skip.reason,
            })
        }
    };
    let wanted = |d: &Document| member.is_none() || d.path == arg;
    let found: Vec<(DocumentRecord, Extracted)> = documents
        .into_iter()
        .filter(wanted)
        .map(|d| (record_of(&d, ctx), d.extracted))
        .collect();
    if member.is_some() && found.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such member in the archive",
        ));
    }
    Ok(Explained::Documents(found))
}

/// A FILE argument resolved: the file on disk, its path as the reports
/// write it, and the member wanted (the report path of it in `wanted`).
struct Target {
    file: PathBuf,
    file_text: String,
    member: Option<String>,
    wanted: String,
}

/// Finds the file `arg` names: itself when it exists; else the report's
/// path text it is (escaped bytes), with or without an archive member after
/// the first `!/` whose part before is a file.
fn resolve(arg: &Path) -> Result<Target, std::io::Error> {
    let as_text = path_text(arg.as_os_str());
    if std::fs::symlink_metadata(arg).is_ok() {
        return Ok(Target {
            file: arg.to_path_buf(),
            wanted: as_text.clone(),
            file_text: as_text,
            member: None,
        });
    }
    // The report's own form when pasted (`a\xff.docx`), then the raw
    // argument's text.
    let mut candidates: Vec<String> = arg.to_str().map(str::to_string).into_iter().collect();
    candidates.push(as_text);
    for text in &candidates {
        if let Some(file) = path_from_text(text).filter(|f| f.exists()) {
            return Ok(Target {
                file,
                file_text: text.clone(),
                member: None,
                wanted: text.clone(),
            });
        }
        if let Some((file_text, member)) = text.split_once("!/") {
            if let Some(file) = path_from_text(file_text).filter(|f| f.is_file()) {
                return Ok(Target {
                    file,
                    file_text: file_text.to_string(),
                    member: Some(member.to_string()),
                    wanted: text.clone(),
                });
            }
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        "no such file or directory",
    ))
}

/// Renders the explanation of one FILE argument for a person. `text` adds
/// the extracted text part by part.
pub fn explain(explained: &Explained, text: bool) -> String {
    let mut out = String::new();
    match explained {
        Explained::Unsupported { path, reason } => {
            let _ = writeln!(
                out,
                "{path}: not a supported document ({reason}); a scan skips it"
            );
        }
        Explained::Documents(documents) => {
            for (i, (record, extracted)) in documents.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                render(&mut out, record, extracted, text);
            }
        }
    }
    out
}

/// The records of one FILE argument as `findings.jsonl` lines.
pub fn explain_json(explained: &Explained) -> String {
    let mut out = Vec::new();
    if let Explained::Documents(documents) = explained {
        for (record, _) in documents {
            let _ = crate::report::jsonl::write_line(&mut out, record);
        }
    }
    String::from_utf8(out).unwrap_or_default()
}

fn or_dash(text: &str) -> &str {
    if text.is_empty() {
        "-"
    } else {
        text
    }
}

/// Each named party with the agreement judged for it.
fn render_release_checks(out: &mut String, r: &DocumentRecord) {
    for c in &r.judgement.releases {
        let who = match &c.partner {
            Some(p) if p != &c.named => format!("{p} (named \"{}\")", c.named),
            Some(p) => p.clone(),
            None => format!("\"{}\"", c.named),
        };
        let agreement = match (&c.agreement, c.max_level) {
            (Some(id), Some(max)) => format!("agreement {id} up to {}", r.level_name(max)),
            (None, Some(max)) => format!("agreement without id up to {}", r.level_name(max)),
            _ => "no agreement".to_string(),
        };
        let window = match (c.valid_from, c.valid_until) {
            (Some(f), Some(u)) => format!(", valid {f} to {u}"),
            (None, Some(u)) => format!(", valid until {u}"),
            (Some(f), None) => format!(", valid from {f}"),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            out,
            "  release to {who}: {} ({agreement}{window})",
            c.status.as_str()
        );
    }
}

fn render(out: &mut String, r: &DocumentRecord, ex: &Extracted, text: bool) {
    let a = &r.analysis;
    let _ = writeln!(out, "file:        {}", r.path);
    let _ = writeln!(
        out,
        "format:      {}   size: {} bytes   sha256: {}",
        r.format(),
        a.size,
        a.sha256
    );
    let _ = writeln!(
        out,
        "modified:    {}   owner: {}   doc_id: {}",
        or_dash(&r.origin.modified_iso()),
        or_dash(r.origin.owner.as_deref().unwrap_or_default()),
        r.id
    );
    if let Some(e) = &a.error {
        let _ = writeln!(out, "unreadable:  {} ({})", e.kind.as_str(), e.detail);
    }
    let _ = writeln!(
        out,
        "parts read:  {} ({} characters of text)",
        if ex.parts_read.is_empty() {
            "-".to_string()
        } else {
            ex.parts_read.join(", ")
        },
        a.text_chars
    );
    if let Some(cause) = a.no_text_cause.as_deref().filter(|_| a.text_chars == 0) {
        let _ = writeln!(out, "no text:     {cause}");
    }
    let _ = writeln!(out, "\nlabel sources:");
    if a.labels.sources.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for s in &a.labels.sources {
        let _ = writeln!(
            out,
            "  {:<9} \"{}\" -> {}   at {}",
            s.kind.as_str(),
            s.value,
            s.level
                .map(|l| r.level_name(l))
                .unwrap_or("(no level in the scheme)"),
            s.location
        );
    }
    for rel in &a.labels.releases {
        let _ = writeln!(
            out,
            "  release   RELEASED TO: {}   at {}",
            rel.names.join(", "),
            rel.location
        );
    }
    for t in &a.labels.tlp {
        let canonical = if t.written == t.tlp.as_str() {
            String::new()
        } else {
            format!(" (non-canonical for {})", t.tlp.as_str())
        };
        let _ = writeln!(
            out,
            "  tlp       {}{}   at {}",
            t.written, canonical, t.location
        );
    }
    let _ = writeln!(out, "\nlevel:       {}", r.level().unwrap_or("(none)"));
    if !r.judgement.released_to.is_empty() {
        let _ = writeln!(out, "released to: {}", r.judgement.released_to.join(", "));
    }
    render_release_checks(out, r);
    if let Some(l) = &r.judgement.location {
        let _ = writeln!(
            out,
            "location:    in {}'s exchange location {}",
            l.partner, l.pattern
        );
    }
    let _ = writeln!(out, "\ndetections:");
    if a.detections.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for d in &a.detections {
        let _ = writeln!(
            out,
            "  {:<22} {:<6} x{} (fires at {}) {:?} confidence -> {}{}",
            d.detector,
            d.category,
            d.count,
            d.min_count,
            d.confidence,
            r.level_name(d.level),
            if d.fired {
                ""
            } else {
                "  [below min_count, ignored]"
            }
        );
        if !d.samples.is_empty() {
            let _ = writeln!(out, "      samples: {}", d.samples.join(", "));
        }
        if !d.locations.is_empty() {
            let _ = writeln!(out, "      where:   {}", d.locations.join(", "));
        }
    }
    let _ = writeln!(
        out,
        "\nsuggested:   {}",
        match r.suggested_level() {
            "" if a.error.is_none() => "(none: no text could be read)",
            "" => "(content unknown)",
            name => name,
        }
    );
    let _ = writeln!(out, "\nverdicts:");
    for v in &r.judgement.verdicts {
        if v.reason.is_empty() {
            let _ = writeln!(out, "  {}", v.code.as_str());
        } else {
            let _ = writeln!(out, "  {}: {}", v.code.as_str(), v.reason);
        }
    }
    if text {
        let _ = writeln!(out, "\nextracted text:");
        for p in &ex.parts {
            let _ = writeln!(out, "--- {} ---", p.describe());
            let _ = writeln!(out, "{}", p.text.trim_end());
        }
        for p in &ex.properties {
            let _ = writeln!(
                out,
                "--- property {} ({}) ---\n{}",
                p.name, p.location, p.value
            );
        }
    }
}
