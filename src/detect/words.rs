//! Step 1 of the engine: every occurrence of every anchor, context word and
//! phrase, ASCII case-insensitive, overlapping matches included.
//!
//! A full Aho-Corasick DFA of our own rather than the `aho-corasick` crate's:
//! with a few hundred case-insensitive words the crate has no prefilter, and
//! its overlapping search walks byte by byte with more bookkeeping per byte
//! than this loop, which is one class lookup and one table load. That table
//! load depends on the previous one, so a single walk waits on load latency;
//! long texts are walked as four slices at once to overlap the four chains.

/// Texts shorter than this are walked in one piece (the split costs a few
/// overlap bytes and more loops).
const SPLIT_MIN: usize = 256;

/// Independent walks interleaved over slices of a long text.
const CHAINS: usize = 4;

pub(super) struct Words {
    /// Byte -> column of the transition table; ASCII letters share the
    /// column of their other case, bytes in no word share column 0.
    classes: [u8; 256],
    stride: usize,
    /// Next state per (state, class); states are premultiplied by `stride`.
    trans: Vec<u32>,
    /// States from this id on (a power of two) end at least one word;
    /// all others are below it.
    match_from: u32,
    /// The row (id / stride) of the first matching state.
    first_match_row: usize,
    /// Per matching state (row - `first_match_row`): its range in
    /// `out_words`.
    out_ranges: Vec<(u32, u32)>,
    out_words: Vec<u32>,
    lens: Vec<u32>,
    start: u32,
    max_len: usize,
}

impl Words {
    /// `words` must not be empty and no word may be empty.
    pub(super) fn new(words: &[String]) -> Words {
        let mut classes = [0u8; 256];
        let mut stride = 1usize;
        for &b in words.iter().flat_map(|w| w.as_bytes()) {
            let l = b.to_ascii_lowercase();
            if classes[l as usize] == 0 {
                // At most 256 - 26 distinct folded bytes, so it fits a u8.
                classes[l as usize] = stride as u8;
                classes[l.to_ascii_uppercase() as usize] = stride as u8;
                stride += 1;
            }
        }

        // The trie; 0 means "no child" (the root is never a child).
        let mut goto: Vec<u32> = vec![0; stride];
        let mut out: Vec<Vec<u32>> = vec![Vec::new()];
        for (p, w) in words.iter().enumerate() {
            let mut s = 0usize;
            for &b in w.as_bytes() {
                let c = classes[b as usize] as usize;
                s = match goto[s * stride + c] {
                    0 => {
                        let id = out.len();
                        out.push(Vec::new());
                        goto.resize(goto.len() + stride, 0);
                        goto[s * stride + c] = id as u32;
                        id
                    }
                    next => next as usize,
                };
            }
            out[s].push(p as u32);
        }
        let states = out.len();

        // Breadth first, so a state's failure state is complete before the
        // state copies its transitions and words from it.
        let mut trans = vec![0u32; states * stride];
        let mut fail = vec![0usize; states];
        let mut queue = std::collections::VecDeque::new();
        for c in 0..stride {
            let t = goto[c];
            trans[c] = t;
            if t != 0 {
                queue.push_back(t as usize);
            }
        }
        while let Some(s) = queue.pop_front() {
            let f = fail[s];
            let inherited = out[f].clone();
            out[s].extend(inherited);
            for c in 0..stride {
                let i = s * stride + c;
                match goto[i] {
                    0 => trans[i] = trans[f * stride + c],
                    t => {
                        fail[t as usize] = trans[f * stride + c] as usize;
                        trans[i] = t;
                        queue.push_back(t as usize);
                    }
                }
            }
        }

        // Plain states first, with ids below a power of two, `match_from`;
        // matching states from there on. So a state matches when its id
        // is at least `match_from`, and one of four chains' states does
        // when their bitwise or is.
        let mut order: Vec<usize> = (0..states).collect();
        order.sort_by_key(|&s| !out[s].is_empty());
        let plain = order.iter().take_while(|&&s| out[s].is_empty()).count();
        let match_from = (plain * stride).next_power_of_two();
        let first_match_row = match_from.div_ceil(stride);
        let rows = first_match_row + (states - plain);
        let row_of = |i: usize| {
            if i < plain {
                i
            } else {
                first_match_row + i - plain
            }
        };
        let mut id = vec![0u32; states];
        for (i, &s) in order.iter().enumerate() {
            id[s] = (row_of(i) * stride) as u32;
        }
        // Rows between the plain and the matching states are never entered.
        let mut table = vec![0u32; rows * stride];
        let mut out_ranges = Vec::with_capacity(states - plain);
        let mut out_words = Vec::new();
        for (i, &s) in order.iter().enumerate() {
            let row = row_of(i);
            for c in 0..stride {
                table[row * stride + c] = id[trans[s * stride + c] as usize];
            }
            if i >= plain {
                let lo = out_words.len() as u32;
                out_words.extend_from_slice(&out[s]);
                out_ranges.push((lo, out_words.len() as u32));
            }
        }
        Words {
            classes,
            stride,
            trans: table,
            match_from: match_from as u32,
            first_match_row,
            out_ranges,
            out_words,
            lens: words.iter().map(|w| w.len() as u32).collect(),
            start: id[0],
            max_len: words.iter().map(String::len).max().unwrap_or(1),
        }
    }

    /// Calls `f(word, start, end)` for every occurrence in `hay`, in no
    /// particular order.
    pub(super) fn for_each(&self, hay: &[u8], mut f: impl FnMut(usize, usize, usize)) {
        let n = hay.len();
        if n < SPLIT_MIN.max(2 * CHAINS * self.max_len) {
            self.walk(hay, 0, 0, self.start, &mut f);
            return;
        }
        // Chain k starts at k * spacing and walks `common` bytes: its own
        // `spacing` bytes and the first `warm` of the next chain's, which
        // that chain needs to warm up (a word ending there may have begun
        // before it started). So every end is reported by one chain.
        let warm = self.max_len - 1;
        let spacing = (n - warm) / CHAINS;
        let common = spacing + warm;
        let state = self.walk_chains(hay, spacing, common, &mut f);
        let rest = (CHAINS - 1) * spacing + common;
        self.walk(&hay[rest..], rest, 0, state, &mut f);
    }

    /// The four chains in step over `common` bytes each, chain k from
    /// k * `spacing`; returns the last chain's state.
    fn walk_chains(
        &self,
        hay: &[u8],
        spacing: usize,
        common: usize,
        f: &mut impl FnMut(usize, usize, usize),
    ) -> u32 {
        let walked = &hay[..(CHAINS - 1) * spacing + common];
        // A chain's state is whole once it has read a longest word.
        let min_end = |k: usize| {
            if k == 0 {
                0
            } else {
                k * spacing + self.max_len
            }
        };
        let mut states = [self.start; CHAINS];
        let mut i = 0;
        while i < common {
            i = self.step_to_match(walked, spacing, i, common, &mut states);
            for (k, &s) in states.iter().enumerate() {
                if s >= self.match_from {
                    self.emit(s, k * spacing + i, min_end(k), f);
                }
            }
        }
        states[CHAINS - 1]
    }

    /// Steps the chains from byte `from` until one of them is in a
    /// matching state or all have read byte `end - 1`; returns the
    /// position after the last byte read. Out of line and with nothing
    /// else to keep, so that the states, the position and the tables stay
    /// in registers: with the calls to `f` in the same loop, pointers
    /// and states spilled to the stack, and each step waited on a reload.
    #[inline(never)]
    fn step_to_match(
        &self,
        walked: &[u8],
        spacing: usize,
        from: usize,
        end: usize,
        states: &mut [u32; CHAINS],
    ) -> usize {
        let match_from = self.match_from as usize;
        let step = |s, b| self.next(s, b);
        assert!(end <= walked.len().saturating_sub((CHAINS - 1) * spacing));
        let byte = |i: usize| -> u8 {
            debug_assert!(i < walked.len());
            // SAFETY: i < `end` + (CHAINS - 1) * `spacing` <= walked.len()
            // (asserted above).
            unsafe { *walked.get_unchecked(i) }
        };
        let [mut s0, mut s1, mut s2, mut s3] = states.map(|s| s as usize);
        let mut i = from;
        while i < end {
            s0 = step(s0, byte(i));
            s1 = step(s1, byte(i + spacing));
            s2 = step(s2, byte(i + 2 * spacing));
            s3 = step(s3, byte(i + 3 * spacing));
            i += 1;
            if s0 | s1 | s2 | s3 >= match_from {
                break;
            }
        }
        // State ids come from `trans`, which holds `u32`s.
        *states = [s0, s1, s2, s3].map(|s| s as u32);
        i
    }

    /// The state after `s` reads byte `b`. States as `usize`: as `u32`
    /// each step of the chains spent a move widening them.
    #[inline(always)]
    fn next(&self, s: usize, b: u8) -> usize {
        let at = s + self.classes[b as usize] as usize;
        debug_assert!(at < self.trans.len());
        // SAFETY: every state is an entry of `trans` or `start`, a state
        // id premultiplied by `stride` (built in `new`), and every class
        // is below `stride`, so `at` is below `trans.len()` = rows * stride.
        unsafe { *self.trans.get_unchecked(at) as usize }
    }

    /// Walks `hay` (which starts at `offset` in the text) from state `s`;
    /// reports words ending at or after `min_end`. Returns the last state.
    fn walk(
        &self,
        hay: &[u8],
        offset: usize,
        min_end: usize,
        s: u32,
        f: &mut impl FnMut(usize, usize, usize),
    ) -> u32 {
        let mut s = s as usize;
        for (i, &x) in hay.iter().enumerate() {
            s = self.next(s, x);
            if s >= self.match_from as usize {
                self.emit(s as u32, offset + i + 1, min_end, f);
            }
        }
        // State ids come from `trans`, which holds `u32`s.
        s as u32
    }

    // Out of line: inlined, its registers push the walk's state onto the
    // stack, which puts a store and a load into the per-byte dependency chain.
    #[cold]
    #[inline(never)]
    fn emit(&self, s: u32, end: usize, min_end: usize, f: &mut impl FnMut(usize, usize, usize)) {
        if end < min_end {
            return;
        }
        let (lo, hi) = self.out_ranges[s as usize / self.stride - self.first_match_row];
        for &w in &self.out_words[lo as usize..hi as usize] {
            f(w as usize, end - self.lens[w as usize] as usize, end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::{AhoCorasickBuilder, MatchKind};

    #[test]
    fn same_matches_as_overlapping_aho_corasick() {
        let words = [
            "tel",
            "tel.",
            "telephone",
            "phone",
            "@",
            "nhs",
            "nhs number",
            "ein:",
            "passwort",
            "password",
            "password=",
            "pwd",
            "pwd=",
            "ssn",
            "ss#",
            "geschäftsgeheimnis",
            "GESCHÄFTSGEHEIMNIS",
            "né le",
            "://",
        ];
        let owned: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        let mine = Words::new(&owned);
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(words)
            .unwrap();
        let mut text = String::new();
        // Every length up to a few KB, so the split of long texts falls
        // inside and across words.
        for i in 0..200 {
            text.push_str(match i % 7 {
                0 => "Tel. +49 261 555 0142, TELEPHONE ",
                1 => "mail a@b.de and NHS Number 943 476 5919 ",
                2 => "EIN: 04-2103594; Password=pwd=x ",
                3 => "SSN# ss#ssn Geschäftsgeheimnis GESCHÄFTSGEHEIMNIS ",
                4 => "née le 3 mai, né le 4 https://x ",
                5 => "passwortpasswort ",
                _ => "plain words without any of them ",
            });
            for cut in [text.len(), text.len() - 1, text.len() - 2] {
                let hay = &text.as_bytes()[..cut];
                let mut got = Vec::new();
                mine.for_each(hay, |w, s, e| got.push((s, e, w)));
                got.sort_unstable();
                let mut want: Vec<(usize, usize, usize)> = ac
                    .find_overlapping_iter(hay)
                    .map(|m| (m.start(), m.end(), m.pattern().as_usize()))
                    .collect();
                want.sort_unstable();
                assert_eq!(got, want, "text of {cut} bytes");
            }
        }
    }
}
