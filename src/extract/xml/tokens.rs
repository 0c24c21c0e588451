//! A small, lenient XML tokenizer for text extraction.
//!
//! Why not quick-xml: profiling a scan of the benchmark corpus showed most
//! of the OOXML time in quick-xml's per-event work (state machine, name
//! checks, UTF-8 conversion of every name and text run) rather than in
//! inflating the parts. Extraction needs much less than a conforming
//! parser: element names, a few attribute values, and text. This tokenizer
//! works on a `&str` that was validated once, finds markup 16 bytes at a time,
//! and hands out borrowed slices; nothing is allocated per token.
//!
//! Leniency, as Office files in the wild need it: end tags are not matched
//! against start tags, undeclared prefixes are fine, DOCTYPE declarations
//! and processing instructions are skipped, and entities are left to
//! [`super::unescape_into`] (unknown ones are dropped there, never
//! expanded). Markup that is cut off (a `<` with no closing `>`, an
//! unterminated comment or CDATA section) is an error, so a truncated part
//! is reported as partly read.

use memchr::memmem;

/// One piece of an XML document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token<'a> {
    /// `<name attrs>`
    Start(Tag<'a>),
    /// `<name attrs/>`
    Empty(Tag<'a>),
    /// `</name>`: the qualified name.
    End(&'a str),
    /// Character data between markup, entity references still escaped.
    Text(&'a str),
    /// The inside of `<![CDATA[ ... ]]>`, taken literally.
    CData(&'a str),
}

/// A start or empty-element tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag<'a> {
    /// Qualified name (`w:t`).
    pub name: &'a str,
    /// Everything after the name, up to `>` or `/>`.
    attrs: &'a str,
}

/// Markup that ends before it is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

impl<'a> Tag<'a> {
    /// Local part of the name: `w:t` -> `t`.
    #[inline]
    pub fn local(&self) -> &'a str {
        super::local(self.name)
    }

    /// Everything after the name, unparsed: for a quick look before
    /// parsing.
    #[inline]
    pub fn raw_attributes(&self) -> &'a str {
        self.attrs
    }

    /// Attributes as (qualified key, raw value) pairs, in order.
    pub fn attributes(&self) -> Attributes<'a> {
        Attributes { rest: self.attrs }
    }

    /// Raw (still escaped) value of the first attribute whose local name is
    /// `name`.
    pub fn attr_raw(&self, name: &str) -> Option<&'a str> {
        self.attributes()
            .find(|(k, _)| super::local(k) == name)
            .map(|(_, v)| v)
    }

    /// Unescaped value of the first attribute whose local name is `name`.
    pub fn attr(&self, name: &str) -> Option<String> {
        self.attr_raw(name).map(super::unescape)
    }

    /// Unescaped value of the first prefixed attribute (`r:id`, any prefix)
    /// whose local name is `name`.
    pub fn attr_prefixed(&self, name: &str) -> Option<String> {
        self.attributes()
            .find(|(k, _)| k.contains(':') && super::local(k) == name)
            .map(|(_, v)| super::unescape(v))
    }
}

/// `text` without the XML white space at its end, by bytes (a char-set
/// pattern decodes every character, and this runs for every end tag).
#[inline]
fn trim_xml_space_end(text: &str) -> &str {
    let kept = text.bytes().rev().take_while(|&b| is_space(b)).count();
    &text[..text.len() - kept]
}

/// Iterator over a tag's attributes. A key without `=value` or a value
/// without quotes ends the iteration: what follows cannot be trusted.
pub struct Attributes<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Attributes<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.rest.as_bytes();
        let skip_space = |mut i: usize| {
            while i < b.len() && is_space(b[i]) {
                i += 1;
            }
            i
        };
        let key_start = skip_space(0);
        let mut i = key_start;
        while i < b.len() && b[i] != b'=' && !is_space(b[i]) {
            i += 1;
        }
        let key_end = i;
        i = skip_space(i);
        let ok = key_end > key_start && b.get(i) == Some(&b'=');
        let value_start = skip_space(i + 1) + 1;
        let quote = match b.get(value_start - 1) {
            Some(&q) if ok && (q == b'"' || q == b'\'') => q,
            _ => {
                self.rest = "";
                return None;
            }
        };
        let Some(len) = short_scan::find1(&b[value_start..], quote) else {
            self.rest = "";
            return None;
        };
        let value_end = value_start + len;
        let (key, value) = (
            &self.rest[key_start..key_end],
            &self.rest[value_start..value_end],
        );
        self.rest = &self.rest[value_end + 1..];
        Some((key, value))
    }
}

#[inline]
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// The tokenizer: call [`Tokens::next_token`] until it returns `Ok(None)`.
#[derive(Clone)]
pub struct Tokens<'a> {
    src: &'a str,
    pos: usize,
    /// Bytes searched by [`Tokens::skip_past_end`] calls that found no end
    /// tag. Elements left open under ever new names (`<p1:pPr>`,
    /// `<p2:pPr>` ...) each search to the end of the part: once these
    /// searches have cost as much as reading the part, skips are no longer
    /// tried, so that their cost stays linear.
    fruitless: usize,
}

impl<'a> Tokens<'a> {
    pub fn new(src: &'a str) -> Self {
        // A byte order mark is not text.
        let pos = if src.starts_with('\u{FEFF}') { 3 } else { 0 };
        Tokens {
            src,
            pos,
            fruitless: 0,
        }
    }

    /// The next token; `Ok(None)` at the end of the input.
    pub fn next_token(&mut self) -> Result<Option<Token<'a>>, Malformed> {
        let bytes = self.src.as_bytes();
        loop {
            let start = self.pos;
            if start >= bytes.len() {
                return Ok(None);
            }
            if bytes[start] != b'<' {
                let end =
                    short_scan::find1(&bytes[start..], b'<').map_or(bytes.len(), |i| start + i);
                self.pos = end;
                return Ok(Some(Token::Text(&self.src[start..end])));
            }
            match bytes.get(start + 1) {
                Some(b'/') => {
                    let close = find_byte(bytes, start + 2, b'>')?;
                    self.pos = close + 1;
                    // XML white space only, as `end_tag_at` reads it.
                    let name = trim_xml_space_end(&self.src[start + 2..close]);
                    return Ok(Some(Token::End(name)));
                }
                Some(b'?') => self.pos = find_seq(bytes, start + 2, b"?>")? + 2,
                Some(b'!') => {
                    let rest = &bytes[start + 2..];
                    if rest.starts_with(b"--") {
                        self.pos = find_seq(bytes, start + 4, b"-->")? + 3;
                    } else if rest.starts_with(b"[CDATA[") {
                        let body = start + 9;
                        let close = find_seq(bytes, body, b"]]>")?;
                        self.pos = close + 3;
                        return Ok(Some(Token::CData(&self.src[body..close])));
                    } else {
                        self.pos = declaration_end(bytes, start + 2)? + 1;
                    }
                }
                _ => {
                    let close = tag_end(bytes, start + 1)?;
                    self.pos = close + 1;
                    let inner = &self.src[start + 1..close];
                    let (inner, empty) = match inner.strip_suffix('/') {
                        Some(i) => (i, true),
                        None => (inner, false),
                    };
                    let name_end = inner.bytes().position(is_space).unwrap_or(inner.len());
                    let tag = Tag {
                        name: &inner[..name_end],
                        attrs: &inner[name_end..],
                    };
                    return Ok(Some(if empty {
                        Token::Empty(tag)
                    } else {
                        Token::Start(tag)
                    }));
                }
            }
        }
    }
    /// Moves past `markup` if the input goes on with it exactly.
    #[inline]
    pub fn eat(&mut self, markup: &str) -> bool {
        let hit = short_scan::starts_with(&self.src.as_bytes()[self.pos..], markup.as_bytes());
        if hit {
            self.pos += markup.len();
        }
        hit
    }

    /// Moves past the bare start tag `<qname>` if the input goes on with it.
    #[inline]
    pub fn eat_start(&mut self, qname: &str) -> bool {
        let rest = &self.src.as_bytes()[self.pos..];
        let n = qname.len();
        let hit = rest.len() > n + 1
            && rest[0] == b'<'
            && short_scan::starts_with(&rest[1..], qname.as_bytes())
            && rest[n + 1] == b'>';
        if hit {
            self.pos += n + 2;
        }
        hit
    }

    /// When the input goes on with the start tag `<qname ...>` (not an
    /// empty-element tag), moves past it and returns it: what
    /// [`Tokens::next_token`] would return, without its general dispatch.
    #[inline]
    pub fn start_tag(&mut self, qname: &str) -> Option<Tag<'a>> {
        let (after_name, close) = self.tag_named(qname, false)?;
        let start = self.pos;
        self.pos = close + 1;
        Some(Tag {
            name: &self.src[start + 1..after_name],
            attrs: &self.src[after_name..close],
        })
    }

    /// Moves past the empty-element tag `<qname .../>` if the input goes
    /// on with one (PowerPoint's `<a:rPr lang="en-US" dirty="0"/>`).
    #[inline]
    pub fn eat_empty(&mut self, qname: &str) -> bool {
        match self.tag_named(qname, true) {
            Some((_, close)) => {
                self.pos = close + 1;
                true
            }
            None => false,
        }
    }

    /// When the input goes on with a tag named `qname`, start or empty as
    /// `empty` asks, the position just after its name and that of its `>`.
    #[inline]
    fn tag_named(&self, qname: &str, empty: bool) -> Option<(usize, usize)> {
        let bytes = self.src.as_bytes();
        let start = self.pos;
        let rest = &bytes[start..];
        let after_name = start + 1 + qname.len();
        if rest.first() != Some(&b'<') || !short_scan::starts_with(&rest[1..], qname.as_bytes()) {
            return None;
        }
        let closer = if empty { b'/' } else { b'>' };
        match bytes.get(after_name) {
            Some(&c) if c == closer || is_space(c) => {}
            _ => return None,
        }
        let close = tag_end(bytes, after_name).ok()?;
        ((bytes[close - 1] == b'/') == empty).then_some((after_name, close))
    }

    /// Right after a start tag: when the input goes on with character data
    /// (no markup) and then `</qname>`, returns that data, still escaped,
    /// and moves past the end tag. Saves the caller two tokens for the most
    /// common shape of a text element.
    #[inline]
    pub fn text_before_end(&mut self, qname: &str) -> Option<&'a str> {
        let bytes = self.src.as_bytes();
        let lt = self.pos + short_scan::find1(&bytes[self.pos..], b'<')?;
        let after = end_tag_at(bytes, lt, qname)?;
        let text = &self.src[self.pos..lt];
        self.pos = after;
        Some(text)
    }

    /// Right after the start tag of an element with no text worth reading
    /// (run or paragraph properties), moves past its end tag `</qname>`.
    /// The skip gives up, and the position stays, at a comment, CDATA
    /// section or instruction (which may hold what looks like the end tag)
    /// and at another start tag of the same name (nested, or the next one
    /// of an element left open: searching on to the end of the part for
    /// each of those would take time quadratic in the part), and at once
    /// when fruitless skips have searched as many bytes as the part holds
    /// (elements left open under many names). The caller then reads on
    /// token by token.
    pub fn skip_past_end(&mut self, qname: &str) {
        if self.fruitless > self.src.len() {
            return;
        }
        match self.end_past(qname) {
            Ok(after) => self.pos = after,
            Err(searched_to) => self.fruitless += searched_to - self.pos,
        }
    }

    /// The position after the end tag `</qname>` that [`Tokens::skip_past_end`]
    /// moves to, or where its search stopped.
    fn end_past(&self, qname: &str) -> Result<usize, usize> {
        let bytes = self.src.as_bytes();
        let mut i = self.pos;
        while let Some(off) = short_scan::find1(&bytes[i..], b'<') {
            let lt = i + off;
            if let Some(after) = end_tag_at(bytes, lt, qname) {
                return Ok(after);
            }
            let after_name = lt + 1 + qname.len();
            let same_start = short_scan::starts_with(&bytes[lt + 1..], qname.as_bytes())
                && matches!(bytes.get(after_name), Some(&c) if c == b'>' || c == b'/' || is_space(c));
            if same_start || matches!(bytes.get(lt + 1), Some(b'!' | b'?')) {
                return Err(lt);
            }
            i = lt + 1;
        }
        Err(bytes.len())
    }
}

/// When an end tag `</qname>` (space allowed before `>`) starts at `lt`,
/// the position after it.
#[inline]
fn end_tag_at(bytes: &[u8], lt: usize, qname: &str) -> Option<usize> {
    let rest = bytes.get(lt + 2..)?;
    if bytes[lt + 1] != b'/' || !short_scan::starts_with(rest, qname.as_bytes()) {
        return None;
    }
    let after_name = lt + 2 + qname.len();
    match *bytes.get(after_name)? {
        b'>' => Some(after_name + 1),
        c if is_space(c) => {
            // Only white space up to the `>`: `</qname x>` is the end tag
            // of another name for `next_token`.
            let gt = after_name + bytes[after_name..].iter().position(|&b| !is_space(b))?;
            (bytes[gt] == b'>').then_some(gt + 1)
        }
        _ => None,
    }
}

#[inline]
fn find_byte(bytes: &[u8], from: usize, b: u8) -> Result<usize, Malformed> {
    short_scan::find1(bytes.get(from..).ok_or(Malformed)?, b)
        .map(|i| from + i)
        .ok_or(Malformed)
}

#[inline]
fn find_seq(bytes: &[u8], from: usize, seq: &[u8]) -> Result<usize, Malformed> {
    memmem::find(bytes.get(from..).ok_or(Malformed)?, seq)
        .map(|i| from + i)
        .ok_or(Malformed)
}

/// Position of the `>` closing a tag, skipping quoted attribute values
/// (which may contain `>`).
#[inline]
fn tag_end(bytes: &[u8], from: usize) -> Result<usize, Malformed> {
    match short_scan::first_unquoted_gt(bytes, from) {
        Some(end) => Ok(end),
        None => tag_end_quote_by_quote(bytes, from),
    }
}

/// [`tag_end`] one quoted value at a time: for what the one-pass scan
/// leaves (apostrophes, `>` inside a value, the last bytes of the input).
fn tag_end_quote_by_quote(bytes: &[u8], from: usize) -> Result<usize, Malformed> {
    let mut i = from;
    loop {
        let j = i + short_scan::find3(&bytes[i..], b'>', b'"', b'\'').ok_or(Malformed)?;
        if bytes[j] == b'>' {
            return Ok(j);
        }
        i = find_byte(bytes, j + 1, bytes[j])? + 1;
    }
}

/// Byte searches for the short distances of markup (a tag, an attribute
/// value, the text between two tags): 16 bytes per step with SSE2, inlined,
/// without the set-up and dispatch that pay off only on long haystacks.
pub(crate) mod short_scan {
    #[cfg(target_arch = "x86_64")]
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };

    /// First position of any of `a`, `b`, `c`.
    #[inline]
    pub fn find3(hay: &[u8], a: u8, b: u8, c: u8) -> Option<usize> {
        let mut i = 0;
        #[cfg(target_arch = "x86_64")]
        // SAFETY: SSE2 is part of x86_64; every load reads 16 bytes that lie
        // inside `hay` (i + 16 <= len).
        unsafe {
            let (va, vb, vc) = (
                _mm_set1_epi8(a as i8),
                _mm_set1_epi8(b as i8),
                _mm_set1_epi8(c as i8),
            );
            while i + 16 <= hay.len() {
                let v = _mm_loadu_si128(hay.as_ptr().add(i) as *const __m128i);
                let hit = _mm_or_si128(
                    _mm_or_si128(_mm_cmpeq_epi8(v, va), _mm_cmpeq_epi8(v, vb)),
                    _mm_cmpeq_epi8(v, vc),
                );
                let mask = _mm_movemask_epi8(hit);
                if mask != 0 {
                    return Some(i + mask.trailing_zeros() as usize);
                }
                i += 16;
            }
        }
        hay[i..]
            .iter()
            .position(|&x| x == a || x == b || x == c)
            .map(|p| i + p)
    }

    /// Whether `hay` begins with `needle`. A byte loop, inlined: the
    /// names of markup are a few bytes, and a call to `memcmp` for each
    /// tag cost more than the comparing.
    #[inline]
    pub fn starts_with(hay: &[u8], needle: &[u8]) -> bool {
        hay.len() >= needle.len() && needle.iter().zip(hay).all(|(n, h)| n == h)
    }

    /// Whether `a` and `b` are the same bytes, inlined as `starts_with`.
    #[inline]
    pub fn same(a: &[u8], b: &[u8]) -> bool {
        a.len() == b.len() && starts_with(a, b)
    }

    /// Position of the first `>` from `from` when no quote before it is
    /// open: 16 bytes per step, tracking whether a `"` is open by the
    /// parity of their count. `None` (the caller takes the slow way) at
    /// an apostrophe, at a `>` inside a value, and in the last 15 bytes.
    #[inline]
    pub fn first_unquoted_gt(bytes: &[u8], from: usize) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as in `find3`.
        unsafe {
            let (gt, dq, ap) = (
                _mm_set1_epi8(b'>' as i8),
                _mm_set1_epi8(b'"' as i8),
                _mm_set1_epi8(b'\'' as i8),
            );
            let mut open = false;
            let mut i = from;
            while i + 16 <= bytes.len() {
                let v = _mm_loadu_si128(bytes.as_ptr().add(i) as *const __m128i);
                let gts = _mm_movemask_epi8(_mm_cmpeq_epi8(v, gt)) as u32;
                let quotes = _mm_movemask_epi8(_mm_cmpeq_epi8(v, dq)) as u32;
                let aps = _mm_movemask_epi8(_mm_cmpeq_epi8(v, ap)) as u32;
                if gts != 0 {
                    let at = gts.trailing_zeros();
                    let before = (1u32 << at) - 1;
                    if aps & before != 0 {
                        return None;
                    }
                    let open_at = open ^ ((quotes & before).count_ones() & 1 == 1);
                    return (!open_at).then_some(i + at as usize);
                }
                if aps != 0 {
                    return None;
                }
                open ^= quotes.count_ones() & 1 == 1;
                i += 16;
            }
        }
        let _ = (bytes, from);
        None
    }

    /// First position of `a`.
    #[inline]
    pub fn find1(hay: &[u8], a: u8) -> Option<usize> {
        let mut i = 0;
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as in `find3`.
        unsafe {
            let va = _mm_set1_epi8(a as i8);
            while i + 16 <= hay.len() {
                let v = _mm_loadu_si128(hay.as_ptr().add(i) as *const __m128i);
                let mask = _mm_movemask_epi8(_mm_cmpeq_epi8(v, va));
                if mask != 0 {
                    return Some(i + mask.trailing_zeros() as usize);
                }
                i += 16;
            }
        }
        hay[i..].iter().position(|&x| x == a).map(|p| i + p)
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn prefixes_and_equality() {
            assert!(super::starts_with(b"w:rPr>", b"w:rPr"));
            assert!(super::starts_with(b"w:t", b""));
            assert!(!super::starts_with(b"w:r", b"w:rPr"));
            assert!(!super::starts_with(b"w:tab", b"w:tx"));
            assert!(super::same(b"w:r", b"w:r"));
            assert!(!super::same(b"w:rPr", b"w:r"));
            assert!(!super::same(b"a:r", b"w:r"));
        }

        #[test]
        fn finds_at_every_offset_and_length() {
            for len in 0..40 {
                for at in 0..=len {
                    let mut hay = vec![b'x'; len];
                    if at < len {
                        hay[at] = b'"';
                    }
                    let want = (at < len).then_some(at);
                    assert_eq!(super::find3(&hay, b'>', b'"', b'\''), want, "{len} {at}");
                    assert_eq!(super::find1(&hay, b'"'), want, "{len} {at}");
                }
            }
        }
    }
}

/// Position of the `>` closing `<!DOCTYPE ...>` or another declaration,
/// skipping an internal subset in brackets, quoted literals, and the
/// comments and processing instructions of the subset (whose text may
/// hold brackets and quotes).
fn declaration_end(bytes: &[u8], from: usize) -> Result<usize, Malformed> {
    let mut depth = 0u32;
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'[' => depth += 1,
            b']' => depth = depth.saturating_sub(1),
            b'"' | b'\'' => i = find_byte(bytes, i + 1, bytes[i])?,
            b'>' if depth == 0 => return Ok(i),
            b'<' if bytes[i + 1..].starts_with(b"!--") => i = find_seq(bytes, i + 4, b"-->")? + 2,
            b'<' if bytes.get(i + 1) == Some(&b'?') => i = find_seq(bytes, i + 2, b"?>")? + 1,
            _ => {}
        }
        i += 1;
    }
    Err(Malformed)
}

#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod regress_tests;

/// Every token of `src` through `next_token`, for the tests.
#[cfg(test)]
fn all(src: &str) -> Result<Vec<Token<'_>>, Malformed> {
    let mut t = Tokens::new(src);
    let mut out = Vec::new();
    while let Some(tok) = t.next_token()? {
        out.push(tok);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pass_tag_end_agrees_with_quote_by_quote() {
        let tags = [
            r#"c r="A1" t="s">"#,
            r#"c r="A1">"#,
            r#"c>"#,
            r#"a href="x>y" b="2">"#,
            r#"a b='x>y' c="3">"#,
            r#"a b="it's">"#,
            r#"w:t xml:space="preserve">"#,
            r#"x a="1" b="2" c="3" d="4" e="5" f="6" g="7" h="8">"#,
            r#"x long="0123456789abcdef>0123456789" z="1">"#,
        ];
        for tag in tags {
            for pad in 0..20 {
                let src = format!("{}{tag}{}", " ".repeat(pad), "text<b>".repeat(5));
                let bytes = src.as_bytes();
                let want = tag_end_quote_by_quote(bytes, pad);
                assert_eq!(tag_end(bytes, pad), want, "{tag} at {pad}");
                if let Some(fast) = short_scan::first_unquoted_gt(bytes, pad) {
                    assert_eq!(Ok(fast), want, "{tag} at {pad}");
                }
            }
        }
    }

    fn tag<'a>(name: &'a str, attrs: &'a str) -> Tag<'a> {
        Tag { name, attrs }
    }

    #[test]
    fn tokens_of_a_small_document() {
        let src = "\u{FEFF}<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"]>\">]>\
                   <w:p a='1>2'><!-- <w:t>no</w:t> --><w:t>A &amp; B</w:t><w:br/>\
                   <![CDATA[<raw>]]></w:p >tail";
        assert_eq!(
            all(src).unwrap(),
            vec![
                Token::Start(tag("w:p", " a='1>2'")),
                Token::Start(tag("w:t", "")),
                Token::Text("A &amp; B"),
                Token::End("w:t"),
                Token::Empty(tag("w:br", "")),
                Token::CData("<raw>"),
                Token::End("w:p"),
                Token::Text("tail"),
            ]
        );
    }

    #[test]
    fn attributes_by_local_name() {
        let src = "<sheet name=\"Q&amp;A\" sheetId = '2'\n r:id=\"rId3\" id=\"x\"/>";
        let Some(Token::Empty(t)) = Tokens::new(src).next_token().unwrap() else {
            panic!("expected an empty tag");
        };
        assert_eq!(t.local(), "sheet");
        assert_eq!(t.attr("name").as_deref(), Some("Q&A"));
        assert_eq!(t.attr_raw("sheetId"), Some("2"));
        assert_eq!(t.attr_prefixed("id").as_deref(), Some("rId3"));
        assert_eq!(t.attr_raw("id"), Some("rId3"));
        assert_eq!(t.attr_raw("missing"), None);
    }

    #[test]
    fn broken_attributes_end_the_list() {
        let src = "<a b=\"1\" c d=\"2\">";
        let Some(Token::Start(t)) = Tokens::new(src).next_token().unwrap() else {
            panic!("expected a start tag");
        };
        assert_eq!(t.attr_raw("b"), Some("1"));
        assert_eq!(t.attr_raw("d"), None);
    }

    #[test]
    fn cut_off_markup_is_malformed() {
        for src in [
            "<a>text<b",
            "<a b=\"x>",
            "<a><!-- open",
            "<a><![CDATA[ open",
            "<a></a",
            "<?pi",
            "<!DOCTYPE [",
        ] {
            assert_eq!(all(src), Err(Malformed), "{src:?}");
        }
    }

    #[test]
    fn shortcuts_take_text_and_skip_properties() {
        let src = "<w:r><w:rPr><w:rPrChange><w:rPr><w:b/></w:rPr></w:rPrChange></w:rPr >\
                   <w:t>A &amp; B</w:t ><v>1</v><t>x<b/></t>";
        let mut t = Tokens::new(src);
        t.next_token().unwrap(); // <w:r>
        t.next_token().unwrap(); // <w:rPr>
        t.skip_past_end("w:rPr");
        // The nested w:rPr stops the skip: the outer one is read token by
        // token, the inner one skipped.
        assert_eq!(
            t.next_token().unwrap(),
            Some(Token::Start(tag("w:rPrChange", "")))
        );
        assert_eq!(
            t.next_token().unwrap(),
            Some(Token::Start(tag("w:rPr", "")))
        );
        t.skip_past_end("w:rPr");
        assert_eq!(t.next_token().unwrap(), Some(Token::End("w:rPrChange")));
        assert_eq!(t.next_token().unwrap(), Some(Token::End("w:rPr")));
        assert!(!t.eat("<w:p>"));
        assert!(!t.eat_start("w:tx"));
        assert!(t.eat_start("w:t"));
        assert_eq!(t.text_before_end("w:t"), Some("A &amp; B"));
        assert!(t.eat("<v>"));
        assert_eq!(t.text_before_end("v"), Some("1"));
        assert!(t.eat("<t>"));
        // Markup before the end tag: no shortcut, and nothing consumed.
        assert_eq!(t.text_before_end("t"), None);
        assert_eq!(t.next_token().unwrap(), Some(Token::Text("x")));
        // Start tags by name: not a longer name, not an empty element.
        let mut t = Tokens::new("<col a='1'/><c r=\"B2\"/><c r=\"A1\" t=\"s\"><v>");
        assert_eq!(t.start_tag("c"), None);
        t.next_token().unwrap();
        assert_eq!(t.start_tag("c"), None);
        t.next_token().unwrap();
        let c = t.start_tag("c").expect("a start tag");
        assert_eq!((c.name, c.attr_raw("t")), ("c", Some("s")));
        assert!(t.eat("<v>"));
        // No end tag at all: the skip leaves the position alone.
        let mut t = Tokens::new("<a:pPr><a:tab/>");
        t.next_token().unwrap();
        t.skip_past_end("a:pPr");
        assert_eq!(
            t.next_token().unwrap(),
            Some(Token::Empty(tag("a:tab", "")))
        );
    }

    #[test]
    fn multibyte_text_is_sliced_whole() {
        assert_eq!(
            all("<t>Grüße – 東京</t>").unwrap()[1],
            Token::Text("Grüße – 東京")
        );
    }
}
