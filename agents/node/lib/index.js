'use strict';
// The manual API, for code the zero-code loader does not instrument (a dependency, code
// built at run time) or a program started without `orion run`:
//
//   const orion = require('orionis-trace');
//   const tracedParse = orion.trace(parse);          // each call recorded with its arguments
//   orion.span('import batch', () => importAll());   // one recorded span around a block
//
// Requiring it starts the agent when NODE_OPTIONS did not (settings from ORION_* variables).

require('./register');

const defined = new WeakMap(); // fn -> its function record

/** `fn`, recording each call (arguments, return value or the exception) as `name`. */
function trace(fn, name = fn.name || '<anonymous>') {
  if (typeof fn !== 'function') throw new TypeError('orion.trace needs a function');
  const agent = globalThis.__orion;
  if (agent === undefined) return fn;
  let record = defined.get(fn);
  if (record === undefined) {
    const params = Array.from({ length: fn.length }, (_, i) => `arg${i}`);
    [record] = agent.define('<manual>', [[name, null, params]]);
    defined.set(fn, record);
  }
  return function traced(...args) {
    const frame = agent.enter(record, args);
    try {
      return agent.ret(frame, Reflect.apply(fn, this, args));
    } finally {
      agent.leave(frame);
    }
  };
}

/** Runs `fn` now as one recorded span named `name`; returns what it returns. */
function span(name, fn) {
  return trace(fn, name)();
}

module.exports = { trace, span };
