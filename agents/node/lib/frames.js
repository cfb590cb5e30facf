'use strict';
// Where a trace's record bytes go on their way into zstd frames (spec section 3: a record
// never spans two frames, and each frame's times count from its own start).
//
// LocalFrames gathers them in this thread and writes a frame when 64 KiB have gathered or
// the trace ends: traces written at once (error mode, a failed test's trace).
//
// SharedFrames is the live trace of a running program (dev, safe): each record is copied
// into slots of shared memory as it is made, and a worker thread of the agent
// (flush-worker.js, unref'd, untraced) compresses and appends each slot to the file as
// soon as it is full, and the slot being filled every 50 ms. So what a kill -9 loses no
// longer depends on the program coming back to the event loop or making another call: a
// program gone quiet in Atomics.wait, a busy loop or a blocking system call has its last
// events on disk within ~50 ms. The program's thread never waits for the worker, except
// when the worker has fallen SLOTS frames behind, for a record larger than a slot, and at
// exit: then it takes the file (the owner word), waiting at most for the frame the worker
// is writing, and writes the pending frames itself.
//
// The control words (Int32Array over a SharedArrayBuffer):
//   OWNER   who may write to the file: NOBODY, WORKER (for one round of frames), MAIN
//           (while it writes) or CLOSED (the program's thread, for good: the file is closed)
//   NEXT    the slot whose frame is written next
//   SEALS   counts slots the program sealed (the worker waits on it)
//   CRC     CRC-32 of every record written so far (spec 4.7), kept by the owner
//   STATE   the worker's: STARTING, READY, CLOSING (asked to write all and stop), DONE
//   FD      the trace's file descriptor, once it is open (the worker starts before)
//   SLOT0+i slot i: the bytes it holds, | SEALED once its frame may be written; 0 is free.
// A slot's bytes are committed by a compare-and-swap of its word from the length the
// program last committed, so that the worker cutting a frame (sealing it) and the program
// adding a record to it cannot cross: a record whose time delta was counted in a frame
// that got cut is encoded again as the first of the next frame.

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const { frameCompressor, rawFrame } = require('./zstd');

const FRAME_BYTES = 64 * 1024; // a frame is written once it holds this much
const SLOT_BYTES = 256 * 1024; // room for the records that take a slot past FRAME_BYTES
const SLOTS = 16;
const TICK_MS = 50; // the slot being filled is written at least this often
const OWNER = 0, NEXT = 1, SEALS = 2, CRC = 3, STATE = 4, FD = 5, SLOT0 = 8;
const NOBODY = 0, WORKER = 1, MAIN = 2, CLOSED = 3;
const STARTING = 0, READY = 1, CLOSING = 2, DONE = 3;
const SEALED = 1 << 30;
const TAKE_OVER_MS = 1000; // a worker that holds the file longer than this is stuck

class LocalFrames {
  /** `checksum`: the CRC-32 of the records written before (the header). */
  constructor(fd, checksum) {
    this.fd = fd;
    this.buffer = Buffer.allocUnsafe(2 * FRAME_BYTES);
    this.used = 0;
    this.generation = 0; // counts the frames cut so far: a record's time delta is per frame
    this.checksum = checksum;
  }

  /** Adds one record, the first `n` of `bytes`, to the frame of `generation` (any frame
   *  when undefined); always true here: frames are cut after a record, never under one. */
  append(bytes, n, generation) {
    if (this.used + n > this.buffer.length) {
      const bigger = Buffer.allocUnsafe(Math.max(2 * this.buffer.length, this.used + n));
      this.buffer.copy(bigger, 0, 0, this.used);
      this.buffer = bigger;
    }
    copy(bytes, n, this.buffer, this.used);
    this.used += n;
    if (this.used >= FRAME_BYTES) this.flush();
    return true;
  }

  /** Writes the records gathered as one frame (nothing when there are none). */
  flush() {
    if (this.used === 0) return;
    const data = this.buffer.subarray(0, this.used);
    this.checksum = zlib.crc32(data, this.checksum);
    fs.writeSync(this.fd, frameCompressor()(data));
    this.used = 0;
    this.generation++;
  }

  /** Writes what is pending and closes the file; `finish(checksum)`, if given, gives the
   *  end record's bytes (a frame of its own) and the trailer to write last. */
  close(finish) {
    this.flush();
    if (finish !== null) {
      const [end, trailer] = finish(this.checksum);
      fs.writeSync(this.fd, Buffer.concat([frameCompressor()(end), trailer]));
    }
    fs.closeSync(this.fd);
  }
}

class SharedFrames {
  /** Starts the worker (before the trace's file is open: see attach). `failed(error)`
   *  hears of a write the worker could not make (a full disk). */
  constructor(failed) {
    this.fd = -1;
    this.control = new Int32Array(new SharedArrayBuffer(4 * (SLOT0 + SLOTS)));
    this.bytes = new Uint8Array(new SharedArrayBuffer(SLOTS * SLOT_BYTES));
    this.slot = 0;
    this.used = 0; // what this thread committed to the slot
    this.generation = 0;
    const { Worker } = require('worker_threads');
    this.worker = new Worker(path.join(__dirname, 'flush-worker.js'), {
      workerData: { orionAgentThread: true, control: this.control, bytes: this.bytes },
      stdout: false, stderr: false });
    this.worker.on('error', () => {}); // the program's thread writes at exit then
    this.worker.on('message', (message) => failed(new Error(message)));
    this.worker.unref(); // after the listeners, which ref it
  }

  /** The trace's file is open at `fd`, its records so far (the header) of CRC `checksum`. */
  attach(fd, checksum) {
    this.fd = fd;
    Atomics.store(this.control, CRC, checksum | 0);
    Atomics.store(this.control, FD, fd);
  }

  append(bytes, n, generation) {
    const control = this.control;
    for (;;) {
      if (Atomics.load(control, SLOT0 + this.slot) !== this.used) this.advance(); // the worker cut it
      if (generation !== undefined && generation !== this.generation) return false;
      if (this.used + n > SLOT_BYTES) {
        if (this.used > 0) {
          this.seal();
          continue;
        }
        this.writeAlone(bytes.subarray(0, n));
        return true;
      }
      copy(bytes, n, this.bytes, this.slot * SLOT_BYTES + this.used);
      if (Atomics.compareExchange(control, SLOT0 + this.slot, this.used, this.used + n) === this.used) {
        this.used += n;
        if (this.used >= FRAME_BYTES) this.seal();
        return true;
      }
    }
  }

  /** The slot being filled is full: its frame may be written, the next slot is filled. */
  seal() {
    const control = this.control;
    Atomics.compareExchange(control, SLOT0 + this.slot, this.used, this.used | SEALED);
    Atomics.add(control, SEALS, 1);
    Atomics.notify(control, SEALS);
    this.advance();
  }

  advance() {
    this.slot = (this.slot + 1) % SLOTS;
    this.used = 0;
    this.generation++;
    if (Atomics.load(this.control, SLOT0 + this.slot) !== 0) { // the worker is SLOTS frames behind
      this.take();
      writeFrames(this.control, this.bytes, this.fd, frameCompressor(), false);
      Atomics.store(this.control, OWNER, NOBODY);
    }
  }

  /** A record larger than a slot: a frame of its own, after the pending ones. */
  writeAlone(bytes) {
    this.take();
    writeFrames(this.control, this.bytes, this.fd, frameCompressor(), false);
    const crc = zlib.crc32(bytes, Atomics.load(this.control, CRC) >>> 0);
    fs.writeSync(this.fd, frameCompressor()(bytes));
    Atomics.store(this.control, CRC, crc | 0);
    Atomics.store(this.control, OWNER, NOBODY);
    this.generation++;
  }

  /** Takes the file for this thread, once the worker is done with the frame it writes. */
  take(owner = MAIN) {
    const control = this.control;
    while (Atomics.compareExchange(control, OWNER, NOBODY, owner) !== NOBODY) {
      if (Atomics.wait(control, OWNER, WORKER, TAKE_OVER_MS) === 'timed-out') break;
    }
    Atomics.store(control, OWNER, owner);
  }

  get checksum() { // once the file is this thread's
    return Atomics.load(this.control, CRC) >>> 0;
  }

  /** Has every record written (by the worker when it is up, else here) and closes the
   *  file, as LocalFrames.close does; the worker writes nothing after. The end record is
   *  written in raw blocks: the program's thread loads no compressor at exit. */
  close(finish) {
    const control = this.control;
    const workerUp = Atomics.compareExchange(control, STATE, READY, CLOSING) === READY;
    if (workerUp) {
      Atomics.add(control, SEALS, 1);
      Atomics.notify(control, SEALS);
      Atomics.wait(control, STATE, CLOSING, TAKE_OVER_MS);
    }
    this.take(CLOSED);
    // a process that ends before its worker is up (tens of ms) writes what it recorded in
    // raw blocks rather than load the compressor for it: a few KiB more on disk, ~20 ms
    // less CPU
    writeFrames(control, this.bytes, this.fd, workerUp ? null : rawFrame, true);
    if (finish !== null) {
      const [end, trailer] = finish(this.checksum);
      fs.writeSync(this.fd, Buffer.concat([rawFrame(end), trailer]));
    }
    fs.closeSync(this.fd);
  }
}

/** Copies the first `n` of `bytes` to `target` at `at`: a loop for the few bytes of most
 *  records (cheaper than set() and its views), set() for the rest. */
function copy(bytes, n, target, at) {
  if (n <= 16) {
    for (let i = 0; i < n; i++) target[at + i] = bytes[i];
  } else {
    target.set(n === bytes.length ? bytes : bytes.subarray(0, n), at);
  }
}

/** Writes the sealed slots from NEXT on, in order, each as one frame, and with `partial`
 *  the slot being filled too (sealed first); the caller owns the file. The compressor is
 *  loaded only when there is a frame to write (`compress` null). */
function writeFrames(control, bytes, fd, compress, partial) {
  for (;;) {
    const at = Atomics.load(control, NEXT);
    const word = Atomics.load(control, SLOT0 + at);
    if ((word & SEALED) === 0) {
      if (!partial || word === 0) return;
      if (Atomics.compareExchange(control, SLOT0 + at, word, word | SEALED) !== word) continue;
    }
    const data = bytes.subarray(at * SLOT_BYTES, at * SLOT_BYTES + (word & ~SEALED));
    if (compress === null) compress = frameCompressor();
    fs.writeSync(fd, compress(data));
    Atomics.store(control, CRC, zlib.crc32(data, Atomics.load(control, CRC) >>> 0) | 0);
    Atomics.store(control, SLOT0 + at, 0);
    Atomics.store(control, NEXT, (at + 1) % SLOTS);
  }
}

module.exports = { LocalFrames, SharedFrames, writeFrames, TICK_MS, OWNER, SEALS, STATE, FD, NOBODY,
  WORKER, CLOSED, STARTING, READY, CLOSING, DONE };
