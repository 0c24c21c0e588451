//! `findings.jsonl`: one JSON object per document with the CSV's fields plus
//! the full evidence.

use std::io::Write;

use serde::Serialize;

use crate::record::{Detection, DocumentRecord, LabelSource, ReleaseMarking, TlpMarking, Verdict};

#[derive(Serialize)]
struct Line<'a> {
    id: &'a str,
    path: &'a str,
    format: &'a str,
    size: u64,
    sha256: &'a str,
    level: Option<&'a str>,
    label_sources: &'a [LabelSource],
    released_to: &'a [String],
    tlp: Option<&'a str>,
    suggested_level: &'a str,
    detections: &'a [Detection],
    verdicts: Vec<&'a str>,
    reasons: &'a [Verdict],
    error: Option<&'a str>,
    error_detail: Option<&'a str>,
    releases: &'a [ReleaseMarking],
    tlp_markings: &'a [TlpMarking],
    parts_read: usize,
    text_chars: usize,
}

pub fn write_line(out: &mut impl Write, r: &DocumentRecord) -> std::io::Result<()> {
    let line = Line {
        id: &r.id,
        path: &r.path,
        format: &r.format,
        size: r.size,
        sha256: &r.sha256,
        level: r.level.as_deref(),
        label_sources: &r.label_sources,
        released_to: &r.released_to,
        tlp: r.tlp.map(|t| t.as_str()),
        suggested_level: &r.suggested_level,
        detections: &r.detections,
        verdicts: r.verdicts.iter().map(|v| v.code.as_str()).collect(),
        reasons: &r.verdicts,
        error: r.error.as_ref().map(|e| e.kind.as_str()),
        error_detail: r.error.as_ref().map(|e| e.detail.as_str()),
        releases: &r.releases,
        tlp_markings: &r.tlp_markings,
        parts_read: r.parts_read,
        text_chars: r.text_chars,
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
}
