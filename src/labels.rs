//! Labels: protection levels, release markings and TLP markings, from MSIP
//! metadata, configured custom properties and visible marking lines.
//!
//! A marking line is short and consists of a level name or alias, optionally
//! prefixed ("Classification: Internal") and optionally followed by a release
//! marking and/or a TLP marking, separated by `//`. It is looked for in
//! headers and footers and among the first and last lines of body-like parts;
//! a level word inside an ordinary sentence is not a marking.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use crate::model::hash::normalise_guid;
use crate::model::mask::mask;
use crate::model::text::parse_bool;
use crate::model::{
    Extracted, LabelKind, LabelSource, Level, Part, ReleaseMarking, Tlp, TlpMarking,
};
use crate::policy::Policy;

pub use crate::model::LabelFindings;

/// How many non-empty lines at each edge of a body, page, slide or sheet may carry a marking.
const EDGE_LINES: usize = 3;
/// Lines longer than this are prose, not markings.
const MAX_MARKING_CHARS: usize = 200;
/// A table row with more filled cells than this is data: a cell that is
/// only a level word there is a value ("General" in a column of format or
/// category names), not a marking. Prefixed markings still count.
const MAX_MARKING_ROW_CELLS: usize = 4;

/// Reads every label source of one document.
pub fn find_labels(extracted: &Extracted, policy: &Policy) -> LabelFindings {
    let mut found = LabelFindings::default();
    read_msip(extracted, policy, &mut found);
    read_properties(extracted, policy, &mut found);
    read_markings(&extracted.parts, policy, &mut found);
    dedupe(&mut found);
    found
}

// ---- masking ----

/// Masks every label value and release name that came from the document
/// rather than from the policy, so that a report never copies a card number
/// or an e-mail address planted in a label property or a release marking
/// (unless `--show-values`). Kept as written: level names and aliases and
/// label GUIDs (policy data the judge matches on). Release names are all
/// masked; the judge matches them by key and shows a matched partner's name
/// from the policy, so masking never changes a verdict code.
pub fn mask_label_values(found: &mut LabelFindings, policy: &Policy) {
    for source in &mut found.sources {
        source.value = masked_label_value(&source.value, policy);
    }
    for release in &mut found.releases {
        for name in &mut release.names {
            *name = mask(name);
        }
    }
}

/// A label value as reports may show it: a level name, alias or GUID as
/// written; a sub-label ("Confidential \ Project X") with its parent kept and the
/// rest masked; anything else masked.
fn masked_label_value(value: &str, policy: &Policy) -> String {
    if policy.scheme.level_of(value).is_some() || is_guid(value) {
        return value.to_string();
    }
    if let Some(split) = value.find(['\\', '/']) {
        let (parent, child) = value.split_at(split);
        if policy.scheme.level_of(parent).is_some() {
            return format!("{parent}{}", mask(child));
        }
    }
    mask(value)
}

/// Whether `text` is a bare label GUID (hex digits and dashes, 8-4-4-4-12).
fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

// ---- Microsoft Purview (MSIP) ----

#[derive(Default)]
struct MsipLabel {
    enabled: Option<bool>,
    name: Option<String>,
    site_id: Option<String>,
    location: String,
}

static MSIP_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^MSIP_Label_\{?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\}?_(.+)$")
        .expect("valid regex")
});

fn read_msip(extracted: &Extracted, policy: &Policy, found: &mut LabelFindings) {
    let mut from_props: BTreeMap<String, MsipLabel> = BTreeMap::new();
    for prop in &extracted.properties {
        let name = prop.name.rsplit(':').next().unwrap_or(&prop.name); // XMP `pdfx:` prefix
        let Some(caps) = MSIP_KEY.captures(name) else {
            continue;
        };
        let guid = caps[1].to_ascii_lowercase();
        let label = from_props.entry(guid.clone()).or_insert_with(|| MsipLabel {
            location: format!("{} MSIP_Label_{guid}", prop.location),
            ..Default::default()
        });
        match caps[2].to_ascii_lowercase().as_str() {
            "enabled" => label.enabled = Some(parse_bool(&prop.value)),
            "name" => label.name = Some(prop.value.trim().to_string()),
            "siteid" => label.site_id = Some(normalise_guid(&prop.value)),
            _ => {}
        }
    }

    // MS-OFFCRYPTO 2.6.3: LabelInfo is authoritative for the tenants it
    // covers; custom properties count only for other tenants.
    let covered_sites: Vec<&str> = extracted
        .label_info
        .iter()
        .map(|l| l.site_id.as_str())
        .collect();
    let mut pushed: Vec<&str> = Vec::new();
    for entry in &extracted.label_info {
        if !entry.enabled || entry.removed || pushed.contains(&entry.id.as_str()) {
            continue;
        }
        let name = from_props.get(&entry.id).and_then(|l| l.name.clone());
        push_msip(found, policy, &entry.id, name, &entry.location);
        pushed.push(&entry.id);
    }
    for (guid, label) in &from_props {
        if label.enabled == Some(false) || pushed.contains(&guid.as_str()) {
            continue;
        }
        if let Some(site) = &label.site_id {
            if covered_sites.contains(&site.as_str()) {
                continue;
            }
        }
        if label.enabled.is_none() && label.name.is_none() {
            continue; // stray attribute, no label
        }
        push_msip(found, policy, guid, label.name.clone(), &label.location);
    }
}

fn push_msip(
    found: &mut LabelFindings,
    policy: &Policy,
    guid: &str,
    name: Option<String>,
    location: &str,
) {
    let level = policy.labels.msip.get(guid).copied().or_else(|| {
        name.as_deref().and_then(|n| {
            // Sub-labels are written "Parent \ Child": try the whole name, then the parent.
            policy.scheme.level_of(n).or_else(|| {
                n.split(['\\', '/'])
                    .next()
                    .and_then(|parent| policy.scheme.level_of(parent))
            })
        })
    });
    found.sources.push(LabelSource {
        kind: LabelKind::Msip,
        value: name.unwrap_or_else(|| guid.to_string()),
        level,
        location: location.to_string(),
    });
}

// ---- configured custom properties ----

fn read_properties(extracted: &Extracted, policy: &Policy, found: &mut LabelFindings) {
    let named = |list: &[String], name: &str| {
        let name = name.rsplit(':').next().unwrap_or(name).trim();
        list.iter().any(|n| n.trim().eq_ignore_ascii_case(name))
    };
    for prop in &extracted.properties {
        let location = format!("{} {}", prop.location, prop.name);
        find_tlp(&prop.value, &location, found);
        if named(&policy.labels.release_properties, &prop.name) {
            let names = split_release_names(&prop.value);
            if !names.is_empty() {
                found.releases.push(ReleaseMarking::new(names, location));
            }
            continue;
        }
        if !named(&policy.labels.custom_properties, &prop.name) {
            continue;
        }
        if let Some(marking) = parse_marking_line(&prop.value, policy) {
            apply_marking(marking, LabelKind::Property, &location, found);
            continue;
        }
        // Tools such as Boldon James write "Org Classified | Internal": try each segment.
        let level = policy.scheme.level_of(&prop.value).or_else(|| {
            prop.value
                .split(['|', ';'])
                .rev()
                .find_map(|seg| policy.scheme.level_of(seg))
        });
        if is_placeholder(&prop.value) && level.is_none() {
            continue;
        }
        found.sources.push(LabelSource {
            kind: LabelKind::Property,
            value: prop.value.trim().to_string(),
            level,
            location,
        });
    }
}

/// Values that tools write for "not set".
fn is_placeholder(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "" | "none" | "null" | "n/a" | "-"
    )
}

// ---- visible markings ----

fn read_markings(parts: &[Part], policy: &Policy, found: &mut LabelFindings) {
    for part in parts {
        let location = part.describe();
        if part.kind.is_margin() {
            for line in part.text.lines() {
                scan_marking_line(line, &location, policy, found);
            }
        } else if part.kind.has_marking_edges() {
            for line in edge_lines(&part.text) {
                scan_marking_line(line, &location, policy, found);
            }
        }
    }
}

/// The first and last few non-empty lines of a text, each line once.
/// Reads only the ends of the text, however long it is.
fn edge_lines(text: &str) -> Vec<&str> {
    let non_empty = |l: &&str| !l.trim().is_empty();
    let mut edges: Vec<&str> = text.lines().filter(non_empty).take(EDGE_LINES).collect();
    let first_end = edges.last().map_or(0, |l| l.as_ptr() as usize + l.len());
    let mut tail: Vec<&str> = text
        .lines()
        .rev()
        .filter(non_empty)
        .take(EDGE_LINES)
        .take_while(|l| l.as_ptr() as usize >= first_end)
        .collect();
    tail.reverse();
    edges.extend(tail);
    edges
}

fn scan_marking_line(line: &str, location: &str, policy: &Policy, found: &mut LabelFindings) {
    if line.len() > MAX_MARKING_CHARS * 4 && line.chars().count() > MAX_MARKING_CHARS * 4 {
        return;
    }
    // Too long to be a marking and without cells that could be one (most
    // paragraphs): only a TLP token can count in it.
    if line.len() > MAX_MARKING_CHARS
        && !line.contains('\t')
        && line.chars().count() > MAX_MARKING_CHARS
    {
        if may_hold_tlp(line) {
            find_tlp(line, location, found);
        }
        return;
    }
    // Most edge lines are ordinary text: a cheap word check spares them the
    // marking grammar's regexes.
    if !may_hold_marking(line, policy) {
        return;
    }
    // A table row or a header with left/centre/right sections: each cell may be a marking.
    let mut candidates = vec![line];
    let mut data_row = false;
    if line.contains('\t') {
        candidates.extend(line.split('\t'));
        data_row =
            line.split('\t').filter(|c| !c.trim().is_empty()).count() > MAX_MARKING_ROW_CELLS;
    }
    let mut matched = false;
    for candidate in candidates {
        if matched && candidate.len() == line.len() {
            continue;
        }
        if data_row && policy.scheme.level_of(candidate.trim()).is_some() {
            continue;
        }
        if candidate.chars().count() > MAX_MARKING_CHARS {
            continue;
        }
        if let Some(marking) = parse_marking_line(candidate, policy) {
            apply_marking(marking, LabelKind::Marking, location, found);
            matched = true;
        }
    }
    if !matched {
        // TLP markings count wherever they stand in a marking zone.
        find_tlp(line, location, found);
    }
}

/// Whether `line` has what every TLP token needs: a colon and the letters
/// "tlp" in any case. A necessary condition only, cheaper than the
/// marking-word automaton on a long paragraph.
fn may_hold_tlp(line: &str) -> bool {
    let bytes = line.as_bytes();
    memchr::memchr(b':', bytes).is_some()
        && memchr::memchr2_iter(b't', b'T', bytes)
            .any(|i| bytes.len() >= i + 3 && bytes[i + 1..i + 3].eq_ignore_ascii_case(b"lp"))
}

/// Whether `line` contains a word every marking needs: "tlp", "released"
/// or "releasable", or the first word of a level name or alias. A necessary
/// condition only.
fn may_hold_marking(line: &str, policy: &Policy) -> bool {
    policy
        .scheme
        .marking_words
        .as_ref()
        .is_none_or(|words| words.is_match(line))
}

/// What one marking line says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Marking {
    /// The level word as written, and the level it maps to.
    pub level: Option<(String, Level)>,
    pub released_to: Vec<String>,
    pub tlp: Vec<(Tlp, String)>,
}

static TLP_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\bTLP\s*:\s*(RED|AMBER\s*\+\s*STRICT|AMBER|GREEN|CLEAR|WHITE)\b")
        .expect("valid regex")
});
static RELEASED_TO: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(?:released|releasable)\s+to\s*:?").expect("valid regex"));
static MARKING_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(?:(?:security|information|data|document|protective|sensitivity)\s+)?(?:classification|classified|class|level|label|sensitivity|marking|klassifizierung|klassifikation|einstufung|schutzstufe|schutzklasse|vertraulichkeit(?:sstufe)?|geheimhaltungsstufe)\s*[:=\-–]\s*",
    )
    .expect("valid regex")
});

fn tlp_of(word: &str) -> Tlp {
    let w: String = word
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    match w.as_str() {
        "RED" => Tlp::Red,
        "AMBER+STRICT" => Tlp::AmberStrict,
        "AMBER" => Tlp::Amber,
        "GREEN" => Tlp::Green,
        _ => Tlp::Clear, // CLEAR, and WHITE from TLP 1.0
    }
}

fn find_tlp(text: &str, location: &str, found: &mut LabelFindings) {
    for caps in TLP_TOKEN.captures_iter(text) {
        found.tlp.push(TlpMarking {
            tlp: tlp_of(&caps[1]),
            written: caps[0].to_string(),
            location: location.to_string(),
        });
    }
}

/// Characters that separate the segments of a marking line or pad it.
fn trim_separators(s: &str) -> &str {
    s.trim_matches(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '/' | '|' | '-' | '–' | '—' | ',' | ';' | ':' | '*' | '[' | ']' | '(' | ')' | '.'
            )
    })
}

/// Parses a marking line; `None` if the line is not a marking.
pub fn parse_marking_line(line: &str, policy: &Policy) -> Option<Marking> {
    let line = line.trim();
    if line.is_empty() || line.chars().count() > MAX_MARKING_CHARS {
        return None;
    }
    let mut marking = Marking::default();
    // TLP tokens are cut out first; each becomes a segment boundary.
    let mut rest = String::with_capacity(line.len());
    let mut last = 0;
    for caps in TLP_TOKEN.captures_iter(line) {
        let m = caps.get(0).expect("group 0");
        rest.push_str(&line[last..m.start()]);
        rest.push_str(" // ");
        last = m.end();
        marking.tlp.push((tlp_of(&caps[1]), m.as_str().to_string()));
    }
    rest.push_str(&line[last..]);

    let (head, release) = match RELEASED_TO.find(&rest) {
        Some(m) => (&rest[..m.start()], Some(&rest[m.end()..])),
        None => (rest.as_str(), None),
    };
    if let Some(release) = release {
        let names_text = release.split("//").next().unwrap_or("");
        marking.released_to = split_release_names(names_text);
        // Anything after the names other than separators (and TLP, already cut) is prose.
        let after = release.split("//").skip(1).collect::<Vec<_>>().join(" ");
        if !trim_separators(&after).is_empty() {
            return None;
        }
    }
    // The head is `[prefix] LEVEL` with optional `//` padding, or empty.
    let head = trim_separators(head);
    if !head.is_empty() {
        let segments: Vec<&str> = head
            .split("//")
            .map(trim_separators)
            .filter(|s| !s.is_empty())
            .collect();
        if segments.len() != 1 {
            return None;
        }
        let word = MARKING_PREFIX.replace(segments[0], "");
        let word = trim_separators(&word);
        let level = policy.scheme.level_of(word)?;
        marking.level = Some((word.to_string(), level));
    }
    if marking.level.is_none() && marking.released_to.is_empty() && marking.tlp.is_empty() {
        return None;
    }
    Some(marking)
}

fn apply_marking(marking: Marking, kind: LabelKind, location: &str, found: &mut LabelFindings) {
    if let Some((word, level)) = marking.level {
        found.sources.push(LabelSource {
            kind,
            value: word,
            level: Some(level),
            location: location.to_string(),
        });
    }
    if !marking.released_to.is_empty() {
        found.releases.push(ReleaseMarking::new(
            marking.released_to,
            location.to_string(),
        ));
    }
    for (tlp, written) in marking.tlp {
        found.tlp.push(TlpMarking {
            tlp,
            written,
            location: location.to_string(),
        });
    }
}

static NAME_SEPARATORS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\s*(?:[,;/]|\band\b|&)\s*").expect("valid regex"));

/// Splits "Alpha Partner, Precision Systems and Beta" into names.
pub fn split_release_names(text: &str) -> Vec<String> {
    let text = text.split("//").next().unwrap_or("");
    NAME_SEPARATORS
        .split(text)
        .map(|n| trim_separators(n).to_string())
        .filter(|n| !n.is_empty())
        .collect()
}

/// Keeps one label source per (kind, value, level), one release marking per
/// name set and one TLP marking per (tlp, written): markings repeat on every page.
fn dedupe(found: &mut LabelFindings) {
    let mut seen = Vec::new();
    found.sources.retain(|s| {
        let key = (s.kind, s.value.to_lowercase(), s.level);
        if seen.contains(&key) {
            false
        } else {
            seen.push(key);
            true
        }
    });
    let mut seen_releases: Vec<Vec<String>> = Vec::new();
    found.releases.retain(|r| {
        let key: Vec<String> = r.names.iter().map(|n| n.to_lowercase()).collect();
        if seen_releases.contains(&key) {
            false
        } else {
            seen_releases.push(key);
            true
        }
    });
    let mut seen_tlp = Vec::new();
    found.tlp.retain(|t| {
        let key = (t.tlp, t.written.to_uppercase());
        if seen_tlp.contains(&key) {
            false
        } else {
            seen_tlp.push(key);
            true
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::{LabelInfoEntry, PartKind, Property};
    use crate::model::label::ReleaseName;

    fn written(names: &[ReleaseName]) -> Vec<&str> {
        names.iter().map(|n| n.written.as_str()).collect()
    }

    fn policy() -> Policy {
        Policy::parse(
            r#"
[scheme]
levels = ["PUBLIC", "INTERNAL", "CONFIDENTIAL"]
[scheme.aliases]
"Vertraulich" = "CONFIDENTIAL"
"Company Confidential" = "CONFIDENTIAL"
[labels]
custom_properties = ["Classification"]
release_properties = ["ReleasedTo"]
[labels.msip]
"a6a1e5f2-3c1d-4b7e-9f10-2d3c4b5a6e01" = "CONFIDENTIAL"
"#,
            "test",
        )
        .unwrap()
    }

    #[test]
    fn marking_grammar() {
        let p = policy();
        let m = parse_marking_line(
            "CONFIDENTIAL // RELEASED TO: Alpha Partner, Precision Systems // TLP:AMBER",
            &p,
        )
        .unwrap();
        assert_eq!(m.level.unwrap().1, Level::new(2));
        assert_eq!(m.released_to, vec!["Alpha Partner", "Precision Systems"]);
        assert_eq!(m.tlp[0].0, Tlp::Amber);

        let m = parse_marking_line("Classification: Internal", &p).unwrap();
        assert_eq!(m.level.unwrap(), ("Internal".to_string(), Level::new(1)));
        let m = parse_marking_line("vertraulich", &p).unwrap();
        assert_eq!(m.level.unwrap().1, Level::new(2));
        let m = parse_marking_line("RELEASED TO: A / B and C; D", &p).unwrap();
        assert_eq!(m.released_to, vec!["A", "B", "C", "D"]);
        assert!(m.level.is_none());
        let m = parse_marking_line("TLP:AMBER+STRICT", &p).unwrap();
        assert_eq!(m.tlp[0].0, Tlp::AmberStrict);
    }

    #[test]
    fn edge_lines_once_each() {
        let lines = |n: usize| {
            (1..=n)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join("\n\n")
        };
        assert_eq!(edge_lines(&lines(2)), ["1", "2"]);
        assert_eq!(edge_lines(&lines(6)), ["1", "2", "3", "4", "5", "6"]);
        assert_eq!(edge_lines(&lines(7)), ["1", "2", "3", "5", "6", "7"]);
        assert_eq!(edge_lines(&lines(10)), ["1", "2", "3", "8", "9", "10"]);
        assert!(edge_lines(" \n\n").is_empty());
    }

    #[test]
    fn marking_word_prefilter() {
        let p = policy();
        for line in ["CONFIDENTIAL", "vertraulich", "Released to: X", "tlp:red"] {
            assert!(may_hold_marking(line, &p), "{line}");
        }
        assert!(!may_hold_marking("Quarterly budget review", &p));
    }

    #[test]
    fn long_lines_keep_tlp_tokens_and_cells() {
        let p = policy();
        let filler = "The quarterly budget review covers suppliers and schedules. ".repeat(5);
        let scan = |line: &str| {
            let mut found = LabelFindings::default();
            scan_marking_line(line, "body", &p, &mut found);
            found
        };
        let found = scan(&format!(
            "{filler}Shared as tlp : Amber with partners. {filler}"
        ));
        assert_eq!(found.tlp.len(), 1);
        assert_eq!(found.tlp[0].tlp, Tlp::Amber);
        assert!(scan(&format!("{filler}Tulips: red. {filler}"))
            .tlp
            .is_empty());
        assert!(!may_hold_tlp(&format!("{filler}TLP AMBER")));
        // A long row whose cells hold a marking: still read cell by cell.
        let found = scan(&format!("{filler}\tCONFIDENTIAL"));
        assert!(found.sources.iter().any(|s| s.level == Some(Level::new(2))));
    }

    #[test]
    fn a_level_word_among_the_cells_of_a_data_row_is_no_marking() {
        let p = Policy::default_policy();
        let scan = |line: &str| {
            let mut found = LabelFindings::default();
            scan_marking_line(line, "sheet \"Pilot Loans\"", &p, &mut found);
            found.sources.len()
        };
        // 42464-ExpPtg-bad.xls: a column of section names.
        assert_eq!(scan("loan_number\tGeneral\tLoan Number\t1\t2\t3"), 0);
        // A marking row, a short title row and a prefixed marking still count.
        assert_eq!(scan("General"), 1);
        assert_eq!(scan("Quarterly figures\t\tCONFIDENTIAL"), 1);
        assert_eq!(scan("a\tb\tc\td\tClassification: CONFIDENTIAL"), 1);
    }

    #[test]
    fn sentences_are_not_markings() {
        let p = policy();
        assert!(parse_marking_line("For internal use we prepared this report.", &p).is_none());
        assert!(parse_marking_line("Confidential information about the project", &p).is_none());
        assert!(parse_marking_line("Page 1 of 3", &p).is_none());
    }

    fn doc(parts: Vec<Part>, properties: Vec<(&str, &str)>) -> Extracted {
        Extracted {
            parts,
            properties: properties
                .into_iter()
                .map(|(n, v)| Property {
                    name: n.into(),
                    value: v.into(),
                    location: "docProps/custom.xml".into(),
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn markings_only_at_edges_and_margins() {
        let p = policy();
        let mut body: Vec<String> = (0..20).map(|i| format!("Line {i} of prose.")).collect();
        body.insert(10, "CONFIDENTIAL".to_string());
        body.insert(0, "INTERNAL".to_string());
        let ex = doc(
            vec![
                Part::new(PartKind::Body, "body", body.join("\n")),
                Part::new(
                    PartKind::Footer,
                    "word/footer1.xml",
                    "Page 1\nRELEASED TO: Beta",
                ),
            ],
            vec![],
        );
        let f = find_labels(&ex, &p);
        let levels: Vec<_> = f.sources.iter().map(|s| s.level.unwrap()).collect();
        assert_eq!(levels, vec![Level::new(1)]);
        assert_eq!(written(&f.release_names()), vec!["Beta"]);
    }

    #[test]
    fn msip_precedence_and_mapping() {
        let p = policy();
        let guid = "a6a1e5f2-3c1d-4b7e-9f10-2d3c4b5a6e01";
        let other = "11111111-2222-3333-4444-555555555555";
        let mut ex = doc(
            vec![],
            vec![
                (&*format!("MSIP_Label_{guid}_Enabled"), "True"),
                (
                    &*format!("MSIP_Label_{guid}_SiteId"),
                    "{AAAA0000-0000-0000-0000-000000000000}",
                ),
                (&*format!("MSIP_Label_{other}_Enabled"), "true"),
                (&*format!("MSIP_Label_{other}_Name"), "Secret Stuff"),
                (
                    &*format!("MSIP_Label_{other}_SiteId"),
                    "bbbb0000-0000-0000-0000-000000000000",
                ),
            ],
        );
        let f = find_labels(&ex, &p);
        assert_eq!(f.sources.len(), 2);
        assert!(f.sources.iter().any(|s| s.level == Some(Level::new(2))));
        assert!(f
            .sources
            .iter()
            .any(|s| s.level.is_none() && s.value == "Secret Stuff"));

        // LabelInfo for tenant bbbb.. overrides the custom property of that tenant.
        ex.label_info.push(LabelInfoEntry {
            id: guid.to_string(),
            site_id: "bbbb0000-0000-0000-0000-000000000000".into(),
            enabled: true,
            removed: false,
            method: "Standard".into(),
            location: "docMetadata/LabelInfo.xml".into(),
        });
        let f = find_labels(&ex, &p);
        assert!(f.sources.iter().all(|s| s.value != "Secret Stuff"));
    }

    #[test]
    fn properties_release_and_tlp() {
        let p = policy();
        let ex = doc(
            vec![],
            vec![
                ("Classification", "Company Confidential"),
                ("ReleasedTo", "Precision Systems; Alpha Partner"),
                ("Title", "Report TLP:RED"),
            ],
        );
        let f = find_labels(&ex, &p);
        assert_eq!(f.sources[0].level, Some(Level::new(2)));
        assert_eq!(
            written(&f.release_names()),
            vec!["Precision Systems", "Alpha Partner"]
        );
        assert_eq!(f.strictest_tlp(), Some(Tlp::Red));
    }
}
