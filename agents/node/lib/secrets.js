'use strict';
// Which names look secret and how secrets are kept out of free text: the rules of
// spec/OTRACE.md section 7, as the Python and C agents apply them.

const DEFAULT_SECRETS = ['password', 'passwd', 'passphrase', 'pwd', 'secret', 'token', 'api_key',
  'apikey', 'access_key', 'auth', 'authorization', 'cookie', 'session', 'private_key',
  'privatekey', 'credential', 'credentials', 'signature', 'dsn'];
const NOT_SECRET = new Set(['PWD', 'OLDPWD']); // the shell's working directories
const MIN_SCRUBBED = 6; // shorter secret values would hide innocent words
const REDACTED = '<redacted>';
// Secret-shaped words inside any string: a URL's password, well-known token formats.
const TOKEN_PATTERNS = [
  /(?<=[a-z][a-z0-9+.-]*:\/\/[^\s:@/]*:)[^\s@/]+(?=@)/gi,
  /\b(?<=bearer\s+)[A-Za-z0-9._~+/-]{8,}=*/gi,
  /\bgh[pousr]_[A-Za-z0-9]{20,}\b/g,
  /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g,
  /\bxox[abprs]-[A-Za-z0-9-]{10,}\b/g,
  /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\b/g,
];

/** A name's words, lower-cased and joined by `_`: authToken, AUTH-TOKEN, auth.token. */
function nameWords(name) {
  return name.replace(/(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])/g, '_')
    .replace(/[\s_.-]+/g, '_').replace(/^_+|_+$/g, '').toLowerCase();
}

/** A predicate telling whether a name looks secret (whole words: db_password, not author). */
function secretNames(words) {
  const list = [...new Set(words.map(nameWords).filter(Boolean))].sort();
  const escape = (w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = list.length ? new RegExp(`(?:^|_)(?:${list.map(escape).join('|')})(?:_|$)`) : null;
  const known = new Map();
  return (name) => {
    let answer = known.get(name);
    if (answer === undefined) {
      answer = pattern !== null && !NOT_SECRET.has(name) && pattern.test(nameWords(name));
      if (known.size < 100000) known.set(name, answer);
    }
    return answer;
  };
}

function configuredWords(env) {
  const custom = env.ORION_REDACT;
  return custom === undefined ? DEFAULT_SECRETS : custom.split(',').map((w) => w.trim()).filter(Boolean);
}

/** The values of secret environment variables worth hiding in free text, longest first. */
function secretValues(env, isSecret) {
  const fs = require('fs');
  const values = Object.entries(env)
    .filter(([name, value]) => isSecret(name) && value.length >= MIN_SCRUBBED
      && !(value.includes('/') && fs.existsSync(value)))
    .map(([, value]) => value);
  return [...new Set(values)].sort((a, b) => b.length - a.length);
}

/** `text` with every secret value and secret-shaped word replaced by <redacted>. */
function scrub(text, values) {
  for (const secret of values) if (text.includes(secret)) text = text.split(secret).join(REDACTED);
  for (const pattern of TOKEN_PATTERNS) text = text.replace(pattern, REDACTED);
  return text;
}

/** A command line with secret options' values redacted (--api-key=<redacted>, or the word
 *  after --password) and secrets scrubbed. */
function redactArgv(argv, isSecret, values) {
  const out = [];
  let hideNext = false;
  for (const word of argv) {
    if (hideNext) { out.push(REDACTED); hideNext = false; continue; }
    const option = /^(--?)([A-Za-z][\w.-]*)(=[\s\S]*)?$/.exec(word);
    if (option && isSecret(option[2])) {
      if (option[3] !== undefined) { out.push(`${option[1]}${option[2]}=${REDACTED}`); continue; }
      hideNext = true;
    }
    out.push(scrub(word, values));
  }
  return out;
}

module.exports = { DEFAULT_SECRETS, REDACTED, secretNames, configuredWords, secretValues, scrub, redactArgv };
