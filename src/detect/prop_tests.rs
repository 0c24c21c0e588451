//! Property tests: the SSE2 digit mask and the digit runs built on it
//! against a scalar scan, and the word automaton against the
//! `aho-corasick` crate.

use aho_corasick::{AhoCorasickBuilder, MatchKind};
use proptest::prelude::*;
use proptest::test_runner::Config;

use super::words::Words;
use super::*;

fn config(cases: u32) -> Config {
    Config {
        cases,
        // Failures are turned into named regression tests instead.
        failure_persistence: None,
        ..Config::default()
    }
}

/// Bytes around the digits' range and the sign boundary of the SSE2
/// compares, made common.
fn edgy_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => b'0'..=b'9',
        2 => prop::sample::select(vec![
            b'/', b':', 0x00, 0x7f, 0x80, 0xb0, 0xb9, 0xff, b' ', b'\n',
        ]),
        2 => any::<u8>(),
    ]
}

// The oracles spell the digits' range out rather than share
// `is_ascii_digit` with the code under test.
#[allow(clippy::manual_is_ascii_check)]
fn scalar_mask(chunk: &[u8]) -> u64 {
    let mut m = 0u64;
    for (j, &b) in chunk.iter().enumerate() {
        if (b'0'..=b'9').contains(&b) {
            m |= 1 << j;
        }
    }
    m
}

#[allow(clippy::manual_is_ascii_check)]
fn scalar_runs(b: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, &c) in b.iter().chain([&b'x']).enumerate() {
        match (start, (b'0'..=b'9').contains(&c) && i < b.len()) {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    out
}

proptest! {
    #![proptest_config(config(8192))]

    #[test]
    fn digit_mask_agrees_with_a_scalar_scan(chunk in prop::collection::vec(edgy_byte(), 0..=64)) {
        prop_assert_eq!(digit_mask(&chunk), scalar_mask(&chunk));
    }

    /// Whole 64-byte blocks (the SSE2 path) with any byte values.
    #[test]
    fn digit_mask_of_whole_blocks(
        chunk in prop::array::uniform32(any::<u8>()),
        more in prop::array::uniform32(edgy_byte()),
    ) {
        let block: Vec<u8> = chunk.iter().chain(&more).copied().collect();
        prop_assert_eq!(digit_mask(&block), scalar_mask(&block));
    }

    #[test]
    fn digit_runs_agree_with_a_scalar_scan(text in prop::collection::vec(edgy_byte(), 0..600)) {
        let mut got = Vec::new();
        for_each_digit_run(&text, |s, e| got.push((s, e)));
        prop_assert_eq!(got, scalar_runs(&text));
    }
}

// ---------------------------------------------------------------------------
// Word automaton

/// A dictionary word: ASCII of both cases, punctuation, spaces and a few
/// non-ASCII letters (whose case the automaton, like the crate's ASCII
/// case folding, does not fold).
fn word() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "a", "b", "A", "B", "n", "N", "s", "S", " ", ".", "#", "=", ":", "ä", "Ä", "é", "0",
    ]);
    prop_oneof![
        6 => prop::collection::vec(piece.clone(), 1..5).prop_map(|v| v.concat()),
        1 => prop::collection::vec(piece, 10..40).prop_map(|v| v.concat()),
    ]
}

fn dictionary() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(word(), 1..12).prop_map(|mut v| {
        // The detector set hands in each word once.
        let mut seen = std::collections::HashSet::new();
        v.retain(|w| seen.insert(w.clone()));
        v
    })
}

/// Text made of the dictionary's words (in any ASCII case) and noise,
/// long enough at times to be split into the four chains.
fn text(words: Vec<String>) -> impl Strategy<Value = (Vec<String>, Vec<u8>)> {
    let n = words.len();
    let piece = prop_oneof![
        3 => (0..n, any::<u32>()).prop_map(|(i, case)| (Some(i), case)),
        2 => (Just(None), any::<u32>()),
    ];
    prop::collection::vec(piece, 0..700).prop_map(move |pieces| {
        let mut text = Vec::new();
        for (i, r) in pieces {
            match i {
                Some(i) => text.extend(words[i].bytes().enumerate().map(|(k, b)| {
                    if r >> (k % 32) & 1 == 1 {
                        b.to_ascii_uppercase()
                    } else {
                        b.to_ascii_lowercase()
                    }
                })),
                None => text.extend_from_slice(
                    [&b" "[..], b"x", b"\n", b"a", "ä".as_bytes(), &[0xc3], b"."][r as usize % 7],
                ),
            }
        }
        (words.clone(), text)
    })
}

fn reference_matches(words: &[String], hay: &[u8]) -> Vec<(usize, usize, usize)> {
    let ac = AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .build(words)
        .unwrap();
    let mut want: Vec<_> = ac
        .find_overlapping_iter(hay)
        .map(|m| (m.start(), m.end(), m.pattern().as_usize()))
        .collect();
    want.sort_unstable();
    want
}

proptest! {
    #![proptest_config(config(1024))]

    /// Every occurrence of every word, overlapping, ASCII case-insensitive,
    /// in texts short enough for one walk and long enough for four chains,
    /// cut at every length near the chains' boundaries.
    #[test]
    fn words_agree_with_aho_corasick((words, text) in dictionary().prop_flat_map(text)) {
        let automaton = Words::new(&words);
        let mut cuts = vec![text.len()];
        let max_len = words.iter().map(String::len).max().unwrap();
        for k in [0, 1, 2, 3, 4] {
            for d in [0, 1, max_len] {
                cuts.push((text.len() * k / 4).saturating_sub(d));
            }
        }
        for cut in cuts {
            let hay = &text[..cut];
            let mut got = Vec::new();
            automaton.for_each(hay, |w, s, e| got.push((s, e, w)));
            got.sort_unstable();
            prop_assert_eq!(got, reference_matches(&words, hay), "{} bytes", cut);
        }
    }
}
