//! Regression tests for the inflater's limits.

use std::io::Write;

use super::*;
use crate::model::budget::Limits;

/// The streaming inflater grew its buffer with `reserve`, which doubles
/// the capacity: a bomb stopped at a limit just past a power of two
/// (zip and PDF readers pass the part limit plus one) was decoded into
/// twice the limit before the cut. Growth is by at most a step.
#[test]
fn streaming_output_stays_within_the_limit_and_one_step() {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&vec![0u8; 80 << 20]).unwrap();
    let z = z.finish().unwrap();
    let limit = (32 << 20) + 1;
    let mut buf = Vec::new();
    let budget = Budget::new(Limits::default());
    inflate_into(&z, Framing::Zlib, limit as u64, 0, &budget, &mut buf).unwrap();
    assert_eq!(buf.len(), limit);
    assert!(
        buf.capacity() <= limit + INFLATE_STEP,
        "{} bytes reserved for a limit of {limit}",
        buf.capacity()
    );
}
