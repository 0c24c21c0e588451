#![no_main]
//! PDF: `labelscan::extract::pdf::extract`.

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let budget = common::budget();
    let _ = labelscan::extract::pdf::extract(data, &budget);
});
