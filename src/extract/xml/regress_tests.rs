//! Regression tests for entity and character references.

use super::*;

/// Each `&` searched to the end of the text for a `;`: a megabyte of `&`
/// took time quadratic in its length. The search now stops within a few
/// bytes, and bare `&` are kept.
#[test]
fn many_ampersands_without_semicolons_are_kept_in_linear_time() {
    let amps = "&".repeat(1 << 20);
    assert_eq!(unescape(&amps), amps);
    let words = "&nbsp&lt&#x41 ".repeat(1 << 16);
    assert_eq!(unescape(&words), words);
    // A `;` only at the very end: the last `&;` is an empty reference,
    // dropped.
    let tail = format!("{}&;", "&".repeat(1 << 20));
    assert_eq!(unescape(&tail), amps);
}

/// A bare `&` took everything up to the next `;` (up to 12 bytes on) for
/// a reference name and dropped it, together with any reference inside.
#[test]
fn a_bare_ampersand_does_not_swallow_what_follows() {
    assert_eq!(unescape("&&amp;"), "&&");
    assert_eq!(unescape("AT&T &lt;x&gt;"), "AT&T <x>");
    assert_eq!(unescape("a & b; c"), "a & b; c");
    assert_eq!(unescape("a &b c;"), "a &b c;");
    assert_eq!(unescape("x&<y;"), "x&<y;");
    // Leading zeros, as XML allows them, within the bound.
    assert_eq!(unescape("&#x00000000000000000041;"), "A");
    assert_eq!(unescape("&#000000000000000000065;"), "A");
    // Unknown and unresolvable references are dropped, never expanded.
    assert_eq!(unescape("a&unknown;b&#0;c&#xD800;d"), "abcd");
}

/// `&#+65;` read as `A`: the number parser takes a sign that a character
/// reference does not have.
#[test]
fn character_references_have_digits_only() {
    assert_eq!(resolve_ref("#+65"), None);
    assert_eq!(resolve_ref("#x+41"), None);
    assert_eq!(resolve_ref("#-65"), None);
    assert_eq!(resolve_ref("#65"), Some('A'));
    assert_eq!(resolve_ref("#X41"), Some('A'));
    assert_eq!(unescape("a&#+65;b"), "ab");
}
