//! Fonts as far as text extraction needs them: how to split a shown string
//! into character codes, the Unicode text of each code, and its advance width.

use std::collections::HashMap;

use lopdf::{Dictionary, Document, Object};

use super::encoding::{glyph_char, glyph_text, BaseEncoding, CodeTable};
use super::lexer::{Lexer, Operand, Token};
use super::StreamReader;

/// Most code -> text entries kept from one CMap (hostile ranges are huge).
const MAX_CMAP_ENTRIES: usize = 200_000;

/// A parsed CMap: code space (code lengths), code -> Unicode, code -> CID.
#[derive(Default, Debug)]
pub struct CMap {
    /// (low, high, byte length) code-space ranges.
    pub codespace: Vec<(u32, u32, u8)>,
    /// (length << 32 | code) -> text.
    pub unicode: HashMap<u64, Box<str>>,
    /// Large bfranges kept unexpanded: (len, lo, hi, first UTF-16 units).
    pub big_ranges: Vec<(u8, u32, u32, Vec<u16>)>,
    /// cidrange/cidchar entries: (len, lo, hi, first CID).
    pub cid_ranges: Vec<(u8, u32, u32, u32)>,
}

fn code_of(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .take(4)
        .fold(0u32, |acc, &b| acc << 8 | u32::from(b))
}

fn utf16_units(bytes: &[u8]) -> Vec<u16> {
    bytes
        .chunks(2)
        .map(|c| {
            if c.len() == 2 {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from(c[0])
            }
        })
        .collect()
}

fn key(len: u8, code: u32) -> u64 {
    u64::from(len) << 32 | u64::from(code)
}

impl CMap {
    pub fn parse(data: &[u8]) -> CMap {
        let mut cmap = CMap::default();
        let mut lexer = Lexer::new(data);
        let mut operands: Vec<Operand> = Vec::new();
        while let Some(tok) = lexer.next_token() {
            match tok {
                Token::Operand(op) => {
                    if operands.len() < 30_000 {
                        operands.push(op);
                    }
                }
                Token::Operator(op) => {
                    match op {
                        b"endcodespacerange" => {
                            for pair in operands.chunks_exact(2) {
                                if let (Operand::Str(lo), Operand::Str(hi)) = (&pair[0], &pair[1]) {
                                    let len = lo.len().clamp(1, 4) as u8;
                                    cmap.codespace.push((code_of(lo), code_of(hi), len));
                                }
                            }
                        }
                        b"endbfchar" => {
                            for pair in operands.chunks_exact(2) {
                                match (&pair[0], &pair[1]) {
                                    (Operand::Str(src), Operand::Str(dst)) => {
                                        cmap.put(src, String::from_utf16_lossy(&utf16_units(dst)));
                                    }
                                    (Operand::Str(src), Operand::Name(name)) => {
                                        let mut s = String::new();
                                        glyph_text(name, &mut s);
                                        cmap.put(src, s);
                                    }
                                    _ => {}
                                }
                            }
                        }
                        b"endbfrange" => {
                            for triple in operands.chunks_exact(3) {
                                cmap.bf_range(&triple[0], &triple[1], &triple[2]);
                            }
                        }
                        b"endcidrange" => {
                            for triple in operands.chunks_exact(3) {
                                if let (Operand::Str(lo), Operand::Str(hi), Operand::Num(cid)) =
                                    (&triple[0], &triple[1], &triple[2])
                                {
                                    let len = lo.len().clamp(1, 4) as u8;
                                    cmap.cid_ranges.push((
                                        len,
                                        code_of(lo),
                                        code_of(hi),
                                        *cid as u32,
                                    ));
                                }
                            }
                        }
                        b"endcidchar" => {
                            for pair in operands.chunks_exact(2) {
                                if let (Operand::Str(c), Operand::Num(cid)) = (&pair[0], &pair[1]) {
                                    let len = c.len().clamp(1, 4) as u8;
                                    let code = code_of(c);
                                    cmap.cid_ranges.push((len, code, code, *cid as u32));
                                }
                            }
                        }
                        _ => {}
                    }
                    operands.clear();
                }
            }
        }
        cmap
    }

    fn put(&mut self, src: &[u8], text: String) {
        if self.unicode.len() < MAX_CMAP_ENTRIES && !src.is_empty() {
            let len = src.len().min(4) as u8;
            self.unicode
                .insert(key(len, code_of(src)), text.into_boxed_str());
        }
    }

    fn bf_range(&mut self, lo: &Operand, hi: &Operand, dst: &Operand) {
        let (Operand::Str(lo), Operand::Str(hi)) = (lo, hi) else {
            return;
        };
        if lo.is_empty() {
            return;
        }
        let len = lo.len().min(4) as u8;
        let (lo_c, hi_c) = (code_of(lo), code_of(hi));
        if hi_c < lo_c {
            return;
        }
        match dst {
            Operand::Str(first) => {
                let units = utf16_units(first);
                if units.is_empty() {
                    return;
                }
                if hi_c - lo_c > 256 || self.unicode.len() >= MAX_CMAP_ENTRIES {
                    if self.big_ranges.len() < 10_000 {
                        self.big_ranges.push((len, lo_c, hi_c, units));
                    }
                    return;
                }
                for (i, code) in (lo_c..=hi_c).enumerate() {
                    let mut u = units.clone();
                    if let Some(last) = u.last_mut() {
                        *last = last.wrapping_add(i as u16);
                    }
                    self.unicode.insert(
                        key(len, code),
                        String::from_utf16_lossy(&u).into_boxed_str(),
                    );
                }
            }
            Operand::Array(items) => {
                for (code, item) in (lo_c..=hi_c).zip(items.iter()) {
                    if let Operand::Str(d) = item {
                        if self.unicode.len() < MAX_CMAP_ENTRIES {
                            self.unicode.insert(
                                key(len, code),
                                String::from_utf16_lossy(&utf16_units(d)).into_boxed_str(),
                            );
                        }
                    }
                }
            }
            _ => {}
        }
    }

    pub fn lookup(&self, len: u8, code: u32, out: &mut String) -> bool {
        if let Some(s) = self.unicode.get(&key(len, code)) {
            out.push_str(s);
            return true;
        }
        for (l, lo, hi, units) in &self.big_ranges {
            if *l == len && (*lo..=*hi).contains(&code) {
                let mut u = units.clone();
                if let Some(last) = u.last_mut() {
                    *last = last.wrapping_add((code - lo) as u16);
                }
                out.push_str(&String::from_utf16_lossy(&u));
                return true;
            }
        }
        false
    }

    /// Byte length of the code starting at `bytes`, from the code-space ranges.
    pub fn code_len(&self, bytes: &[u8]) -> Option<usize> {
        for len in 1..=4u8 {
            if bytes.len() < len as usize {
                break;
            }
            let code = code_of(&bytes[..len as usize]);
            if self
                .codespace
                .iter()
                .any(|&(lo, hi, l)| l == len && lo <= code && code <= hi)
            {
                return Some(len as usize);
            }
        }
        None
    }

    pub fn cid(&self, len: u8, code: u32) -> Option<u32> {
        self.cid_ranges
            .iter()
            .find(|&&(l, lo, hi, _)| l == len && lo <= code && code <= hi)
            .map(|&(_, lo, _, cid)| cid + (code - lo))
    }
}

/// How a composite (Type0) font's codes are split and decoded.
#[derive(Debug)]
enum CodeSplit {
    /// Two-byte codes, CID = code (Identity-H/V).
    Identity,
    /// Two-byte codes that are UCS-2/UTF-16BE (Uni*-UCS2-*, Uni*-UTF16-*).
    Utf16,
    /// A legacy multi-byte charset (Shift-JIS, GBK, Big5, EUC-KR).
    Charset(&'static encoding_rs::Encoding),
    /// An embedded CMap stream.
    Embedded(Box<CMap>),
}

#[derive(Debug)]
enum Kind {
    Simple {
        table: Box<CodeTable>,
        /// Glyph-name text for codes whose names are not single characters.
        names: HashMap<u8, Box<str>>,
        /// Advance width of every code, /MissingWidth where /Widths has none.
        widths: Box<[f32; 256]>,
        /// Printable ASCII codes stand for themselves and no /ToUnicode
        /// remaps them: a string of them is its own text.
        ascii_plain: bool,
    },
    Composite {
        split: CodeSplit,
        default_width: f32,
        widths: HashMap<u32, f32>,
        /// Without /ToUnicode: the characters the embedded TrueType
        /// font's own cmap gives its glyphs.
        glyphs: Option<Box<GlyphChars>>,
    },
}

/// CID -> glyph id -> character, for a composite TrueType font that has
/// no /ToUnicode (pdftotext reads these the same way).
#[derive(Debug)]
struct GlyphChars {
    /// /CIDToGIDMap as a stream: glyph id of each CID; `None` is /Identity.
    cid_to_gid: Option<Vec<u16>>,
    chars: HashMap<u16, char>,
    /// The font program names no glyph (no cmap, no `post` table): the
    /// CIDs are taken as glyph ids of the standard Macintosh order, as far
    /// as its printable ASCII goes. A subsetter that keeps the original
    /// font's glyph ids as CIDs (and maps them to the subset's through
    /// /CIDToGIDMap) leaves nothing else to read them by.
    mac_order: bool,
}

impl GlyphChars {
    fn load(doc: &Document, cid_font: &Dictionary, reader: &StreamReader) -> Option<GlyphChars> {
        if get(doc, cid_font, b"Subtype").and_then(|o| o.as_name().ok()) != Some(b"CIDFontType2") {
            return None;
        }
        let descriptor = match get(doc, cid_font, b"FontDescriptor") {
            Some(Object::Dictionary(d)) => d,
            _ => return None,
        };
        let Some(Object::Stream(file)) = get(doc, descriptor, b"FontFile2") else {
            return None;
        };
        let program = reader.read(file).ok()?;
        let names = super::truetype::glyph_names(&program);
        if names.chars.is_empty() && !names.nameless {
            return None;
        }
        let cid_to_gid = match get(doc, cid_font, b"CIDToGIDMap") {
            Some(Object::Stream(s)) => Some(
                reader
                    .read(s)
                    .ok()?
                    .chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect(),
            ),
            _ => None,
        };
        let mut glyphs = GlyphChars {
            cid_to_gid,
            chars: names.chars,
            mac_order: false,
        };
        if names.nameless {
            // Glyph 3 of the Macintosh order is the space: the order is
            // taken only where CID 3 draws a glyph with no outline, which
            // a font laid out otherwise (a subset in order of first use)
            // seldom has there.
            let space = glyphs.gid_of(3).filter(|&gid| gid != 0)?;
            if super::truetype::glyph_is_blank(&program, space) != Some(true) {
                return None;
            }
            glyphs.mac_order = true;
        }
        Some(glyphs)
    }

    fn gid_of(&self, cid: u32) -> Option<u16> {
        match &self.cid_to_gid {
            None => u16::try_from(cid).ok(),
            Some(map) => map.get(cid as usize).copied(),
        }
    }

    fn char_of(&self, cid: u32) -> Option<char> {
        if self.mac_order {
            return super::truetype::mac_order_ascii(cid);
        }
        self.chars.get(&self.gid_of(cid)?).copied()
    }
}

#[derive(Debug)]
pub struct Font {
    kind: Kind,
    to_unicode: Option<CMap>,
    /// Glyph space to text space (1/1000, or Type3 FontMatrix).
    pub scale: f32,
}

/// What a shown string adds up to, for its advance: the advance is linear
/// in these, so the caller scales them once per string, not once per glyph.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Advance {
    /// Sum of the glyph widths, in glyph space units (thousandths of text
    /// space for most fonts).
    pub width: f32,
    /// Number of codes (character spacing applies to each).
    pub glyphs: u32,
    /// Number of single-byte codes 32 (word spacing applies to each).
    pub spaces: u32,
}

fn num(obj: &Object) -> Option<f32> {
    match obj {
        Object::Integer(i) => Some(*i as f32),
        Object::Real(r) => Some(*r),
        _ => None,
    }
}

use super::{deref, dict_get as get};

/// A guess at an advance width for fonts without /Widths (standard 14).
fn default_width(base_font: &[u8], code: u8) -> f32 {
    if base_font.windows(7).any(|w| w == b"Courier") {
        return 600.0;
    }
    match code {
        b' ' => 250.0,
        b'i' | b'j' | b'l' | b'.' | b',' | b'\'' | b':' | b';' | b'!' | b'|' => 260.0,
        b'f' | b't' | b'r' | b'I' | b'(' | b')' | b'-' => 340.0,
        b'm' | b'w' | b'M' | b'W' => 800.0,
        b'A'..=b'Z' => 680.0,
        _ => 520.0,
    }
}

impl Font {
    /// A font for text shown without a (usable) font: Latin-1-ish codes.
    pub fn fallback() -> Font {
        Font {
            kind: simple(
                Box::new(BaseEncoding::WinAnsi.table()),
                HashMap::new(),
                0,
                &[],
                0.0,
                false,
            ),
            to_unicode: None,
            scale: 0.001,
        }
    }

    pub fn load(doc: &Document, dict: &Dictionary, reader: &StreamReader) -> Font {
        let subtype = get(doc, dict, b"Subtype")
            .and_then(|o| o.as_name().ok())
            .unwrap_or(b"");
        let base_font: Vec<u8> = get(doc, dict, b"BaseFont")
            .and_then(|o| o.as_name().ok())
            .unwrap_or(b"")
            .to_vec();
        let to_unicode = match get(doc, dict, b"ToUnicode") {
            Some(Object::Stream(s)) => reader.read(s).ok().map(|data| CMap::parse(&data)),
            _ => None,
        };
        let to_unicode = to_unicode.filter(|c| !c.unicode.is_empty() || !c.big_ranges.is_empty());

        if subtype == b"Type0" {
            return Self::load_composite(doc, dict, to_unicode, reader);
        }

        let mut scale = 0.001;
        if subtype == b"Type3" {
            if let Some(Object::Array(m)) = get(doc, dict, b"FontMatrix") {
                if let Some(a) = m.first().and_then(num) {
                    if a.is_finite() && a != 0.0 {
                        scale = a.abs();
                    }
                }
            }
        }
        let descriptor = match get(doc, dict, b"FontDescriptor") {
            Some(Object::Dictionary(d)) => Some(d),
            _ => None,
        };
        let flags = descriptor
            .and_then(|d| get(doc, d, b"Flags"))
            .and_then(num)
            .unwrap_or(0.0) as u32;
        let symbolic = flags & 4 != 0 && flags & 32 == 0;
        let missing_width = descriptor
            .and_then(|d| get(doc, d, b"MissingWidth"))
            .and_then(num)
            .unwrap_or(0.0);

        let is_symbol_font = base_font.ends_with(b"Symbol");
        let default_base = if is_symbol_font {
            BaseEncoding::Symbol
        } else if subtype == b"TrueType" || symbolic {
            BaseEncoding::WinAnsi
        } else {
            BaseEncoding::Standard
        };
        let mut base = default_base;
        let mut differences: Option<&Vec<Object>> = None;
        match get(doc, dict, b"Encoding") {
            Some(Object::Name(n)) => {
                if let Some(b) = BaseEncoding::from_name(n) {
                    base = b;
                }
            }
            Some(Object::Dictionary(enc)) => {
                if let Some(b) = get(doc, enc, b"BaseEncoding")
                    .and_then(|o| o.as_name().ok())
                    .and_then(BaseEncoding::from_name)
                {
                    base = b;
                }
                if let Some(Object::Array(d)) = get(doc, enc, b"Differences") {
                    differences = Some(d);
                }
            }
            _ => {}
        }
        let mut table = Box::new(base.table());
        let mut names = HashMap::new();
        if differences.is_none() && subtype == b"Type1" && base == default_base {
            // An embedded Type 1 program may carry its own encoding.
            if let Some(Object::Stream(s)) = descriptor.and_then(|d| get(doc, d, b"FontFile")) {
                if let Ok(data) = reader.read(s) {
                    apply_type1_builtin(&data, &mut table, &mut names);
                }
            }
        }
        if let Some(diffs) = differences {
            let mut code: usize = 0;
            for item in diffs {
                match deref(doc, item) {
                    Object::Integer(i) => code = (*i).clamp(0, 255) as usize,
                    Object::Real(r) => code = (*r as i64).clamp(0, 255) as usize,
                    Object::Name(n) => {
                        if code < 256 {
                            // "g3" is glyph 3, the space, in Microsoft TrueType subsets.
                            let n: &[u8] = if n == b"g3" { b"space" } else { n };
                            if subtype == b"Type3" && glyph_char(n).is_none() {
                                // Type 3 fonts name glyphs as they like.
                                set_numeric_glyph(&mut table, &mut names, code, n);
                            } else {
                                set_glyph(&mut table, &mut names, code, n);
                            }
                        }
                        code += 1;
                    }
                    _ => {}
                }
            }
        }
        let mut first_char = get(doc, dict, b"FirstChar")
            .and_then(num)
            .unwrap_or(0.0)
            .max(0.0) as u32;
        let mut widths: Vec<f32> = match get(doc, dict, b"Widths") {
            Some(Object::Array(w)) => w
                .iter()
                .take(256)
                .map(|o| num(deref(doc, o)).unwrap_or(0.0))
                .collect(),
            _ => Vec::new(),
        };
        if widths.is_empty() && subtype != b"Type3" {
            widths = (0..=255u8).map(|c| default_width(&base_font, c)).collect();
            first_char = 0;
        }
        Font {
            kind: simple(
                table,
                names,
                first_char,
                &widths,
                missing_width,
                to_unicode.is_some(),
            ),
            to_unicode,
            scale,
        }
    }

    fn load_composite(
        doc: &Document,
        dict: &Dictionary,
        to_unicode: Option<CMap>,
        reader: &StreamReader,
    ) -> Font {
        let split = match get(doc, dict, b"Encoding") {
            Some(Object::Name(n)) => predefined_cmap(n),
            Some(Object::Stream(s)) => match reader.read(s) {
                Ok(data) => {
                    let cmap = CMap::parse(&data);
                    if cmap.codespace.is_empty() {
                        CodeSplit::Identity
                    } else {
                        CodeSplit::Embedded(Box::new(cmap))
                    }
                }
                Err(_) => CodeSplit::Identity,
            },
            _ => CodeSplit::Identity,
        };
        let descendant = match get(doc, dict, b"DescendantFonts") {
            Some(Object::Array(a)) => a.first().map(|o| deref(doc, o)),
            _ => None,
        };
        let mut default_width = 1000.0;
        let mut widths = HashMap::new();
        let mut glyphs = None;
        if let Some(Object::Dictionary(d)) = descendant {
            if let Some(dw) = get(doc, d, b"DW").and_then(num) {
                default_width = dw;
            }
            if let Some(Object::Array(w)) = get(doc, d, b"W") {
                parse_cid_widths(doc, w, &mut widths);
            }
            if to_unicode.is_none() && !matches!(split, CodeSplit::Utf16 | CodeSplit::Charset(_)) {
                glyphs = GlyphChars::load(doc, d, reader).map(Box::new);
            }
        }
        Font {
            kind: Kind::Composite {
                split,
                default_width,
                widths,
                glyphs,
            },
            to_unicode,
            scale: 0.001,
        }
    }

    /// Decodes a shown string: appends its text to `out` and returns what
    /// its codes add up to for the advance.
    pub fn decode(&self, bytes: &[u8], out: &mut String) -> Advance {
        match &self.kind {
            Kind::Simple {
                table,
                names,
                widths,
                ascii_plain,
            } => {
                let adv = Advance {
                    width: width_sum(widths, bytes),
                    glyphs: bytes.len() as u32,
                    spaces: count_spaces(bytes),
                };
                // Most shown strings are printable ASCII in a standard
                // encoding: their bytes are their text.
                if *ascii_plain && super::is_printable_ascii(bytes) {
                    // All ASCII, so valid UTF-8.
                    out.push_str(std::str::from_utf8(bytes).unwrap_or_default());
                    return adv;
                }
                out.reserve(bytes.len());
                for &b in bytes {
                    let before = out.len();
                    let mapped = match &self.to_unicode {
                        None => false,
                        Some(cm) => cm.lookup(1, u32::from(b), out),
                    };
                    if !mapped {
                        let c = table[b as usize];
                        if c != '\0' {
                            out.push(c);
                        } else if let Some(s) = names.get(&b) {
                            out.push_str(s);
                        }
                    }
                    // Code 32 advances by the word spacing whatever its
                    // glyph: a space that maps to nothing still parts words.
                    if b == b' ' && out.len() == before {
                        out.push(' ');
                    }
                }
                adv
            }
            Kind::Composite {
                split,
                default_width,
                widths,
                glyphs,
            } => {
                let mut adv = Advance::default();
                if let CodeSplit::Charset(enc) = split {
                    if self.to_unicode.is_none() {
                        let (text, _, _) = enc.decode(bytes);
                        for c in text.chars() {
                            out.push(c);
                            let w = if (c as u32) < 0x2000 {
                                *default_width / 2.0
                            } else {
                                *default_width
                            };
                            adv.add(w, c == ' ');
                        }
                        return adv;
                    }
                }
                let mut i = 0;
                while i < bytes.len() {
                    let rest = &bytes[i..];
                    let len = self.code_len(rest);
                    let code = code_of(&rest[..len]);
                    let len8 = len as u8;
                    let mapped = self
                        .to_unicode
                        .as_ref()
                        .is_some_and(|cm| cm.lookup(len8, code, out));
                    let cid = match split {
                        CodeSplit::Embedded(cm) => cm.cid(len8, code).unwrap_or(code),
                        _ => code,
                    };
                    if !mapped {
                        if let CodeSplit::Utf16 = split {
                            if let Some(c) = char::from_u32(code) {
                                if !c.is_control() {
                                    out.push(c);
                                }
                            }
                        } else if let Some(c) = glyphs.as_ref().and_then(|g| g.char_of(cid)) {
                            out.push(c);
                        }
                    }
                    let w = widths.get(&cid).copied().unwrap_or(*default_width);
                    adv.add(w, len == 1 && code == 32);
                    i += len.max(1);
                }
                adv
            }
        }
    }
}

impl Font {
    /// Length in bytes of the first code of a non-empty shown string: 1 in
    /// a simple font, as the font's CMap (or its /ToUnicode map) splits
    /// codes in a composite one, 2 when neither says. At most `bytes.len()`.
    pub fn code_len(&self, bytes: &[u8]) -> usize {
        let Kind::Composite { split, .. } = &self.kind else {
            return 1.min(bytes.len());
        };
        match split {
            CodeSplit::Embedded(cm) => cm.code_len(bytes),
            CodeSplit::Charset(enc) => charset_code_len(enc, bytes),
            _ => None,
        }
        .or_else(|| self.to_unicode.as_ref().and_then(|cm| cm.code_len(bytes)))
        .unwrap_or(2)
        .min(bytes.len())
    }
}

impl Advance {
    #[inline]
    fn add(&mut self, width: f32, is_space: bool) {
        self.width += width;
        self.glyphs += 1;
        self.spaces += u32::from(is_space);
    }
}

/// The simple-font kind, with its widths laid out by code.
fn simple(
    table: Box<CodeTable>,
    names: HashMap<u8, Box<str>>,
    first_char: u32,
    widths_from_first: &[f32],
    missing_width: f32,
    has_to_unicode: bool,
) -> Kind {
    let mut widths = Box::new([missing_width; 256]);
    for (i, &w) in widths_from_first.iter().enumerate() {
        if let Some(slot) = (first_char as usize)
            .checked_add(i)
            .and_then(|code| widths.get_mut(code))
        {
            *slot = w;
        }
    }
    let ascii_plain = !has_to_unicode && (0x20u8..0x7f).all(|b| table[b as usize] == b as char);
    Kind::Simple {
        table,
        names,
        widths,
        ascii_plain,
    }
}

/// Spaces in `bytes`. Counted per block of at most 255 in a byte-wide
/// counter, which vectorises 16 bytes a step (a `usize` counter only 2).
fn count_spaces(bytes: &[u8]) -> u32 {
    bytes
        .chunks(255)
        .map(|block| {
            let n = block.iter().fold(0u8, |n, &b| n + u8::from(b == b' '));
            u32::from(n)
        })
        .sum()
}

/// Sum of the widths of `codes`, in four independent lanes so the adds do not
/// wait on each other.
fn width_sum(widths: &[f32; 256], codes: &[u8]) -> f32 {
    let mut lanes = [0.0f32; 4];
    let mut chunks = codes.chunks_exact(4);
    for c in &mut chunks {
        for (lane, &b) in lanes.iter_mut().zip(c) {
            *lane += widths[b as usize];
        }
    }
    let tail: f32 = chunks.remainder().iter().map(|&b| widths[b as usize]).sum();
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + tail
}

fn charset_code_len(enc: &'static encoding_rs::Encoding, bytes: &[u8]) -> Option<usize> {
    let first = *bytes.first()?;
    if first < 0x80 {
        return Some(1);
    }
    if enc == encoding_rs::SHIFT_JIS && (0xa1..=0xdf).contains(&first) {
        return Some(1);
    }
    Some(2)
}

fn predefined_cmap(name: &[u8]) -> CodeSplit {
    let s = String::from_utf8_lossy(name);
    if s.starts_with("Identity") {
        return CodeSplit::Identity;
    }
    if s.contains("UCS2") || s.contains("UTF16") {
        return CodeSplit::Utf16;
    }
    let enc = if s.contains("RKSJ") {
        Some(encoding_rs::SHIFT_JIS)
    } else if s.starts_with("GB") || s.contains("GBK") {
        Some(encoding_rs::GBK)
    } else if s.contains("B5") || s.contains("ETen") || s.contains("HKscs") {
        Some(encoding_rs::BIG5)
    } else if s.starts_with("KSC") {
        Some(encoding_rs::EUC_KR)
    } else if s.starts_with("EUC") {
        Some(encoding_rs::EUC_JP)
    } else {
        None
    };
    match enc {
        Some(e) => CodeSplit::Charset(e),
        None => CodeSplit::Identity,
    }
}

fn parse_cid_widths(doc: &Document, w: &[Object], out: &mut HashMap<u32, f32>) {
    let mut i = 0;
    while i < w.len() && out.len() < MAX_CMAP_ENTRIES {
        let Some(first) = num(deref(doc, &w[i])) else {
            i += 1;
            continue;
        };
        let first = first.max(0.0) as u32;
        match w.get(i + 1).map(|o| deref(doc, o)) {
            Some(Object::Array(list)) => {
                for (k, v) in list.iter().enumerate() {
                    if let Some(v) = num(deref(doc, v)) {
                        out.insert(first.saturating_add(k as u32), v);
                    }
                }
                i += 2;
            }
            Some(o) => {
                let last = num(o).unwrap_or(0.0).max(0.0) as u32;
                let width = w.get(i + 2).map(|o| deref(doc, o)).and_then(num);
                if let Some(width) = width {
                    let last = last.min(first.saturating_add(65_535));
                    for cid in first..=last {
                        out.insert(cid, width);
                    }
                }
                i += 3;
            }
            None => break,
        }
    }
}

/// A Type 3 glyph whose name is no standard one: names of a letter or
/// two and a number ("a65", "C65", "g41", TeX's bitmap fonts) give the
/// number as the character, as poppler and pdf.js read them; a name that
/// says nothing leaves the code's own character in place if printable
/// ASCII (such fonts are mostly laid out in ASCII order).
fn set_numeric_glyph(
    table: &mut CodeTable,
    names: &mut HashMap<u8, Box<str>>,
    code: usize,
    name: &[u8],
) {
    let mut s = String::new();
    if glyph_text(name, &mut s) {
        set_glyph(table, names, code, name);
        return;
    }
    const OT1_LIGATURES: [&str; 5] = ["ff", "fi", "fl", "ffi", "ffl"];
    names.remove(&(code as u8));
    table[code] = '\0';
    match numeric_name(name).unwrap_or(code as u32) {
        // TeX's OT1 codes 11-15 are its ligatures.
        value @ 11..=15 => {
            names.insert(code as u8, OT1_LIGATURES[value as usize - 11].into());
        }
        value @ 0x20..=0x7e => table[code] = value as u8 as char,
        _ => {}
    }
}

/// The number of a numeric glyph name: one or two letters and 1 to 4
/// decimal digits, 2 to 4 digits alone, or "G"/"g"/"x" and two hex digits.
fn numeric_name(name: &[u8]) -> Option<u32> {
    let digits_at = name.iter().position(|b| b.is_ascii_digit())?;
    let (prefix, number) = name.split_at(digits_at);
    if prefix.len() > 2 || !prefix.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    let text = std::str::from_utf8(number).ok()?;
    let hex_letters = text.bytes().any(|b| b.is_ascii_alphabetic());
    if matches!(prefix, b"G" | b"g" | b"x") && text.len() == 2 && hex_letters {
        return u32::from_str_radix(text, 16).ok();
    }
    let digits_ok = if prefix.is_empty() {
        (2..=4).contains(&text.len())
    } else {
        (1..=4).contains(&text.len())
    };
    if hex_letters || !digits_ok {
        return None;
    }
    text.parse().ok()
}

fn set_glyph(table: &mut CodeTable, names: &mut HashMap<u8, Box<str>>, code: usize, name: &[u8]) {
    let mut s = String::new();
    if glyph_text(name, &mut s) {
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => {
                table[code] = c;
                names.remove(&(code as u8));
            }
            _ => {
                table[code] = '\0';
                names.insert(code as u8, s.into_boxed_str());
            }
        }
    } else {
        // An unknown name (g12, cid34 ...): the base encoding's guess is wrong.
        table[code] = '\0';
    }
}

/// Reads `dup <code> /<name> put` entries of an embedded Type 1 font's
/// clear-text encoding.
fn apply_type1_builtin(data: &[u8], table: &mut CodeTable, names: &mut HashMap<u8, Box<str>>) {
    let head = &data[..data.len().min(64 * 1024)];
    let Some(start) = memchr::memmem::find(head, b"/Encoding") else {
        return;
    };
    let after = &head[start..];
    if after.get(9..).is_some_and(|r| {
        r.iter()
            .position(|&b| !b.is_ascii_whitespace())
            .is_some_and(|p| r[p..].starts_with(b"StandardEncoding"))
    }) {
        return;
    }
    let end = memchr::memmem::find(after, b"readonly def")
        .or_else(|| memchr::memmem::find(after, b"eexec"))
        .unwrap_or(after.len());
    let mut lexer = Lexer::new(&after[..end]);
    let mut prev: Vec<Operand> = Vec::new();
    let mut first = true;
    while let Some(tok) = lexer.next_token() {
        match tok {
            Token::Operand(op) => prev.push(op),
            Token::Operator(b"put") => {
                if let [.., Operand::Num(code), Operand::Name(name)] = prev.as_slice() {
                    if first {
                        // A custom encoding starts from .notdef everywhere.
                        *table = ['\0'; 256];
                        first = false;
                    }
                    let code = *code as i64;
                    if (0..256).contains(&code) {
                        set_glyph(table, names, code as usize, name);
                    }
                }
                prev.clear();
            }
            Token::Operator(_) => {
                if prev.len() > 4 {
                    prev.clear();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaces_counted_across_blocks() {
        for len in [0, 1, 254, 255, 256, 600] {
            let text: Vec<u8> = (0..len)
                .map(|i| if i % 3 == 0 { b' ' } else { b'a' })
                .collect();
            let want = text.iter().filter(|&&b| b == b' ').count() as u32;
            assert_eq!(count_spaces(&text), want, "{len}");
        }
        assert_eq!(count_spaces(&[b' '; 1000]), 1000);
    }

    #[test]
    fn parses_to_unicode_cmap() {
        let data = b"/CIDInit /ProcSet findresource begin\n1 begincodespacerange <0000> <FFFF> endcodespacerange\n\
2 beginbfchar <0003> <0020> <0011> <00E9> endbfchar\n\
1 beginbfrange <0024> <0026> <0041> endbfrange\n\
1 beginbfrange <0030> <0031> [<FB01> <00660066>] endbfrange\nendcmap";
        let cm = CMap::parse(data);
        let mut s = String::new();
        for code in [0x24, 0x25, 0x26, 0x03, 0x11, 0x30, 0x31] {
            assert!(cm.lookup(2, code, &mut s));
        }
        assert_eq!(s, "ABC éﬁff");
        assert_eq!(cm.code_len(&[0, 0x24]), Some(2));
        assert!(!cm.lookup(1, 0x24, &mut s));
    }

    #[test]
    fn numeric_glyph_names() {
        assert_eq!(numeric_name(b"a65"), Some(65));
        assert_eq!(numeric_name(b"C33"), Some(33));
        assert_eq!(numeric_name(b"g6F"), Some(0x6F));
        assert_eq!(numeric_name(b"65"), Some(65));
        assert_eq!(numeric_name(b"glyph12"), None);
        assert_eq!(numeric_name(b"a12345"), None);
        assert_eq!(numeric_name(b"abc"), None);
    }

    #[test]
    fn type1_builtin_encoding() {
        let mut table = BaseEncoding::Standard.table();
        let mut names = HashMap::new();
        let data = b"%!PS-AdobeFont\n/Encoding 256 array\n0 1 255 {1 index exch /.notdef put} for\ndup 65 /Eacute put\ndup 66 /f_i put\nreadonly def\ncurrentfile eexec";
        apply_type1_builtin(data, &mut table, &mut names);
        assert_eq!(table[65], 'É');
        assert_eq!(table[97], '\0');
        assert_eq!(names.get(&66).map(|s| &**s), Some("fi"));
    }
}
