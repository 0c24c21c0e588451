//! Visual marking (`apply --mark`): the level, and with `--release-to` the
//! release marking ("INTERNAL // RELEASED TO: Precision Systems"), as a
//! line a reader sees on every page, sheet or slide, and in the form the
//! scan's marking grammar reads back (`src/labels.rs`), so that a rescan
//! finds it:
//! - Word: a paragraph in every header and footer the sections use, and new
//!   header and footer parts where the first section has none;
//! - Excel: the centre section (`&C`) of every worksheet's header and footer;
//! - PowerPoint: a text box at the top and the bottom of every slide master
//!   (and of every layout that hides its master's shapes).
//!
//! Existing header and footer text stays; the marking is added to it.

mod docx;
mod pptx;
mod xlsx;

use super::ooxml::{self, Edits};
use super::xmledit;
use super::zipraw::RawZip;
use super::Refusal;
use crate::extract::ooxml::{rels_name, resolve_target};

/// The marking line: the level, then the release marking when the
/// document is released to partners.
pub fn marking_line(level: &str, release_to: &[String]) -> String {
    if release_to.is_empty() {
        level.to_string()
    } else {
        format!("{level} // RELEASED TO: {}", release_to.join(", "))
    }
}

/// Adds `line` as the visual marking of an OOXML package of `format`
/// (`docx`, `xlsx` or `pptx`, as the scan reports them).
pub fn mark_package(
    zip: &RawZip,
    format: &str,
    line: &str,
    edits: &mut Edits,
) -> Result<(), Refusal> {
    let main = main_part(zip, edits)?;
    match format {
        "docx" => docx::mark(zip, &main, line, edits),
        "xlsx" => xlsx::mark(zip, &main, line, edits),
        "pptx" => pptx::mark(zip, &main, line, edits),
        other => Err(Refusal::skip(format!(
            "--mark: labelscan writes visual markings into docx, xlsx and pptx documents, not {other}"
        ))),
    }
}

/// The package's main part, named by its root `officeDocument` relationship.
fn main_part(zip: &RawZip, edits: &Edits) -> Result<String, Refusal> {
    related(zip, edits, "", "/officeDocument")?
        .into_iter()
        .map(|(_, part)| part)
        .find(|part| zip.has(part))
        .ok_or_else(|| Refusal::broken("no main document part"))
}

/// The parts `source` relates to by a relationship type ending in
/// `suffix` (`""` for the package): `(relationship id, part name)`.
fn related(
    zip: &RawZip,
    edits: &Edits,
    source: &str,
    suffix: &str,
) -> Result<Vec<(String, String)>, Refusal> {
    let rels_part = if source.is_empty() {
        "_rels/.rels".to_string()
    } else {
        rels_name(source)
    };
    let Some(rels) = edits.text(zip, &rels_part)? else {
        return Ok(Vec::new());
    };
    let elements = xmledit::elements(&rels, "Relationship")
        .ok_or_else(|| Refusal::broken(&format!("{rels_part} is malformed")))?;
    Ok(elements
        .iter()
        .filter(|r| r.attr("Type").is_some_and(|t| t.ends_with(suffix)))
        .filter(|r| r.attr("TargetMode").as_deref() != Some("External"))
        .filter_map(|r| {
            let target = resolve_target(folder_of(source), &r.attr("Target")?);
            Some((r.attr("Id")?, target))
        })
        .collect())
}

/// `word/` of `word/document.xml`.
fn folder_of(part: &str) -> &str {
    part.rfind('/').map_or("", |i| &part[..=i])
}

/// A new part beside `source`, named `<stem><N>.xml` with the first free
/// N, holding `text`, with its content type and a relationship from
/// `source`; returns the relationship's id.
fn add_part(
    zip: &RawZip,
    edits: &mut Edits,
    source: &str,
    stem: &str,
    (rel_type, content_type): (&str, &str),
    text: String,
) -> Result<String, Refusal> {
    let folder = folder_of(source);
    let taken = |name: &str| {
        edits.has(zip, name)
            || zip
                .entries()
                .iter()
                .any(|e| e.name_str().eq_ignore_ascii_case(name))
    };
    let name = (1..)
        .map(|n| format!("{folder}{stem}{n}.xml"))
        .find(|name| !taken(name))
        .unwrap_or_default();
    edits.put(zip, &name, text);
    let rels_part = rels_name(source);
    let rels = edits
        .text(zip, &rels_part)?
        .unwrap_or_else(ooxml::empty_rels);
    let (rels, id) = ooxml::add_rel(&rels, rel_type, &name[folder.len()..])?;
    edits.put(zip, &rels_part, rels);
    let types = edits
        .text(zip, ooxml::CONTENT_TYPES)?
        .ok_or_else(|| Refusal::broken("no [Content_Types].xml"))?;
    let types = ooxml::ensure_override(&types, &name, content_type)?;
    edits.put(zip, ooxml::CONTENT_TYPES, types);
    Ok(id)
}

/// The prefix (`w:`) an element's name carries, or none.
fn prefix_of_tag(tag: &str) -> String {
    let name = tag
        .trim_start_matches('<')
        .split(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .next()
        .unwrap_or("");
    match name.split_once(':') {
        Some((prefix, _)) => format!("{prefix}:"),
        None => String::new(),
    }
}

/// The prefix to write `namespace`'s elements with inside `text`, and the
/// declaration to add on the new element when the root does not declare it.
fn namespace_prefix(text: &str, namespace: &str, usual: &str) -> (String, String) {
    match xmledit::prefix_of(text, namespace) {
        Some(prefix) => (format!("{prefix}:"), String::new()),
        None => (
            format!("{usual}:"),
            format!(" xmlns:{usual}=\"{namespace}\""),
        ),
    }
}

/// Whether an on/off attribute or element value means on.
fn is_on(value: Option<String>) -> bool {
    !matches!(value.as_deref(), Some("0" | "false" | "off"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_reads_back_as_the_level_and_the_release() {
        let policy = crate::policy::Policy::default_policy();
        let line = marking_line(
            "INTERNAL",
            &["Precision Systems".into(), "Other Partner".into()],
        );
        assert_eq!(
            line,
            "INTERNAL // RELEASED TO: Precision Systems, Other Partner"
        );
        let read = crate::labels::parse_marking_line(&line, &policy).unwrap();
        assert_eq!(read.level.unwrap().0, "INTERNAL");
        assert_eq!(read.released_to, ["Precision Systems", "Other Partner"]);
        assert_eq!(marking_line("PUBLIC", &[]), "PUBLIC");
    }

    #[test]
    fn prefixes_of_tags_and_namespaces() {
        assert_eq!(prefix_of_tag("<w:sectPr w:x=\"1\">"), "w:");
        assert_eq!(prefix_of_tag("<sectPr/>"), "");
        let text = "<p:sld xmlns:p=\"urn:p\" xmlns:q=\"urn:a\"/>";
        assert_eq!(
            namespace_prefix(text, "urn:a", "a"),
            ("q:".to_string(), String::new())
        );
        assert_eq!(
            namespace_prefix(text, "urn:b", "b"),
            ("b:".to_string(), " xmlns:b=\"urn:b\"".to_string())
        );
        assert!(is_on(None) && is_on(Some("1".into())) && !is_on(Some("false".into())));
    }
}
