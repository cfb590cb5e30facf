'use strict';
// Captured values (spec/OTRACE.md section 7): a bounded, exception-safe picture of a JS
// value in wire form. Scalars are written as themselves, anything else as a node
// [kind, type sid, ...]: strings and texts to 200 characters, containers to 50 items,
// depth 2; names that look secret give a redacted node.

const { mayHoldShape, scrub } = require('./secrets');

const MAX_TEXT = 200;
const MAX_ITEMS = 50;
const MAX_DEPTH = 2;
const TEXT = 0, SEQ = 1, MAP = 2, OBJECT = 3, REDACTED = 4, ELIDED = 5, ERROR = 6;
const INT64_MIN = -(2n ** 63n), INT64_MAX = 2n ** 63n - 1n;

class Capturer {
  /** `sid` interns a string; `isSecret` judges names; `secretValues` are hidden in text. */
  constructor(sid, isSecret, secretValues) {
    this.sid = sid;
    this.isSecret = isSecret;
    this.secretValues = secretValues;
  }

  /** Flat pairs [name sid, value, ...] of named values (arguments, locals). */
  pairs(names, values) {
    const out = [];
    for (let i = 0; i < names.length; i++) {
      out.push(this.sid(names[i]), this.named(names[i], values[i], 0));
    }
    return out;
  }

  named(name, value, depth) {
    return this.isSecret(name) ? [REDACTED, this.sid(typeName(value))] : this.value(value, depth);
  }

  value(value, depth = 0) {
    switch (typeof value) {
      case 'undefined': return null;
      case 'boolean': return value;
      case 'number':
        if (Number.isFinite(value)) return value;
        return [TEXT, this.sid('number'), String(value)];
      case 'bigint':
        return value >= INT64_MIN && value <= INT64_MAX ? value : this.text('bigint', `${value}n`);
      case 'string': return this.string(value);
      case 'symbol': return this.text('symbol', safeString(value));
      case 'function': return this.text('function', `[Function: ${value.name || 'anonymous'}]`);
      default: break;
    }
    if (value === null) return [TEXT, this.sid('null'), 'null'];
    try {
      return this.object(value, depth);
    } catch (err) {
      return [ERROR, this.sid(typeName(value)), safeString(err && err.message)];
    }
  }

  string(value) {
    const clean = this.secretValues.length || mayHoldShape(value)
      ? scrub(value, this.secretValues, this.isSecret) : value;
    if (clean.length <= MAX_TEXT) return clean;
    return [TEXT, this.sid('string'), clean.slice(0, MAX_TEXT), clean.length];
  }

  text(type, text) {
    return text.length <= MAX_TEXT ? [TEXT, this.sid(type), text]
      : [TEXT, this.sid(type), text.slice(0, MAX_TEXT), text.length];
  }

  object(value, depth) {
    const type = this.sid(typeName(value));
    if (value instanceof Error) {
      return [OBJECT, type, [this.sid('message'), this.string(String(value.message))]];
    }
    if (value instanceof Date) return [TEXT, type, safeString(value)];
    if (value instanceof RegExp) return [TEXT, type, String(value)];
    if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
      if (depth >= MAX_DEPTH) return [ELIDED, type, value.length];
      const items = Array.from(value.subarray(0, MAX_ITEMS), (x) => (typeof x === 'bigint' ? this.value(x) : x));
      return value.length > MAX_ITEMS ? [SEQ, type, items, value.length] : [SEQ, type, items];
    }
    if (typeof value.then === 'function') return [TEXT, type, typeName(value)];
    if (Array.isArray(value) || value instanceof Set) {
      const length = Array.isArray(value) ? value.length : value.size;
      if (depth >= MAX_DEPTH) return [ELIDED, type, length];
      const items = [];
      for (const item of value) {
        if (items.length === MAX_ITEMS) break;
        items.push(this.value(item, depth + 1));
      }
      return length > MAX_ITEMS ? [SEQ, type, items, length] : [SEQ, type, items];
    }
    if (value instanceof Map) {
      if (depth >= MAX_DEPTH) return [ELIDED, type, value.size];
      const entries = [];
      let count = 0;
      for (const [k, v] of value) {
        if (count++ === MAX_ITEMS) break;
        entries.push(this.value(k, depth + 1),
          typeof k === 'string' ? this.named(k, v, depth + 1) : this.value(v, depth + 1));
      }
      return value.size > MAX_ITEMS ? [MAP, type, entries, value.size] : [MAP, type, entries];
    }
    const keys = Object.keys(value);
    if (depth >= MAX_DEPTH) return [ELIDED, type, keys.length];
    const fields = [];
    const shown = keys.length > MAX_ITEMS ? MAX_ITEMS : keys.length;
    for (let i = 0; i < shown; i++) {
      // Own properties are data in all but rare objects (getters live on prototypes); a
      // getter that throws makes the whole value an error node.
      fields.push(this.sid(keys[i]), this.named(keys[i], value[keys[i]], depth + 1));
    }
    return keys.length > MAX_ITEMS ? [OBJECT, type, fields, keys.length] : [OBJECT, type, fields];
  }
}

/** The name people know a value's type by: the constructor's, or typeof's. */
function typeName(value) {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  try {
    const proto = Object.getPrototypeOf(value);
    if (proto === null) return 'Object';
    const ctor = proto.constructor;
    return typeof ctor === 'function' && typeof ctor.name === 'string' && ctor.name ? ctor.name : 'Object';
  } catch {
    return 'Object';
  }
}

function safeString(value) {
  try {
    return String(value);
  } catch {
    return '<unprintable>';
  }
}

module.exports = { Capturer, typeName, safeString };
