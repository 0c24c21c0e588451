//! Excel: the marking at the end of the centre section (`&C`) of every
//! worksheet's header and footer, on a line of its own; the headers and
//! footers a sheet shows (odd pages, and even and first pages when it
//! sets them apart) all get it.

use super::{is_on, related};
use crate::apply::ooxml::{element_prefix, Edits};
use crate::apply::xmledit::{self, Element};
use crate::apply::zipraw::RawZip;
use crate::apply::Refusal;

/// The children of `headerFooter`, in the order the schema requires.
const HEADER_FOOTER_ORDER: [&str; 6] = [
    "oddHeader",
    "oddFooter",
    "evenHeader",
    "evenFooter",
    "firstHeader",
    "firstFooter",
];

/// The worksheet children that come after `headerFooter` (ECMA-376
/// `CT_Worksheet`): a new `headerFooter` goes before the first of them.
const AFTER_HEADER_FOOTER: [&str; 16] = [
    "rowBreaks",
    "colBreaks",
    "customProperties",
    "cellWatches",
    "ignoredErrors",
    "smartTags",
    "drawing",
    "legacyDrawing",
    "legacyDrawingHF",
    "drawingHF",
    "picture",
    "oleObjects",
    "controls",
    "webPublishItems",
    "tableParts",
    "extLst",
];

/// Excel refuses a header or footer longer than this.
const MAX_CODE_CHARS: usize = 255;

pub fn mark(zip: &RawZip, main: &str, line: &str, edits: &mut Edits) -> Result<(), Refusal> {
    let sheets = related(zip, edits, main, "/worksheet")?;
    if sheets.is_empty() {
        return Err(Refusal::skip(
            "--mark: the workbook has no worksheet to carry the marking",
        ));
    }
    for (_, sheet) in sheets {
        let text = edits
            .text(zip, &sheet)?
            .ok_or_else(|| Refusal::broken(&format!("{sheet} is named but missing")))?;
        let marked = marked_sheet(&text, line).map_err(|why| match why {
            Problem::Malformed => Refusal::broken(&format!("{sheet} is malformed")),
            Problem::TooLong => Refusal::skip(format!(
                "--mark: the header or footer of {sheet} would exceed Excel's {MAX_CODE_CHARS} characters"
            )),
        })?;
        edits.put(zip, &sheet, marked);
    }
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
enum Problem {
    Malformed,
    TooLong,
}

/// The worksheet with the marking in its header and footer.
fn marked_sheet(text: &str, line: &str) -> Result<String, Problem> {
    let children = xmledit::children(text).ok_or(Problem::Malformed)?;
    let prefix = element_prefix(text);
    let codes = line.replace('&', "&&");
    let named = |name: &str| {
        children
            .iter()
            .find(|c| xmledit::local_name(text, c) == name)
    };
    if let Some(hf) = named("headerFooter") {
        let element = marked_header_footer(&text[hf.start..hf.end], hf, &prefix, &codes)?;
        return Ok(format!("{}{element}{}", &text[..hf.start], &text[hf.end..]));
    }
    let value = xmledit::escape(&with_centre_line("", &codes));
    let element = format!(
        "<{prefix}headerFooter><{prefix}oddHeader>{value}</{prefix}oddHeader><{prefix}oddFooter>{value}</{prefix}oddFooter></{prefix}headerFooter>"
    );
    let later = children
        .iter()
        .find(|c| AFTER_HEADER_FOOTER.contains(&xmledit::local_name(text, c)));
    match later {
        Some(next) => Ok(xmledit::insert_at(text, next.start, &element)),
        None => xmledit::insert_in_root(text, &element).ok_or(Problem::Malformed),
    }
}

/// `headerFooter` (its text `whole`) rewritten with the marking in every
/// header and footer it shows; its attributes stay.
fn marked_header_footer(
    whole: &str,
    hf: &Element<'_>,
    prefix: &str,
    codes: &str,
) -> Result<String, Problem> {
    let children = xmledit::children(whole).ok_or(Problem::Malformed)?;
    let value_of = |name: &str| -> Option<String> {
        let child = children
            .iter()
            .find(|c| xmledit::local_name(whole, c) == name)?;
        let inner = whole[child.start..child.end]
            .get(child.tag.len()..)
            .and_then(|rest| rest.rfind("</").map(|end| &rest[..end]))
            .unwrap_or("");
        Some(crate::extract::xml::unescape(inner))
    };
    // Absent, these flags are off.
    let set = |flag: &str| hf.attr(flag).is_some() && is_on(hf.attr(flag));
    let shown = |name: &str| match name {
        "oddHeader" | "oddFooter" => true,
        "evenHeader" | "evenFooter" => set("differentOddEven"),
        _ => set("differentFirst"),
    };
    let mut out = String::new();
    for name in HEADER_FOOTER_ORDER {
        let value = match (value_of(name), shown(name)) {
            (value, true) => with_centre_line(value.as_deref().unwrap_or(""), codes),
            (Some(value), false) => value,
            (None, false) => continue,
        };
        if value.chars().count() > MAX_CODE_CHARS {
            return Err(Problem::TooLong);
        }
        out.push_str(&format!(
            "<{prefix}{name}>{}</{prefix}{name}>",
            xmledit::escape(&value)
        ));
    }
    let start = hf
        .tag
        .strip_suffix("/>")
        .map_or(hf.tag.to_string(), |open| format!("{}>", open.trim_end()));
    Ok(format!("{start}{out}</{prefix}headerFooter>"))
}

/// A header or footer code with `line` at the end of its centre section,
/// on a line of its own (a centre section is added when there is none).
fn with_centre_line(code: &str, line: &str) -> String {
    let sections = section_codes(code);
    let Some(i) = sections.iter().position(|(c, _)| *c == 'C') else {
        return format!("{code}&C{line}");
    };
    let start = sections[i].1 + 2;
    let end = sections.get(i + 1).map_or(code.len(), |(_, at)| *at);
    let separator = if code[start..end].trim().is_empty() {
        ""
    } else {
        "\n"
    };
    format!("{}{separator}{line}{}", &code[..end], &code[end..])
}

/// The section codes (`&L`, `&C`, `&R`) of a header or footer, with their
/// byte offsets; `&&` is a literal ampersand.
fn section_codes(code: &str) -> Vec<(char, usize)> {
    let mut found = Vec::new();
    let mut chars = code.char_indices();
    while let Some((at, c)) = chars.next() {
        if c != '&' {
            continue;
        }
        if let Some((_, s @ ('L' | 'C' | 'R'))) = chars.next() {
            found.push((s, at));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::ooxml::decode_header_footer;

    #[test]
    fn the_line_joins_the_centre_section() {
        assert_eq!(with_centre_line("", "INTERNAL"), "&CINTERNAL");
        assert_eq!(
            with_centre_line("&LLeft&CPage &P&RRight", "INTERNAL"),
            "&LLeft&CPage &P\nINTERNAL&RRight"
        );
        assert_eq!(
            with_centre_line("&L&&C not a section", "X"),
            "&L&&C not a section&CX"
        );
        let decoded = decode_header_footer(&with_centre_line(
            "&L&\"Arial,Bold\"Budget&C&12Draft",
            "INTERNAL // RELEASED TO: A&&B",
        ));
        assert_eq!(decoded, "Budget\nDraft\nINTERNAL // RELEASED TO: A&B");
    }

    const WS: &str = "<worksheet xmlns=\"urn:s\"><sheetData/><pageMargins/><drawing r:id=\"x\"/><extLst><ext><x14:extLst/></ext></extLst></worksheet>";

    #[test]
    fn a_new_header_footer_goes_where_the_schema_puts_it() {
        let text = marked_sheet(WS, "INTERNAL").unwrap();
        assert_eq!(text, "<worksheet xmlns=\"urn:s\"><sheetData/><pageMargins/><headerFooter><oddHeader>&amp;CINTERNAL</oddHeader><oddFooter>&amp;CINTERNAL</oddFooter></headerFooter><drawing r:id=\"x\"/><extLst><ext><x14:extLst/></ext></extLst></worksheet>");
        let plain = marked_sheet(
            "<x:worksheet xmlns:x=\"urn:s\"><x:sheetData/></x:worksheet>",
            "A",
        )
        .unwrap();
        assert!(plain.ends_with("<x:sheetData/><x:headerFooter><x:oddHeader>&amp;CA</x:oddHeader><x:oddFooter>&amp;CA</x:oddFooter></x:headerFooter></x:worksheet>"));
    }

    #[test]
    fn an_existing_header_footer_keeps_its_codes_and_order() {
        let ws = "<worksheet><sheetData/><headerFooter differentFirst=\"1\"><oddFooter>&amp;RPage &amp;P</oddFooter><firstFooter>&amp;CCover</firstFooter></headerFooter></worksheet>";
        let text = marked_sheet(ws, "INTERNAL").unwrap();
        assert_eq!(text, "<worksheet><sheetData/><headerFooter differentFirst=\"1\"><oddHeader>&amp;CINTERNAL</oddHeader><oddFooter>&amp;RPage &amp;P&amp;CINTERNAL</oddFooter><firstHeader>&amp;CINTERNAL</firstHeader><firstFooter>&amp;CCover\nINTERNAL</firstFooter></headerFooter></worksheet>");
        let long = format!(
            "<worksheet><headerFooter><oddHeader>&amp;C{}</oddHeader></headerFooter></worksheet>",
            "x".repeat(250)
        );
        assert_eq!(marked_sheet(&long, "INTERNAL"), Err(Problem::TooLong));
    }
}
