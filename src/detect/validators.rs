//! Validators for built-in detectors, referenced by name from
//! `detectors/*.toml`. Each takes the matched text and says whether it is a
//! real instance, and how strong the evidence is. Algorithms are
//! re-implemented from their public specifications (ISO 7064, ISO 13616,
//! Luhn, national check-digit rules as documented by the issuing bodies and
//! python-stdnum's docs).

/// The outcome of validating one match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Not a real instance: drop the match.
    Fail,
    /// Plausible by structure (prefix rules, ranges), no checksum.
    Format,
    /// A structure that names its type by itself, as a checksum would: a
    /// telephone number written with `+` and an assigned country code, or
    /// with the North American punctuation `(415) 555-0132`.
    Strong,
    /// A checksum or a decoding step passed.
    Checksum,
    /// A checksum passed, but this is a well-known test/sample value.
    TestValue,
}

/// What a validator may also do: shorten the match (IBAN followed by more text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub check: Check,
    /// Byte length of the match to keep (<= the match length).
    pub len: usize,
}

pub type Validator = fn(&str) -> Outcome;

fn out(check: Check, s: &str) -> Outcome {
    Outcome {
        check,
        len: s.len(),
    }
}

fn fail() -> Outcome {
    Outcome {
        check: Check::Fail,
        len: 0,
    }
}

fn ok_if(cond: bool, check: Check, s: &str) -> Outcome {
    if cond {
        out(check, s)
    } else {
        fail()
    }
}

/// Looks a validator up by the name used in the definitions.
pub fn by_name(name: &str) -> Option<Validator> {
    Some(match name {
        "email" => email,
        "phone" => phone,
        "credit_card" => credit_card,
        "iban" => iban,
        "eu_vat" => eu_vat,
        "date" => date,
        "us_ssn" => us_ssn,
        "us_itin" => us_itin,
        "us_ein" => us_ein,
        "aba_routing" => aba_routing,
        "de_tax_id" => de_tax_id,
        "de_id_card" => de_id_card,
        "de_pension" => de_pension,
        "uk_nino" => uk_nino,
        "uk_nhs" => uk_nhs,
        "fr_nir" => fr_nir,
        "nl_bsn" => nl_bsn,
        "es_dni" => es_dni,
        "it_fiscal_code" => it_fiscal_code,
        "pl_pesel" => pl_pesel,
        "se_personnummer" => se_personnummer,
        "high_entropy" => high_entropy,
        "aws_access_key" => aws_access_key,
        "aws_secret" => aws_secret,
        "private_key" => private_key,
        "jwt" => jwt,
        "connection_string" => connection_string,
        "password_value" => password_value,
        _ => return None,
    })
}

// ---------- helpers ----------

fn digits(s: &str) -> Vec<u8> {
    s.bytes()
        .filter(|b| b.is_ascii_digit())
        .map(|b| b - b'0')
        .collect()
}

fn alnum_upper(s: &str) -> Vec<u8> {
    s.bytes()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(|b| b.to_ascii_uppercase())
        .collect()
}

/// The separators between groups of a formatted number, in order.
fn separators(s: &str) -> Vec<u8> {
    s.bytes().filter(|b| !b.is_ascii_alphanumeric()).collect()
}

/// All separators are the same character (or there are none).
fn consistent_separators(s: &str) -> bool {
    let seps = separators(s);
    seps.windows(2).all(|w| w[0] == w[1])
}

pub fn luhn_ok(d: &[u8]) -> bool {
    if d.is_empty() {
        return false;
    }
    let mut sum = 0u32;
    for (i, &x) in d.iter().rev().enumerate() {
        let mut v = x as u32;
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// ISO 7064 MOD 11,10 check digit over `d`.
fn mod11_10(d: &[u8]) -> u8 {
    let mut product = 10u32;
    for &x in d {
        let mut sum = (x as u32 + product) % 10;
        if sum == 0 {
            sum = 10;
        }
        product = (2 * sum) % 11;
    }
    let check = 11 - product;
    if check == 10 {
        0
    } else {
        check as u8
    }
}

fn all_same(d: &[u8]) -> bool {
    d.windows(2).all(|w| w[0] == w[1])
}

/// Shannon entropy in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    let mut n = 0u32;
    for b in s.bytes() {
        counts[b as usize] += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    let n = n as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

fn num(d: &[u8]) -> u64 {
    d.iter()
        .fold(0u64, |acc, &x| acc.wrapping_mul(10) + x as u64)
}

fn valid_day_month(day: u8, month: u8) -> bool {
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

// ---------- PII ----------

pub fn email(s: &str) -> Outcome {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return fail();
    };
    if local.is_empty() || local.len() > 64 || domain.len() > 253 {
        return fail();
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return fail();
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return fail();
    }
    for l in &labels {
        if l.is_empty() || l.len() > 63 || l.starts_with('-') || l.ends_with('-') {
            return fail();
        }
    }
    let tld = labels[labels.len() - 1];
    let tld_ok =
        (tld.len() >= 2 && tld.len() <= 24 && tld.bytes().all(|b| b.is_ascii_alphabetic()))
            || (tld.starts_with("xn--") && tld.len() > 4);
    if !tld_ok {
        return fail();
    }
    let lower = domain.to_ascii_lowercase();
    let test = lower == "example.com"
        || lower.ends_with(".example")
        || lower == "example.org"
        || lower.ends_with(".test")
        || lower.ends_with(".invalid");
    out(
        if test {
            Check::TestValue
        } else {
            Check::Format
        },
        s,
    )
}

/// Phone numbers: E.164 length limits, NANP area/exchange rules, national
/// trunk prefix. The regex decides the shape; this checks the digits.
pub fn phone(s: &str) -> Outcome {
    // Drop an extension ("x157", "ext. 12").
    let lower = s.to_ascii_lowercase();
    let main = match lower.find(['x', 'e']) {
        Some(i) => &s[..i],
        None => s,
    };
    let owned;
    let s2 = if let Some(rest) = main.trim_start().strip_prefix("00") {
        owned = format!("+{rest}");
        owned.as_str()
    } else {
        main
    };
    let o = phone_main(s2, s2.len() == main.len());
    ok_if(o.check != Check::Fail, o.check, s)
}

/// Whether the digits after `+` start with an assigned ITU-T E.164
/// country code (1 and 7, the assigned two-digit codes, and the ranges of
/// three-digit codes).
fn assigned_country_code(d: &[u8]) -> bool {
    const TWO: &[u8] = &[
        20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55,
        56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98,
    ];
    const THREE_PREFIX: &[u8] = &[
        21, 22, 23, 24, 25, 26, 29, 35, 37, 38, 42, 50, 59, 67, 68, 69, 80, 85, 87, 88, 96, 97, 99,
    ];
    match d {
        [1 | 7, ..] => true,
        [a, b, rest @ ..] => {
            let two = a * 10 + b;
            TWO.contains(&two) || (THREE_PREFIX.contains(&two) && !rest.is_empty())
        }
        _ => false,
    }
}

/// `written_plus`: the number was written with `+` (not `00`).
fn phone_main(s: &str, written_plus: bool) -> Outcome {
    let d = digits(s);
    if d.len() < 7 || d.len() > 15 || all_same(&d) {
        return fail();
    }
    let t = s.trim_start();
    if let Some(rest) = t.strip_prefix('+') {
        // Country code 1-3 digits, never starting with 0.
        if rest.starts_with('0') || d.len() < 8 {
            return fail();
        }
        // Written `+`: strong when the country code is assigned; `00`
        // (rewritten to `+` by `phone`) is how ledger references start too.
        let strength = if written_plus && assigned_country_code(&d) {
            Check::Strong
        } else {
            Check::Format
        };
        if d[0] == 1 {
            // NANP: +1 NXX NXX XXXX
            return ok_if(d.len() == 11 && d[1] >= 2 && d[4] >= 2, strength, s);
        }
        return out(strength, s);
    }
    if d[0] == 0 {
        // National format with trunk prefix: 0 + area + subscriber.
        return ok_if(d.len() >= 8 && d[1] != 0, Check::Format, s);
    }
    // North American punctuation, `(415) 555-0132` or `415-555-0132`,
    // says "telephone" by itself; ten bare digits do not.
    let nanp_punctuated = t.starts_with('(') || t.bytes().filter(|&b| b == b'-').count() >= 2;
    let strength = if nanp_punctuated {
        Check::Strong
    } else {
        Check::Format
    };
    if d.len() == 10 {
        // NANP without country code: area and exchange start with 2-9.
        return ok_if(d[0] >= 2 && d[3] >= 2, strength, s);
    }
    if d.len() == 11 && d[0] == 1 {
        return ok_if(d[1] >= 2 && d[4] >= 2, strength, s);
    }
    fail()
}

fn card_brand_ok(d: &[u8]) -> bool {
    let len = d.len();
    let p = |n: usize| num(&d[..n.min(len)]);
    let p1 = p(1);
    let p2 = p(2);
    let p3 = p(3);
    let p4 = p(4);
    let p6 = p(6);
    // Visa
    if p1 == 4 {
        return len == 13 || len == 16 || len == 19;
    }
    // Mastercard 51-55 and 2221-2720
    if (51..=55).contains(&p2) || (2221..=2720).contains(&p4) {
        return len == 16;
    }
    // American Express
    if p2 == 34 || p2 == 37 {
        return len == 15;
    }
    // Diners Club: 300-305, 3095, 36, 38, 39
    if (300..=305).contains(&p3) || p4 == 3095 || p2 == 36 || p2 == 38 || p2 == 39 {
        return (14..=19).contains(&len);
    }
    // JCB 3528-3589 (the rest of 35 is JCB's or unassigned); legacy JCB 2131/1800
    if p2 == 35 {
        return (16..=19).contains(&len);
    }
    if (p4 == 2131 || p4 == 1800) && len == 15 {
        return true;
    }
    // Maestro also issues 12-digit numbers on these IINs
    if len == 12 {
        return matches!(
            p4,
            5018 | 5020 | 5038 | 5893 | 6304 | 6390 | 6759 | 6761 | 6762 | 6763
        );
    }
    // Discover: 6011, 644-649, 65, 622126-622925
    if p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 || (622126..=622925).contains(&p6) {
        return (16..=19).contains(&len);
    }
    // UnionPay 62, 81
    if p2 == 62 || p2 == 81 {
        return (16..=19).contains(&len);
    }
    // Maestro / Dankort / domestic debit: 50, 56-69
    if p2 == 50 || (56..=69).contains(&p2) {
        return (12..=19).contains(&len);
    }
    // RuPay 60, 65, 81, 82, 508 are covered above; UATP (AirPlus) 1, 15 digits
    if p1 == 1 {
        return len == 15;
    }
    false
}

pub fn credit_card(s: &str) -> Outcome {
    if !consistent_separators(s) {
        return fail();
    }
    let d = digits(s);
    if !(12..=19).contains(&d.len()) || all_same(&d) {
        return fail();
    }
    if !card_brand_ok(&d) || !luhn_ok(&d) {
        return fail();
    }
    let compact: String = d.iter().map(|x| (x + b'0') as char).collect();
    let test = matches!(
        compact.as_str(),
        "4111111111111111"
            | "4012888888881881"
            | "5555555555554444"
            | "378282246310005"
            | "371449635398431"
            | "6011111111111117"
            | "4242424242424242"
    );
    out(
        if test {
            Check::TestValue
        } else {
            Check::Checksum
        },
        s,
    )
}

/// IBAN lengths per country (ISO 13616 registry).
fn iban_length(cc: &[u8]) -> Option<usize> {
    const TABLE: &[(&str, usize)] = &[
        ("AD", 24),
        ("AE", 23),
        ("AL", 28),
        ("AT", 20),
        ("AZ", 28),
        ("BA", 20),
        ("BE", 16),
        ("BG", 22),
        ("BH", 22),
        ("BI", 27),
        ("BR", 29),
        ("BY", 28),
        ("CH", 21),
        ("CR", 22),
        ("CY", 28),
        ("CZ", 24),
        ("DE", 22),
        ("DJ", 27),
        ("DK", 18),
        ("DO", 28),
        ("EE", 20),
        ("EG", 29),
        ("ES", 24),
        ("FI", 18),
        ("FK", 18),
        ("FO", 18),
        ("FR", 27),
        ("GB", 22),
        ("GE", 22),
        ("GI", 23),
        ("GL", 18),
        ("GR", 27),
        ("GT", 28),
        ("HN", 28),
        ("HR", 21),
        ("HU", 28),
        ("IE", 22),
        ("IL", 23),
        ("IQ", 23),
        ("IS", 26),
        ("IT", 27),
        ("JO", 30),
        ("KW", 30),
        ("KZ", 20),
        ("LB", 28),
        ("LC", 32),
        ("LI", 21),
        ("LT", 20),
        ("LU", 20),
        ("LV", 21),
        ("LY", 25),
        ("MC", 27),
        ("MD", 24),
        ("ME", 22),
        ("MK", 19),
        ("MN", 20),
        ("MR", 27),
        ("MT", 31),
        ("MU", 30),
        ("NI", 28),
        ("NL", 18),
        ("NO", 15),
        ("OM", 23),
        ("PK", 24),
        ("PL", 28),
        ("PS", 29),
        ("PT", 25),
        ("QA", 29),
        ("RO", 24),
        ("RS", 22),
        ("RU", 33),
        ("SA", 24),
        ("SC", 31),
        ("SD", 18),
        ("SE", 24),
        ("SI", 19),
        ("SK", 24),
        ("SM", 27),
        ("SO", 23),
        ("ST", 25),
        ("SV", 28),
        ("TL", 23),
        ("TN", 24),
        ("TR", 26),
        ("UA", 29),
        ("VA", 22),
        ("VG", 24),
        ("XK", 20),
        ("YE", 30),
    ];
    TABLE
        .iter()
        .find(|(c, _)| c.as_bytes() == cc)
        .map(|(_, l)| *l)
}

/// ISO 7064 MOD 97-10 over an alphanumeric string (letters A=10..Z=35).
fn mod97(chars: impl Iterator<Item = u8>) -> Option<u32> {
    let mut rem = 0u32;
    for c in chars {
        let v = match c {
            b'0'..=b'9' => (c - b'0') as u32,
            b'A'..=b'Z' => (c - b'A') as u32 + 10,
            _ => return None,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    Some(rem)
}

/// IBAN: country length, upper-case BBAN, mod-97 == 1. The match may run
/// past the IBAN (following words); it is cut at the country length, which
/// must end at a group boundary.
pub fn iban(s: &str) -> Outcome {
    let b = s.as_bytes();
    if b.len() < 4 {
        return fail();
    }
    let Some(len) = iban_length(&b[..2]) else {
        return fail();
    };
    // Walk the match, collecting `len` alphanumerics.
    let mut chars = Vec::with_capacity(len);
    let mut end = 0;
    let mut sep: Option<u8> = None;
    for (i, &c) in b.iter().enumerate() {
        if chars.len() == len {
            break;
        }
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_lowercase() {
                return fail();
            }
            chars.push(c);
            end = i + 1;
        } else {
            // one kind of separator throughout
            if sep.is_some_and(|x| x != c) {
                return fail();
            }
            sep = Some(c);
        }
    }
    if chars.len() != len {
        return fail();
    }
    if b.get(end).is_some_and(|c| c.is_ascii_alphanumeric()) {
        return fail();
    }
    let rearranged = chars[4..].iter().chain(chars[..4].iter()).copied();
    if mod97(rearranged) != Some(1) {
        return fail();
    }
    let test = chars == b"DE89370400440532013000" || chars == b"GB82WEST12345698765432";
    Outcome {
        check: if test {
            Check::TestValue
        } else {
            Check::Checksum
        },
        len: end,
    }
}

/// EU VAT numbers with national check digits (DE FR IT ES NL BE AT PL);
/// other EU prefixes are accepted on format only.
pub fn eu_vat(s: &str) -> Outcome {
    let a = alnum_upper(s);
    if a.len() < 4 {
        return fail();
    }
    let cc = &a[..2];
    let body = &a[2..];
    let all_digits = |x: &[u8]| x.iter().all(u8::is_ascii_digit);
    let dv = |x: &[u8]| x.iter().map(|c| c.wrapping_sub(b'0')).collect::<Vec<u8>>();
    let ok = match cc {
        b"DE" => {
            body.len() == 9 && all_digits(body) && body[0] != b'0' && {
                let d = dv(body);
                mod11_10(&d[..8]) == d[8]
            }
        }
        b"AT" => {
            body.len() == 9 && body[0] == b'U' && all_digits(&body[1..]) && {
                let d = dv(&body[1..]);
                let mut sum = 0u32;
                for (i, &x) in d[..7].iter().enumerate() {
                    let v = if i % 2 == 1 { x as u32 * 2 } else { x as u32 };
                    sum += v / 10 + v % 10;
                }
                (10 - (sum + 4) % 10) % 10 == d[7] as u32
            }
        }
        b"BE" => {
            body.len() == 10 && all_digits(body) && (body[0] == b'0' || body[0] == b'1') && {
                let d = dv(body);
                97 - num(&d[..8]) % 97 == num(&d[8..])
            }
        }
        b"FR" => {
            body.len() == 11 && all_digits(&body[2..]) && {
                let siren = dv(&body[2..]);
                if all_digits(&body[..2]) {
                    let key = num(&dv(&body[..2]));
                    (12 + 3 * (num(&siren) % 97)) % 97 == key
                } else {
                    luhn_ok(&siren)
                }
            }
        }
        b"IT" => body.len() == 11 && all_digits(body) && luhn_ok(&dv(body)),
        b"NL" => {
            body.len() == 12
                && body[9] == b'B'
                && all_digits(&body[..9])
                && all_digits(&body[10..])
                && {
                    let d = dv(&body[..9]);
                    let mut sum: i64 = 0;
                    for (i, &x) in d[..8].iter().enumerate() {
                        sum += x as i64 * (9 - i as i64);
                    }
                    sum -= d[8] as i64;
                    let elf = sum % 11 == 0;
                    let m97 = mod97(b"NL".iter().chain(body.iter()).copied()) == Some(1);
                    elf || m97
                }
        }
        b"PL" => {
            body.len() == 10 && all_digits(body) && {
                let d = dv(body);
                let w = [6u32, 5, 7, 2, 3, 4, 5, 6, 7];
                let sum: u32 = d[..9].iter().zip(w).map(|(&x, w)| x as u32 * w).sum();
                sum % 11 == d[9] as u32
            }
        }
        b"ES" => body.len() == 9 && es_vat_body(body),
        b"BG" | b"CY" | b"CZ" | b"DK" | b"EE" | b"EL" | b"FI" | b"HR" | b"HU" | b"IE" | b"LT"
        | b"LU" | b"LV" | b"MT" | b"PT" | b"RO" | b"SE" | b"SI" | b"SK" => {
            return ok_if((8..=14).contains(&body.len()), Check::Format, s)
        }
        _ => false,
    };
    ok_if(ok, Check::Checksum, s)
}

fn es_vat_body(body: &[u8]) -> bool {
    let first = body[0];
    let last = body[8];
    if first.is_ascii_digit() || matches!(first, b'X' | b'Y' | b'Z') {
        return es_dni_core(body);
    }
    // CIF: letter + 7 digits + control (digit or letter)
    if !first.is_ascii_uppercase() || !body[1..8].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let d: Vec<u32> = body[1..8].iter().map(|c| (c - b'0') as u32).collect();
    let mut sum = 0;
    for (i, &x) in d.iter().enumerate() {
        if i % 2 == 0 {
            let v = x * 2;
            sum += v / 10 + v % 10;
        } else {
            sum += x;
        }
    }
    let check = (10 - sum % 10) % 10;
    last == b'0' + check as u8 || last == b"JABCDEFGHI"[check as usize]
}

fn es_dni_core(a: &[u8]) -> bool {
    if a.len() != 9 {
        return false;
    }
    let mut digits = Vec::with_capacity(8);
    match a[0] {
        b'X' => digits.push(0),
        b'Y' => digits.push(1),
        b'Z' => digits.push(2),
        c if c.is_ascii_digit() => digits.push(c - b'0'),
        _ => return false,
    }
    for &c in &a[1..8] {
        if !c.is_ascii_digit() {
            return false;
        }
        digits.push(c - b'0');
    }
    let n = num(&digits);
    b"TRWAGMYFPDXBNJZSQVHLCKE"[(n % 23) as usize] == a[8]
}

pub fn es_dni(s: &str) -> Outcome {
    let a = alnum_upper(s);
    ok_if(es_dni_core(&a), Check::Checksum, s)
}

/// A calendar date in d.m.yyyy, m/d/yyyy, yyyy-mm-dd or "12 March 1985" form.
pub fn date(s: &str) -> Outcome {
    let d: Vec<&str> = s
        .split(|c: char| !c.is_alphanumeric())
        .filter(|x| !x.is_empty())
        .collect();
    if d.len() != 3 {
        return fail();
    }
    let n = |x: &str| x.parse::<u32>().ok();
    // "March 12, 1985": month name first.
    let d = if n(d[0]).is_none() && n(d[1]).is_some() {
        vec![d[1], d[0], d[2]]
    } else {
        d
    };
    let year_ok = |y: u32| (1900..=2100).contains(&y);
    let ok = if d[0].len() == 4 {
        matches!((n(d[0]), n(d[1]), n(d[2])), (Some(y), Some(m), Some(dd)) if year_ok(y) && valid_day_month(dd as u8, m as u8))
    } else if let (Some(a), Some(b), Some(y)) = (n(d[0]), n(d[1]), n(d[2])) {
        let y = if y < 100 { y + 1900 } else { y };
        year_ok(y)
            && a <= 31
            && b <= 31
            && (valid_day_month(a as u8, b as u8) || valid_day_month(b as u8, a as u8))
    } else if let (Some(day), Some(y)) = (n(d[0]), n(d[2])) {
        year_ok(y) && (1..=31).contains(&day)
    } else {
        false
    };
    ok_if(ok, Check::Format, s)
}

pub fn us_ssn(s: &str) -> Outcome {
    if !consistent_separators(s) {
        return fail();
    }
    let d = digits(s);
    if d.len() != 9 || all_same(&d) {
        return fail();
    }
    let area = num(&d[..3]);
    let group = num(&d[3..5]);
    let serial = num(&d[5..]);
    if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
        return fail();
    }
    let compact = num(&d);
    if compact == 123456789 || compact == 219099999 {
        return fail();
    }
    // Woolworth's wallet card: a famous sample value, still reported.
    let test = compact == 78051120;
    out(
        if test {
            Check::TestValue
        } else {
            Check::Format
        },
        s,
    )
}

pub fn us_itin(s: &str) -> Outcome {
    if !consistent_separators(s) {
        return fail();
    }
    let d = digits(s);
    if d.len() != 9 || d[0] != 9 {
        return fail();
    }
    let g = num(&d[3..5]);
    let ok = (50..=65).contains(&g)
        || (70..=88).contains(&g)
        || (90..=92).contains(&g)
        || (94..=99).contains(&g);
    ok_if(ok, Check::Format, s)
}

pub fn us_ein(s: &str) -> Outcome {
    let d = digits(s);
    if d.len() != 9 {
        return fail();
    }
    let p = num(&d[..2]);
    // Campus prefixes assigned by the IRS.
    let ok = matches!(p, 1..=6 | 10..=16 | 20..=27 | 30..=48 | 50..=68 | 71..=77 | 80..=88 | 90..=95 | 98..=99);
    ok_if(ok && !all_same(&d[2..]), Check::Format, s)
}

pub fn aba_routing(s: &str) -> Outcome {
    let d = digits(s);
    if d.len() != 9 {
        return fail();
    }
    let p = num(&d[..2]);
    if !matches!(p, 0..=12 | 21..=32 | 61..=72 | 80) || all_same(&d) {
        return fail();
    }
    let w = [3u32, 7, 1, 3, 7, 1, 3, 7, 1];
    let sum: u32 = d.iter().zip(w).map(|(&x, w)| x as u32 * w).sum();
    ok_if(sum.is_multiple_of(10), Check::Checksum, s)
}

/// German Steuer-IdNr: 11 digits, first not 0, ISO 7064 MOD 11,10, and in
/// the first ten digits exactly one digit occurs two or three times.
pub fn de_tax_id(s: &str) -> Outcome {
    let d = digits(s);
    if d.len() != 11 || d[0] == 0 {
        return fail();
    }
    let mut counts = [0u8; 10];
    for &x in &d[..10] {
        counts[x as usize] += 1;
    }
    let repeated: Vec<u8> = counts.iter().copied().filter(|&c| c > 1).collect();
    if repeated.len() != 1 || repeated[0] > 3 {
        return fail();
    }
    ok_if(mod11_10(&d[..10]) == d[10], Check::Checksum, s)
}

fn icao_value(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some((c - b'0') as u32),
        b'A'..=b'Z' => Some((c - b'A') as u32 + 10),
        b'<' => Some(0),
        _ => None,
    }
}

/// ICAO 9303 7-3-1 check digit.
fn icao_check(chars: &[u8]) -> Option<u32> {
    let w = [7u32, 3, 1];
    let mut sum = 0;
    for (i, &c) in chars.iter().enumerate() {
        sum += icao_value(c)? * w[i % 3];
    }
    Some(sum % 10)
}

/// German identity card / passport document number: 9 characters of the
/// ICAO subset, optionally followed by the check digit (validated then).
pub fn de_id_card(s: &str) -> Outcome {
    let a = alnum_upper(s);
    const ALLOWED: &[u8] = b"CFGHJKLMNPRTVWXYZ0123456789";
    if a.len() == 9 && a[0] == b'T' && a[1..].iter().all(u8::is_ascii_digit) {
        return out(Check::Format, s);
    }
    if !(a.len() == 9 || a.len() == 10) || !a[..9].iter().all(|c| ALLOWED.contains(c)) {
        return fail();
    }
    if a[0].is_ascii_digit() || !a[..9].iter().any(u8::is_ascii_digit) {
        return fail();
    }
    if a.len() == 10 {
        let ok = a[9].is_ascii_digit() && icao_check(&a[..9]) == Some((a[9] - b'0') as u32);
        return ok_if(ok, Check::Checksum, s);
    }
    out(Check::Format, s)
}

/// German pension insurance number (Rentenversicherungsnummer):
/// area(2) + birth date DDMMYY + initial letter + serial(2) + check digit.
pub fn de_pension(s: &str) -> Outcome {
    let a = alnum_upper(s);
    if a.len() != 12 || !a[8].is_ascii_uppercase() {
        return fail();
    }
    if !a[..8].iter().all(u8::is_ascii_digit) || !a[9..].iter().all(u8::is_ascii_digit) {
        return fail();
    }
    let day = (a[2] - b'0') * 10 + (a[3] - b'0');
    let month = (a[4] - b'0') * 10 + (a[5] - b'0');
    // Day may be raised by 30 or 60 when numbers of one date run out.
    let day = if day > 60 {
        day - 60
    } else if day > 31 {
        day - 30
    } else {
        day
    };
    if !valid_day_month(day, month) {
        return fail();
    }
    let letter = a[8] - b'A' + 1;
    let mut d: Vec<u32> = a[..8].iter().map(|c| (c - b'0') as u32).collect();
    d.push((letter / 10) as u32);
    d.push((letter % 10) as u32);
    d.extend(a[9..11].iter().map(|c| (c - b'0') as u32));
    let w = [2u32, 1, 2, 5, 7, 1, 2, 1, 2, 1, 2, 1];
    let sum: u32 = d
        .iter()
        .zip(w)
        .map(|(&x, w)| (x * w) / 10 + (x * w) % 10)
        .sum();
    ok_if(sum % 10 == (a[11] - b'0') as u32, Check::Checksum, s)
}

/// UK National Insurance number prefix and suffix rules (case-insensitive).
pub fn uk_nino(s: &str) -> Outcome {
    let a = alnum_upper(s);
    if a.len() != 9 {
        return fail();
    }
    let (p1, p2) = (a[0], a[1]);
    if !p1.is_ascii_uppercase() || !p2.is_ascii_uppercase() {
        return fail();
    }
    if b"DFIQUV".contains(&p1) || b"DFIOQUV".contains(&p2) {
        return fail();
    }
    if matches!(
        &a[..2],
        b"BG" | b"GB" | b"KN" | b"NK" | b"NT" | b"TN" | b"ZZ"
    ) {
        return fail();
    }
    if !a[2..8].iter().all(u8::is_ascii_digit) || !b"ABCD".contains(&a[8]) {
        return fail();
    }
    out(Check::Format, s)
}

pub fn uk_nhs(s: &str) -> Outcome {
    if !consistent_separators(s) {
        return fail();
    }
    let d = digits(s);
    if d.len() != 10 || all_same(&d) {
        return fail();
    }
    let sum: u32 = d[..9]
        .iter()
        .enumerate()
        .map(|(i, &x)| x as u32 * (10 - i as u32))
        .sum();
    let check = 11 - sum % 11;
    let check = if check == 11 { 0 } else { check };
    ok_if(check != 10 && check == d[9] as u32, Check::Checksum, s)
}

/// French NIR (social security number): 13 characters (Corsica 2A/2B) + key.
pub fn fr_nir(s: &str) -> Outcome {
    let a = alnum_upper(s);
    if a.len() != 15 || !b"12378".contains(&a[0]) {
        return fail();
    }
    let mut body = a[..13].to_vec();
    if &body[5..7] == b"2A" {
        body[5] = b'1';
        body[6] = b'9';
    } else if &body[5..7] == b"2B" {
        body[5] = b'1';
        body[6] = b'8';
    }
    if !body.iter().all(u8::is_ascii_digit) || !a[13..].iter().all(u8::is_ascii_digit) {
        return fail();
    }
    let month = (body[3] - b'0') * 10 + (body[4] - b'0');
    if !((1..=12).contains(&month) || (20..=42).contains(&month) || (50..=99).contains(&month)) {
        return fail();
    }
    let n = num(&body.iter().map(|c| c - b'0').collect::<Vec<_>>());
    let key = num(&a[13..].iter().map(|c| c - b'0').collect::<Vec<_>>());
    ok_if(97 - n % 97 == key, Check::Checksum, s)
}

/// Dutch BSN: 9 digits, "11-proef" with weights 9..2 and -1.
pub fn nl_bsn(s: &str) -> Outcome {
    let d = digits(s);
    if d.len() != 9 || all_same(&d) {
        return fail();
    }
    let mut sum: i64 = 0;
    for (i, &x) in d[..8].iter().enumerate() {
        sum += x as i64 * (9 - i as i64);
    }
    sum -= d[8] as i64;
    ok_if(sum % 11 == 0 && sum != 0, Check::Checksum, s)
}

/// Italian codice fiscale: 16 characters with a check character.
pub fn it_fiscal_code(s: &str) -> Outcome {
    let a = alnum_upper(s);
    if a.len() != 16 {
        return fail();
    }
    const ODD: [u32; 26] = [
        1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24,
        23,
    ];
    let mut sum = 0u32;
    for (i, &c) in a[..15].iter().enumerate() {
        let idx = match c {
            b'0'..=b'9' => (c - b'0') as usize,
            b'A'..=b'Z' => (c - b'A') as usize,
            _ => return fail(),
        };
        sum += if i % 2 == 0 { ODD[idx] } else { idx as u32 };
    }
    ok_if(a[15] == b'A' + (sum % 26) as u8, Check::Checksum, s)
}

/// Polish PESEL: 11 digits, weights 1,3,7,9, month encodes the century.
pub fn pl_pesel(s: &str) -> Outcome {
    let d = digits(s);
    if d.len() != 11 || all_same(&d) {
        return fail();
    }
    let month = (d[2] * 10 + d[3]) % 20;
    let day = d[4] * 10 + d[5];
    if !valid_day_month(day, month) {
        return fail();
    }
    let w = [1u32, 3, 7, 9, 1, 3, 7, 9, 1, 3];
    let sum: u32 = d[..10].iter().zip(w).map(|(&x, w)| x as u32 * w).sum();
    ok_if((10 - sum % 10) % 10 == d[10] as u32, Check::Checksum, s)
}

/// Swedish personnummer: (YY)YYMMDD-NNNC, Luhn over the 10-digit form.
pub fn se_personnummer(s: &str) -> Outcome {
    let d = digits(s);
    let d10 = match d.len() {
        10 => &d[..],
        12 => &d[2..],
        _ => return fail(),
    };
    let month = d10[2] * 10 + d10[3];
    let day = d10[4] * 10 + d10[5];
    let day = if day > 60 { day - 60 } else { day };
    if !valid_day_month(day, month) {
        return fail();
    }
    ok_if(luhn_ok(d10), Check::Checksum, s)
}

// ---------- secrets ----------

fn is_placeholder(v: &str) -> bool {
    let l = v.to_ascii_lowercase();
    let t = l.trim_matches(|c: char| c == '"' || c == '\'' || c == '`');
    t.is_empty()
        || t.starts_with('$')
        || t.starts_with('{')
        || t.starts_with('<')
        || t.starts_with('%')
        || t.starts_with('[')
        || t.contains("xxxx")
        || t.contains("****")
        || t.contains("...")
        || t.contains("example")
        || t.contains("changeme")
        || t.contains("your_")
        || t.contains("your-")
        || matches!(
            t,
            "password" | "passwort" | "secret" | "none" | "null" | "true" | "false" | "required"
        )
        || t.bytes().all(|b| b == t.as_bytes()[0])
}

/// A token whose random part has enough entropy (>= 3 bits/char).
pub fn high_entropy(s: &str) -> Outcome {
    let tail = s.rsplit(['_', '-']).next().unwrap_or(s);
    let tail = if tail.len() >= 16 { tail } else { s };
    if is_placeholder(tail) || entropy(tail) < 3.0 {
        return fail();
    }
    out(Check::Checksum, s)
}

pub fn aws_access_key(s: &str) -> Outcome {
    if s.ends_with("EXAMPLE") {
        return out(Check::TestValue, s);
    }
    if entropy(&s[4.min(s.len())..]) < 3.0 {
        return fail();
    }
    out(Check::Checksum, s)
}

pub fn aws_secret(s: &str) -> Outcome {
    let has = |f: fn(&u8) -> bool| s.as_bytes().iter().any(f);
    if s.contains("EXAMPLEKEY") {
        return out(Check::TestValue, s);
    }
    let ok = s.len() == 40
        && entropy(s) >= 4.0
        && has(u8::is_ascii_uppercase)
        && has(u8::is_ascii_lowercase)
        && has(u8::is_ascii_digit);
    ok_if(ok, Check::Checksum, s)
}

/// A PEM/OpenSSH/PGP private key block: at least 64 base64 characters follow
/// the BEGIN line (PuTTY key files carry their own header).
pub fn private_key(s: &str) -> Outcome {
    if s.starts_with("PuTTY-User-Key-File") {
        return out(Check::Checksum, s);
    }
    let body = match s.find("-----") {
        Some(_) => s.splitn(3, "-----").nth(2).unwrap_or(""),
        None => s,
    };
    let n = body
        .lines()
        .filter(|l| !l.contains(':'))
        .flat_map(|l| l.bytes())
        .filter(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
        .count();
    ok_if(n >= 64, Check::Checksum, s)
}

fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        buf = (buf << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// A JWT: the header decodes to a JSON object with an `alg` member.
pub fn jwt(s: &str) -> Outcome {
    let Some(header) = s.split('.').next() else {
        return fail();
    };
    let Some(bytes) = b64url_decode(header) else {
        return fail();
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return fail();
    };
    let t = text.trim();
    ok_if(
        t.starts_with('{') && t.contains("\"alg\""),
        Check::Checksum,
        s,
    )
}

/// A connection string whose password is not a placeholder.
pub fn connection_string(s: &str) -> Outcome {
    let password = if let Some(scheme_end) = s.find("://") {
        let rest = &s[scheme_end + 3..];
        let Some(at) = rest.rfind('@') else {
            return fail();
        };
        let userinfo = &rest[..at];
        match userinfo.split_once(':') {
            Some((_, p)) => p.to_string(),
            None => return fail(),
        }
    } else {
        let lower = s.to_ascii_lowercase();
        let key = ["password=", "pwd=", "accountkey="]
            .iter()
            .find_map(|k| lower.find(k).map(|i| i + k.len()));
        let Some(i) = key else { return fail() };
        s[i..].split(';').next().unwrap_or("").trim().to_string()
    };
    ok_if(
        !password.is_empty() && !is_placeholder(&password),
        Check::Checksum,
        s,
    )
}

/// `password: value` in prose: the value must look like a secret (mixed
/// character classes or high entropy), not a word.
pub fn password_value(s: &str) -> Outcome {
    let Some(i) = s.find([':', '=']) else {
        return fail();
    };
    let v = s[i + 1..].trim().trim_matches(|c| c == '"' || c == '\'');
    if v.len() < 6 || is_placeholder(v) {
        return fail();
    }
    let b = v.as_bytes();
    let classes = [
        b.iter().any(u8::is_ascii_lowercase),
        b.iter().any(u8::is_ascii_uppercase),
        b.iter().any(u8::is_ascii_digit),
        b.iter().any(|c| c.is_ascii_punctuation()),
    ]
    .iter()
    .filter(|&&x| x)
    .count();
    let ok = (classes >= 2 && v.len() >= 8 && entropy(v) >= 2.5)
        || (classes >= 3 && entropy(v) >= 2.5)
        || entropy(v) >= 3.5;
    ok_if(ok, Check::Checksum, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(f: Validator, s: &str) -> bool {
        f(s).check != Check::Fail
    }

    #[test]
    fn checksums() {
        assert!(ok(credit_card, "4012-8888-8888-1881"));
        assert!(!ok(credit_card, "4012-8888-8888-1882"));
        assert!(!ok(credit_card, "4012-8888 8888-1881"));
        assert!(ok(credit_card, "2223003122003222"));
        assert!(ok(credit_card, "122000000000003"));
        assert!(!ok(credit_card, "36168002586008"));
        assert!(ok(iban, "DE89 3704 0044 0532 0130 00"));
        assert!(!ok(iban, "DE89 3704 0044 0532 0130 01"));
        assert_eq!(iban("VG96 VPVG 0000 0123 4567 8901 X").len, 29);
        assert!(!ok(iban, "LV80 bANK 0000 4351 9500 1"));
        assert!(ok(de_tax_id, "65 929 970 489"));
        assert!(!ok(de_tax_id, "65 929 970 481"));
        assert!(!ok(de_tax_id, "12 345 678 903"));
        assert!(ok(uk_nhs, "943 476 5919"));
        assert!(ok(fr_nir, "295109912611193"));
        assert!(ok(nl_bsn, "111222333"));
        assert!(ok(es_dni, "12345678Z"));
        assert!(ok(es_dni, "X1234567L"));
        assert!(ok(it_fiscal_code, "RSSMRA85T10A562S"));
        assert!(ok(pl_pesel, "44051401359"));
        assert!(ok(se_personnummer, "811218-9876"));
        assert!(ok(eu_vat, "DE136695976"));
        assert!(!ok(eu_vat, "DE136695977"));
        assert!(ok(eu_vat, "ATU13585627"));
        assert!(ok(eu_vat, "BE0403019261"));
        assert!(ok(eu_vat, "FR40303265045"));
        assert!(ok(eu_vat, "IT00743110157"));
        assert!(ok(eu_vat, "NL004495445B01"));
        assert!(ok(eu_vat, "PL8567346215"));
        assert!(ok(eu_vat, "ESA13585625"));
        assert!(ok(aba_routing, "011000015"));
        assert!(!ok(aba_routing, "011000016"));
        assert!(ok(de_pension, "65 170839 J 003"));
        assert!(ok(de_id_card, "T22000129"));
    }

    #[test]
    fn formats() {
        assert!(ok(us_ssn, "078-05-1123"));
        assert!(!ok(us_ssn, "693-09.4444"));
        assert!(!ok(us_ssn, "078 00 1123"));
        assert!(!ok(us_ssn, "666-12-3456"));
        assert!(ok(uk_nino, "hh 01 02 03 d"));
        assert!(!ok(uk_nino, "BG123612A"));
        assert!(!ok(uk_nino, "UV 98 76 54 B"));
        assert!(ok(email, "info@presidio.site"));
        assert!(!ok(email, "info@presidio."));
        assert!(ok(phone, "(415) 555-0132"));
        assert!(ok(phone, "+55 11 98456 5666"));
        assert!(!ok(phone, "+1 015 555 0132"));
        assert!(ok(
            jwt,
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.abc"
        ));
        assert!(ok(connection_string, "postgres://app:S3cr3t!@db.internal"));
        assert!(!ok(connection_string, "postgres://app:${DB_PASS}@db"));
        assert!(ok(password_value, "Passwort: Sommer2024!"));
        assert!(!ok(password_value, "password: required"));
        assert!(ok(date, "12.03.1985"));
        assert!(!ok(date, "32.13.1985"));
    }
}
