//! Hashes and identifiers that several stages compute the same way.

use sha2::{Digest, Sha256};

/// SHA-256 of `bytes`, as 64 lower-case hex digits.
pub fn hex_sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Size and SHA-256 (hex) of everything `reader` yields, read a buffer at
/// a time.
pub fn hash_reader(reader: &mut impl std::io::Read) -> std::io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let size = hash_into(&mut hasher, reader)?;
    Ok((size, hex(&hasher.finalize())))
}

/// Feeds everything `reader` yields to `hasher`; returns how many bytes.
pub fn hash_into(hasher: &mut Sha256, reader: &mut impl std::io::Read) -> std::io::Result<u64> {
    let mut size = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(size),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
    }
}

/// `bytes` as lower-case hex digits.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

/// `bytes` random bytes as hex digits, from the OS's generator; should it
/// be unreadable, from the time, the process id and an address, which is
/// still unique enough for a run id.
pub fn random_hex(bytes: usize) -> String {
    use std::io::Read;
    let mut raw = vec![0u8; bytes];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut raw));
    if read.is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let seed = format!("{nanos} {} {:p}", std::process::id(), &raw);
        raw = Sha256::digest(seed.as_bytes())[..bytes.min(32)].to_vec();
    }
    let mut out = String::with_capacity(bytes * 2);
    for b in raw {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// A stable id for a document: the first 16 hex digits of SHA-256 of its path.
pub fn document_id(path: &str) -> String {
    hex(&Sha256::digest(path.as_bytes())[..8])
}

/// FNV-1a, 64 bits: a hash that is the same on every host, build and
/// version (unlike std's `DefaultHasher`), for splitting files between
/// shards. Not for anything an adversary could exploit.
pub fn stable_hash64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Strips braces and lower-cases a GUID.
pub fn normalise_guid(guid: &str) -> String {
    guid.trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_id_is_the_start_of_its_path_hash() {
        let path = "/share/a.docx";
        assert_eq!(document_id(path), hex_sha256(path.as_bytes())[..16]);
    }
}
