//! Evidence locations (SPEC "A run is an audit record"): a value planted in a
//! document of each format is located at its page, sheet and cell, slide,
//! paragraph or line. Documents are built here; only the public API is used
//! (extraction with the default budget, detectors of the default policy).

use std::io::{Cursor, Write as _};

mod common;
use common::pdf;

use labelscan::budget::{Budget, Limits};
use labelscan::detect::DetectorSet;
use labelscan::extract::{extract_document, Format};
use labelscan::policy::Policy;

const EMAIL: &str = "anna.schmidt@apex-dynamics.example";
const CARD: &str = "4111 1111 1111 1111";

/// Locations of `detector`'s hits in `bytes` read as `format`.
fn locations(format: Format, bytes: &[u8], detector: &str) -> Vec<String> {
    let extracted = extract_document(format, bytes, &Budget::new(Limits::default()));
    assert_eq!(extracted.error, None, "{format:?}");
    let set = DetectorSet::compile(&Policy::default_policy()).unwrap();
    let detections = set.scan(&extracted.parts, false);
    detections
        .into_iter()
        .find(|d| d.detector == detector)
        .unwrap_or_else(|| panic!("no {detector} in {format:?}"))
        .locations
}

fn zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in members {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.start_file(*name, options).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

const CONTENT_TYPES: &[u8] = br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#;

fn w_paragraphs(paragraphs: &[&str]) -> String {
    paragraphs
        .iter()
        .map(|p| {
            if p.is_empty() {
                "<w:p/>".to_string()
            } else {
                format!("<w:p><w:r><w:t>{p}</w:t></w:r></w:p>")
            }
        })
        .collect()
}

#[test]
fn docx_body_header_comment_and_property_paragraphs() {
    let document = format!(
        r#"<w:document xmlns:w="w"><w:body>{}</w:body></w:document>"#,
        // The empty paragraph has no text and is not counted.
        w_paragraphs(&["Intro", "", "Second", &format!("Write to {EMAIL} today")])
    );
    let header = format!(
        r#"<w:hdr xmlns:w="w">{}</w:hdr>"#,
        w_paragraphs(&["INTERNAL", &format!("Card {CARD}")])
    );
    let comments = format!(
        r#"<w:comments xmlns:w="w"><w:comment w:id="0">{}</w:comment></w:comments>"#,
        w_paragraphs(&["first", &format!("ask {EMAIL}")])
    );
    let rels = br#"<Relationships><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>"#;
    let core = format!(
        r#"<cp:coreProperties xmlns:cp="cp" xmlns:dc="dc"><dc:title>Budget</dc:title><dc:creator>{EMAIL}</dc:creator></cp:coreProperties>"#
    );
    let docx = zip(&[
        ("[Content_Types].xml", CONTENT_TYPES),
        ("_rels/.rels", rels),
        ("word/document.xml", document.as_bytes()),
        ("word/header1.xml", header.as_bytes()),
        ("word/comments.xml", comments.as_bytes()),
        ("docProps/core.xml", core.as_bytes()),
    ]);
    assert_eq!(
        locations(Format::Docx, &docx, "email"),
        [
            "body word/document.xml paragraph 3",
            "comment word/comments.xml paragraph 2",
            "property creator",
        ]
    );
    assert_eq!(
        locations(Format::Docx, &docx, "credit_card"),
        ["header word/header1.xml paragraph 2"]
    );
}

#[test]
fn xlsx_sheet_and_cell() {
    let workbook = br#"<workbook xmlns:r="r"><sheets><sheet name="Intro" sheetId="1" r:id="rId1"/><sheet name="Budget" sheetId="2" r:id="rId2"/></sheets></workbook>"#;
    let rels = br#"<Relationships><Relationship Id="rId1" Type="x/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="x/worksheet" Target="worksheets/sheet2.xml"/><Relationship Id="rId3" Type="x/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#;
    let sst = format!("<sst><si><t>Name</t></si><si><t>{EMAIL}</t></si></sst>");
    let intro = br#"<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>"#;
    // Row 7 is dense from A; row 9 starts at D after empty cells.
    let budget = format!(
        r#"<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="7"><c r="A7"><v>12</v></c><c r="B7" t="s"><v>1</v></c></row><row r="9"><c r="A9" t="s"/><c r="D9" t="inlineStr"><is><t>{CARD}</t></is></c><c r="E9"><v>3</v></c></row></sheetData></worksheet>"#
    );
    let xlsx = zip(&[
        ("[Content_Types].xml", CONTENT_TYPES),
        ("xl/workbook.xml", workbook),
        ("xl/_rels/workbook.xml.rels", rels),
        ("xl/sharedStrings.xml", sst.as_bytes()),
        ("xl/worksheets/sheet1.xml", intro),
        ("xl/worksheets/sheet2.xml", budget.as_bytes()),
    ]);
    assert_eq!(
        locations(Format::Xlsx, &xlsx, "email"),
        [r#"sheet "Budget" cell B7"#]
    );
    assert_eq!(
        locations(Format::Xlsx, &xlsx, "credit_card"),
        [r#"sheet "Budget" cell D9"#]
    );
}

#[test]
fn pptx_slide_and_notes() {
    let presentation = br#"<p:presentation xmlns:p="p" xmlns:r="r"><p:sldIdLst><p:sldId id="256" r:id="rId2"/><p:sldId id="257" r:id="rId3"/></p:sldIdLst></p:presentation>"#;
    let rels = br#"<Relationships><Relationship Id="rId2" Type="x/slide" Target="slides/slide1.xml"/><Relationship Id="rId3" Type="x/slide" Target="slides/slide2.xml"/></Relationships>"#;
    let slide = |t: &str| {
        format!(
            r#"<p:sld xmlns:p="p" xmlns:a="a"><p:cSld><p:spTree><p:sp><p:txBody><a:p><a:r><a:t>Title</a:t></a:r></a:p><a:p><a:r><a:t>{t}</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>"#
        )
    };
    let first = slide("nothing here");
    let second = slide(&format!("mail {EMAIL}"));
    let first_rels = br#"<Relationships><Relationship Id="rId1" Type="x/notesSlide" Target="../notesSlides/notesSlide1.xml"/></Relationships>"#;
    let notes = format!(
        r#"<p:notes xmlns:p="p" xmlns:a="a"><a:p><a:r><a:t>card {CARD}</a:t></a:r></a:p></p:notes>"#
    );
    let pptx = zip(&[
        ("[Content_Types].xml", CONTENT_TYPES),
        ("ppt/presentation.xml", presentation),
        ("ppt/_rels/presentation.xml.rels", rels),
        ("ppt/slides/slide1.xml", first.as_bytes()),
        ("ppt/slides/slide2.xml", second.as_bytes()),
        ("ppt/slides/_rels/slide1.xml.rels", first_rels),
        ("ppt/notesSlides/notesSlide1.xml", notes.as_bytes()),
    ]);
    assert_eq!(locations(Format::Pptx, &pptx, "email"), ["slide 2"]);
    assert_eq!(
        locations(Format::Pptx, &pptx, "credit_card"),
        ["notes slide 1"]
    );
}

const ODF_NS: &str = r#"xmlns:office="o" xmlns:text="t" xmlns:table="tb" xmlns:draw="d" xmlns:presentation="p" xmlns:dc="dc" xmlns:style="s" xmlns:meta="m""#;

fn odf(mime: &str, body: &str) -> Vec<u8> {
    let content = format!(
        r#"<office:document-content {ODF_NS}><office:body>{body}</office:body></office:document-content>"#
    );
    zip(&[
        ("mimetype", mime.as_bytes()),
        ("content.xml", content.as_bytes()),
    ])
}

#[test]
fn odt_paragraphs() {
    let odt = odf(
        "application/vnd.oasis.opendocument.text",
        &format!(
            "<office:text><text:h>Heading</text:h><text:p/><text:p>to {EMAIL}</text:p></office:text>"
        ),
    );
    assert_eq!(
        locations(Format::Odt, &odt, "email"),
        ["body content.xml paragraph 2"]
    );
}

#[test]
fn ods_cells_with_repeated_rows_and_columns() {
    let ods = odf(
        "application/vnd.oasis.opendocument.spreadsheet",
        &format!(
            r#"<office:spreadsheet><table:table table:name="Budget">
<table:table-row><table:table-cell><text:p>Name</text:p></table:table-cell><table:table-cell table:number-columns-repeated="2"/><table:table-cell><text:p>{EMAIL}</text:p></table:table-cell></table:table-row>
<table:table-row table:number-rows-repeated="3"><table:table-cell table:number-columns-repeated="5"/></table:table-row>
<table:table-row><table:table-cell/><table:table-cell><text:p>{CARD}</text:p></table:table-cell></table:table-row>
</table:table></office:spreadsheet>"#
        ),
    );
    assert_eq!(
        locations(Format::Ods, &ods, "email"),
        [r#"sheet "Budget" cell D1"#]
    );
    assert_eq!(
        locations(Format::Ods, &ods, "credit_card"),
        [r#"sheet "Budget" cell B5"#]
    );
}

#[test]
fn odp_slides() {
    let odp = odf(
        "application/vnd.oasis.opendocument.presentation",
        &format!(
            r#"<office:presentation><draw:page><draw:frame><draw:text-box><text:p>one</text:p></draw:text-box></draw:frame></draw:page><draw:page><draw:frame><draw:text-box><text:p>two {EMAIL}</text:p></draw:text-box></draw:frame></draw:page></office:presentation>"#
        ),
    );
    assert_eq!(locations(Format::Odp, &odp, "email"), ["slide 2"]);
}

#[test]
fn text_and_csv_lines() {
    let text = format!("first\n\nthird {EMAIL}\r\nfourth\n{CARD}\n");
    assert_eq!(
        locations(Format::Text, text.as_bytes(), "email"),
        ["body line 3"]
    );
    assert_eq!(
        locations(Format::Text, text.as_bytes(), "credit_card"),
        ["body line 5"]
    );
    let csv = format!("name,mail\nAnna,{EMAIL}\nBen,ben@apex-dynamics.example\n");
    assert_eq!(
        locations(Format::Csv, csv.as_bytes(), "email"),
        ["body line 2", "body line 3"]
    );
}

#[test]
fn rtf_paragraphs() {
    let rtf = format!(r"{{\rtf1\ansi Intro\par\par Contact {EMAIL}\par}}");
    assert_eq!(
        locations(Format::Rtf, rtf.as_bytes(), "email"),
        ["body paragraph 2"]
    );
}

fn pdf_stream(data: &str) -> Vec<u8> {
    format!("<< /Length {} >>\nstream\n{data}\nendstream", data.len()).into_bytes()
}

#[test]
fn pdf_pages() {
    let page = |contents: usize| {
        format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {contents} 0 R >>")
            .into_bytes()
    };
    let doc = pdf(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 /Resources << /Font << /F1 7 0 R >> >> >>"
            .to_vec(),
        page(5),
        page(6),
        pdf_stream("BT /F1 12 Tf 72 500 Td (Nothing on the first page) Tj ET"),
        pdf_stream(&format!(
            "BT /F1 12 Tf 72 500 Td (Intro) Tj 0 -20 Td (Mail {EMAIL}) Tj ET"
        )),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_vec(),
    ]);
    assert_eq!(locations(Format::Pdf, &doc, "email"), ["page 2"]);
}

/// A BIFF8 record.
fn record(kind: u16, data: &[u8]) -> Vec<u8> {
    let mut r = kind.to_le_bytes().to_vec();
    r.extend_from_slice(&(data.len() as u16).to_le_bytes());
    r.extend_from_slice(data);
    r
}

/// A LABEL cell: row, column, format, then an 8-bit XLUnicodeString.
fn label(row: u16, col: u16, text: &str) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend_from_slice(&row.to_le_bytes());
    d.extend_from_slice(&col.to_le_bytes());
    d.extend_from_slice(&0u16.to_le_bytes());
    d.extend_from_slice(&(text.len() as u16).to_le_bytes());
    d.push(0);
    d.extend_from_slice(text.as_bytes());
    record(0x0204, &d)
}

#[test]
fn xls_sheet_and_cell() {
    let bof = |kind: u16| {
        let mut d = 0x0600u16.to_le_bytes().to_vec();
        d.extend_from_slice(&kind.to_le_bytes());
        record(0x0809, &d)
    };
    let eof = record(0x000A, &[]);
    let boundsheet = |name: &str| {
        let mut d = vec![0u8; 6];
        d.push(name.len() as u8);
        d.push(0);
        d.extend_from_slice(name.as_bytes());
        record(0x0085, &d)
    };
    let stream: Vec<u8> = [
        bof(0x0005),
        boundsheet("Intro"),
        boundsheet("Budget"),
        eof.clone(),
        bof(0x0010),
        label(0, 0, "hello"),
        eof.clone(),
        bof(0x0010),
        label(0, 0, "Name"),
        label(6, 1, EMAIL),
        label(6, 0, "Anna"),
        label(8, 3, CARD),
        eof,
    ]
    .concat();
    let mut ole = cfb::CompoundFile::create(Cursor::new(Vec::new())).unwrap();
    ole.create_stream("/Workbook")
        .unwrap()
        .write_all(&stream)
        .unwrap();
    ole.flush().unwrap();
    let xls = ole.into_inner().into_inner();
    assert_eq!(
        locations(Format::Xls, &xls, "email"),
        [r#"sheet "Budget" cell B7"#]
    );
    assert_eq!(
        locations(Format::Xls, &xls, "credit_card"),
        [r#"sheet "Budget" cell D9"#]
    );
}
