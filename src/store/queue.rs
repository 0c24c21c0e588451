//! The queue from a run's workers to its store's one writer thread, the
//! same for every backend: writes are gathered into batches, so that a
//! file costs no thread hand-over of its own (a wake-up each cost more
//! than the write in an unchanged rescan), and the channel is bounded, so
//! that a slow store slows the workers instead of filling memory.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Mutex;

use super::StoredFile;
use crate::model::DocumentState;

/// One queued write.
pub enum Write {
    File(Box<StoredFile>),
    Seen(String),
    Document(DocumentState),
}

/// Batches in the queue, and writes per batch.
const QUEUE: usize = 16;
pub const BATCH: usize = 256;

/// The workers' end of the queue.
#[derive(Default)]
pub struct WriteQueue {
    sender: Option<SyncSender<Vec<Write>>>,
    /// Writes not yet handed to the writer.
    batch: Mutex<Vec<Write>>,
}

impl WriteQueue {
    /// A queue and the writer's end of it.
    pub fn open() -> (WriteQueue, Receiver<Vec<Write>>) {
        let (sender, receiver) = sync_channel(QUEUE);
        let queue = WriteQueue {
            sender: Some(sender),
            batch: Mutex::new(Vec::with_capacity(BATCH)),
        };
        (queue, receiver)
    }

    /// Queues a write; dropped when no run is being written. A send fails
    /// only when the writer has stopped on an error, which the backend
    /// reports when it takes the writer back.
    pub fn send(&self, write: Write) {
        let Some(sender) = &self.sender else {
            return;
        };
        let full = {
            let mut batch = self.batch.lock().unwrap_or_else(|e| e.into_inner());
            batch.push(write);
            if batch.len() < BATCH {
                return;
            }
            std::mem::replace(&mut *batch, Vec::with_capacity(BATCH))
        };
        let _ = sender.send(full);
    }

    /// Hands over the last partial batch and closes the queue: the writer
    /// ends once it has applied everything.
    pub fn close(&mut self) {
        let last = std::mem::take(self.batch.get_mut().unwrap_or_else(|e| e.into_inner()));
        if let (Some(sender), false) = (&self.sender, last.is_empty()) {
            let _ = sender.send(last);
        }
        self.sender = None;
    }
}
