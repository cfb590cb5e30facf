'use strict';
// A CommonJS program whose promise chain rejects in its first tick: Node's report of the
// unhandled rejection must be what it is without orion (no frame of Node's tick loop).

async function lookup(id) {
  await null;
  throw new RangeError(`no row ${id}`);
}

async function main() {
  await lookup(7);
}

main();
