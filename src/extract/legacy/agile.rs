//! OOXML packages encrypted with ECMA-376 *agile* encryption (MS-OFFCRYPTO
//! 2.3.4.10-2.3.4.15, Office 2010 and later) or *standard* encryption
//! (2.3.4.5-2.3.4.9, Office 2007) under the default password
//! `VelvetSweatshop`: Office writes such files when a workbook is only
//! protected against changes, and Excel, LibreOffice and POI open them
//! without asking (issue 17 defect 7). Any other password leaves the file
//! `encrypted`, as before.
//!
//! The password's key is checked against the file's verifier first, so a
//! file with a real password is never decrypted into noise.

use aes::cipher::{BlockCipherDecrypt, KeyInit};
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::attr_value;
use super::bytes::{le_u16, le_u32, le_u64};
use crate::extract::{ExtractError, ExtractResult};
use crate::model::budget::Budget;

/// The password Office uses when a file is encrypted without one.
pub const DEFAULT_PASSWORD: &str = "VelvetSweatshop";

/// Block keys of MS-OFFCRYPTO 2.3.4.13 and 2.3.4.14.
const BLOCK_VERIFIER_INPUT: [u8; 8] = [0xfe, 0xa7, 0xd2, 0x76, 0x3b, 0x4b, 0x9e, 0x79];
const BLOCK_VERIFIER_VALUE: [u8; 8] = [0xd7, 0xaa, 0x0f, 0x6d, 0x30, 0x61, 0x34, 0x4e];
const BLOCK_KEY_VALUE: [u8; 8] = [0x14, 0x6e, 0x0b, 0xe7, 0xab, 0xac, 0xd0, 0xd6];
/// The package is encrypted in segments of this size, each with its own IV.
const SEGMENT: usize = 4096;
/// MS-OFFCRYPTO caps spinCount at 10,000,000.
const MAX_SPIN: u32 = 10_000_000;

#[derive(Clone, Copy, Debug, PartialEq)]
enum HashAlg {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    fn parse(name: &str) -> Option<HashAlg> {
        match name.to_ascii_uppercase().replace('-', "").as_str() {
            "SHA1" => Some(HashAlg::Sha1),
            "SHA256" => Some(HashAlg::Sha256),
            "SHA384" => Some(HashAlg::Sha384),
            "SHA512" => Some(HashAlg::Sha512),
            _ => None,
        }
    }

    fn hash(self, a: &[u8], b: &[u8]) -> Vec<u8> {
        fn run<D: Digest>(a: &[u8], b: &[u8]) -> Vec<u8> {
            let mut d = D::new();
            d.update(a);
            d.update(b);
            d.finalize().to_vec()
        }
        match self {
            HashAlg::Sha1 => sha1(&[a, b]).to_vec(),
            HashAlg::Sha256 => run::<Sha256>(a, b),
            HashAlg::Sha384 => run::<Sha384>(a, b),
            HashAlg::Sha512 => run::<Sha512>(a, b),
        }
    }
}

/// The attributes of `keyData` or of the password's `encryptedKey`.
#[derive(Debug)]
struct Params {
    salt: Vec<u8>,
    block_size: usize,
    key_bytes: usize,
    hash: HashAlg,
}

impl Params {
    fn parse(attrs: &str) -> Option<Params> {
        let num = |k: &str| attr_value(attrs, k)?.trim().parse::<usize>().ok();
        if !attr_value(attrs, "cipherAlgorithm")?.eq_ignore_ascii_case("AES")
            || attr_value(attrs, "cipherChaining")? != "ChainingModeCBC"
        {
            return None;
        }
        let key_bits = num("keyBits")?;
        let block_size = num("blockSize")?;
        if !matches!(key_bits, 128 | 192 | 256) || block_size != 16 {
            return None;
        }
        Some(Params {
            salt: base64(&attr_value(attrs, "saltValue")?)?,
            block_size,
            key_bytes: key_bits / 8,
            hash: HashAlg::parse(&attr_value(attrs, "hashAlgorithm")?)?,
        })
    }
}

/// AES of any of the three key sizes, decrypting in CBC mode.
enum Aes {
    K128(aes::Aes128),
    K192(aes::Aes192),
    K256(aes::Aes256),
}

impl Aes {
    fn new(key: &[u8]) -> Option<Aes> {
        Some(match key.len() {
            16 => Aes::K128(aes::Aes128::new_from_slice(key).ok()?),
            24 => Aes::K192(aes::Aes192::new_from_slice(key).ok()?),
            32 => Aes::K256(aes::Aes256::new_from_slice(key).ok()?),
            _ => return None,
        })
    }

    /// CBC decryption of whole 16-byte blocks (a trailing partial block is
    /// dropped; agile encryption pads every segment to the block size).
    fn decrypt_cbc(&self, iv: &[u8], data: &[u8], out: &mut Vec<u8>) {
        let mut prev = [0u8; 16];
        prev.copy_from_slice(&iv[..16]);
        for chunk in data.chunks_exact(16) {
            let block = self.decrypt_block(chunk);
            out.extend(block.iter().zip(prev.iter()).map(|(b, p)| b ^ p));
            prev.copy_from_slice(chunk);
        }
    }

    /// ECB decryption of whole 16-byte blocks (standard encryption).
    fn decrypt_ecb(&self, data: &[u8], out: &mut Vec<u8>) {
        for chunk in data.chunks_exact(16) {
            out.extend_from_slice(&self.decrypt_block(chunk));
        }
    }

    /// One 16-byte block decrypted.
    fn decrypt_block(&self, chunk: &[u8]) -> aes::Block {
        let mut block = aes::Block::default();
        block.copy_from_slice(chunk);
        match self {
            Aes::K128(c) => c.decrypt_block(&mut block),
            Aes::K192(c) => c.decrypt_block(&mut block),
            Aes::K256(c) => c.decrypt_block(&mut block),
        }
        block
    }
}

/// SHA-1 (FIPS 180-4) of the concatenated `parts`: Office 2010 writes
/// agile files with SHA-1 and AES-128, and no SHA-1 crate is in the tree.
/// Used to derive keys, not to check integrity.
pub(super) fn sha1(parts: &[&[u8]]) -> [u8; 20] {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let mut data: Vec<u8> = Vec::with_capacity(total + 72);
    for p in parts {
        data.extend_from_slice(p);
    }
    data.push(0x80);
    while data.len() % 64 != 56 {
        data.push(0);
    }
    data.extend_from_slice(&((total as u64) * 8).to_be_bytes());
    let mut w = [0u32; 80];
    for block in data.chunks_exact(64) {
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, &wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (s, v) in h.iter_mut().zip([a, b, c, d, e]) {
            *s = s.wrapping_add(v);
        }
    }
    let mut out = [0u8; 20];
    for (chunk, v) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&v.to_be_bytes());
    }
    out
}

/// `bytes` cut or padded with 0x36 to `len` (MS-OFFCRYPTO 2.3.4.11).
fn fit(mut bytes: Vec<u8>, len: usize) -> Vec<u8> {
    bytes.resize(len, 0x36);
    bytes
}

/// Decrypts an agile-encrypted package with the default password.
/// `Ok(None)` when the file is not agile-encrypted, uses algorithms this
/// reader lacks, or has another password; the package's bytes otherwise.
pub fn decrypt_default(
    info: &[u8],
    package: &[u8],
    budget: &Budget,
) -> ExtractResult<Option<Vec<u8>>> {
    // EncryptionVersionInfo 4.4, reserved 0x40, then the XML descriptor;
    // 2.2, 3.2 or 4.2 is standard encryption.
    if le_u16(info, 2) == Some(2) && matches!(le_u16(info, 0), Some(2..=4)) {
        return decrypt_standard(info, package, budget);
    }
    if le_u16(info, 0) != Some(4) || le_u16(info, 2) != Some(4) || info.len() < 8 {
        return Ok(None);
    }
    let xml = String::from_utf8_lossy(&info[8..]);
    let Some(key_data) = element_attrs(&xml, "keyData").and_then(Params::parse) else {
        return Ok(None);
    };
    let Some(encryptor) = password_encryptor(&xml) else {
        return Ok(None);
    };
    let Some(secret) = secret_key(&encryptor, DEFAULT_PASSWORD, budget)? else {
        return Ok(None);
    };
    let size = package_size(package, budget)?;
    let body = &package[8..];
    let Some(cipher) = Aes::new(&secret[..key_data.key_bytes.min(secret.len())]) else {
        return Ok(None);
    };
    let mut plain = Vec::with_capacity(body.len());
    for (i, segment) in body.chunks(SEGMENT).enumerate() {
        if plain.len() as u64 >= size {
            break;
        }
        if i.is_multiple_of(256) {
            budget.check_time()?;
        }
        let iv = fit(
            key_data
                .hash
                .hash(&key_data.salt, &(i as u32).to_le_bytes()),
            key_data.block_size,
        );
        cipher.decrypt_cbc(&iv, segment, &mut plain);
    }
    plain.truncate(size as usize);
    Ok(Some(plain))
}

/// The package's length from the first 8 bytes of `EncryptedPackage`,
/// checked against the stream and the part limit.
fn package_size(package: &[u8], budget: &Budget) -> ExtractResult<u64> {
    let Some(size) = le_u64(package, 0) else {
        return Err(ExtractError::corrupt("EncryptedPackage truncated"));
    };
    if size > (package.len() - 8) as u64 || size > budget.limits.max_part_bytes {
        return Err(ExtractError::corrupt(
            "EncryptedPackage size exceeds its stream",
        ));
    }
    budget.charge_inflated(size)?;
    Ok(size)
}

/// Standard encryption (MS-OFFCRYPTO 2.3.4.5-2.3.4.9): AES in ECB mode
/// under a key derived with 50,000 rounds of SHA-1, checked against the
/// header's verifier. RC4 CryptoAPI packages (fAES clear) are left
/// `encrypted`: Office never writes them for OOXML.
fn decrypt_standard(
    info: &[u8],
    package: &[u8],
    budget: &Budget,
) -> ExtractResult<Option<Vec<u8>>> {
    const F_CRYPTOAPI: u32 = 0x04;
    const F_AES: u32 = 0x20;
    let (Some(flags), Some(header_size)) = (le_u32(info, 4), le_u32(info, 8)) else {
        return Ok(None);
    };
    if flags & (F_CRYPTOAPI | F_AES) != F_CRYPTOAPI | F_AES {
        return Ok(None);
    }
    // EncryptionHeader: flags, size extra, AlgID, AlgIDHash, KeySize (bits) ...
    let header = 12usize;
    let (Some(alg_id), Some(key_bits)) = (le_u32(info, header + 8), le_u32(info, header + 16))
    else {
        return Ok(None);
    };
    let key_bytes = match (alg_id, key_bits) {
        (0x660E, 128) | (0x660F, 192) | (0x6610, 256) => key_bits as usize / 8,
        _ => return Ok(None),
    };
    // EncryptionVerifier: salt size, salt, verifier, hash size, its hash.
    let v = header.saturating_add(header_size as usize);
    let (Some(16), Some(salt), Some(verifier), Some(20), Some(verifier_hash)) = (
        le_u32(info, v),
        info.get(v + 4..v + 20),
        info.get(v + 20..v + 36),
        le_u32(info, v + 36),
        info.get(v + 40..v + 72),
    ) else {
        return Ok(None);
    };
    let utf16: Vec<u8> = DEFAULT_PASSWORD
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let mut h = sha1(&[salt, &utf16]);
    for i in 0..50_000u32 {
        h = sha1(&[&i.to_le_bytes(), &h]);
    }
    let h = sha1(&[&h, &0u32.to_le_bytes()]);
    // The key: SHA-1 of the hash XORed into 64 bytes of 0x36, then of 0x5C.
    let derive = |fill: u8| {
        let mut buf = [fill; 64];
        for (b, x) in buf.iter_mut().zip(h) {
            *b ^= x;
        }
        sha1(&[&buf])
    };
    let mut key = derive(0x36).to_vec();
    key.extend_from_slice(&derive(0x5C));
    key.truncate(key_bytes);
    let Some(cipher) = Aes::new(&key) else {
        return Ok(None);
    };
    let mut plain_verifier = Vec::with_capacity(16);
    cipher.decrypt_ecb(verifier, &mut plain_verifier);
    let mut plain_hash = Vec::with_capacity(32);
    cipher.decrypt_ecb(verifier_hash, &mut plain_hash);
    if sha1(&[&plain_verifier])[..] != plain_hash[..20] {
        return Ok(None);
    }
    let size = package_size(package, budget)?;
    let body = &package[8..];
    let mut plain = Vec::with_capacity(body.len());
    for (i, chunk) in body.chunks(SEGMENT).enumerate() {
        if plain.len() as u64 >= size {
            break;
        }
        if i.is_multiple_of(256) {
            budget.check_time()?;
        }
        cipher.decrypt_ecb(chunk, &mut plain);
    }
    plain.truncate(size as usize);
    Ok(Some(plain))
}

/// The password key encryptor's parameters and encrypted values.
struct Encryptor {
    params: Params,
    spin: u32,
    verifier_input: Vec<u8>,
    verifier_value: Vec<u8>,
    key_value: Vec<u8>,
}

fn password_encryptor(xml: &str) -> Option<Encryptor> {
    // `<p:encryptedKey ...>` of the password key encryptor (the certificate
    // one, `c:encryptedKey`, has no spinCount).
    let mut rest = xml;
    while let Some(at) = rest.find("encryptedKey") {
        let attrs = element_tail(&rest[at + "encryptedKey".len()..]);
        rest = &rest[at + "encryptedKey".len()..];
        let Some(spin) = attr_value(attrs, "spinCount") else {
            continue;
        };
        let b64 = |k: &str| attr_value(attrs, k).and_then(|v| base64(&v));
        return Some(Encryptor {
            params: Params::parse(attrs)?,
            spin: spin.trim().parse().ok().filter(|&s| s <= MAX_SPIN)?,
            verifier_input: b64("encryptedVerifierHashInput")?,
            verifier_value: b64("encryptedVerifierHashValue")?,
            key_value: b64("encryptedKeyValue")?,
        });
    }
    None
}

/// The package's secret key, if `password` is the file's password.
fn secret_key(e: &Encryptor, password: &str, budget: &Budget) -> ExtractResult<Option<Vec<u8>>> {
    let p = &e.params;
    let utf16: Vec<u8> = password.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut h = p.hash.hash(&p.salt, &utf16);
    for i in 0..e.spin {
        if i.is_multiple_of(65_536) {
            budget.check_time()?;
        }
        h = p.hash.hash(&i.to_le_bytes(), &h);
    }
    let iv = fit(p.salt.clone(), p.block_size);
    let decrypt = |block_key: &[u8], data: &[u8]| -> Option<Vec<u8>> {
        let key = fit(p.hash.hash(&h, block_key), p.key_bytes);
        let mut out = Vec::with_capacity(data.len());
        Aes::new(&key)?.decrypt_cbc(&iv, data, &mut out);
        Some(out)
    };
    let (Some(input), Some(value), Some(secret)) = (
        decrypt(&BLOCK_VERIFIER_INPUT, &e.verifier_input),
        decrypt(&BLOCK_VERIFIER_VALUE, &e.verifier_value),
        decrypt(&BLOCK_KEY_VALUE, &e.key_value),
    ) else {
        return Ok(None);
    };
    let salt_len = p.salt.len().min(input.len());
    let expected = p.hash.hash(&input[..salt_len], &[]);
    if value.len() < expected.len() || value[..expected.len()] != expected[..] {
        return Ok(None);
    }
    Ok((secret.len() >= p.key_bytes).then(|| secret[..p.key_bytes].to_vec()))
}

/// The attribute text of the first `<NAME ...>` or `<prefix:NAME ...>`.
fn element_attrs<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = xml;
    while let Some(at) = rest.find(name) {
        let before = &rest[..at];
        let after = &rest[at + name.len()..];
        if (before.ends_with('<') || before.ends_with(':'))
            && after.starts_with(|c: char| c.is_whitespace())
        {
            return Some(element_tail(after));
        }
        rest = after;
    }
    None
}

/// Text up to the end of the current tag.
fn element_tail(s: &str) -> &str {
    &s[..s.find('>').unwrap_or(s.len())]
}

/// Standard base64 (whitespace ignored); `None` on any other character.
fn base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            c if c.is_ascii_whitespace() => continue,
            _ => return None,
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes() {
        assert_eq!(base64("TWFu").unwrap(), b"Man");
        assert_eq!(base64("TWE=").unwrap(), b"Ma");
        assert_eq!(base64("T W\nE=").unwrap(), b"Ma");
        assert!(base64("T*E=").is_none());
    }

    #[test]
    fn sha1_matches_fips_vectors() {
        let hex = |b: [u8; 20]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(
            hex(sha1(&[b"abc"])),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex(sha1(&[b""])),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
        let long = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_eq!(
            hex(sha1(&[&long[..10], &long[10..]])),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
    }

    #[test]
    fn fit_cuts_and_pads() {
        assert_eq!(fit(vec![1, 2, 3], 2), vec![1, 2]);
        assert_eq!(fit(vec![1], 3), vec![1, 0x36, 0x36]);
    }

    #[test]
    fn truncated_or_unknown_headers_are_none() {
        let budget = crate::extract::test_budget();
        // Standard encryption whose header stops after its flags; RC4
        // CryptoAPI (fAES clear); extensible encryption (4.3).
        for info in [
            &[3u8, 0, 2, 0, 0x24, 0, 0, 0][..],
            &[3, 0, 2, 0, 0x04, 0, 0, 0, 0, 0, 0, 0],
            &[4, 0, 3, 0, 0x24, 0, 0, 0],
            &[],
        ] {
            assert!(decrypt_default(info, &[0; 16], &budget).unwrap().is_none());
        }
    }
}
