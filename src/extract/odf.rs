//! OpenDocument packages (odt, ods, odp): `content.xml` (body, sheets,
//! slides and notes, annotations, tracked deletions, footnotes), headers
//! and footers of the master pages in `styles.xml`, and `meta.xml`
//! properties. One streaming pass per part.

use super::ooxml::Ctx;
use super::xml::{self, local, Tag, TextBuf, Ticker, Token, Tokens};
use super::zipread::Package;
use super::{
    CellAnchors, ErrorKind, ExtractError, ExtractResult, Extracted, Format, Layout, PartKind,
};
use crate::model::budget::Budget;

pub fn extract(format: Format, bytes: &[u8], budget: &Budget) -> Extracted {
    match Package::open(bytes, budget) {
        Ok(pkg) => extract_package(format, pkg, budget),
        Err(e) => Extracted::failed(e),
    }
}

/// [`extract`] of a package already opened (in memory or on disk).
pub fn extract_package(format: Format, pkg: Package<'_>, budget: &Budget) -> Extracted {
    let mut cx = Ctx::new(pkg, budget);
    let r = run(format, &mut cx);
    cx.finish(r)
}

fn run(format: Format, cx: &mut Ctx) -> ExtractResult<()> {
    if let Some(meta) = cx.read_optional("meta.xml")? {
        meta_properties(cx, &meta);
    }
    if let Some(manifest) = cx.read_optional("META-INF/manifest.xml")? {
        if manifest.contains("encryption-data") {
            return Err(ExtractError::encrypted("ODF package is password-protected"));
        }
    }
    let mode = match format {
        Format::Ods => Mode::Sheet,
        Format::Odp => Mode::Slides,
        _ => Mode::Text,
    };
    let content = cx.read_required("content.xml")?;
    let Some(content) = content else {
        return Err(ExtractError::corrupt("ODF content.xml not found"));
    };
    let r = walk(cx, &content, "content.xml", mode);
    drop(content);
    match r {
        // The end of a part read only in part: styles.xml still counts.
        Err(e) if e.kind == ErrorKind::Corrupt && cx.was_cut() => {}
        Err(e) if e.kind == ErrorKind::Corrupt => return Err(xml::malformed("content.xml")),
        Err(e) => return Err(e),
        Ok(()) => {}
    }
    if let Some(styles) = cx.read_optional("styles.xml")? {
        match walk(cx, &styles, "styles.xml", Mode::Styles) {
            Err(e) if e.kind == ErrorKind::Corrupt => {
                cx.out
                    .parts_read
                    .push("styles.xml (malformed XML, partly read)".into());
            }
            r => r?,
        }
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Text,
    Sheet,
    Slides,
    Styles,
}

/// Where text goes at the moment.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tgt {
    Main = 0,
    Comment = 1,
    Deleted = 2,
    Note = 3,
    Notes = 4,
    Margin = 5,
    Skip = 6,
}

fn walk(cx: &mut Ctx, text: &str, part: &str, mode: Mode) -> ExtractResult<()> {
    let budget = cx.budget;
    let mut tokens = Tokens::new(text);
    let mut tick = Ticker::new(budget);
    let mut bufs: [TextBuf; 6] = std::array::from_fn(|_| TextBuf::new(cx.cap()));
    let default_tgt = if mode == Mode::Styles {
        Tgt::Skip
    } else {
        Tgt::Main
    };
    let mut stack: Vec<(u32, Tgt)> = Vec::new();
    let mut depth: u32 = 0;
    let mut paras: u32 = 0;
    let mut cells: u32 = 0;
    let mut tables: u32 = 0;
    let mut sheet_name = String::new();
    let mut slide_no = 0usize;
    let mut master = String::new();
    let mut margin_loc = String::new();
    let mut margin_kind = PartKind::Header;
    let mut grid = SheetGrid::default();
    let mut result = Ok(());

    loop {
        if let Err(e) = tick.tick() {
            result = Err(e);
            break;
        }
        let ev = match tokens.next_token() {
            Ok(Some(ev)) => ev,
            Ok(None) => break,
            Err(_) => {
                result = Err(ExtractError::corrupt("malformed XML"));
                break;
            }
        };
        let tgt = stack.last().map(|s| s.1).unwrap_or(default_tgt);
        match ev {
            Token::Start(e) => {
                depth += 1;
                let name = e.local();
                let qname = e.name;
                let new_tgt = match name {
                    "annotation" if qname.starts_with("office:") || qname == "annotation" => {
                        Some(Tgt::Comment)
                    }
                    "tracked-changes" => Some(Tgt::Skip),
                    "deletion" if tgt == Tgt::Skip && mode != Mode::Styles => Some(Tgt::Deleted),
                    "change-info" | "note-citation" | "creator" | "date" => Some(Tgt::Skip),
                    "note-body" if tgt == Tgt::Main => Some(Tgt::Note),
                    "notes" if mode == Mode::Slides => Some(Tgt::Notes),
                    "header" | "footer" | "header-left" | "footer-left" | "header-first"
                    | "footer-first"
                        if mode == Mode::Styles =>
                    {
                        margin_loc = format!("styles.xml {name} ({master})");
                        margin_kind = margin_kind_of(name);
                        Some(Tgt::Margin)
                    }
                    // Presentation master pages: footer/header placeholders.
                    "frame" if mode == Mode::Styles && tgt == Tgt::Skip => {
                        match e.attr_raw("class") {
                            Some(c @ ("header" | "footer")) => {
                                margin_loc = format!("styles.xml {c} ({master})");
                                margin_kind = margin_kind_of(c);
                                Some(Tgt::Margin)
                            }
                            _ => None,
                        }
                    }
                    // Presentation footer/header texts declared for slides.
                    "header-decl" | "footer-decl" if mode != Mode::Styles => {
                        margin_loc = format!("{part} {name}");
                        margin_kind = margin_kind_of(name);
                        Some(Tgt::Margin)
                    }
                    _ => None,
                };
                if let Some(t) = new_tgt {
                    stack.push((depth, t));
                }
                let tgt = stack.last().map(|s| s.1).unwrap_or(default_tgt);
                match name {
                    "p" | "h" | "header-decl" | "footer-decl" => paras += 1,
                    "table-cell" | "covered-table-cell" => {
                        cells += 1;
                        if tables == 1 && mode == Mode::Sheet && tgt == Tgt::Main {
                            grid.cell(&e, &bufs[Tgt::Main as usize].text);
                        }
                    }
                    "table-row" if tables == 1 && mode == Mode::Sheet => grid.row(&e),
                    "table" => {
                        tables += 1;
                        if tables == 1 && mode == Mode::Sheet {
                            sheet_name = e.attr("name").unwrap_or_default();
                            grid = SheetGrid::default();
                        }
                    }
                    "page" if mode == Mode::Slides => slide_no += 1,
                    "master-page" if mode == Mode::Styles => {
                        master = e.attr("name").unwrap_or_default();
                    }
                    "tab" if paras > 0 && tgt != Tgt::Skip => bufs[tgt as usize].push('\t'),
                    "line-break" if paras > 0 && tgt != Tgt::Skip => bufs[tgt as usize].push('\n'),
                    _ => {}
                }
            }
            Token::Empty(e) => {
                if tables == 1 && mode == Mode::Sheet && tgt == Tgt::Main {
                    match e.local() {
                        // Empty cells take columns too.
                        "table-cell" | "covered-table-cell" => grid.skip_cell(&e),
                        "table-row" => grid.row(&e),
                        _ => {}
                    }
                }
                if tgt == Tgt::Skip || paras == 0 {
                    continue;
                }
                let b = &mut bufs[tgt as usize];
                match e.local() {
                    "tab" => b.push('\t'),
                    "line-break" => b.push('\n'),
                    "s" => {
                        let n: usize = e.attr("c").and_then(|c| c.parse().ok()).unwrap_or(1);
                        for _ in 0..n.clamp(1, 64) {
                            b.push(' ');
                        }
                    }
                    _ => {}
                }
            }
            Token::End(name) => {
                let name = local(name);
                match name {
                    "header-decl" | "footer-decl" => paras = paras.saturating_sub(1),
                    "p" | "h" => {
                        paras = paras.saturating_sub(1);
                        if tgt != Tgt::Skip {
                            let b = &mut bufs[tgt as usize];
                            if cells > 0 && tgt == Tgt::Main {
                                b.soft_break();
                            } else {
                                b.newline();
                            }
                        }
                    }
                    "table-cell" | "covered-table-cell" => {
                        cells = cells.saturating_sub(1);
                        if tgt == Tgt::Main {
                            bufs[0].cell_end();
                        }
                    }
                    "table-row" if tgt == Tgt::Main => bufs[0].newline(),
                    "table" => {
                        tables = tables.saturating_sub(1);
                        if tables == 0 && mode == Mode::Sheet {
                            let text = bufs[Tgt::Main as usize].take();
                            let cells = std::mem::take(&mut grid.cells);
                            cx.out.push_part_laid_out(
                                PartKind::Sheet,
                                format!("sheet \"{sheet_name}\""),
                                text,
                                Layout::Cells(cells),
                            );
                        }
                    }
                    "page" if mode == Mode::Slides => {
                        let loc = format!("slide {slide_no}");
                        let text = bufs[Tgt::Main as usize].take();
                        cx.out.push_part(PartKind::Slide, loc.clone(), text);
                        let notes = bufs[Tgt::Notes as usize].take();
                        cx.out.push_part(PartKind::Notes, loc, notes);
                    }
                    "annotation" => bufs[Tgt::Comment as usize].newline(),
                    _ => {}
                }
                if stack.last().is_some_and(|s| s.0 == depth) {
                    if let Some((_, Tgt::Margin)) = stack.pop() {
                        let text = bufs[Tgt::Margin as usize].take();
                        cx.out.push_part(margin_kind, margin_loc.clone(), text);
                    }
                }
                depth = depth.saturating_sub(1);
            }
            // Whitespace between paragraphs' child elements is not content.
            Token::Text(t)
                if paras > 0
                    && tgt != Tgt::Skip
                    && !(t.starts_with('\n') && t.trim().is_empty()) =>
            {
                bufs[tgt as usize].push_escaped(t);
            }
            Token::CData(t) if paras > 0 && tgt != Tgt::Skip => bufs[tgt as usize].push_str(t),
            _ => {}
        }
    }
    let [main, comment, deleted, note, notes, _margin] = &mut bufs;
    match mode {
        Mode::Text => cx.out.push_part(PartKind::Body, part, main.take()),
        Mode::Sheet | Mode::Slides => {
            // Text outside any table or page (rare) still counts.
            cx.out.push_part(PartKind::Other, part, main.take());
            cx.out.push_part(PartKind::Notes, part, notes.take());
        }
        Mode::Styles => {}
    }
    cx.out.push_part(PartKind::Comment, part, comment.take());
    cx.out.push_part(PartKind::Deleted, part, deleted.take());
    cx.out.push_part(PartKind::Footnote, part, note.take());
    result
}

/// Where the cells of a sheet are: rows and columns counted from the
/// start of its table, with their repeat counts.
#[derive(Default)]
struct SheetGrid {
    /// Zero-based row of the current row and how many rows it stands for;
    /// `None` before the first.
    row: Option<(u32, u32)>,
    next_col: u32,
    cells: CellAnchors,
}

impl SheetGrid {
    fn row(&mut self, e: &Tag<'_>) {
        let at = self.row.map_or(0, |(row, span)| row.saturating_add(span));
        self.row = Some((at, repeats(e, "number-rows-repeated")));
        self.next_col = 0;
    }

    /// A cell starts at the end of `text`; an empty one's anchor is
    /// replaced by the next cell's.
    fn cell(&mut self, e: &Tag<'_>, text: &str) {
        let col = self.next_col;
        self.skip_cell(e);
        let row = self.row.map_or(0, |(row, _)| row);
        self.cells.cell(text, row, col);
    }

    fn skip_cell(&mut self, e: &Tag<'_>) {
        let span = repeats(e, "number-columns-repeated");
        self.next_col = self.next_col.saturating_add(span);
    }
}

/// A repeat count attribute (`table:number-columns-repeated`), 1 if absent.
fn repeats(e: &Tag<'_>, name: &str) -> u32 {
    e.attr_raw(name)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(1)
        .max(1)
}

fn margin_kind_of(name: &str) -> PartKind {
    if name.starts_with("header") {
        PartKind::Header
    } else {
        PartKind::Footer
    }
}

/// `meta.xml`: user-defined properties and the Dublin Core fields.
fn meta_properties(cx: &mut Ctx, text: &str) {
    let mut tokens = Tokens::new(text);
    let mut tick = Ticker::new(cx.budget);
    let mut current: Option<String> = None;
    let mut value = String::new();
    loop {
        if tick.tick().is_err() {
            break;
        }
        match tokens.next_token() {
            Ok(Some(Token::Start(e))) => {
                let name = e.local();
                current = match name {
                    "user-defined" => e.attr("name"),
                    "title" | "subject" | "keyword" | "description" | "creator"
                    | "initial-creator" => Some(name.to_string()),
                    _ => None,
                };
                value.clear();
            }
            Ok(Some(Token::End(_))) => {
                if let Some(name) = current.take() {
                    cx.out.push_property(name, value.trim(), "meta.xml");
                }
            }
            Ok(Some(Token::Text(t))) if current.is_some() => xml::unescape_into(t, &mut value),
            Ok(Some(Token::CData(t))) if current.is_some() => value.push_str(t),
            Ok(None) | Err(_) => break,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::test_budget;
    use crate::extract::zipread::testzip;

    const NS: &str = r#"xmlns:office="o" xmlns:text="t" xmlns:table="tb" xmlns:draw="d" xmlns:presentation="p" xmlns:dc="dc" xmlns:style="s" xmlns:meta="m""#;

    fn package(mime: &str, content: &str, styles: &str, meta: &str) -> Vec<u8> {
        testzip::build_with(
            &[
                ("mimetype", mime.as_bytes()),
                ("content.xml", content.as_bytes()),
                ("styles.xml", styles.as_bytes()),
                ("meta.xml", meta.as_bytes()),
            ],
            zip::CompressionMethod::Stored,
        )
    }

    #[test]
    fn odt_body_comments_deletions_headers_meta() {
        let content = format!(
            r#"<office:document-content {NS}><office:body><office:text>
<text:tracked-changes><text:changed-region text:id="c1"><text:deletion><office:change-info><dc:creator>Bob</dc:creator><dc:date>2020</dc:date></office:change-info><text:p>removed secret</text:p></text:deletion></text:changed-region></text:tracked-changes>
<text:h text:outline-level="1">Title &amp; more</text:h>
<text:p>Hello<text:s text:c="2"/>world<text:tab/>x<text:line-break/>y<office:annotation><dc:creator>Ann</dc:creator><dc:date>2020</dc:date><text:p>a remark</text:p></office:annotation></text:p>
<text:list><text:list-item><text:p>item one</text:p></text:list-item></text:list>
<text:p>with note<text:note text:note-class="footnote"><text:note-citation>1</text:note-citation><text:note-body><text:p>the footnote</text:p></text:note-body></text:note></text:p>
<table:table table:name="T"><table:table-row><table:table-cell><text:p>a</text:p></table:table-cell><table:table-cell table:number-columns-repeated="1000000"/><table:table-cell><text:p>b</text:p></table:table-cell></table:table-row></table:table>
</office:text></office:body></office:document-content>"#
        );
        let styles = format!(
            r#"<office:document-styles {NS}><office:master-styles><style:master-page style:name="Standard"><style:header><text:p>INTERNAL</text:p></style:header><style:footer-left><text:p>TLP:GREEN</text:p></style:footer-left></style:master-page></office:master-styles></office:document-styles>"#
        );
        let meta = format!(
            r#"<office:document-meta {NS}><office:meta><dc:title>T1</dc:title><meta:keyword>k1</meta:keyword><meta:keyword>k2</meta:keyword><meta:user-defined meta:name="Classification" meta:value-type="string">Confidential &amp; Co</meta:user-defined></office:meta></office:document-meta>"#
        );
        let z = package(
            "application/vnd.oasis.opendocument.text",
            &content,
            &styles,
            &meta,
        );
        let x = extract(Format::Odt, &z, &test_budget());
        assert!(x.error.is_none(), "{:?}", x.error);
        assert_eq!(
            x.part_text(PartKind::Body, "content.xml"),
            Some("Title & more\nHello  world\tx\ny\nitem one\nwith note\na\tb")
        );
        assert_eq!(
            x.part_text(PartKind::Comment, "content.xml"),
            Some("a remark")
        );
        assert_eq!(
            x.part_text(PartKind::Deleted, "content.xml"),
            Some("removed secret")
        );
        assert_eq!(
            x.part_text(PartKind::Footnote, "content.xml"),
            Some("the footnote")
        );
        assert_eq!(
            x.part_text(PartKind::Header, "styles.xml header (Standard)"),
            Some("INTERNAL")
        );
        assert_eq!(
            x.part_text(PartKind::Footer, "styles.xml footer-left (Standard)"),
            Some("TLP:GREEN")
        );
        let prop = |n: &str| {
            x.properties
                .iter()
                .filter(|p| p.name == n)
                .map(|p| p.value.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(prop("Classification"), vec!["Confidential & Co"]);
        assert_eq!(prop("title"), vec!["T1"]);
        assert_eq!(prop("keyword"), vec!["k1", "k2"]);
        assert!(x.properties.iter().all(|p| p.location == "meta.xml"));
    }

    #[test]
    fn ods_sheets_and_odp_slides() {
        let content = format!(
            r#"<office:document-content {NS}><office:body><office:spreadsheet>
<table:table table:name="Budget"><table:table-row table:number-rows-repeated="3"><table:table-cell><text:p>Name</text:p></table:table-cell><table:table-cell office:value="3"><text:p>3</text:p></table:table-cell></table:table-row><table:table-row><table:table-cell table:number-columns-repeated="16384"/></table:table-row><table:table-row><table:table-cell><text:p>x</text:p><office:annotation><text:p>cell note</text:p></office:annotation></table:table-cell></table:table-row></table:table>
<table:table table:name="Hidden"><table:table-row><table:table-cell><text:p>h</text:p></table:table-cell></table:table-row></table:table>
</office:spreadsheet></office:body></office:document-content>"#
        );
        let z = package(
            "application/vnd.oasis.opendocument.spreadsheet",
            &content,
            "<a/>",
            "<a/>",
        );
        let x = extract(Format::Ods, &z, &test_budget());
        assert!(x.error.is_none(), "{:?}", x.error);
        assert_eq!(
            x.part_text(PartKind::Sheet, "sheet \"Budget\""),
            Some("Name\t3\nx")
        );
        assert_eq!(x.part_text(PartKind::Sheet, "sheet \"Hidden\""), Some("h"));
        assert_eq!(
            x.part_text(PartKind::Comment, "content.xml"),
            Some("cell note")
        );

        let content = format!(
            r#"<office:document-content {NS}><office:body><office:presentation>
<draw:page draw:name="p1"><draw:frame><draw:text-box><text:p>First slide</text:p><text:p>CONFIDENTIAL</text:p></draw:text-box></draw:frame><presentation:notes><draw:frame><draw:text-box><text:p>say this</text:p></draw:text-box></draw:frame></presentation:notes></draw:page>
<draw:page draw:name="p2"><draw:frame><draw:text-box><text:p>Second</text:p></draw:text-box></draw:frame></draw:page>
</office:presentation></office:body></office:document-content>"#
        );
        let styles = format!(
            r#"<office:document-styles {NS}><office:master-styles><style:master-page style:name="Default"><draw:frame presentation:class="title"><draw:text-box/></draw:frame><draw:frame presentation:class="footer"><draw:text-box><text:p>Master footer</text:p></draw:text-box></draw:frame></style:master-page></office:master-styles></office:document-styles>"#
        );
        let content = content.replace(
            "<office:presentation>",
            "<office:presentation><presentation:footer-decl presentation:name=\"f1\">TLP:AMBER</presentation:footer-decl>",
        );
        let z = package(
            "application/vnd.oasis.opendocument.presentation",
            &content,
            &styles,
            "<a/>",
        );
        let x = extract(Format::Odp, &z, &test_budget());
        assert!(x.error.is_none(), "{:?}", x.error);
        assert_eq!(
            x.part_text(PartKind::Slide, "slide 1"),
            Some("First slide\nCONFIDENTIAL")
        );
        assert_eq!(x.part_text(PartKind::Notes, "slide 1"), Some("say this"));
        assert_eq!(x.part_text(PartKind::Slide, "slide 2"), Some("Second"));
        assert_eq!(
            x.part_text(PartKind::Footer, "styles.xml footer (Default)"),
            Some("Master footer")
        );
        assert_eq!(
            x.part_text(PartKind::Footer, "content.xml footer-decl"),
            Some("TLP:AMBER")
        );
    }

    #[test]
    fn encrypted_and_broken_odf() {
        let manifest = br#"<manifest:manifest xmlns:manifest="m"><manifest:file-entry manifest:full-path="content.xml"><manifest:encryption-data/></manifest:file-entry></manifest:manifest>"#;
        let z = testzip::build(&[
            ("mimetype", b"application/vnd.oasis.opendocument.text"),
            ("META-INF/manifest.xml", manifest),
            ("content.xml", b"\x01\x02garbage"),
        ]);
        let x = extract(Format::Odt, &z, &test_budget());
        assert_eq!(x.error.unwrap().kind, ErrorKind::Encrypted);
        let x = extract(Format::Odt, b"PK\x03\x04", &test_budget());
        assert_eq!(x.error.unwrap().kind, ErrorKind::Corrupt);
        let z = testzip::build(&[("mimetype", b"application/vnd.oasis.opendocument.text")]);
        let x = extract(Format::Odt, &z, &test_budget());
        assert_eq!(x.error.unwrap().kind, ErrorKind::Corrupt);
    }
}
