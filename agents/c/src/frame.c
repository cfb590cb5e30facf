/* crc32 (zlib's), XXH64 and raw-block zstd frames: the parts of the format the crash path
 * needs without calling into libzstd. */
#include "buf.h"

static uint32_t crc_table[256];
static int crc_ready;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    __atomic_store_n(&crc_ready, 1, __ATOMIC_RELEASE);
}

uint32_t orion_crc32(uint32_t crc, const void *data, size_t n) {
    if (!__atomic_load_n(&crc_ready, __ATOMIC_ACQUIRE)) crc_init();
    const uint8_t *p = data;
    crc = ~crc;
    while (n--) crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

#define P1 11400714785074694791ULL
#define P2 14029467366897019727ULL
#define P3 1609587929392839161ULL
#define P4 9650029242287828579ULL
#define P5 2870177450012600261ULL

static inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static inline uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t round64(uint64_t acc, uint64_t in) {
    acc += in * P2;
    acc = rotl(acc, 31);
    return acc * P1;
}
static inline uint64_t merge64(uint64_t acc, uint64_t v) {
    acc ^= round64(0, v);
    return acc * P1 + P4;
}

uint64_t orion_xxh64(const void *data, size_t n, uint64_t seed) {
    const uint8_t *p = data, *end = p + n;
    uint64_t h;
    if (n >= 32) {
        uint64_t v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
        const uint8_t *limit = end - 32;
        do {
            v1 = round64(v1, rd64(p)); v2 = round64(v2, rd64(p + 8));
            v3 = round64(v3, rd64(p + 16)); v4 = round64(v4, rd64(p + 24));
            p += 32;
        } while (p <= limit);
        h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
        h = merge64(h, v1); h = merge64(h, v2); h = merge64(h, v3); h = merge64(h, v4);
    } else {
        h = seed + P5;
    }
    h += (uint64_t)n;
    while (p + 8 <= end) { h ^= round64(0, rd64(p)); h = rotl(h, 27) * P1 + P4; p += 8; }
    if (p + 4 <= end) { h ^= (uint64_t)rd32(p) * P1; h = rotl(h, 23) * P2 + P3; p += 4; }
    while (p < end) { h ^= (*p++) * P5; h = rotl(h, 11) * P1; }
    h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32;
    return h;
}

#define RAW_BLOCK_MAX (128 * 1024)

size_t orion_raw_frame_bound(size_t n) { return 4 + 1 + 8 + 3 * (n / RAW_BLOCK_MAX + 1) + n + 4; }

size_t orion_raw_frame(uint8_t *out, size_t cap, const uint8_t *src, size_t n) {
    if (orion_raw_frame_bound(n) > cap) return 0;
    size_t o = 0;
    static const uint8_t magic[4] = {0x28, 0xB5, 0x2F, 0xFD};
    memcpy(out, magic, 4); o = 4;
    out[o++] = 0xE4; /* 8-byte content size, single segment, checksum, no dictionary */
    for (int i = 0; i < 8; i++) out[o++] = (uint8_t)((uint64_t)n >> (8 * i));
    size_t done = 0;
    do {
        size_t part = n - done > RAW_BLOCK_MAX ? RAW_BLOCK_MAX : n - done;
        uint32_t last = done + part == n;
        uint32_t header = last | (0u << 1) | (uint32_t)(part << 3);
        out[o++] = (uint8_t)header; out[o++] = (uint8_t)(header >> 8); out[o++] = (uint8_t)(header >> 16);
        memcpy(out + o, src + done, part);
        o += part; done += part;
    } while (done < n);
    uint32_t sum = (uint32_t)orion_xxh64(src, n, 0);
    for (int i = 0; i < 4; i++) out[o++] = (uint8_t)(sum >> (8 * i));
    return o;
}

size_t orion_skippable(uint8_t *out, size_t cap, const void *payload, size_t n) {
    if (n + 8 > cap) return 0;
    static const uint8_t magic[4] = {0x5A, 0x2A, 0x4D, 0x18};
    memcpy(out, magic, 4);
    for (int i = 0; i < 4; i++) out[4 + i] = (uint8_t)((uint32_t)n >> (8 * i));
    memcpy(out + 8, payload, n);
    return n + 8;
}

size_t orion_hex(char *out, uint64_t v) {
    char tmp[16];
    size_t n = 0;
    do { tmp[n++] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
    for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    return n;
}
