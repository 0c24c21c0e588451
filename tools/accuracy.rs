//! Precision and recall per detector on the labelled set.
//!
//! usage: cargo run --release --example accuracy [-- [FILE] [--errors]]
//! FILE defaults to benches/data/labelled.tsv (detector_id, expected 0/1,
//! text; made by benches/data/make_labelled.py). Each text is scanned as a
//! one-part document with the default policy; a row counts as detected when
//! its detector fired.

use std::collections::BTreeMap;

use labelscan::detect::DetectorSet;
use labelscan::extract::{Part, PartKind};
use labelscan::policy::Policy;

#[derive(Default)]
struct Tally {
    tp: usize,
    fp: usize,
    tn: usize,
    fn_: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let show_errors = args.iter().any(|a| a == "--errors");
    let path = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| "benches/data/labelled.tsv".to_string());
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            std::process::exit(2);
        }
    };
    let set = match DetectorSet::compile(&Policy::default_policy()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let mut cols = line.splitn(3, '\t');
        let (Some(id), Some(exp), Some(sample)) = (cols.next(), cols.next(), cols.next()) else {
            continue;
        };
        let expected = exp == "1";
        let found = set
            .scan(&[Part::new(PartKind::Body, "", sample)], true)
            .iter()
            .any(|d| d.detector == id && d.fired);
        let t = tallies.entry(id.to_string()).or_default();
        match (expected, found) {
            (true, true) => t.tp += 1,
            (true, false) => t.fn_ += 1,
            (false, true) => t.fp += 1,
            (false, false) => t.tn += 1,
        }
        if show_errors && expected != found {
            println!("{} {id}\t{sample}", if expected { "MISS" } else { "FALSE" });
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    println!(
        "{:<22} {:>5} {:>5} {:>5} {:>5} {:>9} {:>7} {:>8}",
        "detector", "tp", "fp", "fn", "tn", "precision", "recall", "accuracy"
    );
    let mut total = Tally::default();
    for (id, t) in &tallies {
        println!(
            "{:<22} {:>5} {:>5} {:>5} {:>5} {:>9.3} {:>7.3} {:>8.3}",
            id,
            t.tp,
            t.fp,
            t.fn_,
            t.tn,
            ratio(t.tp, t.tp + t.fp),
            ratio(t.tp, t.tp + t.fn_),
            ratio(t.tp + t.tn, t.tp + t.tn + t.fp + t.fn_)
        );
        total.tp += t.tp;
        total.fp += t.fp;
        total.fn_ += t.fn_;
        total.tn += t.tn;
    }
    println!(
        "{:<22} {:>5} {:>5} {:>5} {:>5} {:>9.3} {:>7.3} {:>8.3}",
        "ALL",
        total.tp,
        total.fp,
        total.fn_,
        total.tn,
        ratio(total.tp, total.tp + total.fp),
        ratio(total.tp, total.tp + total.fn_),
        ratio(
            total.tp + total.tn,
            total.tp + total.tn + total.fp + total.fn_
        )
    );
}
