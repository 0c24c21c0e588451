#![no_main]
//! OpenDocument packages (odt, ods, odp): `labelscan::extract::odf::extract`.

use labelscan::extract::Format;
use libfuzzer_sys::fuzz_target;

mod common;

const FAMILY: &[(Format, &[u8])] = &[
    (Format::Odt, b"opendocument.text"),
    (Format::Ods, b"opendocument.spreadsheet"),
    (Format::Odp, b"opendocument.presentation"),
];

fuzz_target!(|data: &[u8]| {
    let budget = common::budget();
    let _ = labelscan::extract::odf::extract(common::pick(data, FAMILY), data, &budget);
});
