'use strict';
// Load-time source rewriting: every function, method, arrow function and async function of
// a module reports its calls, returns, unwinds and caught exceptions to the agent
// (globalThis.__orion). Text is only inserted, never moved, and never a line break, so
// every line keeps its number and a stack trace points at the line the user wrote.
//
//   function f(a) {BODY}  ->  function f(a) {const __o=__orion.enter(__orion_fns[0],[a]);try{BODY
//                             ;__orion.ret(__o,undefined)}finally{__orion.leave(__o)}}
//   return X              ->  return __orion.ret(__o,X)
//   await X (async)       ->  __orion.resume(__o,await __orion.pause(__o,X))
//   catch (e) {           ->  catch (e) {__orion.caught(__o,e);  (__orion.none: a pattern or no binding)
//   x => X                ->  x => {const __o=...;try{return __orion.ret(__o,X)}finally{...}}
//
// A frame left without a return is unwound by an exception. There is no catch-and-rethrow:
// a `throw` of ours would become the place Node reports an uncaught exception at.
// Generators are left alone (their body runs a piece per next()).

const acorn = require('acorn');
const MagicString = require('magic-string');

const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);

/** The instrumented source of a module, or null when it cannot be parsed (then it runs as
 *  written). `file` names the module in the trace, `location` (its path or URL, as stack
 *  traces name it) the source in the inline source map; `sourceType` is module, script or
 *  unambiguous. */
function instrument(source, file, sourceType, location = file, options = {}) {
  const rewritten = rewrite(source, file, sourceType, location, options);
  return rewritten === null ? null : rewritten.code;
}

/** instrument(), with where text was inserted: `insertions` maps a line (1-based) to its
 *  [column, length] pairs (0-based columns of the source as written, in order), so that a
 *  column of the instrumented line can be turned back into the one the user wrote.
 *  `options.conciseArrows: false` leaves arrow functions without a block body (`x => x.id`)
 *  as written: error mode's choice, as they are the most frequent calls (callbacks of find,
 *  map, filter, which V8 inlines unless instrumented) and the least telling in a ring. */
function rewrite(source, file, sourceType, location = file, { conciseArrows = true } = {}) {
  let ast;
  try {
    ast = parse(source, sourceType);
  } catch {
    return null;
  }
  const out = new TrackedString(source);
  const functions = [];
  walk(ast, null, (node, parent, ancestors) => {
    const concise = node.type === 'ArrowFunctionExpression' && node.body.type !== 'BlockStatement';
    if (FUNCTION_TYPES.has(node.type) && !node.generator && (conciseArrows || !concise)) {
      rewriteFunction(node, parent, ancestors, out, functions, source);
    }
  });
  if (functions.length === 0 || source.includes('__orion_fns=__orion.define(')) return null;
  const table = JSON.stringify(functions);
  const prologue = `;var __orion_fns=__orion.define(${JSON.stringify(file)},${table});`; // ';': a directive may lack its own
  out.appendLeft(prologueOffset(ast, source), prologue);
  const map = out.generateMap({ hires: true, source: location, includeContent: true });
  const inline = Buffer.from(map.toString()).toString('base64');
  return { code: `${out.toString()}\n//# sourceMappingURL=data:application/json;base64,${inline}`,
    insertions: out.insertions() };
}

/** A MagicString that remembers the offsets and lengths of the text inserted into it. */
class TrackedString extends MagicString {
  constructor(source) {
    super(source);
    this.source = source;
    this.inserted = new Map(); // offset -> length inserted there
  }

  appendLeft(offset, text) {
    this.inserted.set(offset, (this.inserted.get(offset) || 0) + text.length);
    return super.appendLeft(offset, text);
  }

  prependRight(offset, text) {
    this.inserted.set(offset, (this.inserted.get(offset) || 0) + text.length);
    return super.prependRight(offset, text);
  }

  /** {line: [[column, length], ...]} of what was inserted, columns in order. */
  insertions() {
    const byLine = {};
    let line = 1, lineStart = 0, next = this.source.indexOf('\n');
    for (const offset of [...this.inserted.keys()].sort((a, b) => a - b)) {
      while (next !== -1 && next < offset) {
        line++;
        lineStart = next + 1;
        next = this.source.indexOf('\n', lineStart);
      }
      (byLine[line] ||= []).push([offset - lineStart, this.inserted.get(offset)]);
    }
    return byLine;
  }
}

/** `sourceType` is script, module, or unambiguous (a script, else a module: what a
 *  transform such as babel-jest accepts). */
function parse(source, sourceType) {
  if (sourceType === 'unambiguous') {
    try {
      return parse(source, 'script');
    } catch {
      return parse(source, 'module');
    }
  }
  const options = { ecmaVersion: 'latest', sourceType, locations: true, allowHashBang: true,
    allowReturnOutsideFunction: sourceType === 'script', allowAwaitOutsideFunction: sourceType === 'module',
    preserveParens: true };
  return acorn.parse(source, options);
}

/** The offset after a body's directives ('use strict' must stay first to count). */
function afterDirectives(statements, start) {
  let at = start;
  for (const statement of statements) {
    if (statement.type === 'ExpressionStatement' && statement.directive !== undefined) at = statement.end;
    else break;
  }
  return at;
}

/** Where the function table goes: after the directives ('use strict' stays first) and the
 *  hashbang, on a line that exists already. */
function prologueOffset(ast, source) {
  const at = afterDirectives(ast.body, 0);
  if (at === 0 && source.startsWith('#!')) {
    const newline = source.indexOf('\n');
    return newline === -1 ? source.length : newline + 1;
  }
  return at;
}

function rewriteFunction(node, parent, ancestors, out, functions, source) {
  const index = functions.length;
  const names = [];
  for (const param of node.params) boundNames(param, names);
  functions.push([functionName(node, parent, ancestors), node.loc.start.line, names]);
  const args = `[${names.join(',')}]`;
  const enter = `;const __o=__orion.enter((__orion_fns||__orion.none)[${index}],${args}${node.async ? ',1' : ''});try{`;
  const tail = 'finally{__orion.leave(__o)}';
  if (node.body.type === 'BlockStatement') {
    const body = node.body;
    out.appendLeft(afterDirectives(body.body, body.start + 1), enter);
    out.prependRight(body.end - 1, `;__orion.ret(__o,undefined)}${tail}`);
  } else {
    out.appendLeft(node.body.start, `{${enter}return __orion.ret(__o,`);
    out.prependRight(node.body.end, `)}${tail}}`);
  }
  rewriteBody(node, out);
}

/** Returns, awaits and catch clauses of this function (not of the functions it holds). */
function rewriteBody(fn, out) {
  walk(fn.body, fn, (node) => {
    if (node !== fn.body && FUNCTION_TYPES.has(node.type)) return false;
    if (node.type === 'ReturnStatement' && node.argument) {
      out.appendLeft(node.argument.start, ' __orion.ret(__o,'); // ' ': `return(x)` has none
      out.prependRight(node.argument.end, ')');
    } else if (node.type === 'AwaitExpression' && fn.async) {
      out.appendLeft(node.start, '__orion.resume(__o,');
      out.appendLeft(node.argument.start, '__orion.pause(__o,');
      out.prependRight(node.argument.end, ')');
      out.prependRight(node.end, ')');
    } else if (node.type === 'CatchClause') {
      const error = node.param && node.param.type === 'Identifier' ? node.param.name : '__orion.none';
      out.appendLeft(node.body.start + 1, `__orion.caught(__o,${error});`);
    } else if (node.type === 'TryStatement' && node.finalizer && fn.async) {
      out.appendLeft(node.finalizer.start + 1, '__orion.resume(__o);');
    }
    return true;
  });
}

function boundNames(pattern, names) {
  switch (pattern.type) {
    case 'Identifier': names.push(pattern.name); break;
    case 'AssignmentPattern': boundNames(pattern.left, names); break;
    case 'RestElement': boundNames(pattern.argument, names); break;
    case 'ArrayPattern': for (const element of pattern.elements) if (element) boundNames(element, names); break;
    case 'ObjectPattern':
      for (const property of pattern.properties) boundNames(property.type === 'RestElement' ? property : property.value, names);
      break;
    default: break;
  }
}

/** The name a stack trace would give: its own, the variable or property it is assigned
 *  to, Class.method for methods. */
function functionName(node, parent, ancestors) {
  if (node.id) return node.id.name;
  if (!parent) return '<anonymous>';
  const key = (k) => (k.type === 'Identifier' ? k.name : k.type === 'Literal' ? String(k.value)
    : k.type === 'PrivateIdentifier' ? `#${k.name}` : '<computed>');
  if (parent.type === 'MethodDefinition' || parent.type === 'PropertyDefinition') {
    const klass = ancestors[ancestors.length - 3];
    const owner = klass && klass.id ? `${klass.id.name}.` : '';
    const name = parent.kind === 'constructor' ? 'constructor' : key(parent.key);
    return `${owner}${parent.kind === 'get' || parent.kind === 'set' ? `${parent.kind} ` : ''}${name}`;
  }
  if (parent.type === 'Property') return `${parent.kind === 'init' ? '' : `${parent.kind} `}${key(parent.key)}`;
  if (parent.type === 'VariableDeclarator' && parent.id.type === 'Identifier') return parent.id.name;
  if (parent.type === 'AssignmentExpression') {
    const left = parent.left;
    if (left.type === 'Identifier') return left.name;
    if (left.type === 'MemberExpression') return key(left.property);
  }
  return '<anonymous>';
}

/** Depth-first walk; `visit(node, parent, ancestors)` returning false skips the children. */
function walk(root, rootParent, visit) {
  const ancestors = [];
  const step = (node, parent) => {
    if (visit(node, parent, ancestors) === false) return;
    ancestors.push(node);
    for (const key of Object.keys(node)) {
      if (key === 'loc' || key === 'type') continue;
      const child = node[key];
      if (Array.isArray(child)) {
        for (const item of child) if (item && typeof item.type === 'string') step(item, node);
      } else if (child && typeof child.type === 'string') {
        step(child, node);
      }
    }
    ancestors.pop();
  };
  step(root, rootParent);
}

module.exports = { instrument, rewrite };
