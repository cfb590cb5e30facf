// The OpenTelemetry JS comparison: the same load-time instrumentation as the Orionis
// agent (agents/node/lib/instrument.js), but each call opens one manual span
// (tracer.startSpan with its caller's span as parent) and ends it, through a
// BasicTracerProvider whose exporter drops everything. Loaded with --require.

const Module = require('module');
const path = require('path');
const { trace, context, ROOT_CONTEXT } = require('@opentelemetry/api');
const { BasicTracerProvider, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { instrument } = require('../../agents/node/lib/instrument');

const noopExporter = { export(spans, done) { done({ code: 0 }); }, shutdown() { return Promise.resolve(); } };
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(noopExporter)] });
if (typeof provider.addSpanProcessor === 'function') provider.addSpanProcessor(new SimpleSpanProcessor(noopExporter));
const tracer = provider.getTracer('bench');
const stack = [];

globalThis.__orion = {
  none: [],
  define: (file, table) => table.map(([name]) => ({ name })),
  enter(fn) {
    const parent = stack[stack.length - 1];
    const ctx = parent ? trace.setSpan(ROOT_CONTEXT, parent) : context.active();
    const span = tracer.startSpan(fn.name, undefined, ctx);
    stack.push(span);
    return span;
  },
  ret(span, value) { this.leave(span); return value; },
  leave(span) {
    if (span.ended) return;
    span.ended = true;
    span.end();
    if (stack[stack.length - 1] === span) stack.pop();
  },
  caught() {},
  pause(span, value) { return value; },
  resume(span, value) { return value; },
};

const root = process.cwd();
const compile = Module.prototype._compile;
Module.prototype._compile = function compileWithSpans(content, filename, ...rest) {
  if (filename.startsWith(path.join(root, 'workloads'))) {
    content = instrument(content, path.relative(root, filename), 'script', filename) || content;
  }
  return compile.call(this, content, filename, ...rest);
};
