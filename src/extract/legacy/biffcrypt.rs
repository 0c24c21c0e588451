//! Excel 97-2003 workbooks encrypted under the default password
//! `VelvetSweatshop` (issue 17 defect 7): Excel writes such a file when a
//! workbook is only protected against changes, and Excel, LibreOffice and
//! POI open it without asking. The `FILEPASS` record (MS-XLS 2.4.117) names
//! the method:
//!
//! - XOR obfuscation, method 1 (MS-OFFCRYPTO 2.3.7.1-2.3.7.3; BIFF5 and 8),
//! - RC4 with MD5 keys ("Office 97/2000 compatible", MS-OFFCRYPTO 2.3.6),
//! - RC4 CryptoAPI with SHA-1 keys (MS-OFFCRYPTO 2.3.5).
//!
//! The password is checked against the record's verifier first, so a file
//! with a real password stays `encrypted` and is never decrypted into
//! noise. Record headers are never encrypted (MS-XLS 2.2.10), so the record
//! structure is walked as stored; the RC4 key changes every 1,024 bytes of
//! the stream, counted from its start, headers included.

use md5::{Digest, Md5};

use super::agile::{sha1, DEFAULT_PASSWORD};
use super::bytes::{le_u16, le_u32};
use crate::extract::ExtractResult;
use crate::model::budget::Budget;

const BOF: u16 = 0x0809;
const EOF: u16 = 0x000A;
const FILEPASS: u16 = 0x002F;
const BOUNDSHEET: u16 = 0x0085;
/// Records whose data is stored in plain text in an encrypted stream
/// (MS-XLS 2.2.10): BOF, FilePass, UsrExcl, FileLock, InterfaceHdr,
/// RRDInfo and RRDHead. BoundSheet8 keeps its first 4 bytes (`lbPlyPos`).
const PLAIN: [u16; 7] = [BOF, FILEPASS, 0x0194, 0x0195, 0x00E1, 0x0196, 0x0138];
/// The RC4 key changes every this many bytes of the stream.
const REKEY: usize = 1024;

/// How the stream is encrypted, with the default password's key material.
enum Scheme {
    /// The 16-byte obfuscation array of method 1.
    Xor([u8; 16]),
    /// RC4 with a key per 1,024-byte block.
    Rc4(BlockKeys),
}

/// RC4 block keys.
enum BlockKeys {
    /// MS-OFFCRYPTO 2.3.6.2: MD5 of the 5-byte password hash and the block number.
    Md5([u8; 5]),
    /// MS-OFFCRYPTO 2.3.5.2: SHA-1 of the password hash and the block
    /// number, cut to the key length (a 40-bit key is padded to 128 bits).
    Sha1 { hash: [u8; 20], key_bytes: usize },
}

impl BlockKeys {
    fn key(&self, block: u32) -> Vec<u8> {
        match self {
            BlockKeys::Md5(h) => {
                let mut d = Md5::new();
                d.update(h);
                d.update(block.to_le_bytes());
                d.finalize().to_vec()
            }
            BlockKeys::Sha1 { hash, key_bytes } => {
                let mut key = sha1(&[&hash[..], &block.to_le_bytes()])[..*key_bytes].to_vec();
                if *key_bytes == 5 {
                    key.resize(16, 0);
                }
                key
            }
        }
    }
}

/// RC4 (the stream cipher; used here only to read Office files).
struct Rc4 {
    s: [u8; 256],
    i: u8,
    j: u8,
}

impl Rc4 {
    fn new(key: &[u8]) -> Rc4 {
        let mut s = [0u8; 256];
        for (i, v) in s.iter_mut().enumerate() {
            *v = i as u8;
        }
        let mut j = 0u8;
        for i in 0..256 {
            j = j.wrapping_add(s[i]).wrapping_add(key[i % key.len()]);
            s.swap(i, j as usize);
        }
        Rc4 { s, i: 0, j: 0 }
    }

    /// XORs `data` with the next bytes of the key stream.
    fn apply(&mut self, data: &mut [u8]) {
        for b in data {
            self.i = self.i.wrapping_add(1);
            self.j = self.j.wrapping_add(self.s[self.i as usize]);
            self.s.swap(self.i as usize, self.j as usize);
            let k = self.s[self.s[self.i as usize].wrapping_add(self.s[self.j as usize]) as usize];
            *b ^= k;
        }
    }
}

/// The password as UTF-16LE bytes.
fn utf16(password: &str) -> Vec<u8> {
    password.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// Where the records after the FILEPASS record start, the FILEPASS data,
/// and whether the stream is BIFF8 (else BIFF5). `None` when the
/// workbook's globals have no FILEPASS.
fn find_filepass(s: &[u8]) -> Option<(usize, &[u8], bool)> {
    if le_u16(s, 0) != Some(BOF) {
        return None;
    }
    let biff8 = le_u16(s, 4).is_none_or(|v| v >= 0x0600);
    let mut pos = 0usize;
    // FILEPASS follows the globals' BOF within its first few records.
    for _ in 0..64 {
        let kind = le_u16(s, pos)?;
        let len = usize::from(le_u16(s, pos + 2)?);
        let data = s.get(pos + 4..pos + 4 + len)?;
        pos += 4 + len;
        match kind {
            FILEPASS => return Some((pos, data, biff8)),
            EOF => return None,
            _ => {}
        }
    }
    None
}

/// The method and key of a FILEPASS record, if the default password opens it.
fn scheme(filepass: &[u8], biff8: bool) -> Option<Scheme> {
    let xor = |at: usize| {
        let key = le_u16(filepass, at)?;
        let verifier = le_u16(filepass, at + 2)?;
        let password = xor_password(DEFAULT_PASSWORD);
        (xor_verifier(&password) == verifier && xor_key(&password) == key)
            .then(|| Scheme::Xor(xor_array(&password)))
    };
    if !biff8 {
        // BIFF5 knows only XOR obfuscation: key and verifier.
        return if filepass.len() == 4 { xor(0) } else { None };
    }
    match le_u16(filepass, 0)? {
        0 => xor(2),
        1 => rc4_scheme(filepass.get(2..)?),
        _ => None,
    }
}

/// RC4 (version 1.1) or RC4 CryptoAPI (version 2.2, 3.2 or 4.2) encryption
/// information, checked against the default password.
fn rc4_scheme(info: &[u8]) -> Option<Scheme> {
    let password = utf16(DEFAULT_PASSWORD);
    match (le_u16(info, 0)?, le_u16(info, 2)?) {
        (1, 1) => {
            let salt = info.get(4..20)?;
            let verifier = info.get(20..36)?;
            let verifier_hash = info.get(36..52)?;
            let h0 = Md5::digest(&password);
            let mut d = Md5::new();
            for _ in 0..16 {
                d.update(&h0[..5]);
                d.update(salt);
            }
            let mut h1 = [0u8; 5];
            h1.copy_from_slice(&d.finalize()[..5]);
            let keys = BlockKeys::Md5(h1);
            let mut check = [verifier, verifier_hash].concat();
            Rc4::new(&keys.key(0)).apply(&mut check);
            (Md5::digest(&check[..16])[..] == check[16..32]).then_some(Scheme::Rc4(keys))
        }
        (2..=4, 2) => {
            let header_size = le_u32(info, 8)? as usize;
            let header = info.get(12..12usize.checked_add(header_size)?)?;
            let (alg, alg_hash, bits) =
                (le_u32(header, 8)?, le_u32(header, 12)?, le_u32(header, 16)?);
            // RC4 (0x6801) with SHA-1 (0x8004); 0 means the provider's default.
            if !matches!(alg, 0 | 0x6801) || !matches!(alg_hash, 0 | 0x8004) {
                return None;
            }
            let bits = if bits == 0 { 40 } else { bits as usize };
            if !(40..=128).contains(&bits) || bits % 8 != 0 {
                return None;
            }
            let v = info.get(12 + header_size..)?;
            let salt_size = le_u32(v, 0)? as usize;
            let salt = v.get(4..4usize.checked_add(salt_size)?)?;
            let v = &v[4 + salt_size..];
            let verifier = v.get(..16)?;
            let hash_size = le_u32(v, 16)? as usize;
            if hash_size != 20 {
                return None;
            }
            let verifier_hash = v.get(20..40)?;
            let keys = BlockKeys::Sha1 {
                hash: sha1(&[salt, &password]),
                key_bytes: bits / 8,
            };
            let mut check = [verifier, verifier_hash].concat();
            Rc4::new(&keys.key(0)).apply(&mut check);
            (sha1(&[&check[..16]])[..] == check[16..36]).then_some(Scheme::Rc4(keys))
        }
        _ => None,
    }
}

/// A copy of the BIFF5/BIFF8 workbook stream `s`, decrypted with the
/// default password; `None` when it has no FILEPASS, uses another method,
/// or another password. Only bytes the stream holds are decrypted: the
/// work and memory follow its size.
pub(super) fn decrypt_default(s: &[u8], budget: &Budget) -> ExtractResult<Option<Vec<u8>>> {
    let Some((start, filepass, biff8)) = find_filepass(s) else {
        return Ok(None);
    };
    let Some(scheme) = scheme(filepass, biff8) else {
        return Ok(None);
    };
    let mut out = s.to_vec();
    // The key stream of the current 1,024-byte block.
    let mut block: Option<usize> = None;
    let mut stream = [0u8; REKEY];
    let mut pos = start;
    let mut records = 0usize;
    while let (Some(kind), Some(len)) = (le_u16(s, pos), le_u16(s, pos + 2)) {
        records += 1;
        if records.is_multiple_of(4096) {
            budget.check_time()?;
        }
        let len = usize::from(len);
        let data_at = pos + 4;
        let end = (data_at + len).min(s.len());
        pos = data_at + len;
        let skip = if PLAIN.contains(&kind) {
            len
        } else if kind == BOUNDSHEET {
            4
        } else {
            0
        };
        for p in (data_at + skip)..end {
            match &scheme {
                // MS-XLS 2.2.10: the array index is the byte's stream
                // offset plus the record's whole data size (BoundSheet8's
                // plain lbPlyPos included).
                Scheme::Xor(array) => out[p] = unxor(array, out[p], p + len),
                Scheme::Rc4(keys) => {
                    let b = p / REKEY;
                    if block != Some(b) {
                        stream = [0u8; REKEY];
                        Rc4::new(&keys.key(b as u32)).apply(&mut stream);
                        block = Some(b);
                    }
                    out[p] ^= stream[p % REKEY];
                }
            }
        }
        if end < data_at + len {
            break;
        }
    }
    Ok(Some(out))
}

/// MS-OFFCRYPTO 2.3.7.3, DecryptData_Method1, for one byte.
fn unxor(array: &[u8; 16], byte: u8, index: usize) -> u8 {
    (byte ^ array[index % 16]).rotate_right(5)
}

/// The password as XOR obfuscation takes it: one byte a character (its low
/// byte, or its high byte when the low one is 0), at most 15.
fn xor_password(password: &str) -> Vec<u8> {
    password
        .encode_utf16()
        .map(|u| {
            let [lo, hi] = u.to_le_bytes();
            if lo != 0 {
                lo
            } else {
                hi
            }
        })
        .take(15)
        .collect()
}

/// MS-OFFCRYPTO 2.3.7.1: the 16-bit password verifier.
fn xor_verifier(password: &[u8]) -> u16 {
    let mut v = 0u16;
    let len = password.len() as u8;
    for &b in password.iter().rev().chain(std::iter::once(&len)) {
        let carry = u16::from(v & 0x4000 != 0);
        v = (carry | ((v << 1) & 0x7FFF)) ^ u16::from(b);
    }
    v ^ 0xCE4B
}

const XOR_INITIAL: [u16; 15] = [
    0xE1F0, 0x1D0F, 0xCC9C, 0x84C0, 0x110C, 0x0E10, 0xF1CE, 0x313E, 0x1872, 0xE139, 0xD40F, 0x84F9,
    0x280C, 0xA96A, 0x4EC3,
];

const XOR_MATRIX: [u16; 105] = [
    0xAEFC, 0x4DD9, 0x9BB2, 0x2745, 0x4E8A, 0x9D14, 0x2A09, 0x7B61, 0xF6C2, 0xFDA5, 0xEB6B, 0xC6F7,
    0x9DCF, 0x2BBF, 0x4563, 0x8AC6, 0x05AD, 0x0B5A, 0x16B4, 0x2D68, 0x5AD0, 0x0375, 0x06EA, 0x0DD4,
    0x1BA8, 0x3750, 0x6EA0, 0xDD40, 0xD849, 0xA0B3, 0x5147, 0xA28E, 0x553D, 0xAA7A, 0x44D5, 0x6F45,
    0xDE8A, 0xAD35, 0x4A4B, 0x9496, 0x390D, 0x721A, 0xEB23, 0xC667, 0x9CEF, 0x29FF, 0x53FE, 0xA7FC,
    0x5FD9, 0x47D3, 0x8FA6, 0x0F6D, 0x1EDA, 0x3DB4, 0x7B68, 0xF6D0, 0xB861, 0x60E3, 0xC1C6, 0x93AD,
    0x377B, 0x6EF6, 0xDDEC, 0x45A0, 0x8B40, 0x06A1, 0x0D42, 0x1A84, 0x3508, 0x6A10, 0xAA51, 0x4483,
    0x8906, 0x022D, 0x045A, 0x08B4, 0x1168, 0x76B4, 0xED68, 0xCAF1, 0x85C3, 0x1BA7, 0x374E, 0x6E9C,
    0x3730, 0x6E60, 0xDCC0, 0xA9A1, 0x4363, 0x86C6, 0x1DAD, 0x3331, 0x6662, 0xCCC4, 0x89A9, 0x0373,
    0x06E6, 0x0DCC, 0x1021, 0x2042, 0x4084, 0x8108, 0x1231, 0x2462, 0x48C4,
];

const XOR_PAD: [u8; 15] = [
    0xBB, 0xFF, 0xFF, 0xBA, 0xFF, 0xFF, 0xB9, 0x80, 0x00, 0xBE, 0x0F, 0x00, 0xBF, 0x0F, 0x00,
];

/// MS-OFFCRYPTO 2.3.7.2: the 16-bit XOR key (1 to 15 password bytes).
fn xor_key(password: &[u8]) -> u16 {
    let Some(&first) = XOR_INITIAL.get(password.len().wrapping_sub(1)) else {
        return 0;
    };
    let mut key = first;
    let mut element = XOR_MATRIX.len();
    for &ch in password.iter().rev() {
        let mut c = ch;
        for _ in 0..7 {
            element -= 1;
            if c & 0x40 != 0 {
                key ^= XOR_MATRIX[element];
            }
            c <<= 1;
        }
    }
    key
}

/// MS-OFFCRYPTO 2.3.7.2: the 16-byte obfuscation array.
fn xor_array(password: &[u8]) -> [u8; 16] {
    let key = xor_key(password);
    let [lo, hi] = key.to_le_bytes();
    let ror = |a: u8, b: u8| (a ^ b).rotate_right(1);
    let mut out = [0u8; 16];
    let n = password.len().min(15);
    let mut i = n;
    if n % 2 == 1 {
        out[i] = ror(XOR_PAD[0], hi);
        i -= 1;
        out[i] = ror(password[n - 1], lo);
    }
    while i > 0 {
        i -= 1;
        out[i] = ror(password[i], hi);
        i -= 1;
        out[i] = ror(password[i], lo);
    }
    // The rest from the pad, two bytes at a time from the end; an even
    // password length leaves one pad byte over, which is not used.
    let mut i = 15;
    let mut pad = 15 - n;
    while pad >= 2 {
        out[i] = ror(XOR_PAD[pad], hi);
        out[i - 1] = ror(XOR_PAD[pad - 1], lo);
        i -= 2;
        pad -= 2;
    }
    if pad == 1 {
        out[i] = ror(XOR_PAD[1], hi);
        out[i - 1] = ror(XOR_PAD[0], lo);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rc4_matches_known_vectors() {
        // RFC 6229-style test vectors: key "Key" / "Wiki" / "Secret".
        let mut a = *b"Plaintext";
        Rc4::new(b"Key").apply(&mut a);
        assert_eq!(a, [0xBB, 0xF3, 0x16, 0xE8, 0xD9, 0x40, 0xAF, 0x0A, 0xD3]);
        let mut b = *b"pedia";
        Rc4::new(b"Wiki").apply(&mut b);
        assert_eq!(b, [0x10, 0x21, 0xBF, 0x04, 0x20]);
    }

    /// Known answers from a workbook Excel itself obfuscated under the
    /// password `123456789012345`: its FILEPASS holds key 0x8265 and
    /// verifier 0x9EB1, and its BoundSheet8 record (11 data bytes) has the
    /// 7 bytes after lbPlyPos at stream offset 1378: `00 00 03 00 "420"`.
    #[test]
    fn xor_method_1_matches_an_excel_file() {
        let password = xor_password("123456789012345");
        assert_eq!(xor_key(&password), 0x8265);
        assert_eq!(xor_verifier(&password), 0x9EB1);
        let array = xor_array(&password);
        let cipher = [0x5b, 0x28, 0xfc, 0x2a, 0xde, 0x6d, 0x5d];
        let plain: Vec<u8> = (0..cipher.len())
            .map(|i| unxor(&array, cipher[i], 1378 + i + 11))
            .collect();
        assert_eq!(plain, [0, 0, 3, 0, b'4', b'2', b'0']);
    }

    #[test]
    fn xor_password_bytes_and_short_passwords() {
        assert_eq!(xor_password(DEFAULT_PASSWORD).len(), 15);
        // The high byte stands in for a zero low byte; at most 15 bytes.
        assert_eq!(xor_password("\u{4100}b"), vec![0x41, b'b']);
        assert_eq!(xor_password(&"x".repeat(40)).len(), 15);
        assert_eq!(xor_key(b""), 0);
        // Every length fills the whole array without a panic.
        for n in 1..=15 {
            let p = vec![b'a'; n];
            let _ = xor_array(&p);
        }
    }

    fn rec(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut r = kind.to_le_bytes().to_vec();
        r.extend_from_slice(&(data.len() as u16).to_le_bytes());
        r.extend_from_slice(data);
        r
    }

    /// A stream as Excel would obfuscate it with `array`: BOF and FILEPASS
    /// plain, BoundSheet8's first 4 bytes plain, everything else obfuscated.
    fn xor_stream(password: &str, filepass: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let mut plain = rec(BOF, &[0, 6, 5, 0]);
        plain.extend(rec(FILEPASS, filepass));
        let mut sheet = vec![9, 0, 0, 0, 0, 0, 7, 0];
        sheet.extend_from_slice(b"Payroll");
        plain.extend(rec(BOUNDSHEET, &sheet));
        plain.extend(rec(0x0204, b"\0\0\0\0\0\0\x06\0\0Secret"));
        plain.extend(rec(EOF, &[]));
        let array = xor_array(&xor_password(password));
        let mut enc = plain.clone();
        let mut pos = 4 + 4 + 4 + filepass.len();
        while pos + 4 <= enc.len() {
            let kind = le_u16(&enc, pos).unwrap();
            let len = usize::from(le_u16(&enc, pos + 2).unwrap());
            let skip = if kind == BOUNDSHEET { 4 } else { 0 };
            for p in pos + 4 + skip..pos + 4 + len {
                enc[p] = enc[p].rotate_left(5) ^ array[(p + len) % 16];
            }
            pos += 4 + len;
        }
        (plain, enc)
    }

    #[test]
    fn xor_stream_under_the_default_password_is_decrypted() {
        let p = xor_password(DEFAULT_PASSWORD);
        let mut fp = vec![0, 0];
        fp.extend_from_slice(&xor_key(&p).to_le_bytes());
        fp.extend_from_slice(&xor_verifier(&p).to_le_bytes());
        let (plain, enc) = xor_stream(DEFAULT_PASSWORD, &fp);
        assert_ne!(plain, enc);
        let budget = crate::extract::test_budget();
        assert_eq!(decrypt_default(&enc, &budget).unwrap().unwrap(), plain);
        // Truncated anywhere: no panic, at most the bytes held.
        for cut in 0..enc.len() {
            if let Some(d) = decrypt_default(&enc[..cut], &budget).unwrap() {
                assert_eq!(d.len(), cut);
            }
        }
        // Another password's verifier: not decrypted.
        let q = xor_password("secret");
        let mut other = vec![0, 0];
        other.extend_from_slice(&xor_key(&q).to_le_bytes());
        other.extend_from_slice(&xor_verifier(&q).to_le_bytes());
        let (_, enc) = xor_stream("secret", &other);
        assert!(decrypt_default(&enc, &budget).unwrap().is_none());
    }

    #[test]
    fn unknown_or_damaged_filepass_is_not_decrypted() {
        let budget = crate::extract::test_budget();
        for fp in [
            &[2u8, 0][..],                                         // unknown method
            &[1, 0, 1, 0, 1, 0][..],                               // RC4 1.1, truncated
            &[1, 0, 2, 0, 2, 0, 0, 0][..],                         // CryptoAPI, truncated
            &[1, 0, 2, 0, 2, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF][..], // huge header
            &[1, 0, 4, 0, 4, 0][..],                               // agile: not in BIFF
        ] {
            let mut s = rec(BOF, &[0, 6, 5, 0]);
            s.extend(rec(FILEPASS, fp));
            s.extend(rec(EOF, &[]));
            assert!(decrypt_default(&s, &budget).unwrap().is_none(), "{fp:?}");
        }
        // No FILEPASS, or not a BIFF stream.
        let mut s = rec(BOF, &[0, 6, 5, 0]);
        s.extend(rec(EOF, &[]));
        assert!(decrypt_default(&s, &budget).unwrap().is_none());
        assert!(decrypt_default(b"", &budget).unwrap().is_none());
    }
}
