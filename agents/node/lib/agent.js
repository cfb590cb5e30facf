'use strict';
// One traced process (or worker thread): the functions instrumented modules define, the
// lanes their calls run on, and where the events go. `dev` and `safe` write a trace as
// the program runs (opened when the first module of the project loads, so a process that
// runs none of the project's code, such as npm itself, leaves no file); `error` keeps a ring of recent
// calls and writes a trace only when something fails: an uncaught exception, an unhandled
// rejection, a failing test.
//
// Lanes: a thread's synchronous calls nest on its lane; each async function call runs on
// a lane of its own (kind "task") whose parent is its caller's lane, so that an `await`
// resumes inside the async function's span and a promise chain reads as one story.
// `current` is the lane of the code running now: an async function takes it at its start
// and at each resumption, and gives it back when it suspends or ends.

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { performance } = require('perf_hooks');
const T = require('./records');
const { Capturer, typeName, safeString } = require('./values');
const { environment, processInfo } = require('./config');
const { scrub } = require('./secrets');

const VERSION = require('../package.json').version;
const STACK_FRAMES = 200;
// Error mode reads the clock at every CLOCK_EVERY-th event of the ring only (a clock read
// costs more than the rest of an event on some machines: ~100 ns in a VM without vDSO).
const CLOCK_EVERY = 8;

class Lane {
  constructor(name, kind, nativeId, parent) {
    this.name = name;
    this.kind = kind;
    this.nativeId = nativeId;
    this.parent = parent;
    this.top = null; // the innermost open frame
  }
}

class Frame {
  constructor(fn, lane, args, caller, resumer) {
    this.fn = fn;
    this.lane = lane;
    this.args = args;
    this.caller = caller; // the frame that called this one (of the caller's lane for a task)
    this.resumer = resumer; // async: the lane to give back when suspending, else null
    this.done = false;
    this.test = null;
    this.recorded = true; // its call record was written (dev, safe: not past the cap)
    this.values = false; // its values are captured (dev: adaptive capture, spec 7.1)
    this.unwoundAt = -1; // error mode: the ring's count of events when an exception left it
  }
}

class Agent {
  constructor(config, { threadName = 'main', threadId = process.pid } = {}) {
    this.config = config;
    this.mode = config.mode;
    this.values = config.mode === 'dev';
    this.adaptive = config.adaptive || { full: Infinity, every: 1, max: 0 };
    this.recordedCalls = 0;
    this.callsWithoutValues = 0;
    this.callsDropped = 0;
    this.traceId = crypto.randomBytes(16).toString('hex');
    this.spanId = crypto.randomBytes(8).toString('hex');
    this.t0 = performance.now();
    this.startNs = BigInt(Math.round((performance.timeOrigin + this.t0) * 1000)) * 1000n;
    this.mainLane = new Lane(threadName, 'thread', threadId, null);
    this.current = this.mainLane;
    this.openLanes = new Set(); // lanes with calls in progress (dev, safe: closed at exit)
    this.capturing = false; // values are being captured: calls are not recorded
    this.stopped = false; // the agent failed and records nothing more
    this.none = [];
    this.writer = null;
    this.liveFrames = null; // where the dev/safe trace's records go: a worker thread writes them
    this.capturer = null;
    // error mode: the ring of recent events, as parallel arrays (no allocation per event)
    this.ring = config.mode === 'error' ? { type: new Uint8Array(config.ring), time: new Float64Array(config.ring),
      lane: new Array(config.ring).fill(null), detail: new Array(config.ring).fill(null) } : null;
    this.ringSize = config.ring;
    this.ringNext = 0; // events remembered so far
    this.ringAt = 0; // where the next one goes
    this.clockCountdown = 0; // events until the ring's clock is read again
    this.lastNow = 0;
    this.unwinding = null; // the innermost frame of the exception unwinding now
    this.lastUnwound = null;
    this.failingStacks = new WeakMap(); // error -> the innermost frame it unwound
    this.root = null;
    this.failure = null;
    this.closed = false;
    this.testResource = null;
    this.failingLocals = null; // the locals an uncaught exception's frames had (register.js)
    this.releaseInspector = null; // disconnects the worker reading them (register.js)
    this.header = { process: processInfo(config), env: environment(config) }; // before we set ORION_PARENT
  }

  now() {
    this.lastNow = Math.round((performance.now() - this.t0) * 1e6);
    return this.lastNow;
  }

  /** The time of a ring event: read at every CLOCK_EVERY-th event, and at the first event
   *  after the program came back from the event loop (a call without a caller, a resumed
   *  await), so that a time is never older than a few events of the same synchronous run;
   *  the events between two readings share the last one's time (never older than another
   *  record's: every reading of the clock is the last one). */
  ringNow() {
    if (this.clockCountdown-- > 0) return this.lastNow;
    this.clockCountdown = CLOCK_EVERY - 1;
    return this.now();
  }

  /** The functions of one instrumented module, in the order its code refers to them. The
   *  first one defined (before its module's code runs) opens the dev/safe trace, so that a
   *  program killed at any instant leaves its file and header. */
  define(file, table) {
    if (this.ring === null && !this.closed) {
      try {
        this.open();
      } catch (error) {
        this.stop(error);
      }
    }
    const module = file.replace(/\.[cm]?[jt]sx?$/, '');
    return table.map(([name, line, params]) => ({ name, module, file, line, params, calls: 0 }));
  }

  // -- the calls of instrumented code ----------------------------------------------

  enter(fn, args, isAsync) {
    if (fn === undefined || this.closed || this.capturing) return null;
    try {
      return this.push(fn, args, isAsync);
    } catch (error) {
      this.stop(error);
      return null;
    }
  }

  push(fn, args, isAsync) {
    const caller = this.current.top;
    let lane = this.current;
    let resumer = null;
    if (isAsync === 1) {
      resumer = lane;
      lane = new Lane(fn.name, 'task', null, lane);
      this.current = lane;
    }
    const frame = new Frame(fn, lane, args, caller, resumer);
    if (lane.top === null && this.ring === null) this.openLanes.add(lane);
    lane.top = frame;
    if (caller === null && this.testResource !== null) frame.test = this.testResource();
    if (this.ring !== null) {
      if (caller === null) this.clockCountdown = 0;
      this.remember(T.CALL, this.ringNow(), lane, fn);
    } else if (this.adaptive.max > 0 && this.recordedCalls >= this.adaptive.max) {
      frame.recorded = false;
      this.callsDropped++;
    } else {
      const w = this.open(); // opened by define(), before any call
      const t = this.now();
      if (this.root === null) this.root = fn.name;
      this.recordedCalls++;
      const calls = ++fn.calls;
      if (this.values && (calls <= this.adaptive.full || calls % this.adaptive.every === 0)) {
        frame.values = true;
        w.timed(t, [T.CALL, 0, w.laneId(lane), w.functionId(fn), this.capture(fn.params, args)]);
      } else {
        if (this.values) this.callsWithoutValues++;
        w.timed(t, [T.CALL, 0, w.laneId(lane), w.functionId(fn)]);
      }
    }
    return frame;
  }

  ret(frame, value) {
    if (frame !== null && !frame.done) this.close(frame, T.RETURN, value, true);
    return value;
  }

  /** The end of a function's try/finally: without a return first, an exception unwinds it. */
  leave(frame) {
    if (frame === null || frame.done) return;
    if (this.lastUnwound === null || this.lastUnwound.caller !== frame) this.unwinding = frame;
    this.lastUnwound = frame;
    this.close(frame, T.UNWIND, undefined, false);
    if (frame.test !== null && frame.caller === null) this.testEnded(frame, this.unwinding);
  }

  /** Captured values of `names` and `values` (flat pairs), or of the one `values` when
   *  `names` is null. Capturing can run the program's code (a getter, a Proxy trap): calls
   *  made meanwhile are not recorded, or their records would come before this one's. */
  capture(names, values) {
    this.capturing = true;
    try {
      return names === null ? this.capturer.value(values) : this.capturer.pairs(names, values);
    } finally {
      this.capturing = false;
    }
  }

  /** A catch clause of `frame`'s function runs: its lane is current again, and the
   *  exception that unwound the frames since the last one caught is known. */
  caught(frame, error) {
    try {
      if (frame === null) return;
      this.current = frame.lane;
      if (frame.lane.top === null && this.ring === null) this.openLanes.add(frame.lane);
      frame.lane.top = frame;
      if (error === this.none) return; // `catch {` or a destructuring catch: nothing to name
      this.failingStack(error);
      this.exception(frame.lane, 1, error);
    } catch (error) {
      this.stop(error);
    }
  }

  /** The innermost frame `error` unwound, if it unwound any (remembered from now on). */
  failingStack(error) {
    const isObject = error !== null && (typeof error === 'object' || typeof error === 'function');
    let innermost = isObject ? this.failingStacks.get(error) : undefined;
    if (innermost === undefined) {
      // the frames unwound since the last exception was caught, unless they were left by
      // another exception that code we do not instrument swallowed
      innermost = this.unwinding !== null && stackText(error).includes(this.unwinding.fn.name) ? this.unwinding : null;
      if (isObject && innermost !== null) this.failingStacks.set(error, innermost);
    }
    this.unwinding = null;
    this.lastUnwound = null;
    return innermost;
  }

  /** An async function is about to suspend at an `await`: its caller (or the event loop)
   *  carries on. */
  pause(frame, value) {
    if (frame !== null && frame.resumer !== null) this.current = frame.resumer;
    return value;
  }

  /** An async function resumes after an `await` (or in a catch or finally block). */
  resume(frame, value) {
    if (frame !== null) {
      this.current = frame.lane;
      if (frame.resumer !== null) frame.resumer = this.mainLane;
      this.clockCountdown = 0;
    }
    return value;
  }

  close(frame, type, value, isReturn) {
    try {
      this.closeFrame(frame, type, value, isReturn);
    } catch (error) {
      this.stop(error);
    }
  }

  closeFrame(frame, type, value, isReturn) {
    frame.done = true;
    const lane = frame.lane;
    lane.top = frame.caller !== null && frame.caller.lane === lane ? frame.caller : null;
    if (lane.top === null && this.ring === null) this.openLanes.delete(lane);
    if (frame.resumer !== null) this.current = frame.resumer;
    else this.current = lane;
    if (this.ring !== null) {
      if (!isReturn) frame.unwoundAt = this.ringNext;
      this.remember(type, this.ringNow(), lane, null);
      return;
    }
    const t = this.now();
    const w = this.writer;
    if (w === null || !frame.recorded) return;
    const laneId = w.laneId(lane);
    if (isReturn) {
      w.timed(t, frame.values ? [T.RETURN, 0, laneId, this.capture(null, value)] : [T.RETURN, 0, laneId]);
    } else {
      w.timed(t, frame.values ? [T.UNWIND, 0, laneId, null, this.capture(frame.fn.params, frame.args)]
        : [T.UNWIND, 0, laneId, null]);
    }
  }

  exception(lane, kind, error) {
    const t = this.now();
    const [type, message] = describe(error, this.config.secretValues);
    if (this.ring !== null) {
      this.remember(T.EXCEPTION, t, lane, [kind, type, message]);
      return;
    }
    const w = this.open();
    w.timed(t, [T.EXCEPTION, 0, w.laneId(lane), kind, w.sid(type), message, null]);
  }

  /** A span-like happening (an HTTP request): an event record on the current lane. */
  event(kind, attrs) {
    try {
      if (this.closed) return;
      const t = this.now();
      if (this.ring !== null) {
        this.remember(T.EVENT, t, this.current, [kind, attrs]);
        return;
      }
      const w = this.open();
      w.timed(t, [T.EVENT, 0, w.laneId(this.current), w.sid(kind), attrs]);
    } catch (error) {
      this.stop(error);
    }
  }

  remember(type, t, lane, detail) {
    const ring = this.ring;
    const at = this.ringAt;
    ring.type[at] = type;
    ring.time[at] = t;
    ring.lane[at] = lane;
    ring.detail[at] = detail;
    this.ringAt = at + 1 === this.ringSize ? 0 : at + 1;
    this.ringNext++;
  }

  // -- traces --------------------------------------------------------------------

  /** The agent failed (a spool it cannot write, a full disk): it stops recording, says so
   *  once on stderr, and the program goes on as if it had never been traced. */
  stop(error) {
    if (this.stopped) return;
    this.stopped = true;
    this.closed = true;
    try {
      if (this.writer !== null) this.writer.abandon();
    } catch { /* the file is what it is */ }
    process.stderr.write(`orion: the Node.js agent stopped recording: ${error && error.message}\n`);
  }

  /** Starts the thread that will write the dev/safe trace's frames (frames.js), ahead of
   *  the trace, so that it is up by the time the program runs. */
  prepareLiveTrace() {
    if (this.ring === null && this.liveFrames === null) {
      const { SharedFrames } = require('./frames');
      this.liveFrames = new SharedFrames((error) => this.stop(error));
    }
  }

  /** The dev/safe trace, opened at its first event. */
  open() {
    if (this.writer === null) {
      this.writer = this.newWriter({});
      this.capturer = new Capturer((text) => this.writer.sid(text), this.config.isSecret, this.config.secretValues);
    }
    return this.writer;
  }

  newWriter(extra) {
    const startNs = extra.startNs || this.startNs;
    const traceId = extra.traceId || this.traceId;
    fs.mkdirSync(this.config.spool, { recursive: true });
    const file = path.join(this.config.spool, traceFilename(startNs, traceId));
    const meta = { trace_id: traceId, agent: { language: 'node', name: 'orionis-trace', version: VERSION },
      mode: this.mode, start_ns: startNs, process: this.header.process, env: this.header.env };
    if (this.config.service) meta.service = this.config.service;
    if (extra.name) meta.name = extra.name;
    if (this.config.parent) meta.parent = this.config.parent;
    if (extra.window) meta.window = extra.window;
    const { TraceWriter } = require('./writer'); // loaded with the first trace written
    if (extra.traceId !== undefined || this.ring !== null) return new TraceWriter(file, meta);
    this.prepareLiveTrace(); // the process's own trace, written as it runs
    return new TraceWriter(file, meta, { live: this.liveFrames });
  }

  /** The summary of a trace, as spec section 4.7 lists it (counts and checksum are the
   *  writer's). */
  summary(writer, status, exception, exitCode, extra = {}) {
    const header = this.header.process;
    const out = { trace_id: extra.traceId || this.traceId, start_ns: extra.startNs || this.startNs,
      status, language: 'node', mode: this.mode, duration_ns: 0, command: header.argv,
      host: header.host, pid: header.pid, root: extra.root !== undefined ? extra.root : this.root,
      exception, exit_code: exitCode };
    if (this.config.service) out.service = this.config.service;
    if (this.config.parent) out.parent = this.config.parent;
    if (extra.name) { out.name = extra.name; }
    if (extra.test) out.test = extra.test;
    if (extra.processTrace) out.process_trace = extra.processTrace;
    if (this.ring === null && extra.traceId === undefined && this.config.adaptive !== null) {
      const { full, every, max } = this.adaptive;
      out.capture = { full_calls: full, value_every: every, max_calls: max,
        calls_without_values: this.callsWithoutValues, calls_dropped: this.callsDropped };
    }
    return out;
  }

  finish(writer, summary) {
    writer.close(summary);
    if (this.config.report) {
      try {
        fs.appendFileSync(this.config.report, `${writer.path}\n`);
      } catch { /* the report is a courtesy; the trace is in the spool */ }
    }
  }

  /** The process is dying of `error` (kind `uncaught` or `unhandled_rejection`). */
  crashed(error, kind) {
    try {
      if (this.closed || this.failure !== null) return;
      const [type, message] = describe(error, this.config.secretValues);
      const innermost = this.failingStack(error);
      const lane = innermost !== null ? innermost.lane : this.current;
      this.failure = { type, message, kind };
      const detail = { stack: scrub(stackText(error), this.config.secretValues) };
      if (this.ring !== null) {
        const w = this.ringTrace({}, -Infinity);
        this.writeFailure(w, lane, kind, type, message, detail, innermost);
        this.finish(w, this.summary(w, 'failed', this.failure, 1, { root: this.ringRoot }));
      } else {
        const w = this.open();
        this.writeFailure(w, lane, kind, type, message, detail, innermost);
      }
    } catch (error) {
      this.stop(error);
    }
  }

  writeFailure(w, lane, kind, type, message, detail, innermost) {
    const t = this.now();
    const laneId = w.laneId(lane);
    w.timed(t, [T.CRASH, 0, laneId, kind, type, message, detail]);
    this.writeStack(w, laneId, t, 'uncaught', innermost, this.failingLocals ? this.failingLocals() : null);
  }

  /** An error-mode trace holding the ring's events from `since` to `until`: opened when
   *  something failed. A test's trace (finite `since`) counts its time from `since`.
   *  `raised` ({frame, type, message}), when given, is the exception a test failed with:
   *  it is written as raised in its innermost frame, just before that frame's unwind, as
   *  the other agents write it, so that readers find where the failure began
   *  (`raised.written` says whether the ring still held that unwind). */
  ringTrace(extra, since, until = Infinity, raised = null) {
    const origin = Number.isFinite(since) ? since : 0;
    const w = this.newWriter({ ...extra, window: 'ring' });
    const { ring, ringSize: size } = this;
    const first = Math.max(0, this.ringNext - size);
    this.ringRoot = null;
    for (let i = first; i < this.ringNext; i++) {
      const at = i % size;
      const type = ring.type[at], lane = ring.lane[at], detail = ring.detail[at];
      if (ring.time[at] < since || ring.time[at] > until) continue;
      const t = ring.time[at] - origin; // from the trace's start
      const laneId = w.laneId(lane);
      if (type === T.CALL) {
        if (this.ringRoot === null) this.ringRoot = detail.name;
        w.timed(t, [T.CALL, 0, laneId, w.functionId(detail)]);
      } else if (type === T.RETURN) {
        w.timed(t, [T.RETURN, 0, laneId]);
      } else if (type === T.UNWIND) {
        if (raised !== null && raised.frame.unwoundAt === i) {
          w.timed(t, [T.EXCEPTION, 0, laneId, 0, w.sid(raised.type), raised.message, null]);
          raised.written = true;
        }
        w.timed(t, [T.UNWIND, 0, laneId, null]);
      } else if (type === T.EXCEPTION) {
        w.timed(t, [T.EXCEPTION, 0, laneId, detail[0], w.sid(detail[1]), detail[2], null]);
      } else if (type === T.EVENT) {
        w.timed(t, [T.EVENT, 0, laneId, w.sid(detail[0]), detail[1]]);
      }
    }
    return w;
  }

  /** A node:test test's function (`frame`, the root of its stack) was unwound: once the
   *  runner has recorded the failure on the test, the test's trace is written. */
  testEnded(frame, innermost) {
    const test = frame.test;
    const t = this.now();
    setImmediate(() => {
      const failure = test.resource.error;
      if (!failure) return;
      const error = failure.cause !== undefined ? failure.cause : failure;
      this.failingStacks.set(error, innermost);
      this.testFailed(test, error, innermost, frame.lane, t);
    });
  }

  /** A test runner other than node:test (Mocha) reports `test` ({id, file, start}) failed
   *  with `error`, which the frames it unwound (if any of ours) tell the stack of. */
  runnerTestFailed(test, error) {
    const innermost = this.failingStack(error);
    let root = innermost;
    while (root !== null && root.caller !== null) root = root.caller;
    this.testFailed(test, error, innermost, root !== null ? root.lane : this.current, this.now());
  }

  /** The trace of a failed test (spec 7.1): in error mode the ring since the test began,
   *  in dev and safe mode (whose calls are in the process's trace, named as
   *  `process_trace`) the failure alone; then the exception, the failing stack with its
   *  arguments, and the test's event on `lane`. Its clock starts with the test. */
  testFailed(test, error, innermost, lane, t) {
    try {
      const [type, message] = describe(error, this.config.secretValues);
      const info = { id: test.id, outcome: 'failed', file: test.file };
      const begin = Math.round(test.start);
      const extra = { traceId: crypto.randomBytes(16).toString('hex'), startNs: this.startNs + BigInt(begin),
        name: test.id, test: info };
      let w;
      const raised = { frame: innermost, type, message, written: false };
      if (this.ring !== null) {
        w = this.ringTrace(extra, begin, t, innermost !== null ? raised : null);
        extra.root = this.ringRoot;
      } else {
        if (this.closed) return;
        const main = this.open();
        main.timed(this.now(), [T.EVENT, 0, main.laneId(lane), main.sid('test'), info]);
        extra.processTrace = this.traceId;
        w = this.newWriter(extra);
      }
      const failingLane = innermost !== null ? innermost.lane : lane;
      const laneId = w.laneId(failingLane);
      if (!raised.written) w.timed(t - begin, [T.EXCEPTION, 0, laneId, 0, w.sid(type), message, null]);
      if (innermost !== null) this.writeStack(w, laneId, t - begin, 'exception', innermost);
      w.timed(t - begin, [T.EVENT, 0, w.laneId(lane), w.sid('test'), info]);
      this.finish(w, this.summary(w, 'failed', { type, message }, null, extra));
    } catch (error) {
      this.stop(error);
    }
  }

  /** Mocha's Runner (mocha/lib/runner.js, reporting to us once loaded): each failing test
   *  is recorded as its trace, named by its full title. */
  watchMocha(Runner) {
    if (Runner.orionWatched) return;
    Runner.orionWatched = true;
    const agent = this;
    const { fail, run } = Runner.prototype;
    Runner.prototype.run = function runWatched(...args) {
      this.on('test', (test) => { test.orionStart = agent.now(); });
      return Reflect.apply(run, this, args);
    };
    Runner.prototype.fail = function failWatched(test, error, ...rest) {
      if (!(test.isPending && test.isPending()) && typeof test.fullTitle === 'function') {
        const file = test.file ? path.relative(agent.config.root, test.file) : null;
        const start = test.orionStart !== undefined ? test.orionStart : agent.now();
        agent.runnerTestFailed({ id: test.fullTitle(), file, start }, error);
      }
      return Reflect.apply(fail, this, [test, error, ...rest]);
    };
  }

  /** The stack record of the frames from `innermost` out: each with its arguments and,
   *  where the inspector read them (`inspected`, innermost first: {name, line, locals}),
   *  its other locals and its line. */
  writeStack(w, laneId, t, reason, innermost, inspected = null) {
    const frames = [];
    for (let f = innermost; f !== null && frames.length < STACK_FRAMES; f = f.caller) frames.push(f);
    if (frames.length === 0) return;
    const seen = matchInspected(frames, inspected || []);
    const capturer = new Capturer((text) => w.sid(text), this.config.isSecret, this.config.secretValues);
    this.capturing = true; // see capture()
    try {
      const records = frames.map((f, i) => {
        const pairs = capturer.pairs(f.fn.params, f.args);
        const found = seen[i];
        if (found === undefined) return [w.functionId(f.fn), null, pairs];
        for (const [name, value] of found.locals) {
          if (f.fn.params.includes(name)) continue;
          const picture = value !== null && typeof value === 'object' ? [0, w.sid(value.type), String(value.text).slice(0, 200)]
            : capturer.value(value);
          pairs.push(w.sid(name), this.config.isSecret(name) ? [4, w.sid(typeof value)] : picture);
        }
        return [w.functionId(f.fn), found.line, pairs];
      });
      w.timed(t, [T.STACK, 0, laneId, reason, records.reverse()]);
    } finally {
      this.capturing = false;
    }
  }


  /** The calls still in progress when the process exits are left by that exit: each is
   *  closed by an unwind, innermost first, so that an `ok` trace nests whole (spec 6.2). */
  leaveOpenCalls(w) {
    const t = this.now();
    for (const lane of this.openLanes) {
      const laneId = w.laneId(lane);
      for (let frame = lane.top; frame !== null && frame.lane === lane; frame = frame.caller) {
        if (frame.recorded) w.timed(t, [T.UNWIND, 0, laneId, null]);
      }
    }
  }

  /** The process exits with `code`: the dev/safe trace gets its end record. */
  exit(code) {
    try {
      if (this.closed) return;
      this.closed = true;
      const w = this.writer;
      if (w === null) return;
      const status = this.failure !== null ? 'failed' : code === 0 ? 'ok' : 'failed';
      if (status === 'ok') this.leaveOpenCalls(w); // process.exit() from inside calls
      this.finish(w, this.summary(w, status, this.failure, code));
    } catch (error) {
      this.stop(error);
    }
  }
}

/** Which inspected frame (innermost first) is which of our frames (innermost first): the
 *  same function name (V8 names a method `total`, we `Cart.total`), in order. */
function matchInspected(frames, inspected) {
  const matched = [];
  let next = 0;
  frames.forEach((frame, i) => {
    for (let j = next; j < inspected.length; j++) {
      const name = inspected[j].name;
      if (name && (frame.fn.name === name || frame.fn.name.endsWith(`.${name}`))) {
        matched[i] = inspected[j];
        next = j + 1;
        break;
      }
    }
  });
  return matched;
}

/** The type and (scrubbed) message of a thrown value. */
function describe(error, secretValues) {
  if (error !== null && typeof error === 'object') {
    const type = (typeof error.name === 'string' && error.name) || typeName(error);
    return [type, scrub(safeString(error.message), secretValues)];
  }
  return [typeof error, scrub(safeString(error), secretValues)];
}

function stackText(error) {
  try {
    return error !== null && typeof error === 'object' && typeof error.stack === 'string' ? error.stack : safeString(error);
  } catch {
    return '';
  }
}

/** <UTC start, YYYYmmddTHHMMSSffffff>Z-<trace id>.otrace (spec section 8). */
function traceFilename(startNs, traceId) {
  const ms = Number(startNs / 1000000n);
  const micros = Number((startNs / 1000n) % 1000000n);
  const stamp = new Date(ms).toISOString().replace(/[-:]/g, '').slice(0, 15);
  return `${stamp}${String(micros).padStart(6, '0')}Z-${traceId}.otrace`;
}

module.exports = { Agent, traceFilename };
