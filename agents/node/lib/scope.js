'use strict';
// Which modules are instrumented: the project's own (under the working directory `orion
// run` started in), never node_modules or Node's internals unless ORION_NODE_INCLUDE
// names them (comma-separated path fragments); ORION_NODE_EXCLUDE leaves some out.

const path = require('path');

const AGENT_DIR = path.resolve(__dirname, '..');
const SOURCE = /\.(c|m)?js$/;

function shouldInstrument(filename, config) {
  if (!SOURCE.test(filename) || filename.startsWith(AGENT_DIR + path.sep)) return false;
  if (config.exclude.some((part) => filename.includes(part))) return false;
  if (config.include.some((part) => filename.includes(part))) return true;
  return filename.startsWith(config.root + path.sep) && !filename.includes(`${path.sep}node_modules${path.sep}`);
}

// Test runners the agent reports failures from: their module, and the tail that hands the
// runner's class to the agent once the module has run (CommonJS or ES module alike).
const RUNNERS = [{ path: `${path.sep}mocha${path.sep}lib${path.sep}runner.js`,
  tail: '\n;globalThis.__orion?.watchMocha?.(Runner);' }];

/** The text to append to a test runner's module, or null for any other file. */
function runnerTail(filename) {
  const runner = RUNNERS.find((r) => filename.endsWith(r.path));
  return runner === undefined ? null : runner.tail;
}

module.exports = { shouldInstrument, runnerTail };
