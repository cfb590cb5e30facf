// The ES module side of register.js: a load hook (run on Node's loader thread) that
// instruments the project's own ES modules as they load, and tells the program's thread
// where it inserted text (stack.js). CommonJS files reach Module.prototype._compile, which
// register.js hooks in the program's thread.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { rewrite } = require('./instrument.js');
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
  const rewritten = rewrite(source, path.relative(config.root, filename), 'module', url,
    { conciseArrows: config.mode !== 'error' });
  if (rewritten === null) return result;
  config.port.postMessage([url, rewritten.insertions]); // for the stack traces of the program's thread
  return { ...result, source: rewritten.code };
}
