'use strict';
// The agent's own unit tests (`npm test`): the pieces the end-to-end tests in
// tests/agents/node/ cannot isolate.

const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { instrument } = require('../lib/instrument');
const { Capturer } = require('../lib/values');
const { secretNames, DEFAULT_SECRETS, redactArgv, scrub } = require('../lib/secrets');
const { rawFrame } = require('../lib/zstd');
const { TraceWriter } = require('../lib/writer');
const { traceFilename } = require('../lib/agent');

test('instrumenting keeps every line where it was', () => {
  const source = [
    "'use strict';",
    'const add = (a, b) => a + b;',
    'async function load({ id }, ...rest) {',
    '  try { return await fetch(id); } catch (e) { throw e; }',
    '}',
    'class Cart { total() { return [1].map((x) => add(x, 1)); } }',
    'function* gen() { yield 1; }',
  ].join('\n');
  const out = instrument(source, 'a.js', 'script');
  const lines = out.split('\n');
  assert.strictEqual(lines.length, source.split('\n').length + 1); // + the source map comment
  assert.match(lines[0], /^'use strict';;var __orion_fns=/); // the directive stays first
  assert.match(lines.at(-1), /^\/\/# sourceMappingURL=data:application\/json;base64,/);
  const table = JSON.parse(/__orion\.define\("a\.js",(.*?)\);/.exec(lines[0])[1]);
  assert.deepStrictEqual(table.map(([name, line]) => [name, line]),
    [['add', 2], ['load', 3], ['Cart.total', 6], ['<anonymous>', 6]]);
  assert.deepStrictEqual(table[1][2], ['id', 'rest']);
  assert.ok(!lines[6].includes('__orion'), 'generators are left alone');
});

test('error mode leaves arrow functions without a block body as written', () => {
  const source = 'const ids = (xs) => xs.map((x) => x.id);\nconst all = (xs) => { return xs; };';
  const table = (out) => JSON.parse(/__orion\.define\("a\.js",(.*?)\);/.exec(out)[1]).map(([name]) => name);
  assert.deepStrictEqual(table(instrument(source, 'a.js', 'script')), ['ids', '<anonymous>', 'all']);
  const lean = instrument(source, 'a.js', 'script', 'a.js', { conciseArrows: false });
  assert.deepStrictEqual(table(lean), ['all']);
  assert.ok(lean.split('\n')[0].endsWith('const ids = (xs) => xs.map((x) => x.id);'));
});

test('stack columns after inserted text are the ones written', () => {
  const { rewrite } = require('../lib/instrument');
  const source = 'function f(a) { return g(a); }';
  const { code, insertions } = rewrite(source, 'a.js', 'script');
  const { originalColumn } = require('../lib/stack');
  const at = code.split('\n')[0].indexOf('g(a)');
  assert.strictEqual(originalColumn(insertions[1], at), source.indexOf('g(a)'));
  assert.strictEqual(originalColumn(insertions[1], 0), 0); // inside the prologue: where it went
});

test('directives without semicolons stay directives', () => {
  const source = "'use strict'\nfunction f() { 'use strict'\n return 1 }\nmodule.exports = f";
  const out = instrument(source, 'a.js', 'script');
  assert.match(out, /^'use strict';var __orion_fns=/);
  assert.match(out, /\{ 'use strict';const __o=/);
  new Function(out); // parses
});

test('a return glued to its value stays a return', () => {
  const out = instrument('function f(a){return(a+1)}\nfunction g(a){return[a]}\nmodule.exports={f,g}', 'a.js', 'script');
  const exported = {};
  new Function('module', '__orion', out)({ exports: exported, set exports(v) { Object.assign(exported, v); } },
    { define: () => [], none: [], enter: () => null, ret: (o, v) => v, leave() {} });
  assert.strictEqual(exported.f(1), 2);
  assert.deepStrictEqual(exported.g(3), [3]);
});

test('a module that does not parse runs as written', () => {
  assert.strictEqual(instrument('function (', 'bad.js', 'script'), null);
});

test('secret names are whole words', () => {
  const isSecret = secretNames(DEFAULT_SECRETS);
  for (const name of ['password', 'db_password', 'authToken', 'AUTH_HEADER', 'api-key']) assert.ok(isSecret(name), name);
  for (const name of ['author', 'PWD', 'OLDPWD', 'tokenizer', 'sessions_count']) assert.ok(!isSecret(name), name);
  assert.deepStrictEqual(redactArgv(['node', '--password', 'x', '--token=y', 'a'], isSecret, []),
    ['node', '--password', '<redacted>', '--token=<redacted>', 'a']);
  assert.strictEqual(scrub('url http://me:pw@host/ and s3cret-value', ['s3cret-value']),
    'url http://me:<redacted>@host/ and <redacted>');
});

test('captured values are bounded and redacted', () => {
  const strings = [];
  const sid = (text) => { if (!strings.includes(text)) strings.push(text); return strings.indexOf(text); };
  const capture = new Capturer(sid, secretNames(DEFAULT_SECRETS), []);
  assert.deepStrictEqual(capture.value('x'.repeat(250)), [0, sid('string'), 'x'.repeat(200), 250]);
  assert.deepStrictEqual(capture.value(Array.from({ length: 60 }, (_, i) => i))[3], 60);
  assert.deepStrictEqual(capture.value([[[1]]]), [1, sid('Array'), [[1, sid('Array'), [[5, sid('Array'), 1]]]]]);
  assert.deepStrictEqual(capture.value({ token: 'abc', n: 1 }),
    [3, sid('Object'), [sid('token'), [4, sid('string')], sid('n'), 1]]);
  assert.deepStrictEqual(capture.value(NaN), [0, sid('number'), 'NaN']);
  assert.strictEqual(capture.value(2 ** 40), 2 ** 40);
  const hostile = new Proxy({}, { ownKeys() { throw new Error('no keys'); } });
  assert.deepStrictEqual(capture.value(hostile), [6, sid('Object'), 'no keys']);
});

test('a raw-block frame declares its size and holds the bytes', () => {
  const data = Buffer.alloc(300000, 7);
  const frame = rawFrame(data);
  assert.strictEqual(frame.readUInt32LE(0), 0xfd2fb528);
  assert.strictEqual(frame.readBigUInt64LE(5), 300000n);
  assert.strictEqual(frame.length, 13 + 3 * 3 + data.length); // three blocks of at most 128 KiB
});

test('a raw-block frame takes a plain Uint8Array (a process that ends before its worker is up)', () => {
  const shared = new Uint8Array(new SharedArrayBuffer(16));
  shared.set([1, 2, 3, 4], 2);
  assert.deepStrictEqual(rawFrame(shared.subarray(2, 6)), rawFrame(Buffer.from([1, 2, 3, 4])));
});

test('a trace starts with the prelude and is named after its start and id', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orion-node-'));
  const id = 'ab'.repeat(16);
  const file = path.join(dir, traceFilename(1700000000123456789n, id));
  assert.strictEqual(path.basename(file), `20231114T221320123456Z-${id}.otrace`);
  const writer = new TraceWriter(file, { trace_id: id, mode: 'dev' });
  writer.close({ trace_id: id, status: 'ok' });
  const bytes = fs.readFileSync(file);
  assert.strictEqual(bytes.subarray(8, 16).toString('latin1'), '\x89OTRACE\n');
  assert.strictEqual(bytes.subarray(bytes.length - 8).toString('latin1'), '\x89OTREND\n');
  fs.rmSync(dir, { recursive: true });
});

test('the manual API records a call with its arguments', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orion-node-'));
  const { execFileSync } = require('child_process');
  const script = `const orion = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'index.js'))});
    const add = orion.trace(function add(a, b) { return a + b; });
    console.log(orion.span('block', () => add(2, 3)));`;
  const out = execFileSync(process.execPath, ['-e', script], {
    cwd: dir, env: { ...process.env, ORION_MODE: 'dev', ORION_SPOOL: dir, NODE_OPTIONS: '' }, encoding: 'utf8' });
  assert.strictEqual(out, '5\n');
  const traces = fs.readdirSync(dir).filter((f) => f.endsWith('.otrace'));
  assert.strictEqual(traces.length, 1);
  const plain = execFileSync('zstd', ['-dc', path.join(dir, traces[0])]);
  const records = require('msgpackr').unpackMultiple(plain);
  const names = records.filter((r) => r[0] === 2).map((r) => records.find((s) => s[0] === 1 && s[1] === r[2])[2]);
  assert.deepStrictEqual(names, ['block', 'add']);
  const calls = records.filter((r) => r[0] === 4);
  assert.strictEqual(calls.length, 2);
  assert.deepStrictEqual(calls[1][4].filter((_, i) => i % 2 === 1), [2, 3]);
  fs.rmSync(dir, { recursive: true });
});

test('instrumented code computes what the code as written does', async () => {
  const file = path.join(__dirname, 'fixtures', 'features.js');
  const source = fs.readFileSync(file, 'utf8');
  const load = (text) => {
    const module = { exports: {} };
    new Function('module', 'require', text)(module, require);
    return module.exports;
  };
  const written = await load(source)();
  const recorded = [];
  globalThis.__orion = { none: [], define: (f, table) => table.map(([name]) => name),
    enter: (name) => { recorded.push(name); return {}; }, ret: (o, v) => v, leave() {}, caught() {},
    pause: (o, v) => v, resume: (o, v) => v };
  try {
    assert.strictEqual(await load(instrument(source, 'features.js', 'script'))(), written);
  } finally {
    delete globalThis.__orion;
  }
  for (const name of ['Derived.constructor', 'Derived.reveal', 'Derived.#hidden', 'Derived.get double',
    'Derived.arrow', 'Derived.later', 'defaults', 'labeled', 'get v', 'set v', 'm', 'catchPattern', 'returnGlued']) {
    assert.ok(recorded.includes(name), name);
  }
});
