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
    /// Text of a slide master or layout outside its placeholders: shown on
    /// every slide that uses it, like a header or footer.
    Master,
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
            PartKind::Master => "master",
        }
    }

    /// Parts whose first and last lines may carry a visual marking.
    pub fn has_marking_edges(self) -> bool {
        matches!(
            self,
            PartKind::Body | PartKind::Page | PartKind::Slide | PartKind::Sheet
        )
    }

    /// Header and footer parts (and slide masters, shown on every slide):
    /// every short line may be a marking.
    pub fn is_margin(self) -> bool {
        matches!(self, PartKind::Header | PartKind::Footer | PartKind::Master)
    }
}

/// A run of text from one place in a document. Lines are separated by `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub kind: PartKind,
    /// Where it is, for humans: `word/header1.xml`, `page 3`, `sheet "Budget"`, `slide 2`.
    pub location: String,
    pub text: String,
    /// How a position in `text` is named for a reader (see [`Part::locate`]).
    pub layout: Layout,
}

/// How the text of a part maps back to places a reader can find: what a
/// detection's location names beyond the part itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// One paragraph per line (word processors, comments, notes, text
    /// boxes): `paragraph N`, counting the paragraphs with text.
    Paragraphs,
    /// Plain text: `line N`, as an editor numbers lines.
    Lines,
    /// The part names the place well enough (a page, a slide): nothing added.
    Whole,
    /// Cells of a sheet, one row per line and cells tab-separated:
    /// `cell B7`. The anchors say which cell starts where (see [`CellAnchors`]).
    Cells(CellAnchors),
    /// Named entries (document properties), one per line: `property Title`.
    Named(Vec<NamedAnchor>),
}

impl Layout {
    /// The layout a part of `kind` has unless its extractor says otherwise.
    pub fn of_kind(kind: PartKind) -> Layout {
        match kind {
            PartKind::Page | PartKind::Slide | PartKind::Notes | PartKind::Sheet => Layout::Whole,
            PartKind::SheetName => Layout::Lines,
            _ => Layout::Paragraphs,
        }
    }
}

/// Where the text of a named entry starts in a part's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedAnchor {
    pub at: u32,
    pub name: String,
}

/// Where a cell's text starts in a sheet part's text: its byte offset and
/// its zero-based row and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellAnchor {
    pub at: u32,
    pub row: u32,
    pub col: u32,
}

/// The cells of a sheet part, compactly: an anchor only where counting tabs
/// from the previous anchor would not give the cell (the first cell of a
/// row, a cell after a gap). A dense sheet costs one anchor per row; the
/// cell of an offset is its anchor's row, and its anchor's column plus the
/// tabs between them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CellAnchors {
    anchors: Vec<CellAnchor>,
    /// Offset up to which tabs have been counted, and the cell there as
    /// derived from the last anchor (row, column).
    seen: usize,
    derived: (u32, u32),
}

impl CellAnchors {
    /// Notes that the cell at (`row`, `col`), zero-based, starts at the end of
    /// `text` (the sheet's text so far). Cells come in text order.
    #[inline]
    pub fn cell(&mut self, text: &str, row: u32, col: u32) {
        let at = text.len();
        let derivable = match text.as_bytes().get(self.seen..at) {
            Some(gap) if !self.anchors.is_empty() => {
                // One pass over the text of the cell before, tabs and all.
                let tabs = gap.iter().try_fold(0u32, |tabs, &b| match b {
                    b'\n' => None,
                    b'\t' => Some(tabs + 1),
                    _ => Some(tabs),
                });
                tabs.is_some_and(|tabs| (self.derived.0, self.derived.1 + tabs) == (row, col))
            }
            _ => false,
        };
        self.note(at, row, col, derivable);
    }

    /// Like [`CellAnchors::cell`], for sheets whose cell texts never hold a
    /// tab or a line break (xlsx): a cell right after a tab that ended the
    /// text of the cell before is derivable; nothing is scanned.
    #[inline]
    pub fn cell_in_plain_text(&mut self, text: &str, row: u32, col: u32) {
        let at = text.len();
        let derivable = !self.anchors.is_empty()
            && at > self.seen
            && text.as_bytes()[at - 1] == b'\t'
            && (self.derived.0, self.derived.1.saturating_add(1)) == (row, col);
        self.note(at, row, col, derivable);
    }

    #[inline]
    fn note(&mut self, at: usize, row: u32, col: u32, derivable: bool) {
        if !derivable {
            let anchor = CellAnchor {
                at: at as u32,
                row,
                col,
            };
            match self.anchors.last_mut() {
                // The cell before wrote no text (or the text is full): its
                // anchor names nothing.
                Some(last) if last.at == anchor.at => *last = anchor,
                _ => self.anchors.push(anchor),
            }
        }
        self.seen = at;
        self.derived = (row, col);
    }

    pub fn anchors(&self) -> &[CellAnchor] {
        &self.anchors
    }

    /// The cell (row, column), zero-based, that holds byte `offset` of `text`.
    pub fn cell_at(&self, text: &str, offset: usize) -> Option<(u32, u32)> {
        let i = self
            .anchors
            .partition_point(|a| a.at as usize <= offset)
            .checked_sub(1)?;
        let a = self.anchors[i];
        let gap = text.as_bytes().get(a.at as usize..offset)?;
        let tabs = gap.iter().filter(|&&b| b == b'\t').count() as u32;
        Some((a.row, a.col + tabs))
    }
}

/// A cell reference as a spreadsheet shows it: `B7` for row 6, column 1
/// (zero-based).
pub fn cell_reference(row: u32, col: u32) -> String {
    let mut letters = Vec::new();
    let mut n = col as u64 + 1;
    while n > 0 {
        let rem = ((n - 1) % 26) as u8;
        letters.push(b'A' + rem);
        n = (n - 1) / 26;
    }
    letters.reverse();
    format!("{}{}", String::from_utf8_lossy(&letters), row as u64 + 1)
}

/// Parses a cell reference (`B7`, `$B$7`) to a zero-based (row, column).
pub fn parse_cell_reference(reference: &str) -> Option<(u32, u32)> {
    let b = reference.as_bytes();
    let mut i = 0;
    let mut col: u32 = 0;
    if b.first() == Some(&b'$') {
        i += 1;
    }
    let letters_start = i;
    while let Some(c) = b.get(i).filter(|c| c.is_ascii_alphabetic()) {
        col = col
            .checked_mul(26)?
            .checked_add(u32::from(c.to_ascii_uppercase() - b'A') + 1)?;
        i += 1;
    }
    if i == letters_start || i - letters_start > 3 {
        return None;
    }
    if b.get(i) == Some(&b'$') {
        i += 1;
    }
    let digits = b.get(i..).filter(|d| !d.is_empty() && d.len() <= 7)?;
    let mut row: u32 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        row = row * 10 + u32::from(d - b'0');
    }
    Some((row.checked_sub(1)?, col - 1))
}

/// Names offsets of one part's text for a reader; counts lines once, for all
/// the offsets asked about.
pub struct Locator<'p> {
    part: &'p Part,
    description: String,
    /// Offsets of the line breaks of the text, made on the first question
    /// that needs them.
    breaks: Option<Vec<u32>>,
}

impl<'p> Locator<'p> {
    pub fn new(part: &'p Part) -> Self {
        Locator {
            part,
            description: part.describe(),
            breaks: None,
        }
    }

    /// The part as a whole: `header word/header1.xml`, `page 3`.
    pub fn part(&self) -> &str {
        &self.description
    }

    /// Where byte `offset` of the part's text is: `body word/document.xml
    /// paragraph 12`, `sheet "Budget" cell B7`, `page 3`, `property Title`.
    pub fn locate(&mut self, offset: usize) -> String {
        let part = self.part;
        match &part.layout {
            Layout::Whole => self.description.clone(),
            Layout::Lines => {
                let line = self.line_of(offset, false);
                format!("{} line {line}", self.description)
            }
            Layout::Paragraphs => {
                let paragraph = self.line_of(offset, true);
                format!("{} paragraph {paragraph}", self.description)
            }
            Layout::Cells(cells) => match cells.cell_at(&part.text, offset) {
                Some((row, col)) => {
                    format!("{} cell {}", self.description, cell_reference(row, col))
                }
                None => self.description.clone(),
            },
            Layout::Named(names) => {
                let i = names.partition_point(|n| n.at as usize <= offset);
                match i.checked_sub(1).map(|i| &names[i]) {
                    Some(named) => format!("property {}", named.name),
                    None => self.description.clone(),
                }
            }
        }
    }

    /// The one-based number of the line holding `offset`; with `skip_blank`,
    /// counting only lines with text (blank lines are no paragraphs).
    fn line_of(&mut self, offset: usize, skip_blank: bool) -> usize {
        let text = self.part.text.as_bytes();
        let breaks = self.breaks.get_or_insert_with(|| {
            let breaks = memchr::memchr_iter(b'\n', text);
            if skip_blank {
                // A break right after a break (or at the start) ends a blank line.
                breaks
                    .filter(|&p| p > 0 && text[p - 1] != b'\n')
                    .map(|p| p as u32)
                    .collect()
            } else {
                breaks.map(|p| p as u32).collect()
            }
        });
        breaks.partition_point(|&p| (p as usize) < offset) + 1
    }
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

    /// A part with the layout of its kind ([`Layout::of_kind`]).
    pub fn new(kind: PartKind, location: impl Into<String>, text: impl Into<String>) -> Self {
        Part {
            kind,
            location: location.into(),
            text: text.into(),
            layout: Layout::of_kind(kind),
        }
    }

    pub fn with_layout(self, layout: Layout) -> Self {
        Part { layout, ..self }
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
    /// Why a document that should hold text gave none (a PDF whose pages
    /// draw glyphs no font maps to characters), for the verdict's reason.
    pub no_text_cause: Option<String>,
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

    /// Like [`Extracted::push_part`], with a layout other than the kind's.
    pub fn push_part_laid_out(
        &mut self,
        kind: PartKind,
        location: impl Into<String>,
        text: String,
        layout: Layout,
    ) {
        if !text.trim().is_empty() {
            self.parts
                .push(Part::new(kind, location, text).with_layout(layout));
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
            // The inner part's layout stays: a cell is a cell at any depth.
            self.parts.push(Part {
                kind: PartKind::Embedded,
                location: format!("{prefix} {}", part.location),
                ..part
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
            .map(|p| char_count(&p.text))
            .sum()
    }
}

/// Characters of `text`: its length when it is ASCII, as most is (the
/// ASCII check runs several times faster than counting).
fn char_count(text: &str) -> usize {
    if text.is_ascii() {
        text.len()
    } else {
        text.chars().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locate(part: &Part, needle: &str) -> String {
        let at = part.text.find(needle).expect("needle in text");
        Locator::new(part).locate(at)
    }

    #[test]
    fn cell_references_both_ways() {
        for (row, col, reference) in [
            (0, 0, "A1"),
            (6, 1, "B7"),
            (0, 25, "Z1"),
            (0, 26, "AA1"),
            (9, 701, "ZZ10"),
            (1_048_575, 16_383, "XFD1048576"),
        ] {
            assert_eq!(cell_reference(row, col), reference);
            assert_eq!(parse_cell_reference(reference), Some((row, col)));
        }
        assert_eq!(parse_cell_reference("$C$3"), Some((2, 2)));
        for bad in ["", "A", "7", "A0", "ABCD1", "B7x", "B-7"] {
            assert_eq!(parse_cell_reference(bad), None, "{bad}");
        }
    }

    #[test]
    fn paragraphs_skip_blank_lines_and_lines_do_not() {
        let text = "first\n\nsecond\nthird x\n";
        let body = Part::new(PartKind::Body, "word/document.xml", text);
        assert_eq!(locate(&body, "first"), "body word/document.xml paragraph 1");
        assert_eq!(
            locate(&body, "second"),
            "body word/document.xml paragraph 2"
        );
        assert_eq!(locate(&body, "x"), "body word/document.xml paragraph 3");
        let plain = body.clone().with_layout(Layout::Lines);
        assert_eq!(locate(&plain, "x"), "body word/document.xml line 4");
        let header = Part::new(PartKind::Header, "word/header1.xml", "a\nb");
        assert_eq!(locate(&header, "b"), "header word/header1.xml paragraph 2");
    }

    #[test]
    fn one_locator_answers_in_any_order() {
        let part = Part::new(PartKind::Body, "body", "a\nb\nc\nd").with_layout(Layout::Lines);
        let mut locator = Locator::new(&part);
        assert_eq!(locator.locate(6), "body line 4");
        assert_eq!(locator.locate(0), "body line 1");
        assert_eq!(locator.locate(2), "body line 2");
    }

    #[test]
    fn pages_and_slides_are_whole() {
        let page = Part::new(PartKind::Page, "page 3", "x\ny");
        assert_eq!(locate(&page, "y"), "page 3");
        let notes = Part::new(PartKind::Notes, "slide 2", "x\ny");
        assert_eq!(locate(&notes, "y"), "notes slide 2");
    }

    /// Builds a sheet text as the extractors do: cells tab-separated, rows
    /// on lines, each non-empty cell noted before its text.
    fn sheet(cells: &[(u32, u32, &str)]) -> Part {
        let mut text = String::new();
        let mut anchors = CellAnchors::default();
        let mut row = None;
        for &(r, c, t) in cells {
            match row {
                Some(prev) if prev == r => text.push('\t'),
                Some(_) => text.push('\n'),
                None => {}
            }
            row = Some(r);
            anchors.cell(&text, r, c);
            text.push_str(t);
        }
        Part::new(PartKind::Sheet, "sheet \"Budget\"", text).with_layout(Layout::Cells(anchors))
    }

    #[test]
    fn cells_of_dense_and_sparse_rows() {
        let part = sheet(&[
            (0, 0, "Name"),
            (0, 1, "Mail"),
            (0, 2, "Card"),
            (1, 0, "Anna"),
            (1, 1, "anna@example.com"),
            (6, 1, "far"),
            (6, 4, "gap"),
            (6, 5, "next"),
        ]);
        assert_eq!(locate(&part, "Card"), "sheet \"Budget\" cell C1");
        assert_eq!(locate(&part, "anna@"), "sheet \"Budget\" cell B2");
        assert_eq!(locate(&part, "example"), "sheet \"Budget\" cell B2");
        assert_eq!(locate(&part, "far"), "sheet \"Budget\" cell B7");
        assert_eq!(locate(&part, "gap"), "sheet \"Budget\" cell E7");
        assert_eq!(locate(&part, "next"), "sheet \"Budget\" cell F7");
        // One anchor per row, and one per gap.
        let Layout::Cells(cells) = &part.layout else {
            unreachable!()
        };
        assert_eq!(cells.anchors().len(), 4);
    }

    #[test]
    fn an_empty_cells_anchor_gives_way_to_the_next() {
        let mut anchors = CellAnchors::default();
        let mut text = String::from("a");
        anchors.cell("", 0, 0);
        text.push('\t');
        anchors.cell(&text, 0, 1); // writes nothing
        anchors.cell(&text, 0, 2);
        text.push('b');
        assert_eq!(anchors.anchors().len(), 2);
        assert_eq!(anchors.cell_at(&text, 2), Some((0, 2)));
        assert_eq!(anchors.cell_at(&text, 0), Some((0, 0)));
    }

    #[test]
    fn plain_cells_are_derived_from_the_separator_alone() {
        let mut scanned = CellAnchors::default();
        let mut plain = CellAnchors::default();
        let mut text = String::new();
        let cells = [
            (0, 0, "a"),
            (0, 1, "bb"),
            (0, 3, "c"),
            (2, 0, "d"),
            (2, 1, ""),
        ];
        for (row, col, value) in cells {
            if row > 0 && text.ends_with('\t') && col == 0 {
                text.pop();
                text.push('\n');
            }
            scanned.cell(&text, row, col);
            plain.cell_in_plain_text(&text, row, col);
            text.push_str(value);
            if !value.is_empty() {
                text.push('\t');
            }
        }
        scanned.cell(&text, 2, 2);
        plain.cell_in_plain_text(&text, 2, 2);
        text.push('e');
        assert_eq!(plain.anchors(), scanned.anchors());
        assert_eq!(plain.cell_at(&text, text.len() - 1), Some((2, 2)));
        assert_eq!(plain.cell_at(&text, 5), Some((0, 3)));
    }

    #[test]
    fn properties_by_name() {
        let text = "Title: Budget 2026\nComments: call +49 30 1234567\nsecond line\n";
        let names = vec![
            NamedAnchor {
                at: 0,
                name: "Title".into(),
            },
            NamedAnchor {
                at: text.find("Comments").unwrap() as u32,
                name: "Comments".into(),
            },
        ];
        let part = Part::new(PartKind::Other, "document properties", text)
            .with_layout(Layout::Named(names));
        assert_eq!(locate(&part, "2026"), "property Title");
        assert_eq!(locate(&part, "+49"), "property Comments");
        assert_eq!(locate(&part, "second"), "property Comments");
    }

    #[test]
    fn embedded_parts_keep_their_layout_under_the_prefix() {
        let mut inner = Extracted::default();
        inner.parts.push(sheet(&[(0, 0, "x"), (0, 1, "y")]));
        let mut outer = Extracted::default();
        outer.absorb_embedded("embedded word/embeddings/b.xlsx", inner);
        assert_eq!(
            locate(&outer.parts[0], "y"),
            "embedded word/embeddings/b.xlsx sheet \"Budget\" cell B1"
        );
    }
}
