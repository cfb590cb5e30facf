'use strict';
// A worker thread that reads the locals of the frames an uncaught exception is leaving,
// through the inspector protocol (as Sentry's Node SDK does): the main thread pauses at
// such a throw, this thread reads each project frame's local scope, posts them to the
// agent's port and lets the main thread go on. The agent reads the port when it records
// the crash (receiveMessageOnPort: synchronously, the main thread's event loop is ending).

const inspector = require('inspector');
const { workerData } = require('worker_threads');

const { port, files, maxFrames, released } = workerData;
const session = new inspector.Session();
session.connectToMainThread();
const scripts = new Map(); // script id -> url (paused frames leave their url empty)
session.on('Debugger.scriptParsed', ({ params }) => { if (params.url) scripts.set(params.scriptId, params.url); });

function post(method, params) {
  return new Promise((resolve) => {
    session.post(method, params, (error, result) => resolve(error ? null : result));
  });
}

/** A local's value as the protocol describes it: a primitive, else its description. */
function describe(remote) {
  if (!remote) return null;
  if (remote.type === 'undefined') return null;
  if ('value' in remote && (remote.type !== 'object' || remote.value === null)) return remote.value;
  if (remote.unserializableValue !== undefined) return { text: remote.unserializableValue, type: remote.type };
  return { text: remote.description || remote.type, type: remote.className || remote.type };
}

async function readLocals(callFrames) {
  const frames = [];
  for (const frame of callFrames) {
    if (frames.length === maxFrames) break;
    const url = frame.url || scripts.get(frame.location.scriptId) || '';
    if (!files.some((prefix) => url.startsWith(prefix))) continue;
    // the function's own scope and the blocks inside it (the instrumentation's try block
    // holds the body's let and const)
    const end = frame.scopeChain.findIndex((s) => s.type === 'local');
    const locals = [];
    for (const scope of frame.scopeChain.slice(0, end + 1)) {
      if (scope.type !== 'local' && scope.type !== 'block' && scope.type !== 'catch') continue;
      const result = await post('Runtime.getProperties', { objectId: scope.object.objectId, ownProperties: true });
      for (const p of result ? result.result : []) {
        if (!p.name.startsWith('__o')) locals.push([p.name, describe(p.value)]); // not the instrumentation's own
      }
    }
    frames.push({ name: frame.functionName, line: frame.location.lineNumber + 1, locals });
  }
  return frames;
}

session.on('Debugger.paused', async ({ params }) => {
  try {
    if (params.reason === 'exception' || params.reason === 'promiseRejection') {
      port.postMessage(await readLocals(params.callFrames));
    }
  } finally {
    session.post('Debugger.resume');
  }
});

// The main thread is exiting: a session still connected would make Node print "Waiting for
// the debugger to disconnect..." on its stderr. It waits (Atomics.wait) until this is done.
port.on('message', (message) => {
  if (message !== 'disconnect') return;
  session.disconnect();
  Atomics.store(released, 0, 1);
  Atomics.notify(released, 0);
});

post('Debugger.enable', {}).then(() => post('Debugger.setPauseOnExceptions', { state: 'uncaught' }));
setInterval(() => {}, 2 ** 30); // alive as long as the program (the main thread unrefs this worker)
