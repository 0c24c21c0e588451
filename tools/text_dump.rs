//! Prints the text labelscan extracts from one file, as the detectors see it:
//! every part (body, headers/footers, notes, comments, the document
//! properties part ...) in order, one blank line between parts; an archive's
//! members one after another. Used by `tools/fidelity.py`.
//!
//!     cargo run --release --example text_dump -- FILE
//!
//! stdout: the text. stderr: one line `format=F error=KIND` (`error=-` when
//! the file was read). Exit 0 when the file was read (even with an
//! extraction error), 2 when it could not be opened.

use std::io::Write;

use labelscan::budget::{Budget, Limits};
use labelscan::extract::{self, Extracted, Outcome};

fn write_parts(out: &mut impl Write, x: &Extracted) -> std::io::Result<()> {
    for part in &x.parts {
        out.write_all(part.text.as_bytes())?;
        out.write_all(b"\n\n")?;
    }
    Ok(())
}

fn error_of(x: &Extracted) -> &'static str {
    x.error.as_ref().map_or("-", |e| e.kind.as_str())
}

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: text_dump FILE");
        std::process::exit(2);
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            std::process::exit(2);
        }
    };
    let budget = Budget::new(Limits::default());
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let status = match extract::extract(&bytes, &path, &budget) {
        Outcome::Document(format, x) => {
            let _ = write_parts(&mut out, &x);
            format!("format={} error={}", format.as_str(), error_of(&x))
        }
        Outcome::Archive(members) => {
            for m in &members {
                let _ = write_parts(&mut out, &m.extracted);
            }
            format!("format=zip error=- members={}", members.len())
        }
        Outcome::Unsupported(why) => format!("format=unsupported error=- why={why}"),
    };
    let _ = out.flush();
    eprintln!("{status}");
}
