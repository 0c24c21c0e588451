//! Excel number formats: a numeric cell's value as Excel displays it, so
//! that the text labelscan reads is the text a person reads (`01-Mar-2023`,
//! not `44986`; `12.5%`, not `0.125`; `0.6901686684`, not the 17 digits of
//! the stored double, whose digits looked like a card number).
//!
//! A format code (`#,##0.00;[Red](#,##0.00)`, `d-mmm-yy`, `0.0,,"M"`) is
//! compiled once per workbook style into sections of tokens; rendering a
//! cell writes into the caller's `String` with no allocation of its own.
//! Shared by the xlsx (`styles.xml`) and .xls (FORMAT/XF records) readers.
//!
//! Deliberate differences from Excel: text padding (`_x`) and fill (`*x`)
//! write nothing, as a column width is no text; colours are dropped; and
//! `General` writes whole numbers of up to 15 digits in full (Excel shows
//! `1.23457E+11` in the cell but the full number in the formula bar, and
//! an account number typed as a number must stay visible to detectors).

use std::fmt::Write as _;

/// Number format ids Excel does not store in a workbook (ECMA-376
/// 18.8.30), with the en-US forms Excel shows for the locale-dependent ones.
pub fn builtin(id: u16) -> Option<&'static str> {
    Some(match id {
        0 => "General",
        1 => "0",
        2 => "0.00",
        3 => "#,##0",
        4 => "#,##0.00",
        5 => "\"$\"#,##0_);(\"$\"#,##0)",
        6 => "\"$\"#,##0_);[Red](\"$\"#,##0)",
        7 => "\"$\"#,##0.00_);(\"$\"#,##0.00)",
        8 => "\"$\"#,##0.00_);[Red](\"$\"#,##0.00)",
        9 => "0%",
        10 => "0.00%",
        11 => "0.00E+00",
        12 => "# ?/?",
        13 => "# ??/??",
        14 => "m/d/yyyy",
        15 => "d-mmm-yy",
        16 => "d-mmm",
        17 => "mmm-yy",
        18 => "h:mm AM/PM",
        19 => "h:mm:ss AM/PM",
        20 => "h:mm",
        21 => "h:mm:ss",
        22 => "m/d/yyyy h:mm",
        // East Asian date formats: the ISO-like order of their locales.
        27..=36 | 50..=58 => "yyyy/m/d",
        37 => "#,##0 ;(#,##0)",
        38 => "#,##0 ;[Red](#,##0)",
        39 => "#,##0.00;(#,##0.00)",
        40 => "#,##0.00;[Red](#,##0.00)",
        41 => "_(* #,##0_);_(* \\(#,##0\\);_(* \"-\"_);_(@_)",
        42 => "_(\"$\"* #,##0_);_(\"$\"* \\(#,##0\\);_(\"$\"* \"-\"_);_(@_)",
        43 => "_(* #,##0.00_);_(* \\(#,##0.00\\);_(* \"-\"??_);_(@_)",
        44 => "_(\"$\"* #,##0.00_);_(\"$\"* \\(#,##0.00\\);_(\"$\"* \"-\"??_);_(@_)",
        45 => "mm:ss",
        46 => "[h]:mm:ss",
        47 => "mm:ss.0",
        48 => "##0.0E+0",
        49 => "@",
        _ => return None,
    })
}

/// The number formats of a workbook's cell styles: each format id the
/// styles use, compiled once, and per style an index into them.
#[derive(Debug)]
pub struct StyleFormats {
    /// Distinct formats; the first is General.
    formats: Vec<NumFmt>,
    /// Per cell style (xlsx `cellXfs` entry, xls XF record), an index into
    /// `formats`.
    by_style: Vec<u32>,
}

impl Default for StyleFormats {
    fn default() -> Self {
        StyleFormats {
            formats: vec![NumFmt::general()],
            by_style: Vec::new(),
        }
    }
}

impl StyleFormats {
    /// Compiles the format of each style from its format id: a custom code
    /// (`custom`, the last one of an id wins), else a built-in one, else
    /// General.
    pub fn compile(custom: &[(u16, String)], style_format_ids: &[u16]) -> StyleFormats {
        let mut styles = StyleFormats::default();
        let mut compiled: Vec<(u16, u32)> = vec![(0, 0)];
        for &id in style_format_ids {
            let index = match compiled.iter().find(|(i, _)| *i == id) {
                Some(&(_, index)) => index,
                None => {
                    let code = custom
                        .iter()
                        .rev()
                        .find(|(i, _)| *i == id)
                        .map(|(_, c)| c.as_str())
                        .or_else(|| builtin(id))
                        .unwrap_or("General");
                    styles.formats.push(NumFmt::parse(code));
                    let index = (styles.formats.len() - 1) as u32;
                    compiled.push((id, index));
                    index
                }
            };
            styles.by_style.push(index);
        }
        styles
    }

    /// The format of cell style `style`; General for an unknown one.
    pub fn of_style(&self, style: usize) -> &NumFmt {
        let i = self.by_style.get(style).copied().unwrap_or(0);
        &self.formats[i as usize]
    }
}

/// Excel's error values (MS-XLS 2.5.10 BErr) by their code.
pub fn error_text(code: u8) -> &'static str {
    match code {
        0x00 => "#NULL!",
        0x07 => "#DIV/0!",
        0x0F => "#VALUE!",
        0x17 => "#REF!",
        0x1D => "#NAME?",
        0x24 => "#NUM!",
        0x2A => "#N/A",
        0x2B => "#GETTING_DATA",
        _ => "#ERROR",
    }
}

/// A compiled number format.
#[derive(Debug, Clone)]
pub struct NumFmt {
    sections: Vec<Section>,
    general: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

#[derive(Debug, Clone, Default)]
struct Section {
    tokens: Vec<Tok>,
    condition: Option<(Cmp, f64)>,
    date: bool,
    /// A 12-hour clock (an AM/PM token is present).
    twelve_hour: bool,
    int_places: usize,
    frac_places: usize,
    grouping: bool,
    /// Each trailing comma divides by 1,000 (`0.0,,"M"`).
    scale: i32,
    percent: i32,
    exponent: bool,
    fraction: bool,
    /// Decimals of seconds shown (`ss.00`).
    second_decimals: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(String),
    /// A digit placeholder before the decimal point: `0`, `#` or `?`.
    Int(u8),
    Point,
    Frac(u8),
    /// `E+` / `E-` (shows `+` for positive exponents when true).
    Exp(bool),
    ExpDigit(u8),
    /// A fraction's numerator and denominator placeholders, or a fixed
    /// denominator (`# ?/8`).
    Numer(u8),
    Slash,
    Denom(u8),
    FixedDenom(u32),
    General,
    Text,
    /// A comma: grouping or scaling in numbers (see [`commas`]), a
    /// literal in dates.
    Comma,
    Date(DatePart),
    AmPm(bool),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum DatePart {
    Year2,
    Year4,
    Month,
    Month2,
    MonthAbbr,
    MonthName,
    MonthLetter,
    Day,
    Day2,
    DayAbbr,
    DayName,
    Hour,
    Hour2,
    Minute,
    Minute2,
    Second,
    Second2,
    ElapsedHours(u8),
    ElapsedMinutes(u8),
    ElapsedSeconds(u8),
    SecondFraction(u8),
}

impl NumFmt {
    /// The `General` format.
    pub fn general() -> NumFmt {
        NumFmt {
            sections: Vec::new(),
            general: true,
        }
    }

    /// Compiles a format code. Codes it cannot make sense of read as General.
    pub fn parse(code: &str) -> NumFmt {
        let code = code.trim();
        if code.is_empty() || code.eq_ignore_ascii_case("general") {
            return NumFmt::general();
        }
        let sections: Vec<Section> = split_sections(code)
            .into_iter()
            .take(4)
            .map(compile_section)
            .collect();
        NumFmt {
            general: false,
            sections,
        }
    }

    /// Whether the format is plain `General`.
    pub fn is_general(&self) -> bool {
        self.general
    }

    /// Whether the format shows dates or times.
    pub fn is_date(&self) -> bool {
        self.sections.first().is_some_and(|s| s.date)
    }

    /// Writes `value` as this format shows it. `date1904`: the workbook
    /// counts days from 1904-01-01 (Mac Excel) rather than 1900-01-00.
    pub fn write(&self, value: f64, date1904: bool, out: &mut String) {
        if self.general || !value.is_finite() {
            write_general(value, out);
            return;
        }
        let (section, signed) = self.pick(value);
        let Some(section) = section else {
            write_general(value, out);
            return;
        };
        let start = out.len();
        if section.date {
            if !write_date(section, value, date1904, out) {
                out.truncate(start);
                write_general(value, out);
            }
        } else {
            let v = if signed { value } else { value.abs() };
            write_number(section, v, out);
        }
        trim_spaces(out, start);
    }

    /// The section for `value`, and whether it shows the value's sign
    /// itself (a negative number in a section of its own is shown without
    /// a minus, which that section writes as it likes: `(1,234)`).
    fn pick(&self, value: f64) -> (Option<&Section>, bool) {
        let s = &self.sections;
        let numeric: Vec<&Section> = s.iter().filter(|x| !is_text_section(x)).collect();
        if s.iter().any(|x| x.condition.is_some()) {
            // Conditional sections (`[<=9999999]###-####;(###) ###-####`):
            // the first whose condition holds, else the first without one.
            let chosen = numeric
                .iter()
                .find(|sec| sec.condition.is_none_or(|(cmp, n)| compare(value, cmp, n)));
            return (chosen.copied(), true);
        }
        match (numeric.len(), value) {
            (0, _) => (None, true),
            (1, _) => (Some(numeric[0]), true),
            (_, v) if v > 0.0 => (Some(numeric[0]), true),
            (_, v) if v < 0.0 => (Some(numeric[1]), false),
            (2, _) => (Some(numeric[0]), true),
            (_, _) => (Some(numeric[2]), true),
        }
    }
}

fn compare(v: f64, cmp: Cmp, n: f64) -> bool {
    match cmp {
        Cmp::Lt => v < n,
        Cmp::Le => v <= n,
        Cmp::Gt => v > n,
        Cmp::Ge => v >= n,
        Cmp::Eq => v == n,
        Cmp::Ne => v != n,
    }
}

fn is_text_section(s: &Section) -> bool {
    s.tokens.contains(&Tok::Text)
}

/// Drops the padding spaces a section wrote around the value.
fn trim_spaces(out: &mut String, start: usize) {
    let keep = out.trim_end_matches(' ').len();
    out.truncate(keep.max(start));
    let lead = out[start..].len() - out[start..].trim_start_matches(' ').len();
    if lead > 0 {
        out.replace_range(start..start + lead, "");
    }
}

/// Splits a code at the `;` that are not quoted, escaped or bracketed.
fn split_sections(code: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut bracket, mut escaped) = (false, false, false);
    let mut start = 0;
    for (i, c) in code.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if !quoted => escaped = true,
            '"' => quoted = !quoted,
            '[' if !quoted => bracket = true,
            ']' if !quoted => bracket = false,
            ';' if !quoted && !bracket => {
                out.push(&code[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&code[start..]);
    out
}

fn compile_section(code: &str) -> Section {
    let mut sec = Section {
        tokens: tokenize(code),
        ..Section::default()
    };
    sec.condition = condition_of(code);
    sec.date = sec.tokens.iter().any(|t| matches!(t, Tok::Date(_)));
    if sec.date {
        settle_minutes(&mut sec.tokens);
        sec.twelve_hour = sec.tokens.iter().any(|t| matches!(t, Tok::AmPm(_)));
        sec.second_decimals = sec
            .tokens
            .iter()
            .find_map(|t| match t {
                Tok::Date(DatePart::SecondFraction(n)) => Some(usize::from(*n)),
                _ => None,
            })
            .unwrap_or(0);
        return sec;
    }
    lay_out_number(&mut sec, code);
    sec
}

/// The `[>100]`-style condition of a section.
fn condition_of(code: &str) -> Option<(Cmp, f64)> {
    let open = code.find('[')?;
    let rest = &code[open + 1..];
    let inner = &rest[..rest.find(']')?];
    let (cmp, num) = [
        ("<=", Cmp::Le),
        (">=", Cmp::Ge),
        ("<>", Cmp::Ne),
        ("<", Cmp::Lt),
        (">", Cmp::Gt),
        ("=", Cmp::Eq),
    ]
    .iter()
    .find_map(|(p, c)| inner.strip_prefix(p).map(|n| (*c, n)))?;
    Some((cmp, num.trim().parse().ok()?))
}

/// Numbers the placeholders of a number section: digits before and after
/// the point, grouping, scaling commas, percent, exponent, fraction.
fn lay_out_number(sec: &mut Section, code: &str) {
    let mut after_point = false;
    let mut in_exp = false;
    let mut slash_seen = false;
    let mut toks = Vec::with_capacity(sec.tokens.len());
    for t in std::mem::take(&mut sec.tokens) {
        let t = match t {
            Tok::Comma => continue,
            Tok::Int(p) if in_exp => Tok::ExpDigit(p),
            Tok::Int(p) if slash_seen => Tok::Denom(p),
            Tok::Int(p) if after_point => Tok::Frac(p),
            Tok::Point if !after_point && !in_exp => {
                after_point = true;
                Tok::Point
            }
            Tok::Exp(plus) => {
                in_exp = true;
                Tok::Exp(plus)
            }
            Tok::Slash => {
                slash_seen = true;
                Tok::Slash
            }
            Tok::Lit(s) if slash_seen && s.bytes().all(|b| b.is_ascii_digit()) => {
                Tok::FixedDenom(s.parse().unwrap_or(1).max(1))
            }
            other => other,
        };
        toks.push(t);
    }
    if slash_seen {
        mark_numerator(&mut toks);
    }
    sec.fraction = slash_seen && toks.iter().any(|t| matches!(t, Tok::Numer(_)));
    if slash_seen && !sec.fraction {
        // A `/` with no digits before it is a literal.
        for t in &mut toks {
            if *t == Tok::Slash {
                *t = Tok::Lit("/".into());
            }
        }
    }
    sec.exponent = in_exp;
    sec.int_places = toks.iter().filter(|t| matches!(t, Tok::Int(_))).count();
    sec.frac_places = toks.iter().filter(|t| matches!(t, Tok::Frac(_))).count();
    sec.percent = toks.iter().filter(|t| **t == Tok::Lit("%".into())).count() as i32;
    let (grouping, scale) = commas(code);
    sec.grouping = grouping;
    sec.scale = scale;
    sec.tokens = toks;
}

/// In `# ??/??`, the placeholders right before the slash are the
/// numerator; those before them (after a space) the integer part.
fn mark_numerator(toks: &mut [Tok]) {
    let Some(slash) = toks.iter().position(|t| *t == Tok::Slash) else {
        return;
    };
    let mut i = slash;
    while i > 0 {
        match toks[i - 1] {
            Tok::Int(p) => toks[i - 1] = Tok::Numer(p),
            _ => break,
        }
        i -= 1;
    }
}

/// Grouping (a comma between digit placeholders) and scaling (commas right
/// after the last digit placeholder before the point or the end).
fn commas(code: &str) -> (bool, i32) {
    let b = code.as_bytes();
    let mut grouping = false;
    let mut scale = 0;
    let (mut quoted, mut bracket, mut i) = (false, false, 0);
    while i < b.len() {
        let c = b[i];
        match c {
            b'"' => quoted = !quoted,
            b'[' if !quoted => bracket = true,
            b']' if !quoted => bracket = false,
            b'\\' | b'_' | b'*' if !quoted => i += 1,
            b',' if !quoted && !bracket => {
                let prev_digit = i > 0 && matches!(b[i - 1], b'0' | b'#' | b'?' | b',');
                let next = b[i + 1..].iter().find(|&&x| x != b',');
                let next_digit = matches!(next, Some(b'0' | b'#' | b'?'));
                if prev_digit && next_digit {
                    grouping = true;
                } else if prev_digit {
                    scale += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    (grouping, scale)
}

/// `m` and `mm` are minutes right after an hour or right before seconds.
fn settle_minutes(toks: &mut [Tok]) {
    let dates: Vec<usize> = (0..toks.len())
        .filter(|&i| matches!(toks[i], Tok::Date(_)))
        .collect();
    for (k, &i) in dates.iter().enumerate() {
        let Tok::Date(part @ (DatePart::Month | DatePart::Month2)) = toks[i] else {
            continue;
        };
        let prev = k.checked_sub(1).map(|p| &toks[dates[p]]);
        let next = dates.get(k + 1).map(|&n| &toks[n]);
        let after_hour = matches!(
            prev,
            Some(Tok::Date(
                DatePart::Hour | DatePart::Hour2 | DatePart::ElapsedHours(_)
            ))
        );
        let before_second = matches!(
            next,
            Some(Tok::Date(
                DatePart::Second | DatePart::Second2 | DatePart::ElapsedSeconds(_)
            ))
        );
        if after_hour || before_second {
            toks[i] = Tok::Date(if part == DatePart::Month {
                DatePart::Minute
            } else {
                DatePart::Minute2
            });
        }
    }
}

fn tokenize(code: &str) -> Vec<Tok> {
    let chars: Vec<char> = code.chars().collect();
    let mut toks: Vec<Tok> = Vec::new();
    let mut lit = |toks: &mut Vec<Tok>, s: &str| match toks.last_mut() {
        Some(Tok::Lit(l)) => l.push_str(s),
        _ => toks.push(Tok::Lit(s.to_string())),
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let rest = &chars[i..];
        let run = |ch: char| {
            rest.iter()
                .take_while(|x| x.eq_ignore_ascii_case(&ch))
                .count()
        };
        match c {
            '"' => {
                let end = rest[1..]
                    .iter()
                    .position(|&x| x == '"')
                    .map_or(rest.len(), |p| p + 1);
                let s: String = rest[1..end].iter().collect();
                lit(&mut toks, &s);
                i += end + 1;
                continue;
            }
            '\\' => {
                if let Some(n) = rest.get(1) {
                    lit(&mut toks, &n.to_string());
                }
                i += 2;
                continue;
            }
            '_' => {
                i += 2;
                continue;
            }
            '*' => {
                // A fill of spaces reads as one space (`"$"* #,##0`).
                if rest.get(1) == Some(&' ') {
                    lit(&mut toks, " ");
                }
                i += 2;
                continue;
            }
            '[' => {
                let end = rest.iter().position(|&x| x == ']').unwrap_or(rest.len());
                let inner: String = rest[1..end.max(1)].iter().collect();
                bracket(&inner, &mut toks, &mut lit);
                i += end + 1;
                continue;
            }
            '0' | '#' | '?' => toks.push(Tok::Int(c as u8)),
            '.' => {
                // `ss.00`: decimals of seconds.
                let zeros = rest[1..].iter().take_while(|&&x| x == '0').count();
                let after_seconds = matches!(
                    toks.last(),
                    Some(Tok::Date(
                        DatePart::Second | DatePart::Second2 | DatePart::ElapsedSeconds(_)
                    ))
                );
                if after_seconds && zeros > 0 {
                    toks.push(Tok::Date(DatePart::SecondFraction(zeros.min(3) as u8)));
                    i += 1 + zeros;
                    continue;
                }
                toks.push(Tok::Point);
            }
            ',' => toks.push(Tok::Comma),
            '/' => toks.push(Tok::Slash),
            '@' => toks.push(Tok::Text),
            'E' | 'e' if matches!(rest.get(1), Some('+' | '-')) => {
                toks.push(Tok::Exp(rest[1] == '+'));
                i += 2;
                continue;
            }
            'G' | 'g' if starts_with_ci(rest, "general") => {
                toks.push(Tok::General);
                i += 7;
                continue;
            }
            'A' | 'a' if starts_with_ci(rest, "am/pm") => {
                toks.push(Tok::AmPm(true));
                i += 5;
                continue;
            }
            'A' | 'a' if starts_with_ci(rest, "a/p") => {
                toks.push(Tok::AmPm(false));
                i += 3;
                continue;
            }
            'y' | 'Y' | 'e' => {
                let n = if c == 'e' { 4 } else { run('y') };
                toks.push(Tok::Date(if n <= 2 {
                    DatePart::Year2
                } else {
                    DatePart::Year4
                }));
                i += n.max(1);
                continue;
            }
            'm' | 'M' => {
                let n = run('m');
                toks.push(Tok::Date(match n {
                    1 => DatePart::Month,
                    2 => DatePart::Month2,
                    3 => DatePart::MonthAbbr,
                    5 => DatePart::MonthLetter,
                    _ => DatePart::MonthName,
                }));
                i += n;
                continue;
            }
            'd' | 'D' => {
                let n = run('d');
                toks.push(Tok::Date(match n {
                    1 => DatePart::Day,
                    2 => DatePart::Day2,
                    3 => DatePart::DayAbbr,
                    _ => DatePart::DayName,
                }));
                i += n;
                continue;
            }
            'h' | 'H' => {
                let n = run('h');
                toks.push(Tok::Date(if n == 1 {
                    DatePart::Hour
                } else {
                    DatePart::Hour2
                }));
                i += n;
                continue;
            }
            's' | 'S' => {
                let n = run('s');
                toks.push(Tok::Date(if n == 1 {
                    DatePart::Second
                } else {
                    DatePart::Second2
                }));
                i += n;
                continue;
            }
            other => lit(&mut toks, &other.to_string()),
        }
        i += 1;
    }
    toks
}

fn starts_with_ci(chars: &[char], word: &str) -> bool {
    chars.len() >= word.len()
        && chars
            .iter()
            .zip(word.chars())
            .all(|(a, b)| a.eq_ignore_ascii_case(&b))
}

/// `[h]`, `[mm]`, `[ss]` elapsed time; `[$€-407]` currency; colours,
/// conditions and locales write nothing.
fn bracket(inner: &str, toks: &mut Vec<Tok>, lit: &mut impl FnMut(&mut Vec<Tok>, &str)) {
    let lower = inner.to_ascii_lowercase();
    let len = lower.len().min(2) as u8;
    if !lower.is_empty() && lower.bytes().all(|b| b == b'h') {
        toks.push(Tok::Date(DatePart::ElapsedHours(len)));
    } else if !lower.is_empty() && lower.bytes().all(|b| b == b'm') {
        toks.push(Tok::Date(DatePart::ElapsedMinutes(len)));
    } else if !lower.is_empty() && lower.bytes().all(|b| b == b's') {
        toks.push(Tok::Date(DatePart::ElapsedSeconds(len)));
    } else if let Some(cur) = inner.strip_prefix('$') {
        let symbol = cur.split('-').next().unwrap_or("");
        if !symbol.is_empty() {
            lit(toks, symbol);
        }
    }
}

// ---------------------------------------------------------------------------
// Numbers

/// Significant digits of a double as Excel keeps them (15), as a decimal:
/// `value = 0.d1 d2 ... × 10^point`.
#[derive(Clone, Copy)]
struct Digits {
    d: [u8; 17],
    len: usize,
    /// Digits before the decimal point (negative: zeros after it first).
    point: i32,
}

impl Digits {
    fn of(v: f64) -> Digits {
        let mut buf = StackStr::<40>::new();
        let _ = write!(buf, "{:.14e}", v.abs());
        let s = buf.as_str();
        let (mantissa, exp) = s.split_once('e').unwrap_or((s, "0"));
        let mut d = [0u8; 17];
        let mut len = 0;
        for b in mantissa.bytes().filter(u8::is_ascii_digit) {
            d[len] = b - b'0';
            len += 1;
        }
        let exp: i32 = exp.parse().unwrap_or(0);
        let mut digits = Digits {
            d,
            len,
            point: exp + 1,
        };
        digits.trim();
        if digits.len == 0 {
            digits.point = 0;
        }
        digits
    }

    fn trim(&mut self) {
        while self.len > 0 && self.d[self.len - 1] == 0 {
            self.len -= 1;
        }
    }

    /// Rounds half away from zero to `keep` significant digits.
    fn round_significant(&mut self, keep: i32) {
        if keep < 0 {
            self.len = 0;
            return;
        }
        let keep = keep as usize;
        if self.len <= keep {
            return;
        }
        let up = self.d[keep] >= 5;
        self.len = keep;
        if up {
            let mut i = keep;
            loop {
                if i == 0 {
                    // 9.99 -> 10.0
                    self.d.copy_within(0..self.len, 1);
                    self.d[0] = 1;
                    self.len += 1;
                    self.point += 1;
                    break;
                }
                i -= 1;
                if self.d[i] == 9 {
                    self.d[i] = 0;
                } else {
                    self.d[i] += 1;
                    break;
                }
            }
        }
        self.trim();
    }

    /// Rounds half away from zero to `decimals` places after the point.
    fn round_decimals(&mut self, decimals: i32) {
        let keep = self.point + decimals;
        if keep < 0 {
            self.len = 0;
        } else if keep == 0 {
            // 0.5 with no decimals rounds to 1.
            if self.len > 0 && self.d[0] >= 5 {
                self.d[0] = 1;
                self.len = 1;
                self.point += 1;
            } else {
                self.len = 0;
            }
        } else {
            self.round_significant(keep);
        }
        if self.len == 0 {
            self.point = 0;
        }
    }

    /// The digit at `pos` places before the point (1: units) or after it
    /// (0: tenths, -1: hundredths).
    fn at(&self, pos: i32) -> u8 {
        let i = self.point - pos;
        if i < 0 || i as usize >= self.len {
            0
        } else {
            self.d[i as usize]
        }
    }

    fn int_len(&self) -> usize {
        if self.len == 0 {
            0
        } else {
            self.point.max(0) as usize
        }
    }

    fn is_zero(&self) -> bool {
        self.len == 0
    }
}

/// Excel's `General`: up to 11 characters (10 significant digits with the
/// point), scientific for very large and very small numbers.
pub fn write_general(v: f64, out: &mut String) {
    if !v.is_finite() {
        out.push_str(if v.is_nan() { "#NUM!" } else { "#DIV/0!" });
        return;
    }
    let mut d = Digits::of(v);
    if d.is_zero() {
        out.push('0');
        return;
    }
    if v < 0.0 {
        out.push('-');
    }
    let whole = d.len as i32 <= d.point;
    if d.point > 11 && !(whole && d.point <= 15) {
        write_scientific_general(d, out);
        return;
    }
    if d.point >= 1 {
        // 10 digits in all, or the whole integer part.
        d.round_decimals((10 - d.point).max(0));
    } else {
        let mut fixed = d;
        fixed.round_decimals(9);
        // Lost significance (0.0000123456): Excel goes scientific.
        let lost = fixed.len < d.len.min(6) || fixed.is_zero();
        if d.point < -3 && lost {
            write_scientific_general(d, out);
            return;
        }
        d = fixed;
        if d.is_zero() {
            out.truncate(out.len() - usize::from(v < 0.0));
            out.push('0');
            return;
        }
    }
    write_plain(&d, out);
}

fn write_scientific_general(mut d: Digits, out: &mut String) {
    d.round_significant(6);
    let exp = d.point - 1;
    out.push(char::from(b'0' + d.d[0]));
    if d.len > 1 {
        out.push('.');
        for &x in &d.d[1..d.len] {
            out.push(char::from(b'0' + x));
        }
    }
    let _ = write!(
        out,
        "E{}{:02}",
        if exp < 0 { '-' } else { '+' },
        exp.unsigned_abs()
    );
}

/// Digits with a point where needed, no grouping, no padding.
fn write_plain(d: &Digits, out: &mut String) {
    let int_len = d.int_len();
    if int_len == 0 {
        out.push('0');
    }
    for p in (1..=int_len as i32).rev() {
        out.push(char::from(b'0' + d.at(p)));
    }
    let frac = d.len as i32 - d.point;
    if frac > 0 {
        out.push('.');
        for p in 0..frac {
            out.push(char::from(b'0' + d.at(-p)));
        }
    }
}

fn write_number(sec: &Section, value: f64, out: &mut String) {
    if sec.tokens.contains(&Tok::General)
        && sec.int_places == 0
        && sec.frac_places == 0
        && !sec.fraction
    {
        // `"$"General`, `[Red]General`: literals around a General number.
        let mut scratch_sign = value;
        for t in &sec.tokens {
            match t {
                Tok::General => {
                    write_general(scratch_sign, out);
                    scratch_sign = 0.0;
                }
                Tok::Lit(s) => out.push_str(s),
                _ => {}
            }
        }
        return;
    }
    let mut v = value * 100f64.powi(sec.percent) / 1000f64.powi(sec.scale);
    if v < 0.0 {
        out.push('-');
        v = -v;
    }
    if sec.fraction {
        write_fraction(sec, v, out);
        return;
    }
    let mut exp = 0i32;
    if sec.exponent && v != 0.0 {
        let d = Digits::of(v);
        let int_places = sec.int_places.max(1) as i32;
        let engineering = int_places > 1 && sec.tokens.iter().any(|t| matches!(t, Tok::Int(b'#')));
        exp = if engineering {
            (d.point - 1).div_euclid(int_places) * int_places
        } else {
            d.point - int_places
        };
        v /= 10f64.powi(exp);
    }
    let mut d = Digits::of(v);
    d.round_decimals(sec.frac_places as i32);
    if sec.exponent && d.int_len() > sec.int_places.max(1) && !sec.tokens.contains(&Tok::Int(b'#'))
    {
        // 9.999 rounded to 10.00: one more power of ten.
        exp += 1;
        d = Digits::of(v / 10.0);
        d.round_decimals(sec.frac_places as i32);
    }
    if d.is_zero() && out.ends_with('-') {
        // -0.001 shown with no decimals is 0, not -0.
        out.pop();
    }
    write_digits(sec, &d, exp, out);
}

/// Walks the tokens, putting the digits in the placeholders.
fn write_digits(sec: &Section, d: &Digits, exp: i32, out: &mut String) {
    let int_len = d.int_len();
    let mut int_seen = 0usize;
    let mut frac_seen = 0i32;
    let last_shown_frac = last_nonzero_decimal(d, sec.frac_places);
    let mut exp_digits_seen = 0usize;
    let exp_places = sec
        .tokens
        .iter()
        .filter(|t| matches!(t, Tok::ExpDigit(_)))
        .count();
    for t in &sec.tokens {
        match t {
            Tok::Int(p) => {
                let pos = sec.int_places - int_seen; // 1 = units
                int_seen += 1;
                if int_seen == 1 && int_len > pos {
                    // The first placeholder takes every extra digit.
                    for q in (pos + 1..=int_len).rev() {
                        push_int_digit(out, d.at(q as i32), q, sec.grouping);
                    }
                }
                if pos <= int_len {
                    push_int_digit(out, d.at(pos as i32), pos, sec.grouping);
                } else {
                    match p {
                        b'0' => push_int_digit(out, 0, pos, sec.grouping),
                        b'?' => out.push(' '),
                        _ => {}
                    }
                }
            }
            Tok::Point => out.push('.'),
            Tok::Frac(p) => {
                let digit = d.at(-frac_seen);
                let shown = frac_seen < last_shown_frac;
                frac_seen += 1;
                match (p, shown) {
                    (_, true) | (b'0', _) => out.push(char::from(b'0' + digit)),
                    (b'?', false) => out.push(' '),
                    _ => {}
                }
            }
            Tok::Exp(plus) => {
                out.push('E');
                if exp < 0 {
                    out.push('-');
                } else if *plus {
                    out.push('+');
                }
            }
            Tok::ExpDigit(_) => {
                exp_digits_seen += 1;
                if exp_digits_seen == 1 {
                    let _ = write!(out, "{:0width$}", exp.unsigned_abs(), width = exp_places);
                }
            }
            Tok::Lit(s) => out.push_str(s),
            Tok::Text | Tok::General => {}
            _ => {}
        }
    }
    // `#.##` for 5: Excel writes `5.`; a person reads 5.
    if out.ends_with('.') && sec.frac_places > 0 {
        out.pop();
    }
}

fn push_int_digit(out: &mut String, digit: u8, pos: usize, grouping: bool) {
    out.push(char::from(b'0' + digit));
    if grouping && pos > 1 && (pos - 1).is_multiple_of(3) {
        out.push(',');
    }
}

/// How many decimals are shown by optional placeholders: up to the last
/// non-zero one.
fn last_nonzero_decimal(d: &Digits, places: usize) -> i32 {
    (0..places as i32)
        .rev()
        .find(|&i| d.at(-i) != 0)
        .map_or(0, |i| i + 1)
}

/// `# ?/?`, `# ??/??`, `?/8`: the nearest fraction.
fn write_fraction(sec: &Section, v: f64, out: &mut String) {
    let has_int = sec.tokens.iter().any(|t| matches!(t, Tok::Int(_)));
    let fixed = sec.tokens.iter().find_map(|t| match t {
        Tok::FixedDenom(n) => Some(*n),
        _ => None,
    });
    let denom_places = sec
        .tokens
        .iter()
        .filter(|t| matches!(t, Tok::Denom(_)))
        .count()
        .clamp(1, 4) as u32;
    let (whole, frac) = if has_int {
        (v.trunc(), v.fract())
    } else {
        (0.0, v)
    };
    let (num, den) = match fixed {
        Some(den) => ((frac * f64::from(den)).round() as u64, u64::from(den)),
        None => nearest_fraction(frac, 10u64.pow(denom_places) - 1),
    };
    let (whole, num) = if den > 0 && num >= den && has_int {
        (whole + (num / den) as f64, num % den)
    } else {
        (whole, num)
    };
    let mut wrote = false;
    for t in &sec.tokens {
        match t {
            Tok::Lit(s) => out.push_str(s),
            Tok::Int(_) if !wrote => {
                wrote = true;
                if whole != 0.0 || num == 0 {
                    let _ = write!(out, "{whole}");
                }
            }
            Tok::Slash if num != 0 => {
                let _ = write!(out, "{num}/{den}");
            }
            _ => {}
        }
    }
    if num == 0 && !has_int {
        out.push('0');
    }
}

/// The fraction nearest to `x` (0 <= x) with a denominator up to `max_den`.
fn nearest_fraction(x: f64, max_den: u64) -> (u64, u64) {
    let mut best = (x.round() as u64, 1u64);
    let mut best_err = (x - best.0 as f64).abs();
    for den in 2..=max_den.min(9999) {
        let num = (x * den as f64).round();
        let err = (x - num / den as f64).abs();
        if err < best_err - 1e-12 {
            best = (num as u64, den);
            best_err = err;
            if err < 1e-9 {
                break;
            }
        }
    }
    best
}

// ---------------------------------------------------------------------------
// Dates

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// A serial date split into its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    /// 0 = Sunday.
    pub weekday: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millis: u32,
}

/// The date and time of an Excel serial number. The 1900 system counts
/// 1900-01-01 as 1 and keeps Lotus 1-2-3's 29 February 1900 (serial 60);
/// the 1904 system counts 1904-01-01 as 0. `None` before the epoch or past
/// 9999-12-31, where Excel shows `#####`.
pub fn serial_to_datetime(serial: f64, date1904: bool) -> Option<DateTime> {
    if !(0.0..2_958_466.0).contains(&serial) {
        return None;
    }
    // Round to the millisecond first: 0.99999999 is the next day.
    let total_ms = (serial * 86_400_000.0).round() as i64;
    let days = total_ms.div_euclid(86_400_000);
    let ms_of_day = total_ms.rem_euclid(86_400_000);
    let (year, month, day) = if date1904 {
        civil_from_days(days + days_from_civil(1904, 1, 1))
    } else if days == 0 {
        (1900, 1, 0)
    } else if days == 60 {
        (1900, 2, 29)
    } else {
        let shift = if days < 60 { 1 } else { 0 };
        civil_from_days(days + shift + days_from_civil(1899, 12, 30))
    };
    // Excel's weekday of serial 0 (1900-01-00) is Saturday; it counts the
    // false leap day, so serials from 61 on agree with the calendar.
    let weekday = if date1904 {
        ((days + days_from_civil(1904, 1, 1)).rem_euclid(7) as u32 + 4) % 7
    } else {
        ((days + 6).rem_euclid(7)) as u32
    };
    Some(DateTime {
        year,
        month,
        day,
        weekday,
        hour: (ms_of_day / 3_600_000) as u32,
        minute: (ms_of_day / 60_000 % 60) as u32,
        second: (ms_of_day / 1000 % 60) as u32,
        millis: (ms_of_day % 1000) as u32,
    })
}

/// Days since 1970-01-01 (proleptic Gregorian; H. Hinnant's algorithm).
fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    ((y + i64::from(m <= 2)) as i32, m, d)
}

/// Writes a date/time section; false when the value is no date Excel shows.
fn write_date(sec: &Section, value: f64, date1904: bool, out: &mut String) -> bool {
    // Times round to the second unless the format shows fractions of one.
    let unit = 86_400.0 * 10f64.powi(sec.second_decimals as i32);
    let rounded = (value * unit).round() / unit;
    let Some(t) = serial_to_datetime(rounded, date1904) else {
        return false;
    };
    let elapsed_seconds = (value * 86_400.0).round() as i64;
    for tok in &sec.tokens {
        match tok {
            Tok::Lit(s) => out.push_str(s),
            Tok::Date(p) => write_date_part(*p, &t, sec.twelve_hour, elapsed_seconds, out),
            Tok::AmPm(full) => {
                let pm = t.hour >= 12;
                out.push_str(match (full, pm) {
                    (true, false) => "AM",
                    (true, true) => "PM",
                    (false, false) => "A",
                    (false, true) => "P",
                });
            }
            Tok::Point => out.push('.'),
            Tok::Comma => out.push(','),
            Tok::Int(c) | Tok::Frac(c) => out.push(char::from(*c)),
            Tok::Slash => out.push('/'),
            _ => {}
        }
    }
    true
}

fn write_date_part(p: DatePart, t: &DateTime, twelve: bool, elapsed: i64, out: &mut String) {
    let hour = if twelve {
        match t.hour % 12 {
            0 => 12,
            h => h,
        }
    } else {
        t.hour
    };
    let month = t.month.clamp(1, 12) as usize - 1;
    let _ = match p {
        DatePart::Year2 => write!(out, "{:02}", t.year.rem_euclid(100)),
        DatePart::Year4 => write!(out, "{:04}", t.year),
        DatePart::Month => write!(out, "{}", t.month),
        DatePart::Month2 => write!(out, "{:02}", t.month),
        DatePart::MonthAbbr => write!(out, "{}", &MONTHS[month][..3]),
        DatePart::MonthName => write!(out, "{}", MONTHS[month]),
        DatePart::MonthLetter => write!(out, "{}", &MONTHS[month][..1]),
        DatePart::Day => write!(out, "{}", t.day),
        DatePart::Day2 => write!(out, "{:02}", t.day),
        DatePart::DayAbbr => write!(out, "{}", &DAYS[t.weekday as usize % 7][..3]),
        DatePart::DayName => write!(out, "{}", DAYS[t.weekday as usize % 7]),
        DatePart::Hour => write!(out, "{hour}"),
        DatePart::Hour2 => write!(out, "{hour:02}"),
        DatePart::Minute => write!(out, "{}", t.minute),
        DatePart::Minute2 => write!(out, "{:02}", t.minute),
        DatePart::Second => write!(out, "{}", t.second),
        DatePart::Second2 => write!(out, "{:02}", t.second),
        DatePart::ElapsedHours(w) => write!(out, "{:0w$}", elapsed / 3600, w = usize::from(w)),
        DatePart::ElapsedMinutes(w) => write!(out, "{:0w$}", elapsed / 60, w = usize::from(w)),
        DatePart::ElapsedSeconds(w) => write!(out, "{:0w$}", elapsed, w = usize::from(w)),
        DatePart::SecondFraction(n) => {
            let n = usize::from(n);
            let frac = t.millis / 10u32.pow(3 - n as u32);
            write!(out, ".{frac:0n$}")
        }
    };
}

// ---------------------------------------------------------------------------

/// A small string on the stack, for formatting digits without allocating.
struct StackStr<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackStr<N> {
    fn new() -> Self {
        StackStr {
            buf: [0; N],
            len: 0,
        }
    }
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl<const N: usize> std::fmt::Write for StackStr<N> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > N {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Whether `raw` (a stored cell value) already reads as `General` shows
/// it: at most 11 characters of digits and a point, written as Excel
/// writes numbers. Most numeric cells are such and skip the parse.
pub fn general_as_stored(raw: &str) -> bool {
    let b = raw.strip_prefix('-').unwrap_or(raw).as_bytes();
    if b.is_empty() || b.len() > 11 || b[0] == b'.' || b[b.len() - 1] == b'.' {
        return false;
    }
    let mut points = 0;
    for &c in b {
        match c {
            b'0'..=b'9' => {}
            b'.' => points += 1,
            _ => return false,
        }
    }
    let point = points == 1;
    // "007" and "1.50" are not how Excel writes numbers; they read otherwise.
    points <= 1
        && (b.len() == 1 || b[0] != b'0' || (point && b[1] == b'.'))
        && !(point && b[b.len() - 1] == b'0')
        && raw != "-0"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(code: &str, v: f64) -> String {
        let mut s = String::new();
        NumFmt::parse(code).write(v, false, &mut s);
        s
    }

    fn general(v: f64) -> String {
        let mut s = String::new();
        write_general(v, &mut s);
        s
    }

    // The literals are values as workbooks store them, digits and all.
    #[allow(clippy::excessive_precision)]
    #[test]
    fn general_shows_ten_significant_digits() {
        assert_eq!(general(0.6901686683866837), "0.690168668");
        assert_eq!(general(37.799999999999997), "37.8");
        assert_eq!(general(46583.12072188011), "46583.12072");
        assert_eq!(general(44986.0), "44986");
        assert_eq!(general(-2.0499999999999998), "-2.05");
        assert_eq!(general(0.0), "0");
        assert_eq!(general(1e-20), "1E-20");
        assert_eq!(general(0.0000123456), "1.23456E-05");
        assert_eq!(general(0.000123456789), "0.000123457");
        assert_eq!(general(0.00001), "0.00001");
        assert_eq!(general(12345678901.5), "12345678902");
        assert_eq!(general(1.5e20), "1.5E+20");
        assert_eq!(general(123456789012.5), "1.23457E+11");
        // Whole numbers of up to 15 digits stay whole (see the module comment).
        assert_eq!(general(4111111111111111.0), "4.11111E+15");
        assert_eq!(general(411111111111111.0), "411111111111111");
        assert_eq!(general(0.1 + 0.2), "0.3");
    }

    #[test]
    fn numbers_percent_grouping_and_scaling() {
        assert_eq!(fmt("0", 2.5), "3");
        assert_eq!(fmt("0.00", 2.675), "2.68");
        assert_eq!(fmt("#,##0", 1234567.4), "1,234,567");
        assert_eq!(fmt("#,##0.00", -1234.5), "-1,234.50");
        assert_eq!(fmt("0%", 0.125), "13%");
        assert_eq!(fmt("0.0%", 0.125), "12.5%");
        assert_eq!(fmt("#,##0,\"k\"", 1234567.0), "1,235k");
        assert_eq!(fmt("0.0,,\"M\"", 1234567.0), "1.2M");
        assert_eq!(fmt("#,##0.0,,\" M\"", 987654321.0), "987.7 M");
        assert_eq!(fmt("#.##", 5.0), "5");
        assert_eq!(fmt("0.###", 1.5), "1.5");
        assert_eq!(fmt("000-00-0000", 78051120.0), "078-05-1120");
        assert_eq!(
            fmt("[<=9999999]###-####;(###) ###-####", 4155550132.0),
            "(415) 555-0132"
        );
        assert_eq!(
            fmt("[<=9999999]###-####;(###) ###-####", 5550132.0),
            "555-0132"
        );
        assert_eq!(fmt("00000", 501.0), "00501");
    }

    #[test]
    fn currency_and_accounting_sections() {
        assert_eq!(fmt(builtin(7).unwrap(), -1234.5), "($1,234.50)");
        assert_eq!(fmt(builtin(8).unwrap(), 1234.5), "$1,234.50");
        assert_eq!(fmt(builtin(44).unwrap(), 0.0), "$ -");
        assert_eq!(fmt(builtin(43).unwrap(), -12.0), "(12.00)");
        assert_eq!(fmt("[$€-407]#,##0.00", 3.5), "€3.50");
        assert_eq!(fmt("#,##0.00 [$EUR]", 3.5), "3.50 EUR");
        assert_eq!(fmt("[Red]0.00;[Blue]-0.00", -1.0), "-1.00");
        assert_eq!(fmt("\"$\"General", 12.5), "$12.5");
        assert_eq!(fmt("0;-0;\"zero\"", 0.0), "zero");
    }

    #[test]
    fn scientific_and_fractions() {
        assert_eq!(fmt("0.00E+00", 12345.0), "1.23E+04");
        assert_eq!(fmt("0.00E+00", 0.00012), "1.20E-04");
        assert_eq!(fmt("##0.0E+0", 12345.0), "12.3E+3");
        assert_eq!(fmt("# ?/?", 1.5), "1 1/2");
        assert_eq!(fmt("# ??/??", 0.75), "3/4");
        assert_eq!(fmt("# ?/8", 2.25), "2 2/8");
        assert_eq!(fmt("# ?/?", 3.0), "3");
    }

    #[test]
    fn dates_times_and_both_systems() {
        assert_eq!(fmt("dd-mmm-yyyy", 44986.0), "01-Mar-2023");
        assert_eq!(fmt(builtin(14).unwrap(), 44986.0), "3/1/2023");
        assert_eq!(fmt(builtin(15).unwrap(), 44986.0), "1-Mar-23");
        assert_eq!(fmt("yyyy-mm-dd hh:mm:ss", 44986.5), "2023-03-01 12:00:00");
        assert_eq!(fmt("h:mm AM/PM", 0.75), "6:00 PM");
        assert_eq!(fmt("[h]:mm:ss", 1.5), "36:00:00");
        assert_eq!(fmt("mm:ss.0", 0.000_011_574), "00:01.0");
        assert_eq!(
            fmt("dddd, mmmm d, yyyy", 44986.0),
            "Wednesday, March 1, 2023"
        );
        assert_eq!(
            fmt("[$-F800]dddd\\, mmmm dd\\, yyyy", 1.0),
            "Sunday, January 01, 1900"
        );
        assert_eq!(fmt("m/d/yyyy", 60.0), "2/29/1900");
        assert_eq!(fmt("m/d/yyyy", 61.0), "3/1/1900");
        assert_eq!(fmt("m/d/yyyy", 59.0), "2/28/1900");
        assert_eq!(fmt("mmmmm", 44986.0), "M");
        let mut s = String::new();
        NumFmt::parse("yyyy-mm-dd").write(43524.0, true, &mut s);
        assert_eq!(s, "2023-03-01", "1462 days after the 1900 system");
        // Before the epoch, Excel shows #####; the number is more use.
        assert_eq!(fmt("yyyy-mm-dd", -1.0), "-1");
    }

    #[test]
    fn stored_values_that_read_as_general() {
        for raw in [
            "0",
            "44986",
            "-12",
            "0.5",
            "37.8",
            "12345678901",
            "0.690168668",
        ] {
            assert!(general_as_stored(raw), "{raw}");
            assert_eq!(general(raw.parse().unwrap()), raw);
        }
        for raw in [
            "0.6901686684",
            "1E-3",
            "123456789012",
            "1.50",
            "007",
            ".5",
            "",
        ] {
            assert!(!general_as_stored(raw), "{raw}");
        }
    }

    proptest::proptest! {
        /// Every value that passes the fast path formats to itself.
        #[test]
        fn fast_path_agrees_with_general(int in -99_999_999_999i64..99_999_999_999, frac in 0u32..1000, scale in 0u32..4) {
            let v = int as f64 / 10f64.powi(scale as i32) + f64::from(frac) / 1e7;
            let raw = format!("{v}");
            if general_as_stored(&raw) {
                proptest::prop_assert_eq!(general(v), raw);
            }
        }

        /// Serial dates agree with chrono's calendar (1900 system from 61 on,
        /// 1904 system throughout).
        #[test]
        fn serial_dates_agree_with_chrono(serial in 61u32..2_958_465, secs in 0u32..86_400) {
            let v = f64::from(serial) + f64::from(secs) / 86_400.0;
            let base = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).unwrap().and_hms_opt(0, 0, 0).unwrap();
            let want = base + chrono::Duration::days(i64::from(serial)) + chrono::Duration::seconds(i64::from(secs));
            let got = serial_to_datetime(v, false).unwrap();
            use chrono::{Datelike, Timelike};
            proptest::prop_assert_eq!((got.year, got.month, got.day), (want.year(), want.month(), want.day()));
            proptest::prop_assert_eq!((got.hour, got.minute, got.second), (want.hour(), want.minute(), want.second()));
            proptest::prop_assert_eq!(got.weekday, want.weekday().num_days_from_sunday());
            let base04 = chrono::NaiveDate::from_ymd_opt(1904, 1, 1).unwrap();
            let want04 = base04 + chrono::Duration::days(i64::from(serial));
            let got04 = serial_to_datetime(f64::from(serial), true);
            if let Some(g) = got04 {
                proptest::prop_assert_eq!((g.year, g.month, g.day, g.weekday), (want04.year(), want04.month(), want04.day(), want04.weekday().num_days_from_sunday()));
            }
        }

        /// Fixed decimals agree with Rust's formatting where no tie is
        /// involved, and grouping only inserts commas.
        #[test]
        fn fixed_decimals_agree_with_std(v in -1e9f64..1e9, places in 0usize..5) {
            let code = if places == 0 { "#,##0".to_string() } else { format!("#,##0.{}", "0".repeat(places)) };
            let got = fmt(&code, v);
            // Excel shows at most 15 significant digits: round there first.
            let v: f64 = format!("{v:.14e}").parse().unwrap();
            let scaled = (v.abs() * 10f64.powi(places as i32)).fract();
            if (scaled - 0.5).abs() > 1e-3 {
                let mut want = format!("{:.*}", places, v);
                if want.starts_with("-") && want.trim_start_matches(['-', '0', '.']).is_empty() {
                    want.remove(0);
                }
                proptest::prop_assert_eq!(got.replace(',', ""), want);
            }
        }
    }
}
