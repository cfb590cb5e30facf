'use strict';
// One zstd frame per batch of records. Node 22.15+ has zstd in zlib; older runtimes use the
// zstd WebAssembly build (@bokuweb/zstd-wasm), instantiated synchronously so that a trace
// can be written from an `exit` handler; without either, a frame of raw blocks (valid
// zstd, uncompressed) is written.

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const FRAME_MAGIC = 0xfd2fb528;
const MAX_BLOCK = 128 * 1024;

let compressor;

/** A function compressing one batch into one zstd frame that declares its content size. */
function frameCompressor() {
  if (compressor === undefined) compressor = pickCompressor(process.env.ORION_ZSTD_LEVEL);
  return compressor;
}

function pickCompressor(levelText) {
  const level = Number.parseInt(levelText || '3', 10) || 3;
  if (typeof zlib.zstdCompressSync === 'function') {
    const { ZSTD_c_compressionLevel, ZSTD_c_checksumFlag } = zlib.constants;
    return (data) => zlib.zstdCompressSync(data, {
      pledgedSrcSize: data.length,
      params: { [ZSTD_c_compressionLevel]: level, [ZSTD_c_checksumFlag]: 1 },
    });
  }
  try {
    const wasm = loadWasm();
    return (data) => Buffer.from(wasm.compress(data, level));
  } catch {
    return rawFrame;
  }
}

function loadWasm() {
  const entry = require.resolve('@bokuweb/zstd-wasm');
  const dist = path.dirname(entry);
  const { Module } = require(path.join(dist, 'module.js'));
  if (!Module.calledRun) {
    const bytes = fs.readFileSync(path.join(dist, 'zstd.wasm'));
    Module.instantiateWasm = (imports, receive) => {
      const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), imports);
      receive(instance);
      return instance.exports;
    };
    Module.init();
  }
  if (!Module.calledRun) throw new Error('zstd-wasm did not start');
  return require(entry);
}

/** A zstd frame of raw blocks: single segment, 8-byte content size, no checksum. */
function rawFrame(data) {
  const blocks = Math.max(1, Math.ceil(data.length / MAX_BLOCK));
  const out = Buffer.alloc(4 + 1 + 8 + blocks * 3 + data.length);
  out.writeUInt32LE(FRAME_MAGIC, 0);
  out[4] = 0xe0; // content size field of 8 bytes, single segment
  out.writeBigUInt64LE(BigInt(data.length), 5);
  let at = 13;
  for (let i = 0; i < blocks; i++) {
    const chunk = data.subarray(i * MAX_BLOCK, (i + 1) * MAX_BLOCK);
    const header = (i === blocks - 1 ? 1 : 0) | (chunk.length << 3); // raw block type 0
    out[at] = header & 0xff;
    out[at + 1] = (header >> 8) & 0xff;
    out[at + 2] = (header >> 16) & 0xff;
    out.set(chunk, at + 3); // `data` may be a plain Uint8Array (shared memory): no .copy
    at += 3 + chunk.length;
  }
  return out;
}

module.exports = { frameCompressor, rawFrame };
