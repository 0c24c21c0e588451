//! The crate's layering (README "Layout"): each top-level module may import
//! only modules of lower layers, so there are no import cycles. Read from the
//! source text, so a new `use crate::...` that breaks the layering fails here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Top-level modules by layer, lowest first. Modules of one layer do not
/// import each other.
const LAYERS: &[&[&str]] = &[
    &["model"],
    &["policy"],
    &["extract", "walk"],
    &["labels", "detect"],
    &["analyse", "judge"],
    &["pipeline"],
    &["report", "store"],
    &["scan", "explain", "describe", "apply"],
    &["state"],
    &["queue"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a file names as `crate::NAME`, outside comments.
fn imports(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let tail = &rest[i + "crate::".len()..];
            let name: String = tail
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.push(name);
            }
            rest = tail;
        }
    }
    found
}

#[test]
fn modules_import_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut seen_modules: BTreeMap<String, usize> = BTreeMap::new();
    let mut violations = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        let module = first.to_string_lossy().trim_end_matches(".rs").to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(own) = layer_of(&module) else {
            violations.push(format!("{module}: not in the layer table"));
            continue;
        };
        *seen_modules.entry(module.clone()).or_default() += 1;
        let text = std::fs::read_to_string(file).unwrap();
        for dep in imports(&text) {
            if dep == module || dep == "VERSION" {
                continue;
            }
            match layer_of(&dep) {
                Some(layer) if layer < own => {}
                _ => violations.push(format!("{} imports crate::{dep}", relative.display())),
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layering broken:\n{}",
        violations.join("\n")
    );
    let all: usize = LAYERS.iter().map(|l| l.len()).sum();
    assert_eq!(
        seen_modules.len(),
        all,
        "every layer module has files: {seen_modules:?}"
    );
}

#[test]
fn the_reader_sees_comments_and_imports_apart() {
    let text = "/// see [`crate::scan`]\nuse crate::model::{Level};\nlet x = crate::policy::Policy::default_policy();";
    assert_eq!(imports(text), vec!["model", "policy"]);
}
