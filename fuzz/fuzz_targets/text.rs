#![no_main]
//! Plain text and csv: `labelscan::extract::text::extract`.

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let budget = common::budget();
    let _ = labelscan::extract::text::extract(data, &budget);
});
