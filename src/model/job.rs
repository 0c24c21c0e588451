//! A file to inspect, as a job source hands it to the workers, and a path a
//! job source passed over.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct FileJob {
    /// The PATH argument joined with the path below it: the report's `path`.
    pub display_path: String,
    /// The file's absolute path with `/` separators, matched against
    /// exchange locations (SPEC "Exchange locations"), so that a verdict never
    /// depends on which ancestor folder was scanned.
    pub location_path: String,
    pub fs_path: PathBuf,
    pub size: u64,
    /// File time and owner, for the reports' evidence columns.
    pub origin: FileOrigin,
    /// Where the file lies in the run's scope, for the summary's breakdowns.
    pub scope: Scope,
}

impl FileJob {
    /// A job for a file named on its own (a file PATH, or `explain FILE`).
    pub fn single(display_path: &str, fs_path: &Path, metadata: &std::fs::Metadata) -> FileJob {
        let root: Arc<str> = Arc::from(display_path);
        FileJob {
            display_path: display_path.to_string(),
            location_path: location_path(fs_path),
            fs_path: fs_path.to_path_buf(),
            size: metadata.len(),
            origin: FileOrigin::of(metadata, &mut Owners::default()),
            scope: Scope {
                folder: Arc::clone(&root),
                root,
            },
        }
    }
}

/// The file-system facts an auditor asks for: when the file last changed
/// and who owns it. Archive members share their archive's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileOrigin {
    /// Modification time, seconds since the Unix epoch.
    pub modified: Option<i64>,
    /// The owner's user name, or the numeric id when it has no name.
    pub owner: Option<Arc<str>>,
    /// As the walk saw it, before any read: should the file change after,
    /// a stored analysis made with it is of an older identity and the next
    /// run reads the file again.
    pub identity: Option<FileIdentity>,
}

/// What identifies a file's content without reading it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileIdentity {
    pub size: u64,
    /// Modification time in nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// Inode and device, 0 where the platform has none.
    pub inode: u64,
    pub device: u64,
}

impl FileIdentity {
    #[cfg(unix)]
    pub fn of(metadata: &std::fs::Metadata) -> Option<FileIdentity> {
        use std::os::unix::fs::MetadataExt;
        Some(FileIdentity {
            size: metadata.len(),
            mtime_ns: metadata.mtime() * 1_000_000_000 + metadata.mtime_nsec(),
            inode: metadata.ino(),
            device: metadata.dev(),
        })
    }

    #[cfg(not(unix))]
    pub fn of(metadata: &std::fs::Metadata) -> Option<FileIdentity> {
        let since = metadata
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?;
        Some(FileIdentity {
            size: metadata.len(),
            mtime_ns: since.as_nanos() as i64,
            inode: 0,
            device: 0,
        })
    }
}

impl FileOrigin {
    pub fn of(metadata: &std::fs::Metadata, owners: &mut Owners) -> FileOrigin {
        FileOrigin {
            modified: modified_secs(metadata),
            owner: owners.owner_of(metadata),
            identity: FileIdentity::of(metadata),
        }
    }

    /// The modification time in ISO 8601 UTC (`2026-12-03T13:05:01Z`).
    pub fn modified_iso(&self) -> String {
        self.modified
            .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default()
    }
}

fn modified_secs(metadata: &std::fs::Metadata) -> Option<i64> {
    let modified = metadata.modified().ok()?;
    Some(match modified.duration_since(std::time::UNIX_EPOCH) {
        Ok(after) => after.as_secs() as i64,
        Err(before) => -(before.duration().as_secs() as i64),
    })
}

/// User names by id, looked up once each: a share has few owners and many files.
#[derive(Default, Clone)]
pub struct Owners {
    names: HashMap<u32, Arc<str>>,
}

impl Owners {
    /// Adds the names `other` looked up.
    pub fn absorb(&mut self, other: Owners) {
        self.names.extend(other.names);
    }

    #[cfg(unix)]
    pub fn owner_of(&mut self, metadata: &std::fs::Metadata) -> Option<Arc<str>> {
        use std::os::unix::fs::MetadataExt;
        let uid = metadata.uid();
        Some(Arc::clone(self.names.entry(uid).or_insert_with(|| {
            Arc::from(user_name(uid).unwrap_or_else(|| uid.to_string()))
        })))
    }

    #[cfg(not(unix))]
    pub fn owner_of(&mut self, _metadata: &std::fs::Metadata) -> Option<Arc<str>> {
        None
    }
}

/// The name of user `uid` from the system's user database.
#[cfg(unix)]
pub fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: a zeroed passwd is a valid out-parameter; getpwuid_r writes
    // only into it and into `buf`, whose length it is given.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: on success pw_name points to a NUL-terminated string in `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

#[cfg(not(unix))]
pub fn user_name(_uid: u32) -> Option<String> {
    None
}

/// Where a file lies in the run's scope: the PATH argument it was found
/// under and the top-level folder below that PATH (the PATH itself for a
/// file directly in it), as the reports print paths.
#[derive(Debug, Clone)]
pub struct Scope {
    pub root: Arc<str>,
    pub folder: Arc<str>,
}

/// A path a job source passed over without inspecting it, and why: one row
/// of `skipped.csv` (`unsupported:<type>`, `symlink`, `permission_denied`,
/// `not_a_file`, `excluded_by_default`, `io`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    pub path: String,
    pub reason: String,
}

/// A file name or path as the reports write it. On Unix, where names are
/// bytes: valid UTF-8 as it is, but each byte that is not part of valid
/// UTF-8 as `\xNN` and each backslash doubled (`\\`), so that two
/// different names never print alike and the bytes can be recovered
/// (lossy decoding gave two files the same path and id). Elsewhere the
/// name as the platform decodes it.
pub fn path_text(name: &std::ffi::OsStr) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        escape_bytes(name.as_bytes())
    }
    #[cfg(not(unix))]
    {
        name.to_string_lossy().into_owned()
    }
}

/// See [`path_text`].
pub fn escape_bytes(mut bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    loop {
        let (valid, rest) = match std::str::from_utf8(bytes) {
            Ok(all) => (all, &[][..]),
            Err(e) => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                // The first `valid_up_to` bytes are valid UTF-8.
                (std::str::from_utf8(valid).unwrap_or_default(), rest)
            }
        };
        for c in valid.chars() {
            if c == '\\' {
                text.push('\\');
            }
            text.push(c);
        }
        let Some((&bad, after)) = rest.split_first() else {
            return text;
        };
        text.push_str(&format!("\\x{bad:02x}"));
        bytes = after;
    }
}

/// The path a report's path text names: the inverse of [`path_text`]
/// (`\\xNN` back to the byte, `\\\\` back to one backslash). `None` for text
/// that no name escapes to.
pub fn path_from_text(text: &str) -> Option<PathBuf> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        let bytes = unescape_bytes(text)?;
        Some(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
    }
    #[cfg(not(unix))]
    {
        Some(PathBuf::from(text))
    }
}

/// The bytes [`escape_bytes`] made `text` from.
pub fn unescape_bytes(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        match bytes.get(i + 1)? {
            b'\\' => {
                out.push(b'\\');
                i += 2;
            }
            b'x' => {
                let hex = std::str::from_utf8(bytes.get(i + 2..i + 4)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 4;
            }
            _ => return None,
        }
    }
    Some(out)
}

/// The absolute, `/`-separated form of a path for location matching, with
/// `.` and `..` resolved by name (links are not followed: a location names
/// the path users see); the path as given when it cannot be made absolute.
pub fn location_path(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut parts: Vec<String> = Vec::new();
    for component in absolute.components() {
        match component {
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                parts.pop();
            }
            Component::Normal(name) => parts.push(path_text(name)),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_is_escaped_reversibly() {
        assert_eq!(escape_bytes(b"plain.docx"), "plain.docx");
        assert_eq!(
            escape_bytes("Gesch\u{e4}ft.pdf".as_bytes()),
            "Gesch\u{e4}ft.pdf"
        );
        assert_eq!(escape_bytes(b"a\xff.txt"), "a\\xff.txt");
        assert_eq!(escape_bytes(b"a\xfe.txt"), "a\\xfe.txt");
        // A literal backslash is doubled, so a name spelling `\xff` differs.
        assert_eq!(escape_bytes(b"a\\xff.txt"), "a\\\\xff.txt");
        assert_eq!(escape_bytes(b"\xc3"), "\\xc3");
        for name in [
            &b"a\xff.txt"[..],
            b"a\\xff.txt",
            b"\xc3",
            "Gesch\u{e4}ft".as_bytes(),
        ] {
            assert_eq!(unescape_bytes(&escape_bytes(name)).as_deref(), Some(name));
        }
        assert_eq!(unescape_bytes("a\\q"), None);
    }

    #[test]
    fn location_paths_are_absolute_and_resolved_by_name() {
        assert_eq!(
            location_path(Path::new("/srv/share/./a/../b.docx")),
            "/srv/share/b.docx"
        );
        let relative = location_path(Path::new("x/y.pdf"));
        assert!(
            relative.starts_with('/') && relative.ends_with("/x/y.pdf"),
            "{relative}"
        );
    }

    #[test]
    fn owners_are_named_and_times_are_iso_utc() {
        let metadata = std::fs::metadata("Cargo.toml").unwrap();
        let origin = FileOrigin::of(&metadata, &mut Owners::default());
        let iso = origin.modified_iso();
        assert_eq!(iso.len(), 20, "{iso}");
        assert!(iso.ends_with('Z'));
        #[cfg(unix)]
        assert!(origin.owner.is_some_and(|o| !o.is_empty()));
        assert_eq!(user_name(0).as_deref(), Some("root"));
        let epoch = FileOrigin {
            modified: Some(0),
            owner: None,
            identity: None,
        };
        assert_eq!(epoch.modified_iso(), "1970-01-01T00:00:00Z");
    }
}
