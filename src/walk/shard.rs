//! `scan --shard I/N`: the zero-infrastructure way to share a scan between
//! N hosts that a scheduler starts (a Kubernetes Indexed Job, a Slurm
//! array). Every shard walks the whole tree and keeps the paths whose hash
//! falls to it; `labelscan merge` puts the N report sets back together in
//! walk order, for which each shard records the walk position of what it
//! kept (see [`ShardOrder`]).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::{JobSource, WalkItem};
use crate::model::hash::stable_hash64;

/// Which of N shards a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// Where schedulers put a task's index: Kubernetes Indexed Jobs, Slurm arrays.
pub const INDEX_VARIABLES: [&str; 2] = ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"];

impl Shard {
    /// Parses `I/N`, where I may be `auto`: the index then comes from
    /// the first of [`INDEX_VARIABLES`] that `env` has.
    pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let (index, count) = text
            .split_once('/')
            .ok_or_else(|| format!("\"{text}\" is not I/N (say 0/4, or auto/4)"))?;
        let count: u32 = count
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("\"{count}\" is not a number of shards (1 or more)"))?;
        let index = match index.trim() {
            "auto" => {
                let (name, value) = INDEX_VARIABLES
                    .iter()
                    .find_map(|name| env(name).map(|v| (*name, v)))
                    .ok_or_else(|| {
                        format!(
                            "--shard auto/{count}: neither {} is set",
                            INDEX_VARIABLES.join(" nor ")
                        )
                    })?;
                value
                    .trim()
                    .parse()
                    .map_err(|_| format!("{name}=\"{value}\" is not a shard index"))?
            }
            given => given
                .parse()
                .map_err(|_| format!("\"{given}\" is not a shard index"))?,
        };
        if index >= count {
            return Err(format!(
                "shard index {index} is out of range: shards of {count} are numbered 0 to {}",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// Whether the item at report path `path` is this shard's. The path as
    /// the reports print it (the PATH argument joined with the path below
    /// it) is the same on every host given the same PATHs, which merge
    /// checks.
    pub fn owns(&self, path: &str) -> bool {
        stable_hash64(path.as_bytes()) % u64::from(self.count) == u64::from(self.index)
    }
}

/// The walk positions of the items a shard kept, in the order it kept
/// them: the source pushes, the shard's order report takes.
pub type ShardOrder = Arc<Mutex<VecDeque<u64>>>;

/// A job source that passes on only its shard's items.
pub struct Sharded {
    inner: Box<dyn JobSource>,
    shard: Shard,
    /// The walk position of the next item of the whole walk.
    position: u64,
    order: ShardOrder,
}

impl Sharded {
    pub fn new(inner: Box<dyn JobSource>, shard: Shard, order: ShardOrder) -> Sharded {
        Sharded {
            inner,
            shard,
            position: 0,
            order,
        }
    }
}

fn path_of(item: &WalkItem) -> &str {
    match item {
        WalkItem::File(job) => &job.display_path,
        WalkItem::Skip(skip) => &skip.path,
    }
}

impl JobSource for Sharded {
    fn next_item(&mut self) -> Option<WalkItem> {
        loop {
            let item = self.inner.next_item()?;
            let position = self.position;
            self.position += 1;
            if self.shard.owns(path_of(&item)) {
                self.order
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_back(position);
                return Some(item);
            }
        }
    }

    /// Files left out by --include/--exclude are counted by every shard's
    /// walk; shard 0 reports them, so that merged counts add up.
    fn filtered_out(&self) -> u64 {
        if self.shard.index == 0 {
            self.inner.filtered_out()
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Skip;

    #[test]
    fn indexes_come_from_the_flag_or_the_scheduler() {
        let none = |_: &str| None;
        assert_eq!(Shard::parse("2/4", none), Ok(Shard { index: 2, count: 4 }));
        let slurm = |name: &str| (name == "SLURM_ARRAY_TASK_ID").then(|| "3".to_string());
        assert_eq!(
            Shard::parse("auto/4", slurm),
            Ok(Shard { index: 3, count: 4 })
        );
        let both = |name: &str| {
            Some(
                if name == "JOB_COMPLETION_INDEX" {
                    "1"
                } else {
                    "3"
                }
                .into(),
            )
        };
        assert_eq!(Shard::parse("auto/4", both).unwrap().index, 1);
        assert!(Shard::parse("auto/4", none)
            .unwrap_err()
            .contains("JOB_COMPLETION_INDEX"));
        assert!(Shard::parse("4/4", none).unwrap_err().contains("0 to 3"));
        assert!(Shard::parse("1/0", none).is_err());
        assert!(Shard::parse("1", none).is_err());
    }

    #[test]
    fn every_item_falls_to_exactly_one_shard_with_its_walk_position() {
        let items = |n: usize| -> Vec<WalkItem> {
            (0..n)
                .map(|i| {
                    WalkItem::Skip(Skip {
                        path: format!("share/f{i}"),
                        reason: "symlink".into(),
                    })
                })
                .collect()
        };
        let mut positions = Vec::new();
        for index in 0..3 {
            let order = ShardOrder::default();
            let shard = Shard { index, count: 3 };
            let mut source = Sharded::new(Box::new(items(100).into_iter()), shard, order.clone());
            let mut kept = 0;
            while source.next_item().is_some() {
                kept += 1;
            }
            assert!(kept > 15, "shard {index} got {kept} of 100");
            positions.extend(order.lock().unwrap().iter().copied());
        }
        positions.sort();
        assert_eq!(positions, (0..100).collect::<Vec<u64>>());
    }
}
