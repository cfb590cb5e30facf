/* zstd compression through libzstd.so.1 loaded at run time (see compress.h): the agent
 * builds with a C compiler alone, and every Linux with systemd has the library. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"

/* The parts of zstd's stable API (zstd.h, v1.4.0 and later) the agent calls. */
typedef struct ZSTD_CCtx_s ZSTD_CCtx;
enum { ZSTD_c_compressionLevel = 100, ZSTD_c_contentSizeFlag = 200, ZSTD_c_checksumFlag = 201 };

struct orion_zstd {
    void *lib;
    ZSTD_CCtx *cctx;
    size_t (*compress2)(ZSTD_CCtx *, void *, size_t, const void *, size_t);
    unsigned (*is_error)(size_t);
    size_t (*free_cctx)(ZSTD_CCtx *);
};

struct orion_zstd *orion_zstd_open(int level) {
    const char *name = getenv("ORION_ZSTD_LIBRARY");
    if (!name || !*name) name = "libzstd.so.1";
    if (!strcmp(name, "none")) return NULL;
    void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!lib) return NULL;
    ZSTD_CCtx *(*create)(void) = (ZSTD_CCtx *(*)(void))dlsym(lib, "ZSTD_createCCtx");
    size_t (*set)(ZSTD_CCtx *, int, int) =
        (size_t (*)(ZSTD_CCtx *, int, int))dlsym(lib, "ZSTD_CCtx_setParameter");
    struct orion_zstd *z = calloc(1, sizeof *z);
    if (!z) {
        dlclose(lib);
        return NULL;
    }
    z->lib = lib;
    z->compress2 = (size_t (*)(ZSTD_CCtx *, void *, size_t, const void *, size_t))
        dlsym(lib, "ZSTD_compress2");
    z->is_error = (unsigned (*)(size_t))dlsym(lib, "ZSTD_isError");
    z->free_cctx = (size_t (*)(ZSTD_CCtx *))dlsym(lib, "ZSTD_freeCCtx");
    if (!create || !set || !z->compress2 || !z->is_error || !z->free_cctx ||
        !(z->cctx = create())) {
        free(z);
        dlclose(lib);
        return NULL;
    }
    set(z->cctx, ZSTD_c_compressionLevel, level);
    set(z->cctx, ZSTD_c_checksumFlag, 1);
    set(z->cctx, ZSTD_c_contentSizeFlag, 1);
    return z;
}

void orion_zstd_close(struct orion_zstd *z) {
    if (!z) return;
    z->free_cctx(z->cctx);
    dlclose(z->lib);
    free(z);
}

size_t orion_zstd_compress(struct orion_zstd *z, uint8_t *out, size_t cap,
                           const uint8_t *src, size_t n) {
    size_t written = z->compress2(z->cctx, out, cap, src, n);
    return z->is_error(written) ? 0 : written;
}

size_t orion_zstd_bound(size_t n) {
    return n + (n >> 8) + (n < (128 << 10) ? ((128 << 10) - n) >> 11 : 0);
}
