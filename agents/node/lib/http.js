'use strict';
// W3C traceparent at HTTP boundaries: each request a node:http server receives and each
// request node:http/https or fetch (undici) sends is recorded as an event, and requests
// sent get a `traceparent` naming this trace (spec 8: in 1.0 the span id names the
// process) unless they carry one already. Servers and fetch are seen through Node's
// diagnostics channels; http/https requests through their `request` and `get` (Node 20's
// client channel fires after http.get has already sent the headers).

const diagnostics = require('diagnostics_channel');

function watchHttp(agent) {
  const traceparent = `00-${agent.traceId}-${agent.spanId}-01`;
  diagnostics.subscribe('http.server.request.start', ({ request }) => {
    // rawHeaders: `request.headers` is built when first read, which a handler may never do
    agent.event('http.server', { method: request.method, url: request.url,
      traceparent: findHeader(request.rawHeaders, 'traceparent') });
  });
  for (const module of [require('http'), require('https')]) {
    const send = module.request;
    module.request = function request(...args) {
      const outgoing = Reflect.apply(send, this, args);
      let sent = outgoing.getHeader('traceparent');
      if (sent === undefined && !outgoing.headersSent) {
        outgoing.setHeader('traceparent', traceparent);
        sent = traceparent;
      }
      agent.event('http.client', { method: outgoing.method, host: outgoing.host || null, path: outgoing.path,
        traceparent: sent === undefined ? null : String(sent) });
      return outgoing;
    };
    module.get = function get(...args) {
      const outgoing = module.request(...args);
      outgoing.end();
      return outgoing;
    };
  }
  diagnostics.subscribe('undici:request:create', ({ request }) => {
    const sent = findHeader(request.headers, 'traceparent');
    if (sent === null) request.addHeader('traceparent', traceparent);
    agent.event('http.client', { method: request.method, host: request.origin ? String(request.origin) : null,
      path: request.path, traceparent: sent === null ? traceparent : sent });
  });
}

/** A header of undici's request or of Node's rawHeaders: a flat [name, value, ...] array
 *  or a "name: value\r\n" string. */
function findHeader(headers, name) {
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const key = String(headers[i]);
      if (key.length === name.length && key.toLowerCase() === name) return String(headers[i + 1]);
    }
    return null;
  }
  const match = new RegExp(`(?:^|\\r\\n)${name}:\\s*([^\\r\\n]*)`, 'i').exec(String(headers || ''));
  return match ? match[1] : null;
}

module.exports = { watchHttp };
