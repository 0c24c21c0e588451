//! Small edits of XML parts as text: find an element's byte span, read its
//! start tag's attributes, insert before the root's end. Everything outside
//! the elements edited stays as it was (declarations, namespaces, the
//! order and spelling of other elements), which a parse-and-serialise
//! round trip would not keep.

use crate::extract::xml::tokens::{Token, Tokens};

/// One element: `start..end` spans it whole; `tag` is its start tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element<'a> {
    pub start: usize,
    pub end: usize,
    pub tag: &'a str,
}

impl Element<'_> {
    /// An attribute of the start tag, unescaped (matched by local name).
    pub fn attr(&self, name: &str) -> Option<String> {
        match Tokens::new(self.tag).next_token() {
            Ok(Some(Token::Start(t))) | Ok(Some(Token::Empty(t))) => t.attr(name),
            _ => None,
        }
    }
}

/// The end of the markup that starts at `at` (`<`), past its `>`; quotes
/// are respected inside tags, comments and CDATA are skipped whole.
fn markup_end(text: &str, at: usize) -> Option<usize> {
    let rest = &text[at..];
    for (open, close) in [("<!--", "-->"), ("<![CDATA[", "]]>"), ("<?", "?>")] {
        if rest.starts_with(open) {
            return rest.find(close).map(|i| at + i + close.len());
        }
    }
    let mut quote: Option<u8> = None;
    for (i, &b) in rest.as_bytes().iter().enumerate() {
        match (quote, b) {
            (Some(q), _) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(b),
            (None, b'>') => return Some(at + i + 1),
            _ => {}
        }
    }
    None
}

/// The qualified name of the tag at `at` (`<name ...`), if it is a start tag.
fn start_name(text: &str, at: usize) -> Option<&str> {
    let rest = text.get(at + 1..)?;
    if rest.starts_with(['/', '!', '?']) {
        return None;
    }
    let len = rest
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .unwrap_or(rest.len());
    Some(&rest[..len])
}

fn local_of(qname: &str) -> &str {
    qname.rsplit(':').next().unwrap_or(qname)
}

/// Every element whose local name is `local`, outermost only, in order.
/// `None` when the text is not well-formed enough to find their ends.
pub fn elements<'a>(text: &'a str, local: &str) -> Option<Vec<Element<'a>>> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(i) = text[at..].find('<') {
        let start = at + i;
        let tag_end = markup_end(text, start)?;
        at = tag_end;
        let Some(qname) = start_name(text, start) else {
            continue;
        };
        if local_of(qname) != local {
            continue;
        }
        let tag = &text[start..tag_end];
        let end = if tag.ends_with("/>") {
            tag_end
        } else {
            let close = format!("</{qname}>");
            tag_end + text[tag_end..].find(&close)? + close.len()
        };
        found.push(Element { start, end, tag });
        at = end;
    }
    Some(found)
}

/// The root element's start tag: `(start, end, qualified name)`.
pub fn root(text: &str) -> Option<(usize, usize, &str)> {
    let mut at = 0;
    while let Some(i) = text[at..].find('<') {
        let start = at + i;
        let end = markup_end(text, start)?;
        if let Some(name) = start_name(text, start) {
            return Some((start, end, name));
        }
        at = end;
    }
    None
}

/// The prefix the root declares for `namespace` (`xmlns:vt="..."`), if any.
pub fn prefix_of(text: &str, namespace: &str) -> Option<String> {
    let (start, end, _) = root(text)?;
    let tag = &text[start..end];
    let mut rest = tag;
    while let Some(i) = rest.find("xmlns:") {
        let after = &rest[i + "xmlns:".len()..];
        let name_len = after.find(|c: char| c == '=' || c.is_whitespace())?;
        let value = after[name_len..].trim_start_matches(|c: char| c == '=' || c.is_whitespace());
        let quote = value.chars().next()?;
        let uri = value[1..].split(quote).next()?;
        if uri == namespace {
            return Some(after[..name_len].to_string());
        }
        rest = &after[name_len..];
    }
    None
}

/// `text` with `insert` placed just before the root element's end tag; a
/// self-closing root is opened first.
pub fn insert_in_root(text: &str, insert: &str) -> Option<String> {
    let (start, end, name) = root(text)?;
    if let Some(open) = text[start..end].strip_suffix("/>") {
        let open = open.trim_end();
        return Some(format!(
            "{}{open}>{insert}</{name}>{}",
            &text[..start],
            &text[end..]
        ));
    }
    let close = format!("</{name}>");
    let at = text.rfind(&close)?;
    Some(format!("{}{insert}{}", &text[..at], &text[at..]))
}

/// The root element's direct children, in order; `None` when the text is
/// not well-formed enough to find their ends. Unlike [`elements`] this
/// tells a child from a deeper element of the same name (`extLst`).
pub fn children(text: &str) -> Option<Vec<Element<'_>>> {
    let (root_start, root_end, _) = root(text)?;
    if text[root_start..root_end].ends_with("/>") {
        return Some(Vec::new());
    }
    let mut found = Vec::new();
    let mut depth = 0usize;
    let mut open = (0, 0);
    let mut at = root_end;
    while let Some(i) = text[at..].find('<') {
        let start = at + i;
        let end = markup_end(text, start)?;
        at = end;
        let tag = &text[start..end];
        if tag.starts_with("</") {
            if depth == 0 {
                return Some(found); // the root's end tag
            }
            depth -= 1;
            if depth == 0 {
                let (child, tag_end) = open;
                found.push(Element {
                    start: child,
                    end,
                    tag: &text[child..tag_end],
                });
            }
        } else if start_name(text, start).is_some() {
            if tag.ends_with("/>") {
                if depth == 0 {
                    found.push(Element { start, end, tag });
                }
            } else {
                if depth == 0 {
                    open = (start, end);
                }
                depth += 1;
            }
        }
    }
    None
}

/// The local name of an element.
pub fn local_name<'a>(text: &'a str, element: &Element<'_>) -> &'a str {
    start_name(text, element.start).map_or("", local_of)
}

/// `text` with `insert` as the last content of `element` (a self-closing
/// element is opened first).
pub fn append_to(text: &str, element: &Element<'_>, insert: &str) -> String {
    let at = match element.tag.strip_suffix("/>") {
        Some(open) => {
            let name = start_name(text, element.start).unwrap_or_default();
            return format!(
                "{}{}>{insert}</{name}>{}",
                &text[..element.start],
                open.trim_end(),
                &text[element.end..]
            );
        }
        None => text[element.start..element.end]
            .rfind("</")
            .map_or(element.end, |i| element.start + i),
    };
    format!("{}{insert}{}", &text[..at], &text[at..])
}

/// `text` with `insert` as the first content of `element`.
pub fn prepend_to(text: &str, element: &Element<'_>, insert: &str) -> String {
    if element.tag.ends_with("/>") {
        return append_to(text, element, insert);
    }
    let at = element.start + element.tag.len();
    format!("{}{insert}{}", &text[..at], &text[at..])
}

/// `text` with `insert` placed at byte `at`.
pub fn insert_at(text: &str, at: usize, insert: &str) -> String {
    format!("{}{insert}{}", &text[..at], &text[at..])
}

/// `text` without the given spans (sorted, not overlapping).
pub fn without(text: &str, spans: &[(usize, usize)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for &(start, end) in spans {
        out.push_str(&text[at..start]);
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

/// Escapes text for an attribute value or element content.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"<?xml version="1.0"?><!-- <p:x>not me</p:x> --><p:r xmlns:p="urn:p" xmlns:vt="urn:vt"><p:x a="1>2">t</p:x><p:y/><p:x b='2'/></p:r>"#;

    #[test]
    fn finds_elements_with_spans_and_attributes() {
        let found = elements(DOC, "x").unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(
            &DOC[found[0].start..found[0].end],
            r#"<p:x a="1>2">t</p:x>"#
        );
        assert_eq!(found[0].attr("a").as_deref(), Some("1>2"));
        assert_eq!(&DOC[found[1].start..found[1].end], "<p:x b='2'/>");
        assert_eq!(found[1].attr("b").as_deref(), Some("2"));
    }

    #[test]
    fn root_prefix_and_insertion() {
        assert_eq!(root(DOC).unwrap().2, "p:r");
        assert_eq!(prefix_of(DOC, "urn:vt").as_deref(), Some("vt"));
        assert_eq!(prefix_of(DOC, "urn:none"), None);
        let inserted = insert_in_root(DOC, "<p:z/>").unwrap();
        assert!(inserted.ends_with("<p:x b='2'/><p:z/></p:r>"));
        assert_eq!(
            insert_in_root("<?xml version=\"1.0\"?>\n<R a=\"1\" />", "<i/>").unwrap(),
            "<?xml version=\"1.0\"?>\n<R a=\"1\"><i/></R>"
        );
    }

    #[test]
    fn removal_and_escaping() {
        let found = elements(DOC, "x").unwrap();
        let spans: Vec<(usize, usize)> = found.iter().map(|e| (e.start, e.end)).collect();
        assert!(without(DOC, &spans)
            .ends_with("<p:r xmlns:p=\"urn:p\" xmlns:vt=\"urn:vt\"><p:y/></p:r>"));
        assert_eq!(escape(r#"a<b>&"c'"#), "a&lt;b&gt;&amp;&quot;c&apos;");
    }

    #[test]
    fn children_are_the_roots_own() {
        let text = r#"<?xml version="1.0"?><w><a><extLst/></a><!-- <b/> --><b x="/>"/><c><c>t</c></c><extLst/></w>"#;
        let found = children(text).unwrap();
        let names: Vec<&str> = found.iter().map(|e| local_name(text, e)).collect();
        assert_eq!(names, ["a", "b", "c", "extLst"]);
        assert_eq!(&text[found[2].start..found[2].end], "<c><c>t</c></c>");
        assert_eq!(children("<w/>").unwrap(), vec![]);
        assert!(children("<w><a></w>").is_none());
    }

    #[test]
    fn appending_and_prepending_inside_an_element() {
        let text = "<r><s a=\"1\"><x/></s><e/></r>";
        let found = children(text).unwrap();
        assert_eq!(
            append_to(text, &found[0], "<y/>"),
            "<r><s a=\"1\"><x/><y/></s><e/></r>"
        );
        assert_eq!(
            prepend_to(text, &found[0], "<y/>"),
            "<r><s a=\"1\"><y/><x/></s><e/></r>"
        );
        assert_eq!(
            append_to(text, &found[1], "<y/>"),
            "<r><s a=\"1\"><x/></s><e><y/></e></r>"
        );
        assert_eq!(
            prepend_to(text, &found[1], "<y/>"),
            "<r><s a=\"1\"><x/></s><e><y/></e></r>"
        );
    }

    #[test]
    fn unclosed_markup_is_none() {
        assert!(elements("<r><x a=\"1\">never closed</r>", "x").is_none());
        assert!(elements("<r><x a=\"1", "x").is_none());
    }
}
