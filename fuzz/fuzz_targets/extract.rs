#![no_main]
//! The top-level entry point: sniffing, then whichever extractor fits.
//! The name is derived from the first byte so that extension tie-breaks
//! (csv vs txt, broken files named .docx) are exercised as well.

use libfuzzer_sys::fuzz_target;

mod common;

const NAMES: &[&str] = &[
    "f", "f.txt", "f.csv", "f.docx", "f.xlsx", "f.pptx", "f.odt", "f.ods", "f.odp", "f.pdf",
    "f.doc", "f.xls", "f.ppt", "f.rtf", "f.zip", "f.md",
];

fuzz_target!(|data: &[u8]| {
    let name = NAMES[data.first().map_or(0, |b| *b as usize) % NAMES.len()];
    let budget = common::budget();
    let _ = labelscan::extract::extract(data, name, &budget);
});
