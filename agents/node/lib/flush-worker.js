'use strict';
// The worker thread that writes a live trace's frames (see frames.js), started with the
// agent so that it is up by the time the program runs: woken when the
// program seals a slot, and every TICK_MS to write the slot being filled too, so that the
// program's last events reach the disk whatever its own thread is doing. It takes the file
// for one round of frames at a time, and stops once the program's thread has closed it.

const { workerData, parentPort } = require('worker_threads');
const { performance } = require('perf_hooks');
const { frameCompressor } = require('./zstd');
const frames = require('./frames');

const { OWNER, SEALS, STATE, FD, NOBODY, WORKER, CLOSED, STARTING, READY, CLOSING, DONE } = frames;
const { control, bytes } = workerData;
let compress = null; // loaded at the first round: a process that ends sooner needs none

/** One round of frames if the file is free: false once the program's thread has closed
 *  it or a write failed (a full disk, said to the program's thread, which stops tracing). */
function writeRound(partial) {
  const owner = Atomics.compareExchange(control, OWNER, NOBODY, WORKER);
  if (owner !== NOBODY) return owner !== CLOSED;
  try {
    if (compress === null) {
      compress = frameCompressor();
      Atomics.compareExchange(control, STATE, STARTING, READY); // the end is the worker's to write now
    }
    frames.writeFrames(control, bytes, Atomics.load(control, FD), compress, partial);
    return true;
  } catch (error) {
    parentPort.postMessage(`cannot write the trace: ${error.message}`);
    return false;
  } finally {
    Atomics.store(control, OWNER, NOBODY);
    Atomics.notify(control, OWNER);
  }
}

async function run() {
  const alive = setInterval(() => {}, 2 ** 30); // a pending Atomics.waitAsync keeps no thread alive
  let lastPartial = performance.now();
  for (;;) {
    const seals = Atomics.load(control, SEALS);
    const wait = Atomics.waitAsync(control, SEALS, seals, Math.max(0, lastPartial + frames.TICK_MS - performance.now()));
    if (wait.async) await wait.value;
    const closing = Atomics.load(control, STATE) === CLOSING;
    const now = performance.now();
    const partial = closing || now - lastPartial >= frames.TICK_MS;
    if (partial) lastPartial = now;
    if (!writeRound(partial) || closing) break;
  }
  clearInterval(alive);
  Atomics.store(control, STATE, DONE);
  Atomics.notify(control, STATE);
}

run();
