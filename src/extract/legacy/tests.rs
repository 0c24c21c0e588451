//! Tests over whole OLE files: built in memory with `cfb`, and the fixtures
//! under `tests/fixtures/legacy/`.

use std::io::Write;

use super::propset::build::{doc_summary, summary, Val};
use super::*;
use crate::model::budget::{Budget, Limits};

fn ole_with(streams: &[(&str, &[u8])]) -> Vec<u8> {
    let mut ole = cfb::CompoundFile::create(Cursor::new(Vec::new())).unwrap();
    for (path, data) in streams {
        if let Some((dir, _)) = path.rsplit_once('/') {
            if !dir.is_empty() {
                ole.create_storage_all(dir).unwrap();
            }
        }
        let mut s = ole.create_stream(path).unwrap();
        s.write_all(data).unwrap();
    }
    ole.flush().unwrap();
    ole.into_inner().into_inner()
}

#[test]
fn irm_protected_file_keeps_properties_and_label_info() {
    let dsi = doc_summary(
        &[(2, Val::Lpstr("Highly Confidential"))],
        &[(2, "MSIP_Label_11111111-2222-3333-4444-555555555555_Name")],
        1252,
    );
    let si = summary(&[(2, Val::Lpstr("Plan"))]);
    let xml = br#"<?xml version="1.0"?><clbl:labelList xmlns:clbl="http://schemas.microsoft.com/office/2020/mipLabelMetadata"><clbl:label id="{D0CB1E24-A0E2-4A4C-9340-733297C9CD7C}" enabled="1" method="Privileged" siteId="{db1e96a8-a3da-442a-930b-235cac24cd5c}" contentBits="0" removed="0" /></clbl:labelList>"#;
    let mut li = vec![0u8; 8];
    li.extend_from_slice(xml);
    let file = ole_with(&[
        ("/\u{5}DocumentSummaryInformation", &dsi),
        ("/\u{5}SummaryInformation", &si),
        ("/\u{6}DataSpaces/TransformInfo/DRMTransform/LabelInfo", &li),
        ("/WordDocument", &[0u8; 64]),
    ]);
    let budget = Budget::new(Limits::default());
    let x = extract(Format::Doc, &file, &budget);
    assert_eq!(
        x.error.as_ref().map(|e| e.kind),
        Some(super::super::ErrorKind::Encrypted)
    );
    assert!(x.properties.iter().any(|p| p.name
        == "MSIP_Label_11111111-2222-3333-4444-555555555555_Name"
        && p.value == "Highly Confidential"
        && p.location == "DocumentSummaryInformation"));
    assert!(x
        .properties
        .iter()
        .any(|p| p.name == "Title" && p.location == "SummaryInformation"));
    assert_eq!(x.label_info.len(), 1);
    let l = &x.label_info[0];
    assert_eq!(l.id, "d0cb1e24-a0e2-4a4c-9340-733297c9cd7c");
    assert_eq!(l.site_id, "db1e96a8-a3da-442a-930b-235cac24cd5c");
    assert!(l.enabled && !l.removed);
    assert_eq!(l.method, "Privileged");
}

#[test]
fn encrypted_ooxml_is_encrypted() {
    let file = ole_with(&[
        ("/EncryptedPackage", &[0u8; 100]),
        ("/EncryptionInfo", &[0u8; 10]),
    ]);
    let budget = Budget::new(Limits::default());
    let x = extract(Format::EncryptedOoxml, &file, &budget);
    assert_eq!(
        x.error.map(|e| e.kind),
        Some(super::super::ErrorKind::Encrypted)
    );
}

#[test]
fn ole10native_payload_is_extracted() {
    let inner = b"CONFIDENTIAL // RELEASED TO: Precision Systems\nhello world\n";
    let mut native = Vec::new();
    let mut body = vec![2u8, 0];
    body.extend_from_slice(b"note.txt\0C:\\tmp\\note.txt\0");
    body.extend_from_slice(&[0, 0, 3, 0]);
    let temp = b"C:\\temp\\note.txt\0";
    body.extend_from_slice(&(temp.len() as u32).to_le_bytes());
    body.extend_from_slice(temp);
    body.extend_from_slice(&(inner.len() as u32).to_le_bytes());
    body.extend_from_slice(inner);
    native.extend_from_slice(&(body.len() as u32).to_le_bytes());
    native.extend_from_slice(&body);
    let file = ole_with(&[("/\u{1}Ole10Native", &native)]);
    let budget = Budget::new(Limits::default());
    let x = extract(Format::OleOther, &file, &budget);
    assert!(x.error.is_none(), "{:?}", x.error);
    assert!(x
        .parts
        .iter()
        .any(|p| p.kind == PartKind::Embedded && p.text.contains("RELEASED TO: Precision")));
    // The same object inside a Word file's ObjectPool.
    let doc = std::fs::read(format!(
        "{}/tests/fixtures/legacy/label.doc",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut host = cfb::CompoundFile::open(Cursor::new(doc)).unwrap();
    host.create_storage_all("/ObjectPool/_1234").unwrap();
    host.create_stream("/ObjectPool/_1234/\u{1}Ole10Native")
        .unwrap()
        .write_all(&native)
        .unwrap();
    host.flush().unwrap();
    let file = host.into_inner().into_inner();
    let x = extract(Format::Doc, &file, &Budget::new(Limits::default()));
    assert!(x.error.is_none(), "{:?}", x.error);
    assert!(x.parts.iter().any(|p| p.kind == PartKind::Embedded
        && p.location.starts_with("/ObjectPool/_1234/\\001Ole10Native")
        && p.text.contains("RELEASED TO: Precision")));
    for cut in 0..native.len() {
        let _ = ole10_native_payload(&native[..cut]);
    }
}

#[test]
fn garbage_is_corrupt_not_panic() {
    let budget = Budget::new(Limits::default());
    for f in [Format::Doc, Format::Xls, Format::Ppt, Format::OleOther] {
        let x = extract(f, b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1garbage", &budget);
        assert_eq!(
            x.error.map(|e| e.kind),
            Some(super::super::ErrorKind::Corrupt)
        );
    }
}

fn fixture(name: &str) -> Extracted {
    let path = format!(
        "{}/tests/fixtures/legacy/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(path).unwrap();
    let format = super::super::sniff(&bytes, name);
    let budget = Budget::new(Limits::default());
    extract(format, &bytes, &budget)
}

const GUID: &str = "d0cb1e24-a0e2-4a4c-9340-733297c9cd7c";
const MARK: &str = "CONFIDENTIAL // RELEASED TO: Precision Systems";

fn assert_label_properties(x: &Extracted) {
    let prop = |name: &str| {
        x.properties
            .iter()
            .find(|p| p.name == name && p.location == "DocumentSummaryInformation")
            .map(|p| p.value.as_str())
    };
    assert_eq!(
        prop("Classification"),
        Some("CONFIDENTIAL"),
        "{:?}",
        x.properties
    );
    assert_eq!(
        prop(&format!("MSIP_Label_{GUID}_Name")),
        Some("Confidential")
    );
    assert_eq!(prop(&format!("MSIP_Label_{GUID}_Enabled")), Some("true"));
    assert_eq!(prop("ReleasedTo"), Some("Precision Systems"));
    assert!(x.properties.iter().any(|p| p.name == "Title"
        && p.value == "Legacy label fixture"
        && p.location == "SummaryInformation"));
}

#[test]
fn fixture_doc_properties_header_footer_body() {
    let x = fixture("label.doc");
    assert!(x.error.is_none(), "{:?}", x.error);
    assert_label_properties(&x);
    assert_eq!(x.texts_of(PartKind::Header), vec![MARK]);
    assert_eq!(x.texts_of(PartKind::Footer), vec!["TLP:AMBER"]);
    let body = x.texts_of(PartKind::Body).join("\n");
    assert!(body.starts_with(
        "Quarterly engineering report for the fixture.\nSecond paragraph with a link (http://example.com/) inside."
    ));
}

#[test]
fn fixture_xls_properties_headers_and_hidden_sheet() {
    let x = fixture("label.xls");
    assert!(x.error.is_none(), "{:?}", x.error);
    assert_label_properties(&x);
    assert!(x.parts.iter().any(|p| p.kind == PartKind::Header
        && p.location == "sheet \"Budget\" header"
        && p.text == MARK));
    assert!(x.texts_of(PartKind::Footer).contains(&"TLP:AMBER"));
    assert!(x
        .texts_of(PartKind::Sheet)
        .contains(&"Item\tCost\nWidgets\t42"));
    assert!(x.texts_of(PartKind::Sheet).contains(&"secret hidden cell"));
    assert_eq!(x.texts_of(PartKind::SheetName), vec!["Budget", "Hidden"]);
}

#[test]
fn fixture_ppt_properties_footer_slide_notes() {
    let x = fixture("label.ppt");
    assert!(x.error.is_none(), "{:?}", x.error);
    assert_label_properties(&x);
    assert_eq!(x.texts_of(PartKind::Footer), vec![MARK]);
    assert!(x.parts.iter().any(|p| p.kind == PartKind::Slide
        && p.location == "slide 1"
        && p.text == "Slide title text\nProject Falcon overview"));
    assert!(x.parts.iter().any(|p| p.kind == PartKind::Notes
        && p.location == "notes 1"
        && p.text == "Speaker notes here"));
}

#[test]
#[ignore]
fn dump_file() {
    let path = std::env::var("LEGACY_DUMP").unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let format = super::super::sniff(&bytes, &path);
    let x = extract(format, &bytes, &Budget::new(Limits::default()));
    eprintln!("{:?}", x.error);
    for p in &x.properties {
        eprintln!("prop {} = {} ({})", p.name, p.value, p.location);
    }
    for p in &x.parts {
        eprintln!("-- {:?} {}\n{}", p.kind, p.location, p.text);
    }
}

// The mutation tests over the real-world corpus (legacy, OOXML, ODF, PDF,
// RTF seeds) are in tests/mutation.rs.

#[test]
fn office_document_embedded_as_storage_is_extracted() {
    // label.xls's streams copied into a storage of label.doc, as Word does
    // with an embedded workbook in its ObjectPool.
    let dir = format!("{}/tests/fixtures/legacy", env!("CARGO_MANIFEST_DIR"));
    let xls = std::fs::read(format!("{dir}/label.xls")).unwrap();
    let mut inner = cfb::CompoundFile::open(Cursor::new(xls)).unwrap();
    let mut workbook = Vec::new();
    std::io::Read::read_to_end(&mut inner.open_stream("/Workbook").unwrap(), &mut workbook)
        .unwrap();
    let doc = std::fs::read(format!("{dir}/label.doc")).unwrap();
    let mut host = cfb::CompoundFile::open(Cursor::new(doc)).unwrap();
    host.create_storage_all("/ObjectPool/_99").unwrap();
    host.create_stream("/ObjectPool/_99/Workbook")
        .unwrap()
        .write_all(&workbook)
        .unwrap();
    host.flush().unwrap();
    let file = host.into_inner().into_inner();
    let x = extract(Format::Doc, &file, &Budget::new(Limits::default()));
    assert!(x.error.is_none(), "{:?}", x.error);
    assert!(
        x.parts.iter().any(|p| p.kind == PartKind::Embedded
            && p.location.starts_with("/ObjectPool/_99")
            && p.text.contains("secret hidden cell")),
        "{:?}",
        x.parts
    );
}

/// What a Word 6/95 file is made of, for `word95`.
struct Word95<'a> {
    lid: u16,
    envr: u8,
    chse: u16,
    text: &'a [u8],
    fonts: &'a [(u8, &'a str)],
}

/// A Word 6/95 file: the FIB, the 8-bit text from 0x300, the font table after it.
fn word95(w: &Word95<'_>) -> Vec<u8> {
    let mut d = vec![0u8; 0x300];
    d[0..2].copy_from_slice(&0xA5DCu16.to_le_bytes());
    d[2..4].copy_from_slice(&104u16.to_le_bytes());
    d[6..8].copy_from_slice(&w.lid.to_le_bytes());
    d[18] = w.envr;
    d[20..22].copy_from_slice(&w.chse.to_le_bytes());
    let fc_mac = 0x300 + w.text.len() as u32;
    d[24..28].copy_from_slice(&0x300u32.to_le_bytes());
    d[28..32].copy_from_slice(&fc_mac.to_le_bytes());
    d[0x34..0x38].copy_from_slice(&(w.text.len() as u32).to_le_bytes());
    d.extend_from_slice(w.text);
    let mut table = vec![0u8, 0];
    for (chs, name) in w.fonts {
        let entry_len = 6 + name.len() + 1;
        table.extend_from_slice(&[(entry_len - 1) as u8, 0, 0x90, 1, *chs, 0]);
        table.extend_from_slice(name.as_bytes());
        table.push(0);
    }
    let table_len = table.len() as u16;
    table[0..2].copy_from_slice(&table_len.to_le_bytes());
    let at = d.len() as u32;
    d[0xD0..0xD4].copy_from_slice(&at.to_le_bytes());
    d[0xD4..0xD8].copy_from_slice(&(table.len() as u32).to_le_bytes());
    d.extend_from_slice(&table);
    ole_with(&[("/WordDocument", &d)])
}

fn word95_body(w: &Word95<'_>) -> String {
    let x = extract(Format::Doc, &word95(w), &Budget::new(Limits::default()));
    assert!(x.error.is_none(), "{:?}", x.error);
    x.texts_of(PartKind::Body).join("\n")
}

const WESTERN_FONTS: &[(u8, &str)] = &[(0, "Times New Roman"), (2, "Symbol")];
const CYRILLIC_FONTS: &[(u8, &str)] = &[
    (0, "Times New Roman"),
    (2, "Symbol"),
    (204, "Times New Roman Cyr"),
];

#[test]
fn word95_text_in_the_code_page_of_its_fonts_and_language() {
    // POI Bug49933.doc: English Word on a Russian system, the text set in a
    // Cyrillic font, language id 0x409.
    let russian = Word95 {
        lid: 0x0409,
        envr: 0,
        chse: 0,
        text: b"\xcf\xf0\xe8\xe2\xe5\xf2, \xec\xe8\xf0\r",
        fonts: CYRILLIC_FONTS,
    };
    assert_eq!(word95_body(&russian), "Привет, мир\n");
    // A Russian Word says so in its language id, whatever the fonts.
    let by_lid = Word95 {
        lid: 0x0419,
        fonts: WESTERN_FONTS,
        ..russian
    };
    assert_eq!(word95_body(&by_lid), "Привет, мир\n");
    // Polish Word: Windows-1250.
    let polish = Word95 {
        lid: 0x0415,
        text: b"Za\xbf\xf3\xb3\xe6 g\xea\x9cl\xb9 ja\x9f\xf1\r",
        fonts: WESTERN_FONTS,
        ..russian
    };
    assert_eq!(word95_body(&polish), "Zażółć gęślą jaźń\n");
    // A Western text whose font table merely lists a Cyrillic font keeps
    // its accents: a few high bytes are not words of another script.
    let french = Word95 {
        text: b"La strat\xe9gie de l'\xe9t\xe9 est pr\xeate\r",
        ..russian
    };
    assert_eq!(word95_body(&french), "La stratégie de l'été est prête\n");
    // Word for the Macintosh: Mac Roman ("stratŽgie" as Windows-1252).
    let mac = Word95 {
        lid: 0x040C,
        chse: 256,
        text: b"strat\x8egie \x88 Paris\r",
        fonts: WESTERN_FONTS,
        ..russian
    };
    assert_eq!(word95_body(&mac), "stratégie à Paris\n");
}

#[test]
fn word95_fast_saved_text_follows_the_piece_table() {
    // Two pieces stored in the opposite order of the text, an edit appended
    // at the end of the stream as a fast save does.
    let text = b"world!\rHello, ";
    let w = Word95 {
        lid: 0x0409,
        envr: 0,
        chse: 0,
        text,
        fonts: WESTERN_FONTS,
    };
    let file = word95(&w);
    let mut ole = cfb::CompoundFile::open(Cursor::new(file)).unwrap();
    let mut d = Vec::new();
    std::io::Read::read_to_end(&mut ole.open_stream("/WordDocument").unwrap(), &mut d).unwrap();
    let mut clx = vec![2u8];
    let mut plc = Vec::new();
    for cp in [0u32, 7, 14] {
        plc.extend_from_slice(&cp.to_le_bytes());
    }
    for fc in [0x300u32 + 7, 0x300] {
        plc.extend_from_slice(&[0, 0]);
        plc.extend_from_slice(&fc.to_le_bytes());
        plc.extend_from_slice(&[0, 0]);
    }
    clx.extend_from_slice(&(plc.len() as u32).to_le_bytes());
    clx.extend_from_slice(&plc);
    let at = d.len() as u32;
    d[0x160..0x164].copy_from_slice(&at.to_le_bytes());
    d[0x164..0x168].copy_from_slice(&(clx.len() as u32).to_le_bytes());
    d[10] |= 0x04; // fComplex
    d.extend_from_slice(&clx);
    let file = ole_with(&[("/WordDocument", &d)]);
    let x = extract(Format::Doc, &file, &Budget::new(Limits::default()));
    assert!(x.error.is_none(), "{:?}", x.error);
    assert_eq!(x.texts_of(PartKind::Body).join("\n"), "Hello, world!\n");
}

#[test]
fn word95_with_utf16_text_is_read_as_utf16() {
    // POI Bug51944.doc: nFib 104, fExtChar, text stored as UTF-16.
    let text: Vec<u8> = "Fax cover, page 1\r"
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    let w = Word95 {
        lid: 0x0409,
        envr: 0,
        chse: 0,
        text: &text,
        fonts: WESTERN_FONTS,
    };
    let mut ole = cfb::CompoundFile::open(Cursor::new(word95(&w))).unwrap();
    let mut d = Vec::new();
    std::io::Read::read_to_end(&mut ole.open_stream("/WordDocument").unwrap(), &mut d).unwrap();
    d[11] |= 0x10; // fExtChar (flags 0x1000)
    d[0x34..0x38].copy_from_slice(&18u32.to_le_bytes());
    let file = ole_with(&[("/WordDocument", &d)]);
    let x = extract(Format::Doc, &file, &Budget::new(Limits::default()));
    assert!(x.error.is_none(), "{:?}", x.error);
    assert_eq!(x.texts_of(PartKind::Body).join("\n"), "Fax cover, page 1\n");
}

#[test]
fn word95_fast_saved_utf16_text_follows_the_piece_table() {
    // POI Bug51944.doc is both: fExtChar with UTF-16 text, and fast-saved,
    // its pieces out of stream order. Read whole between fcMin and fcMac,
    // its text came out in another order than POI's and LibreOffice's.
    let text: Vec<u8> = "page 2 of the fax\rFax cover, "
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    let w = Word95 {
        lid: 0x0409,
        envr: 0,
        chse: 0,
        text: &text,
        fonts: WESTERN_FONTS,
    };
    let mut ole = cfb::CompoundFile::open(Cursor::new(word95(&w))).unwrap();
    let mut d = Vec::new();
    std::io::Read::read_to_end(&mut ole.open_stream("/WordDocument").unwrap(), &mut d).unwrap();
    d[11] |= 0x10; // fExtChar (flags 0x1000)
    d[0x34..0x38].copy_from_slice(&29u32.to_le_bytes());
    // Pieces: characters 0-11 ("Fax cover, ") stored second, 11-29 first.
    let mut plc = Vec::new();
    for cp in [0u32, 11, 29] {
        plc.extend_from_slice(&cp.to_le_bytes());
    }
    for fc in [0x300u32 + 18 * 2, 0x300] {
        plc.extend_from_slice(&[0, 0]);
        plc.extend_from_slice(&fc.to_le_bytes());
        plc.extend_from_slice(&[0, 0]);
    }
    let mut clx = vec![2u8];
    clx.extend_from_slice(&(plc.len() as u32).to_le_bytes());
    clx.extend_from_slice(&plc);
    let at = d.len() as u32;
    d[0x160..0x164].copy_from_slice(&at.to_le_bytes());
    d[0x164..0x168].copy_from_slice(&(clx.len() as u32).to_le_bytes());
    d[10] |= 0x04; // fComplex
    d.extend_from_slice(&clx);
    let file = ole_with(&[("/WordDocument", &d)]);
    let x = extract(Format::Doc, &file, &Budget::new(Limits::default()));
    assert!(x.error.is_none(), "{:?}", x.error);
    assert_eq!(
        x.texts_of(PartKind::Body).join("\n"),
        "Fax cover, page 2 of the fax\n"
    );
}

/// A BIFF record: type, length, data.
fn biff(kind: u16, data: &[u8]) -> Vec<u8> {
    let mut r = kind.to_le_bytes().to_vec();
    r.extend_from_slice(&(data.len() as u16).to_le_bytes());
    r.extend_from_slice(data);
    r
}

#[test]
fn excel_5_sheet_without_a_name_is_read() {
    // POI 64130.xls (OldExcelExtractor's testSheetWithNoName): an Excel 5
    // workbook (a `Book` stream) whose sheet has an empty name, then one
    // whose BOUNDSHEET stops before its name; POI reads the cells.
    let mut s = biff(0x0809, &[0, 5, 5, 0, 0, 0, 0, 0]);
    s.extend(biff(0x0085, &[0, 0, 0, 0, 0, 0, 0]));
    s.extend(biff(0x0085, &[0, 0, 0, 0, 0, 0]));
    s.extend(biff(0x000A, &[]));
    for word in ["Dawn", "Dusk"] {
        s.extend(biff(0x0809, &[0, 5, 0x10, 0, 0, 0, 0, 0]));
        let mut label = vec![0, 0, 0, 0, 0x0F, 0];
        label.extend_from_slice(&(word.len() as u16).to_le_bytes());
        label.extend_from_slice(word.as_bytes());
        s.extend(biff(0x0204, &label));
        s.extend(biff(0x000A, &[]));
    }
    let file = ole_with(&[("/Book", &s)]);
    let x = extract(Format::Xls, &file, &Budget::new(Limits::default()));
    assert!(x.error.is_none(), "{:?}", x.error);
    assert_eq!(x.texts_of(PartKind::Sheet), ["Dawn", "Dusk"]);
}
