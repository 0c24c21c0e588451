//! `findings.jsonl`: one JSON object per document with the CSV's fields plus
//! the full evidence.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::html::RowsAhead;
use super::{RecordSink, Summary};
use crate::model::{
    Confidence, Detection, DocumentRecord, LabelKind, LabelSource, LocationEvidence,
    ReleaseEvidence, ReleaseMarking, ReleaseStatus, TlpMarking, Verdict,
};

/// Writes `findings.jsonl`, one line per record, and hands each line to
/// report.html's rows when the run renders them ahead.
pub struct JsonlSink {
    out: super::ReportWriter,
    rows: Option<RowsAhead>,
    /// The line being written, kept for its capacity.
    line: Vec<u8>,
}

impl JsonlSink {
    pub fn create(path: &Path) -> std::io::Result<JsonlSink> {
        Ok(JsonlSink {
            out: super::create_buffered(path)?,
            rows: None,
            line: Vec::new(),
        })
    }

    /// Also renders report.html's rows from each line as it is written.
    pub fn rendering_rows(mut self, rows: RowsAhead) -> JsonlSink {
        self.rows = Some(rows);
        self
    }
}

impl RecordSink for JsonlSink {
    fn record(&mut self, record: &DocumentRecord) -> std::io::Result<()> {
        self.line.clear();
        write_line(&mut self.line, record)?;
        self.out.write_all(&self.line)?;
        match &mut self.rows {
            Some(rows) => rows.add(&self.line),
            None => Ok(()),
        }
    }

    fn finish(&mut self, _summary: &Summary) -> std::io::Result<()> {
        if let Some(rows) = &mut self.rows {
            rows.finish()?;
        }
        self.out.flush()
    }
}

/// A label source with its level by name.
#[derive(Serialize)]
struct LabelLine<'a> {
    kind: LabelKind,
    value: &'a str,
    level: Option<&'a str>,
    location: &'a str,
}

/// A detection with its level by name.
#[derive(Serialize)]
struct DetectionLine<'a> {
    detector: &'a str,
    category: &'a str,
    count: usize,
    min_count: usize,
    fired: bool,
    level: &'a str,
    confidence: Confidence,
    samples: &'a [String],
    locations: &'a [String],
}

/// A record's label sources, serialised one by one (no list built per record).
struct LabelLines<'a>(&'a DocumentRecord);

impl Serialize for LabelLines<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        s.collect_seq(r.analysis.labels.sources.iter().map(|l| label_line(r, l)))
    }
}

/// A record's detections, serialised one by one.
struct DetectionLines<'a>(&'a DocumentRecord);

impl Serialize for DetectionLines<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        s.collect_seq(r.analysis.detections.iter().map(|d| detection_line(r, d)))
    }
}

fn label_line<'a>(r: &'a DocumentRecord, s: &'a LabelSource) -> LabelLine<'a> {
    LabelLine {
        kind: s.kind,
        value: &s.value,
        level: s.level.map(|l| r.level_name(l)),
        location: &s.location,
    }
}

fn detection_line<'a>(r: &'a DocumentRecord, d: &'a Detection) -> DetectionLine<'a> {
    DetectionLine {
        detector: &d.detector,
        category: &d.category,
        count: d.count,
        min_count: d.min_count,
        fired: d.fired,
        level: r.level_name(d.level),
        confidence: d.confidence,
        samples: &d.samples,
        locations: &d.locations,
    }
}

/// One named party of a release and the agreement judged for it.
#[derive(Serialize)]
struct ReleaseCheckLine<'a> {
    partner: Option<&'a str>,
    named: &'a str,
    status: ReleaseStatus,
    agreement: Option<&'a str>,
    max_level: Option<&'a str>,
    valid_from: Option<String>,
    valid_until: Option<String>,
}

/// A record's release checks, serialised one by one.
struct ReleaseCheckLines<'a>(&'a DocumentRecord);

impl Serialize for ReleaseCheckLines<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        s.collect_seq(
            r.judgement
                .releases
                .iter()
                .map(|e| release_check_line(r, e)),
        )
    }
}

fn release_check_line<'a>(r: &'a DocumentRecord, e: &'a ReleaseEvidence) -> ReleaseCheckLine<'a> {
    ReleaseCheckLine {
        partner: e.partner.as_deref(),
        named: &e.named,
        status: e.status,
        agreement: e.agreement.as_deref(),
        max_level: e.max_level.map(|l| r.level_name(l)),
        valid_from: e.valid_from.map(|d| d.to_string()),
        valid_until: e.valid_until.map(|d| d.to_string()),
    }
}

#[derive(Serialize)]
struct LocationLine<'a> {
    path: &'a str,
    partner: &'a str,
}

fn location_line(l: &LocationEvidence) -> LocationLine<'_> {
    LocationLine {
        path: &l.pattern,
        partner: &l.partner,
    }
}

#[derive(Serialize)]
struct Line<'a> {
    id: &'a str,
    path: &'a str,
    format: &'a str,
    size: u64,
    sha256: &'a str,
    level: Option<&'a str>,
    label_sources: LabelLines<'a>,
    released_to: &'a [String],
    tlp: Option<&'a str>,
    suggested_level: &'a str,
    detections: DetectionLines<'a>,
    verdicts: Vec<&'a str>,
    /// `CODE=EXCEPTION_ID` of each verdict a policy exception accepts.
    excepted: Vec<String>,
    reasons: &'a [Verdict],
    error: Option<&'a str>,
    error_detail: Option<&'a str>,
    releases: &'a [ReleaseMarking],
    tlp_markings: &'a [TlpMarking],
    parts_read: usize,
    text_chars: usize,
    modified: Option<String>,
    owner: Option<&'a str>,
    doc_id: &'a str,
    release_checks: ReleaseCheckLines<'a>,
    exchange_location: Option<LocationLine<'a>>,
}

pub fn write_line(out: &mut impl Write, r: &DocumentRecord) -> std::io::Result<()> {
    let a = &r.analysis;
    let j = &r.judgement;
    let line = Line {
        id: &r.id,
        path: &r.path,
        format: r.format(),
        size: a.size,
        sha256: &a.sha256,
        level: r.level(),
        label_sources: LabelLines(r),
        released_to: &j.released_to,
        tlp: a.labels.strictest_tlp().map(|t| t.as_str()),
        suggested_level: r.suggested_level(),
        detections: DetectionLines(r),
        verdicts: j.verdicts.iter().map(|v| v.code.as_str()).collect(),
        excepted: j.excepted(),
        reasons: &j.verdicts,
        error: a.error.as_ref().map(|e| e.kind.as_str()),
        error_detail: a.error.as_ref().map(|e| e.detail.as_str()),
        releases: &a.labels.releases,
        tlp_markings: &a.labels.tlp,
        parts_read: a.parts_read,
        text_chars: a.text_chars,
        modified: r.origin.modified.map(|_| r.origin.modified_iso()),
        owner: r.origin.owner.as_deref(),
        doc_id: &r.id,
        release_checks: ReleaseCheckLines(r),
        exchange_location: j.location.as_ref().map(location_line),
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
}
