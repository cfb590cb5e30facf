/* Byte buffers, a msgpack encoder, crc32, XXH64 and raw-block zstd frames.
 *
 * Everything here is pure computation on caller-owned memory: no allocation, no locks,
 * so the crash path can use it from a signal handler. */
#ifndef ORION_BUF_H
#define ORION_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct obuf {
    uint8_t *p;
    size_t len, cap;
    int overflow; /* a write did not fit: the buffer's content must not be used */
};

/* Writers past the end are dropped silently and mark the buffer as overflowed; callers
 * size buffers so that this never happens for a well-formed record. */
static inline void ob_put(struct obuf *b, const void *src, size_t n) {
    if (b->len + n > b->cap) { b->overflow = 1; return; }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}
static inline void ob_byte(struct obuf *b, uint8_t v) {
    if (b->len < b->cap) b->p[b->len++] = v; else b->overflow = 1;
}
static inline void ob_be(struct obuf *b, uint8_t tag, uint64_t v, int n) {
    uint8_t tmp[9];
    tmp[0] = tag;
    for (int i = 0; i < n; i++) tmp[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    ob_put(b, tmp, (size_t)n + 1);
}

/* -- msgpack ------------------------------------------------------------------------ */
static inline void mp_uint(struct obuf *b, uint64_t v) {
    if (v < 128) ob_byte(b, (uint8_t)v);
    else if (v < 0x100) ob_be(b, 0xcc, v, 1);
    else if (v < 0x10000) ob_be(b, 0xcd, v, 2);
    else if (v < 0x100000000ull) ob_be(b, 0xce, v, 4);
    else ob_be(b, 0xcf, v, 8);
}
static inline void mp_int(struct obuf *b, int64_t v) {
    if (v >= 0) { mp_uint(b, (uint64_t)v); return; }
    if (v >= -32) ob_byte(b, (uint8_t)(int8_t)v);
    else if (v >= -128) ob_be(b, 0xd0, (uint8_t)v, 1);
    else if (v >= -32768) ob_be(b, 0xd1, (uint16_t)v, 2);
    else if (v >= INT32_MIN) ob_be(b, 0xd2, (uint32_t)v, 4);
    else ob_be(b, 0xd3, (uint64_t)v, 8);
}
static inline void mp_nil(struct obuf *b) { ob_byte(b, 0xc0); }
static inline void mp_bool(struct obuf *b, int v) { ob_byte(b, v ? 0xc3 : 0xc2); }
static inline void mp_array(struct obuf *b, uint32_t n) {
    if (n < 16) ob_byte(b, (uint8_t)(0x90 | n));
    else if (n < 0x10000) ob_be(b, 0xdc, n, 2);
    else ob_be(b, 0xdd, n, 4);
}
static inline void mp_map(struct obuf *b, uint32_t n) {
    if (n < 16) ob_byte(b, (uint8_t)(0x80 | n));
    else if (n < 0x10000) ob_be(b, 0xde, n, 2);
    else ob_be(b, 0xdf, n, 4);
}
static inline void mp_strn(struct obuf *b, const char *s, size_t n) {
    if (n < 32) ob_byte(b, (uint8_t)(0xa0 | n));
    else if (n < 0x100) ob_be(b, 0xd9, n, 1);
    else if (n < 0x10000) ob_be(b, 0xda, n, 2);
    else ob_be(b, 0xdb, n, 4);
    ob_put(b, s, n);
}
static inline void mp_str(struct obuf *b, const char *s) {
    if (s) mp_strn(b, s, strlen(s)); else mp_nil(b);
}
static inline void mp_bin(struct obuf *b, const void *p, size_t n) {
    if (n < 0x100) ob_be(b, 0xc4, n, 1);
    else if (n < 0x10000) ob_be(b, 0xc5, n, 2);
    else ob_be(b, 0xc6, n, 4);
    ob_put(b, p, n);
}

/* -- checksums and frames (frame.c) ---------------------------------------------------- */
uint32_t orion_crc32(uint32_t crc, const void *data, size_t n);
uint64_t orion_xxh64(const void *data, size_t n, uint64_t seed);
/* A zstd frame of raw blocks holding `n` bytes, with content size and checksum: valid zstd
 * that needs no compressor. Returns the frame size written to `out` (0 if it does not fit). */
size_t orion_raw_frame(uint8_t *out, size_t cap, const uint8_t *src, size_t n);
size_t orion_raw_frame_bound(size_t n);
/* A zstd skippable frame (magic 0x184D2A5A) around `n` payload bytes. */
size_t orion_skippable(uint8_t *out, size_t cap, const void *payload, size_t n);
/* Lowercase hex of `v` into `out` (no prefix); returns its length. Signal-safe. */
size_t orion_hex(char *out, uint64_t v);

#endif
