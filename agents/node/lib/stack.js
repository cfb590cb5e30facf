'use strict';
// Stack traces as Node prints them without the agent. Instrumented lines keep their numbers
// but not their columns (text was inserted before them), so the agent formats stacks the
// way Node does by default (V8's own text for each frame: `file://` URLs of ES modules,
// `[as alias]`, `async`), with each column of an instrumented file turned back into the
// column the user wrote. Node's own source-map support is left off: it formats frames
// differently (paths, no alias) and heads an uncaught error's report with an extra line.
// ES modules are instrumented on Node's loader thread, which posts what it inserted where
// to a port this thread reads whenever it formats a stack. The agent's own frames (its
// module loading hooks) are left out.

const path = require('path');
const { receiveMessageOnPort } = require('worker_threads');

const AGENT_FILES = __dirname + path.sep;

const errorToString = Error.prototype.toString;
const isNodeError = nodeErrorMark();
const insertionsByLocation = new Map(); // path or URL -> {line: [[column, length], ...]}
let loaderPort = null;

/** What was inserted into the module at `location` (its path, or URL for an ES module). */
function rememberInsertions(location, insertions) {
  insertionsByLocation.set(location, insertions);
}

/** Formats stacks from now on, unless the user turned Node's source maps on (then theirs
 *  apply, as they asked). `port` receives [location, insertions] from the loader thread. */
function formatStacks(port) {
  if (process.sourceMapsEnabled) return;
  loaderPort = port;
  Error.prepareStackTrace = prepareStackTrace;
}

function prepareStackTrace(error, callSites) {
  if (loaderPort !== null) {
    for (let m = receiveMessageOnPort(loaderPort); m !== undefined; m = receiveMessageOnPort(loaderPort)) {
      rememberInsertions(...m.message);
    }
  }
  const head = isNodeError !== null && isNodeError in error ? `${error.name} [${error.code}]: ${error.message}`
    : Reflect.apply(errorToString, error, []);
  const sites = callSites.filter((site) => !String(site.getFileName()).startsWith(AGENT_FILES));
  if (sites.length === 0) return head;
  return `${head}\n    at ${sites.map(frameText).join('\n    at ')}`;
}

/** `original.apply(self, args)` for one of the agent's module loading hooks, with room in
 *  the errors' stacks for the two frames prepareStackTrace leaves out (the hook's and this
 *  one's), so that a stack shows as many frames as Error.stackTraceLimit says. */
function callHooked(original, self, args) {
  const limit = Error.stackTraceLimit;
  if (typeof limit !== 'number') return Reflect.apply(original, self, args);
  Error.stackTraceLimit = limit + 2;
  try {
    return Reflect.apply(original, self, args);
  } finally {
    if (Error.stackTraceLimit === limit + 2) Error.stackTraceLimit = limit; // unless the module set its own
  }
}

/** The symbol Node's own errors carry (kIsNodeError): their stack is headed `Name [CODE]:`. */
function nodeErrorMark() {
  try {
    Buffer.alloc(-1);
  } catch (error) {
    for (let o = error; o !== null; o = Object.getPrototypeOf(o)) {
      const mark = Object.getOwnPropertySymbols(o).find((symbol) => symbol.description === 'kIsNodeError');
      if (mark !== undefined) return mark;
    }
  }
  return null;
}

/** V8's text for a frame, its column the one the user wrote. */
function frameText(site) {
  const text = String(site);
  const insertions = insertionsByLocation.get(site.getFileName());
  const line = site.getLineNumber();
  const inserted = insertions && insertions[line];
  if (!inserted) return text;
  const column = site.getColumnNumber();
  const written = originalColumn(inserted, column - 1) + 1;
  const position = `:${line}:${column}`;
  const at = text.lastIndexOf(position);
  return at === -1 ? text : `${text.slice(0, at)}:${line}:${written}${text.slice(at + position.length)}`;
}

/** The 0-based column of the source as written for `column` of the instrumented line. */
function originalColumn(inserted, column) {
  let shift = 0;
  for (const [at, length] of inserted) {
    const start = at + shift;
    if (column < start) break;
    if (column < start + length) return at; // inside inserted text: where it was inserted
    shift += length;
  }
  return column - shift;
}

module.exports = { formatStacks, rememberInsertions, callHooked, originalColumn };
