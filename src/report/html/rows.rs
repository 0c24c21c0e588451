//! The findings as the report's script reads them: one compact JSON array
//! per document, embedded in a `<script type="application/json">` block,
//! and the aggregates the charts need, all taken from `findings.jsonl`
//! one record at a time.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

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
    pub fn count(&mut self, record: &Value) {
        let key = (level_key(record), suggested_key(record));
        *self.matrix.entry(key).or_default() += 1;
        self.rows += 1;
    }
}

fn level_key(record: &Value) -> String {
    text(record, "level")
        .filter(|l| !l.is_empty())
        .unwrap_or(NO_LEVEL)
        .to_string()
}

fn suggested_key(record: &Value) -> String {
    text(record, "suggested_level")
        .filter(|l| !l.is_empty())
        .unwrap_or(NO_SUGGESTION)
        .to_string()
}

fn text<'a>(record: &'a Value, key: &str) -> Option<&'a str> {
    record.get(key).and_then(Value::as_str)
}

fn strings(record: &Value, key: &str) -> Vec<Value> {
    match record.get(key) {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    }
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

/// The parties a document was released to, by partner (or as no partner),
/// and the partner of the exchange location it lies in.
fn partners(record: &Value) -> Vec<Value> {
    let mut names = BTreeSet::new();
    if let Some(Value::Array(checks)) = record.get("release_checks") {
        for check in checks {
            names.insert(text(check, "partner").unwrap_or(NOT_A_PARTNER).to_string());
        }
    }
    if let Some(partner) = record
        .get("exchange_location")
        .and_then(|l| text(l, "partner"))
    {
        names.insert(partner.to_string());
    }
    names.into_iter().map(Value::String).collect()
}

fn fired_detectors(record: &Value) -> Vec<Value> {
    let Some(Value::Array(detections)) = record.get("detections") else {
        return Vec::new();
    };
    detections
        .iter()
        .filter(|d| d.get("fired") == Some(&Value::Bool(true)))
        .filter_map(|d| d.get("detector").cloned())
        .collect()
}

/// The evidence shown when a row is opened: the record less what the row
/// already holds.
fn detail(record: &Value) -> Value {
    const KEYS: [&str; 16] = [
        "size",
        "sha256",
        "modified",
        "owner",
        "doc_id",
        "reasons",
        "label_sources",
        "detections",
        "release_checks",
        "exchange_location",
        "tlp",
        "tlp_markings",
        "error",
        "error_detail",
        "parts_read",
        "text_chars",
    ];
    let mut out = Map::new();
    for key in KEYS {
        if let Some(value) = record.get(key).filter(|v| !is_empty(v)) {
            out.insert(key.to_string(), value.clone());
        }
    }
    Value::Object(out)
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// One document as the table's row array (see [`COLUMNS`]).
pub fn row(record: &Value, roots: &[String]) -> Value {
    let path = text(record, "path").unwrap_or_default();
    json!([
        path,
        folder_of(path, roots),
        text(record, "format").unwrap_or_default(),
        level_key(record),
        suggested_key(record),
        strings(record, "verdicts"),
        partners(record),
        fired_detectors(record),
        strings(record, "excepted"),
        detail(record),
    ])
}

/// JSON that can stand inside a `<script>` element: `<`, `>` and `&` as
/// \u escapes, so that no `</script>` or `<!--` in a value ends or changes
/// the block, and U+2028/U+2029 too, which older script parsers take for
/// line ends. Those characters appear only inside JSON strings, where the
/// escapes mean the same.
pub fn script_safe_json(value: &Value) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn script_json_cannot_close_the_script_element() {
        let value = json!(["</script><!--&\u{2028}\u{2029}\"x\""]);
        let safe = script_safe_json(&value);
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'));
        assert!(!safe.contains('\u{2028}') && !safe.contains('\u{2029}'));
        let back: Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn a_row_names_partners_and_fired_detectors_only() {
        let record = json!({
            "path": "s/x/a.docx", "format": "docx", "level": null,
            "suggested_level": "", "verdicts": ["UNLABELED"],
            "release_checks": [{"partner": null, "named": "A*** ***"}, {"partner": "Acme"}],
            "detections": [{"detector": "iban", "fired": true}, {"detector": "email", "fired": false}],
        });
        let row = row(&record, &["s".to_string()]);
        assert_eq!(row[1], "s/x");
        assert_eq!(row[3], NO_LEVEL);
        assert_eq!(row[4], NO_SUGGESTION);
        assert_eq!(row[6], json!(["(not a partner)", "Acme"]));
        assert_eq!(row[7], json!(["iban"]));
    }
}
