//! The PATH arguments as a run will walk them: each existing PATH once, a
//! PATH inside another dropped (its files are walked under the outer one),
//! and the ones that cannot be read named instead of aborting the run.

use std::path::{Path, PathBuf};

/// What the walk will cover, and what it cannot.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RootPlan {
    /// The PATHs to walk, as given, in argument order.
    pub roots: Vec<PathBuf>,
    /// Each walked PATH resolved (absolute, links resolved), same order.
    pub resolved: Vec<String>,
    /// PATHs that do not exist or cannot be read at all, with why.
    pub unreadable: Vec<(String, String)>,
    /// PATHs lying inside another PATH (or given twice), with the PATH that covers them.
    pub covered: Vec<(String, String)>,
}

/// Plans the walk of `paths`. A PATH is covered by another when its
/// resolved form lies inside (or equals) the other's; the outer one is
/// walked, wherever it stands in the arguments, so every file is walked
/// once and always under the same PATH.
pub fn plan_roots(paths: &[PathBuf]) -> RootPlan {
    let mut plan = RootPlan::default();
    let mut readable: Vec<(PathBuf, PathBuf)> = Vec::new();
    for path in paths {
        match check_readable(path) {
            Ok(resolved) => readable.push((path.clone(), resolved)),
            Err(why) => plan
                .unreadable
                .push((path.display().to_string(), why.to_string())),
        }
    }
    for (i, (path, resolved)) in readable.iter().enumerate() {
        let cover = readable.iter().enumerate().find(|(j, (_, other))| {
            *j != i && resolved.starts_with(other) && (resolved != other || *j < i)
        });
        match cover {
            Some((_, (outer, _))) => plan
                .covered
                .push((path.display().to_string(), outer.display().to_string())),
            None => {
                plan.roots.push(path.clone());
                plan.resolved.push(resolved.display().to_string());
            }
        }
    }
    plan
}

/// The resolved PATH, or why it cannot be walked (`not_found`,
/// `permission_denied`, `io`).
fn check_readable(path: &Path) -> Result<PathBuf, &'static str> {
    let kind = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => "not_found",
        std::io::ErrorKind::PermissionDenied => "permission_denied",
        _ => "io",
    };
    let metadata = std::fs::metadata(path).map_err(kind)?;
    if metadata.is_dir() {
        std::fs::read_dir(path).map_err(kind)?;
    } else if metadata.is_file() {
        std::fs::File::open(path).map_err(kind)?;
    } else {
        return Err("not_a_file");
    }
    path.canonicalize().map_err(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_and_repeated_paths_are_walked_once_under_the_outer_path() {
        let dir = tempfile::tempdir().unwrap();
        let share = dir.path().join("share");
        let partners = share.join("partners");
        std::fs::create_dir_all(&partners).unwrap();
        let plan = plan_roots(&[partners.clone(), share.clone(), share.clone()]);
        assert_eq!(plan.roots, vec![share.clone()]);
        assert_eq!(plan.covered.len(), 2);
        assert_eq!(plan.covered[0].1, share.display().to_string());
        assert!(plan.unreadable.is_empty());
    }

    #[test]
    fn missing_paths_are_named_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("not-mounted");
        let plan = plan_roots(&[missing.clone(), dir.path().to_path_buf()]);
        assert_eq!(plan.roots, vec![dir.path().to_path_buf()]);
        assert_eq!(
            plan.unreadable,
            vec![(missing.display().to_string(), "not_found".to_string())]
        );
    }
}
