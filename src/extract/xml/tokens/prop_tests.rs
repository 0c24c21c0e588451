//! Property tests: the tokenizer's fast paths against plain oracles.
//!
//! - `tag_end`, its SSE2 scan and its quote-by-quote path against a state
//!   machine that reads one byte at a time;
//! - the `short_scan` helpers against their `std` equivalents;
//! - the tokens of random markup soup (mostly ill-formed) against a naive
//!   tokenizer that follows the module's documented rules byte by byte;
//! - the tokens of random well-formed documents against the events the
//!   generator put in;
//! - the shortcuts (`start_tag`, `eat_empty`, `text_before_end`,
//!   `skip_past_end`, ...) against what `next_token` reads at the same place.

use std::cell::Cell;
use std::fmt::Write as _;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::*;
use crate::extract::xml::unescape;

fn config(cases: u32) -> Config {
    Config {
        cases,
        // Failures are turned into named regression tests instead.
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------
// tag_end and short_scan

/// The `>` closing a tag, one byte at a time: a quote opens a value that
/// only the same quote closes.
fn oracle_tag_end(bytes: &[u8], from: usize) -> Result<usize, Malformed> {
    let mut open: Option<u8> = None;
    for (i, &b) in bytes.iter().enumerate().skip(from) {
        match open {
            Some(q) if b == q => open = None,
            Some(_) => {}
            None if b == b'>' => return Ok(i),
            None if b == b'"' || b == b'\'' => open = Some(b),
            None => {}
        }
    }
    Err(Malformed)
}

/// What the one-pass scan promises: the first `>` from `from` when no
/// double quote is open there, no apostrophe comes before it, and it lies
/// in a whole block of 16 bytes counted from `from`; otherwise nothing.
fn oracle_first_unquoted_gt(bytes: &[u8], from: usize) -> Option<usize> {
    let mut open = false;
    for (i, &b) in bytes.iter().enumerate().skip(from) {
        let block_end = from + (i - from) / 16 * 16 + 16;
        if block_end > bytes.len() {
            return None;
        }
        match b {
            b'\'' => return None,
            b'"' => open = !open,
            b'>' => return (!open).then_some(i),
            _ => {}
        }
    }
    None
}

/// Bytes of a tag's inside, with the ones the scans look for made common.
fn tag_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        6 => Just(b'a'),
        2 => Just(b' '),
        2 => Just(b'"'),
        1 => Just(b'\''),
        2 => Just(b'>'),
        1 => Just(b'='),
        1 => Just(b'/'),
        1 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..120)
}

fn bytes_and_offset() -> impl Strategy<Value = (Vec<u8>, usize)> {
    tag_bytes().prop_flat_map(|b| {
        let n = b.len();
        (Just(b), 0..=n)
    })
}

#[test]
fn tag_end_agrees_with_a_byte_state_machine() {
    let mut runner = TestRunner::new(config(4096));
    runner
        .run(&bytes_and_offset(), |(bytes, from)| {
            let want = oracle_tag_end(&bytes, from);
            prop_assert_eq!(tag_end(&bytes, from), want);
            prop_assert_eq!(tag_end_quote_by_quote(&bytes, from), want);
            let fast = short_scan::first_unquoted_gt(&bytes, from);
            if let Some(at) = fast {
                prop_assert_eq!(Ok(at), want);
            }
            #[cfg(target_arch = "x86_64")]
            prop_assert_eq!(fast, oracle_first_unquoted_gt(&bytes, from));
            Ok(())
        })
        .unwrap();
}

/// The one-pass scan must answer often on the tags it was made for, or
/// the test above checks only the fallback.
#[cfg(target_arch = "x86_64")]
#[test]
fn one_pass_scan_answers_for_plain_tags() {
    let src = br#"c r="A1" s="3" t="s"><v>12</v></c><c r="B1">"#;
    let gt = src.iter().position(|&b| b == b'>');
    assert_eq!(short_scan::first_unquoted_gt(src, 0), gt);
    assert_eq!(oracle_first_unquoted_gt(src, 0), gt);
}

#[test]
fn short_scan_agrees_with_std() {
    let small = prop_oneof![Just(b'a'), Just(b'b'), Just(b'<'), Just(b'"'), any::<u8>()];
    let hay = prop::collection::vec(small.clone(), 0..100);
    let needle = prop::collection::vec(small.clone(), 0..6);
    let mut runner = TestRunner::new(config(4096));
    runner
        .run(
            &(hay, needle, small.clone(), small.clone(), small),
            |(hay, needle, a, b, c)| {
                let pos = |f: &dyn Fn(u8) -> bool| hay.iter().position(|&x| f(x));
                prop_assert_eq!(short_scan::find1(&hay, a), pos(&|x| x == a));
                prop_assert_eq!(
                    short_scan::find3(&hay, a, b, c),
                    pos(&|x| x == a || x == b || x == c)
                );
                prop_assert_eq!(
                    short_scan::starts_with(&hay, &needle),
                    hay.starts_with(&needle)
                );
                // Prefixes of the haystack, so that equal slices are common.
                let k = needle.len().min(hay.len());
                prop_assert_eq!(short_scan::same(&hay[..k], &needle), hay[..k] == needle[..]);
                prop_assert_eq!(
                    short_scan::starts_with(&hay, &hay[..k]),
                    true,
                    "a prefix of itself"
                );
                Ok(())
            },
        )
        .unwrap();
}

// ---------------------------------------------------------------------------
// A naive tokenizer: the module's rules, byte by byte.

const XML_SPACE: [char; 4] = [' ', '\t', '\r', '\n'];

fn oracle_find(b: &[u8], from: usize, pat: &[u8]) -> Result<usize, Malformed> {
    (from..b.len())
        .find(|&k| b[k..].starts_with(pat))
        .ok_or(Malformed)
}

/// `<!...>` declarations: brackets nest, quoted literals, comments and
/// processing instructions inside them are skipped whole.
fn oracle_declaration_end(b: &[u8], from: usize) -> Result<usize, Malformed> {
    let mut depth = 0u32;
    let mut k = from;
    while k < b.len() {
        if b[k..].starts_with(b"<!--") {
            k = oracle_find(b, k + 4, b"-->")? + 3;
            continue;
        }
        if b[k..].starts_with(b"<?") {
            k = oracle_find(b, k + 2, b"?>")? + 2;
            continue;
        }
        match b[k] {
            b'[' => depth += 1,
            b']' => depth = depth.saturating_sub(1),
            q @ (b'"' | b'\'') => k = oracle_find(b, k + 1, &[q])?,
            b'>' if depth == 0 => return Ok(k),
            _ => {}
        }
        k += 1;
    }
    Err(Malformed)
}

/// Every token up to the end or the first malformed markup, and whether
/// the input ended in malformed markup.
fn oracle_tokens(src: &str) -> (Vec<Token<'_>>, Option<Malformed>) {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = if src.starts_with('\u{FEFF}') { 3 } else { 0 };
    macro_rules! or_stop {
        ($e:expr) => {
            match $e {
                Ok(v) => v,
                Err(m) => return (out, Some(m)),
            }
        };
    }
    while i < b.len() {
        let rest = &b[i..];
        if rest[0] != b'<' {
            let end = (i..b.len()).find(|&k| b[k] == b'<').unwrap_or(b.len());
            out.push(Token::Text(&src[i..end]));
            i = end;
        } else if rest.starts_with(b"</") {
            let close = or_stop!(oracle_find(b, i + 2, b">"));
            out.push(Token::End(src[i + 2..close].trim_end_matches(XML_SPACE)));
            i = close + 1;
        } else if rest.starts_with(b"<?") {
            i = or_stop!(oracle_find(b, i + 2, b"?>")) + 2;
        } else if rest.starts_with(b"<!--") {
            i = or_stop!(oracle_find(b, i + 4, b"-->")) + 3;
        } else if rest.starts_with(b"<![CDATA[") {
            let close = or_stop!(oracle_find(b, i + 9, b"]]>"));
            out.push(Token::CData(&src[i + 9..close]));
            i = close + 3;
        } else if rest.starts_with(b"<!") {
            i = or_stop!(oracle_declaration_end(b, i + 2)) + 1;
        } else {
            let close = or_stop!(oracle_tag_end(b, i + 1));
            let inner = &src[i + 1..close];
            let empty = inner.ends_with('/');
            let inner = if empty {
                &inner[..inner.len() - 1]
            } else {
                inner
            };
            let name_end = inner.find(XML_SPACE).unwrap_or(inner.len());
            let tag = Tag {
                name: &inner[..name_end],
                attrs: &inner[name_end..],
            };
            out.push(if empty {
                Token::Empty(tag)
            } else {
                Token::Start(tag)
            });
            i = close + 1;
        }
    }
    (out, None)
}

fn real_tokens(src: &str) -> (Vec<Token<'_>>, Option<Malformed>) {
    let mut t = Tokens::new(src);
    let mut out = Vec::new();
    loop {
        match t.next_token() {
            Ok(Some(tok)) => out.push(tok),
            Ok(None) => return (out, None),
            Err(m) => return (out, Some(m)),
        }
    }
}

/// Markup soup: pieces of markup in random order, mostly ill-formed.
fn soup() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "<",
        ">",
        "</",
        "/>",
        "<?",
        "?>",
        "<!--",
        "-->",
        "<![CDATA[",
        "]]>",
        "<!DOCTYPE x ",
        "[",
        "]",
        "\"",
        "'",
        " ",
        "\n",
        "\t",
        "=",
        "a",
        "w:t",
        "w:rPr",
        "q",
        " b=\"1\"",
        " c='>'",
        "<w:t>",
        "</w:t>",
        "</w:t >",
        "<w:rPr>",
        "</w:rPr>",
        "<q/>",
        "<q />",
        "text",
        "&amp;",
        "&",
        ";",
        "ä",
        "東",
        "\u{3000}",
        "\u{85}",
        "\u{a0}",
        "\u{FEFF}",
    ]);
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

#[test]
fn soup_tokens_agree_with_a_naive_tokenizer() {
    let mut runner = TestRunner::new(config(4096));
    runner
        .run(&soup(), |src| {
            prop_assert_eq!(real_tokens(&src), oracle_tokens(&src));
            Ok(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------
// Well-formed documents with known events.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Start(String, Vec<(String, String)>),
    Empty(String, Vec<(String, String)>),
    End(String),
    Text(String),
    CData(String),
}

/// Adjacent texts as one (a comment or instruction between two texts is
/// not a token), empty texts dropped.
fn merged(events: Vec<Ev>) -> Vec<Ev> {
    let mut out: Vec<Ev> = Vec::new();
    for e in events {
        match (out.last_mut(), e) {
            (_, Ev::Text(t)) if t.is_empty() => {}
            (Some(Ev::Text(last)), Ev::Text(t)) => last.push_str(&t),
            (_, e) => out.push(e),
        }
    }
    out
}

fn event_of(tok: Token<'_>) -> Ev {
    let attrs = |t: &Tag<'_>| {
        t.attributes()
            .map(|(k, v)| (k.to_string(), unescape(v)))
            .collect()
    };
    match tok {
        Token::Start(t) => Ev::Start(t.name.to_string(), attrs(&t)),
        Token::Empty(t) => Ev::Empty(t.name.to_string(), attrs(&t)),
        Token::End(n) => Ev::End(n.to_string()),
        Token::Text(t) => Ev::Text(unescape(t)),
        Token::CData(t) => Ev::CData(t.to_string()),
    }
}

/// A serialized fragment and the events it must read as.
#[derive(Debug, Clone)]
struct Doc {
    xml: String,
    events: Vec<Ev>,
}

impl Doc {
    fn cat(parts: impl IntoIterator<Item = Doc>) -> Doc {
        let mut d = Doc {
            xml: String::new(),
            events: Vec::new(),
        };
        for p in parts {
            d.xml.push_str(&p.xml);
            d.events.extend(p.events);
        }
        d
    }
}

const NAMES: [&str; 9] = ["a", "w:t", "w:r", "w:rPr", "w:p", "c", "v", "x:y.z-1", "ä"];
const ATTR_NAMES: [&str; 5] = ["r", "t", "w:val", "xml:space", "b"];

fn text_char() -> impl Strategy<Value = char> {
    prop_oneof![
        8 => prop::sample::select(vec![
            'a', 'Z', '0', ' ', '\n', '\t', '\r', '&', '<', '>', '"', '\'', ';', '#', ']', 'ä',
            '東', '😀', '\u{a0}',
        ]),
        1 => any::<char>(),
    ]
}

/// Writes `c` as a literal (where allowed), a named reference or a decimal
/// or hex character reference, as `how` picks.
fn escape_char(c: char, how: u8, quote: Option<char>, out: &mut String) {
    let literal_ok = !matches!(c, '<' | '&') && Some(c) != quote;
    let named = match c {
        '&' => Some("amp"),
        '<' => Some("lt"),
        '>' => Some("gt"),
        '"' => Some("quot"),
        '\'' => Some("apos"),
        _ => None,
    };
    let numeric_ok = c != '\0';
    let mut ways: Vec<u8> = Vec::new();
    if literal_ok {
        ways.extend([0, 0, 0]);
    }
    if named.is_some() {
        ways.push(1);
    }
    if numeric_ok {
        ways.extend([2, 3]);
    }
    match ways[how as usize % ways.len()] {
        0 => out.push(c),
        1 => write!(out, "&{};", named.unwrap()).unwrap(),
        2 => write!(out, "&#{:0w$};", c as u32, w = (how / 16 % 4) as usize).unwrap(),
        _ => {
            let zeros = (how / 16 % 5) as usize;
            if how & 8 == 0 {
                write!(out, "&#x{:0w$x};", c as u32, w = zeros).unwrap()
            } else {
                write!(out, "&#x{:0w$X};", c as u32, w = zeros).unwrap()
            }
        }
    }
}

fn escaped(chars: &[(char, u8)], quote: Option<char>) -> (String, String) {
    let mut xml = String::new();
    let mut plain = String::new();
    for &(c, how) in chars {
        plain.push(c);
        escape_char(c, how, quote, &mut xml);
    }
    (xml, plain)
}

fn escaped_chars() -> impl Strategy<Value = Vec<(char, u8)>> {
    prop::collection::vec((text_char(), any::<u8>()), 0..12)
}

fn space() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![" ", "\n", "\t", "  ", " \r\n "])
}

fn maybe_space() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", "", "", " ", "\n", "\t "])
}

/// Words for comments, instructions and CDATA: markup that must be read
/// as content.
fn content(forbidden: &'static str) -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "a", " ", "<", ">", "</w:t>", "</w:rPr>", "<w:rPr>", "'", "\"", "&", "]", "[", "ä", "-",
        "?",
    ]);
    prop::collection::vec(piece, 0..10).prop_map(move |v| {
        let mut s = v.concat();
        // Loop: a replacement can make a new occurrence.
        while s.contains(forbidden) {
            s = s.replace(forbidden, "");
        }
        s
    })
}

fn text_node() -> impl Strategy<Value = Doc> {
    escaped_chars().prop_map(|cs| {
        let (xml, plain) = escaped(&cs, None);
        Doc {
            xml,
            events: vec![Ev::Text(plain)],
        }
    })
}

fn misc_node() -> impl Strategy<Value = Doc> {
    prop_oneof![
        content("--").prop_map(|c| Doc {
            // A comment may not end in `-` either.
            xml: format!("<!--{c} -->"),
            events: vec![],
        }),
        content("?>").prop_map(|c| Doc {
            xml: format!("<?pi {c}?>"),
            events: vec![],
        }),
    ]
}

fn leaf() -> impl Strategy<Value = Doc> {
    prop_oneof![
        4 => text_node(),
        1 => content("]]>").prop_map(|c| Doc {
            xml: format!("<![CDATA[{c}]]>"),
            events: vec![Ev::CData(c)],
        }),
        1 => misc_node(),
    ]
}

type AttrSpec = (
    usize,
    Vec<(char, u8)>,
    bool,
    &'static str,
    &'static str,
    &'static str,
);

fn attr() -> impl Strategy<Value = AttrSpec> {
    (
        0..ATTR_NAMES.len(),
        escaped_chars(),
        any::<bool>(),
        space(),
        maybe_space(),
        maybe_space(),
    )
}

fn element(children: impl Strategy<Value = Vec<Doc>>) -> impl Strategy<Value = Doc> {
    (
        0..NAMES.len(),
        prop::collection::vec(attr(), 0..4),
        children,
        any::<bool>(),
        maybe_space(),
        maybe_space(),
    )
        .prop_map(|(n, attrs, children, self_close, before_gt, end_space)| {
            let name = NAMES[n];
            let mut xml = format!("<{name}");
            let mut list = Vec::new();
            for (k, value, double, sp, before_eq, after_eq) in attrs {
                let quote = if double { '"' } else { '\'' };
                let (v, plain) = escaped(&value, Some(quote));
                let key = ATTR_NAMES[k];
                write!(xml, "{sp}{key}{before_eq}={after_eq}{quote}{v}{quote}").unwrap();
                list.push((key.to_string(), plain));
            }
            xml.push_str(before_gt);
            if self_close && children.is_empty() {
                xml.push_str("/>");
                return Doc {
                    xml,
                    events: vec![Ev::Empty(name.to_string(), list)],
                };
            }
            xml.push('>');
            let inner = Doc::cat(children);
            xml.push_str(&inner.xml);
            write!(xml, "</{name}{end_space}>").unwrap();
            let mut events = vec![Ev::Start(name.to_string(), list)];
            events.extend(inner.events);
            events.push(Ev::End(name.to_string()));
            Doc { xml, events }
        })
}

fn document() -> impl Strategy<Value = Doc> {
    let tree = leaf().prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            1 => leaf(),
            3 => element(prop::collection::vec(inner, 0..5)),
        ]
    });
    let prolog = prop::sample::select(vec![
        "",
        "\u{FEFF}",
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>",
        "\u{FEFF}<?xml version='1.0'?>",
        "<!DOCTYPE a>",
        "<!DOCTYPE a [<!ENTITY e \"x]>y\"> <!ATTLIST a b CDATA 'it]>s'>]>",
        "<!DOCTYPE a [<!-- the root's ] list --><?pi ']' ?><!ENTITY e 'x'>]>",
        "<!DOCTYPE a PUBLIC \"-//x//y\" 'z.dtd'>",
    ]);
    (
        prolog,
        maybe_space(),
        prop::collection::vec(misc_node(), 0..2),
        element(prop::collection::vec(tree, 0..6)),
        prop::collection::vec(misc_node(), 0..2),
        maybe_space(),
    )
        .prop_map(|(prolog, space, before, root, after, tail)| {
            let mut d = Doc::cat(before.into_iter().chain([root]).chain(after));
            d.xml = format!("{prolog}{space}{}{tail}", d.xml);
            d.events.insert(0, Ev::Text(space.to_string()));
            d.events.push(Ev::Text(tail.to_string()));
            d
        })
}

#[test]
fn well_formed_documents_read_as_generated() {
    let mut runner = TestRunner::new(config(2048));
    runner
        .run(&document(), |doc| {
            let (tokens, err) = real_tokens(&doc.xml);
            prop_assert_eq!(err, None, "{:?}", doc.xml);
            let got = merged(tokens.into_iter().map(event_of).collect());
            prop_assert_eq!(got, merged(doc.events.clone()), "{:?}", doc.xml);
            prop_assert_eq!(real_tokens(&doc.xml), oracle_tokens(&doc.xml));
            Ok(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------
// Shortcuts against next_token.

/// Names the shortcuts are asked for: the generator's, and near misses.
const ASKED: [&str; 7] = ["w:t", "w:rPr", "w:r", "a", "c", "q", "w"];

#[derive(Default)]
struct Hits {
    start_tag: Cell<usize>,
    empty: Cell<usize>,
    text: Cell<usize>,
    skip: Cell<usize>,
}

fn bump(c: &Cell<usize>) {
    c.set(c.get() + 1);
}

/// Checks every shortcut for `q` at byte `p` of `src` against the tokens
/// `next_token` reads from there.
fn check_shortcuts(
    src: &str,
    p: usize,
    q: &str,
    well_formed: bool,
    hits: &Hits,
) -> Result<(), TestCaseError> {
    let at = Tokens {
        src,
        pos: p,
        fruitless: 0,
    };
    let b = src.as_bytes();
    // Whether the next token, if markup, starts right at `p` (a comment or
    // instruction would be skipped first).
    let direct = b.get(p) == Some(&b'<') && !matches!(b.get(p + 1), Some(b'!' | b'?'));
    let mut general = at.clone();
    let next = general.next_token();

    let mut t = at.clone();
    let hit = t.eat_start(q);
    prop_assert_eq!(hit, src[p..].starts_with(&format!("<{q}>")));
    if hit {
        prop_assert_eq!(next, Ok(Some(Token::Start(Tag { name: q, attrs: "" }))));
        prop_assert_eq!(t.pos, general.pos);
    }

    let mut t = at.clone();
    match t.start_tag(q) {
        Some(tag) => {
            bump(&hits.start_tag);
            prop_assert_eq!(tag.name, q);
            prop_assert_eq!(next, Ok(Some(Token::Start(tag))));
            prop_assert_eq!(t.pos, general.pos);
        }
        None => {
            let missed = direct && matches!(next, Ok(Some(Token::Start(tag))) if tag.name == q);
            prop_assert!(!missed, "start_tag({}) missed {:?}", q, next);
            prop_assert_eq!(t.pos, p);
        }
    }

    let mut t = at.clone();
    if t.eat_empty(q) {
        bump(&hits.empty);
        prop_assert!(
            matches!(next, Ok(Some(Token::Empty(tag))) if tag.name == q),
            "eat_empty({}) at {:?}",
            q,
            next
        );
        prop_assert_eq!(t.pos, general.pos);
    } else {
        let missed = direct && matches!(next, Ok(Some(Token::Empty(tag))) if tag.name == q);
        prop_assert!(!missed, "eat_empty({}) missed {:?}", q, next);
        prop_assert_eq!(t.pos, p);
    }

    // The text, if any, and the end tag `next_token` reads from `p`, when
    // both start where the one before ends.
    let plain_text_then_end = || {
        let mut g = at.clone();
        let mut text = "";
        let mut tok = g.next_token();
        if let Ok(Some(Token::Text(t))) = tok {
            if t.as_ptr() != src[p..].as_ptr() {
                return None;
            }
            text = t;
            if !src[g.pos..].starts_with("</") {
                return None;
            }
            tok = g.next_token();
        } else if !src[p..].starts_with("</") {
            return None;
        }
        match tok {
            Ok(Some(Token::End(n))) if n == q => Some((text, g.pos)),
            _ => None,
        }
    };
    let mut t = at.clone();
    let shortcut = t.text_before_end(q).map(|text| (text, t.pos));
    if shortcut.is_some() {
        bump(&hits.text);
    } else {
        prop_assert_eq!(t.pos, p);
    }
    prop_assert_eq!(shortcut, plain_text_then_end(), "text_before_end({})", q);

    // skip_past_end may stay or move to just after the first `</q>` that
    // `next_token` reads, never inside markup. Exact only for well-formed
    // input: in soup a `<` may stand inside a tag or an end tag's name.
    let mut t = at.clone();
    t.skip_past_end(q);
    if t.pos != p {
        bump(&hits.skip);
        prop_assert!(t.pos > p && src[..t.pos].ends_with('>'));
        if !well_formed {
            return Ok(());
        }
        let mut g = at.clone();
        loop {
            let tok = g.next_token();
            prop_assert!(
                matches!(tok, Ok(Some(_))),
                "skip_past_end({}) moved to {} past every token",
                q,
                t.pos
            );
            prop_assert!(
                g.pos <= t.pos,
                "skip_past_end({}) to {} inside a token",
                q,
                t.pos
            );
            if g.pos == t.pos {
                prop_assert_eq!(tok, Ok(Some(Token::End(q))));
                break;
            }
            prop_assert_ne!(tok, Ok(Some(Token::End(q))), "skipped past </{}>", q);
        }
    }
    Ok(())
}

#[test]
fn shortcuts_agree_with_next_token_in_well_formed_documents() {
    let hits = Hits::default();
    let mut runner = TestRunner::new(config(1024));
    runner
        .run(&document(), |doc| {
            let src = doc.xml.as_str();
            // Every token boundary, as the extractors call the shortcuts.
            let mut t = Tokens::new(src);
            let mut at = vec![t.pos];
            while let Ok(Some(_)) = t.next_token() {
                at.push(t.pos);
            }
            for p in at {
                for q in ASKED {
                    check_shortcuts(src, p, q, true, &hits)?;
                }
            }
            Ok(())
        })
        .unwrap();
    // Not vacuous: each shortcut took its way many times.
    for (n, what) in [
        (hits.start_tag.get(), "start_tag"),
        (hits.empty.get(), "eat_empty"),
        (hits.text.get(), "text_before_end"),
        (hits.skip.get(), "skip_past_end"),
    ] {
        assert!(n > 100, "{what} hit {n} times");
    }
}

#[test]
fn shortcuts_agree_with_next_token_in_soup() {
    let hits = Hits::default();
    let mut runner = TestRunner::new(config(2048));
    runner
        .run(&soup(), |src| {
            // Every character boundary: text positions included.
            for p in (0..=src.len()).filter(|&p| src.is_char_boundary(p)) {
                for q in ASKED {
                    check_shortcuts(&src, p, q, false, &hits)?;
                }
            }
            Ok(())
        })
        .unwrap();
}
