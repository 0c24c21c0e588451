//! Walking the PATH arguments: every regular file, in a deterministic
//! order, never following links, filtered by --include/--exclude.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::pipeline::FileJob;

/// --include/--exclude globs. A glob without `/` also matches a file's name.
pub struct Filter {
    include: Option<GlobSet>,
    exclude: GlobSet,
    /// Directories never descended into (the report folder, when it lies inside a PATH).
    skip_dirs: Vec<PathBuf>,
}

impl Filter {
    pub fn new(
        include: &[String],
        exclude: &[String],
        skip_dirs: Vec<PathBuf>,
    ) -> Result<Filter, globset::Error> {
        let build = |globs: &[String]| -> Result<GlobSet, globset::Error> {
            let mut b = GlobSetBuilder::new();
            for g in globs {
                b.add(Glob::new(g)?);
                if !g.contains('/') {
                    b.add(Glob::new(&format!("**/{g}"))?);
                }
            }
            b.build()
        };
        Ok(Filter {
            include: if include.is_empty() {
                None
            } else {
                Some(build(include)?)
            },
            exclude: build(exclude)?,
            skip_dirs,
        })
    }

    fn wants(&self, relative: &str) -> bool {
        if self.exclude.is_match(relative) {
            return false;
        }
        self.include
            .as_ref()
            .is_none_or(|inc| inc.is_match(relative))
    }

    fn skips_dir(&self, path: &Path) -> bool {
        if self.skip_dirs.is_empty() {
            return false;
        }
        let Ok(canonical) = path.canonicalize() else {
            return false;
        };
        self.skip_dirs.contains(&canonical)
    }
}

/// Something the walker passed over, for the summary.
#[derive(Debug, Clone)]
pub struct WalkSkip {
    pub path: String,
    pub reason: String,
}

pub enum WalkItem {
    File(FileJob),
    Skip(WalkSkip),
}

/// Walks one PATH argument, calling `visit` for each file in name order.
/// Returns early when `visit` returns false.
pub fn walk(root: &Path, filter: &Filter, mut visit: impl FnMut(WalkItem) -> bool) {
    let root_display = root.to_string_lossy().to_string();
    let meta = std::fs::symlink_metadata(root);
    if let Ok(m) = &meta {
        if m.is_file() {
            let name = root
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            visit(WalkItem::File(FileJob {
                display_path: root_display,
                relative_path: name,
                fs_path: root.to_path_buf(),
                size: m.len(),
            }));
            return;
        }
    }
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| !(e.file_type().is_dir() && e.depth() > 0 && filter.skips_dir(e.path())));
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(err) => {
                let path = err
                    .path()
                    .map(|p| p.to_string_lossy().to_string())
                    .unwrap_or_else(|| root_display.clone());
                let reason = match err.io_error().map(|e| e.kind()) {
                    Some(std::io::ErrorKind::PermissionDenied) => "permission_denied",
                    _ => "io",
                };
                if !visit(WalkItem::Skip(WalkSkip {
                    path,
                    reason: reason.to_string(),
                })) {
                    return;
                }
                continue;
            }
        };
        let ft = entry.file_type();
        if ft.is_dir() {
            continue;
        }
        let relative = entry
            .path()
            .strip_prefix(root)
            .unwrap_or(entry.path())
            .to_string_lossy()
            .replace('\\', "/");
        if !filter.wants(&relative) {
            continue;
        }
        let display = join_display(&root_display, &relative);
        let item = if ft.is_symlink() {
            WalkItem::Skip(WalkSkip {
                path: display,
                reason: "symlink".to_string(),
            })
        } else if !ft.is_file() {
            WalkItem::Skip(WalkSkip {
                path: display,
                reason: "not a regular file".to_string(),
            })
        } else {
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            WalkItem::File(FileJob {
                display_path: display,
                relative_path: relative,
                fs_path: entry.path().to_path_buf(),
                size,
            })
        };
        if !visit(item) {
            return;
        }
    }
}

/// The PATH argument joined with the relative path, as the user typed the PATH.
fn join_display(root: &str, relative: &str) -> String {
    if root.ends_with('/') || root.ends_with(std::path::MAIN_SEPARATOR) {
        format!("{root}{relative}")
    } else {
        format!("{root}/{relative}")
    }
}
