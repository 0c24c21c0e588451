//! Zip archives: each member is a document of its own. Nested archives are
//! opened recursively (one nesting level each), their members' paths joined
//! with `!/`.

use super::zipread::{EntryInfo, Package};
use super::{sniff, ExtractError, Extracted, Format, Outcome};
use crate::model::budget::Budget;
use crate::model::hash::hex_sha256;

/// One member of an archive, already extracted.
pub struct Member {
    /// Path inside the archive, nested archives joined with `!/`.
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub format: Format,
    pub extracted: Extracted,
    /// What the member is, when it is no document (`image/png`): a skip.
    pub unsupported: Option<String>,
}

/// Whether an archive's reader should go on to the next member.
pub type MemberFlow = std::ops::ControlFlow<()>;

/// Extracts every member, in archive order, collected (tests, fuzzing,
/// benchmarks). A scan streams them through [`each_member`] instead.
pub fn extract_members(bytes: &[u8], budget: &Budget) -> Outcome {
    let mut members = Vec::new();
    let handed = each_member(bytes, budget, &mut |m| {
        members.push(m);
        MemberFlow::Continue(())
    });
    match handed {
        Ok(0) => Outcome::Unsupported(EMPTY_ARCHIVE.to_string()),
        Ok(_) => Outcome::Archive(members),
        Err(e) => Outcome::Document(Format::Zip, Extracted::failed(e)),
    }
}

/// What an archive without a member is: no document, so the archive itself
/// is the row (`skipped.csv`).
pub const EMPTY_ARCHIVE: &str = "archive/empty";

/// Hands each member to `on_member` as soon as it is extracted, so that
/// only one member's text is held at a time however many the archive
/// lists; `on_member` may stop the reading. Returns how many members were
/// handed on; fails only when the archive itself cannot be opened.
pub fn each_member(
    bytes: &[u8],
    budget: &Budget,
    on_member: &mut dyn FnMut(Member) -> MemberFlow,
) -> Result<usize, ExtractError> {
    Ok(each_member_of(
        Package::open(bytes, budget)?,
        budget,
        on_member,
    ))
}

/// [`each_member`] of an archive already opened (in memory or on disk).
pub fn each_member_of(
    mut pkg: Package<'_>,
    budget: &Budget,
    on_member: &mut dyn FnMut(Member) -> MemberFlow,
) -> usize {
    let mut handed = 0usize;
    let _ = visit(&mut pkg, "", budget, &mut |m| {
        handed += 1;
        on_member(m)
    });
    handed
}

fn failed_member(path: String, size: u64, name: &str, e: ExtractError) -> Member {
    Member {
        path,
        size,
        sha256: String::new(),
        format: Format::from_extension(name).unwrap_or(Format::Unsupported),
        extracted: Extracted::failed(e),
        unsupported: None,
    }
}

fn visit(
    pkg: &mut Package,
    prefix: &str,
    budget: &Budget,
    on_member: &mut dyn FnMut(Member) -> MemberFlow,
) -> MemberFlow {
    let mut buf = Vec::new();
    for i in 0..pkg.len() {
        let Some(info) = pkg.entries().get(i).cloned() else {
            break;
        };
        if info.is_dir {
            continue;
        }
        let path = format!("{prefix}{}", info.name);
        let read = if read_whole(&info, budget) {
            pkg.read_index_into(i, budget, &mut buf).map(|()| false)
        } else {
            pkg.read_text_index_into(i, budget, &mut buf)
        };
        let cut = match read {
            Ok(cut) => cut,
            Err(e) => {
                on_member(failed_member(path, info.size, &info.name, e))?;
                continue;
            }
        };
        let bytes = std::mem::take(&mut buf);
        if cut {
            on_member(partly_read_member(path, &info, &bytes, budget))?;
        } else {
            visit_member(path, &info.name, &bytes, budget, on_member)?;
        }
        buf = bytes;
    }
    MemberFlow::Continue(())
}

/// How many times its compressed size a member may inflate to and still be
/// held whole: a member costs memory in proportion to the bytes on disk,
/// never what a small file of high compression asks for.
const WHOLE_MEMBER_GROWTH: u64 = 8;

/// Whether a member is inflated whole: when it is small (the budget's
/// `max_part_kept`), or not much larger than its compressed bytes. Any
/// other member is inflated only that far, before the rest is produced.
fn read_whole(info: &EntryInfo, budget: &Budget) -> bool {
    let kept = budget.limits.max_part_kept;
    info.size <= kept.max(info.compressed.saturating_mul(WHOLE_MEMBER_GROWTH))
}

/// A member of which only the first `max_part_kept` bytes were inflated:
/// text is read that far (its document `limit_exceeded`, partly read);
/// anything else needs all of its bytes, so it is not read.
fn partly_read_member(path: String, info: &EntryInfo, start: &[u8], budget: &Budget) -> Member {
    let mib = budget.limits.max_part_kept >> 20;
    let format = sniff(start, &info.name);
    let mut unsupported = None;
    let extracted = match format {
        Format::Text | Format::Csv => {
            let mut x = super::extract_document(format, start, budget);
            x.parts_read = vec![format!("text (only its first {mib} MiB read)")];
            x.error.get_or_insert_with(|| {
                ExtractError::limit(format!(
                    "the member inflates to more than {mib} MiB at a high compression ratio; only its first {mib} MiB were read"
                ))
            });
            x
        }
        Format::Unsupported => {
            unsupported = Some(super::sniff::describe_unsupported(start, &info.name));
            Extracted::default()
        }
        _ => Extracted::failed(ExtractError::limit(format!(
            "the member inflates to more than {mib} MiB at a high compression ratio; it was not read"
        ))),
    };
    Member {
        path,
        size: info.size,
        sha256: String::new(),
        format,
        extracted,
        unsupported,
    }
}

/// One member read from its archive: a nested archive is visited in turn,
/// anything else extracted and handed on.
fn visit_member(
    path: String,
    name: &str,
    bytes: &[u8],
    budget: &Budget,
    on_member: &mut dyn FnMut(Member) -> MemberFlow,
) -> MemberFlow {
    let format = sniff(bytes, name);
    let member = |extracted: Extracted, unsupported: Option<String>| Member {
        path: path.clone(),
        size: bytes.len() as u64,
        sha256: hex_sha256(bytes),
        format,
        extracted,
        unsupported,
    };
    match format {
        Format::Zip => {
            let opened = budget
                .enter()
                .and_then(|guard| Package::open(bytes, budget).map(|p| (guard, p)));
            match opened {
                Ok((_guard, mut inner)) => {
                    let mut handed = 0usize;
                    visit(&mut inner, &format!("{path}!/"), budget, &mut |m| {
                        handed += 1;
                        on_member(m)
                    })?;
                    // An empty nested archive is listed like an empty file
                    // archive, not lost.
                    if handed == 0 {
                        on_member(member(Extracted::default(), Some(EMPTY_ARCHIVE.into())))?;
                    }
                    MemberFlow::Continue(())
                }
                Err(e) => on_member(member(Extracted::failed(e), None)),
            }
        }
        Format::Unsupported => {
            let kind = super::sniff::describe_unsupported(bytes, name);
            on_member(member(Extracted::default(), Some(kind)))
        }
        _ => {
            let extracted = match budget.enter() {
                Ok(_guard) => super::extract_document(format, bytes, budget),
                Err(e) => Extracted::failed(e),
            };
            on_member(member(extracted, None))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::zipread::testzip;
    use crate::extract::{ErrorKind, PartKind};
    use crate::model::budget::Limits;

    fn members(bytes: &[u8], limits: Limits) -> Vec<Member> {
        match extract_members(bytes, &Budget::new(limits)) {
            Outcome::Archive(m) => m,
            _ => panic!("expected an archive"),
        }
    }

    fn docx(text: &str) -> Vec<u8> {
        let doc = format!(
            r#"<w:document xmlns:w="w"><w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>"#
        );
        testzip::build(&[("word/document.xml", doc.as_bytes())])
    }

    #[test]
    fn an_empty_nested_archive_is_a_member() {
        let empty = testzip::build(&[]);
        let outer = testzip::build(&[("inner.zip", &empty), ("n.txt", b"hello")]);
        let found = members(&outer, Limits::default());
        let paths: Vec<(&str, Option<&str>)> = found
            .iter()
            .map(|m| (m.path.as_str(), m.unsupported.as_deref()))
            .collect();
        assert_eq!(
            paths,
            [("inner.zip", Some(EMPTY_ARCHIVE)), ("n.txt", None)],
            "{paths:?}"
        );
    }

    #[test]
    fn members_nested_zips_and_limits() {
        let c = docx("inner secret");
        let inner = testzip::build(&[("c.docx", &c), ("pic.png", b"\x89PNG\r\n\x1a\n\0\0\0")]);
        let a = docx("outer text");
        let bomb = vec![0u8; 16 * 1024 * 1024];
        let outer = testzip::build(&[
            ("a.docx", &a),
            ("notes.txt", b"CONFIDENTIAL\nhello"),
            ("folder/", b""),
            ("folder/inner/b.zip", &inner),
            ("bomb.txt", &bomb),
        ]);
        let m = members(&outer, Limits::default());
        let paths: Vec<&str> = m.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "a.docx",
                "notes.txt",
                "folder/inner/b.zip!/c.docx",
                "folder/inner/b.zip!/pic.png",
                "bomb.txt"
            ]
        );
        assert_eq!(m[0].format, Format::Docx);
        assert_eq!(m[0].sha256, hex_sha256(&a));
        assert_eq!(m[0].size, a.len() as u64);
        assert_eq!(m[0].extracted.parts[0].kind, PartKind::Body);
        assert_eq!(m[0].extracted.parts[0].text, "outer text");
        assert_eq!(m[1].format, Format::Text);
        assert_eq!(m[2].extracted.parts[0].text, "inner secret");
        assert_eq!(m[3].format, Format::Unsupported);
        assert!(m[3].extracted.error.is_none());
        assert_eq!(
            m[4].extracted.error.as_ref().unwrap().kind,
            ErrorKind::LimitExceeded
        );

        // Nesting beyond the depth limit fails only that member.
        let m = members(
            &outer,
            Limits {
                max_depth: 1,
                ..Limits::default()
            },
        );
        let nested = m
            .iter()
            .find(|m| m.path == "folder/inner/b.zip!/c.docx")
            .unwrap();
        assert_eq!(
            nested.extracted.error.as_ref().unwrap().kind,
            ErrorKind::LimitExceeded
        );
        assert!(m
            .iter()
            .any(|m| m.path == "a.docx" && m.extracted.error.is_none()));
    }

    #[test]
    fn unreadable_archive_is_corrupt() {
        match extract_members(b"PK\x03\x04broken", &Budget::new(Limits::default())) {
            Outcome::Document(Format::Zip, x) => {
                assert_eq!(x.error.unwrap().kind, ErrorKind::Corrupt)
            }
            _ => panic!("expected a failed document"),
        }
    }

    #[test]
    fn encrypted_member() {
        let mut z = testzip::build_with(&[("a.txt", b"hello")], zip::CompressionMethod::Stored);
        // Set the "encrypted" flag bit in the local and central headers.
        for sig in [&b"PK\x03\x04"[..], &b"PK\x01\x02"[..]] {
            let pos = z.windows(4).position(|w| w == sig).unwrap();
            let off = if sig[2] == 3 { 6 } else { 8 };
            z[pos + off] |= 1;
        }
        let m = members(&z, Limits::default());
        assert_eq!(m.len(), 1);
        assert_eq!(
            m[0].extracted.error.as_ref().unwrap().kind,
            ErrorKind::Encrypted
        );
    }
}
