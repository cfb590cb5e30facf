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

const URL_PASSWORD = /[A-Za-z0-9]:\/\/[^\s:@/]*:([^\s@/]+)@/g;
// A query parameter or a header line: its value is hidden when its name looks secret
// (`?session=`, `Cookie: `, `X-Api-Key: `; a header's name is Authorization, Cookie or
// hyphenated; its value runs to the end of the line or a quote, after a scheme kept).
const QUERY_PARAMETER = /([?&;])([A-Za-z][\w.-]*)=([^&#;\s"'<>]+)/g;
// What a header line needs: a hyphenated word, Authorization or Cookie right before a colon.
const HEADER_HINT = /[A-Za-z0-9]-[A-Za-z0-9-]*:|(?:authorization|cookie):/i;
const HEADER_LINE = /(?<![\w-])((?:authorization|cookie)|[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)+)(:[ \t]*(?:(?:basic|bearer|digest|token|negotiate)[ \t]+)?)[^\r\n"']+/gi;
const DEFAULT_IS_SECRET = secretNames(DEFAULT_SECRETS);

/** The values hidden in free text from the start, longest first (as values.py
 *  startup_secret_values): those of secret environment variables and command-line options,
 *  and every URL's password in the environment or on the command line. */
function secretValues(env, isSecret, argv = []) {
  const fs = require('fs');
  const found = [];
  for (const [name, value] of Object.entries(env)) {
    if (isSecret(name)) found.push(value);
    for (const match of value.matchAll(URL_PASSWORD)) found.push(match[1]);
  }
  const { hidden, inline } = secretOptions(argv, isSecret);
  argv.forEach((word, i) => {
    if (hidden.has(i)) found.push(word);
    else if (inline.has(i)) found.push(inline.get(i));
    for (const match of word.matchAll(URL_PASSWORD)) found.push(match[1]);
  });
  const values = found.filter((value) => value.length >= MIN_SCRUBBED
    && !(value.includes('/') && fs.existsSync(value)));
  return [...new Set(values)].sort((a, b) => b.length - a.length);
}

/** Whether `text` may hold a secret shape: most strings do not, and skip the patterns. */
function mayHoldShape(text) {
  return text.length >= 4 && (text.includes('://') || text.includes('eyJ') || text.includes('AKIA')
    || text.includes('ASIA') || text.includes('xox') || /bearer/i.test(text)
    || (text.includes('_') && text.includes('gh'))
    || (text.includes('=') && /[?&;]/.test(text))
    || (text.includes(':') && HEADER_HINT.test(text)));
}

/** `text` with every secret value and secret-shaped word replaced by <redacted>; `isSecret`
 *  judges query parameters' names (default: the default words). */
function scrub(text, values, isSecret = DEFAULT_IS_SECRET) {
  for (const secret of values) if (text.includes(secret)) text = text.split(secret).join(REDACTED);
  if (!mayHoldShape(text)) return text;
  text = text.replace(HEADER_LINE, (whole, name, colon) =>
    (isSecret(name) ? `${name}${colon}${REDACTED}` : whole));
  for (const pattern of TOKEN_PATTERNS) text = text.replace(pattern, REDACTED);
  return text.replace(QUERY_PARAMETER, (whole, separator, name) =>
    (isSecret(name) ? `${separator}${name}=${REDACTED}` : whole));
}

/** Whether the word after a bare `-p` is taken for a password (`sshpass -p`, mysql-style
 *  tools): one holding a digit or a symbol, but not a number or port, a `name:value`
 *  (pytest's `-p no:cacheprovider`), a path or an existing file; a plain name (`-p xdist`)
 *  is not one (values.py is_short_password). */
function isShortPassword(word) {
  return !(word.startsWith('-') || /^\d+$/.test(word) || word.includes('/') || word.includes(':')
    || require('fs').existsSync(word)) && /[^A-Za-z_.-]/.test(word);
}

/** Which command-line words are secret option values: whole words (after --password or a
 *  password-like -p) by index, and the VALUE of --api-key=VALUE by index. */
function secretOptions(argv, isSecret) {
  const hidden = new Set();
  const inline = new Map();
  argv.forEach((word, i) => {
    if (hidden.has(i)) return;
    const option = /^(--?)([A-Za-z][\w.-]*)(=[\s\S]*)?$/.exec(word);
    if (option && isSecret(option[2])) {
      if (option[3] !== undefined) inline.set(i, option[3].slice(1));
      else hidden.add(i + 1);
    } else if (word === '-p' && i + 1 < argv.length && isShortPassword(argv[i + 1])) {
      hidden.add(i + 1);
    }
  });
  return { hidden, inline };
}

/** A command line with secret options' values redacted (--api-key=<redacted>, or the word
 *  after --password or a password-like -p) and secrets scrubbed. */
function redactArgv(argv, isSecret, values) {
  const { hidden, inline } = secretOptions(argv, isSecret);
  return argv.map((word, i) => {
    if (hidden.has(i)) return REDACTED;
    if (inline.has(i)) word = word.slice(0, word.length - inline.get(i).length) + REDACTED;
    return scrub(word, values, isSecret);
  });
}

module.exports = { DEFAULT_SECRETS, REDACTED, secretNames, configuredWords, secretValues, mayHoldShape,
  scrub, redactArgv };
