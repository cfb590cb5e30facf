'use strict';
// Writes the records of a spec/vectors/NAME.json file with this agent's writer (spec
// section 13, step 1): `node tools/write-vector.js NAME.json OUT.otrace`. The test suite
// then checks that the decoded records equal the vector's.

const fs = require('fs');
const { TraceWriter, T, wideInt } = require('../lib/writer');

const KINDS = { raised: 0, caught: 1 };

/** JSON with the integers a double cannot hold (start_ns) read as BigInt. */
function parseExact(text) {
  const marked = text.replace(/(?<=[:[,\s])(-?\d{16,})(?=[,\]}\s])/g, '"__big__$1"');
  return JSON.parse(marked, (key, value) => (typeof value === 'string' && value.startsWith('__big__')
    ? BigInt(value.slice(7)) : value));
}

/** A decoded captured value (spec section 7) in wire form. */
function wire(value, w) {
  if (value === null || typeof value !== 'object') return value;
  if (value.t === 'bytes' && 'text' in value && !w.strings.has('bytes')) {
    return Buffer.from(value.text, 'hex'); // a msgpack bin, decoded as hex text
  }
  const type = value.t === null ? null : w.sid(value.t);
  const cut = (node) => ('cut' in value ? [...node, value.cut] : node);
  if ('text' in value) return cut([0, type, value.text]);
  if ('items' in value) return cut([1, type, value.items.map((v) => wire(v, w))]);
  if ('entries' in value) return cut([2, type, value.entries.flatMap(([k, v]) => [wire(k, w), wire(v, w)])]);
  if ('fields' in value) return cut([3, type, pairs(value.fields, w)]);
  if (value.redacted) return [4, type];
  if (value.elided) return 'len' in value ? [5, type, value.len] : [5, type];
  if ('error' in value) return [6, type, value.error];
  throw new Error(`unknown value ${JSON.stringify(value)}`);
}

function pairs(map, w) {
  return map === null ? null : Object.entries(map).flatMap(([name, v]) => [w.sid(name), wire(v, w)]);
}

function main([vectorPath, out]) {
  const vector = parseExact(fs.readFileSync(vectorPath, 'utf8'));
  const [header, ...rest] = vector.records;
  const { type, format, version, ...meta } = header; // records: the vector's self-description
  const w = new TraceWriter(out, meta);
  const functions = [], lanes = [];
  for (const r of rest) {
    switch (r.type) {
      case 'string': if (w.sid(r.text) !== r.id) throw new Error(`string ${r.id} out of order`); break;
      case 'function': functions[r.id] = { name: r.name, module: r.module, file: r.file, line: r.line,
        ...('addr' in r ? { addr: r.addr } : {}) };
        w.functionId(functions[r.id]); break;
      case 'module': w.module(r.id, r.path, r.base, r.build_id === null ? null : Buffer.from(r.build_id, 'hex'),
        r.size, r.mtime); break;
      case 'lane': lanes[r.id] = { name: r.name, kind: r.kind, nativeId: r.native_id,
        parent: r.parent === null ? null : lanes[r.parent] };
        w.laneId(lanes[r.id]); break;
      case 'call': w.timed(r.t, [T.CALL, 0, r.lane, r.fn, ...('args' in r ? [pairs(r.args, w)] : []),
        ...('site' in r ? [wideInt(r.site)] : [])]); break;
      case 'return': w.timed(r.t, [T.RETURN, 0, r.lane, ...('value' in r ? [wire(r.value, w)] : [])]); break;
      case 'exception': w.timed(r.t, [T.EXCEPTION, 0, r.lane, KINDS[r.kind], w.sid(r.exc_type), r.message, r.line]); break;
      case 'unwind': w.timed(r.t, [T.UNWIND, 0, r.lane, r.line, ...('locals' in r ? [pairs(r.locals, w)] : [])]); break;
      case 'crash': w.timed(r.t, [T.CRASH, 0, r.lane, r.kind, r.reason, r.message, r.detail]); break;
      case 'stack': w.timed(r.t, [T.STACK, 0, r.lane, r.reason,
        r.frames.map((f) => [f.fn, f.line, pairs(f.locals, w)])]); break;
      case 'event': w.timed(r.t, [T.EVENT, 0, r.lane, w.sid(r.kind), r.attrs]); break;
      case 'end': {
        const { type: _, counts, checksum, ...summary } = r;
        w.close(summary);
        return;
      }
      default: throw new Error(`record type ${r.type} is not written by this agent`);
    }
  }
  if (vector.truncated) {
    cutLastFrame(w, out);
  } else {
    w.abandon();
  }
}

/** Ends the trace as a process killed while writing a frame does (spec/vectors/truncated):
 *  one more frame, cut in half. */
function cutLastFrame(w, out) {
  w.flush();
  const complete = fs.statSync(out).size;
  w.timed(0, [T.RETURN, 0, 0]);
  w.abandon();
  const written = fs.statSync(out).size;
  fs.truncateSync(out, complete + Math.floor((written - complete) / 2));
}

main(process.argv.slice(2));
