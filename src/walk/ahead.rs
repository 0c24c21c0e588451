//! A job source run on a thread of its own, ahead of the workers: the
//! walk's directory reads and per-file `statx` calls then overlap with the
//! inspection of earlier files instead of being taken in turns under the
//! driver's lock (on a rescan, where unchanged files cost little, the walk
//! was a quarter of the workers' time).

use std::collections::VecDeque;
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;

use super::{JobSource, WalkItem};

/// Items are handed over in batches: one at a time, the walk's thread
/// woke (and took a core from a worker) for every file, which cost a first
/// scan 15% more CPU time.
const BATCH: usize = 64;
/// Batches walked ahead and not yet taken; bounded, so that memory stays
/// small however far the walk could run ahead.
const AHEAD_BATCHES: usize = 16;

pub struct WalkAhead {
    batches: Receiver<Vec<WalkItem>>,
    taken: VecDeque<WalkItem>,
    walker: Option<JoinHandle<u64>>,
    filtered_out: u64,
}

impl WalkAhead {
    /// Runs `source` on a thread named `walk`; `Err` when the thread
    /// cannot be started.
    pub fn start(source: Box<dyn JobSource>) -> std::io::Result<WalkAhead> {
        let (sender, batches) = sync_channel(AHEAD_BATCHES);
        let walker = std::thread::Builder::new()
            .name("walk".into())
            .spawn(move || {
                let mut source = source;
                loop {
                    let batch: Vec<WalkItem> = std::iter::from_fn(|| source.next_item())
                        .take(BATCH)
                        .collect();
                    let last = batch.len() < BATCH;
                    // An error: the scan stopped taking files.
                    if (!batch.is_empty() && sender.send(batch).is_err()) || last {
                        break;
                    }
                }
                source.filtered_out()
            })?;
        Ok(WalkAhead {
            batches,
            taken: VecDeque::new(),
            walker: Some(walker),
            filtered_out: 0,
        })
    }
}

impl JobSource for WalkAhead {
    fn next_item(&mut self) -> Option<WalkItem> {
        if let Some(item) = self.taken.pop_front() {
            return Some(item);
        }
        if let Ok(batch) = self.batches.recv() {
            self.taken.extend(batch);
            return self.taken.pop_front();
        }
        if let Some(walker) = self.walker.take() {
            // A walk that panicked counts nothing left out; the panic
            // itself is reported by the thread's hook.
            self.filtered_out = walker.join().unwrap_or(0);
        }
        None
    }

    fn filtered_out(&self) -> u64 {
        self.filtered_out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Skip;

    fn skip(n: usize) -> WalkItem {
        WalkItem::Skip(Skip {
            path: format!("f{n}"),
            reason: "test".into(),
        })
    }

    fn path_of(item: &WalkItem) -> &str {
        match item {
            WalkItem::Skip(s) => &s.path,
            WalkItem::File(f) => &f.display_path,
        }
    }

    /// A source of `n` items that left `left_out` files out.
    struct Counted {
        items: std::vec::IntoIter<WalkItem>,
        left_out: u64,
    }

    impl JobSource for Counted {
        fn next_item(&mut self) -> Option<WalkItem> {
            self.items.next()
        }
        fn filtered_out(&self) -> u64 {
            self.left_out
        }
    }

    #[test]
    fn items_come_in_the_sources_order_across_batches_then_its_count() {
        for n in [
            0,
            1,
            BATCH - 1,
            BATCH,
            BATCH + 1,
            BATCH * AHEAD_BATCHES * 3 + 7,
        ] {
            let source = Counted {
                items: (0..n).map(skip).collect::<Vec<_>>().into_iter(),
                left_out: 5,
            };
            let mut ahead = WalkAhead::start(Box::new(source)).unwrap();
            let got: Vec<String> = std::iter::from_fn(|| ahead.next_item())
                .map(|i| path_of(&i).to_string())
                .collect();
            let want: Vec<String> = (0..n).map(|i| format!("f{i}")).collect();
            assert_eq!(got, want, "{n} items");
            assert_eq!(ahead.filtered_out(), 5, "{n} items");
            assert!(ahead.next_item().is_none());
        }
    }

    #[test]
    fn the_walk_stops_when_the_scan_stops_taking_items() {
        let source = (0..BATCH * AHEAD_BATCHES * 10)
            .map(skip)
            .collect::<Vec<_>>();
        let mut ahead = WalkAhead::start(Box::new(source.into_iter())).unwrap();
        assert!(ahead.next_item().is_some());
        let walker = ahead.walker.take().unwrap();
        drop(ahead);
        // Blocked on a full channel, the walker sees the receiver gone.
        assert_eq!(walker.join().unwrap(), 0);
    }
}
