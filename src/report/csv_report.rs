//! `findings.csv`: one row per document, columns in the SPEC's order, safe
//! to open in a spreadsheet.

use crate::record::DocumentRecord;

pub const HEADER: [&str; 13] = [
    "path",
    "format",
    "size",
    "sha256",
    "level",
    "label_sources",
    "released_to",
    "tlp",
    "suggested_level",
    "detections",
    "verdicts",
    "reasons",
    "error",
];

/// The cells of one row, formula-injection safe.
pub fn row(r: &DocumentRecord) -> [String; 13] {
    let sources: Vec<String> = r
        .label_sources
        .iter()
        .map(|s| format!("{}:{}", s.kind.as_str(), s.value))
        .collect();
    let detections: Vec<String> = r
        .detections
        .iter()
        .filter(|d| d.fired)
        .map(|d| format!("{}:{}", d.detector, d.count))
        .collect();
    let codes: Vec<&str> = r.verdicts.iter().map(|v| v.code.as_str()).collect();
    let reasons: Vec<String> = r
        .verdicts
        .iter()
        .filter(|v| !v.reason.is_empty())
        .map(|v| format!("{}: {}", v.code.as_str(), v.reason))
        .collect();
    [
        r.path.clone(),
        r.format.clone(),
        r.size.to_string(),
        r.sha256.clone(),
        r.level.clone().unwrap_or_default(),
        sources.join(";"),
        r.released_to.join(";"),
        r.tlp.map(|t| t.as_str().to_string()).unwrap_or_default(),
        r.suggested_level.clone(),
        detections.join(";"),
        codes.join(";"),
        reasons.join("; "),
        r.error
            .as_ref()
            .map(|e| e.kind.as_str().to_string())
            .unwrap_or_default(),
    ]
    .map(|cell| defuse(&cell))
}

/// Prefixes a cell that a spreadsheet would run as a formula with `'`.
pub fn defuse(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::defuse;

    #[test]
    fn formula_cells_are_defused() {
        assert_eq!(defuse("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(defuse("-1+2"), "'-1+2");
        assert_eq!(defuse("@SUM"), "'@SUM");
        assert_eq!(defuse("\tx"), "'\tx");
        assert_eq!(defuse("Geschäftsbericht.docx"), "Geschäftsbericht.docx");
    }
}
