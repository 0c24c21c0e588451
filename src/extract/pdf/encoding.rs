//! Simple-font encodings (PDF 32000-1 Annex D) and glyph names.

use std::sync::LazyLock;

/// A 256-entry code -> character table; '\0' is "no character".
pub type CodeTable = [char; 256];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BaseEncoding {
    Standard,
    WinAnsi,
    MacRoman,
    PdfDoc,
    Symbol,
}

impl BaseEncoding {
    pub fn from_name(name: &[u8]) -> Option<Self> {
        match name {
            b"WinAnsiEncoding" => Some(BaseEncoding::WinAnsi),
            b"MacRomanEncoding" | b"MacExpertEncoding" => Some(BaseEncoding::MacRoman),
            b"StandardEncoding" => Some(BaseEncoding::Standard),
            b"PDFDocEncoding" => Some(BaseEncoding::PdfDoc),
            _ => None,
        }
    }

    /// The encoding's table. Tables are built once per process: building
    /// one decodes every code, and every font needs one.
    pub fn table(self) -> CodeTable {
        static WIN_ANSI: LazyLock<CodeTable> =
            LazyLock::new(|| single_byte(encoding_rs::WINDOWS_1252));
        static MAC_ROMAN: LazyLock<CodeTable> =
            LazyLock::new(|| single_byte(encoding_rs::MACINTOSH));
        static STANDARD: LazyLock<CodeTable> = LazyLock::new(standard);
        static PDF_DOC: LazyLock<CodeTable> = LazyLock::new(pdf_doc);
        static SYMBOL: LazyLock<CodeTable> = LazyLock::new(symbol);
        let table: &LazyLock<CodeTable> = match self {
            BaseEncoding::WinAnsi => &WIN_ANSI,
            BaseEncoding::MacRoman => &MAC_ROMAN,
            BaseEncoding::Standard => &STANDARD,
            BaseEncoding::PdfDoc => &PDF_DOC,
            BaseEncoding::Symbol => &SYMBOL,
        };
        **table
    }
}

fn single_byte(enc: &'static encoding_rs::Encoding) -> CodeTable {
    let mut t = ['\0'; 256];
    for (i, slot) in t.iter_mut().enumerate().skip(32) {
        let byte = [i as u8];
        let (s, _, bad) = enc.decode(&byte);
        if !bad {
            if let Some(c) = s.chars().next() {
                if !c.is_control() {
                    *slot = c;
                }
            }
        }
    }
    // WinAnsi maps the undefined positions and 0xA0/0xAD to space/hyphen in practice.
    t
}

/// Adobe StandardEncoding: ASCII with curly quotes plus its own high half.
fn standard() -> CodeTable {
    let mut t = ['\0'; 256];
    for (i, slot) in t.iter_mut().enumerate().take(127).skip(32) {
        *slot = i as u8 as char;
    }
    t[0x27] = '\u{2019}';
    t[0x60] = '\u{2018}';
    const HIGH: &[(u8, char)] = &[
        (0xa1, '¡'),
        (0xa2, '¢'),
        (0xa3, '£'),
        (0xa4, '⁄'),
        (0xa5, '¥'),
        (0xa6, 'ƒ'),
        (0xa7, '§'),
        (0xa8, '¤'),
        (0xa9, '\''),
        (0xaa, '“'),
        (0xab, '«'),
        (0xac, '‹'),
        (0xad, '›'),
        (0xae, 'ﬁ'),
        (0xaf, 'ﬂ'),
        (0xb1, '–'),
        (0xb2, '†'),
        (0xb3, '‡'),
        (0xb4, '·'),
        (0xb6, '¶'),
        (0xb7, '•'),
        (0xb8, '‚'),
        (0xb9, '„'),
        (0xba, '”'),
        (0xbb, '»'),
        (0xbc, '…'),
        (0xbd, '‰'),
        (0xbf, '¿'),
        (0xc1, '`'),
        (0xc2, '´'),
        (0xc3, 'ˆ'),
        (0xc4, '˜'),
        (0xc5, '¯'),
        (0xc6, '˘'),
        (0xc7, '˙'),
        (0xc8, '¨'),
        (0xca, '˚'),
        (0xcb, '¸'),
        (0xcd, '˝'),
        (0xce, '˛'),
        (0xcf, 'ˇ'),
        (0xd0, '—'),
        (0xe1, 'Æ'),
        (0xe3, 'ª'),
        (0xe8, 'Ł'),
        (0xe9, 'Ø'),
        (0xea, 'Œ'),
        (0xeb, 'º'),
        (0xf1, 'æ'),
        (0xf5, 'ı'),
        (0xf8, 'ł'),
        (0xf9, 'ø'),
        (0xfa, 'œ'),
        (0xfb, 'ß'),
    ];
    for &(code, c) in HIGH {
        t[code as usize] = c;
    }
    t
}

/// PDFDocEncoding: Latin-1 with typographic characters in 0x18-0x1F and 0x80-0x9F.
fn pdf_doc() -> CodeTable {
    let mut t = ['\0'; 256];
    for (i, slot) in t.iter_mut().enumerate() {
        let c = i as u8 as char;
        if !c.is_control() {
            *slot = c;
        }
    }
    t[9] = '\t';
    t[10] = '\n';
    t[13] = '\r';
    const SPECIAL: &[(u8, char)] = &[
        (0x18, '˘'),
        (0x19, 'ˇ'),
        (0x1a, 'ˆ'),
        (0x1b, '˙'),
        (0x1c, '˝'),
        (0x1d, '˛'),
        (0x1e, '˚'),
        (0x1f, '˜'),
        (0x80, '•'),
        (0x81, '†'),
        (0x82, '‡'),
        (0x83, '…'),
        (0x84, '—'),
        (0x85, '–'),
        (0x86, 'ƒ'),
        (0x87, '⁄'),
        (0x88, '‹'),
        (0x89, '›'),
        (0x8a, '−'),
        (0x8b, '‰'),
        (0x8c, '„'),
        (0x8d, '“'),
        (0x8e, '”'),
        (0x8f, '‘'),
        (0x90, '’'),
        (0x91, '‚'),
        (0x92, '™'),
        (0x93, 'ﬁ'),
        (0x94, 'ﬂ'),
        (0x95, 'Ł'),
        (0x96, 'Œ'),
        (0x97, 'Š'),
        (0x98, 'Ÿ'),
        (0x99, 'Ž'),
        (0x9a, 'ı'),
        (0x9b, 'ł'),
        (0x9c, 'œ'),
        (0x9d, 'š'),
        (0x9e, 'ž'),
        (0xa0, '€'),
    ];
    for &(code, c) in SPECIAL {
        t[code as usize] = c;
    }
    t
}

/// The Symbol font's built-in encoding: ASCII punctuation and Greek letters.
fn symbol() -> CodeTable {
    let mut t = ['\0'; 256];
    for (i, slot) in t.iter_mut().enumerate().take(127).skip(32) {
        *slot = i as u8 as char;
    }
    const UPPER: &str = "ΑΒΧΔΕΦΓΗΙϑΚΛΜΝΟΠΘΡΣΤΥςΩΞΨΖ";
    const LOWER: &str = "αβχδεφγηιϕκλμνοπθρστυϖωξψζ";
    for (i, c) in UPPER.chars().enumerate() {
        t[0x41 + i] = c;
    }
    for (i, c) in LOWER.chars().enumerate() {
        t[0x61 + i] = c;
    }
    t[0x22] = '∀';
    t[0x24] = '∃';
    t[0x27] = '∋';
    t[0x2a] = '∗';
    t[0x2d] = '−';
    t[0x40] = '≅';
    t[0x5c] = '∴';
    t[0x5e] = '⊥';
    t[0x60] = '\u{F8E5}';
    t[0x7e] = '∼';
    t[0xa3] = '≤';
    t[0xa5] = '∞';
    t[0xb1] = '±';
    t[0xb3] = '≥';
    t[0xb4] = '×';
    t[0xb7] = '•';
    t[0xb8] = '÷';
    t[0xb9] = '≠';
    t[0xba] = '≡';
    t[0xbb] = '≈';
    t[0xbc] = '…';
    t[0xae] = '→';
    t[0xac] = '←';
    t[0xd6] = '√';
    t[0xe5] = '∑';
    t
}

/// Glyph names that are not derivable (`uniXXXX`, `uXXXX`, single letters).
const NAMES: &[(&str, char)] = &[
    ("space", ' '),
    ("nbspace", '\u{a0}'),
    ("nonbreakingspace", '\u{a0}'),
    ("franc", '₣'),
    ("apple", '\u{f8ff}'),
    ("exclam", '!'),
    ("quotedbl", '"'),
    ("numbersign", '#'),
    ("dollar", '$'),
    ("percent", '%'),
    ("ampersand", '&'),
    ("quotesingle", '\''),
    ("quoteright", '’'),
    ("quoteleft", '‘'),
    ("parenleft", '('),
    ("parenright", ')'),
    ("asterisk", '*'),
    ("plus", '+'),
    ("comma", ','),
    ("hyphen", '-'),
    ("sfthyphen", '\u{ad}'),
    ("period", '.'),
    ("slash", '/'),
    ("zero", '0'),
    ("one", '1'),
    ("two", '2'),
    ("three", '3'),
    ("four", '4'),
    ("five", '5'),
    ("six", '6'),
    ("seven", '7'),
    ("eight", '8'),
    ("nine", '9'),
    ("colon", ':'),
    ("semicolon", ';'),
    ("less", '<'),
    ("equal", '='),
    ("greater", '>'),
    ("question", '?'),
    ("at", '@'),
    ("bracketleft", '['),
    ("backslash", '\\'),
    ("bracketright", ']'),
    ("asciicircum", '^'),
    ("underscore", '_'),
    ("grave", '`'),
    ("braceleft", '{'),
    ("bar", '|'),
    ("braceright", '}'),
    ("asciitilde", '~'),
    ("exclamdown", '¡'),
    ("cent", '¢'),
    ("sterling", '£'),
    ("currency", '¤'),
    ("yen", '¥'),
    ("brokenbar", '¦'),
    ("section", '§'),
    ("dieresis", '¨'),
    ("copyright", '©'),
    ("ordfeminine", 'ª'),
    ("guillemotleft", '«'),
    ("logicalnot", '¬'),
    ("registered", '®'),
    ("macron", '¯'),
    ("degree", '°'),
    ("plusminus", '±'),
    ("twosuperior", '²'),
    ("threesuperior", '³'),
    ("acute", '´'),
    ("mu", 'µ'),
    ("paragraph", '¶'),
    ("periodcentered", '·'),
    ("cedilla", '¸'),
    ("onesuperior", '¹'),
    ("ordmasculine", 'º'),
    ("guillemotright", '»'),
    ("onequarter", '¼'),
    ("onehalf", '½'),
    ("threequarters", '¾'),
    ("questiondown", '¿'),
    ("Agrave", 'À'),
    ("Aacute", 'Á'),
    ("Acircumflex", 'Â'),
    ("Atilde", 'Ã'),
    ("Adieresis", 'Ä'),
    ("Aring", 'Å'),
    ("AE", 'Æ'),
    ("Ccedilla", 'Ç'),
    ("Egrave", 'È'),
    ("Eacute", 'É'),
    ("Ecircumflex", 'Ê'),
    ("Edieresis", 'Ë'),
    ("Igrave", 'Ì'),
    ("Iacute", 'Í'),
    ("Icircumflex", 'Î'),
    ("Idieresis", 'Ï'),
    ("Eth", 'Ð'),
    ("Ntilde", 'Ñ'),
    ("Ograve", 'Ò'),
    ("Oacute", 'Ó'),
    ("Ocircumflex", 'Ô'),
    ("Otilde", 'Õ'),
    ("Odieresis", 'Ö'),
    ("multiply", '×'),
    ("Oslash", 'Ø'),
    ("Ugrave", 'Ù'),
    ("Uacute", 'Ú'),
    ("Ucircumflex", 'Û'),
    ("Udieresis", 'Ü'),
    ("Yacute", 'Ý'),
    ("Thorn", 'Þ'),
    ("germandbls", 'ß'),
    ("agrave", 'à'),
    ("aacute", 'á'),
    ("acircumflex", 'â'),
    ("atilde", 'ã'),
    ("adieresis", 'ä'),
    ("aring", 'å'),
    ("ae", 'æ'),
    ("ccedilla", 'ç'),
    ("egrave", 'è'),
    ("eacute", 'é'),
    ("ecircumflex", 'ê'),
    ("edieresis", 'ë'),
    ("igrave", 'ì'),
    ("iacute", 'í'),
    ("icircumflex", 'î'),
    ("idieresis", 'ï'),
    ("eth", 'ð'),
    ("ntilde", 'ñ'),
    ("ograve", 'ò'),
    ("oacute", 'ó'),
    ("ocircumflex", 'ô'),
    ("otilde", 'õ'),
    ("odieresis", 'ö'),
    ("divide", '÷'),
    ("oslash", 'ø'),
    ("ugrave", 'ù'),
    ("uacute", 'ú'),
    ("ucircumflex", 'û'),
    ("udieresis", 'ü'),
    ("yacute", 'ý'),
    ("thorn", 'þ'),
    ("ydieresis", 'ÿ'),
    ("Amacron", 'Ā'),
    ("amacron", 'ā'),
    ("Abreve", 'Ă'),
    ("abreve", 'ă'),
    ("Aogonek", 'Ą'),
    ("aogonek", 'ą'),
    ("Cacute", 'Ć'),
    ("cacute", 'ć'),
    ("Ccaron", 'Č'),
    ("ccaron", 'č'),
    ("Dcaron", 'Ď'),
    ("dcaron", 'ď'),
    ("Dcroat", 'Đ'),
    ("dcroat", 'đ'),
    ("Emacron", 'Ē'),
    ("emacron", 'ē'),
    ("Edotaccent", 'Ė'),
    ("edotaccent", 'ė'),
    ("Eogonek", 'Ę'),
    ("eogonek", 'ę'),
    ("Ecaron", 'Ě'),
    ("ecaron", 'ě'),
    ("Gbreve", 'Ğ'),
    ("gbreve", 'ğ'),
    ("Gcommaaccent", 'Ģ'),
    ("gcommaaccent", 'ģ'),
    ("Imacron", 'Ī'),
    ("imacron", 'ī'),
    ("Iogonek", 'Į'),
    ("iogonek", 'į'),
    ("Idotaccent", 'İ'),
    ("dotlessi", 'ı'),
    ("Kcommaaccent", 'Ķ'),
    ("kcommaaccent", 'ķ'),
    ("Lacute", 'Ĺ'),
    ("lacute", 'ĺ'),
    ("Lcommaaccent", 'Ļ'),
    ("lcommaaccent", 'ļ'),
    ("Lcaron", 'Ľ'),
    ("lcaron", 'ľ'),
    ("Lslash", 'Ł'),
    ("lslash", 'ł'),
    ("Nacute", 'Ń'),
    ("nacute", 'ń'),
    ("Ncommaaccent", 'Ņ'),
    ("ncommaaccent", 'ņ'),
    ("Ncaron", 'Ň'),
    ("ncaron", 'ň'),
    ("Omacron", 'Ō'),
    ("omacron", 'ō'),
    ("Ohungarumlaut", 'Ő'),
    ("ohungarumlaut", 'ő'),
    ("OE", 'Œ'),
    ("oe", 'œ'),
    ("Racute", 'Ŕ'),
    ("racute", 'ŕ'),
    ("Rcommaaccent", 'Ŗ'),
    ("rcommaaccent", 'ŗ'),
    ("Rcaron", 'Ř'),
    ("rcaron", 'ř'),
    ("Sacute", 'Ś'),
    ("sacute", 'ś'),
    ("Scedilla", 'Ş'),
    ("scedilla", 'ş'),
    ("Scaron", 'Š'),
    ("scaron", 'š'),
    ("Scommaaccent", 'Ș'),
    ("scommaaccent", 'ș'),
    ("Tcommaaccent", 'Ț'),
    ("tcommaaccent", 'ț'),
    ("Tcedilla", 'Ţ'),
    ("tcedilla", 'ţ'),
    ("Tcaron", 'Ť'),
    ("tcaron", 'ť'),
    ("Umacron", 'Ū'),
    ("umacron", 'ū'),
    ("Uring", 'Ů'),
    ("uring", 'ů'),
    ("Uhungarumlaut", 'Ű'),
    ("uhungarumlaut", 'ű'),
    ("Uogonek", 'Ų'),
    ("uogonek", 'ų'),
    ("Ydieresis", 'Ÿ'),
    ("Zacute", 'Ź'),
    ("zacute", 'ź'),
    ("Zdotaccent", 'Ż'),
    ("zdotaccent", 'ż'),
    ("Zcaron", 'Ž'),
    ("zcaron", 'ž'),
    ("florin", 'ƒ'),
    ("circumflex", 'ˆ'),
    ("caron", 'ˇ'),
    ("breve", '˘'),
    ("dotaccent", '˙'),
    ("ring", '˚'),
    ("ogonek", '˛'),
    ("tilde", '˜'),
    ("hungarumlaut", '˝'),
    ("endash", '–'),
    ("emdash", '—'),
    ("quotesinglbase", '‚'),
    ("quotedblleft", '“'),
    ("quotedblright", '”'),
    ("quotedblbase", '„'),
    ("dagger", '†'),
    ("daggerdbl", '‡'),
    ("bullet", '•'),
    ("ellipsis", '…'),
    ("perthousand", '‰'),
    ("guilsinglleft", '‹'),
    ("guilsinglright", '›'),
    ("fraction", '⁄'),
    ("Euro", '€'),
    ("trademark", '™'),
    ("minus", '−'),
    ("fi", 'ﬁ'),
    ("fl", 'ﬂ'),
    ("ff", 'ﬀ'),
    ("ffi", 'ﬃ'),
    ("ffl", 'ﬄ'),
    ("dotlessj", 'ȷ'),
    ("Alpha", 'Α'),
    ("Beta", 'Β'),
    ("Gamma", 'Γ'),
    ("Delta", 'Δ'),
    ("Epsilon", 'Ε'),
    ("Zeta", 'Ζ'),
    ("Eta", 'Η'),
    ("Theta", 'Θ'),
    ("Iota", 'Ι'),
    ("Kappa", 'Κ'),
    ("Lambda", 'Λ'),
    ("Mu", 'Μ'),
    ("Nu", 'Ν'),
    ("Xi", 'Ξ'),
    ("Omicron", 'Ο'),
    ("Pi", 'Π'),
    ("Rho", 'Ρ'),
    ("Sigma", 'Σ'),
    ("Tau", 'Τ'),
    ("Upsilon", 'Υ'),
    ("Phi", 'Φ'),
    ("Chi", 'Χ'),
    ("Psi", 'Ψ'),
    ("Omega", 'Ω'),
    ("alpha", 'α'),
    ("beta", 'β'),
    ("gamma", 'γ'),
    ("delta", 'δ'),
    ("epsilon", 'ε'),
    ("zeta", 'ζ'),
    ("eta", 'η'),
    ("theta", 'θ'),
    ("iota", 'ι'),
    ("kappa", 'κ'),
    ("lambda", 'λ'),
    ("nu", 'ν'),
    ("xi", 'ξ'),
    ("omicron", 'ο'),
    ("pi", 'π'),
    ("rho", 'ρ'),
    ("sigma", 'σ'),
    ("sigma1", 'ς'),
    ("tau", 'τ'),
    ("upsilon", 'υ'),
    ("phi", 'φ'),
    ("chi", 'χ'),
    ("psi", 'ψ'),
    ("omega", 'ω'),
    ("arrowleft", '←'),
    ("arrowright", '→'),
    ("arrowup", '↑'),
    ("arrowdown", '↓'),
    ("lessequal", '≤'),
    ("greaterequal", '≥'),
    ("notequal", '≠'),
    ("infinity", '∞'),
    ("approxequal", '≈'),
    ("summation", '∑'),
    ("product", '∏'),
    ("radical", '√'),
    ("partialdiff", '∂'),
    ("integral", '∫'),
    ("lozenge", '◊'),
    ("checkmark", '✓'),
];

/// The character for a glyph name, per the Adobe glyph naming conventions.
pub fn glyph_char(name: &[u8]) -> Option<char> {
    let name = std::str::from_utf8(name).ok()?;
    // Suffixes like ".sc", ".alt" name variants of the same character.
    let base = name.split('.').next().unwrap_or(name);
    if base.is_empty() {
        return None;
    }
    if base.len() == 1 {
        let c = base.chars().next()?;
        return c.is_ascii_alphabetic().then_some(c);
    }
    if let Some(&(_, c)) = NAMES.iter().find(|(n, _)| *n == base) {
        return Some(c);
    }
    if let Some(hex) = base.strip_prefix("uni") {
        if hex.len() >= 4 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return u32::from_str_radix(&hex[..4], 16)
                .ok()
                .and_then(char::from_u32);
        }
    }
    if let Some(hex) = base.strip_prefix('u') {
        if (4..=6).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return u32::from_str_radix(hex, 16).ok().and_then(char::from_u32);
        }
    }
    if let Some(num) = base.strip_prefix("afii") {
        let n: u32 = num.parse().ok()?;
        let cp = match n {
            10017..=10022 => 0x410 + (n - 10017),
            10023 => 0x401,
            10024..=10049 => 0x416 + (n - 10024),
            10065..=10070 => 0x430 + (n - 10065),
            10071 => 0x451,
            10072..=10097 => 0x436 + (n - 10072),
            _ => return None,
        };
        return char::from_u32(cp);
    }
    None
}

/// Text for a glyph name, ligatures like `f_f_i` spelled out.
pub fn glyph_text(name: &[u8], out: &mut String) -> bool {
    if let Some(c) = glyph_char(name) {
        out.push(c);
        return true;
    }
    if name.contains(&b'_') {
        let mut any = false;
        for part in name.split(|&b| b == b'_') {
            if let Some(c) = glyph_char(part) {
                out.push(c);
                any = true;
            }
        }
        return any;
    }
    false
}

/// Decodes a PDF text string (Info values, outline titles): UTF-16BE or
/// UTF-8 with a BOM, else PDFDocEncoding.
pub fn decode_text_string(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xfe, 0xff]) {
        return crate::extract::decode::utf16be(rest);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xff, 0xfe]) {
        return crate::extract::decode::utf16le(rest);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xef, 0xbb, 0xbf]) {
        return String::from_utf8_lossy(rest).into_owned();
    }
    thread_local! {
        static PDFDOC: CodeTable = pdf_doc();
    }
    PDFDOC.with(|t| {
        bytes
            .iter()
            .filter_map(|&b| {
                let c = t[b as usize];
                (c != '\0').then_some(c)
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glyph_names() {
        assert_eq!(glyph_char(b"eacute"), Some('é'));
        assert_eq!(glyph_char(b"uni20AC"), Some('€'));
        assert_eq!(glyph_char(b"a.sc"), Some('a'));
        assert_eq!(glyph_char(b"afii10017"), Some('А'));
        assert_eq!(glyph_char(b"g123"), None);
        let mut s = String::new();
        assert!(glyph_text(b"f_f_i", &mut s));
        assert_eq!(s, "ffi");
    }

    #[test]
    fn base_tables() {
        assert_eq!(BaseEncoding::WinAnsi.table()[0x80], '€');
        assert_eq!(BaseEncoding::MacRoman.table()[0x8a], 'ä');
        assert_eq!(BaseEncoding::Standard.table()[0x27], '’');
        assert_eq!(decode_text_string(b"\xfe\xff\x00G\x00r\x00\xf6"), "Grö");
        assert_eq!(decode_text_string(b"Caf\xe9 \x84"), "Café —");
    }
}
