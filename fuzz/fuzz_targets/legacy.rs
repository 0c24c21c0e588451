#![no_main]
//! Legacy Office OLE compound files (doc, xls, ppt, other OLE, encrypted
//! OOXML): `labelscan::extract::legacy::extract`.

use labelscan::extract::Format;
use libfuzzer_sys::fuzz_target;

mod common;

// Stream names as the OLE directory stores them, in UTF-16LE.
const FAMILY: &[(Format, &[u8])] = &[
    (Format::Doc, b"W\0o\0r\0d\0D\0o\0c\0u\0m\0e\0n\0t\0"),
    (Format::Xls, b"W\0o\0r\0k\0b\0o\0o\0k\0"),
    (
        Format::Ppt,
        b"P\0o\0w\0e\0r\0P\0o\0i\0n\0t\0 \0D\0o\0c\0u\0m\0e\0n\0t\0",
    ),
    (
        Format::EncryptedOoxml,
        b"E\0n\0c\0r\0y\0p\0t\0e\0d\0P\0a\0c\0k\0a\0g\0e\0",
    ),
    (Format::OleOther, b""),
];

fuzz_target!(|data: &[u8]| {
    let budget = common::budget();
    let _ = labelscan::extract::legacy::extract(common::pick(data, FAMILY), data, &budget);
});
