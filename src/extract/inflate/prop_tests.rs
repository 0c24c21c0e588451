//! Property tests: libdeflate's one-shot decoding into spare capacity,
//! zlib-rs streaming and `inflate_into` against the bytes that were
//! compressed, for random data, compression levels, framings, size
//! guesses and limits; cut and damaged streams never panic and cut ones
//! are reported as damage.

use std::io::Write;

use proptest::prelude::*;
use proptest::test_runner::Config;

use super::*;
use crate::model::budget::Limits;

fn config(cases: u32) -> Config {
    Config {
        cases,
        // Failures are turned into named regression tests instead.
        failure_persistence: None,
        ..Config::default()
    }
}

fn budget() -> Budget {
    Budget::new(Limits::default())
}

fn compress(data: &[u8], framing: Framing, level: u32) -> Vec<u8> {
    let level = flate2::Compression::new(level);
    match framing {
        Framing::Raw => {
            let mut e = flate2::write::DeflateEncoder::new(Vec::new(), level);
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Framing::Zlib => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), level);
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
    }
}

/// Incompressible bytes, repeated patterns (long outputs from short
/// inputs, across the streaming inflater's reservations) and text of a
/// few letters.
fn data() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..3000),
        (prop::collection::vec(any::<u8>(), 1..24), 0..200_000usize).prop_map(|(p, n)| p
            .iter()
            .cycle()
            .take(n)
            .copied()
            .collect()),
        prop::collection::vec(prop::sample::select(b"ab \n0".to_vec()), 0..40_000),
    ]
}

fn framing() -> impl Strategy<Value = Framing> {
    prop_oneof![Just(Framing::Raw), Just(Framing::Zlib)]
}

/// A size guess for an output of `len` bytes: exact, none, too small,
/// too large, or beyond what is decoded in one call.
fn guess(len: usize, pick: u8, r: usize) -> usize {
    match pick % 6 {
        0 => len,
        1 => 0,
        2 => r % len.max(1),
        3 => len + 1 + r % (len + 16),
        4 => len.saturating_mul(9) + r % 64,
        _ => ONE_SHOT_MAX + 1 + r % 1024,
    }
}

#[derive(Debug, Clone)]
struct Case {
    data: Vec<u8>,
    framing: Framing,
    input: Vec<u8>,
    guess: usize,
    head: Vec<u8>,
    r: usize,
}

fn case() -> impl Strategy<Value = Case> {
    (
        data(),
        framing(),
        0u32..=9,
        any::<u8>(),
        any::<usize>(),
        prop::collection::vec(any::<u8>(), 0..6),
    )
        .prop_map(|(data, framing, level, pick, r, head)| {
            let input = compress(&data, framing, level);
            let guess = guess(data.len(), pick, r);
            Case {
                data,
                framing,
                input,
                guess,
                head,
                r,
            }
        })
}

fn with_head(head: &[u8], rest: &[u8]) -> Vec<u8> {
    [head, rest].concat()
}

proptest! {
    #![proptest_config(config(512))]

    /// Whatever the guess and the limit, the output is the data up to the
    /// limit, appended after what the buffer held.
    #[test]
    fn inflate_into_gives_back_the_data(c in case(), limited in any::<bool>()) {
        let limit = if limited { (c.r % (c.data.len() + 8)) as u64 } else { u64::MAX };
        let mut buf = c.head.clone();
        let r = inflate_into(&c.input, c.framing, limit, c.guess, &budget(), &mut buf);
        prop_assert!(r.is_ok(), "{:?}", r);
        let keep = c.data.len().min(limit as usize);
        prop_assert!(
            buf == with_head(&c.head, &c.data[..keep]),
            "guess {}, limit {}",
            c.guess,
            limit
        );
    }

    /// One call into spare capacity: done when the output fits, too
    /// small (buffer untouched) when it does not; streaming agrees.
    #[test]
    fn one_shot_and_streaming_agree(c in case()) {
        let n = c.data.len();
        let whole = with_head(&c.head, &c.data);
        let capacities = [
            n,
            n + 1 + c.r % 100,
            c.guess.min(ONE_SHOT_MAX),
            n.saturating_sub(1 + c.r % 100),
        ];
        for capacity in capacities {
            let mut buf = c.head.clone();
            match one_shot(&c.input, c.framing, capacity, &mut buf) {
                OneShot::Done => {
                    prop_assert!(capacity >= n, "done in {} bytes of {}", capacity, n);
                    prop_assert!(buf == whole, "capacity {}", capacity);
                }
                OneShot::TooSmall => {
                    prop_assert!(capacity < n, "too small: {} bytes of {}", capacity, n);
                    prop_assert!(buf == c.head);
                }
                OneShot::Failed => {
                    prop_assert!(false, "intact data failed, capacity {}", capacity)
                }
            }
        }
        let mut buf = c.head.clone();
        let r = stream_into(&c.input, c.framing, usize::MAX, c.guess, &budget(), &mut buf);
        prop_assert!(r.is_ok(), "{:?}", r);
        prop_assert!(buf == whole);
        let limit = c.r % (n + 1);
        let mut buf = c.head.clone();
        let r = stream_into(&c.input, c.framing, limit, c.guess, &budget(), &mut buf);
        prop_assert!(r.is_ok(), "{:?}", r);
        prop_assert!(buf == with_head(&c.head, &c.data[..limit]));
    }

    /// A cut stream is damage, whatever the guess; what came out before
    /// the cut is kept and is the data's beginning.
    #[test]
    fn cut_streams_are_damage(c in case()) {
        let cut = &c.input[..c.r % c.input.len()];
        let mut buf = c.head.clone();
        let r = inflate_into(cut, c.framing, u64::MAX, c.guess, &budget(), &mut buf);
        prop_assert!(
            matches!(r, Err(InflateError::Damaged)),
            "{} of {} bytes: {:?}",
            cut.len(),
            c.input.len(),
            r
        );
        prop_assert!(buf.starts_with(&c.head));
        prop_assert!(c.data.starts_with(&buf[c.head.len()..]));
        let mut buf = c.head.clone();
        let capacity = c.guess.min(ONE_SHOT_MAX);
        prop_assert!(!matches!(one_shot(cut, c.framing, capacity, &mut buf), OneShot::Done));
        prop_assert!(buf == c.head);
    }

    /// Damaged streams and garbage never panic; when both decoders accept
    /// the same damaged stream they give the same output.
    #[test]
    fn damaged_streams_never_panic(
        c in case(),
        flips in prop::collection::vec((any::<usize>(), 1u8..=255), 1..4),
        garbage in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut damaged = c.input.clone();
        for &(at, mask) in &flips {
            let n = damaged.len();
            damaged[at % n] ^= mask;
        }
        for input in [&damaged, &garbage] {
            let limit = (c.r % (c.data.len() + 8)) as u64;
            let mut buf = c.head.clone();
            match inflate_into(input, c.framing, limit, c.guess, &budget(), &mut buf) {
                Ok(()) => prop_assert!(buf.len() - c.head.len() <= limit as usize),
                Err(InflateError::Damaged) => {}
                Err(e) => prop_assert!(false, "{:?}", e),
            }
            prop_assert!(buf.starts_with(&c.head));
            let mut one = Vec::new();
            let mut streamed = Vec::new();
            let capacity = c.guess.min(ONE_SHOT_MAX);
            if matches!(one_shot(input, c.framing, capacity, &mut one), OneShot::Done)
                && stream_into(input, c.framing, usize::MAX, c.guess, &budget(), &mut streamed)
                    .is_ok()
            {
                prop_assert!(one == streamed);
            }
        }
    }
}
