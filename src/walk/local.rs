//! Walking the PATH arguments: every regular file, in a deterministic
//! order, never following links, filtered by --include/--exclude. Every
//! path passed over is handed on as a skip with its reason, so that the
//! reports account for the whole tree.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::WalkItem;
use crate::model::job::{location_path, path_text, Owners};
use crate::model::{FileJob, FileOrigin, Scope, Skip};

/// Files no user made and no scan needs: Office lock files, Windows and
/// macOS folder caches. Skipped as `excluded_by_default` and counted.
pub fn excluded_by_default(name: &str) -> bool {
    name.starts_with("~$")
        || name.eq_ignore_ascii_case("thumbs.db")
        || name.eq_ignore_ascii_case("desktop.ini")
        || name == ".DS_Store"
}

/// --include/--exclude globs. A glob without `/` also matches a file's name.
#[derive(Clone)]
pub struct Filter {
    include: Option<GlobSet>,
    exclude: GlobSet,
    /// Folders never descended into and files never read, canonical: the
    /// report folder and its files, when it lies inside a PATH.
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

    /// A report file of this run's folder, when that folder is a scanned
    /// one (`scan docs --out docs`). The name is compared first, so that the
    /// usual file costs no `canonicalize`.
    fn skips_file(&self, path: &Path) -> bool {
        let name = path.file_name();
        self.skip_dirs.iter().any(|s| s.file_name() == name) && self.skips_dir(path)
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
    owners: Owners,
    /// Files left out by --include/--exclude: counted, not listed.
    filtered_out: u64,
}

/// The walk below one PATH argument.
struct Tree {
    root: PathBuf,
    root_display: String,
    /// The PATH as the reports print it, shared by its files' scopes.
    root_scope: Arc<str>,
    /// The top-level folder below the PATH the walk is in.
    folder: Arc<str>,
    /// The root's absolute form, for exchange locations.
    root_location: String,
    /// The walk below the PATH; none for the folders of work units.
    entries: Option<walkdir::IntoIter>,
}

impl Walk {
    pub fn new(roots: Vec<PathBuf>, filter: Filter) -> Walk {
        Walk {
            roots: roots.into_iter(),
            filter,
            current: None,
            owners: Owners::default(),
            filtered_out: 0,
        }
    }

    /// Files --include/--exclude left out so far.
    pub fn filtered_out(&self) -> u64 {
        self.filtered_out
    }

    /// Starts the next PATH argument; a PATH that is a file is the item itself.
    fn start(&mut self, root: PathBuf) -> Option<WalkItem> {
        let root_display = path_text(root.as_os_str());
        if let Ok(m) = std::fs::metadata(&root) {
            if m.is_file() {
                return Some(WalkItem::File(FileJob::single(&root_display, &root, &m)));
            }
        }
        let entries = walkdir::WalkDir::new(&root)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter();
        let root_scope: Arc<str> = Arc::from(root_display.as_str());
        self.current = Some(Tree {
            root_location: location_path(&root),
            root,
            root_display,
            folder: Arc::clone(&root_scope),
            root_scope,
            entries: Some(entries),
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
            let Some(entry) = tree.entries.as_mut().and_then(|e| e.next()) else {
                self.current = None;
                continue;
            };
            match tree.item(entry, &self.filter, &mut self.owners) {
                Found::Item(item) => return Some(item),
                Found::FilteredOut => self.filtered_out += 1,
                Found::Nothing => {}
            }
        }
    }
}

/// What one walk entry amounts to.
enum Found {
    Item(WalkItem),
    /// A file --include/--exclude left out.
    FilteredOut,
    /// A folder.
    Nothing,
}

impl Tree {
    /// What one walkdir entry is for the scan.
    fn item(
        &mut self,
        entry: walkdir::Result<walkdir::DirEntry>,
        filter: &Filter,
        owners: &mut Owners,
    ) -> Found {
        let entry = match entry {
            Ok(e) => e,
            Err(err) => return Found::Item(WalkItem::Skip(self.walk_error(&err))),
        };
        let depth = entry.depth();
        self.entry_item(entry, depth, filter, owners)
    }

    /// What one entry `depth` levels below the PATH is for the scan.
    fn entry_item(
        &mut self,
        entry: walkdir::DirEntry,
        depth: usize,
        filter: &Filter,
        owners: &mut Owners,
    ) -> Found {
        let ft = entry.file_type();
        if ft.is_dir() {
            self.folder_entry(entry.path(), depth, filter);
            return Found::Nothing;
        }
        self.file_item(entry.into_path(), depth, filter, owners, |_| Ok((ft, None)))
    }

    /// A folder entered: skipped when the filter says so, and the scope of
    /// the files below it when it is a top-level folder.
    fn folder_entry(&mut self, path: &Path, depth: usize, filter: &Filter) {
        if depth > 0 && filter.skips_dir(path) {
            if let Some(entries) = &mut self.entries {
                entries.skip_current_dir();
            }
        }
        if depth == 1 {
            let relative = relative_text(below(path, &self.root));
            self.folder = Arc::from(join_display(&self.root_display, &relative));
        }
    }

    /// What an entry that is not a folder (as listed) is for the scan, once
    /// the filters pass it. `kind`: its type, and its `lstat` when one was
    /// taken to learn it (else taken here for the file's metadata).
    fn file_item(
        &mut self,
        path: PathBuf,
        depth: usize,
        filter: &Filter,
        owners: &mut Owners,
        kind: impl FnOnce(&Path) -> std::io::Result<(std::fs::FileType, Option<std::fs::Metadata>)>,
    ) -> Found {
        let relative = relative_text(below(&path, &self.root));
        if depth == 1 {
            self.folder = Arc::clone(&self.root_scope);
        }
        if !filter.wants(&relative) {
            return Found::FilteredOut;
        }
        if !filter.skip_dirs.is_empty() && filter.skips_file(&path) {
            return Found::Nothing;
        }
        let display = join_display(&self.root_display, &relative);
        let skip = |reason: &str| {
            Found::Item(WalkItem::Skip(Skip {
                path: display.clone(),
                reason: reason.to_string(),
            }))
        };
        let (ft, metadata) = match kind(&path) {
            Ok(kind) => kind,
            Err(err) => return skip(io_reason(Some(&err))),
        };
        if ft.is_dir() {
            // Listed as a file, a folder by now: not an item.
            self.folder_entry(&path, depth, filter);
            return Found::Nothing;
        }
        if ft.is_symlink() {
            return skip("symlink");
        }
        if !ft.is_file() {
            return skip("not_a_file");
        }
        let name = path.file_name().unwrap_or(path.as_os_str());
        if excluded_by_default(&name.to_string_lossy()) {
            return skip("excluded_by_default");
        }
        // The walk never follows links: the entry's own metadata.
        let metadata = match metadata.map_or_else(|| std::fs::symlink_metadata(&path), Ok) {
            Ok(m) => m,
            Err(err) => return skip(io_reason(Some(&err))),
        };
        Found::Item(WalkItem::File(FileJob {
            location_path: join_display(&self.root_location, &relative),
            display_path: display,
            size: metadata.len(),
            origin: FileOrigin::of(&metadata, owners),
            scope: Scope {
                root: Arc::clone(&self.root_scope),
                folder: Arc::clone(&self.folder),
            },
            fs_path: path,
        }))
    }

    /// A folder the walk could not read (or an entry it could not stat).
    fn walk_error(&self, err: &walkdir::Error) -> Skip {
        let path = match err.path().and_then(|p| p.strip_prefix(&self.root).ok()) {
            Some(relative) if !relative.as_os_str().is_empty() => {
                join_display(&self.root_display, &relative_text(relative))
            }
            _ => self.root_display.clone(),
        };
        Skip {
            path,
            reason: io_reason(err.io_error()).to_string(),
        }
    }
}

fn io_reason(err: Option<&std::io::Error>) -> &'static str {
    match err.map(|e| e.kind()) {
        Some(std::io::ErrorKind::PermissionDenied) => "permission_denied",
        _ => "io",
    }
}

/// A path below a PATH as the reports write it: `/`-separated, invalid
/// UTF-8 escaped ([`path_text`]).
fn relative_text(relative: &Path) -> String {
    let text = path_text(relative.as_os_str());
    if cfg!(windows) {
        text.replace('\\', "/")
    } else {
        text
    }
}

/// The PATH argument joined with the relative path, as the user typed the PATH.
fn join_display(root: &str, relative: &str) -> String {
    let mut joined = String::with_capacity(root.len() + 1 + relative.len());
    joined.push_str(root);
    if !(root.ends_with('/') || root.ends_with(std::path::MAIN_SEPARATOR)) {
        joined.push('/');
    }
    joined.push_str(relative);
    joined
}

/// `path` below `root`, which the walk built it from: its bytes after
/// root's (component by component only if they are not there).
fn below<'p>(path: &'p Path, root: &Path) -> &'p Path {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let (bytes, prefix) = (path.as_os_str().as_bytes(), root.as_os_str().as_bytes());
        if let Some(rest) = bytes.strip_prefix(prefix) {
            let rest = rest.strip_prefix(b"/").unwrap_or(rest);
            if rest.first() != Some(&b'/') {
                return Path::new(std::ffi::OsStr::from_bytes(rest));
            }
        }
    }
    path.strip_prefix(root).unwrap_or(path)
}

/// A key that sorts the items of a PATH in walk order: the path below the
/// PATH, its separators made the least byte, so that a folder's items
/// follow it and precede its next sibling (the walk goes by file name, a
/// folder's contents right after it).
pub fn walk_key(relative: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    relative
        .as_os_str()
        .as_bytes()
        .iter()
        .map(|&b| if b == b'/' { 0 } else { b })
        .collect()
}

/// One entry of a listed folder, in name order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listed {
    /// A sub-folder, to be listed as a work unit of its own.
    Folder(PathBuf),
    /// Something else (a file, a link, ...), by name.
    Entry(std::ffi::OsString),
}

/// One PATH as work units walk it: a folder at a time (its entries, not
/// below), so that hosts can share the walk, with the same items, keys and
/// scopes as [`Walk`] gives.
pub struct UnitTree {
    /// The PATH as this host reaches it (absolute).
    root: PathBuf,
    display: String,
    location: String,
    /// Owners' names looked up by earlier units (a lookup reads the
    /// system's user database).
    owners: std::sync::Mutex<Owners>,
}

impl UnitTree {
    /// `root`: the PATH's absolute path; `display`: as the reports print
    /// it; `location`: its absolute form for exchange locations.
    pub fn new(root: PathBuf, display: String, location: String) -> UnitTree {
        UnitTree {
            root,
            display,
            location,
            owners: std::sync::Mutex::default(),
        }
    }

    fn tree(&self, folder: Arc<str>) -> Tree {
        let root_scope: Arc<str> = Arc::from(self.display.as_str());
        Tree {
            root: self.root.clone(),
            root_display: self.display.clone(),
            root_scope,
            folder,
            root_location: self.location.clone(),
            entries: None,
        }
    }

    /// The item of a PATH that is a file, or `None` when it is a folder.
    pub fn root_file(&self) -> Option<WalkItem> {
        let m = std::fs::metadata(&self.root).ok()?;
        if !m.is_file() {
            return None;
        }
        let mut job = FileJob::single(&self.display, &self.root, &m);
        job.location_path = self.location.clone();
        Some(WalkItem::File(job))
    }

    /// The entries of the folder `relative` below the PATH (empty for the
    /// PATH itself), in name order; the report folder is left out. `Err`:
    /// the folder cannot be read, as the walk reports it.
    pub fn list(&self, relative: &Path, filter: &Filter) -> Result<Vec<Listed>, Skip> {
        let folder = self.root.join(relative);
        let mut listed = Vec::new();
        let entries = walkdir::WalkDir::new(&folder)
            .follow_links(false)
            .min_depth(1)
            .max_depth(1)
            .sort_by_file_name();
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(err) => {
                    let tree = self.tree(Arc::from(self.display.as_str()));
                    return Err(tree.walk_error(&err));
                }
            };
            let name = entry.file_name().to_os_string();
            if entry.file_type().is_dir() {
                if !filter.skips_dir(entry.path()) {
                    listed.push(Listed::Folder(relative.join(&name)));
                }
            } else {
                listed.push(Listed::Entry(name));
            }
        }
        Ok(listed)
    }

    /// The items of entries `names` of folder `relative`, with their walk
    /// keys, and how many --include/--exclude left out.
    pub fn items(
        &self,
        relative: &Path,
        names: &[std::ffi::OsString],
        filter: &Filter,
    ) -> (Vec<(Vec<u8>, WalkItem)>, u64) {
        let depth = relative.components().count() + 1;
        let folder: Arc<str> = match relative.components().next() {
            Some(first) => Arc::from(join_display(
                &self.display,
                &relative_text(Path::new(first.as_os_str())),
            )),
            None => Arc::from(self.display.as_str()),
        };
        let mut tree = self.tree(folder);
        // The names earlier units looked up; this unit's are added after.
        let mut owners = self
            .owners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let (mut items, mut filtered_out) = (Vec::new(), 0);
        for name in names {
            let below_root = relative.join(name);
            let key = walk_key(&below_root);
            // One `lstat` per entry, as the walk's one per file, and none
            // for what the filters leave out.
            let found = tree.file_item(
                self.root.join(&below_root),
                depth,
                filter,
                &mut owners,
                |path| std::fs::symlink_metadata(path).map(|m| (m.file_type(), Some(m))),
            );
            match found {
                Found::Item(item) => items.push((key, item)),
                Found::FilteredOut => filtered_out += 1,
                Found::Nothing => {}
            }
        }
        self.owners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .absorb(owners);
        (items, filtered_out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_agrees_with_strip_prefix_on_the_paths_a_walk_builds() {
        for root in ["/a/b", "/a/b/", ".", "a//b", "/", "x", "./x/"] {
            let root = Path::new(root);
            for name in ["", "f.docx", "d/e.pdf", "d/.hidden", "ü/ß.txt"] {
                let path = if name.is_empty() {
                    root.to_path_buf()
                } else {
                    root.join(name)
                };
                let expected = path.strip_prefix(root).unwrap();
                assert_eq!(
                    below(&path, root),
                    expected,
                    "{} below {}",
                    path.display(),
                    root.display()
                );
            }
        }
    }
}
