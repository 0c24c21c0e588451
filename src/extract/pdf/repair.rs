//! Objects with a broken dictionary, read again the way pdftotext reads
//! them. lopdf drops an object it cannot parse whole (a key without a
//! value, a stray `]`, a stream dictionary closed by one `>` or not at
//! all), and a page or content stream it dropped gave a silent empty page.
//! Here an entry that is not a name where a key belongs is skipped, a
//! dictionary ends at `>>`, at `stream` or at `endobj`, and a stream's
//! data runs to its `/Length` when `endstream` follows there, else to the
//! next `endstream`.

use lopdf::xref::XrefEntry;
use lopdf::{Dictionary, Document, Object, ObjectId, Stream, StringFormat};

use super::lexer::Lexer;
use crate::model::budget::Budget;

/// Most objects read again per file: a file whose every object is broken
/// is not worth more.
const MAX_REPAIRS: usize = 4096;
/// Deepest nesting of arrays and dictionaries read.
const MAX_DEPTH: usize = 32;
/// Most elements of one array or dictionary kept.
const MAX_ELEMENTS: usize = 1 << 16;

/// Reads again the objects the cross-reference table places in the file
/// that lopdf could not parse; returns how many were recovered. Stream data
/// copied in all stays below the file's size, and the file's time limit
/// stops the work.
pub fn reread_dropped_objects(doc: &mut Document, bytes: &[u8], budget: &Budget) -> usize {
    let dropped: Vec<(ObjectId, usize)> = doc
        .reference_table
        .entries
        .iter()
        .filter_map(|(&id, entry)| match *entry {
            XrefEntry::Normal { offset, generation } if id > 0 => {
                Some(((id, generation), offset as usize))
            }
            _ => None,
        })
        .filter(|(id, _)| !doc.objects.contains_key(id))
        .take(MAX_REPAIRS)
        .collect();
    let mut copied = 0usize;
    // Every byte looked at counts: a crafted table could point thousands
    // of entries at one unclosed string that runs to the end of the file.
    let mut scan_left = bytes.len().saturating_mul(4).saturating_add(1 << 20);
    let mut recovered = 0;
    for (id, offset) in dropped {
        if budget.check_time().is_err() || scan_left == 0 || offset >= bytes.len() {
            if scan_left == 0 {
                break;
            }
            continue;
        }
        let window = &bytes[..bytes.len().min(offset.saturating_add(scan_left))];
        let (object, scanned) = object_at(window, offset, id, bytes.len().saturating_sub(copied));
        scan_left = scan_left.saturating_sub(scanned.max(1));
        let Some(object) = object else {
            continue;
        };
        if let Object::Stream(s) = &object {
            copied += s.content.len();
        }
        doc.objects.insert(id, object);
        recovered += 1;
    }
    recovered
}

/// The object `id` written at `offset` (`N G obj` ... ), if its header is
/// there, and how many bytes were looked at; a stream's data is kept only
/// when at most `room` bytes.
fn object_at(bytes: &[u8], offset: usize, id: ObjectId, room: usize) -> (Option<Object>, usize) {
    let mut p = Parser {
        data: bytes,
        pos: offset,
    };
    let object = p.object(id, room);
    let scanned = if object.is_some() {
        p.pos.min(bytes.len()) - offset.min(bytes.len())
    } else {
        // A failed search for `endstream` looked at the rest.
        bytes.len().saturating_sub(offset)
    };
    (object, scanned)
}

struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn object(&mut self, id: ObjectId, room: usize) -> Option<Object> {
        if self.integer()? != i64::from(id.0)
            || self.integer()? != i64::from(id.1)
            || !self.keyword(b"obj")
        {
            return None;
        }
        let value = self.value(0)?;
        let Object::Dictionary(dict) = value else {
            return Some(value);
        };
        if !self.keyword(b"stream") {
            return Some(Object::Dictionary(dict));
        }
        let data = self.stream_data(&dict)?;
        (data.len() <= room).then(|| Object::Stream(Stream::new(dict, data.to_vec())))
    }

    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    fn skip_white(&mut self) {
        while let Some(b) = self.peek() {
            if super::lexer::is_white(b) {
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

    fn rest(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or_default()
    }

    /// Whether the next token is the bare word `word` (consumed if so).
    fn keyword(&mut self, word: &[u8]) -> bool {
        self.skip_white();
        let rest = self.rest();
        let ends = rest
            .get(word.len())
            .is_none_or(|&b| super::lexer::is_white(b) || super::lexer::is_delim(b));
        if rest.starts_with(word) && ends {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    fn at_object_end(&mut self) -> bool {
        self.skip_white();
        let rest = self.rest();
        rest.is_empty() || rest.starts_with(b"endobj") || rest.starts_with(b"stream")
    }

    fn integer(&mut self) -> Option<i64> {
        self.skip_white();
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        std::str::from_utf8(&self.data[start..self.pos])
            .ok()?
            .parse()
            .ok()
    }

    /// One value; `None` at the end of the object or of the data.
    fn value(&mut self, depth: usize) -> Option<Object> {
        if depth > MAX_DEPTH || self.at_object_end() {
            return None;
        }
        let b = self.peek()?;
        let rest = self.rest();
        if rest.starts_with(b"<<") {
            self.pos += 2;
            return Some(Object::Dictionary(self.dictionary(depth)));
        }
        match b {
            b'[' => {
                self.pos += 1;
                Some(Object::Array(self.array(depth)))
            }
            b'(' => Some(Object::String(
                self.lexed(Lexer::literal_string),
                StringFormat::Literal,
            )),
            b'<' => Some(Object::String(
                self.lexed(Lexer::hex_string),
                StringFormat::Hexadecimal,
            )),
            b'/' => Some(Object::Name(self.lexed(Lexer::name))),
            b'0'..=b'9' | b'+' | b'-' | b'.' => Some(self.number_or_reference()),
            _ => {
                let word = self.bare_word();
                Some(match word {
                    b"true" => Object::Boolean(true),
                    b"false" => Object::Boolean(false),
                    _ => Object::Null,
                })
            }
        }
    }

    /// A dictionary's entries after `<<`: a key that is not a name is
    /// skipped with its token, a key at the end has no value.
    fn dictionary(&mut self, depth: usize) -> Dictionary {
        let mut dict = Dictionary::new();
        let mut elements = 0;
        loop {
            if self.at_object_end() {
                break;
            }
            let rest = self.rest();
            if rest.starts_with(b">>") {
                self.pos += 2;
                break;
            }
            elements += 1;
            if elements > MAX_ELEMENTS {
                break;
            }
            if self.peek() != Some(b'/') {
                // Not a key: a stray `]`, `>` or `)` is one byte; anything
                // else is read as a value and dropped.
                match self.peek() {
                    Some(b']' | b'>' | b')' | b'}' | b'{') => self.pos += 1,
                    _ => {
                        if self.value(depth + 1).is_none() {
                            break;
                        }
                    }
                }
                continue;
            }
            let key = self.lexed(Lexer::name);
            self.skip_white();
            if self.rest().starts_with(b">>") || self.at_object_end() {
                continue;
            }
            match self.value(depth + 1) {
                Some(value) => dict.set(key, value),
                None => break,
            }
        }
        dict
    }

    fn array(&mut self, depth: usize) -> Vec<Object> {
        let mut items = Vec::new();
        loop {
            if self.at_object_end() {
                break;
            }
            match self.peek() {
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                Some(b'>' | b')' | b'}' | b'{') if !self.rest().starts_with(b"<<") => {
                    self.pos += 1;
                    continue;
                }
                _ => {}
            }
            match self.value(depth + 1) {
                Some(v) if items.len() < MAX_ELEMENTS => items.push(v),
                Some(_) => {}
                None => break,
            }
        }
        items
    }

    /// What `read` lexes after the delimiter at the current position
    /// (`(`, `<`, `/`): strings and names are read as content streams'.
    fn lexed(&mut self, read: impl FnOnce(&mut Lexer<'a>) -> Vec<u8>) -> Vec<u8> {
        let mut lexer = Lexer::at(self.data, self.pos + 1);
        let value = read(&mut lexer);
        self.pos = lexer.position();
        value
    }

    fn bare_word(&mut self) -> &'a [u8] {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if super::lexer::is_white(b) || super::lexer::is_delim(b) {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            self.pos += 1;
        }
        &self.data[start..self.pos.min(self.data.len())]
    }

    /// `N`, `N.M` or `N G R`.
    fn number_or_reference(&mut self) -> Object {
        let word = self.bare_word();
        let text = std::str::from_utf8(word).unwrap_or("");
        let Ok(n) = text.parse::<i64>() else {
            return text.parse::<f32>().map_or(Object::Null, Object::Real);
        };
        let after_number = self.pos;
        if let (Ok(id), Some(generation)) = (u32::try_from(n), self.integer()) {
            if self.keyword(b"R") {
                if let Ok(generation) = u16::try_from(generation) {
                    return Object::Reference((id, generation));
                }
            }
        }
        self.pos = after_number;
        Object::Integer(n)
    }

    /// A stream's data after `stream`: `/Length` bytes when `endstream`
    /// follows them, else up to the next `endstream`.
    fn stream_data(&mut self, dict: &Dictionary) -> Option<&'a [u8]> {
        match self.peek() {
            Some(b'\r') => {
                self.pos += 1;
                if self.peek() == Some(b'\n') {
                    self.pos += 1;
                }
            }
            Some(b'\n') => self.pos += 1,
            _ => {}
        }
        let rest = self.rest();
        if let Ok(len) = dict.get(b"Length").and_then(Object::as_i64) {
            if let Some(data) = usize::try_from(len).ok().and_then(|l| rest.get(..l)) {
                let after = &rest[data.len()..];
                let at = after
                    .iter()
                    .position(|&b| !super::lexer::is_white(b))
                    .unwrap_or(after.len());
                if after[at..].starts_with(b"endstream") {
                    self.pos += data.len();
                    return Some(data);
                }
            }
        }
        let end = memchr::memmem::find(rest, b"endstream")?;
        self.pos += end;
        let mut data = &rest[..end];
        if let Some(d) = data.strip_suffix(b"\n") {
            data = d.strip_suffix(b"\r").unwrap_or(d);
        } else if let Some(d) = data.strip_suffix(b"\r") {
            data = d;
        }
        Some(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &[u8]) -> Option<Object> {
        let mut data = b"7 0 obj\n".to_vec();
        data.extend_from_slice(text);
        data.extend_from_slice(b"\nendobj\n");
        object_at(&data, 0, (7, 0), usize::MAX).0
    }

    #[test]
    fn keys_that_are_no_names_are_skipped() {
        let Some(Object::Dictionary(d)) =
            parse(b"<< /Type /Page /Rotate /MediaBox [0 0 612 792] ] /Contents 4 0 R /N (a\\)b) /H <4142> /F 1.5 >>")
        else {
            panic!("a dictionary");
        };
        assert_eq!(d.get(b"Type").unwrap(), &Object::Name(b"Page".to_vec()));
        // `/Rotate` took `/MediaBox` as its value; the array was no key.
        assert_eq!(
            d.get(b"Rotate").unwrap(),
            &Object::Name(b"MediaBox".to_vec())
        );
        assert!(!d.has(b"MediaBox"));
        assert_eq!(d.get(b"Contents").unwrap(), &Object::Reference((4, 0)));
        assert_eq!(d.get(b"N").unwrap().as_str().unwrap(), b"a)b");
        assert_eq!(d.get(b"H").unwrap().as_str().unwrap(), b"AB");
        assert_eq!(d.get(b"F").unwrap(), &Object::Real(1.5));
    }

    #[test]
    fn stream_dictionaries_closed_badly_keep_their_data() {
        for dict in [
            &b"<< /Length 5 >"[..],
            b"<< /Length 5",
            b"<< /Length 99 >>",
            b"<< >>",
        ] {
            let mut text = dict.to_vec();
            text.extend_from_slice(b"\nstream\nhello\nendstream");
            let Some(Object::Stream(s)) = parse(&text) else {
                panic!("{} is a stream", String::from_utf8_lossy(dict));
            };
            assert_eq!(s.content, b"hello", "{}", String::from_utf8_lossy(dict));
        }
    }

    #[test]
    fn another_objects_header_or_garbage_is_no_object() {
        let data = b"8 0 obj\n<< /A 1 >>\nendobj\n";
        assert_eq!(object_at(data, 0, (7, 0), usize::MAX).0, None);
        assert_eq!(object_at(data, 3, (8, 0), usize::MAX).0, None);
        assert_eq!(object_at(b"7 0 obj", 0, (7, 0), usize::MAX).0, None);
        assert_eq!(
            object_at(
                b"7 0 obj\n<< /Length 3 >> stream\nabc",
                0,
                (7, 0),
                usize::MAX
            ),
            (None, 34)
        );
    }

    #[test]
    fn looking_again_stops_after_a_few_times_the_files_size() {
        // 2,000 objects each opening a string that runs to the end of 4 MiB:
        // read again whole, each would cost the rest of the file.
        let mut bytes = Vec::new();
        let mut doc = Document::new();
        for id in 1..=2000u32 {
            let offset = bytes.len() as u32;
            doc.reference_table.entries.insert(
                id,
                XrefEntry::Normal {
                    offset,
                    generation: 0,
                },
            );
            bytes.extend_from_slice(format!("{id} 0 obj << /A (").as_bytes());
        }
        bytes.resize(bytes.len() + (4 << 20), b'x');
        let budget = Budget::new(crate::model::budget::Limits::default());
        let recovered = reread_dropped_objects(&mut doc, &bytes, &budget);
        assert!(
            (1..=6).contains(&recovered),
            "{recovered} objects read again"
        );
    }
}
