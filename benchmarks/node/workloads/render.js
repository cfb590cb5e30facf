// Realistic: a plain node:http handler that loads an order, prices it and renders JSON,
// called over keep-alive HTTP by a client in the same process. Prints {"ms", "cpu" (the
// process's CPU time over the same span, every thread), "rss"}.
const http = require('node:http');

const CATALOG = Array.from({ length: 50 }, (_, i) => ({ sku: `sku-${i}`, name: `Item ${i}`, cents: 199 + i * 37 }));

function loadOrder(id) {
  const lines = [];
  for (let i = 0; i < 8; i++) lines.push({ sku: CATALOG[(id * 7 + i) % CATALOG.length].sku, qty: 1 + ((id + i) % 3) });
  return { id, customer: { name: `customer ${id % 97}`, tier: id % 5 === 0 ? 'gold' : 'basic' }, lines };
}

function findItem(sku) { return CATALOG.find((item) => item.sku === sku); }

function priceLine(line) {
  const item = findItem(line.sku);
  return { ...line, name: item.name, total: item.cents * line.qty };
}

function discount(customer, subtotal) { return customer.tier === 'gold' ? Math.round(subtotal * 0.1) : 0; }

function formatCents(cents) { return `$${(cents / 100).toFixed(2)}`; }

function renderOrder(order) {
  const lines = order.lines.map(priceLine);
  const subtotal = lines.reduce((sum, line) => sum + line.total, 0);
  const off = discount(order.customer, subtotal);
  return JSON.stringify({
    id: order.id, customer: order.customer.name,
    lines: lines.map((line) => ({ name: line.name, qty: line.qty, total: formatCents(line.total) })),
    subtotal: formatCents(subtotal), discount: formatCents(off), total: formatCents(subtotal - off),
  });
}

function handle(req, res) {
  const id = Number(new URL(req.url, 'http://x').searchParams.get('id'));
  const body = renderOrder(loadOrder(id));
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function get(agent, port, id) {
  return new Promise((resolve, reject) => {
    http.get({ port, path: `/order?id=${id}`, agent }, (res) => {
      let size = 0;
      res.on('data', (chunk) => { size += chunk.length; });
      res.on('end', () => resolve(size));
    }).on('error', reject);
  });
}

async function main(requests) {
  const server = http.createServer(handle);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const { port } = server.address();
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  let bytes = 0;
  for (let i = 0; i < requests; i += 8) {
    const sizes = await Promise.all(Array.from({ length: 8 }, (_, k) => get(agent, port, i + k)));
    bytes += sizes.reduce((a, b) => a + b, 0);
  }
  const ms = performance.now() - start;
  const { user, system } = process.cpuUsage(cpuStart);
  agent.destroy();
  server.close();
  process.stdout.write(`${JSON.stringify({ bytes, ms, cpu: (user + system) / 1000, rss: process.resourceUsage().maxRSS })}\n`);
}

main(Number(process.argv[2] || 2000));
