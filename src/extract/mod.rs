//! Extraction: bytes in, text parts and properties out. One file per format
//! family; [`extract`] sniffs the content and dispatches. Extractors never
//! print or return document content in errors.

use crate::model::budget::Budget;
pub use crate::model::{
    CellAnchors, ErrorKind, ExtractError, ExtractResult, Extracted, LabelInfoEntry, Layout,
    NamedAnchor, Part, PartKind, Property, PROPERTIES_PART,
};

pub mod archive;
pub mod decode;
pub mod inflate;
pub mod legacy;
pub mod numfmt;
pub mod odf;
pub mod ooxml;
pub mod pdf;
pub mod rtf;
pub mod sniff;
pub mod text;
pub mod wordperfect;
pub mod xml;
pub mod zipread;

pub use sniff::{sniff, Format};

/// A budget with the default limits, for unit tests.
#[cfg(test)]
pub(crate) fn test_budget() -> Budget {
    Budget::new(crate::model::budget::Limits::default())
}

/// What a top-level file turned out to be.
pub enum Outcome {
    /// One document.
    Document(Format, Extracted),
    /// A zip archive: each member is a document of its own.
    Archive(Vec<archive::Member>),
    /// Not a format labelscan reads (images, executables ...): skipped, with why.
    Unsupported(String),
}

/// Extracts one document from its bytes. `name` is only a hint (extension)
/// for formats that content cannot tell apart (csv vs txt). An archive's
/// members are all collected; see [`extract_each`] to stream them.
pub fn extract(bytes: &[u8], name: &str, budget: &Budget) -> Outcome {
    let mut members = Vec::new();
    match extract_each(bytes, name, budget, &mut |m| {
        members.push(m);
        archive::MemberFlow::Continue(())
    }) {
        Outcome::Archive(_) => Outcome::Archive(members),
        other => other,
    }
}

/// [`extract`], handing an archive's members to `on_member` one at a time
/// as they are read (the returned `Outcome::Archive` then holds none).
pub fn extract_each(
    bytes: &[u8],
    name: &str,
    budget: &Budget,
    on_member: &mut dyn FnMut(archive::Member) -> archive::MemberFlow,
) -> Outcome {
    let format = sniff(bytes, name);
    if let Err(e) = budget.check_time() {
        return Outcome::Document(format, Extracted::failed(e));
    }
    if bytes.is_empty() {
        // Nothing to inspect: a zero-byte document is a broken one, whatever its name.
        return Outcome::Document(
            format,
            Extracted::failed(ExtractError::corrupt("empty file")),
        );
    }
    match format {
        Format::Zip => match archive::each_member(bytes, budget, on_member) {
            Ok(0) => Outcome::Unsupported(archive::EMPTY_ARCHIVE.to_string()),
            Ok(_) => Outcome::Archive(Vec::new()),
            Err(e) => Outcome::Document(Format::Zip, Extracted::failed(e)),
        },
        Format::Unsupported => Outcome::Unsupported(sniff::describe_unsupported(bytes, name)),
        _ => Outcome::Document(format, extract_document(format, bytes, budget)),
    }
}

/// Extracts a top-level document (a file, or an archive member) of a known
/// format, with its properties, and those of everything embedded in it, as
/// one text part for the detectors.
pub fn extract_document(format: Format, bytes: &[u8], budget: &Budget) -> Extracted {
    if let Err(e) = budget.check_time() {
        return Extracted::failed(e);
    }
    budget.begin_document();
    finish_document(extract_format(format, bytes, budget), budget)
}

/// A document's properties as text, and its text within the limit.
fn finish_document(mut out: Extracted, budget: &Budget) -> Extracted {
    push_property_text(&mut out);
    if keep_text_within(&mut out.parts, budget.limits.max_text_chars, every_part) {
        out.error.get_or_insert_with(text_limit_error);
    }
    out
}

/// [`extract_each`] of a zip file on disk, too large to hold: a package
/// (OOXML, ODF) or an archive, its entries read in place one at a time.
/// `head`: the file's first bytes.
pub fn extract_each_zip_file(
    file: &std::fs::File,
    len: u64,
    head: &[u8],
    name: &str,
    budget: &Budget,
    on_member: &mut dyn FnMut(archive::Member) -> archive::MemberFlow,
) -> Outcome {
    let by_ext = Format::from_extension(name).unwrap_or(Format::Zip);
    let pkg = match zipread::Package::open_file(file, len, budget) {
        Ok(pkg) => pkg,
        Err(e) => return Outcome::Document(by_ext, Extracted::failed(e)),
    };
    let format = sniff::sniff_package(&pkg, head, name);
    match format {
        Format::Zip => match archive::each_member_of(pkg, budget, on_member) {
            0 => Outcome::Unsupported(archive::EMPTY_ARCHIVE.to_string()),
            _ => Outcome::Archive(Vec::new()),
        },
        Format::Odt | Format::Ods | Format::Odp => {
            budget.begin_document();
            let out = odf::extract_package(format, pkg, budget);
            Outcome::Document(format, finish_document(out, budget))
        }
        _ => {
            budget.begin_document();
            let out = ooxml::extract_package(format, pkg, budget);
            Outcome::Document(format, finish_document(out, budget))
        }
    }
}

fn text_limit_error() -> ExtractError {
    ExtractError::limit("the document's text exceeds the limit; the rest was not read")
}

/// Keeps at most `limit` bytes of the text of the parts that `counts`, in
/// order: the part that crosses the limit is cut at a character boundary,
/// and later counted parts are dropped. True when the limit was reached:
/// the extractors cut each part to what the document may still keep, so
/// a document that reaches the limit exactly was cut there.
fn keep_text_within(parts: &mut Vec<Part>, limit: usize, counts: fn(&Part) -> bool) -> bool {
    let mut kept = 0usize;
    let mut reached = false;
    parts.retain_mut(|part| {
        if !counts(part) {
            return true;
        }
        let room = limit - kept;
        if reached || part.text.len() < room {
            kept += part.text.len().min(room);
            return !reached;
        }
        reached = true;
        let mut end = room;
        while !part.text.is_char_boundary(end) {
            end -= 1;
        }
        part.text.truncate(end);
        kept = limit;
        !part.text.is_empty()
    });
    reached
}

fn every_part(_: &Part) -> bool {
    true
}

/// A document's own part, not one of a document embedded in it (those
/// were charged when they joined it).
fn own_part(part: &Part) -> bool {
    part.kind != PartKind::Embedded
}

/// The one path for documents embedded in another: extracts `bytes` one
/// nesting level down and folds the result into `out` under `prefix` (parts,
/// properties and LabelInfo entries, each once). The embedded document gets
/// no property part of its own: its properties join the container's, which
/// the top-level document turns into text once. Returns the embedded
/// document's error, if any, so that a container can stop on a timeout or
/// an exceeded limit.
pub fn embed(
    format: Format,
    bytes: &[u8],
    prefix: &str,
    budget: &Budget,
    out: &mut Extracted,
) -> Option<ExtractError> {
    let mut inner = match budget.enter() {
        Ok(_guard) => match budget.check_time().and_then(|()| budget.charge_piece()) {
            Ok(()) => extract_format(format, bytes, budget),
            Err(e) => Extracted::failed(e),
        },
        Err(e) => Extracted::failed(e),
    };
    // Charged as it joins the container: later parts and embedded
    // documents get only what is left of the document's allowance.
    if keep_text_within(&mut inner.parts, budget.text_room(), own_part) {
        inner.error.get_or_insert_with(text_limit_error);
    }
    let own: usize = inner
        .parts
        .iter()
        .filter(|p| own_part(p))
        .map(|p| p.text.len())
        .sum();
    budget.charge_text(own);
    let error = inner.error.clone();
    out.absorb_embedded(prefix, inner);
    error
}

/// Document properties are text a reader does not see at first glance, so
/// detectors read them too: one `Other` part, "name: value" per line, each
/// hit located by the name of its property.
/// Label bookkeeping (MSIP attributes), dates and GUIDs are left out: they
/// are no content and their digit runs only make false alarms.
fn push_property_text(out: &mut Extracted) {
    let mut text = String::new();
    let mut names: Vec<NamedAnchor> = Vec::new();
    for prop in &out.properties {
        let name = prop.name.rsplit(':').next().unwrap_or(&prop.name);
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("msip_label_")
            || lower.contains("date")
            || lower.contains("guid")
            || lower == "revision"
            || lower == "trapped"
        {
            continue;
        }
        names.push(NamedAnchor {
            at: text.len() as u32,
            name: name.to_string(),
        });
        text.push_str(name);
        text.push_str(": ");
        text.push_str(prop.value.trim());
        text.push('\n');
    }
    if !text.is_empty() {
        out.parts.push(
            Part::new(PartKind::Other, PROPERTIES_PART, text).with_layout(Layout::Named(names)),
        );
    }
}

fn extract_format(format: Format, bytes: &[u8], budget: &Budget) -> Extracted {
    match format {
        Format::Docx | Format::Xlsx | Format::Pptx | Format::OoxmlOther => {
            ooxml::extract(format, bytes, budget)
        }
        Format::Odt | Format::Ods | Format::Odp => odf::extract(format, bytes, budget),
        Format::Pdf => pdf::extract(bytes, budget),
        Format::Doc | Format::Xls | Format::Ppt | Format::OleOther => {
            legacy::extract(format, bytes, budget)
        }
        Format::EncryptedOoxml => legacy::extract(format, bytes, budget),
        Format::Rtf => rtf::extract(bytes, budget),
        Format::WordPerfect => wordperfect::extract(bytes, budget),
        Format::Text | Format::Csv => text::extract(bytes, budget),
        Format::Zip | Format::Unsupported => {
            Extracted::failed(ExtractError::corrupt("not a document format"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(texts: &[&str]) -> Vec<Part> {
        texts
            .iter()
            .map(|t| Part::new(PartKind::Body, "p", t.to_string()))
            .collect()
    }

    fn texts(parts: &[Part]) -> Vec<&str> {
        parts.iter().map(|p| p.text.as_str()).collect()
    }

    #[test]
    fn text_is_kept_within_the_documents_limit_in_order() {
        let mut p = parts(&["abcd", "efgh", "ijkl"]);
        assert!(!keep_text_within(&mut p, 13, every_part));
        assert_eq!(texts(&p), ["abcd", "efgh", "ijkl"]);
        assert!(keep_text_within(&mut p, 6, every_part));
        assert_eq!(texts(&p), ["abcd", "ef"]);
        // Cut at a character boundary, never inside one.
        let mut p = parts(&["ab", "éé"]);
        assert!(keep_text_within(&mut p, 3, every_part));
        assert_eq!(texts(&p), ["ab"]);
        // Parts of embedded documents were counted when they joined.
        let mut p = parts(&["abcd"]);
        p.insert(
            0,
            Part::new(PartKind::Embedded, "e", "xxxxxxxx".to_string()),
        );
        assert!(!keep_text_within(&mut p, 5, own_part));
        assert_eq!(p.len(), 2);
    }
}
