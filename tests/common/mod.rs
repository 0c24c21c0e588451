//! Helpers the integration tests share: running the real binary, and
//! building small documents.
#![allow(dead_code)] // each test crate uses a part of them

pub mod bounds;
pub mod postgres;
pub mod reports;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_labelscan"))
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("labelscan runs")
}

/// Sends `sig` to a child process the test started.
pub fn signal(child: &std::process::Child, sig: i32) {
    // SAFETY: kill(2) with the pid of a child this test started and has
    // not yet waited for.
    let rc = unsafe { libc::kill(child.id() as i32, sig) };
    assert_eq!(rc, 0, "signal {sig} to process {}", child.id());
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// `count` text files `memo-NN.txt` in `folder` (made if missing), the
/// `i`th holding `text(i)`.
pub fn write_memos(folder: &Path, count: usize, text: impl Fn(usize) -> String) {
    std::fs::create_dir_all(folder).unwrap();
    for i in 0..count {
        std::fs::write(folder.join(format!("memo-{i:02}.txt")), text(i)).unwrap();
    }
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// A PDF from numbered object bodies (object 1 is the catalog), with a
/// correct xref table.
pub fn pdf(bodies: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", bodies.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            bodies.len() + 1
        )
        .as_bytes(),
    );
    out
}
