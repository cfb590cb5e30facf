'use strict';
// The .otrace writer (spec/OTRACE.md): a 24-byte prelude, the header alone in the first
// zstd frame, then batches of records, each batch one frame whose timed records count
// their time from the frame's start; an end record with counts and a CRC-32 of every
// record before it; and the summary again in a trailer frame.
//
// Ids are the writer's own: functions and lanes are defined in this file the first time
// a record uses them, strings when first interned, so a trace written late (error mode)
// defines only what its records need.

const fs = require('fs');
const zlib = require('zlib');
const { Packr } = require('msgpackr');
const { frameCompressor, rawFrame } = require('./zstd');
const { LocalFrames } = require('./frames');

const T = require('./records');

const VERSION = [1, 0];
const RECORD_TYPES = [
  [0, 'header', ['meta'], false], [1, 'string', ['id', 'text'], false],
  [2, 'function', ['id', 'name', 'module', 'file', 'line', 'addr?'], false],
  [3, 'lane', ['id', 'name', 'kind', 'native_id', 'parent'], false],
  [4, 'call', ['dt', 'lane', 'fn', 'args?'], true], [5, 'return', ['dt', 'lane', 'value?'], true],
  [6, 'exception', ['dt', 'lane', 'kind', 'exc_type', 'message', 'line'], true],
  [7, 'unwind', ['dt', 'lane', 'line', 'locals?'], true],
  [8, 'crash', ['dt', 'lane', 'kind', 'reason', 'message', 'detail'], true],
  [9, 'stack', ['dt', 'lane', 'reason', 'frames'], true],
  [10, 'event', ['dt', 'lane', 'kind', 'attrs'], true],
  [11, 'module', ['id', 'path', 'base', 'build_id', 'size?', 'mtime?'], false],
  [15, 'end', ['summary'], false],
].map(([type, name, columns, timed]) => ({ type, name, columns, timed }));
const COUNTED = { [T.CALL]: 'calls', [T.RETURN]: 'returns', [T.UNWIND]: 'unwinds',
  [T.EXCEPTION]: 'exceptions', [T.CRASH]: 'crashes', [T.STACK]: 'stacks', [T.EVENT]: 'events' };
const INT32_MIN = -(2 ** 31), UINT32_MAX = 2 ** 32 - 1;

const packr = new Packr({ useRecords: false, variableMapSize: true });

/** msgpackr writes integers beyond 32 bits as floats: give it those as BigInt. */
function wideInt(n) {
  return typeof n === 'number' && (n > UINT32_MAX || n < INT32_MIN) ? BigInt(n) : n;
}

const scratch = Buffer.allocUnsafe(64);

let packed = scratch; // packRecord's bytes

/** Packs one record into `packed` (valid until the next call) and returns its length: the
 *  hot records (arrays of up to 15 integers ≥ -32 and nils: calls, returns, unwinds without
 *  values) by hand into a scratch buffer, with the bytes msgpackr writes; the rest by
 *  msgpackr. */
function packRecord(record) {
  const n = record.length;
  if (n > 15) return packOther(record);
  scratch[0] = 0x90 | n;
  let at = 1;
  for (let i = 0; i < n; i++) {
    const item = record[i];
    if (item === null) {
      scratch[at++] = 0xc0;
    } else if (typeof item !== 'number' || !Number.isInteger(item) || item < -0x20 || item > UINT32_MAX) {
      return packOther(record);
    } else if (item < 0x80) {
      scratch[at++] = item & 0xff; // a positive or negative fixint
    } else if (item < 0x100) {
      scratch[at++] = 0xcc; scratch[at++] = item;
    } else if (item < 0x10000) {
      scratch[at++] = 0xcd; scratch[at++] = item >>> 8; scratch[at++] = item & 0xff;
    } else {
      scratch[at++] = 0xce; scratch[at++] = item >>> 24; scratch[at++] = (item >>> 16) & 0xff;
      scratch[at++] = (item >>> 8) & 0xff; scratch[at++] = item & 0xff;
    }
  }
  packed = scratch;
  return at;
}

function packOther(record) {
  packed = packr.pack(record);
  return packed.length;
}

function skippableFrame(payload) {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(0x184d2a5a, 0);
  head.writeUInt32LE(payload.length, 4);
  return Buffer.concat([head, payload]);
}

function prelude() {
  const out = Buffer.alloc(24);
  out.writeUInt32LE(0x184d2a5a, 0);
  out.writeUInt32LE(16, 4);
  Buffer.from('\x89OTRACE\n', 'latin1').copy(out, 8);
  out.writeUInt16LE(VERSION[0], 16);
  out.writeUInt16LE(VERSION[1], 18);
  return out;
}

class TraceWriter {
  /** Opens `path` and writes the prelude and the header, in a frame of its own, at once. A
   *  `live` trace, written as the program runs, has its records written by the worker
   *  thread of `live` (a SharedFrames) within ~50 ms whatever the program does next
   *  (frames.js). Other traces (written at once) write their frames themselves. */
  constructor(path, meta, { live = null } = {}) {
    this.path = path;
    const fd = fs.openSync(path, 'wx', 0o644);
    this.strings = new Map();
    this.functionIds = new Map(); // the agent's function -> id in this file
    this.laneIds = new Map(); // the agent's lane -> id in this file
    this.frameTime = 0; // the time of the frame's last timed record
    this.generation = 0; // the frame frameTime belongs to
    this.lastTime = 0;
    this.counts = { records: 1, calls: 0, returns: 0, unwinds: 0, exceptions: 0, crashes: 0,
      stacks: 0, events: 0, functions: 0, lanes: 0 };
    this.timedCounts = new Array(16).fill(0); // by record type
    this.closed = false;
    const header = packr.pack([T.HEADER, { format: 'otrace', version: VERSION, records: RECORD_TYPES, ...meta }]);
    // the live trace's header in raw blocks: the program's thread never loads the compressor
    fs.writeSync(fd, Buffer.concat([prelude(), live !== null ? rawFrame(header) : frameCompressor()(header)]));
    const checksum = zlib.crc32(header);
    if (live !== null) live.attach(fd, checksum);
    this.frames = live !== null ? live : new LocalFrames(fd, checksum);
  }

  /** Adds a record that has no time (a definition): any frame up to its first use will do. */
  add(record) {
    const length = packRecord(record);
    this.frames.append(packed, length, undefined);
    this.counts.records++;
  }

  sid(text) {
    let id = this.strings.get(text);
    if (id === undefined) {
      id = this.strings.size;
      this.strings.set(text, id);
      this.add([T.STRING, id, text]);
    }
    return id;
  }

  /** The id of function `fn` ({name, module, file, line, addr?}; names may be null, as a
   *  native function known by its address only is in spec/vectors/native) in this file. */
  functionId(fn) {
    let id = this.functionIds.get(fn);
    if (id === undefined) {
      const name = fn.name === null ? null : this.sid(fn.name);
      const module = fn.module === null ? null : this.sid(fn.module);
      const file = fn.file === null ? null : this.sid(fn.file);
      id = this.functionIds.size;
      this.functionIds.set(fn, id);
      const record = [T.FUNCTION, id, name, module, file, fn.line];
      if (fn.addr !== undefined) record.push(wideInt(fn.addr));
      this.add(record);
      this.counts.functions++;
    }
    return id;
  }

  /** The id of lane `lane` ({name, kind, nativeId, parent}) in this file, its parent first. */
  laneId(lane) {
    let id = this.laneIds.get(lane);
    if (id === undefined) {
      const parent = lane.parent ? this.laneId(lane.parent) : null;
      const name = this.sid(lane.name);
      const kind = this.sid(lane.kind);
      id = this.laneIds.size;
      this.laneIds.set(lane, id);
      this.add([T.LANE, id, name, kind, lane.nativeId, parent]);
      this.counts.lanes++;
    }
    return id;
  }

  /** Defines module `id` (record 11: a loaded binary, which only native agents write; here
   *  so that this writer reproduces every vector of spec section 13). */
  module(id, path, base, buildId, size, mtime) {
    const record = [T.MODULE, id, path === null ? null : this.sid(path), wideInt(base), buildId];
    if (size !== undefined && mtime !== undefined) record.push(wideInt(size), wideInt(mtime));
    this.add(record);
  }

  /** Appends a timed record at time `t`: `record` is [type, any, lane id, ...columns];
   *  its second slot gets the delta from the frame's previous timed record (the time
   *  itself when the record begins a frame). */
  timed(t, record) {
    const frames = this.frames;
    let generation = frames.generation;
    record[1] = wideInt(generation === this.generation ? t - this.frameTime : t);
    for (;;) {
      const length = packRecord(record);
      if (frames.append(packed, length, generation)) break;
      generation = frames.generation; // the frame was cut before it: it begins the next
      record[1] = wideInt(t);
    }
    this.generation = generation;
    this.frameTime = t;
    if (t > this.lastTime) this.lastTime = t;
    this.timedCounts[record[0]]++;
  }

  /** Writes the records so far as a frame (a trace written at once; tools/write-vector.js). */
  flush() {
    this.frames.flush();
  }

  /** Writes the end record with `summary` (counts and checksum added) and the trailer. */
  close(summary) {
    if (this.closed) return;
    this.closed = true;
    const counts = { ...this.counts };
    for (const [type, name] of Object.entries(COUNTED)) counts[name] = this.timedCounts[type];
    counts.records += this.timedCounts.reduce((a, b) => a + b, 0);
    const full = { ...summary, duration_ns: wideInt(Math.max(summary.duration_ns || 0, this.lastTime)), counts };
    this.frames.close((checksum) => {
      full.checksum = checksum;
      const trailer = Buffer.concat([packr.pack(full), Buffer.alloc(4), Buffer.from('\x89OTREND\n', 'latin1')]);
      trailer.writeUInt32LE(trailer.length - 12, trailer.length - 12);
      return [packr.pack([T.END, full]), skippableFrame(trailer)];
    });
  }

  /** Closes the file without an end record: the trace reads as incomplete. */
  abandon() {
    if (this.closed) return;
    this.closed = true;
    this.frames.close(null);
  }
}

module.exports = { TraceWriter, T, wideInt };
