'use strict';
// The zero-code entry point: `orion run` puts `--require <this file>` in NODE_OPTIONS, so
// it runs first in every Node process and worker thread the command starts. It makes the
// project's own CommonJS modules (Module.prototype._compile) and ES modules (a
// module.register load hook) instrumented as they load, and records the process's end:
// its exit, an uncaught exception or unhandled rejection (through
// uncaughtExceptionMonitor, so Node's own report and exit status are unchanged).

const Module = require('module');
const path = require('path');
const { isMainThread, parentPort, threadId } = require('worker_threads');

// Package managers run none of the project's code themselves: only the cheap CommonJS hook
// there, no ES module loader thread, no HTTP events, no inspector worker.
const PACKAGE_MANAGERS = /(?:^|[/\\])(?:npm|npx|npm-cli|npx-cli|yarn|pnpm|pnpx|corepack)(?:\.c?js)?$/;

function start() {
  if (globalThis.__orion !== undefined || process.env.ORION_DISABLE === '1') return;
  if (!isMainThread && parentPort === null) return; // Node's module loader thread, not the program's
  if (!isMainThread && require('worker_threads').workerData?.orionAgentThread) return; // the agent's own worker (locals, flush)
  const { readConfig } = require('./config');
  const { Agent } = require('./agent');
  const config = readConfig();
  if (config.mode === 'safe' && Math.random() >= config.sample) return; // not among the sampled
  const agent = new Agent(config, isMainThread ? {} : { threadName: `worker ${threadId}`, threadId });
  globalThis.__orion = agent;
  if (config.parent === null || isMainThread) {
    process.env.ORION_PARENT = `${agent.traceId}-${agent.spanId}`;
  }
  const packageManager = PACKAGE_MANAGERS.test(process.argv[1] || '');
  if (!packageManager) {
    agent.prepareLiveTrace();
    const { port1, port2 } = new (require('worker_threads').MessageChannel)();
    port1.unref();
    require('./stack').formatStacks(port1); // stack traces give the columns as written
    hookEsModules(config, port2);
  }
  hookCommonJs(config);
  hookRequiredRunners(agent);
  if (process.env.NODE_TEST_CONTEXT !== undefined || process.execArgv.includes('--test')) watchTests(agent);
  if (!packageManager) require('./http').watchHttp(agent); // npm's registry requests are not the project's
  // Opt-in: V8 pausing at a rejection (to read the locals) makes Node head its report of
  // an unhandled rejection with its own internal line instead of the throwing one.
  if (isMainThread && process.env.ORION_NODE_LOCALS === '1' && !packageManager) {
    watchLocals(agent, config);
  }
  process.on('uncaughtExceptionMonitor', (error, origin) => {
    if (origin === 'uncaughtException' && process.listenerCount('uncaughtException') > 0) return;
    agent.crashed(error, origin === 'unhandledRejection' ? 'unhandled_rejection' : 'uncaught');
    if (agent.releaseInspector) agent.releaseInspector();
  });
  process.on('exit', (code) => {
    agent.exit(code);
    if (agent.releaseInspector) agent.releaseInspector();
  });
  runOwnTicks();
}

/** Runs the process.nextTick callbacks the agent's setup queued (each worker thread it or
 *  module.register starts pipes its stdio, which queues one): left pending, they would be
 *  run after the program's main module by Node's JS tick loop, which then also runs the
 *  program's first awaits, and every error stack made there would end with one more
 *  frame, `process.processTicksAndRejections`, than without orion (Node's report of an
 *  unhandled rejection included). */
function runOwnTicks() {
  if (typeof process._tickCallback === 'function') process._tickCallback();
}

/** The locals of the frames an uncaught exception leaves, read by locals-worker.js. */
function watchLocals(agent, config) {
  const { Worker, MessageChannel, receiveMessageOnPort } = require('worker_threads');
  const { port1, port2 } = new MessageChannel();
  const { pathToFileURL } = require('url');
  const files = [config.root + path.sep, pathToFileURL(config.root).href + '/'];
  const released = new Int32Array(new SharedArrayBuffer(4));
  try {
    const worker = new Worker(path.join(__dirname, 'locals-worker.js'), {
      workerData: { orionAgentThread: true, port: port2, files, maxFrames: 20, released }, transferList: [port2],
      stdout: false, stderr: false });
    worker.unref();
    worker.on('error', () => {}); // no locals then; the program is not disturbed
  } catch {
    return;
  }
  port1.unref();
  // before the process exits (process.exit(), an uncaught exception), so that Node has no
  // debugger session to wait for; 200 ms at most
  agent.releaseInspector = () => {
    if (Atomics.load(released, 0) === 1) return;
    port1.postMessage('disconnect');
    Atomics.wait(released, 0, 0, 200);
  };
  agent.failingLocals = () => {
    let last = null;
    for (let message = receiveMessageOnPort(port1); message; message = receiveMessageOnPort(port1)) last = message.message;
    return last;
  };
}

function hookCommonJs(config) {
  const { shouldInstrument, runnerTail } = require('./scope');
  const { rememberInsertions, callHooked } = require('./stack');
  let rewrite = null; // acorn and magic-string load with the first module instrumented
  const compile = Module.prototype._compile;
  Module.prototype._compile = function compileInstrumented(content, filename, ...rest) {
    if (typeof content === 'string' && shouldInstrument(filename, config)) {
      if (rewrite === null) ({ rewrite } = require('./instrument'));
      const rewritten = rewrite(content, path.relative(config.root, filename), 'script', filename,
        { conciseArrows: config.mode !== 'error' });
      if (rewritten !== null) {
        content = rewritten.code;
        rememberInsertions(filename, rewritten.insertions);
      }
    } else if (typeof content === 'string' && runnerTail(filename) !== null) {
      content += runnerTail(filename);
    }
    return callHooked(compile, this, [content, filename, ...rest]);
  };
}

/** Test runners taken from what require returns: Mocha 12 requires its runner, an ES
 *  module, from CommonJS (require(esm)), which neither hook sees; jest-runner requires
 *  jest-runtime, whose Runtime runs each test file in a vm context (see jest.js). */
function hookRequiredRunners(agent) {
  const load = Module._load;
  const mocha = `${path.sep}mocha${path.sep}`;
  const jestRunner = `${path.sep}jest-runner${path.sep}`;
  let jestRuntime = null; // [jest-runtime's exports, what the agent gives instead]
  const { callHooked } = require('./stack');
  Module._load = function loadWatched(request, parent, ...rest) {
    const exports = callHooked(load, this, [request, parent, ...rest]);
    const from = parent && typeof parent.filename === 'string' ? parent.filename : '';
    if (request.endsWith('runner.js') && from.includes(mocha) && exports && typeof exports.Runner === 'function') {
      agent.watchMocha(exports.Runner);
    } else if (request === 'jest-runtime' && from.includes(jestRunner)) {
      if (jestRuntime === null || jestRuntime[0] !== exports) {
        jestRuntime = [exports, require('./jest').watchJestRuntime(agent, exports)];
      }
      return jestRuntime[1];
    }
    return exports;
  };
}

/** ES modules, instrumented on Node's loader thread: what it inserts where comes back
 *  through `port` (see stack.js). */
function hookEsModules(config, port) {
  if (typeof Module.register !== 'function') return;
  const data = { root: config.root, include: config.include, exclude: config.exclude, mode: config.mode, port };
  Module.register('./esm-hooks.mjs', require('url').pathToFileURL(__filename), { data, transferList: [port] });
}

/** Under `node --test`, a test's function that throws or rejects makes a trace named after
 *  the test: the runner runs each test function inside its Test (an AsyncResource). */
function watchTests(agent) {
  const hooks = require('async_hooks');
  agent.testResource = () => {
    const resource = hooks.executionAsyncResource();
    const kind = resource && resource.constructor && resource.constructor.name;
    if (kind !== 'Test' && kind !== 'Suite') return null;
    const names = [];
    for (let t = resource; t && t.parent; t = t.parent) names.unshift(t.name);
    const file = process.argv[1] ? path.relative(agent.config.root, process.argv[1]) : null;
    return { id: names.join(' > '), file, start: agent.now(), resource };
  };
}

start();
