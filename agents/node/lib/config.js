'use strict';
// The agent's settings, from the environment `orion run` gives (ORION_MODE, ORION_SPOOL,
// ORION_REPORT, ORION_PARENT, ORION_REDACT, ...), and the process facts a header records.

const fs = require('fs');
const os = require('os');
const path = require('path');
const { secretNames, configuredWords, secretValues, redactArgv, scrub } = require('./secrets');

const COMMON_VARIABLES = ['PATH', 'PWD', 'LANG', 'LANGUAGE', 'LC_*', 'TZ', 'CI', 'CONTINUOUS_INTEGRATION',
  'GITHUB_*', 'RUNNER_*', 'GITLAB_CI', 'CI_*', 'BUILDKITE*', 'CIRCLE*', 'TRAVIS*', 'JENKINS_URL',
  'BUILD_*', 'TF_BUILD', 'SOURCE_DATE_EPOCH', 'ORION_*'];
const NODE_VARIABLES = ['NODE_*', 'npm_lifecycle_event', 'npm_package_name', 'npm_package_version',
  'npm_config_user_agent'];

function readConfig(env = process.env) {
  if (env.ORION_MODE === undefined) env = { ...env, ...startSettings(env) };
  const mode = ['dev', 'safe'].includes(env.ORION_MODE) ? env.ORION_MODE : 'error';
  const isSecret = secretNames(configuredWords(env));
  const ring = Number.parseInt(env.ORION_RING || '', 10);
  return {
    mode,
    spool: resolveSpool(env),
    report: env.ORION_REPORT || null,
    service: env.ORION_SERVICE || null,
    parent: parseParent(env.ORION_PARENT),
    ring: Number.isFinite(ring) && ring >= 16 ? ring : 20000,
    include: (env.ORION_NODE_INCLUDE || '').split(',').map((s) => s.trim()).filter(Boolean),
    exclude: (env.ORION_NODE_EXCLUDE || '').split(',').map((s) => s.trim()).filter(Boolean),
    sample: parseSample(env.ORION_SAMPLE),
    adaptive: parseAdaptive(env.ORION_ADAPTIVE),
    root: process.cwd(),
    isSecret,
    secretValues: secretValues(env, isSecret, commandLine()),
  };
}

/** What `orion start` set for processes that load the agent through the user's own
 *  NODE_OPTIONS (no ORION_MODE in their environment), as ORION_* variables. */
function startSettings(env) {
  const base = env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  try {
    const { mode, spool, ring } = JSON.parse(fs.readFileSync(path.join(base, 'orionis', 'node-start.json'), 'utf8'));
    const settings = { ORION_MODE: mode };
    if (spool) settings.ORION_SPOOL = spool;
    if (/^\d+$/.test(ring || '')) settings.ORION_RING = ring;
    return settings;
  } catch {
    return {};
  }
}

/** ORION_SPOOL, else the nearest .orion/ upwards, else the user's data directory. */
function resolveSpool(env) {
  if (env.ORION_SPOOL) return env.ORION_SPOOL.replace(/^~(?=$|\/)/, os.homedir());
  for (let dir = process.cwd(); ; dir = path.dirname(dir)) {
    const project = path.join(dir, '.orion');
    try {
      if (fs.statSync(project).isDirectory()) return path.join(project, 'spool');
    } catch { /* not here */ }
    if (path.dirname(dir) === dir) break;
  }
  const data = env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.join(data, 'orionis', 'spool');
}

/** ORION_SAMPLE: the fraction of processes safe mode records (`0.01`, `1%`, `off` for
 *  all), 1% when unset, as the other agents read it. */
function parseSample(text) {
  const value = (text || '').trim().toLowerCase();
  if (value === '') return 0.01;
  if (['off', 'none', 'all', 'no'].includes(value)) return 1;
  const fraction = value.endsWith('%') ? Number.parseFloat(value) / 100 : Number.parseFloat(value);
  return Number.isFinite(fraction) ? fraction : 0.01;
}

/** ORION_ADAPTIVE=FULL/EVERY/MAX (spec 7.1, default 10/1000/20000000; `off` records every
 *  value of every call: null): a function's first FULL calls with values, then one in EVERY;
 *  at most MAX calls a trace (0: no cap). */
function parseAdaptive(text) {
  if (text === 'off') return null;
  const match = /^(\d+)\/(\d+)\/(\d+)$/.exec(text || '');
  if (!match || Number(match[2]) < 1) return { full: 10, every: 1000, max: 20000000 };
  return { full: Number(match[1]), every: Number(match[2]), max: Number(match[3]) };
}

/** ORION_PARENT=<trace id>-<span id>, as the other agents pass it to their children. */
function parseParent(text) {
  const match = /^([0-9a-f]{32})-([0-9a-f]{16})$/.exec(text || '');
  return match ? { trace_id: match[1], span_id: match[2] } : null;
}

function selected(name, patterns) {
  return patterns.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p));
}

/** The environment snapshot: the selected variables (secrets redacted), the rest counted. */
function environment(config, env = process.env) {
  const allow = (env.ORION_ENV_ALLOW || '').split(',').map((s) => s.trim()).filter(Boolean);
  const patterns = [...COMMON_VARIABLES, ...NODE_VARIABLES, ...allow];
  const vars = {};
  let omitted = 0;
  for (const name of Object.keys(env).sort()) {
    if (!selected(name, patterns)) { omitted++; continue; }
    vars[name] = config.isSecret(name) ? { t: 'str', redacted: true }
      : scrub(env[name], config.secretValues, config.isSecret);
  }
  return { os: `${os.type()} ${os.release()} ${os.arch()}`, runtime: `Node.js ${process.version}`,
    vars, vars_omitted: omitted };
}

function processInfo(config) {
  return { pid: process.pid, argv: redactArgv(commandLine(), config.isSecret, config.secretValues),
    cwd: process.cwd(), executable: process.execPath, host: os.hostname() };
}

/** The command as typed: node's own options, the script and its arguments. */
function commandLine() {
  const own = [];
  for (let i = 0; i < process.execArgv.length; i++) {
    const arg = process.execArgv[i];
    if (arg === '--require' && isAgent(process.execArgv[i + 1] || '')) i++;
    else if (!isAgent(arg)) own.push(arg);
  }
  return [process.argv0 || 'node', ...own, ...process.argv.slice(1)];
}

function isAgent(arg) {
  return arg.includes(path.join(__dirname, 'register.js'));
}

module.exports = { readConfig, environment, processInfo };
