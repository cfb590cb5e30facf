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
const { frameCompressor } = require('./zstd');

const T = require('./records');

const VERSION = [1, 0];
const BATCH_RECORDS = 8192;
// A live trace's pending events are written before the oldest is this old, so that a
// kill -9 loses at most ~100 ms of them (docs/security.md).
const FLUSH_AFTER_MS = 80;
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

/** The bytes of several records, one after the other: the batch as one msgpack array,
 *  its array header cut off. */
function packRecords(records) {
  const packed = packr.pack(records);
  const head = packed[0] <= 0x9f ? 1 : packed[0] === 0xdc ? 3 : 5;
  return packed.subarray(head);
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
  /** Opens `path` and writes the prelude and the header (its frame flushed at once). A
   *  `live` trace, written as the program runs, writes its first event at once (the file
   *  shows the program began) and never keeps events waiting longer than FLUSH_AFTER_MS:
   *  the record that finds the oldest that old writes the batch, and an unref'd timer,
   *  armed only while records wait, writes it when the program goes quiet (back in the
   *  event loop); a failed timed write is reported to `failed`. */
  constructor(path, meta, { live = false, failed = () => {} } = {}) {
    this.path = path;
    this.live = live;
    this.failed = failed;
    this.timer = null;
    this.fd = fs.openSync(path, 'wx', 0o644);
    this.compress = frameCompressor();
    this.strings = new Map();
    this.functionIds = new Map(); // the agent's function -> id in this file
    this.laneIds = new Map(); // the agent's lane -> id in this file
    this.batch = [];
    this.frameTime = 0; // the time of the batch's last timed record
    this.lastTime = 0;
    this.checksum = 0;
    this.counts = { records: 0, calls: 0, returns: 0, unwinds: 0, exceptions: 0, crashes: 0,
      stacks: 0, events: 0, functions: 0, lanes: 0 };
    this.timedCounts = new Array(16).fill(0); // by record type
    this.closed = false;
    fs.writeSync(this.fd, prelude());
    this.batch.push([T.HEADER, { format: 'otrace', version: VERSION, records: RECORD_TYPES, ...meta }]);
    this.counts.records++;
    this.flush();
    this.flushAt = live ? -Infinity : Infinity; // the time by which waiting records are written
  }

  sid(text) {
    let id = this.strings.get(text);
    if (id === undefined) {
      id = this.strings.size;
      this.strings.set(text, id);
      this.batch.push([T.STRING, id, text]);
      this.counts.records++;
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
      this.batch.push(record);
      this.counts.records++;
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
      this.batch.push([T.LANE, id, name, kind, lane.nativeId, parent]);
      this.counts.records++;
      this.counts.lanes++;
    }
    return id;
  }

  /** Defines module `id` (record 11: a loaded binary, which only native agents write; here
   *  so that this writer reproduces every vector of spec section 13). */
  module(id, path, base, buildId, size, mtime) {
    const record = [T.MODULE, id, path === null ? null : this.sid(path), wideInt(base), buildId];
    if (size !== undefined && mtime !== undefined) record.push(wideInt(size), wideInt(mtime));
    this.batch.push(record);
    this.counts.records++;
  }

  /** Appends a timed record at time `t`: `record` is [type, any, lane id, ...columns];
   *  its second slot gets the delta from the frame's previous timed record. */
  timed(t, record) {
    record[1] = wideInt(t - this.frameTime);
    this.frameTime = t;
    if (t > this.lastTime) this.lastTime = t;
    this.batch.push(record);
    this.timedCounts[record[0]]++;
    if (t >= this.flushAt || this.batch.length >= BATCH_RECORDS) {
      this.flush();
    } else if (this.live && this.timer === null) {
      this.flushAt = t + FLUSH_AFTER_MS * 1e6;
      this.armTimer();
    }
  }

  armTimer() {
    this.timer = setTimeout(() => {
      this.timer = null;
      try {
        this.flush();
      } catch (error) {
        this.failed(error);
      }
    }, FLUSH_AFTER_MS);
    this.timer.unref();
  }

  /** Writes the batch as one frame (nothing when empty). */
  flush() {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.batch.length === 0 || this.closed) return;
    const data = packRecords(this.batch);
    this.batch = [];
    this.frameTime = 0;
    this.flushAt = Infinity;
    this.checksum = zlib.crc32(data, this.checksum);
    fs.writeSync(this.fd, this.compress(data));
  }

  /** Writes the end record with `summary` (counts and checksum added) and the trailer. */
  close(summary) {
    if (this.closed) return;
    this.flush();
    const counts = { ...this.counts };
    for (const [type, name] of Object.entries(COUNTED)) counts[name] = this.timedCounts[type];
    counts.records += this.timedCounts.reduce((a, b) => a + b, 0);
    const full = { ...summary, duration_ns: wideInt(Math.max(summary.duration_ns || 0, this.lastTime)),
      counts, checksum: this.checksum >>> 0 };
    const end = this.compress(packRecords([[T.END, full]]));
    const trailer = Buffer.concat([packr.pack(full), Buffer.alloc(4), Buffer.from('\x89OTREND\n', 'latin1')]);
    trailer.writeUInt32LE(trailer.length - 12, trailer.length - 12);
    fs.writeSync(this.fd, Buffer.concat([end, skippableFrame(trailer)]));
    fs.closeSync(this.fd);
    this.closed = true;
  }

  /** Closes the file without an end record: the trace reads as incomplete. */
  abandon() {
    if (this.closed) return;
    this.flush();
    fs.closeSync(this.fd);
    this.closed = true;
  }
}

module.exports = { TraceWriter, T, wideInt };
