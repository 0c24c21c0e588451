#![no_main]
//! RTF: `labelscan::extract::rtf::extract`.

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let budget = common::budget();
    let _ = labelscan::extract::rtf::extract(data, &budget);
});
