//! Shared by every fuzz target: the budget each input runs under, and the
//! format a family's extractor is told the input is.

use std::time::Duration;

use labelscan::budget::{Budget, Limits};
use labelscan::extract::Format;

/// Default limits with a short per-file deadline: an input that runs into
/// the deadline ends as `timeout` well before libFuzzer's own `-timeout`,
/// so a libFuzzer timeout means a loop that never checks the budget.
#[allow(dead_code)]
pub fn budget() -> Budget {
    Budget::new(Limits {
        file_timeout: Duration::from_secs(2),
        ..Limits::default()
    })
}

/// The format to extract `data` as: the first of `family` whose marker
/// (a part name or stream name, stored uncompressed in the container's
/// directory) occurs in the input, else one of the family picked by the
/// input's length (stable for a given input, so every crash reproduces).
/// Only the public entry points are used: no dependency on the sniffer's path.
#[allow(dead_code)]
pub fn pick(data: &[u8], family: &[(Format, &[u8])]) -> Format {
    for (format, marker) in family {
        if !marker.is_empty() && contains(data, marker) {
            return *format;
        }
    }
    family[data.len() % family.len()].0
}

fn contains(data: &[u8], needle: &[u8]) -> bool {
    data.windows(needle.len()).any(|w| w == needle)
}
