//! A tolerant tokenizer for PDF content streams and CMaps. It never fails:
//! garbage bytes become unknown operators that the caller ignores.

/// One operand on the content-stream operand stack.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Num(f32),
    Str(Vec<u8>),
    Name(Vec<u8>),
    Array(Vec<Operand>),
    Bool(bool),
    /// A dictionary (marked-content properties): its raw bytes, at most
    /// `MAX_DICT_RAW` of them (empty inside arrays).
    Dict(Vec<u8>),
    Other,
}

impl Operand {
    pub fn num(&self) -> Option<f32> {
        match self {
            Operand::Num(n) => Some(*n),
            _ => None,
        }
    }
}

/// A lexical token.
#[derive(Debug, PartialEq)]
pub enum Token<'a> {
    Operand(Operand),
    Operator(&'a [u8]),
}

/// Deepest nesting of arrays/dictionaries kept in one operand.
const MAX_NESTING: usize = 32;
/// Most raw bytes kept of a dictionary operand.
const MAX_DICT_RAW: usize = 1024;
/// Longest array kept as an operand; longer ones are truncated.
const MAX_ARRAY: usize = 1 << 16;

pub struct Lexer<'a> {
    data: &'a [u8],
    pos: usize,
}

pub fn is_white(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' | b'\0')
}

pub fn is_delim(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

impl<'a> Lexer<'a> {
    /// A lexer reading `data` from `pos` (for the object parser of
    /// `repair.rs`, which shares its strings and names).
    pub(super) fn at(data: &'a [u8], pos: usize) -> Self {
        Lexer { data, pos }
    }

    pub(super) fn position(&self) -> usize {
        self.pos
    }

    pub fn new(data: &'a [u8]) -> Self {
        Lexer { data, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    fn skip_white(&mut self) {
        while let Some(b) = self.peek() {
            if is_white(b) {
                self.pos += 1;
            } else if b == b'%' {
                while let Some(c) = self.peek() {
                    if c == b'\r' || c == b'\n' {
                        break;
                    }
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    /// Skips inline image data after an `ID` operator, up to and including `EI`.
    /// Skips inline image data; `size`, when the image is unfiltered and its
    /// dimensions are known, is the data length, so that `EI` inside the
    /// binary data is not taken for the end.
    pub fn skip_inline_image_sized(&mut self, size: Option<usize>) {
        // One white-space byte follows ID.
        self.pos = (self.pos + 1).min(self.data.len());
        if let Some(size) = size {
            let end = self.pos.saturating_add(size);
            if end <= self.data.len() {
                let mut probe = Lexer::new(&self.data[end..]);
                if matches!(probe.next_token(), Some(Token::Operator(b"EI"))) {
                    self.pos = end + probe.pos;
                    return;
                }
            }
        }
        let rest = &self.data[self.pos..];
        let mut i = 0;
        while let Some(off) = memchr::memmem::find(&rest[i..], b"EI") {
            let at = i + off;
            let before_ok = at == 0 || is_white(rest[at - 1]);
            let after_ok = rest.get(at + 2).is_none_or(|&b| is_white(b) || is_delim(b));
            if before_ok && after_ok {
                self.pos += at + 2;
                return;
            }
            i = at + 2;
        }
        self.pos = self.data.len();
    }

    /// The next token, or `None` at the end of the data.
    pub fn next_token(&mut self) -> Option<Token<'a>> {
        self.skip_white();
        let b = self.peek()?;
        match b {
            b'[' => {
                self.pos += 1;
                Some(Token::Operand(self.array(0)))
            }
            b'<' if self.data.get(self.pos + 1) == Some(&b'<') => {
                let start = self.pos;
                self.pos += 2;
                self.skip_dict();
                let end = self.pos.min(start + MAX_DICT_RAW);
                Some(Token::Operand(Operand::Dict(
                    self.data[start..end].to_vec(),
                )))
            }
            b']' | b'>' | b')' | b'{' | b'}' => {
                self.pos += 1;
                Some(Token::Operand(Operand::Other))
            }
            _ => match self.simple() {
                Some(op) => Some(Token::Operand(op)),
                None => {
                    let (start, end) = self.bare_word();
                    Some(match &self.data[start..end] {
                        b"true" => Token::Operand(Operand::Bool(true)),
                        b"false" => Token::Operand(Operand::Bool(false)),
                        b"null" => Token::Operand(Operand::Other),
                        op => Token::Operator(op),
                    })
                }
            },
        }
    }

    /// Consumes a bare word (an operator or keyword) up to white space or a
    /// delimiter, at least one byte so that the lexer always advances.
    fn bare_word(&mut self) -> (usize, usize) {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if is_white(c) || is_delim(c) {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            self.pos += 1;
        }
        (start, self.pos.min(self.data.len()))
    }

    /// A number, string or name at the current position; `None` (position
    /// unchanged) if the next token is an operator.
    fn simple(&mut self) -> Option<Operand> {
        let b = self.peek()?;
        match b {
            b'(' => {
                self.pos += 1;
                Some(Operand::Str(self.literal_string()))
            }
            b'<' => {
                self.pos += 1;
                Some(Operand::Str(self.hex_string()))
            }
            b'/' => {
                self.pos += 1;
                Some(Operand::Name(self.name()))
            }
            b'0'..=b'9' | b'+' | b'-' | b'.' => self.number(),
            _ => None,
        }
    }

    fn number(&mut self) -> Option<Operand> {
        let start = self.pos;
        let mut end = start;
        while let Some(&c) = self.data.get(end) {
            if c.is_ascii_digit() || c == b'.' || c == b'-' || c == b'+' {
                end += 1;
            } else {
                break;
            }
        }
        let text = &self.data[start..end];
        // "--5" or "5-3" style garbage: keep the leading sign and digits.
        let mut value = 0f64;
        let mut neg = false;
        let mut frac = 0f64;
        let mut seen_dot = false;
        let mut any = false;
        for (i, &c) in text.iter().enumerate() {
            match c {
                b'-' if i == 0 || !any && !seen_dot => neg = !neg,
                b'+' => {}
                b'.' if !seen_dot => {
                    seen_dot = true;
                    frac = 0.1;
                }
                b'0'..=b'9' => {
                    any = true;
                    let d = f64::from(c - b'0');
                    if seen_dot {
                        value += d * frac;
                        frac /= 10.0;
                    } else {
                        value = value * 10.0 + d;
                    }
                }
                _ => break,
            }
        }
        if !any && !seen_dot {
            return None;
        }
        self.pos = end;
        let v = if neg { -value } else { value };
        Some(Operand::Num(v.clamp(-1e30, 1e30) as f32))
    }

    /// A name's bytes after its `/`, `#xx` escapes decoded.
    pub(super) fn name(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            if is_white(c) || is_delim(c) {
                break;
            }
            self.pos += 1;
            if c == b'#' {
                let h = self.data.get(self.pos).copied().and_then(hex_val);
                let l = self.data.get(self.pos + 1).copied().and_then(hex_val);
                if let (Some(h), Some(l)) = (h, l) {
                    out.push(h << 4 | l);
                    self.pos += 2;
                    continue;
                }
            }
            out.push(c);
        }
        out
    }

    /// A hex string's bytes after its `<`.
    pub(super) fn hex_string(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut hi: Option<u8> = None;
        while let Some(c) = self.peek() {
            self.pos += 1;
            if c == b'>' {
                break;
            }
            if let Some(v) = hex_val(c) {
                match hi.take() {
                    Some(h) => out.push(h << 4 | v),
                    None => hi = Some(v),
                }
            }
        }
        if let Some(h) = hi {
            out.push(h << 4);
        }
        out
    }

    /// A literal string's bytes after its `(`, escapes decoded.
    pub(super) fn literal_string(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut depth = 1usize;
        loop {
            // Plain runs are copied whole; only parentheses and escapes need
            // a look.
            let rest = self.data.get(self.pos..).unwrap_or_default();
            let run = memchr::memchr3(b'(', b')', b'\\', rest).unwrap_or(rest.len());
            out.extend_from_slice(&rest[..run]);
            self.pos += run;
            let Some(c) = self.peek() else { break };
            self.pos += 1;
            match c {
                b'(' => {
                    depth += 1;
                    out.push(c);
                }
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                    out.push(c);
                }
                // The run stopped at a backslash: an escape.
                _ => {
                    let Some(e) = self.peek() else { break };
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'\r' => {
                            if self.peek() == Some(b'\n') {
                                self.pos += 1;
                            }
                        }
                        b'\n' => {}
                        b'0'..=b'7' => {
                            let mut v = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push((v & 0xff) as u8);
                        }
                        other => out.push(other),
                    }
                }
            }
        }
        out
    }

    fn array(&mut self, depth: usize) -> Operand {
        let mut items = Vec::new();
        loop {
            self.skip_white();
            let Some(b) = self.peek() else { break };
            match b {
                b']' => {
                    self.pos += 1;
                    break;
                }
                b'[' => {
                    self.pos += 1;
                    if depth >= MAX_NESTING {
                        self.skip_nested(b'[', b']');
                        continue;
                    }
                    let inner = self.array(depth + 1);
                    if items.len() < MAX_ARRAY {
                        items.push(inner);
                    }
                }
                b'<' if self.data.get(self.pos + 1) == Some(&b'<') => {
                    self.pos += 2;
                    self.skip_dict();
                    items.push(Operand::Dict(Vec::new()));
                }
                _ => match self.simple() {
                    Some(op) => {
                        if items.len() < MAX_ARRAY {
                            items.push(op);
                        }
                    }
                    None => {
                        let (start, end) = self.bare_word();
                        // Keywords like `true`, `null` are legitimate values.
                        let word = &self.data[start..end];
                        match word {
                            b"true" => items.push(Operand::Bool(true)),
                            b"false" => items.push(Operand::Bool(false)),
                            b"null" => items.push(Operand::Other),
                            // A text object's end cannot be inside an array:
                            // its `]` is missing, the array ends here.
                            b"BT" | b"ET" => {
                                self.pos = start;
                                break;
                            }
                            // Any other operator inside an array is malformed
                            // and skipped, as pdftotext and pdf.js do, so that
                            // the strings after it are still shown.
                            _ => {}
                        }
                    }
                },
            }
        }
        Operand::Array(items)
    }

    fn skip_nested(&mut self, open: u8, close: u8) {
        let mut depth = 1usize;
        while let Some(c) = self.peek() {
            match c {
                b'(' => {
                    self.pos += 1;
                    self.literal_string();
                    continue;
                }
                _ if c == open => depth += 1,
                _ if c == close => {
                    depth -= 1;
                    if depth == 0 {
                        self.pos += 1;
                        return;
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
    }

    fn skip_dict(&mut self) {
        let mut depth = 1usize;
        while let Some(c) = self.peek() {
            match c {
                b'(' => {
                    self.pos += 1;
                    self.literal_string();
                    continue;
                }
                b'<' if self.data.get(self.pos + 1) == Some(&b'<') => {
                    depth += 1;
                    self.pos += 2;
                    continue;
                }
                b'>' if self.data.get(self.pos + 1) == Some(&b'>') => {
                    depth -= 1;
                    self.pos += 2;
                    if depth == 0 {
                        return;
                    }
                    continue;
                }
                b'<' => {
                    self.pos += 1;
                    self.hex_string();
                    continue;
                }
                _ => {}
            }
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(data: &[u8]) -> Vec<Token<'_>> {
        let mut lx = Lexer::new(data);
        let mut out = Vec::new();
        while let Some(t) = lx.next_token() {
            out.push(t);
        }
        out
    }

    #[test]
    fn lexes_operands_and_operators() {
        let t = tokens(b"/F1 12 Tf (a\\(b\\)\\101) Tj [<0041> -250 (x)] TJ -.5 Td");
        assert_eq!(t[0], Token::Operand(Operand::Name(b"F1".to_vec())));
        assert_eq!(t[1], Token::Operand(Operand::Num(12.0)));
        assert_eq!(t[2], Token::Operator(b"Tf"));
        assert_eq!(t[3], Token::Operand(Operand::Str(b"a(b)A".to_vec())));
        assert_eq!(
            t[5],
            Token::Operand(Operand::Array(vec![
                Operand::Str(vec![0, 0x41]),
                Operand::Num(-250.0),
                Operand::Str(b"x".to_vec())
            ]))
        );
        assert_eq!(t[7], Token::Operand(Operand::Num(-0.5)));
    }

    /// Issue 17 defect 10 (pdf.js `operator-in-TJ-array.pdf`): an operator
    /// inside a TJ array ended the array and the page lost its text.
    #[test]
    fn operators_inside_an_array_are_skipped() {
        let t = tokens(b"[(Hello) -250 (World) 0 Tc (Again)] TJ");
        assert_eq!(
            t[0],
            Token::Operand(Operand::Array(vec![
                Operand::Str(b"Hello".to_vec()),
                Operand::Num(-250.0),
                Operand::Str(b"World".to_vec()),
                Operand::Num(0.0),
                Operand::Str(b"Again".to_vec()),
            ]))
        );
        assert_eq!(t[1], Token::Operator(b"TJ"));
        // An array left open ends at the end of its text object.
        let t = tokens(b"[(Open) ET BT (Next) Tj");
        assert_eq!(
            t[0],
            Token::Operand(Operand::Array(vec![Operand::Str(b"Open".to_vec())]))
        );
        assert_eq!(t[1], Token::Operator(b"ET"));
    }

    #[test]
    fn sized_inline_image_skips_ei_inside_data() {
        let data = b"BI /W 32 /H 1 /IM true ID  EI EI Q";
        let mut lx = Lexer::new(data);
        let mut ops = Vec::new();
        while let Some(t) = lx.next_token() {
            match t {
                Token::Operator(op) => {
                    ops.push(op.to_vec());
                    if op == b"ID" {
                        // 32 one-bit pixels: four bytes of data, " EI ".
                        lx.skip_inline_image_sized(Some(4));
                    }
                }
                Token::Operand(Operand::Bool(b)) => assert!(b),
                _ => {}
            }
        }
        assert_eq!(ops, vec![b"BI".to_vec(), b"ID".to_vec(), b"Q".to_vec()]);
    }

    #[test]
    fn skips_inline_images_and_garbage() {
        let data = b"BI /W 1 /H 1 ID \xff\x00EIx EI Q ((unbalanced";
        let mut lx = Lexer::new(data);
        let mut ops = Vec::new();
        while let Some(t) = lx.next_token() {
            if let Token::Operator(op) = t {
                ops.push(op.to_vec());
                if op == b"ID" {
                    lx.skip_inline_image_sized(None);
                }
            }
        }
        assert_eq!(ops, vec![b"BI".to_vec(), b"ID".to_vec(), b"Q".to_vec()]);
    }
}
