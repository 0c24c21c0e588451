//! RTF: a small stripper. Groups are tracked with an explicit stack (no
//! recursion), binary and picture data are skipped, `\'hh` escapes are
//! decoded with the font's charset or `\ansicpg`, `\uN` honours `\ucN`.
//! Headers, footers, footnotes and annotations become parts of their own;
//! `\info` fields and `\userprops` become properties.

use super::{ExtractError, Extracted, PartKind};
use crate::model::budget::Budget;

use std::collections::HashMap;

/// Deepest group nesting tracked; deeper groups share their parent's state.
const MAX_DEPTH: usize = 1024;
/// Tokens between deadline checks.
const TOKENS_PER_CHECK: u32 = 65_536;

const INFO: &str = "RTF info";
const USERPROPS: &str = "RTF userprops";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Dest {
    Body,
    /// Index into `Stripper::buffers`.
    Buffer(usize),
    Skip,
    FontTable,
    Info,
    InfoField(usize),
    UserProps,
    PropName,
    StaticVal,
}

#[derive(Clone, Copy)]
struct State {
    dest: Dest,
    uc: u32,
    font: i32,
    /// Set by `\*`: the group is skipped unless its first control word is known.
    optional: bool,
    /// The group has seen its first token (for destination words).
    started: bool,
}

struct Buffer {
    kind: PartKind,
    location: String,
    text: String,
}

struct Stripper<'a> {
    budget: &'a Budget,
    stack: Vec<State>,
    /// Groups opened beyond MAX_DEPTH, not on the stack.
    phantom: usize,
    state: State,
    body: String,
    buffers: Vec<Buffer>,
    /// Info field values: (name, value).
    info: Vec<(String, String)>,
    prop_name: String,
    prop_value: String,
    props: Vec<(String, String)>,
    /// Pending code-page bytes and the encoding to decode them with.
    pending: Vec<u8>,
    default_enc: &'static encoding_rs::Encoding,
    font_enc: HashMap<i32, &'static encoding_rs::Encoding>,
    /// Font being defined in the font table.
    table_font: i32,
    /// Characters still to skip after a `\uN`.
    skip: u32,
    chars: usize,
    max_chars: usize,
    counts: HashMap<&'static str, usize>,
}

fn codepage(n: i32) -> Option<&'static encoding_rs::Encoding> {
    let label = match n {
        437 | 850 | 1252 => "windows-1252",
        932 => "shift_jis",
        936 => "gbk",
        949 => "euc-kr",
        950 => "big5",
        874 => "windows-874",
        1250..=1258 => return encoding_rs::Encoding::for_label(format!("windows-{n}").as_bytes()),
        10000 => "macintosh",
        866 => "ibm866",
        20866 => "koi8-r",
        65001 => "utf-8",
        _ => return None,
    };
    encoding_rs::Encoding::for_label(label.as_bytes())
}

fn charset(n: i32) -> Option<&'static encoding_rs::Encoding> {
    let charset = u8::try_from(n).ok()?;
    codepage(i32::from(super::decode::charset_codepage(charset)?))
}

impl<'a> Stripper<'a> {
    fn new(budget: &'a Budget) -> Self {
        Stripper {
            budget,
            stack: Vec::new(),
            phantom: 0,
            state: State {
                dest: Dest::Body,
                uc: 1,
                font: -1,
                optional: false,
                started: false,
            },
            body: String::new(),
            buffers: Vec::new(),
            info: Vec::new(),
            prop_name: String::new(),
            prop_value: String::new(),
            props: Vec::new(),
            pending: Vec::new(),
            default_enc: encoding_rs::WINDOWS_1252,
            font_enc: HashMap::new(),
            table_font: -1,
            skip: 0,
            chars: 0,
            max_chars: budget.text_room(),
            counts: HashMap::new(),
        }
    }

    fn encoding(&self) -> &'static encoding_rs::Encoding {
        self.font_enc
            .get(&self.state.font)
            .copied()
            .unwrap_or(self.default_enc)
    }

    /// The string text of the current destination goes to, if any.
    fn target(&mut self) -> Option<&mut String> {
        match self.state.dest {
            Dest::Body => Some(&mut self.body),
            Dest::Buffer(i) => self.buffers.get_mut(i).map(|b| &mut b.text),
            Dest::InfoField(i) => self.info.get_mut(i).map(|f| &mut f.1),
            Dest::PropName => Some(&mut self.prop_name),
            Dest::StaticVal => Some(&mut self.prop_value),
            Dest::Skip | Dest::FontTable | Dest::Info | Dest::UserProps => None,
        }
    }

    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let bytes = std::mem::take(&mut self.pending);
        let enc = self.encoding();
        let (text, _) = enc.decode_without_bom_handling(&bytes);
        // Undecodable bytes (a lone lead byte of a symbol font) are dropped.
        let text: String = text.chars().filter(|&c| c != '\u{fffd}').collect();
        self.push_str(&text);
        self.pending = bytes;
        self.pending.clear();
    }

    fn push_str(&mut self, s: &str) {
        if self.chars >= self.max_chars {
            return;
        }
        self.chars += s.len();
        if let Some(t) = self.target() {
            t.push_str(s);
        }
    }

    fn push_char(&mut self, c: char) {
        self.flush();
        let mut buf = [0u8; 4];
        self.push_str(c.encode_utf8(&mut buf));
    }

    /// A text byte (or `\'hh` byte) of the current destination.
    fn byte(&mut self, b: u8) {
        if self.skip > 0 {
            self.skip -= 1;
            return;
        }
        if matches!(self.state.dest, Dest::Skip | Dest::Info | Dest::UserProps) {
            return;
        }
        if self.state.dest == Dest::FontTable {
            return;
        }
        self.pending.push(b);
    }

    fn open_group(&mut self) {
        self.flush();
        self.skip = 0;
        if self.stack.len() >= MAX_DEPTH {
            self.phantom += 1;
            return;
        }
        self.stack.push(self.state);
        self.state.optional = false;
        self.state.started = false;
    }

    fn close_group(&mut self) {
        self.flush();
        self.skip = 0;
        if self.phantom > 0 {
            self.phantom -= 1;
            return;
        }
        let closing = self.state.dest;
        let Some(parent) = self.stack.pop() else {
            return;
        };
        if closing == Dest::StaticVal && parent.dest != Dest::StaticVal {
            let name = self.prop_name.trim().to_string();
            let value = std::mem::take(&mut self.prop_value);
            if !name.is_empty() {
                self.props.push((name, value));
            }
        }
        if closing == Dest::PropName && parent.dest != Dest::PropName {
            self.prop_value.clear();
        }
        if closing == Dest::FontTable && parent.dest != Dest::FontTable {
            self.table_font = -1;
        }
        self.state = parent;
    }

    fn new_buffer(&mut self, kind: PartKind, word: &str) -> Dest {
        let key: &'static str = match kind {
            PartKind::Footnote => "footnote",
            PartKind::Comment => "annotation",
            PartKind::Header => "header",
            _ => "footer",
        };
        let n = self.counts.entry(key).or_insert(0);
        *n += 1;
        let location = match kind {
            PartKind::Footnote | PartKind::Comment => format!("{key} {n}"),
            _ => word.to_string(),
        };
        self.buffers.push(Buffer {
            kind,
            location,
            text: String::new(),
        });
        Dest::Buffer(self.buffers.len() - 1)
    }

    fn info_field(&mut self, name: &str) -> Dest {
        self.info.push((name.to_string(), String::new()));
        Dest::InfoField(self.info.len() - 1)
    }

    /// Handles a control word; returns how many bytes of binary data follow (`\bin`).
    fn word(&mut self, word: &str, param: Option<i32>) -> usize {
        let first = !self.state.started;
        self.state.started = true;
        let skipping = self.state.dest == Dest::Skip;
        // Destinations are decided by the first word of a group.
        if first && !skipping {
            if let Some(dest) = self.destination(word) {
                self.flush();
                self.state.dest = dest;
                self.state.optional = false;
                return 0;
            }
            if self.state.optional {
                self.state.dest = Dest::Skip;
                return 0;
            }
        }
        match word {
            "bin" => {
                self.flush();
                return param.unwrap_or(0).max(0) as usize;
            }
            "uc" => {
                self.state.uc = param.unwrap_or(1).clamp(0, 16) as u32;
                return 0;
            }
            "ansicpg" => {
                if let Some(enc) = param.and_then(codepage) {
                    self.default_enc = enc;
                }
                return 0;
            }
            "f" => {
                self.flush();
                let f = param.unwrap_or(0);
                if self.state.dest == Dest::FontTable {
                    self.table_font = f;
                } else {
                    self.state.font = f;
                }
                return 0;
            }
            "fcharset" => {
                if self.state.dest == Dest::FontTable {
                    if let Some(enc) = param.and_then(charset) {
                        self.font_enc.insert(self.table_font, enc);
                    }
                }
                return 0;
            }
            _ => {}
        }
        if skipping
            || matches!(
                self.state.dest,
                Dest::FontTable | Dest::Info | Dest::UserProps
            )
        {
            if self.skip > 0 {
                self.skip -= 1;
            }
            return 0;
        }
        if word == "u" {
            let v = param.unwrap_or(0);
            let v = if v < 0 { v + 65_536 } else { v } as u32;
            self.flush();
            // Surrogate pairs arrive as two \u words; keep the pair together.
            if let Some(c) = char::from_u32(v) {
                self.push_char(c);
            } else if (0xd800..0xdc00).contains(&v) {
                self.pending_surrogate(v);
            } else if (0xdc00..0xe000).contains(&v) {
                self.finish_surrogate(v);
            }
            self.skip = self.state.uc;
            return 0;
        }
        if self.skip > 0 {
            self.skip -= 1;
            return 0;
        }
        let text = match word {
            "par" | "line" | "row" | "sect" | "page" | "softline" => "\n",
            "cell" | "nestcell" | "tab" => "\t",
            "emdash" => "—",
            "endash" => "–",
            "bullet" => "•",
            "lquote" => "‘",
            "rquote" => "’",
            "ldblquote" => "“",
            "rdblquote" => "”",
            "emspace" | "enspace" | "qmspace" => " ",
            _ => return 0,
        };
        self.flush();
        self.push_str(text);
        0
    }

    fn pending_surrogate(&mut self, hi: u32) {
        self.counts.insert("surrogate", hi as usize);
    }

    fn finish_surrogate(&mut self, lo: u32) {
        if let Some(hi) = self.counts.remove("surrogate") {
            let c = 0x10000 + ((hi as u32 - 0xd800) << 10) + (lo - 0xdc00);
            if let Some(c) = char::from_u32(c) {
                self.push_char(c);
            }
        }
    }

    /// The destination a group's first control word opens, if any.
    fn destination(&mut self, word: &str) -> Option<Dest> {
        let parent = self.state.dest;
        Some(match word {
            "fonttbl" => Dest::FontTable,
            "colortbl" | "stylesheet" | "pict" | "objdata" | "themedata" | "datastore"
            | "listtable" | "listoverridetable" | "rsidtbl" | "generator" | "latentstyles"
            | "xmlnstbl" | "filetbl" | "revtbl" | "fldinst" | "nonshppict" | "bkmkstart"
            | "bkmkend" | "pntxta" | "pntxtb" | "ftnsep" | "ftnsepc" | "aftnsep" | "aftnsepc"
            | "atnid" | "atnauthor" | "atndate" | "atnref" | "mmathPr" | "wgrffmtfilter"
            | "pgdsctbl" | "private" | "xe" | "tc" | "sp" | "sn" | "sv" | "passwordhash"
            | "protusertbl" | "background" | "defchp" | "defpap" | "panose" | "falt" | "fname"
            | "operator" | "version" | "vern" | "edmins" | "nofpages" | "nofwords" | "nofchars"
            | "nofcharsws" | "id" | "creatim" | "revtim" | "printim" | "buptim" | "hlinkbase"
            | "docvar" => Dest::Skip,
            "header" | "headerl" | "headerr" | "headerf" => {
                return Some(self.new_buffer(PartKind::Header, word))
            }
            "footer" | "footerl" | "footerr" | "footerf" => {
                return Some(self.new_buffer(PartKind::Footer, word))
            }
            "footnote" => return Some(self.new_buffer(PartKind::Footnote, word)),
            "annotation" => return Some(self.new_buffer(PartKind::Comment, word)),
            "info" => Dest::Info,
            "title" | "subject" | "author" | "keywords" | "doccomm" | "company" | "category"
            | "manager"
                if parent == Dest::Info || self.state.optional =>
            {
                let name = if word == "doccomm" { "comments" } else { word };
                return Some(self.info_field(name));
            }
            "userprops" => Dest::UserProps,
            "propname" if parent == Dest::UserProps => {
                self.prop_name.clear();
                Dest::PropName
            }
            "staticval" if parent == Dest::UserProps => Dest::StaticVal,
            "proptype" | "linkval" => Dest::Skip,
            "shppict" | "fldrslt" | "field" | "shp" | "shptxt" | "shpinst" | "txbxcontent"
            | "shprslt" => return None,
            _ => return None,
        })
    }

    fn run(&mut self, data: &[u8]) -> Result<(), ExtractError> {
        let mut i = 0;
        let mut tokens = 0u32;
        while i < data.len() {
            tokens += 1;
            if tokens.is_multiple_of(TOKENS_PER_CHECK) {
                self.budget.check_time()?;
            }
            let b = data[i];
            match b {
                b'{' => {
                    self.open_group();
                    i += 1;
                }
                b'}' => {
                    self.close_group();
                    i += 1;
                }
                b'\\' => {
                    i += 1;
                    let Some(&c) = data.get(i) else { break };
                    if c.is_ascii_alphabetic() {
                        let start = i;
                        while i < data.len() && data[i].is_ascii_alphabetic() && i - start < 32 {
                            i += 1;
                        }
                        let word = std::str::from_utf8(&data[start..i]).unwrap_or("");
                        let word = word.to_string();
                        let mut param = None;
                        let num_start = i;
                        if data.get(i) == Some(&b'-') {
                            i += 1;
                        }
                        while i < data.len() && data[i].is_ascii_digit() && i - num_start < 11 {
                            i += 1;
                        }
                        if i > num_start {
                            param = std::str::from_utf8(&data[num_start..i])
                                .ok()
                                .and_then(|s| s.parse::<i64>().ok())
                                .map(|v| v.clamp(i32::MIN as i64, i32::MAX as i64) as i32);
                        }
                        if data.get(i) == Some(&b' ') {
                            i += 1;
                        }
                        let bin = self.word(&word, param);
                        i = i.saturating_add(bin).min(data.len());
                    } else {
                        i += 1;
                        match c {
                            b'\'' => {
                                let hex = data.get(i..i + 2).and_then(|h| {
                                    std::str::from_utf8(h)
                                        .ok()
                                        .and_then(|s| u8::from_str_radix(s, 16).ok())
                                });
                                if let Some(v) = hex {
                                    i += 2;
                                    self.state.started = true;
                                    self.byte(v);
                                }
                            }
                            b'*' => {
                                self.state.optional = true;
                            }
                            b'\\' | b'{' | b'}' => {
                                self.state.started = true;
                                self.byte(c);
                            }
                            b'~' => {
                                self.state.started = true;
                                if self.skip > 0 {
                                    self.skip -= 1;
                                } else if self.writes_text() {
                                    self.push_char(' ');
                                }
                            }
                            b'_' => {
                                if self.skip > 0 {
                                    self.skip -= 1;
                                } else if self.writes_text() {
                                    self.push_char('-');
                                }
                            }
                            b'\r' | b'\n' if self.writes_text() => {
                                self.push_char('\n');
                            }
                            b'\t' if self.writes_text() => {
                                self.push_char('\t');
                            }
                            _ => {}
                        }
                    }
                }
                b'\r' | b'\n' => i += 1,
                _ => {
                    self.state.started = true;
                    self.byte(b);
                    i += 1;
                }
            }
        }
        self.flush();
        Ok(())
    }

    fn writes_text(&self) -> bool {
        !matches!(
            self.state.dest,
            Dest::Skip | Dest::FontTable | Dest::Info | Dest::UserProps
        )
    }
}

/// Normalises a text run: one line per paragraph, blank lines dropped.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split('\n') {
        let line = line.trim_end();
        if line.trim().is_empty() {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.pop();
    out
}

pub fn extract(bytes: &[u8], budget: &Budget) -> Extracted {
    let mut out = Extracted::default();
    if !bytes.starts_with(b"{\\rtf") {
        // Leading white space or a BOM is tolerated; anything else is not RTF.
        let trimmed = bytes
            .iter()
            .position(|&b| b == b'{')
            .filter(|&p| p < 16 && bytes[p..].starts_with(b"{\\rtf"));
        if trimmed.is_none() {
            return Extracted::failed(ExtractError::corrupt("RTF header not found"));
        }
    }
    let mut s = Stripper::new(budget);
    let result = s.run(bytes);
    out.parts_read.push("rtf".to_string());
    out.push_part(PartKind::Body, "body", tidy(&s.body));
    for buf in std::mem::take(&mut s.buffers) {
        out.push_part(buf.kind, buf.location, tidy(&buf.text));
    }
    for (name, value) in std::mem::take(&mut s.info) {
        out.push_property(name, value.trim().to_string(), INFO);
    }
    for (name, value) in std::mem::take(&mut s.props) {
        out.push_property(name, value.trim().to_string(), USERPROPS);
    }
    if let Err(e) = result {
        out.error = Some(e);
    } else if s.chars >= s.max_chars {
        // The text stopped at the document's limit; tidying may have made
        // it shorter than the limit, so say so here.
        out.error = Some(ExtractError::limit(
            "the document's text exceeds the limit; the rest was not read",
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::budget::Limits;

    fn run(rtf: &str) -> Extracted {
        extract(rtf.as_bytes(), &Budget::new(Limits::default()))
    }

    #[test]
    fn text_past_the_limit_is_limit_exceeded_not_cut_silently() {
        let limits = Limits {
            max_text_chars: 1000,
            ..Limits::default()
        };
        let rtf = format!("{{\\rtf1\\ansi {}}}", "some words   \\par\n".repeat(200));
        let out = extract(rtf.as_bytes(), &Budget::new(limits));
        assert_eq!(
            out.error.unwrap().kind,
            super::super::ErrorKind::LimitExceeded
        );
        let out = extract(rtf.as_bytes(), &Budget::new(Limits::default()));
        assert_eq!(out.error, None);
    }

    #[test]
    fn body_header_footer_footnote_annotation() {
        let rtf = r"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0\fswiss Arial;}}{\colortbl;\red0\green0\blue0;}
{\stylesheet{\s0 Normal;}}{\*\generator Msftedit;}
{\header \pard\qc CONFIDENTIAL // TLP:AMBER\par}
{\footerf \pard Page footer\par}
\pard First para\par Second {\b bold} para{\footnote \pard Note text}\par
{\*\annotation {\*\atnid JD}Looks fine}
{\pict\wmetafile8 0a0b0c0d}Tab\tab end\line next\par}";
        let out = run(rtf);
        assert_eq!(out.error, None);
        assert_eq!(
            out.texts_of(PartKind::Body),
            vec!["First para\nSecond bold para\nTab\tend\nnext"]
        );
        assert_eq!(
            out.texts_of(PartKind::Header),
            vec!["CONFIDENTIAL // TLP:AMBER"]
        );
        assert_eq!(out.texts_of(PartKind::Footer), vec!["Page footer"]);
        assert_eq!(out.texts_of(PartKind::Footnote), vec!["Note text"]);
        assert_eq!(out.texts_of(PartKind::Comment), vec!["Looks fine"]);
        assert_eq!(out.parts[1].location, "header");
    }

    #[test]
    fn unicode_codepages_and_skip_counts() {
        let rtf = r"{\rtf1\ansi\ansicpg1251{\fonttbl{\f0\fcharset0 Arial;}{\f1\fcharset238 Arial CE;}}
\f0 Caf\'e9 \u8364\'80 {\uc2\u26085\'93\'fa} \f1 \'9es\u-3\'3f end\par}";
        let out = run(rtf);
        // \f0 is charset 0 (1252): é; \u8364 skips its \'80 replacement;
        // \uc2 skips two bytes; \f1 is 1250: \'9e is ž; \u-3 is U+FFFD.
        assert_eq!(
            out.texts_of(PartKind::Body),
            vec!["Café € 日 žs\u{fffd} end"]
        );
    }

    #[test]
    fn info_and_userprops() {
        let rtf = r"{\rtf1\ansi{\info{\title Quarterly \'e9tude}{\author Ann}{\doccomm Notes}{\*\company ACME}{\operator Bob}{\creatim\yr2020\mo1}}
{\*\userprops {\propname MSIP_Label_abc_Enabled}\proptype30{\staticval True}
{\propname Classification}\proptype30{\staticval Internal}}
Body\par}";
        let out = run(rtf);
        let get = |n: &str| {
            out.properties
                .iter()
                .find(|p| p.name == n)
                .map(|p| (p.value.as_str(), p.location.as_str()))
        };
        assert_eq!(get("title"), Some(("Quarterly étude", "RTF info")));
        assert_eq!(get("author"), Some(("Ann", "RTF info")));
        assert_eq!(get("comments"), Some(("Notes", "RTF info")));
        assert_eq!(get("company"), Some(("ACME", "RTF info")));
        assert_eq!(get("operator"), None);
        assert_eq!(
            get("MSIP_Label_abc_Enabled"),
            Some(("True", "RTF userprops"))
        );
        assert_eq!(get("Classification"), Some(("Internal", "RTF userprops")));
        assert_eq!(out.texts_of(PartKind::Body), vec!["Body"]);
    }

    #[test]
    fn deep_nesting_and_binary_do_not_break() {
        let mut rtf = String::from(r"{\rtf1 ");
        rtf.push_str(&"{".repeat(200_000));
        rtf.push_str("deep");
        rtf.push_str(&"}".repeat(200_000));
        rtf.push_str(r"{\*\objdata \bin4 }}}}}after\par}");
        let out = run(&rtf);
        assert_eq!(out.texts_of(PartKind::Body), vec!["deepafter"]);
        let bad = extract(b"not rtf", &Budget::new(Limits::default()));
        assert!(bad.error.is_some());
        // Truncated input never panics.
        let src = r"{\rtf1{\info{\title T\'e";
        for cut in 0..src.len() {
            let _ = run(&src[..cut]);
        }
    }
}
