//! Walking the PATH arguments: every regular file, in a deterministic
//! order, never following links, filtered by --include/--exclude.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::{WalkItem, WalkSkip};
use crate::model::job::location_path;
use crate::model::FileJob;

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

/// The files under the PATH arguments, in argument order and, below each,
/// in name order: an iterator, so that workers can pull the next file
/// themselves instead of waiting for a walker thread to hand it over.
pub struct Walk {
    roots: std::vec::IntoIter<PathBuf>,
    filter: Filter,
    current: Option<Tree>,
}

/// The walk below one PATH argument.
struct Tree {
    root: PathBuf,
    root_display: String,
    /// The root's absolute form, for exchange locations.
    root_location: String,
    entries: walkdir::IntoIter,
}

impl Walk {
    pub fn new(roots: Vec<PathBuf>, filter: Filter) -> Walk {
        Walk {
            roots: roots.into_iter(),
            filter,
            current: None,
        }
    }

    /// Starts the next PATH argument; a PATH that is a file is the item itself.
    fn start(&mut self, root: PathBuf) -> Option<WalkItem> {
        let root_display = root.to_string_lossy().to_string();
        if let Ok(m) = std::fs::symlink_metadata(&root) {
            if m.is_file() {
                return Some(WalkItem::File(FileJob {
                    display_path: root_display,
                    location_path: location_path(&root),
                    size: m.len(),
                    fs_path: root,
                }));
            }
        }
        let entries = walkdir::WalkDir::new(&root)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter();
        self.current = Some(Tree {
            root_location: location_path(&root),
            root,
            root_display,
            entries,
        });
        None
    }
}

impl Iterator for Walk {
    type Item = WalkItem;

    fn next(&mut self) -> Option<WalkItem> {
        loop {
            let Some(tree) = &mut self.current else {
                let root = self.roots.next()?;
                if let Some(item) = self.start(root) {
                    return Some(item);
                }
                continue;
            };
            let Some(entry) = tree.entries.next() else {
                self.current = None;
                continue;
            };
            if let Some(item) = tree.item(entry, &self.filter) {
                return Some(item);
            }
        }
    }
}

impl Tree {
    /// What one walkdir entry is for the scan; `None` for directories and
    /// filtered-out files.
    fn item(
        &mut self,
        entry: walkdir::Result<walkdir::DirEntry>,
        filter: &Filter,
    ) -> Option<WalkItem> {
        let entry = match entry {
            Ok(e) => e,
            Err(err) => {
                let path = err
                    .path()
                    .map(|p| p.to_string_lossy().to_string())
                    .unwrap_or_else(|| self.root_display.clone());
                let reason = match err.io_error().map(|e| e.kind()) {
                    Some(std::io::ErrorKind::PermissionDenied) => "permission_denied",
                    _ => "io",
                };
                return Some(WalkItem::Skip(WalkSkip {
                    path,
                    reason: reason.to_string(),
                }));
            }
        };
        let ft = entry.file_type();
        if ft.is_dir() {
            if entry.depth() > 0 && filter.skips_dir(entry.path()) {
                self.entries.skip_current_dir();
            }
            return None;
        }
        let relative = entry
            .path()
            .strip_prefix(&self.root)
            .unwrap_or(entry.path())
            .to_string_lossy()
            .replace('\\', "/");
        if !filter.wants(&relative) {
            return None;
        }
        let display = join_display(&self.root_display, &relative);
        Some(if ft.is_symlink() {
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
                location_path: join_display(&self.root_location, &relative),
                fs_path: entry.into_path(),
                size,
            })
        })
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
