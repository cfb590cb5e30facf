/* Known answers for crc32 and XXH64, and the layout of a raw-block frame. */
#include <stdio.h>
#include <string.h>
#include "buf.h"

static int failures;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(void) {
    CHECK(orion_crc32(0, "123456789", 9) == 0xCBF43926u);
    CHECK(orion_xxh64("", 0, 0) == 0xEF46DB3751D8E999ull);
    CHECK(orion_xxh64("abc", 3, 0) == 0x44BC2CF5AD770999ull);
    static uint8_t big[300000], out[400000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i * 7);
    size_t n = orion_raw_frame(out, sizeof out, big, sizeof big);
    CHECK(n == orion_raw_frame_bound(sizeof big));
    CHECK(out[0] == 0x28 && out[3] == 0xFD && out[4] == 0xE4);
    uint64_t size = 0;
    for (int i = 0; i < 8; i++) size |= (uint64_t)out[5 + i] << (8 * i);
    CHECK(size == sizeof big);
    uint8_t buf[64];
    struct obuf b = {buf, 0, sizeof buf, 0};
    mp_array(&b, 3); mp_uint(&b, 300); mp_int(&b, -5); mp_str(&b, "hi");
    const uint8_t expected[] = {0x93, 0xcd, 0x01, 0x2c, 0xfb, 0xa2, 'h', 'i'};
    CHECK(b.len == sizeof expected && !memcmp(buf, expected, sizeof expected));
    struct obuf small = {buf, 0, 2, 0};
    mp_str(&small, "too long");
    CHECK(small.overflow);
    if (!failures) printf("ok\n");
    return failures != 0;
}
