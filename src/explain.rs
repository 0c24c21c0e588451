//! `labelscan explain FILE`: everything labelscan saw in one file and why
//! each verdict was given, for a human.

use std::fmt::Write as _;

use crate::extract::{Extracted, Format, Outcome};
use crate::pipeline::{build_record, extract_guarded, Context};
use crate::policy::hex_sha256;
use crate::record::DocumentRecord;

/// Renders the explanation of one file's bytes. `text` adds the extracted text part by part.
pub fn explain(path: &str, bytes: &[u8], ctx: &Context, text: bool) -> String {
    let outcome = extract_guarded(bytes, path, &ctx.limits);
    let relative = std::path::Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut out = String::new();
    match outcome {
        Outcome::Unsupported(reason) => {
            let _ = writeln!(
                out,
                "{path}: not a supported document ({reason}); a scan skips it"
            );
        }
        Outcome::Document(format, extracted) => {
            let record = build_record(
                path,
                &relative,
                format,
                bytes.len() as u64,
                hex_sha256(bytes),
                &extracted,
                ctx,
            );
            render(&mut out, &record, &extracted, text);
        }
        Outcome::Archive(members) => {
            let _ = writeln!(out, "{path}: zip archive with {} members\n", members.len());
            for m in members {
                if m.format == Format::Unsupported {
                    let _ = writeln!(out, "{path}!/{}: skipped (unsupported)\n", m.path);
                    continue;
                }
                let record = build_record(
                    &format!("{path}!/{}", m.path),
                    &format!("{relative}!/{}", m.path),
                    m.format,
                    m.size,
                    m.sha256,
                    &m.extracted,
                    ctx,
                );
                render(&mut out, &record, &m.extracted, text);
                out.push('\n');
            }
        }
    }
    out
}

fn render(out: &mut String, r: &DocumentRecord, ex: &Extracted, text: bool) {
    let _ = writeln!(out, "file:        {}", r.path);
    let _ = writeln!(
        out,
        "format:      {}   size: {} bytes   sha256: {}",
        r.format, r.size, r.sha256
    );
    if let Some(e) = &r.error {
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
        r.text_chars
    );
    let _ = writeln!(out, "\nlabel sources:");
    if r.label_sources.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for s in &r.label_sources {
        let _ = writeln!(
            out,
            "  {:<9} \"{}\" -> {}   at {}",
            s.kind.as_str(),
            s.value,
            s.level.as_deref().unwrap_or("(no level in the scheme)"),
            s.location
        );
    }
    for rel in &r.releases {
        let _ = writeln!(
            out,
            "  release   RELEASED TO: {}   at {}",
            rel.names.join(", "),
            rel.location
        );
    }
    for t in &r.tlp_markings {
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
    let _ = writeln!(
        out,
        "\nlevel:       {}",
        r.level.as_deref().unwrap_or("(none)")
    );
    if !r.released_to.is_empty() {
        let _ = writeln!(out, "released to: {}", r.released_to.join(", "));
    }
    let _ = writeln!(out, "\ndetections:");
    if r.detections.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for d in &r.detections {
        let _ = writeln!(
            out,
            "  {:<22} {:<6} x{} (fires at {}) {:?} confidence -> {}{}",
            d.detector,
            d.category,
            d.count,
            d.min_count,
            d.confidence,
            d.level,
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
        if r.suggested_level.is_empty() {
            "(content unknown)"
        } else {
            &r.suggested_level
        }
    );
    let _ = writeln!(out, "\nverdicts:");
    for v in &r.verdicts {
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
