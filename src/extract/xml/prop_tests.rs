//! Property tests: entity and character references against a plain
//! reading of the rules, and escaping round trips.

use std::fmt::Write as _;

use proptest::prelude::*;
use proptest::test_runner::Config;

use super::*;

fn config(cases: u32) -> Config {
    Config {
        cases,
        // Failures are turned into named regression tests instead.
        failure_persistence: None,
        ..Config::default()
    }
}

/// A reference name as XML has them: a predefined entity, `#` and decimal
/// digits, or `#x` and hex digits (`#X` too, leniently), for a character
/// other than NUL.
fn oracle_ref(name: &str) -> Option<char> {
    let named = match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => None,
    };
    if named.is_some() {
        return named;
    }
    let (digits, radix) = match name.strip_prefix("#x").or(name.strip_prefix("#X")) {
        Some(hex) => (hex, 16),
        None => (name.strip_prefix('#')?, 10),
    };
    if digits.is_empty() {
        return None;
    }
    let mut code: u32 = 0;
    for c in digits.chars() {
        code = code.checked_mul(radix)?.checked_add(c.to_digit(radix)?)?;
    }
    char::from_u32(code).filter(|&c| c != '\0')
}

/// The documented reading, one character at a time: an `&` starts a
/// reference when a `;` follows within 32 bytes with no `&`, `<` or white
/// space before it; references that do not resolve are dropped; any
/// other `&` is text.
fn oracle_unescape(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = raw.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '&' {
            out.push(c);
            continue;
        }
        let mut end = None;
        for (j, d) in raw[i + 1..].char_indices() {
            if j >= 32 || matches!(d, '&' | '<' | ' ' | '\t' | '\r' | '\n') {
                break;
            }
            if d == ';' {
                end = Some(i + 1 + j);
                break;
            }
        }
        match end {
            Some(semi) => {
                out.extend(oracle_ref(&raw[i + 1..semi]));
                while chars.peek().is_some_and(|&(k, _)| k <= semi) {
                    chars.next();
                }
            }
            None => out.push('&'),
        }
    }
    out
}

fn reference_text() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "&",
        ";",
        "amp",
        "lt",
        "gt",
        "quot",
        "apos",
        "#",
        "x",
        "X",
        "+",
        "-",
        "0",
        "41",
        "9",
        "FFFF",
        "110000",
        "D800",
        "a",
        " ",
        "\n",
        "<",
        "ä",
        "東",
        "&amp;",
        "&#x41;",
        "&#",
        "000000000000",
        "&unknown;",
    ]);
    prop_oneof![
        4 => prop::collection::vec(piece, 0..40).prop_map(|v| v.concat()),
        1 => any::<String>(),
    ]
}

fn reference_name() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "amp",
        "lt",
        "apos",
        "#",
        "x",
        "X",
        "+",
        "-",
        " ",
        "0",
        "1",
        "9",
        "a",
        "F",
        "g",
        "00000",
        "10FFFF",
        "110000",
        "D800",
        "4294967296",
    ]);
    prop::collection::vec(piece, 0..6).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(config(8192))]

    #[test]
    fn references_resolve_as_xml_reads_them(name in reference_name()) {
        prop_assert_eq!(resolve_ref(&name), oracle_ref(&name), "{:?}", name);
    }

    #[test]
    fn unescape_agrees_with_a_plain_reading(raw in reference_text()) {
        let got = unescape(&raw);
        prop_assert_eq!(&got, &oracle_unescape(&raw), "{:?}", raw);
        // A reference is never shorter than what it stands for.
        prop_assert!(got.len() <= raw.len());
        // Appends, keeping what was there.
        let mut out = String::from("head");
        unescape_into(&raw, &mut out);
        prop_assert_eq!(&out[..4], "head");
        prop_assert_eq!(&out[4..], got);
    }

    /// Text escaped in any of the ways XML allows reads back as it was.
    #[test]
    fn escaped_text_round_trips(text in any::<String>(), ways in any::<u64>()) {
        let mut raw = String::new();
        for (k, c) in text.chars().enumerate() {
            let way = (ways >> (k % 16 * 4)) & 0xf;
            match (way, c) {
                (_, '&') if way < 8 => raw.push_str("&amp;"),
                (_, '<') if way < 8 => raw.push_str("&lt;"),
                (_, '\0') => raw.push('\0'),
                (0..=7, _) if c != '&' && c != '<' => raw.push(c),
                (8..=11, _) => write!(raw, "&#{};", c as u32).unwrap(),
                _ => write!(raw, "&#x{:0w$X};", c as u32, w = (way % 4 * 3) as usize).unwrap(),
            }
        }
        prop_assert_eq!(unescape(&raw), text, "{:?}", raw);
    }
}
