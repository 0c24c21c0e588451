//! Regression tests for panics the mutation tests (`tests/mutation.rs`)
//! found, through the public extraction API.

use std::io::{Cursor, Read, Write};
use std::path::PathBuf;

use labelscan::budget::{Budget, Limits};
use labelscan::extract::{extract, Format, Outcome};

mod common;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of `zip_bytes` with `extra` members added (stored).
fn with_members(zip_bytes: &[u8], extra: &[(&str, &[u8])]) -> Vec<u8> {
    let mut src = zip::ZipArchive::new(Cursor::new(zip_bytes)).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..src.len() {
        let mut f = src.by_index(i).unwrap();
        let name = f.name().unwrap().into_owned();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        out.start_file(name, opts).unwrap();
        out.write_all(&data).unwrap();
    }
    for (name, data) in extra {
        out.start_file(*name, opts).unwrap();
        out.write_all(data).unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// Word parts are matched by name prefix (`header`, `footer`, `comments.`,
/// `footnotes`, `endnotes`); a member beside `document.xml` with a
/// multi-byte character across a prefix's length made the comparison slice
/// a `str` inside that character and panic (found by the mutation test as
/// `word/webSettiégs.xml`, `word/style╦.xml`, `word/glossaryídocument.xml`).
#[test]
fn docx_member_names_with_multibyte_characters_do_not_panic() {
    let docx = std::fs::read(repo().join("examples/hr/onboarding-checklist.docx")).unwrap();
    let budget = || Budget::new(Limits::default());
    let Outcome::Document(Format::Docx, plain) = extract(&docx, "a.docx", &budget()) else {
        panic!("the example is a docx");
    };
    let xml: &[u8] = b"<?xml version=\"1.0\"?><x/>";
    let odd = with_members(
        &docx,
        &[
            // A two-byte character across byte 6 (header, footer), 8
            // (endnotes) and 9 (comments., footnotes), and a three-byte one.
            ("word/stylé.xml", xml),
            ("word/abcdefé.xml", xml),
            ("word/webSettiégs.xml", xml),
            ("word/style╦.xml", xml),
            ("word/glossaryídocument.xml", xml),
            ("word/headé.xml", xml),
        ],
    );
    let outcome = std::panic::catch_unwind(|| extract(&odd, "a.docx", &budget()))
        .expect("extraction does not panic");
    let Outcome::Document(Format::Docx, x) = outcome else {
        panic!("still a docx");
    };
    assert!(x.error.is_none(), "{:?}", x.error);
    assert_eq!(x.parts, plain.parts, "the odd members are not Word parts");
}

// ---- issue 17: extraction fidelity over the real-world corpus -------------
// These read files of `../shared/corpus/realworld` (beside the repository);
// a missing file fails the test rather than skipping it.

fn corpus_file(rel: &str) -> Vec<u8> {
    let path = repo().join("../shared/corpus/realworld").join(rel);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}): these regression tests need the shared corpus",
            path.display()
        )
    })
}

/// Format, the text of every part joined, and the error kind if any.
fn read_corpus(rel: &str) -> (Format, String, Option<String>) {
    let bytes = corpus_file(rel);
    let budget = Budget::new(Limits::default());
    let Outcome::Document(format, x) = extract(&bytes, rel, &budget) else {
        panic!("{rel} is one document");
    };
    let text: Vec<&str> = x.parts.iter().map(|p| p.text.as_str()).collect();
    let error = x.error.map(|e| e.kind.as_str().to_string());
    (format, text.join("\n"), error)
}

/// Defect 7: an agile-encrypted (AES-128, SHA-1) docx under the default
/// password `VelvetSweatshop` opens in Word, LibreOffice and POI without a
/// password; it was `encrypted` with no text (fidelity recall 0).
#[test]
fn default_password_agile_docx_is_read() {
    let (format, text, error) = read_corpus("apache-poi/test-data/poifs/protected_agile.docx");
    assert_eq!(format, Format::EncryptedOoxml);
    assert_eq!(error, None);
    assert!(text.contains("Agile protected document"), "no body text");
    // The decrypted package's own properties are read too.
    assert!(text.contains("ionGrid"), "no docProps of the package");
}

/// A package with a real password stays `encrypted`: the default password
/// fails the verifier, nothing is decrypted into noise.
#[test]
fn real_password_agile_xlsx_stays_encrypted() {
    let (format, text, error) = read_corpus("apache-poi/test-data/poifs/protected_sha512.xlsx");
    assert_eq!(format, Format::EncryptedOoxml);
    assert_eq!(error.as_deref(), Some("encrypted"));
    assert!(
        !text.contains("[Content_Types]"),
        "decrypted with a wrong key?"
    );
}

/// PowerPoint 4.0 (`PP40` stream, no `PowerPoint Document`): only the
/// properties came out, with no error; LibreOffice reads 1,870 tokens.
#[test]
fn powerpoint_4_text_blocks_are_read() {
    let (format, text, error) = read_corpus("apache-poi/test-data/slideshow/pp40only.ppt");
    assert_eq!(format, Format::Ppt);
    assert_eq!(error, None);
    assert!(text.contains("COMMUNITY ORGANISATIONS\nCOURSE 3: Questions & Answers"));
    assert!(text.contains("Is there any benefit for us if we register for GST?"));
    assert!(text.contains("cash basis regardless of turnover"));
}

/// A fuzzed .doc whose directory has a sibling link past its end
/// (0xF8000007): cfb refused the whole file (`corrupt`), POI and
/// LibreOffice ignore the link and read 1,392 tokens.
#[test]
fn ole_directory_link_past_the_end_is_cut() {
    let (format, text, error) = read_corpus(
        "apache-poi/test-data/document/clusterfuzz-testcase-minimized-POIHWPFFuzzer-4892412469968896.doc",
    );
    assert_eq!(format, Format::Doc);
    assert_eq!(error, None);
    assert!(text.contains("This is a single sentence paragraph that wraps to the next line"));
}

/// Defect 9: a WordPerfect 4.2 file named `.doc` was `corrupt`;
/// LibreOffice reads its 72 words.
#[test]
fn wordperfect_42_named_doc_is_read() {
    let (format, text, error) = read_corpus(
        "apache-tika/tika-parsers/tika-parsers-standard/tika-parsers-standard-modules/tika-parser-miscoffice-module/src/test/resources/test-documents/testWordPerfect_42.doc",
    );
    assert_eq!(format, Format::WordPerfect);
    assert_eq!(error, None);
    assert_eq!(
        text.matches("Sluwe Sjaantje sloeg de slome slager").count(),
        12
    );
}

/// Defect 10: a content stream whose dictionary has no `/Length` gave an
/// empty page; pdftotext reads `Issue 1293`.
#[test]
fn pdf_stream_without_length_is_read_to_endstream() {
    let (format, text, error) = read_corpus("mozilla-pdf.js/test/pdfs/issue1293r.pdf");
    assert_eq!(format, Format::Pdf);
    assert_eq!(error, None);
    assert!(text.contains("Issue 1293"), "page text missing");
}

/// Defect 11: `loa-` at a line end and `ded` on the next line are one word.
#[test]
fn pdf_hyphenated_line_end_is_rejoined() {
    let (_, text, error) = read_corpus("mozilla-pdf.js/test/pdfs/issue7492.pdf");
    assert_eq!(error, None);
    assert!(text.contains("PDF with custom font loaded successfully"));
}

/// Defect 10: AES-256 under an owner password only, its crypt filters in
/// indirect objects: lopdf decrypted with the wrong filter and the page was
/// silently empty; pdftotext reads `Issue 7665`.
#[test]
fn pdf_aes256_with_indirect_crypt_filters_is_decrypted() {
    let (format, text, error) = read_corpus("mozilla-pdf.js/test/pdfs/issue7665.pdf");
    assert_eq!(format, Format::Pdf);
    assert_eq!(error, None);
    assert!(text.contains("Issue 7665"), "page text missing");
}

/// Issue 17: a free text annotation without an appearance stream reads as
/// the viewer shows it, `A`, no-break spaces and `B` (it read as nothing),
/// and the comments of markup annotations are read (pdf.js
/// `issue14438.pdf`: a polygon's, a highlight's ...).
#[test]
fn pdf_annotation_text_and_comments_are_read() {
    let (_, text, error) = read_corpus("mozilla-pdf.js/test/pdfs/bug1871353.pdf");
    assert_eq!(error, None);
    assert!(
        text.contains("A          B"),
        "free text annotation missing"
    );
    let (_, text, error) = read_corpus("mozilla-pdf.js/test/pdfs/issue14438.pdf");
    assert_eq!(error, None);
    assert!(
        text.contains("\nhightlight\nunderline\n"),
        "comments missing"
    );
}

/// Issue 17: Ghostscript's character spacing taken back between strings
/// but not inside `(As)` parts the words, `1. A section` (was `Asection`).
#[test]
fn pdf_character_spacing_not_taken_back_parts_words() {
    let (_, text, error) = read_corpus("mozilla-pdf.js/test/pdfs/bug1873345.pdf");
    assert_eq!(error, None);
    assert!(text.contains("\n1. A section\n"), "words glued");
}

/// A rights-management protected .doc: its content stays `encrypted`, and
/// the notice Word, LibreOffice and POI show in its place is read.
#[test]
fn rights_managed_doc_is_encrypted_with_its_notice_read() {
    let (format, text, error) = read_corpus(
        "apache-tika/tika-parsers/tika-parsers-standard/tika-parsers-standard-modules/tika-parser-microsoft-module/src/test/resources/test-documents/testWORD_protected_drm.doc",
    );
    assert_eq!(format, Format::Doc);
    assert_eq!(error.as_deref(), Some("encrypted"));
    assert!(text.contains("Permission for this document is currently restricted"));
}

/// .doc fields: a hyperlink's target is read after its text; a MACROBUTTON
/// shows its display text (POI agrees; LibreOffice drops both).
#[test]
fn doc_hyperlink_targets_and_macro_button_text_are_read() {
    let (_, text, error) = read_corpus("apache-poi/test-data/document/hyperlink.doc");
    assert_eq!(error, None);
    assert!(text.contains("Hyperlink text (http://testuri.org/)"));
    let (_, text, error) = read_corpus("apache-poi/test-data/document/Bug53380_2.doc");
    assert_eq!(error, None);
    assert!(text.contains("[Document Title]"));
    assert!(text.contains("[Alt+R for Date]"));
}

/// Format, text and error kind of a fixture under `tests/fixtures/`.
fn read_fixture(rel: &str) -> (Format, String, Option<String>) {
    let bytes = std::fs::read(repo().join("tests/fixtures").join(rel)).unwrap();
    let budget = Budget::new(Limits::default());
    let Outcome::Document(format, x) = extract(&bytes, rel, &budget) else {
        panic!("{rel} is one document");
    };
    let text: Vec<&str> = x.parts.iter().map(|p| p.text.as_str()).collect();
    let error = x.error.map(|e| e.kind.as_str().to_string());
    (format, text.join("\n"), error)
}

/// Defect 7: an .xls encrypted under Excel's default password
/// `VelvetSweatshop` (a workbook only protected against changes) opens in
/// Excel, LibreOffice and POI without a password; it was `encrypted` with
/// no text. Every FILEPASS method: RC4 with MD5 keys, RC4 CryptoAPI with
/// 40- and 128-bit keys, XOR obfuscation (fixtures written by POI,
/// `tests/fixtures/encrypted_xls/MakeEncryptedXls.java`).
#[test]
fn default_password_xls_is_decrypted_with_every_method() {
    for file in [
        "velvet-rc4.xls",
        "velvet-cryptoapi40.xls",
        "velvet-cryptoapi128.xls",
        "velvet-xor.xls",
    ] {
        let (format, text, error) = read_fixture(&format!("encrypted_xls/{file}"));
        assert_eq!(format, Format::Xls, "{file}");
        assert_eq!(error, None, "{file}");
        assert!(text.contains("Payroll"), "{file}: sheet name");
        assert!(text.contains("CONFIDENTIAL salary list"), "{file}");
        // Rows past the first 1,024-byte RC4 block, and the second sheet.
        assert!(
            text.contains("Employee 60 of the night shift\t1060.5"),
            "{file}"
        );
        assert!(text.contains("Second sheet closing words"), "{file}");
    }
}

/// A workbook under a real password stays `encrypted` and nothing is
/// decrypted into noise: RC4 CryptoAPI (fixture) and RC4 1.1 (POI's
/// `password.xls`, which neither POI nor LibreOffice reads either).
#[test]
fn real_password_xls_stays_encrypted() {
    let (format, text, error) = read_fixture("encrypted_xls/secret-cryptoapi.xls");
    assert_eq!(format, Format::Xls);
    assert_eq!(error.as_deref(), Some("encrypted"));
    assert!(!text.contains("Payroll") && !text.contains("Employee"));
    let (format, _, error) = read_corpus("apache-poi/test-data/spreadsheet/password.xls");
    assert_eq!(format, Format::Xls);
    assert_eq!(error.as_deref(), Some("encrypted"));
}

/// Defect 7: OOXML packages encrypted under the default password
/// `VelvetSweatshop` (agile AES-128/SHA-1 as Office 2010 writes it,
/// AES-256/SHA-512 as Office 2013 and later do, and ECMA-376 standard
/// encryption as Office 2007 does) open in Excel, Word, LibreOffice and
/// POI without a password; they were `encrypted` with no text. Fixtures:
/// `tests/fixtures/encrypted_ooxml/MakeEncryptedOoxml.java`; LibreOffice
/// 7.4 reads all three, and refuses the one under a real password.
#[test]
fn default_password_ooxml_is_decrypted_agile_and_standard() {
    for (file, expected) in [
        (
            "velvet-agile-aes128.docx",
            "Protected only against changes: body text of the document",
        ),
        (
            "velvet-agile-aes256.xlsx",
            "CONFIDENTIAL salary list\nEmployee 1 of the night shift\t1001.5",
        ),
        (
            "velvet-standard.xlsx",
            "Employee 3 of the night shift\t1003.5",
        ),
    ] {
        let (format, text, error) = read_fixture(&format!("encrypted_ooxml/{file}"));
        assert_eq!(format, Format::EncryptedOoxml, "{file}");
        assert_eq!(error, None, "{file}");
        assert!(text.contains(expected), "{file}: {text:?}");
    }
    let (format, text, error) = read_fixture("encrypted_ooxml/secret-agile-aes256.xlsx");
    assert_eq!(format, Format::EncryptedOoxml);
    assert_eq!(error.as_deref(), Some("encrypted"));
    assert!(!text.contains("salary"), "decrypted with a wrong key?");
}

/// Defect 9: Excel 2.x, 3.0 and 4.0 worksheets are bare BIFF record
/// streams, not OLE files; they were `corrupt`. Their cells are read as
/// Excel shows them, whatever the file's name (content decides).
#[test]
fn excel_2_3_4_worksheets_are_read() {
    for (file, expected) in [
        (
            "excel4.xls",
            "Excel 4 worksheet label\t1-Mar-23\n25.0%\t1234.5\ncached formula text\tTRUE",
        ),
        (
            "excel3.xls",
            "Excel 3 worksheet label\t2.50\nExcel 3 formula text",
        ),
        (
            "excel2.xls",
            "Excel 2 worksheet label\t42\n50%\tExcel 2 formula text",
        ),
    ] {
        let (format, text, error) = read_fixture(&format!("old_formats/{file}"));
        assert_eq!(format, Format::Xls, "{file}");
        assert_eq!(error, None, "{file}");
        assert!(text.contains(expected), "{file}: {text:?}");
    }
    let (_, text, _) = read_fixture("old_formats/excel4.xls");
    assert!(text.contains("Excel 4 header text"));
    // Named otherwise, still a spreadsheet.
    let bytes = std::fs::read(repo().join("tests/fixtures/old_formats/excel4.xls")).unwrap();
    let budget = Budget::new(Limits::default());
    let Outcome::Document(format, x) = extract(&bytes, "report.dat", &budget) else {
        panic!("one document");
    };
    assert_eq!(format, Format::Xls);
    assert!(x.error.is_none());
}

/// Defect 9: a Word for Windows 2.0 document (no OLE container, FIB
/// wIdent 0xA5DB) was `corrupt`; its body, footnote and header are read.
#[test]
fn word_2_document_is_read() {
    let (format, text, error) = read_fixture("old_formats/word2.doc");
    assert_eq!(format, Format::Doc);
    assert_eq!(error, None);
    assert!(text.contains("Word for Windows 2.0 document body, caf\u{e9} cr\u{e8}me."));
    assert!(text.contains("A footnote of the old format."));
    assert!(text.contains("Old header line"));
}

/// pdf.js `PDFJS-7562-reduced.pdf`: a composite TrueType font without
/// /ToUnicode whose subset program has no cmap and no `post` table, its
/// CIDs the original font's glyph ids (standard Macintosh order): the page
/// was empty; pdftotext prints the glyph ids as characters (`6XPPD`).
#[test]
fn pdf_glyph_ids_in_macintosh_order_are_read() {
    let (format, text, error) = read_corpus("mozilla-pdf.js/test/pdfs/PDFJS-7562-reduced.pdf");
    assert_eq!(format, Format::Pdf);
    assert_eq!(error, None);
    assert!(text.contains("Summa"), "page text missing");
}

/// Defect 11: PowerPoint stored this table's cells last first; POI and
/// LibreOffice read them row by row.
#[test]
fn ppt_table_cells_are_read_row_by_row() {
    let (_, text, error) = read_corpus("apache-poi/test-data/slideshow/bug60345_suba.ppt");
    assert_eq!(error, None);
    assert!(text.contains("Group\tPre\t3 mon\t6 mon\nEN\t492\t752.5\t600.5\nCP\t486.5\t782.5\t772.5\nMF\t62.75\t90\t82.25"));
    assert!(text.contains("Group\t3 mon\t6 mon\nEN\t233 (154-350)\t206 (105-384)"));
}

/// Defect 11: a docx hyperlink's target follows its text, as in `.doc`;
/// a phonetic guide follows its base text instead of being glued to it.
#[test]
fn docx_hyperlink_targets_and_phonetic_guides_are_read() {
    let (_, text, error) = read_corpus("apache-poi/test-data/document/TestDocument.docx");
    assert_eq!(error, None);
    assert!(text.contains("hyperlink (http://poi.apache.org/) here"));
    let (_, text, error) = read_corpus("apache-poi/test-data/integration/stress019.docx");
    assert_eq!(error, None);
    assert!(text.contains("担当者(ふり)"), "guide glued to its base?");
    assert!(!text.contains("ふり担当者"));
}

fn read_pdf(bytes: &[u8]) -> (String, Option<String>, Option<String>) {
    let budget = Budget::new(Limits::default());
    let Outcome::Document(Format::Pdf, x) = extract(bytes, "broken.pdf", &budget) else {
        panic!("one PDF document");
    };
    let text: Vec<&str> = x.parts.iter().map(|p| p.text.as_str()).collect();
    (
        text.join("\n"),
        x.error.map(|e| e.kind.as_str().to_string()),
        x.no_text_cause.clone(),
    )
}

/// Defect 10: broken dictionaries (pdf.js `issue11549_reduced.pdf` and
/// kin) must not give a silent empty page: a dictionary with a key that has
/// no value, a stray token, a stream dictionary closed by one `>`.
#[test]
fn pdf_broken_dictionaries_keep_the_page_text() {
    let content = b"BT /F1 12 Tf 72 700 Td (Broken dictionaries still read) Tj ET";
    let stream = |dict: &str| {
        let mut s = format!("<< /Length {}{dict}\nstream\n", content.len()).into_bytes();
        s.extend_from_slice(content);
        s.extend_from_slice(b"\nendstream");
        s
    };
    let font: &[u8] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>";
    let page_ok: &[u8] = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>";
    let variants: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("key without a value in the page", vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /Rotate /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_vec(),
            stream(" >>"),
            font.to_vec(),
        ]),
        ("stray token in the page", vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R ] /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_vec(),
            stream(" >>"),
            font.to_vec(),
        ]),
        ("stream dictionary closed by one >", vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            page_ok.to_vec(),
            stream(" >"),
            font.to_vec(),
        ]),
        ("stream dictionary not closed", vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            page_ok.to_vec(),
            stream(""),
            font.to_vec(),
        ]),
        ("font dictionary with an unclosed string", vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            page_ok.to_vec(),
            stream(" >>"),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Name (F1 >>".to_vec(),
        ]),
    ];
    for (what, objects) in variants {
        let (text, error, cause) = read_pdf(&common::pdf(&objects));
        assert_eq!(error, None, "{what}");
        assert_eq!(text, "Broken dictionaries still read", "{what}: {cause:?}");
    }
    // A content stream past repair (no `stream` data, no object header
    // where the table points) is said, never a silent empty page.
    for (what, broken) in [
        (
            "stream without endstream",
            b"<< /Length 9999\nstream\nBT ET".to_vec(),
        ),
        ("no object at the offset", Vec::new()),
    ] {
        let objects = [
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            page_ok.to_vec(),
            broken.clone(),
            font.to_vec(),
        ];
        let mut bytes = common::pdf(&objects);
        if broken.is_empty() {
            // The table's offset of object 4 now points at `endobj`.
            let at = bytes.windows(8).position(|w| w == b"4 0 obj\n").unwrap();
            bytes[at..at + 7].copy_from_slice(b"% 0 xxx");
        }
        let (text, error, cause) = read_pdf(&bytes);
        assert_eq!((text.as_str(), error), ("", None), "{what}");
        assert_eq!(
            cause.as_deref(),
            Some("1 of its content streams could not be decoded"),
            "{what}"
        );
    }
}
