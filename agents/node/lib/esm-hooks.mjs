// The ES module side of register.js: a load hook (run on Node's loader thread) that
// instruments the project's own ES modules as they load. CommonJS files reach
// Module.prototype._compile, which register.js hooks in the main thread.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { instrument } = require('./instrument.js');
const { shouldInstrument, runnerTail } = require('./scope.js');

let config = null;

export async function initialize(data) {
  config = data;
}

export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  if (config === null || result.format !== 'module' || !url.startsWith('file:')) return result;
  const filename = fileURLToPath(url);
  const source = typeof result.source === 'string' ? result.source : Buffer.from(result.source).toString('utf8');
  if (runnerTail(filename) !== null) return { ...result, source: source + runnerTail(filename) };
  if (!shouldInstrument(filename, config)) return result;
  const rewritten = instrument(source, path.relative(config.root, filename), 'module', url);
  return rewritten === null ? result : { ...result, source: rewritten };
}
