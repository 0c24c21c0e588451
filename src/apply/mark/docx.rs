//! Word: the marking as a centred paragraph at the end of every header
//! and footer part a section uses. A section without a header (or footer)
//! of its own shows the previous section's, so only the first section gets
//! a new part where it has none: of each kind it shows (default; first
//! page with `titlePg`; even pages with `evenAndOddHeaders`).

use super::{add_part, is_on, namespace_prefix, prefix_of_tag, related};
use crate::apply::ooxml::{Edits, DECLARATION};
use crate::apply::xmledit::{self, Element};
use crate::apply::zipraw::RawZip;
use crate::apply::Refusal;

const W_NS: &str = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";
const R_NS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

/// Headers or footers: how sections name them and how their parts look.
struct Margin {
    reference: &'static str,
    root: &'static str,
    stem: &'static str,
    rel_type: &'static str,
    content_type: &'static str,
}

const MARGINS: [Margin; 2] = [
    Margin {
        reference: "headerReference",
        root: "hdr",
        stem: "header",
        rel_type: "http://schemas.openxmlformats.org/officeDocument/2006/relationships/header",
        content_type: "application/vnd.openxmlformats-officedocument.wordprocessingml.header+xml",
    },
    Margin {
        reference: "footerReference",
        root: "ftr",
        stem: "footer",
        rel_type: "http://schemas.openxmlformats.org/officeDocument/2006/relationships/footer",
        content_type: "application/vnd.openxmlformats-officedocument.wordprocessingml.footer+xml",
    },
];

pub fn mark(zip: &RawZip, main: &str, line: &str, edits: &mut Edits) -> Result<(), Refusal> {
    let mut doc = edits
        .text(zip, main)?
        .ok_or_else(|| Refusal::broken("no main document part"))?;
    let even_pages = has_even_page_margins(zip, main, edits)?;
    for margin in &MARGINS {
        doc = mark_margin(zip, main, doc, margin, line, even_pages, edits)?;
    }
    if edits.text(zip, main)?.as_deref() != Some(doc.as_str()) {
        edits.put(zip, main, doc);
    }
    Ok(())
}

fn malformed(part: &str) -> Refusal {
    Refusal::broken(&format!("{part} is malformed"))
}

/// Adds the line to every header (or footer) part the sections name, and
/// a new part for the kinds the first section lacks; returns the main
/// document (with the new references).
fn mark_margin(
    zip: &RawZip,
    main: &str,
    doc: String,
    margin: &Margin,
    line: &str,
    even_pages: bool,
    edits: &mut Edits,
) -> Result<String, Refusal> {
    let parts = related(zip, edits, main, &format!("/{}", margin.stem))?;
    let sections = xmledit::elements(&doc, "sectPr").ok_or_else(|| malformed(main))?;
    let mut named: Vec<String> = Vec::new();
    for section in &sections {
        for (_, id) in references(&doc, section, margin)? {
            let part = parts.iter().find(|(rid, _)| *rid == id).map(|(_, p)| p);
            if let Some(part) = part.filter(|p| !named.contains(*p)) {
                named.push(part.clone());
            }
        }
    }
    for part in &named {
        let text = edits
            .text(zip, part)?
            .ok_or_else(|| Refusal::broken(&format!("{part} is named by a section but missing")))?;
        let prefix = crate::apply::ooxml::element_prefix(&text);
        let marked = xmledit::insert_in_root(&text, &paragraph(&prefix, line))
            .ok_or_else(|| malformed(part))?;
        edits.put(zip, part, marked);
    }
    let first = sections.first();
    let missing = missing_kinds(&doc, first, margin, even_pages)?;
    if missing.is_empty() {
        return Ok(doc);
    }
    let new_part = format!(
        "{DECLARATION}<w:{root} xmlns:w=\"{W_NS}\">{}</w:{root}>",
        paragraph("w:", line),
        root = margin.root
    );
    let id = add_part(
        zip,
        edits,
        main,
        margin.stem,
        (margin.rel_type, margin.content_type),
        new_part,
    )?;
    let (r, declare) = namespace_prefix(&doc, R_NS, "r");
    let refs_with = |w: &str| -> String {
        missing
            .iter()
            .map(|kind| {
                format!(
                    "<{w}{}{declare} {w}type=\"{kind}\" {r}id=\"{id}\"/>",
                    margin.reference
                )
            })
            .collect()
    };
    match first {
        Some(section) => {
            let refs = refs_with(&prefix_of_tag(section.tag));
            Ok(xmledit::prepend_to(&doc, section, &refs))
        }
        None => {
            let body = xmledit::elements(&doc, "body")
                .and_then(|b| b.into_iter().next())
                .ok_or_else(|| Refusal::broken(&format!("{main} has no body")))?;
            let w = prefix_of_tag(body.tag);
            let section = format!("<{w}sectPr>{}</{w}sectPr>", refs_with(&w));
            Ok(xmledit::append_to(&doc, &body, &section))
        }
    }
}

/// The `(type, relationship id)` of a section's header (or footer) references.
fn references(
    doc: &str,
    section: &Element<'_>,
    margin: &Margin,
) -> Result<Vec<(String, String)>, Refusal> {
    let text = &doc[section.start..section.end];
    let found = xmledit::elements(text, margin.reference)
        .ok_or_else(|| Refusal::broken("a section's properties are malformed"))?;
    Ok(found
        .iter()
        .filter_map(|r| {
            let kind = r.attr("type").unwrap_or_else(|| "default".into());
            Some((kind, r.attr("id")?))
        })
        .collect())
}

/// The kinds of header (or footer) the first section shows but names no
/// part for.
fn missing_kinds(
    doc: &str,
    first: Option<&Element<'_>>,
    margin: &Margin,
    even_pages: bool,
) -> Result<Vec<&'static str>, Refusal> {
    let (present, title_page) = match first {
        Some(section) => {
            let text = &doc[section.start..section.end];
            let title_page = xmledit::elements(text, "titlePg")
                .unwrap_or_default()
                .first()
                .is_some_and(|t| is_on(t.attr("val")));
            (references(doc, section, margin)?, title_page)
        }
        None => (Vec::new(), false),
    };
    let shown = [
        ("default", true),
        ("first", title_page),
        ("even", even_pages),
    ];
    Ok(shown
        .iter()
        .filter(|(kind, shows)| *shows && !present.iter().any(|(k, _)| k.as_str() == *kind))
        .map(|(kind, _)| *kind)
        .collect())
}

/// Whether the document's settings give even pages their own headers.
fn has_even_page_margins(zip: &RawZip, main: &str, edits: &Edits) -> Result<bool, Refusal> {
    let Some((_, settings)) = related(zip, edits, main, "/settings")?.into_iter().next() else {
        return Ok(false);
    };
    let Some(text) = edits.text(zip, &settings)? else {
        return Ok(false);
    };
    Ok(xmledit::elements(&text, "evenAndOddHeaders")
        .unwrap_or_default()
        .first()
        .is_some_and(|e| is_on(e.attr("val"))))
}

/// A centred paragraph holding `line`, with the part's prefix `w` (`w:`).
fn paragraph(w: &str, line: &str) -> String {
    format!(
        "<{w}p><{w}pPr><{w}jc {w}val=\"center\"/></{w}pPr><{w}r><{w}t xml:space=\"preserve\">{}</{w}t></{w}r></{w}p>",
        xmledit::escape(line)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(sections: &str) -> String {
        format!("<w:document xmlns:w=\"{W_NS}\" xmlns:r=\"{R_NS}\"><w:body><w:p/>{sections}</w:body></w:document>")
    }

    #[test]
    fn the_first_section_lacks_what_it_shows_without_a_part() {
        let text = doc("<w:p><w:pPr><w:sectPr><w:headerReference w:type=\"first\" r:id=\"rId4\"/><w:titlePg/></w:sectPr></w:pPr></w:p><w:sectPr/>");
        let first = xmledit::elements(&text, "sectPr").unwrap();
        let missing = missing_kinds(&text, first.first(), &MARGINS[0], true).unwrap();
        assert_eq!(missing, ["default", "even"]);
        let missing = missing_kinds(&text, first.first(), &MARGINS[1], false).unwrap();
        assert_eq!(missing, ["default", "first"]);
        assert_eq!(
            references(&text, &first[0], &MARGINS[0]).unwrap(),
            [("first".to_string(), "rId4".to_string())]
        );
        let off = doc("<w:sectPr><w:titlePg w:val=\"0\"/></w:sectPr>");
        let sections = xmledit::elements(&off, "sectPr").unwrap();
        assert_eq!(
            missing_kinds(&off, sections.first(), &MARGINS[0], false).unwrap(),
            ["default"]
        );
    }

    #[test]
    fn the_paragraph_is_centred_and_escaped() {
        assert_eq!(
            paragraph("w:", "A & B"),
            "<w:p><w:pPr><w:jc w:val=\"center\"/></w:pPr><w:r><w:t xml:space=\"preserve\">A &amp; B</w:t></w:r></w:p>"
        );
        assert_eq!(super::super::folder_of("word/document.xml"), "word/");
    }
}
