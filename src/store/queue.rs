//! The queue from a run's workers to its store's one writer thread, the
//! same for every backend: writes are gathered into batches, so that a
//! file costs no thread hand-over of its own (a wake-up each cost more
//! than the write in an unchanged rescan), and the channel is bounded, so
//! that a slow store slows the workers instead of filling memory.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Mutex;
use std::thread::JoinHandle;

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

/// What the writer thread hands back: its connection and how its writes went.
pub type WriterEnd<C> = (C, Result<(), String>);

/// A run's writes and the one thread that applies them over the backend's
/// connection `C`, which it hands back when the queue is closed.
pub struct QueuedWriter<C> {
    queue: WriteQueue,
    thread: Option<JoinHandle<WriterEnd<C>>>,
}

impl<C> Default for QueuedWriter<C> {
    fn default() -> Self {
        QueuedWriter {
            queue: WriteQueue::default(),
            thread: None,
        }
    }
}

impl<C: Send + 'static> QueuedWriter<C> {
    /// Starts the writer thread: `write_all` applies every batch to `conn`
    /// until the queue is closed.
    pub fn start(
        conn: C,
        write_all: impl FnOnce(&mut C, Receiver<Vec<Write>>) -> Result<(), String> + Send + 'static,
    ) -> std::io::Result<QueuedWriter<C>> {
        let (queue, receiver) = WriteQueue::open();
        let thread = std::thread::Builder::new()
            .name("state-writer".into())
            .spawn(move || {
                let mut conn = conn;
                let result = write_all(&mut conn, receiver);
                (conn, result)
            })?;
        Ok(QueuedWriter {
            queue,
            thread: Some(thread),
        })
    }

    /// Queues a write (see [`WriteQueue::send`]).
    pub fn send(&self, write: Write) {
        self.queue.send(write);
    }

    /// Closes the queue and waits for the writer: its connection and how
    /// its writes went, or `None` when no writer ran. `Err` when the writer
    /// thread panicked (its connection is lost).
    pub fn finish(&mut self) -> Result<Option<WriterEnd<C>>, ()> {
        self.queue.close();
        match self.thread.take() {
            Some(thread) => thread.join().map(Some).map_err(|_| ()),
            None => Ok(None),
        }
    }
}
