/* zstd compression through libzstd.so.1, loaded at run time.
 *
 * The agent needs no zstd headers or library to build: it declares the few functions of
 * zstd's stable API it uses and looks them up with dlopen/dlsym when it starts. Where the
 * library is missing, callers write raw-block frames (orion_raw_frame): valid zstd, larger. */
#ifndef ORION_COMPRESS_H
#define ORION_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

struct orion_zstd;

/* A compressor at `level` with content size and checksum in every frame, or NULL when
 * the library cannot be loaded. ORION_ZSTD_LIBRARY names another file to load than
 * libzstd.so.1 (a path, or "none" to write raw blocks). */
struct orion_zstd *orion_zstd_open(int level);
/* Compress `n` bytes into one zstd frame; its size, or 0 when it failed or did not fit. */
size_t orion_zstd_compress(struct orion_zstd *z, uint8_t *out, size_t cap,
                           const uint8_t *src, size_t n);
/* Free a compressor orion_zstd_open made (one is used by one thread at a time). */
void orion_zstd_close(struct orion_zstd *z);
/* The largest frame orion_zstd_compress can make of `n` bytes (zstd's ZSTD_COMPRESSBOUND). */
size_t orion_zstd_bound(size_t n);

#endif
