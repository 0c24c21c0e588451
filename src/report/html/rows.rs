//! The findings as the report's script reads them: one compact JSON array
//! per document, embedded in a `<script type="application/json">` block,
//! and the aggregates the charts need, all taken from `findings.jsonl`
//! one record at a time.

use std::collections::{BTreeMap, BTreeSet};

use std::borrow::Cow;

use serde::Deserialize;

use crate::model::DocumentRecord;
use serde_json::value::RawValue;

/// The key a document without a level counts under, as in `summary.json`.
pub const NO_LEVEL: &str = "none";
/// The key a document without a suggested level counts under.
pub const NO_SUGGESTION: &str = "unknown";
/// The partner filter's value for releases to parties that are no partner.
pub const NOT_A_PARTNER: &str = "(not a partner)";

/// Row columns, in the order of [`row`]'s array; the script reads them by
/// these positions (see `COL` in report.js).
pub const COLUMNS: [&str; 10] = [
    "path",
    "folder",
    "format",
    "level",
    "suggested",
    "verdicts",
    "partners",
    "detectors",
    "excepted",
    "detail",
];

/// What the charts need beyond `summary.json`, counted over every record.
#[derive(Debug, Default)]
pub struct Aggregates {
    /// (labelled level, suggested level) -> documents.
    pub matrix: BTreeMap<(String, String), u64>,
    pub rows: u64,
}

impl Aggregates {
    /// Adds `n` documents labelled `level` and suggested `suggested`.
    pub fn add(&mut self, level: &str, suggested: &str, n: u64) {
        *self
            .matrix
            .entry((level.to_string(), suggested.to_string()))
            .or_default() += n;
        self.rows += n;
    }

    /// Counts one line of `findings.jsonl`.
    pub fn count(&mut self, line: &str) -> Result<(), NotARecord> {
        let levels: LevelsOnly = serde_json::from_str(line).map_err(|_| NotARecord)?;
        let key = (
            level_key(levels.level.as_deref()).to_string(),
            suggested_key(levels.suggested_level.as_deref()).to_string(),
        );
        *self.matrix.entry(key).or_default() += 1;
        self.rows += 1;
        Ok(())
    }
}

/// A line of `findings.jsonl` that is not a findings record. Carries no
/// text: the line came from documents.
#[derive(Debug)]
pub struct NotARecord;

impl From<NotARecord> for std::io::Error {
    fn from(_: NotARecord) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, "not a findings record")
    }
}

/// The two fields the level matrix needs; serde skips the rest of the line
/// without building it.
#[derive(Deserialize)]
struct LevelsOnly<'a> {
    #[serde(borrow, default)]
    level: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    suggested_level: Option<Cow<'a, str>>,
}

/// The fields of a findings record the row is made of, borrowed from the
/// line. The evidence fields stay raw JSON text and are copied as they are,
/// so a record is never built into a tree of values.
#[derive(Deserialize)]
struct Finding<'a> {
    #[serde(borrow, default)]
    path: Cow<'a, str>,
    #[serde(borrow, default)]
    format: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    level: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    suggested_level: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    verdicts: Vec<Cow<'a, str>>,
    #[serde(borrow, default)]
    excepted: Vec<Cow<'a, str>>,
    #[serde(borrow, default)]
    detections: Option<&'a RawValue>,
    #[serde(borrow, default)]
    doc_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error_detail: Option<&'a RawValue>,
    #[serde(borrow, default)]
    exchange_location: Option<&'a RawValue>,
    #[serde(borrow, default)]
    label_sources: Option<&'a RawValue>,
    #[serde(borrow, default)]
    modified: Option<&'a RawValue>,
    #[serde(borrow, default)]
    owner: Option<&'a RawValue>,
    #[serde(borrow, default)]
    parts_read: Option<&'a RawValue>,
    #[serde(borrow, default)]
    reasons: Option<&'a RawValue>,
    #[serde(borrow, default)]
    release_checks: Option<&'a RawValue>,
    #[serde(borrow, default)]
    sha256: Option<&'a RawValue>,
    #[serde(borrow, default)]
    size: Option<&'a RawValue>,
    #[serde(borrow, default)]
    text_chars: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tlp: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tlp_markings: Option<&'a RawValue>,
}

fn level_key(level: Option<&str>) -> &str {
    level.filter(|l| !l.is_empty()).unwrap_or(NO_LEVEL)
}

fn suggested_key(suggested: Option<&str>) -> &str {
    suggested.filter(|l| !l.is_empty()).unwrap_or(NO_SUGGESTION)
}

/// The top-level folder a document counts under in `summary.json`'s
/// `by_folder`: the walked PATH it lies in, plus the first folder below it
/// (a file directly in the PATH, or an archive there, counts under the PATH).
pub fn folder_of(path: &str, roots: &[String]) -> String {
    let outer = path.split("!/").next().unwrap_or(path);
    let best = roots
        .iter()
        .filter_map(|root| below(outer, root).map(|rest| (root, rest)))
        .max_by_key(|(root, _)| root.len());
    match best {
        Some((root, rest)) => match rest.split_once('/') {
            Some((first, _)) => join(root, first),
            None => root.clone(),
        },
        None => String::new(),
    }
}

/// `path` relative to `root`, when it lies below it.
fn below<'a>(path: &'a str, root: &str) -> Option<&'a str> {
    if root.ends_with('/') {
        return path.strip_prefix(root);
    }
    path.strip_prefix(root)?.strip_prefix('/')
}

fn join(root: &str, name: &str) -> String {
    if root.ends_with('/') {
        format!("{root}{name}")
    } else {
        format!("{root}/{name}")
    }
}

#[derive(Deserialize)]
struct PartnerOnly<'a> {
    #[serde(borrow, default)]
    partner: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct DetectionBrief<'a> {
    #[serde(borrow, default)]
    detector: Cow<'a, str>,
    #[serde(default)]
    fired: bool,
}

/// Parses a raw evidence field, `T::default()` when it is missing.
fn parse_raw<'a, T: Deserialize<'a> + Default>(raw: Option<&'a RawValue>) -> Result<T, NotARecord> {
    match raw {
        Some(raw) => serde_json::from_str(raw.get()).map_err(|_| NotARecord),
        None => Ok(T::default()),
    }
}

/// The parties a document was released to, by partner (or as no partner),
/// and the partner of the exchange location it lies in.
fn partners<'a>(finding: &Finding<'a>) -> Result<BTreeSet<Cow<'a, str>>, NotARecord> {
    let checks: Vec<PartnerOnly> = parse_raw(finding.release_checks)?;
    let mut names: BTreeSet<Cow<str>> = checks
        .into_iter()
        .map(|c| c.partner.unwrap_or(Cow::Borrowed(NOT_A_PARTNER)))
        .collect();
    let location: Option<PartnerOnly> = parse_raw(finding.exchange_location)?;
    if let Some(partner) = location.and_then(|l| l.partner) {
        names.insert(partner);
    }
    Ok(names)
}

fn fired_detectors<'a>(finding: &Finding<'a>) -> Result<Vec<Cow<'a, str>>, NotARecord> {
    let detections: Vec<DetectionBrief> = parse_raw(finding.detections)?;
    Ok(detections
        .into_iter()
        .filter(|d| d.fired)
        .map(|d| d.detector)
        .collect())
}

/// The evidence shown when a row is opened: these fields of the record,
/// when not null or empty, in this (alphabetical) order.
const DETAIL_KEYS: [&str; 16] = [
    "detections",
    "doc_id",
    "error",
    "error_detail",
    "exchange_location",
    "label_sources",
    "modified",
    "owner",
    "parts_read",
    "reasons",
    "release_checks",
    "sha256",
    "size",
    "text_chars",
    "tlp",
    "tlp_markings",
];

fn detail_field<'a>(finding: &Finding<'a>, key: &str) -> Option<&'a RawValue> {
    let raw = match key {
        "detections" => finding.detections,
        "doc_id" => finding.doc_id,
        "error" => finding.error,
        "error_detail" => finding.error_detail,
        "exchange_location" => finding.exchange_location,
        "label_sources" => finding.label_sources,
        "modified" => finding.modified,
        "owner" => finding.owner,
        "parts_read" => finding.parts_read,
        "reasons" => finding.reasons,
        "release_checks" => finding.release_checks,
        "sha256" => finding.sha256,
        "size" => finding.size,
        "text_chars" => finding.text_chars,
        "tlp" => finding.tlp,
        "tlp_markings" => finding.tlp_markings,
        _ => None,
    }?;
    (!matches!(raw.get(), "null" | "[]")).then_some(raw)
}

/// One line of `findings.jsonl` as the table's row array (see
/// [`COLUMNS`]), script-safe JSON appended to `out`.
pub fn write_row(line: &str, roots: &[String], out: &mut Vec<u8>) -> Result<(), NotARecord> {
    let finding: Finding = serde_json::from_str(line).map_err(|_| NotARecord)?;
    let start = out.len();
    out.push(b'[');
    push_string(out, &finding.path);
    out.push(b',');
    push_string(out, &folder_of(&finding.path, roots));
    out.push(b',');
    push_string(out, finding.format.as_deref().unwrap_or_default());
    out.push(b',');
    push_string(out, level_key(finding.level.as_deref()));
    out.push(b',');
    push_string(out, suggested_key(finding.suggested_level.as_deref()));
    out.push(b',');
    push_strings(out, &finding.verdicts);
    out.push(b',');
    push_strings(out, partners(&finding)?.iter());
    out.push(b',');
    push_strings(out, &fired_detectors(&finding)?);
    out.push(b',');
    push_strings(out, &finding.excepted);
    out.push(b',');
    push_detail(out, &finding);
    out.push(b']');
    make_script_safe(out, start);
    Ok(())
}

/// Where a findings line holds each field of [`DETAIL_KEYS`], noted as
/// the line is written.
#[derive(Default)]
pub struct DetailAt([Option<std::ops::Range<usize>>; DETAIL_KEYS.len()]);

impl DetailAt {
    pub fn note(&mut self, key: &str, at: std::ops::Range<usize>) {
        if let Some(i) = DETAIL_KEYS.iter().position(|k| *k == key) {
            self.0[i] = Some(at);
        }
    }
}

/// The row [`write_row`] makes of the findings line `line` of `record`,
/// taken from the record and from the line's fields where `detail` says
/// they are, without parsing the line.
pub fn write_row_of(
    record: &DocumentRecord,
    line: &[u8],
    detail: &DetailAt,
    roots: &[String],
    out: &mut Vec<u8>,
) {
    let j = &record.judgement;
    let start = out.len();
    out.push(b'[');
    push_string(out, &record.path);
    out.push(b',');
    push_string(out, &folder_of(&record.path, roots));
    out.push(b',');
    push_string(out, record.format());
    out.push(b',');
    push_string(out, level_key(record.level()));
    out.push(b',');
    push_string(out, suggested_key(Some(record.suggested_level())));
    out.push(b',');
    push_strs(out, j.verdicts.iter().map(|v| v.code.as_str()));
    out.push(b',');
    let mut partners: BTreeSet<&str> = j
        .releases
        .iter()
        .map(|e| e.partner.as_deref().unwrap_or(NOT_A_PARTNER))
        .collect();
    if let Some(location) = &j.location {
        partners.insert(&location.partner);
    }
    push_strs(out, partners);
    out.push(b',');
    let detections = &record.analysis.detections;
    push_strs(
        out,
        detections
            .iter()
            .filter(|d| d.fired)
            .map(|d| d.detector.as_str()),
    );
    out.push(b',');
    push_strs(out, j.excepted().iter().map(String::as_str));
    out.push(b',');
    out.push(b'{');
    let mut first = true;
    for (key, at) in DETAIL_KEYS.iter().zip(&detail.0) {
        let Some(raw) = at.as_ref().and_then(|at| line.get(at.clone())) else {
            continue;
        };
        if matches!(raw, b"null" | b"[]") {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        push_string(out, key);
        out.push(b':');
        out.extend_from_slice(raw);
    }
    out.push(b'}');
    out.push(b']');
    make_script_safe(out, start);
}

fn push_strs<'s>(out: &mut Vec<u8>, items: impl IntoIterator<Item = &'s str>) {
    out.push(b'[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_string(out, item);
    }
    out.push(b']');
}

fn push_string(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(&mut *out, text).expect("writing to a Vec cannot fail");
}

fn push_strings<'s>(out: &mut Vec<u8>, items: impl IntoIterator<Item = &'s Cow<'s, str>>) {
    out.push(b'[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_string(out, item);
    }
    out.push(b']');
}

fn push_detail(out: &mut Vec<u8>, finding: &Finding) {
    out.push(b'{');
    let mut first = true;
    for key in DETAIL_KEYS {
        let Some(raw) = detail_field(finding, key) else {
            continue;
        };
        if !first {
            out.push(b',');
        }
        first = false;
        push_string(out, key);
        out.push(b':');
        out.extend_from_slice(raw.get().as_bytes());
    }
    out.push(b'}');
}

/// Rewrites `out[start..]`, JSON text, so that it can stand inside a
/// `<script>` element: `<`, `>` and `&` as \u escapes, so that no
/// `</script>` or `<!--` in a value ends or changes the block, and
/// U+2028/U+2029 too, which older script parsers take for line ends.
/// Those characters appear only inside JSON strings, where the escapes
/// mean the same.
fn make_script_safe(out: &mut Vec<u8>, start: usize) {
    let Some(first) = next_unsafe(&out[start..]) else {
        return;
    };
    let text = out.split_off(start + first);
    let mut rest = &text[..];
    while let Some(i) = next_unsafe(rest) {
        out.extend_from_slice(&rest[..i]);
        let (escape, len): (&[u8], usize) = match &rest[i..] {
            [b'<', ..] => (b"\\u003c", 1),
            [b'>', ..] => (b"\\u003e", 1),
            [b'&', ..] => (b"\\u0026", 1),
            [0xE2, 0x80, 0xA8, ..] => (b"\\u2028", 3),
            [0xE2, 0x80, 0xA9, ..] => (b"\\u2029", 3),
            _ => (&rest[i..=i], 1),
        };
        out.extend_from_slice(escape);
        rest = &rest[i + len..];
    }
    out.extend_from_slice(rest);
}

/// Where the next byte that may need an escape is: `<`, `>`, `&`, or 0xE2,
/// the first byte of U+2028 and U+2029 (and of other characters, which
/// are copied as they are).
fn next_unsafe(text: &[u8]) -> Option<usize> {
    let markup = memchr::memchr3(b'<', b'>', b'&', text);
    let within = markup.map_or(text, |i| &text[..i]);
    memchr::memchr(0xE2, within).or(markup)
}

/// [`make_script_safe`] for a whole value (the page's metadata block).
pub fn script_safe_json(value: &serde_json::Value) -> String {
    let mut out = serde_json::to_vec(value).expect("a JSON value always serializes");
    make_script_safe(&mut out, 0);
    String::from_utf8(out).expect("escaping keeps UTF-8 whole")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn folders_match_the_summarys_by_folder() {
        let roots = vec!["examples".to_string(), "/srv/share/".to_string()];
        assert_eq!(folder_of("examples/hr/a.docx", &roots), "examples/hr");
        assert_eq!(folder_of("examples/hr/x/y/a.docx", &roots), "examples/hr");
        assert_eq!(folder_of("examples/a.docx", &roots), "examples");
        assert_eq!(folder_of("examples/a.zip!/d/m.txt", &roots), "examples");
        assert_eq!(
            folder_of("/srv/share/legal/a.pdf", &roots),
            "/srv/share/legal"
        );
        assert_eq!(folder_of("examples2/a.docx", &roots), "");
    }

    fn row_of(record: serde_json::Value, roots: &[String]) -> serde_json::Value {
        let mut out = Vec::new();
        write_row(&record.to_string(), roots, &mut out).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn script_json_cannot_close_the_script_element() {
        let value = json!(["</script><!--&\u{2028}\u{2029}\"x\""]);
        let safe = script_safe_json(&value);
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'));
        assert!(!safe.contains('\u{2028}') && !safe.contains('\u{2029}'));
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn a_rows_copied_evidence_is_script_safe_too() {
        let hostile = "</script><img src=x>&\u{2028}é\"\\";
        let record = json!({
            "path": format!("s/{hostile}.docx"), "format": "docx",
            "reasons": [{"code": "UNLABELED", "reason": hostile}],
            "error_detail": hostile,
        });
        let mut out = Vec::new();
        write_row(&record.to_string(), &["s".to_string()], &mut out).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(!text.contains('<') && !text.contains('>') && !text.contains('&'));
        assert!(!text.contains('\u{2028}'));
        let row: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(row[0], format!("s/{hostile}.docx"));
        assert_eq!(row[9]["reasons"][0]["reason"], hostile);
        assert_eq!(row[9]["error_detail"], hostile);
    }

    #[test]
    fn a_row_names_partners_and_fired_detectors_only() {
        let record = json!({
            "path": "s/x/a.docx", "format": "docx", "level": null,
            "suggested_level": "", "verdicts": ["UNLABELED"],
            "release_checks": [{"partner": null, "named": "A*** ***"}, {"partner": "Acme"}],
            "exchange_location": {"path": "s/x", "partner": "Beta"},
            "detections": [{"detector": "iban", "fired": true}, {"detector": "email", "fired": false}],
            "size": 12, "tlp": null, "tlp_markings": [], "unknown_field": 1,
        });
        let row = row_of(record, &["s".to_string()]);
        assert_eq!(row[1], "s/x");
        assert_eq!(row[3], NO_LEVEL);
        assert_eq!(row[4], NO_SUGGESTION);
        assert_eq!(row[6], json!(["(not a partner)", "Acme", "Beta"]));
        assert_eq!(row[7], json!(["iban"]));
        let detail = row[9].as_object().unwrap();
        let keys: Vec<&str> = detail.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["detections", "exchange_location", "release_checks", "size"],
            "null, empty and unknown fields are left out"
        );
    }

    #[test]
    fn a_line_that_is_no_record_is_refused() {
        let mut out = Vec::new();
        assert!(write_row("{\"path\": 3}", &[], &mut out).is_err());
        assert!(write_row("not json", &[], &mut out).is_err());
        assert!(Aggregates::default().count("[1,2]").is_err());
    }
}
