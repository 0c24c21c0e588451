//! What extraction reads from a document: text parts, properties and
//! LabelInfo entries, and the error that stopped it, if any.

use serde::{Deserialize, Serialize};

use super::error::ExtractError;

/// Where a piece of text was found. Label markings are looked for in
/// headers and footers and at the edges of body-like parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartKind {
    /// Main text of a document (docx body, odt content, plain text).
    Body,
    Header,
    Footer,
    Comment,
    Footnote,
    Endnote,
    /// Text deleted with change tracking on: invisible, but still in the file.
    Deleted,
    /// One PDF page.
    Page,
    /// One presentation slide.
    Slide,
    /// Speaker notes of one slide.
    Notes,
    /// Cells of one worksheet.
    Sheet,
    /// The name of a sheet.
    SheetName,
    /// Text of a document embedded in this one.
    Embedded,
    /// Any other text the format carries (text boxes, form fields, etc.).
    Other,
}

impl PartKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PartKind::Body => "body",
            PartKind::Header => "header",
            PartKind::Footer => "footer",
            PartKind::Comment => "comment",
            PartKind::Footnote => "footnote",
            PartKind::Endnote => "endnote",
            PartKind::Deleted => "deleted",
            PartKind::Page => "page",
            PartKind::Slide => "slide",
            PartKind::Notes => "notes",
            PartKind::Sheet => "sheet",
            PartKind::SheetName => "sheet_name",
            PartKind::Embedded => "embedded",
            PartKind::Other => "other",
        }
    }

    /// Parts whose first and last lines may carry a visual marking.
    pub fn has_marking_edges(self) -> bool {
        matches!(
            self,
            PartKind::Body | PartKind::Page | PartKind::Slide | PartKind::Sheet
        )
    }

    /// Header and footer parts: every short line may be a marking.
    pub fn is_margin(self) -> bool {
        matches!(self, PartKind::Header | PartKind::Footer)
    }
}

/// A run of text from one place in a document. Lines are separated by `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub kind: PartKind,
    /// Where it is, for humans: `word/header1.xml`, `page 3`, `sheet "Budget"`, `slide 2`.
    pub location: String,
    pub text: String,
}

/// The location of the one part that holds a document's properties as text.
pub const PROPERTIES_PART: &str = "document properties";

impl Part {
    /// Whether this is the properties-as-text part, not document content.
    pub fn is_properties(&self) -> bool {
        self.kind == PartKind::Other && self.location == PROPERTIES_PART
    }

    /// "header word/header1.xml", "page 3", "body": the kind, and the location when it adds to it.
    pub fn describe(&self) -> String {
        let kind = self.kind.as_str();
        if self.location.is_empty() || self.location == kind || self.location.starts_with(kind) {
            if self.location.is_empty() {
                kind.to_string()
            } else {
                self.location.clone()
            }
        } else {
            format!("{kind} {}", self.location)
        }
    }

    pub fn new(kind: PartKind, location: impl Into<String>, text: impl Into<String>) -> Self {
        Part {
            kind,
            location: location.into(),
            text: text.into(),
        }
    }
}

/// A document property: core, custom/user-defined, PDF Info or XMP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub name: String,
    pub value: String,
    /// Where it is: `docProps/custom.xml`, `meta.xml`, `PDF Info`, `XMP`,
    /// `DocumentSummaryInformation`.
    pub location: String,
}

/// One `<label>` element of `docMetadata/LabelInfo.xml` (MS-OFFCRYPTO 2.6.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelInfoEntry {
    /// Label GUID, braces stripped, lower-case.
    pub id: String,
    /// Tenant GUID, braces stripped, lower-case.
    pub site_id: String,
    pub enabled: bool,
    pub removed: bool,
    pub method: String,
    pub location: String,
}

/// Everything read from one document. On failure, `error` is set and the
/// other fields keep whatever could be read without it (for example the
/// property sets of an encrypted legacy file, a protected PDF's Info dictionary).
#[derive(Debug, Clone, Default)]
pub struct Extracted {
    pub parts: Vec<Part>,
    pub properties: Vec<Property>,
    pub label_info: Vec<LabelInfoEntry>,
    /// Parts (zip members, streams, pages) read, for `explain`.
    pub parts_read: Vec<String>,
    pub error: Option<ExtractError>,
}

/// Accessors the extractors' unit tests share.
#[cfg(test)]
impl Extracted {
    /// Text of the part of `kind` at `location`.
    pub(crate) fn part_text(&self, kind: PartKind, location: &str) -> Option<&str> {
        self.parts
            .iter()
            .find(|p| p.kind == kind && p.location == location)
            .map(|p| p.text.as_str())
    }

    /// Texts of every part of `kind`, in order.
    pub(crate) fn texts_of(&self, kind: PartKind) -> Vec<&str> {
        self.parts
            .iter()
            .filter(|p| p.kind == kind)
            .map(|p| p.text.as_str())
            .collect()
    }

    /// Value of the first property named `name`.
    pub(crate) fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.as_str())
    }
}

impl Extracted {
    pub fn failed(error: ExtractError) -> Self {
        Extracted {
            error: Some(error),
            ..Default::default()
        }
    }

    pub fn push_part(&mut self, kind: PartKind, location: impl Into<String>, text: String) {
        if !text.trim().is_empty() {
            self.parts.push(Part::new(kind, location, text));
        }
    }

    pub fn push_property(
        &mut self,
        name: impl Into<String>,
        value: impl Into<String>,
        location: &str,
    ) {
        let value = value.into();
        if !value.trim().is_empty() {
            self.properties.push(Property {
                name: name.into(),
                value,
                location: location.to_string(),
            });
        }
    }

    /// Folds an embedded document's findings into its container: its parts
    /// become `Embedded` parts located under `prefix`, and its properties are
    /// kept (an embedded document's labels are evidence about the container).
    pub fn absorb_embedded(&mut self, prefix: &str, inner: Extracted) {
        for part in inner.parts {
            self.parts.push(Part {
                kind: PartKind::Embedded,
                location: format!("{prefix} {}", part.location),
                text: part.text,
            });
        }
        for prop in inner.properties {
            self.properties.push(Property {
                location: format!("{prefix} {}", prop.location),
                ..prop
            });
        }
        for entry in inner.label_info {
            self.label_info.push(LabelInfoEntry {
                location: format!("{prefix} {}", entry.location),
                ..entry
            });
        }
        self.parts_read.extend(
            inner
                .parts_read
                .into_iter()
                .map(|p| format!("{prefix} {p}")),
        );
    }

    /// Bytes of text in every part, properties included.
    pub fn text_len(&self) -> usize {
        self.parts.iter().map(|p| p.text.len()).sum()
    }

    /// Characters of the document's own text, its properties aside: 0 for
    /// an image-only scan, whatever its Info dictionary says.
    pub fn content_chars(&self) -> usize {
        self.parts
            .iter()
            .filter(|p| !p.is_properties())
            .map(|p| p.text.chars().count())
            .sum()
    }
}
