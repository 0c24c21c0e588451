//! A file to inspect, as a job source hands it to the workers.

use std::path::{Component, Path, PathBuf};

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
            Component::Normal(name) => parts.push(name.to_string_lossy().into_owned()),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
