//! `findings.jsonl`: one JSON object per document with the CSV's fields plus
//! the full evidence.

use std::io::Write;
use std::ops::Range;
use std::path::Path;

use serde::Serialize;

use super::html::RowsAhead;
use super::{RecordSink, Summary};
use crate::model::{
    Confidence, Detection, DocumentRecord, LabelKind, LabelSource, LocationEvidence,
    ReleaseEvidence, ReleaseStatus,
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
        let JsonlSink { out, rows, line } = self;
        line.clear();
        match rows {
            Some(rows) => {
                rows.clear();
                write_line_noting(line, record, &mut |key, at| rows.note(key, at));
                out.write_all(line)?;
                rows.add(record, line)
            }
            None => {
                write_line_noting(line, record, &mut |_, _| {});
                out.write_all(line)
            }
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

pub fn write_line(out: &mut impl Write, r: &DocumentRecord) -> std::io::Result<()> {
    let mut line = Vec::new();
    write_line_noting(&mut line, r, &mut |_, _| {});
    out.write_all(&line)
}

/// Appends the record's line to `out` (its newline included) and calls
/// `noted(key, at)` with where in `out` each field's JSON text is written,
/// so that report.html's rows can take their evidence from the line as it
/// is, without parsing it again. The fields are written one by one, in
/// this order, as serde would write them as one object.
pub fn write_line_noting(
    out: &mut Vec<u8>,
    r: &DocumentRecord,
    noted: &mut dyn FnMut(&'static str, Range<usize>),
) {
    let a = &r.analysis;
    let j = &r.judgement;
    let mut fields = Fields {
        out,
        first: true,
        noted,
    };
    fields.add("id", &r.id);
    fields.add("path", &r.path);
    fields.add("format", r.format());
    fields.add("size", &a.size);
    fields.add("sha256", &a.sha256);
    fields.add("level", &r.level());
    fields.add("label_sources", &LabelLines(r));
    fields.add("released_to", &j.released_to);
    fields.add("tlp", &a.labels.strictest_tlp().map(|t| t.as_str()));
    fields.add("suggested_level", r.suggested_level());
    fields.add("detections", &DetectionLines(r));
    fields.add("verdicts", &VerdictCodes(r));
    fields.add("excepted", &j.excepted());
    fields.add("reasons", &j.verdicts);
    fields.add("error", &a.error.as_ref().map(|e| e.kind.as_str()));
    fields.add("error_detail", &a.error.as_ref().map(|e| e.detail.as_str()));
    fields.add("releases", &a.labels.releases);
    fields.add("tlp_markings", &a.labels.tlp);
    fields.add("parts_read", &a.parts_read);
    fields.add("text_chars", &a.text_chars);
    fields.add(
        "modified",
        &r.origin.modified.map(|_| r.origin.modified_iso()),
    );
    fields.add("owner", &r.origin.owner.as_deref());
    fields.add("doc_id", &r.id);
    fields.add("release_checks", &ReleaseCheckLines(r));
    fields.add("exchange_location", &j.location.as_ref().map(location_line));
    fields.out.extend_from_slice(b"}\n");
}

/// A JSON object written a field at a time.
struct Fields<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
    noted: &'o mut dyn FnMut(&'static str, Range<usize>),
}

impl Fields<'_> {
    fn add<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) {
        self.out.push(if self.first { b'{' } else { b',' });
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        let start = self.out.len();
        serde_json::to_writer(&mut *self.out, value).expect("a record always serializes");
        (self.noted)(key, start..self.out.len());
    }
}

/// A record's verdict codes, serialised one by one.
struct VerdictCodes<'a>(&'a DocumentRecord);

impl Serialize for VerdictCodes<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.judgement.verdicts.iter().map(|v| v.code.as_str()))
    }
}
