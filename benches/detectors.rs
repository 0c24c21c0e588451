//! Single-thread throughput of the full default detector set on business
//! text: a few MB of sentences from the word list of
//! /work/shared/bench/make_corpus.py, with its PII lines mixed in at the
//! corpus rate (one document in ten has 1-5 PII lines).
//!
//! A second case is spreadsheet-like text, as the xlsx extractor produces
//! it: rows of "word<TAB>6-digit number<TAB>sentence", where every row has a
//! digit cluster that no detector wants.
//!
//! usage: cargo bench --bench detectors
//!
//! `LABELSCAN_BENCH_ONCE=business|sheet` scans the case once, prints the
//! findings and exits: a fixed amount of work for `valgrind --tool=callgrind`
//! and a listing to diff when changing the engine.

use criterion::{criterion_group, Criterion, Throughput};
use labelscan::detect::DetectorSet;
use labelscan::extract::{Part, PartKind};
use labelscan::policy::Policy;
use labelscan::record::Detection;

const WORDS: &str = "the of and to in for on with by at from as is be are was this that report \
design control line assembly tolerance review quarterly budget meeting supplier contract \
part drawing customer order delivery schedule quality audit process plant machine sensor \
controller firmware release test safety maintenance project team engineering production \
logistics invoice material specification revision approval risk mitigation status update";

const PII: &[&str] = &[
    "Contact: anna.schmidt@apex-dynamics.example",
    "IBAN: DE89 3704 0044 0532 0130 00",
    "Card: 4111 1111 1111 1111",
    "Phone: +49 261 555 0142",
    "SSN: 078-05-1120",
];

/// A small deterministic generator (xorshift), so the bench needs no crates.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Documents as parts: one paragraph per line, as the extractors produce.
fn documents(total_bytes: usize) -> Vec<Vec<Part>> {
    let words: Vec<&str> = WORDS.split_whitespace().collect();
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let mut docs = Vec::new();
    let mut size = 0;
    while size < total_bytes {
        let mut text = String::new();
        let paragraphs = 5 + r.below(56);
        let pii = if r.below(10) == 0 { 1 + r.below(5) } else { 0 };
        for p in 0..paragraphs {
            for _ in 0..1 + r.below(6) {
                let n = 6 + r.below(17);
                for i in 0..n {
                    let w = words[r.below(words.len())];
                    if i == 0 {
                        let mut c = w.chars();
                        if let Some(f) = c.next() {
                            text.extend(f.to_uppercase());
                            text.push_str(c.as_str());
                        }
                    } else {
                        text.push(' ');
                        text.push_str(w);
                    }
                }
                text.push_str(". ");
            }
            text.push('\n');
            if p < pii {
                text.push_str(PII[r.below(PII.len())]);
                text.push('\n');
            }
        }
        size += text.len();
        docs.push(vec![Part::new(PartKind::Body, "", text)]);
    }
    docs
}

/// Sheets as parts: rows of a word, a 6-digit number and a sentence, with
/// the PII lines at the rate of [`documents`].
fn sheets(total_bytes: usize) -> Vec<Vec<Part>> {
    let words: Vec<&str> = WORDS.split_whitespace().collect();
    let mut r = Rng(0xD1B5_4A32_D192_ED03);
    let mut docs = Vec::new();
    let mut size = 0;
    while size < total_bytes {
        let mut text = String::new();
        let rows = 20 + r.below(300);
        let pii = if r.below(10) == 0 { 1 + r.below(5) } else { 0 };
        for row in 0..rows {
            text.push_str(words[r.below(words.len())]);
            text.push('\t');
            text.push_str(&(100_000 + r.below(900_000)).to_string());
            text.push('\t');
            for i in 0..3 + r.below(8) {
                if i > 0 {
                    text.push(' ');
                }
                text.push_str(words[r.below(words.len())]);
            }
            text.push('\n');
            if row < pii {
                text.push_str(PII[r.below(PII.len())]);
                text.push('\n');
            }
        }
        size += text.len();
        docs.push(vec![Part::new(PartKind::Sheet, "Sheet1", text)]);
    }
    docs
}

fn scan_all(set: &DetectorSet, docs: &[Vec<Part>], show_values: bool) -> Vec<Detection> {
    docs.iter().flat_map(|d| set.scan(d, show_values)).collect()
}

fn bench(c: &mut Criterion) {
    let set = DetectorSet::compile(&Policy::default_policy()).expect("compile");
    let mut g = c.benchmark_group("detectors");
    g.sample_size(10);
    for (name, docs) in [
        ("default_set_business_text", documents(4 << 20)),
        ("default_set_sheet_text", sheets(4 << 20)),
    ] {
        let bytes: usize = docs.iter().flatten().map(|p| p.text.len()).sum();
        g.throughput(Throughput::Bytes(bytes as u64));
        g.bench_function(name, |b| b.iter(|| scan_all(&set, &docs, false).len()));
    }
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    if let Ok(case) = std::env::var("LABELSCAN_BENCH_ONCE") {
        let set = DetectorSet::compile(&Policy::default_policy()).expect("compile");
        let docs = match case.as_str() {
            "sheet" => sheets(4 << 20),
            _ => documents(4 << 20),
        };
        for (i, d) in docs.iter().enumerate() {
            for x in set.scan(d, true) {
                println!(
                    "{i}\t{}\t{}\t{:?}\t{}",
                    x.detector,
                    x.count,
                    x.confidence,
                    x.samples.join("|")
                );
            }
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
