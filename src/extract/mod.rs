//! Extraction: bytes in, text parts and properties out. One file per format
//! family; [`extract`] sniffs the content and dispatches. Extractors never
//! print or return document content in errors.

use std::fmt;

use serde::Serialize;

use crate::budget::Budget;

pub mod archive;
pub mod inflate;
pub mod legacy;
pub mod odf;
pub mod ooxml;
pub mod pdf;
pub mod rtf;
pub mod sniff;
pub mod text;
pub mod xml;
pub mod zipread;

pub use sniff::{sniff, Format};

/// Where a piece of text was found. Label markings are looked for in
/// headers and footers and at the edges of body-like parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
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

impl Part {
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

/// Why a file could not be inspected: the SPEC's `error` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Encrypted,
    Corrupt,
    TooLarge,
    LimitExceeded,
    Timeout,
    PermissionDenied,
    Io,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Encrypted => "encrypted",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::LimitExceeded => "limit_exceeded",
            ErrorKind::Timeout => "timeout",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::Io => "io",
        }
    }
}

/// An extraction failure. `detail` describes the structure that failed
/// ("zip central directory not found"), never the document's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ExtractError {
    pub kind: ErrorKind,
    pub detail: String,
}

impl fmt::Display for ExtractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.detail.is_empty() {
            f.write_str(self.kind.as_str())
        } else {
            write!(f, "{}: {}", self.kind.as_str(), self.detail)
        }
    }
}

impl ExtractError {
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        ExtractError {
            kind,
            detail: detail.into(),
        }
    }
    pub fn corrupt(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Corrupt, detail)
    }
    pub fn encrypted(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Encrypted, detail)
    }
    pub fn limit(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::LimitExceeded, detail)
    }
    pub fn timeout() -> Self {
        Self::new(ErrorKind::Timeout, "file took longer than --file-timeout")
    }
    pub fn io(err: &std::io::Error) -> Self {
        let kind = match err.kind() {
            std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
            _ => ErrorKind::Io,
        };
        Self::new(kind, err.kind().to_string())
    }
}

pub type ExtractResult<T> = Result<T, ExtractError>;

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

/// A budget with the default limits, for unit tests.
#[cfg(test)]
pub(crate) fn test_budget() -> Budget {
    Budget::new(crate::budget::Limits::default())
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

    pub fn text_len(&self) -> usize {
        self.parts.iter().map(|p| p.text.len()).sum()
    }
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
/// for formats that content cannot tell apart (csv vs txt).
pub fn extract(bytes: &[u8], name: &str, budget: &Budget) -> Outcome {
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
        Format::Zip => archive::extract_members(bytes, budget),
        Format::Unsupported => Outcome::Unsupported(sniff::describe_unsupported(bytes, name)),
        _ => Outcome::Document(format, extract_document(format, bytes, budget)),
    }
}

/// Extracts a document of a known format. Used for top-level files and for
/// documents embedded in others.
pub fn extract_document(format: Format, bytes: &[u8], budget: &Budget) -> Extracted {
    if let Err(e) = budget.check_time() {
        return Extracted::failed(e);
    }
    let mut out = extract_format(format, bytes, budget);
    push_property_text(&mut out);
    out
}

/// Document properties are text a reader does not see at first glance, so
/// detectors read them too: one `Other` part, "name: value" per line.
/// Label bookkeeping (MSIP attributes), dates and GUIDs are left out: they
/// are no content and their digit runs only make false alarms.
fn push_property_text(out: &mut Extracted) {
    let mut text = String::new();
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
        text.push_str(name);
        text.push_str(": ");
        text.push_str(prop.value.trim());
        text.push('\n');
    }
    if !text.is_empty() {
        out.parts
            .push(Part::new(PartKind::Other, "document properties", text));
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
        Format::Text | Format::Csv => text::extract(bytes, budget),
        Format::Zip | Format::Unsupported => {
            Extracted::failed(ExtractError::corrupt("not a document format"))
        }
    }
}
