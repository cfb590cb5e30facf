//! `error` mode's process trace, recorded with no lock on the program's threads: each thread
//! appends its records to a buffer of its own, and only a failure (and, once the trace is a
//! file, the flushing thread and the trace's end) reads the buffers, merging every thread's
//! records in time order.
//!
//! A thread's buffer never grows, so another thread can read it while its owner appends:
//! the owner writes only past `committed` and publishes each whole record by storing the
//! new length (a plain store on x86-64; a shared mutex cost two locked instructions per
//! event). A full buffer goes to the shared ring under the ring's lock, once per CHUNK
//! bytes, as does the buffer of a thread that exits. The ring keeps the newest KEPT bytes
//! of chunks and buffers in all, dropping the oldest chunk (any thread's) when over; each
//! running thread's own buffer is never dropped, so a quiet thread's latest calls outlive
//! another thread's burst.

use crate::msgpack as mp;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

/// A thread's buffer: a new one every CHUNK bytes of its records.
const CHUNK: usize = 16 * 1024;
/// What the ring keeps, chunks and the threads' buffers together (~1 MiB).
const KEPT: usize = 1024 * 1024;
/// Room for the largest call, return or unwind record: array, code, dt, lane, function.
const SMALL_RECORD: usize = 1 + 1 + 9 + 5 + 5;
/// The clock is read at every CLOCK_EVERY-th call or return of a thread (the others take
/// the last time read), as the Java and Node.js agents do.
pub(crate) const CLOCK_EVERY: u32 = 8;

/// What other threads may read of a thread's buffer.
struct Shared {
    /// The buffer being filled; changed under the ring's lock only.
    buffer: AtomicPtr<u8>,
    /// How many bytes of it hold whole records.
    committed: AtomicUsize,
}

/// Records of one thread, from `records[from..]`, the first one's `dt` counted from `t`.
struct Chunk {
    records: Vec<u8>,
    from: usize,
    t: u64,
}

/// A running thread's buffer as the ring knows it: how far a drain has taken it.
struct Running {
    shared: Arc<Shared>,
    taken: usize,
    t: u64,
}

struct Ring {
    chunks: VecDeque<Chunk>,
    running: Vec<Running>,
    /// Bytes held: the chunks' and the running threads' buffers' capacities.
    held: usize,
    dropped: bool,
    /// The trace is a file: chunks wait for the next drain and none is dropped.
    kept: bool,
}

static RING: Mutex<Ring> = Mutex::new(Ring {
    chunks: VecDeque::new(),
    running: Vec::new(),
    held: 0,
    dropped: false,
    kept: false,
});

fn lock() -> MutexGuard<'static, Ring> {
    RING.lock().unwrap_or_else(|e| e.into_inner())
}

impl Ring {
    fn running(&mut self, shared: &Arc<Shared>) -> Option<usize> {
        self.running
            .iter()
            .position(|r| Arc::ptr_eq(&r.shared, shared))
    }

    /// A thread's buffer becomes a chunk; the oldest chunks fall out while over KEPT.
    fn push(&mut self, chunk: Chunk) {
        self.chunks.push_back(chunk);
        while self.held > KEPT && !self.kept && self.chunks.len() > 1 {
            if let Some(oldest) = self.chunks.pop_front() {
                self.held -= oldest.records.capacity();
                self.dropped = true;
            }
        }
    }
}

/// One thread's records (the owner's side).
pub(crate) struct Buffer {
    records: Vec<u8>,
    shared: Arc<Shared>,
    /// The time of the buffer's last record (0 before its first).
    frame_t: u64,
    /// The last time read, and how many calls and returns took it since.
    t: u64,
    reads: u32,
    /// The trace's clock origin (clock::now() at its start).
    start: u64,
}

impl Buffer {
    pub fn new(start: u64) -> Buffer {
        let mut records = Vec::with_capacity(CHUNK);
        let shared = Arc::new(Shared {
            buffer: AtomicPtr::new(records.as_mut_ptr()),
            committed: AtomicUsize::new(0),
        });
        let mut ring = lock();
        ring.held += records.capacity();
        ring.running.push(Running {
            shared: shared.clone(),
            taken: 0,
            t: 0,
        });
        drop(ring);
        Buffer {
            records,
            shared,
            frame_t: 0,
            t: 0,
            reads: 0,
            start,
        }
    }

    /// Makes room for `size` bytes and gives the new record's dt; `sampled` records take
    /// the last time read 7 times out of 8.
    #[inline(always)]
    fn begin(&mut self, size: usize, sampled: bool) -> u64 {
        if self.records.capacity() - self.records.len() < size {
            self.rotate(size);
        }
        if !sampled || self.reads.is_multiple_of(CLOCK_EVERY) {
            self.t = self.t.max(crate::clock::now().saturating_sub(self.start));
        }
        self.reads = self.reads.wrapping_add(sampled as u32);
        let dt = self.t - self.frame_t;
        self.frame_t = self.t;
        dt
    }

    /// A timed record's first columns: of `columns` columns after the code in all.
    fn head(&mut self, code: u8, columns: usize, dt: u64, lane: u32) {
        let b = &mut self.records;
        mp::array(b, columns + 1);
        mp::uint(b, code as u64);
        mp::uint(b, dt);
        mp::uint(b, lane as u64);
    }

    /// A call (with its function) or a return, stored at once when every column is below
    /// 128 (one byte each), as nearly all are: dt is 0 for 7 records in 8.
    #[inline(always)]
    fn call_or_return(&mut self, code: u8, lane: u32, function: Option<u32>) {
        let dt = self.begin(SMALL_RECORD, true);
        let columns = 2 + function.is_some() as usize;
        let last = function.unwrap_or(0) as u64;
        if dt | lane as u64 | last < 0x80 {
            let bytes = (0x91 + columns as u64)
                | (code as u64) << 8
                | dt << 16
                | (lane as u64) << 24
                | last << 32;
            let len = self.records.len();
            // SAFETY: `begin` left SMALL_RECORD (more than 8) bytes free past `len`; the
            // record is the first 2 + columns of the 8 bytes stored.
            unsafe {
                let free = self.records.as_mut_ptr().add(len);
                free.copy_from_nonoverlapping(bytes.to_le_bytes().as_ptr(), 8);
                self.records.set_len(len + 2 + columns);
            }
        } else {
            self.wide(code, columns, dt, lane, function);
        }
        self.commit();
    }

    /// A call or return with a column of 128 or more.
    #[cold]
    #[inline(never)]
    fn wide(&mut self, code: u8, columns: usize, dt: u64, lane: u32, function: Option<u32>) {
        self.head(code, columns, dt, lane);
        if let Some(function) = function {
            mp::uint(&mut self.records, function as u64);
        }
    }

    /// Publishes the records written so far to readers.
    #[inline(always)]
    fn commit(&self) {
        self.shared
            .committed
            .store(self.records.len(), Ordering::Release);
    }

    #[inline(always)]
    pub fn call(&mut self, lane: u32, function: u32) {
        self.call_or_return(4, lane, Some(function));
    }

    #[inline(always)]
    pub fn leave(&mut self, lane: u32) {
        self.call_or_return(5, lane, None);
    }

    pub fn unwind(&mut self, lane: u32) {
        self.record(7, 1, lane, &[0xc0]); // line: nil
    }

    /// A record of `columns` columns after the lane, packed in `rest` (an event's).
    pub fn record(&mut self, code: u8, columns: usize, lane: u32, rest: &[u8]) {
        let dt = self.begin(SMALL_RECORD + rest.len(), false);
        self.head(code, columns + 2, dt, lane);
        self.records.extend_from_slice(rest);
        self.commit();
    }

    /// The full buffer goes to the ring; a new one, with room for `size` bytes, takes its
    /// place (its pointer published under the ring's lock, which readers hold).
    #[cold]
    #[inline(never)]
    fn rotate(&mut self, size: usize) {
        let full = std::mem::replace(&mut self.records, Vec::with_capacity(CHUNK.max(size)));
        let mut ring = lock();
        let added = self.records.capacity();
        let Some(index) = ring.running(&self.shared) else {
            return;
        };
        let running = &mut ring.running[index];
        let chunk = Chunk {
            records: full,
            from: std::mem::take(&mut running.taken),
            t: std::mem::take(&mut running.t),
        };
        self.shared
            .buffer
            .store(self.records.as_mut_ptr(), Ordering::Relaxed);
        self.shared.committed.store(0, Ordering::Relaxed);
        ring.held += added;
        ring.push(chunk);
        self.frame_t = 0;
    }
}

impl Drop for Buffer {
    /// A thread that exits hands its records to the ring.
    fn drop(&mut self) {
        let mut ring = lock();
        if let Some(index) = ring.running(&self.shared) {
            let running = ring.running.swap_remove(index);
            // A short-lived thread's few records hold no more of the ring than they fill.
            let capacity = self.records.capacity();
            self.records.shrink_to_fit();
            ring.held -= capacity - self.records.capacity();
            ring.push(Chunk {
                records: std::mem::take(&mut self.records),
                from: running.taken,
                t: running.t,
            });
        }
    }
}

/// The records a drain took, merged in time order.
pub(crate) struct Drained {
    /// Whole records, at most about `frame` bytes each (dt counted from each one's start).
    pub frames: Vec<Vec<u8>>,
    /// How many records of each type code.
    pub by_code: [u64; 16],
    pub max_t: u64,
    /// Whether the ring had dropped a chunk (the trace's window begins inside calls).
    pub dropped: bool,
}

/// A record as read from a buffer: its time and where the columns after `dt` lie.
struct Parsed {
    t: u64,
    piece: u32,
    columns: u32,
    code: u8,
    rest: (u32, u32),
}

/// Takes every record not taken yet, of every thread, merged in time order into frames of
/// about `frame` bytes, and keeps what comes after for the next drain (the trace is a file
/// now). None when the ring's lock stays taken for 250 ms (by a thread that crashed
/// holding it).
pub(crate) fn drain(frame: usize) -> Option<Drained> {
    let mut ring = lock_within(Duration::from_millis(250))?;
    ring.kept = true;
    let dropped = ring.dropped;
    let mut pieces: Vec<(Vec<u8>, usize, u64)> = Vec::new();
    while let Some(chunk) = ring.chunks.pop_front() {
        ring.held -= chunk.records.capacity();
        pieces.push((chunk.records, chunk.from, chunk.t));
    }
    let mut parsed = Vec::new();
    for (index, (records, from, t)) in pieces.iter().enumerate() {
        read(records, *from, *t, index, &mut parsed);
    }
    for running in &mut ring.running {
        let committed = running.shared.committed.load(Ordering::Acquire);
        let buffer = running.shared.buffer.load(Ordering::Relaxed);
        // SAFETY: the owner writes its buffer only past `committed` (Release-stored after
        // the bytes before it), and replaces or frees it only under the ring's lock, which
        // this thread holds.
        let records = unsafe { std::slice::from_raw_parts(buffer, committed) };
        let copy = records[running.taken.min(committed)..].to_vec();
        let first = parsed.len();
        read(&copy, 0, running.t, pieces.len(), &mut parsed);
        running.t = parsed[first..].last().map_or(running.t, |p| p.t);
        running.taken = committed;
        pieces.push((copy, 0, 0));
    }
    drop(ring);
    parsed.sort_by_key(|p| p.t); // stable: a thread's records keep their order
    let mut drained = Drained {
        frames: Vec::new(),
        by_code: [0; 16],
        max_t: 0,
        dropped,
    };
    let mut out = Vec::with_capacity(frame + 4096);
    let mut frame_t = 0i64;
    for p in &parsed {
        let records = &pieces[p.piece as usize].0;
        mp::array(&mut out, p.columns as usize);
        mp::uint(&mut out, p.code as u64);
        mp::int(&mut out, p.t as i64 - frame_t);
        out.extend_from_slice(&records[p.rest.0 as usize..p.rest.1 as usize]);
        frame_t = p.t as i64;
        drained.by_code[p.code as usize & 15] += 1;
        drained.max_t = drained.max_t.max(p.t);
        if out.len() >= frame {
            drained.frames.push(std::mem::take(&mut out));
            frame_t = 0;
        }
    }
    if !out.is_empty() {
        drained.frames.push(out);
    }
    Some(drained)
}

/// The trace has ended: records are no longer kept for a drain.
pub(crate) fn close() {
    let mut ring = lock();
    ring.kept = false;
    ring.held -= ring
        .chunks
        .iter()
        .map(|c| c.records.capacity())
        .sum::<usize>();
    ring.chunks.clear();
}

fn lock_within(patience: Duration) -> Option<MutexGuard<'static, Ring>> {
    let deadline = Instant::now() + patience;
    loop {
        match RING.try_lock() {
            Ok(ring) => return Some(ring),
            Err(TryLockError::Poisoned(e)) => return Some(e.into_inner()),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => std::thread::yield_now(),
            Err(TryLockError::WouldBlock) => return None,
        }
    }
}

/// Reads the records of one piece from `at` (whole records, as written by `Buffer`), their
/// times counted from `t`.
fn read(records: &[u8], mut at: usize, mut t: u64, piece: usize, parsed: &mut Vec<Parsed>) {
    while at < records.len() {
        let Some((columns, code, dt, rest)) = header(records, at) else {
            return;
        };
        let Some(end) = (0..columns.saturating_sub(2)).try_fold(rest, |i, _| skip(records, i))
        else {
            return;
        };
        t = t.saturating_add_signed(dt);
        parsed.push(Parsed {
            t,
            piece: piece as u32,
            columns: columns as u32,
            code,
            rest: (rest as u32, end as u32),
        });
        at = end;
    }
}

/// A timed record's array length, code and dt, and where its next column starts.
fn header(b: &[u8], at: usize) -> Option<(usize, u8, i64, usize)> {
    let columns = match *b.get(at)? {
        n @ 0x90..=0x9f => (n & 0x0f) as usize,
        _ => return None,
    };
    let code = *b.get(at + 1)?;
    let (dt, rest) = int(b, at + 2)?;
    Some((columns, code, dt, rest))
}

fn int(b: &[u8], at: usize) -> Option<(i64, usize)> {
    let be = |n: usize| -> Option<u64> {
        let bytes = b.get(at + 1..at + 1 + n)?;
        Some(bytes.iter().fold(0u64, |v, &x| v << 8 | x as u64))
    };
    Some(match *b.get(at)? {
        n @ 0x00..=0x7f => (n as i64, at + 1),
        n @ 0xe0..=0xff => (n as i8 as i64, at + 1),
        0xcc => (be(1)? as i64, at + 2),
        0xcd => (be(2)? as i64, at + 3),
        0xce => (be(4)? as i64, at + 5),
        0xcf => (be(8)? as i64, at + 9),
        0xd0 => (be(1)? as i8 as i64, at + 2),
        0xd1 => (be(2)? as i16 as i64, at + 3),
        0xd2 => (be(4)? as i32 as i64, at + 5),
        0xd3 => (be(8)? as i64, at + 9),
        _ => return None,
    })
}

/// Where the msgpack value at `at` ends (the kinds the agent writes).
fn skip(b: &[u8], at: usize) -> Option<usize> {
    let length = |n: usize| -> Option<usize> {
        let bytes = b.get(at + 1..at + 1 + n)?;
        Some(bytes.iter().fold(0usize, |v, &x| v << 8 | x as usize))
    };
    let items = |count: usize, from: usize| (0..count).try_fold(from, |i, _| skip(b, i));
    match *b.get(at)? {
        0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => Some(at + 1),
        0xcc | 0xd0 => Some(at + 2),
        0xcd | 0xd1 => Some(at + 3),
        0xce | 0xd2 => Some(at + 5),
        0xcf | 0xd3 => Some(at + 9),
        n @ 0xa0..=0xbf => Some(at + 1 + (n & 0x1f) as usize),
        0xd9 => Some(at + 2 + length(1)?),
        0xda => Some(at + 3 + length(2)?),
        0xdb => Some(at + 5 + length(4)?),
        n @ 0x90..=0x9f => items((n & 0x0f) as usize, at + 1),
        0xdc => items(length(2)?, at + 3),
        0xdd => items(length(4)?, at + 5),
        n @ 0x80..=0x8f => items(2 * (n & 0x0f) as usize, at + 1),
        0xde => items(2 * length(2)?, at + 3),
        0xdf => items(2 * length(4)?, at + 5),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ring is the process's: one test at a time.
    static SERIAL: Mutex<()> = Mutex::new(());

    #[test]
    fn drains_while_a_thread_appends_take_each_record_once_in_order() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        const CALLS: u32 = 100_000;
        let writer = std::thread::spawn(|| {
            let mut buffer = Buffer::new(0);
            for i in 0..CALLS {
                buffer.call(1, i % 300); // functions of one and two bytes
                buffer.leave(1);
            }
        }); // the buffer, dropped as the thread ends, is handed over
        let mut records = Vec::new();
        let mut take = || {
            for frame in drain(64 * 1024).unwrap().frames {
                let mut parsed = Vec::new();
                read(&frame, 0, 0, 0, &mut parsed);
                for p in parsed {
                    let columns = &frame[p.rest.0 as usize..p.rest.1 as usize];
                    let function = (p.code == 4).then(|| int(columns, 1).unwrap().0);
                    records.push((p.code, function, p.t));
                }
            }
        };
        while !writer.is_finished() {
            take();
        }
        writer.join().unwrap();
        take();
        close();
        let expected: Vec<(u8, Option<i64>)> = (0..CALLS)
            .flat_map(|i| [(4, Some((i % 300) as i64)), (5, None)])
            .collect();
        let got: Vec<(u8, Option<i64>)> = records.iter().map(|r| (r.0, r.1)).collect();
        assert!(got == expected, "{} records, not in order", got.len());
        assert!(
            records.windows(2).all(|w| w[0].2 <= w[1].2),
            "time went back"
        );
    }

    #[test]
    fn calls_and_returns_read_back_whatever_their_widths() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let mut buffer = Buffer::new(0);
        buffer.t = 1 << 40; // later than the clock: its reads keep it
        let start = buffer.t;
        let mut expected = Vec::new();
        for dt in [0u64, 1, 127, 128, 255, 256, 65_535, 65_536, 1 << 33] {
            for (lane, function) in [(0u32, 0u32), (127, 127), (128, 5), (3, 128), (9, 70_000)] {
                buffer.t += dt;
                buffer.reads = 1; // not a clock read: the time set above is taken
                buffer.call(lane, function);
                expected.push((4, buffer.t - start, lane as i64, Some(function as i64)));
                buffer.reads = 1;
                buffer.leave(lane);
                expected.push((5, buffer.t - start, lane as i64, None));
            }
        }
        let mut records = Vec::new();
        for frame in drain(64 * 1024).unwrap().frames {
            let mut parsed = Vec::new();
            read(&frame, 0, 0, 0, &mut parsed);
            for p in parsed {
                let columns = &frame[p.rest.0 as usize..p.rest.1 as usize];
                let (lane, next) = int(columns, 0).unwrap();
                let function = (p.code == 4).then(|| int(columns, next).unwrap().0);
                records.push((p.code, p.t - start, lane, function));
            }
        }
        drop(buffer);
        close();
        assert_eq!(records, expected);
    }
}
