#![no_main]
//! Zip archives, each member extracted as a document of its own:
//! `labelscan::extract::archive::extract_members`.

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let budget = common::budget();
    let _ = labelscan::extract::archive::extract_members(data, &budget);
});
