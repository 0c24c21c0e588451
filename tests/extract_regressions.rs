//! Regression tests for panics the mutation tests (`tests/mutation.rs`)
//! found, through the public extraction API.

use std::io::{Cursor, Read, Write};
use std::path::PathBuf;

use labelscan::budget::{Budget, Limits};
use labelscan::extract::{extract, Format, Outcome};

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
