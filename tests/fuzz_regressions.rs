//! Every input the fuzzers (fuzz/, tools/fuzz.sh) found to crash, hang or
//! exhaust memory is kept under tests/fuzz_regressions/<target>/. Each one is
//! run through the top-level extractor with the default limits, and through
//! the extractor of the target that found it as every format of its family
//! (the fuzz targets choose among those): each must return (a result or an
//! error) without panicking.

use std::path::{Path, PathBuf};

use labelscan::budget::{Budget, Limits};
use labelscan::extract::{archive, extract, extract_document, Format, Outcome};

fn regressions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions")
}

/// The stored inputs, per target directory. Panics if the directory is
/// missing or unreadable: a lost directory must not pass as "nothing to test".
fn stored_inputs() -> Vec<PathBuf> {
    let dir = regressions_dir();
    assert!(
        dir.is_dir(),
        "fuzz regression directory {} is missing",
        dir.display()
    );
    let mut inputs = Vec::new();
    let targets =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    for target in targets {
        let target = target.expect("readable directory entry").path();
        if !target.is_dir() {
            continue;
        }
        for input in std::fs::read_dir(&target)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", target.display()))
        {
            let input = input.expect("readable directory entry").path();
            if input.is_file() {
                inputs.push(input);
            }
        }
    }
    inputs.sort();
    inputs
}

/// The name the input is extracted under: the target's directory gives the
/// extension hint (so a broken docx is still read as one).
fn name_for(input: &Path) -> String {
    let ext = match target_of(input) {
        "ooxml" => "docx",
        "odf" => "odt",
        "pdf" => "pdf",
        "legacy" => "doc",
        "rtf" => "rtf",
        "text" => "txt",
        "archive" => "zip",
        _ => "",
    };
    let stem = input
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("input");
    if ext.is_empty() {
        stem.to_string()
    } else {
        format!("{stem}.{ext}")
    }
}

/// The formats the fuzz target of `target` may have extracted an input as.
fn family(target: &str) -> &'static [Format] {
    match target {
        "ooxml" => &[Format::Docx, Format::Xlsx, Format::Pptx, Format::OoxmlOther],
        "odf" => &[Format::Odt, Format::Ods, Format::Odp],
        "pdf" => &[Format::Pdf],
        "legacy" => &[
            Format::Doc,
            Format::Xls,
            Format::Ppt,
            Format::OleOther,
            Format::EncryptedOoxml,
        ],
        "rtf" => &[Format::Rtf],
        "text" => &[Format::Text, Format::Csv],
        _ => &[],
    }
}

fn target_of(input: &Path) -> &str {
    input
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("")
}

fn default_budget() -> Budget {
    Budget::new(Limits::default())
}

/// Runs one input through every path its target covers.
fn run_input(bytes: &[u8], name: &str, target: &str) {
    match extract(bytes, name, &default_budget()) {
        Outcome::Document(_, extracted) => drop(extracted),
        Outcome::Archive(members) => drop(members),
        Outcome::Unsupported(_) => {}
    }
    for &format in family(target) {
        drop(extract_document(format, bytes, &default_budget()));
    }
    if target == "archive" {
        drop(archive::extract_members(bytes, &default_budget()));
    }
}

#[test]
fn every_stored_input_is_extracted_without_panicking() {
    let inputs = stored_inputs();
    let mut failures = Vec::new();
    for input in &inputs {
        let bytes =
            std::fs::read(input).unwrap_or_else(|e| panic!("cannot read {}: {e}", input.display()));
        let name = name_for(input);
        let target = target_of(input);
        let result = std::panic::catch_unwind(|| run_input(&bytes, &name, target));
        if result.is_err() {
            failures.push(input.display().to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} stored fuzz inputs panicked: {failures:?}",
        failures.len(),
        inputs.len()
    );
    eprintln!("{} stored fuzz inputs extracted", inputs.len());
}
