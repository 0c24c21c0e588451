#![no_main]
//! OOXML packages (docx, xlsx, pptx, other): `labelscan::extract::ooxml::extract`.

use labelscan::extract::Format;
use libfuzzer_sys::fuzz_target;

mod common;

const FAMILY: &[(Format, &[u8])] = &[
    (Format::Docx, b"word/document"),
    (Format::Xlsx, b"xl/workbook"),
    (Format::Pptx, b"ppt/presentation"),
    (Format::OoxmlOther, b""),
];

fuzz_target!(|data: &[u8]| {
    let budget = common::budget();
    let _ = labelscan::extract::ooxml::extract(common::pick(data, FAMILY), data, &budget);
});
