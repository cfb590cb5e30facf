//! A written trace's file. A program's thread hands a finished batch of records to the queue
//! and goes on: compressing it, its checksum and the write happen on the agent's
//! `orion-flush` thread, so a thread of the program never waits for zstd or the disk. Only
//! when that thread falls more than QUEUE_LIMIT frames behind does the queuing thread write
//! the queue itself, which keeps what a kill -9 can lose bounded.

use crate::frame;
use std::cell::Cell;
use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Frames queued before the queuing thread writes them itself.
const QUEUE_LIMIT: usize = 2;
/// Emptied buffers kept for the next batches (a batch is ~64 KiB).
const SPARES: usize = 4;

pub struct Output {
    queue: Mutex<Queue>,
    queued: Condvar,
    file: Mutex<Written>,
    /// Whether a flushing thread writes the queue; else each frame is written as queued.
    background: bool,
}

struct Queue {
    frames: VecDeque<Vec<u8>>,
    spare: Vec<Vec<u8>>,
    closed: bool,
}

struct Written {
    file: File,
    crc: u32,
}

thread_local! {
    /// Set while this thread holds a file's lock to write it.
    static WRITING: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread was writing a trace file (a crash there must not wait for the
/// file's lock: its own thread holds it).
pub fn writing_here() -> bool {
    WRITING.try_with(Cell::get).unwrap_or(true)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Output {
    pub fn new(file: File, background: bool) -> Output {
        Output {
            queue: Mutex::new(Queue {
                frames: VecDeque::new(),
                spare: Vec::new(),
                closed: false,
            }),
            queued: Condvar::new(),
            file: Mutex::new(Written { file, crc: 0 }),
            background,
        }
    }

    /// Queues `records` as the file's next frame; gives back an empty buffer for the next
    /// batch (with at least `capacity` bytes).
    pub fn queue(&self, records: Vec<u8>, capacity: usize) -> Vec<u8> {
        let mut queue = lock(&self.queue);
        queue.frames.push_back(records);
        let behind = !self.background || queue.frames.len() > QUEUE_LIMIT;
        let spare = queue.spare.pop();
        drop(queue);
        if behind {
            self.write_queued();
        } else {
            self.queued.notify_one();
        }
        spare.unwrap_or_else(|| Vec::with_capacity(capacity))
    }

    /// Writes every queued frame, in order.
    pub fn write_queued(&self) {
        let mut written = lock(&self.file);
        WRITING.with(|w| w.set(true));
        loop {
            // Popped apart from the loop's condition: its guard would live through the body.
            let next = lock(&self.queue).frames.pop_front();
            let Some(mut records) = next else {
                WRITING.with(|w| w.set(false));
                return;
            };
            written.crc = frame::crc32(written.crc, &records);
            let _ = written.file.write_all(&frame::frame(&records));
            records.clear();
            let mut queue = lock(&self.queue);
            if queue.spare.len() < SPARES {
                queue.spare.push(records);
            }
        }
    }

    /// The flushing thread's wait: until a frame is queued or `timeout` passes; false once
    /// the file is closed.
    pub fn wait(&self, timeout: Duration) -> bool {
        let queue = lock(&self.queue);
        if queue.frames.is_empty() && !queue.closed {
            let (queue, _) = self
                .queued
                .wait_timeout(queue, timeout)
                .unwrap_or_else(|e| e.into_inner());
            return !queue.closed;
        }
        !queue.closed
    }

    /// Writes what is queued and gives the checksum of every record written, continued over
    /// `records` (the last frame's, before its end record).
    pub fn checksum_with(&self, records: &[u8]) -> u32 {
        self.write_queued();
        frame::crc32(lock(&self.file).crc, records)
    }

    /// Writes the last frame and the trailer; the flushing thread stops.
    pub fn close(&self, records: &[u8], trailer: &[u8]) {
        self.write_queued();
        let mut written = lock(&self.file);
        let _ = written.file.write_all(&frame::frame(records));
        let _ = written.file.write_all(trailer);
        let _ = written.file.flush();
        lock(&self.queue).closed = true;
        self.queued.notify_one();
    }
}

#[cfg(all(test, feature = "compress"))]
mod tests {
    use super::Output;
    use std::io::Read;
    use std::sync::{mpsc, Arc};
    use std::time::Duration;

    /// A frame the compressor cannot shrink, so that one fills the pipe.
    fn incompressible(seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..64 * 1024)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn queuing_does_not_wait_for_a_write_that_is_stuck() {
        let (mut reader, writer) = std::io::pipe().unwrap();
        let file = std::fs::File::from(std::os::fd::OwnedFd::from(writer));
        let output = Arc::new(Output::new(file, true));
        let flusher = output.clone();
        std::thread::spawn(move || {
            while flusher.wait(Duration::from_millis(10)) {
                flusher.write_queued();
            }
        });
        // The first frame fills the pipe: its write blocks until the pipe is read.
        let (done, queued) = mpsc::channel();
        let program = output.clone();
        std::thread::spawn(move || {
            program.queue(incompressible(1), 0);
            program.queue(incompressible(2), 0);
            done.send(()).unwrap();
        });
        assert!(
            queued.recv_timeout(Duration::from_secs(5)).is_ok(),
            "the queuing thread waited for the stuck write"
        );
        // Reading the pipe lets both frames through, in order.
        // (The closing thread holds the last handle: the pipe ends when it is done.)
        std::thread::spawn(move || output.close(b"", b""));
        let mut written = Vec::new();
        reader.read_to_end(&mut written).unwrap();
        let mut frames = zstd::stream::read::Decoder::new(&written[..]).unwrap();
        let mut records = Vec::new();
        frames.read_to_end(&mut records).unwrap();
        assert_eq!(records[..64 * 1024], incompressible(1)[..]);
        assert_eq!(records[64 * 1024..128 * 1024], incompressible(2)[..]);
    }
}
