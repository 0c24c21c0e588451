//! Shared helpers for streaming XML text extraction: decoding a part to
//! `&str`, the tokenizer ([`tokens`]), entity and character references,
//! and a line-oriented text buffer.

use super::{ExtractError, ExtractResult};
use crate::model::budget::Budget;

pub mod tokens;
pub(crate) use tokens::short_scan;
pub use tokens::{Tag, Token, Tokens};

/// Check the deadline once per this many XML events.
pub const EVENTS_PER_TIME_CHECK: u32 = 4096;

pub use super::decode::bom_or_utf8 as decode;

/// The error for XML that cannot be parsed (no content in the message).
pub fn malformed(part: &str) -> ExtractError {
    ExtractError::corrupt(format!("malformed XML in {part}"))
}

/// Local part of a qualified name: `w:t` -> `t`.
#[inline]
pub fn local(name: &str) -> &str {
    // Prefixes are short: a forward byte scan beats `rfind` here.
    match name.bytes().position(|b| b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

/// Resolves a named or numeric reference (`amp`, `#x00E4`, `#228`).
/// Unknown named entities yield `None` (they are never expanded).
pub fn resolve_ref(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let num = name.strip_prefix('#')?;
            let (digits, radix) = match num.strip_prefix(['x', 'X']) {
                Some(hex) => (hex, 16),
                None => (num, 10),
            };
            // `from_str_radix` also takes a leading `+`; a reference has
            // digits only.
            if digits.starts_with('+') {
                return None;
            }
            let code = u32::from_str_radix(digits, radix).ok()?;
            match char::from_u32(code) {
                Some('\0') | None => None,
                c => c,
            }
        }
    }
}

/// How far after an `&` the `;` of a reference is looked for: past the
/// longest predefined or character reference, with room for leading
/// zeros. Bounds the work per `&`, so that text with many `&` and no `;`
/// takes linear time.
const MAX_REF: usize = 32;

/// Appends `raw` with entity and character references decoded. An `&`
/// whose `;` does not come within [`MAX_REF`] bytes, before another `&`,
/// a `<` or white space (none of which a reference holds), is kept as
/// text; a reference that does not resolve is dropped.
pub fn unescape_into(raw: &str, out: &mut String) {
    let mut rest = raw;
    while let Some(amp) = short_scan::find1(rest.as_bytes(), b'&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let window = &after.as_bytes()[..after.len().min(MAX_REF)];
        let end = window
            .iter()
            .position(|&b| matches!(b, b';' | b'&' | b'<' | b' ' | b'\t' | b'\r' | b'\n'));
        match end {
            Some(semi) if window[semi] == b';' => {
                if let Some(c) = resolve_ref(&after[..semi]) {
                    out.push(c);
                }
                rest = &after[semi + 1..];
            }
            _ => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
}

/// Unescaped copy of `raw`.
pub fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    unescape_into(raw, &mut out);
    out
}

/// Counts events and checks the deadline every [`EVENTS_PER_TIME_CHECK`].
pub struct Ticker<'b> {
    budget: &'b Budget,
    n: u32,
}

impl<'b> Ticker<'b> {
    pub fn new(budget: &'b Budget) -> Self {
        Ticker { budget, n: 0 }
    }
    #[inline]
    pub fn tick(&mut self) -> ExtractResult<()> {
        self.n += 1;
        if self.n >= EVENTS_PER_TIME_CHECK {
            self.n = 0;
            self.budget.check_time()?;
        }
        Ok(())
    }
}

/// Calls `visit` for every start or empty element whose local name is
/// `local`, in document order. Malformed XML ends the walk quietly: what
/// was read before it counts. Only the deadline is an error.
pub fn each_element<'t>(
    text: &'t str,
    local: &str,
    budget: &Budget,
    mut visit: impl FnMut(&Tag<'t>),
) -> ExtractResult<()> {
    let mut tokens = Tokens::new(text);
    let mut tick = Ticker::new(budget);
    loop {
        tick.tick()?;
        match tokens.next_token() {
            Ok(Some(Token::Start(e) | Token::Empty(e))) if e.local() == local => visit(&e),
            Ok(None) | Err(_) => return Ok(()),
            _ => {}
        }
    }
}

/// Line-oriented text accumulator: lines separated by `\n`, no blank lines,
/// no trailing blanks, capped at a number of bytes.
#[derive(Debug, Default)]
pub struct TextBuf {
    pub text: String,
    cap: usize,
}

impl TextBuf {
    pub fn new(cap: usize) -> Self {
        TextBuf {
            text: String::new(),
            cap,
        }
    }

    /// A buffer for the text of an XML part of `xml_len` bytes, sized for
    /// it up front: text is a fair share of its markup, and growing by
    /// doubling from nothing copied the text of every sheet several times.
    pub fn for_part(cap: usize, xml_len: usize) -> Self {
        TextBuf {
            text: String::with_capacity((xml_len / 4).min(cap).min(1 << 20)),
            cap,
        }
    }

    #[inline]
    fn room(&self) -> bool {
        self.text.len() < self.cap
    }

    #[inline]
    pub fn push_str(&mut self, s: &str) {
        if self.room() {
            self.text.push_str(s);
        }
    }

    #[inline]
    pub fn push(&mut self, c: char) {
        if self.room() {
            self.text.push(c);
        }
    }

    /// Inserts `s` at byte `at` (a character boundary) while the cap
    /// leaves room.
    pub fn insert_str(&mut self, at: usize, s: &str) {
        if self.room() && self.text.is_char_boundary(at) {
            self.text.insert_str(at, s);
        }
    }

    /// Lets `write` append to the text while the cap leaves room.
    #[inline]
    pub fn write_with(&mut self, write: impl FnOnce(&mut String)) {
        if self.room() {
            write(&mut self.text);
        }
    }

    /// Appends XML character data, decoding entity references.
    #[inline]
    pub fn push_escaped(&mut self, raw: &str) {
        if self.room() {
            unescape_into(raw, &mut self.text);
        }
    }

    /// Drops spaces and tabs at the end of the current line.
    pub fn trim_line_end(&mut self) {
        // Bytes: a space or tab is one byte in UTF-8 and never part of
        // another character (a char-set pattern decodes every character).
        let bytes = self.text.as_bytes();
        let keep = bytes.len()
            - bytes
                .iter()
                .rev()
                .take_while(|&&b| b == b' ' || b == b'\t')
                .count();
        self.text.truncate(keep);
    }

    /// Ends the current line (no-op on an empty line).
    pub fn newline(&mut self) {
        self.trim_line_end();
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            self.text.push('\n');
        }
    }

    /// Ends a paragraph inside a table cell: a space, not a new line.
    pub fn soft_break(&mut self) {
        if !self.text.is_empty() && !self.text.ends_with([' ', '\t', '\n']) {
            self.push(' ');
        }
    }

    /// Ends a table cell.
    pub fn cell_end(&mut self) {
        // Bytes, not chars: a space, tab or line break is one byte in
        // UTF-8 and never part of another character.
        let bytes = self.text.as_bytes();
        let keep = bytes.len() - bytes.iter().rev().take_while(|&&b| b == b' ').count();
        self.text.truncate(keep);
        if !matches!(self.text.as_bytes().last(), None | Some(b'\n' | b'\t')) {
            self.push('\t');
        }
    }

    pub fn is_empty(&self) -> bool {
        self.text.trim().is_empty()
    }

    /// The finished text, trailing line breaks removed; leaves the buffer empty.
    pub fn take(&mut self) -> String {
        self.newline();
        while self.text.ends_with('\n') {
            self.text.pop();
        }
        std::mem::take(&mut self.text)
    }
}

#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod regress_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_resolved() {
        assert_eq!(resolve_ref("amp"), Some('&'));
        assert_eq!(resolve_ref("#x00E4"), Some('ä'));
        assert_eq!(resolve_ref("#228"), Some('ä'));
        assert_eq!(resolve_ref("#0"), None);
        assert_eq!(resolve_ref("lol1"), None);
        assert_eq!(unescape("a &amp; b &#x41;&lt;"), "a & b A<");
        assert_eq!(unescape("broken & stuff"), "broken & stuff");
    }

    #[test]
    fn decodes_utf16_and_bom() {
        assert_eq!(decode(b"\xEF\xBB\xBF<a/>"), "<a/>");
        let utf16: Vec<u8> = [0xFF, 0xFE, b'<', 0, b'a', 0, b'/', 0, b'>', 0].to_vec();
        assert_eq!(decode(&utf16), "<a/>");
    }

    #[test]
    fn textbuf_lines() {
        let mut t = TextBuf::new(1000);
        t.push_str("a  ");
        t.newline();
        t.newline();
        t.push_str("b");
        t.cell_end();
        t.push_str("c");
        t.cell_end();
        t.newline();
        assert_eq!(t.take(), "a\nb\tc");
    }
}
