// A node:http server called by node:http and by fetch: each request an event, and the
// requests sent carry a traceparent naming this trace.
const http = require('node:http');

function handle(req, res) {
  res.end(JSON.stringify({ path: req.url, traceparent: req.headers.traceparent || null }));
}

function getWithHttp(port) {
  return new Promise((resolve) => {
    http.get({ port, path: '/via-http' }, (res) => {
      let body = '';
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => resolve(JSON.parse(body)));
    });
  });
}

async function main() {
  const server = http.createServer(handle);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const viaHttp = await getWithHttp(port);
  const viaFetch = await (await fetch(`http://127.0.0.1:${port}/via-fetch`)).json();
  server.close();
  const carried = (reply) => (reply.traceparent ? 'traceparent' : 'none');
  console.log(viaHttp.path, carried(viaHttp), viaFetch.path, carried(viaFetch));
}

main();
