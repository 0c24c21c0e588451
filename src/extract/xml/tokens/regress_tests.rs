//! Regression tests for what the property tests (`prop_tests.rs`) found.

use super::*;

/// `</a x>` is the end tag of `a x` for `next_token`; the shortcuts took
/// it for the end of `a`. Only XML white space may follow an end tag's
/// name, for both.
#[test]
fn end_tags_read_alike_by_next_token_and_shortcuts() {
    let src = "<a>x</a  c='>'";
    let mut t = Tokens::new(src);
    t.next_token().unwrap();
    assert_eq!(t.clone().text_before_end("a"), None);
    assert_eq!(t.next_token().unwrap(), Some(Token::Text("x")));
    assert_eq!(t.next_token().unwrap(), Some(Token::End("a  c='")));

    let mut t = Tokens::new("<w:t>x</w:t \r\n>");
    t.next_token().unwrap();
    assert_eq!(t.text_before_end("w:t"), Some("x"));
    // Other Unicode white space is part of the name, for both.
    let src = "<w:t>x</w:t\u{3000}>";
    let mut t = Tokens::new(src);
    t.next_token().unwrap();
    assert_eq!(t.clone().text_before_end("w:t"), None);
    t.next_token().unwrap();
    assert_eq!(t.next_token().unwrap(), Some(Token::End("w:t\u{3000}")));
}
