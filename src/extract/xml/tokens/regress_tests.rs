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

/// The skip of run properties took `</w:rPr>` inside a comment or CDATA
/// section for the end tag and left the tokenizer inside that markup.
#[test]
fn skip_past_end_stays_at_comments_cdata_and_instructions() {
    for inside in [
        "<!-- </w:rPr> -->",
        "<![CDATA[</w:rPr>]]>",
        "<?pi </w:rPr>?>",
    ] {
        let src = format!("<w:rPr><w:b/>{inside}</w:rPr><w:t>x</w:t>");
        let mut t = Tokens::new(&src);
        t.next_token().unwrap();
        let before = t.pos;
        t.skip_past_end("w:rPr");
        assert_eq!(t.pos, before, "{inside}");
        let rest: Vec<Token<'_>> = std::iter::from_fn(|| t.next_token().unwrap()).collect();
        assert_eq!(
            rest[0],
            Token::Empty(Tag {
                name: "w:b",
                attrs: ""
            })
        );
        assert_eq!(rest[rest.len() - 1], Token::End("w:t"));
    }
}

/// Every run of a part whose run properties are never closed searched to
/// the end of the part for `</w:rPr>`: time quadratic in the part. The
/// skip now stops at the next start tag of the same name.
#[test]
fn skip_past_end_stops_at_the_next_start_tag_of_the_name() {
    let runs = 200_000;
    let src = "<w:r><w:rPr><w:b/><w:t>x</w:t></w:r>".repeat(runs);
    let mut t = Tokens::new(&src);
    let mut texts = 0;
    while let Some(tok) = t.next_token().unwrap() {
        match tok {
            Token::Start(e) if e.name == "w:rPr" => {
                let before = t.pos;
                t.skip_past_end("w:rPr");
                assert_eq!(t.pos, before);
            }
            Token::Text("x") => texts += 1,
            _ => {}
        }
    }
    assert_eq!(texts, runs);
    // A nested element of the same name stops the skip too; the inner one
    // is skipped when the caller reaches it.
    let mut t = Tokens::new("<w:rPr><w:rPr/><w:rPr ></w:rPr></w:rPr>");
    t.next_token().unwrap();
    t.skip_past_end("w:rPr");
    assert_eq!(t.pos, "<w:rPr>".len());
}

/// Elements left open under a prefix each (`<p1:pPr>`, `<p2:pPr>` ...)
/// are not stopped by a start tag of their name: each skip searched to
/// the end of the part. Fruitless searches now stop once they have cost
/// as much as the part, and the elements are read token by token.
#[test]
fn fruitless_skips_cost_at_most_the_part() {
    let n = 20_000;
    let src: String = (0..n).map(|i| format!("<p{i}:pPr><w:t>x</w:t>")).collect();
    let mut t = Tokens::new(&src);
    let mut texts = 0;
    while let Some(tok) = t.next_token().unwrap() {
        match tok {
            Token::Start(e) if e.local() == "pPr" => t.skip_past_end(e.name),
            Token::Text("x") => texts += 1,
            _ => {}
        }
    }
    assert_eq!(texts, n);
    assert!(
        t.fruitless <= 2 * src.len(),
        "{} bytes searched",
        t.fruitless
    );
}

/// A comment or processing instruction in a DOCTYPE's internal subset
/// with an apostrophe or bracket in its text made the whole part
/// malformed (or ended the declaration early).
#[test]
fn doctype_subset_comments_and_instructions_are_skipped_whole() {
    for subset in [
        "<!-- the root's list -->",
        "<!-- ] > -->",
        "<?pi ']' > ?>",
        "<!ENTITY e \"x]>y\"><!-- \" -->",
    ] {
        let src = format!("<!DOCTYPE a [{subset}]><a>t</a>");
        assert_eq!(
            all(&src),
            Ok(vec![
                Token::Start(Tag {
                    name: "a",
                    attrs: ""
                }),
                Token::Text("t"),
                Token::End("a"),
            ]),
            "{subset}"
        );
    }
}
