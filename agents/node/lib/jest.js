'use strict';
// Jest runs a project's modules through its own loader, not Node's: it reads each file,
// transforms it (babel-jest, ts-jest...) and runs it with `vm` in the test file's own
// global context. Neither hook of register.js sees that, so the agent takes Jest's Runtime
// class as jest-runner requires it and, for each test file's runtime:
//
// - instruments the project's files before Jest's transform sees them (ScriptTransformer's
//   _transformAndBuildScript): the transform's cache key is then that of the instrumented
//   text, so a cache filled by a run without orion is never reused, and the transform's
//   source map composes with ours (babel reads the inline map);
// - gives the test file's global context the agent (`__orion`, which instrumented code
//   calls);
// - listens to jest-circus's events (the environment's handleTestEvent) to write one trace
//   per failing test, named as Jest's report names it: `describe › test`.

const path = require('path');
const { shouldInstrument } = require('./scope');

const ROOT_BLOCK = 'ROOT_DESCRIBE_BLOCK';
const patchedTransformers = new WeakSet();

/** jest-runtime's exports, with its Runtime class replaced by one that watches each test
 *  file's runtime. */
function watchJestRuntime(agent, exports) {
  const Runtime = exports && (exports.__esModule ? exports.default : exports);
  if (typeof Runtime !== 'function') return exports;
  class WatchedRuntime extends Runtime {
    constructor(...args) {
      super(...args);
      const [, environment, , transformer, , , testPath] = args;
      try {
        watchTestFile(agent, environment, transformer, testPath);
      } catch (error) {
        agent.stop(error);
      }
    }
  }
  return exports.__esModule ? { __proto__: exports, default: WatchedRuntime } : WatchedRuntime;
}

function watchTestFile(agent, environment, transformer, testPath) {
  Object.defineProperty(environment.global, '__orion', { value: agent, configurable: true });
  instrumentTransforms(agent, transformer);
  const file = typeof testPath === 'string' ? path.relative(agent.config.root, testPath) : null;
  const own = environment.handleTestEvent;
  environment.handleTestEvent = function handleTestEvent(event, state) {
    testEvent(agent, event, file);
    return own === undefined ? undefined : Reflect.apply(own, this, [event, state]);
  };
}

/** Jest's ScriptTransformer (one class for every runtime) instruments the project's files. */
function instrumentTransforms(agent, transformer) {
  const proto = transformer && Object.getPrototypeOf(transformer);
  if (!proto || patchedTransformers.has(proto)) return;
  patchedTransformers.add(proto);
  const { instrument } = require('./instrument');
  const fs = require('fs');
  const withInstrumented = (filename, fileSource) => {
    if (!shouldInstrument(filename, agent.config)) return fileSource;
    const source = fileSource !== undefined && fileSource !== null ? fileSource : fs.readFileSync(filename, 'utf8');
    return instrument(source, path.relative(agent.config.root, filename), 'unambiguous', filename,
      { conciseArrows: agent.config.mode !== 'error' }) ?? source;
  };
  for (const method of ['_transformAndBuildScript', '_transformAndBuildScriptAsync']) {
    const original = proto[method];
    if (typeof original !== 'function') continue;
    proto[method] = function transformInstrumented(filename, options, transformOptions, fileSource) {
      const isProjectFile = !(options && options.isInternalModule);
      const source = isProjectFile ? withInstrumented(filename, fileSource) : fileSource;
      return Reflect.apply(original, this, [filename, options, transformOptions, source]);
    };
  }
}

/** jest-circus's events: a test's start, and its end with the errors it failed with. */
function testEvent(agent, event, file) {
  const test = event.test;
  if (event.name === 'test_start') {
    test.orionStart = agent.now();
  } else if (event.name === 'test_fn_failure') {
    agent.failingStack(event.error); // before hooks run more of the project's code
  } else if (event.name === 'test_done' && test.errors.length > 0) {
    const first = test.errors[0];
    const error = Array.isArray(first) ? first[0] : first;
    const start = test.orionStart !== undefined ? test.orionStart : agent.now();
    agent.runnerTestFailed({ id: testName(test), file, start }, error);
  }
}

/** `describe › test`, as Jest's report heads a failure. */
function testName(test) {
  const names = [];
  for (let t = test; t && t.name !== ROOT_BLOCK; t = t.parent) names.unshift(t.name);
  return names.join(' › ');
}

module.exports = { watchJestRuntime };
