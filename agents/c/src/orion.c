/* liborion core: hooks, per-thread rings, the background writer, crash capture, exit.
 *
 * Hot path: a traced thread appends 16-byte entries (time | kind, address) to its own
 * single-producer ring and publishes the write index; nothing else. A writer thread drains
 * every ring, turns addresses into function ids, encodes msgpack records and writes zstd
 * frames. Names are not known here: the trace carries raw addresses and the module map,
 * and `orion` resolves them at read time.
 *
 * Crash path: the signal handler (on an alternate stack) takes the encoder over, drains
 * the rings itself, appends the crash and the stack, and writes raw-block zstd frames with
 * write(2) only: no allocation, no stdio, no locks it could wait on forever.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <link.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <gnu/libc-version.h>

#include "../include/orion.h"
#include "buf.h"
#include "compress.h"
#include "elfsym.h"

#define NOI __attribute__((no_instrument_function))
#define HOT __attribute__((no_instrument_function, hot))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define AGENT_VERSION "0.1.0"
#define SHADOW_MAX 1024
#define DEV_RING (1u << 18)
/* What a kill -9 can lose (dev/safe): the writer thread writes a frame once its pending
 * records reach FRAME_TARGET bytes, or once the oldest may be FLUSH_NS old, whichever
 * comes first (it wakes every WAKE_NS, so it flushes WAKE_NS early). */
#define FRAME_TARGET (64 * 1024)
#define FRAME_CAP (FRAME_TARGET + 256 * 1024)
#define FLUSH_NS 100000000ull
#define WAKE_NS 20000000
#define OPEN_LATE_NS 200000000ull
#define FN_CAP (1u << 18)
#define STR_CAP 8192
#define STR_ARENA (512 * 1024)
#define MOD_CAP 512
#define MAX_TEXT 4096
#define UNWIND_MAX 128 /* frames of an uninstrumented stack kept at a crash */
#define THROWN_MAX 8 /* C++ exceptions in flight at once on a thread, tracked */
/* Shadow-stack and function-table keys for named scopes carry this bit (never set in a
 * user-space code address). */
#define SITE_TAG ((uintptr_t)1 << (sizeof(uintptr_t) * 8 - 1))

enum { MODE_DEV, MODE_SAFE, MODE_ERROR };
static const char *const MODE_NAMES[] = {"dev", "safe", "error"};
/* Ring entry kinds (low 3 bits of the first word; the time is above them). */
enum { K_CALL, K_SCOPE, K_RETURN, K_UNWIND, K_EXC };
/* Record type codes, as in orion/format/constants.py. */
enum { R_HEADER = 0, R_STRING = 1, R_FUNCTION = 2, R_LANE = 3, R_CALL = 4, R_RETURN = 5,
       R_EXCEPTION = 6, R_UNWIND = 7, R_CRASH = 8, R_STACK = 9, R_EVENT = 10, R_MODULE = 11,
       R_END = 15 };
/* Writer state. */
enum { S_OFF, S_RUNNING, S_DONE };

struct entry {
    uint64_t tk; /* monotonic ns << 3 | kind */
    uint64_t p;  /* function address, site, or exception payload */
};

struct exc_payload {
    char *type, *message;
};

struct othread {
    struct entry *ring;
    uintptr_t *ring_sites; /* beside each call entry: its return address, in the caller */
    uint64_t mask;
    _Atomic uint64_t w; /* entries written (owner) */
    _Atomic uint64_t r; /* entries consumed (writer) */
    uint32_t depth;
    uint32_t sample_ctr;
    int tid;
    unsigned no; /* 0 for the main thread, then 1, 2, ... in creation order */
    int lane; /* -1 until the encoder defines it */
    uint64_t last_t; /* encoder: the lane's last time */
    uint32_t wdepth;  /* encoder: open calls seen, and which of them were filtered out */
    uint8_t *wskip;
    _Atomic int dead;
    char name[32];
    struct othread *parent; /* the traced thread that created this one, if any */
    uintptr_t *shadow; /* active calls, outermost first; SITE_TAG marks a named scope */
    uintptr_t *sites;  /* the return address of each active call (in its caller) */
    uint8_t *kept;     /* safe mode: was the call at this depth recorded */
    /* C++ exceptions thrown on this thread (reported by liborion++) and maybe not caught
     * yet: the depth each has unwound down to, and the C++ runtime's count of uncaught
     * exceptions, which drops as handlers catch them. */
    uint32_t thrown_depth[THROWN_MAX];
    uint32_t nthrown;
    const unsigned *uncaught;
    void *altstack;
    struct othread *next;
};

struct module {
    uintptr_t lo, hi, base;
    int id; /* -1 until defined */
    int excluded;
    uint32_t path_sid_plus1;
    char path[PATH_MAX];
    uint8_t build_id[64];
    size_t build_id_len;
    uint64_t size, mtime_ns; /* of the file when loaded: a rebuild without a build id shows */
};

struct fn_slot {
    uintptr_t key; /* 0: empty */
    uint32_t fid;  /* UINT32_MAX: excluded */
};

struct str_slot {
    const char *text; /* in the arena */
    uint32_t len, sid, hash;
};

static struct {
    int mode;
    uint32_t sample_every;
    uint64_t ring_entries;
    int level;
    char spool[PATH_MAX];
    char report[PATH_MAX];
    char include[1024], exclude[1024]; /* ORION_INCLUDE_LIBS / ORION_EXCLUDE_LIBS */
    char include_funcs[4096], exclude_funcs[4096];
    char service[256];
    char language[8];
    int every_program; /* ORION_NATIVE_CRASHES=all: crash capture in untraced programs too */
} cfg = {.mode = MODE_ERROR, .sample_every = 100, .ring_entries = 32768, .level = 1,
         .language = "c"};

/* Everything about the trace being written; guarded by enc_lock. */
static struct {
    int fd;
    int file_open;
    int finished;
    int in_signal;
    struct obuf buf;     /* the frame being built: raw msgpack */
    uint8_t *out;        /* compressed (or raw-block) frame */
    size_t out_cap;
    struct orion_zstd *zstd; /* NULL: libzstd.so.1 absent, frames of raw blocks */
    uint64_t last_t, max_t, last_flush_t;
    uint32_t crc;
    uint64_t records, calls, returns, unwinds, exceptions, crashes, stacks, events;
    uint32_t nstrings, nfunctions, nlanes, nmodules;
    int64_t root_fid;
    int root_on_main; /* the root is the main thread's first call (other lanes may drain first) */
    char root[128];
    struct fn_slot *fns;
    uintptr_t *last_site; /* by function id: the call site its last call was written with */
    struct str_slot *strs;
    char *arena;
    size_t arena_len;
    struct module mods[MOD_CAP];
    int nmods;
    char exc_type[256], exc_message[512], exc_kind[32];
    int have_exc;
    int open_late; /* a forked child: the file is created once it has lived OPEN_LATE_NS */
    uint32_t thread_kind_sid_plus1;
} E;

static struct {
    uint64_t start_ns;      /* wall clock */
    uint64_t start_mono;    /* CLOCK_MONOTONIC ns */
    char trace_id[33];
    char span_id[17];       /* this process, as the parent of its children (spec 8) */
    char parent_trace[33];  /* the process that started this one, if known */
    char parent_span[17];
    char path[PATH_MAX];    /* final name */
    char tmp_path[PATH_MAX];
    struct obuf header;     /* the header record, packed */
    struct obuf command;    /* argv as a msgpack array, for the summary */
    char host[256];
    char comm[32]; /* the process name, which unnamed threads inherit */
    int pid;
    int exit_code;
    int have_exit_code;
} T;

static _Atomic int enc_lock_word;
static _Atomic int writer_state = S_OFF;
static _Atomic uint32_t wake_word;
static _Atomic int crashing;
static _Atomic int disabled;
/* Whether this process is traced: it runs code that calls the agent. Until tracing begins
 * the agent is passive (no crash handlers, no alternate stack, no thread numbering, no
 * file), so that a program it does not trace (a Rust program, a JVM, an interpreter)
 * keeps its own crash handling exactly as without the agent. */
enum { B_UNREAD, B_PASSIVE, B_BEGINNING, B_BEGUN, B_OFF }; /* B_UNREAD: before orion_init */
static _Atomic int begin_state;
static int begin_tracing(void);
static inline NOI int begun(void) {
    return atomic_load(&begin_state) == B_BEGUN;
}
static pthread_t writer_tid;
static pthread_once_t start_once = PTHREAD_ONCE_INIT;
static pthread_key_t thread_key;
static _Atomic(struct othread *) threads;
static _Atomic unsigned threads_created; /* numbers threads in creation order */
static __thread unsigned tls_thread_no __attribute__((tls_model("initial-exec")));
static __thread struct othread *tls_parent __attribute__((tls_model("initial-exec")));
static struct othread signal_thread; /* the lane of a thread that never traced a call */
static __thread struct othread *tls_thread __attribute__((tls_model("initial-exec")));
static __thread int tls_busy __attribute__((tls_model("initial-exec")));
static struct sigaction old_actions[NSIG];
/* The stack of a crash in code that keeps no shadow stack, unwound by the signal handler:
 * code addresses, innermost (the faulting pc) first. */
static uintptr_t unwound[UNWIND_MAX];
static uint32_t nunwound;
static uintptr_t agent_lo, agent_hi; /* the agent's own code, where unwinding stops */
static const int crash_signals[] = {SIGSEGV, SIGABRT, SIGFPE, SIGBUS, SIGILL};

typedef void (*exit_fn)(int);
static exit_fn real_exit, real__exit;

/* ------------------------------------------------------------------------------------- */
/* small helpers                                                                          */

static NOI uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The hot path's clock: the TSC on x86-64 (a few cycles, against ~20 ns for a vDSO
 * clock_gettime), converted to nanoseconds by the encoder with a ratio it keeps
 * measuring against CLOCK_MONOTONIC; elsewhere the monotonic clock itself. */
static uint64_t tick0;
static double tick_ns = 1.0;

static inline NOI uint64_t ticks(void) {
#if defined(__x86_64__)
    return __builtin_ia32_rdtsc();
#else
    return mono_ns();
#endif
}

static NOI void calibrate(void) {
#if defined(__x86_64__)
    uint64_t mono = mono_ns(), tick = ticks();
    if (mono > T.start_mono + 100000 && tick > tick0)
        tick_ns = (double)(mono - T.start_mono) / (double)(tick - tick0);
#endif
}

static NOI long futex(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *ts) {
    return syscall(SYS_futex, addr, op, val, ts, NULL, 0);
}

static NOI void wake_writer(void) {
    atomic_fetch_add_explicit(&wake_word, 1, memory_order_release);
    futex(&wake_word, FUTEX_WAKE_PRIVATE, 1, NULL);
}

static NOI void sleep_ns(long ns) {
    struct timespec ts = {0, ns};
    nanosleep(&ts, NULL);
}

static NOI int enc_trylock(uint64_t timeout_ns) {
    uint64_t deadline = mono_ns() + timeout_ns;
    for (;;) {
        int expected = 0;
        if (atomic_compare_exchange_weak(&enc_lock_word, &expected, 1)) return 1;
        if (mono_ns() > deadline) return 0;
        sleep_ns(50000);
    }
}
static NOI void enc_lock(void) { enc_trylock(UINT64_MAX / 2); }
static NOI void enc_unlock(void) { atomic_store(&enc_lock_word, 0); }

static NOI int write_all(int fd, const void *p, size_t n) {
    const uint8_t *c = p;
    while (n) {
        ssize_t k = write(fd, c, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

static NOI void *map_zero(size_t n) {
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static NOI const char *sig_name(int sig) {
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGABRT: return "SIGABRT";
    case SIGFPE: return "SIGFPE";
    case SIGBUS: return "SIGBUS";
    case SIGILL: return "SIGILL";
    default: return "SIGNAL";
    }
}

/* Does a comma-separated list of substrings match `text`? */
static NOI int list_matches(const char *list, const char *text) {
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n) {
            char word[256];
            if (n >= sizeof word) n = sizeof word - 1;
            memcpy(word, p, n);
            word[n] = 0;
            if (strstr(text, word)) return 1;
        }
        if (!end) break;
        p = end + 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------- */
/* secrets (spec section 7)                                                               */

static const char *const DEFAULT_SECRETS[] = {
    "password", "passwd", "passphrase", "pwd", "secret", "token", "api_key", "apikey",
    "access_key", "auth", "authorization", "cookie", "session", "private_key", "privatekey",
    "credential", "credentials", "signature", "dsn", NULL};

static NOI int is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static NOI int is_lower_or_digit(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

/* A name's words, lower-cased and joined by `_`, into `out` (`authToken`, `AUTH-TOKEN` and
 * `auth.token` all give `auth_token`), as orion/agent/values.py name_words. */
static NOI void name_words(const char *name, size_t n, char *out, size_t cap) {
    size_t w = 0;
    for (size_t i = 0; i < n && w + 2 < cap; i++) {
        char c = name[i];
        if (c == '_' || c == '-' || c == '.' || c == ' ' || c == '\t') {
            if (w && out[w - 1] != '_') out[w++] = '_';
            continue;
        }
        if (is_upper(c) && w && out[w - 1] != '_' &&
            (is_lower_or_digit(name[i - 1]) ||
             (is_upper(name[i - 1]) && i + 1 < n && name[i + 1] >= 'a' && name[i + 1] <= 'z')))
            out[w++] = '_';
        out[w++] = is_upper(c) ? (char)(c + 32) : c;
    }
    while (w && out[w - 1] == '_') w--;
    out[w] = 0;
}

/* Whether `words` holds `word` (both in name_words form) as whole words. */
static NOI int has_words(const char *words, const char *word) {
    size_t k = strlen(word);
    if (!k) return 0;
    for (const char *p = strstr(words, word); p; p = strstr(p + 1, word))
        if ((p == words || p[-1] == '_') && (p[k] == 0 || p[k] == '_')) return 1;
    return 0;
}

/* Whether a name looks secret: one of the words is a whole word of it (`db_password`,
 * `authToken`, `AUTH_HEADER`; not `author`), PWD and OLDPWD (the shell's working
 * directories) aside. */
static NOI int looks_secret(const char *name, size_t n) {
    if ((n == 3 && !memcmp(name, "PWD", 3)) || (n == 6 && !memcmp(name, "OLDPWD", 6))) return 0;
    char words[256], word[256];
    name_words(name, n, words, sizeof words);
    const char *custom = getenv("ORION_REDACT");
    if (custom && *custom) {
        for (const char *p = custom;;) {
            const char *end = strchr(p, ',');
            name_words(p, end ? (size_t)(end - p) : strlen(p), word, sizeof word);
            if (has_words(words, word)) return 1;
            if (!end) return 0;
            p = end + 1;
        }
    }
    for (const char *const *w = DEFAULT_SECRETS; *w; w++)
        if (has_words(words, *w)) return 1;
    return 0;
}

#define REDACTED "<redacted>"
#define SECRET_MAX 64
#define MIN_SCRUBBED 6 /* a shorter secret value would hide innocent words in free text */

/* Values scrubbed from free text (MIN_SCRUBBED characters or more, and not an existing
 * path), longest first so that a secret holding a shorter one is hidden whole: those of
 * the secret-looking environment variables and command-line options, and every URL's
 * password in the environment or on the command line (values.py startup_secret_values).
 * Read once at start, so that scrubbing needs no allocation and may run in a crash
 * handler; they point into environ and the command line, read only in this process. */
static const char *secret_values[SECRET_MAX];
static size_t secret_lens[SECRET_MAX];
static int nsecrets;

static NOI void add_secret_value(const char *value, size_t n) {
    char path[PATH_MAX];
    if (n < MIN_SCRUBBED || nsecrets >= SECRET_MAX) return;
    for (int i = 0; i < nsecrets; i++)
        if (secret_lens[i] == n && !memcmp(secret_values[i], value, n)) return;
    if (memchr(value, '/', n) && n < sizeof path) {
        memcpy(path, value, n);
        path[n] = 0;
        if (access(path, F_OK) == 0) return; /* a path: hiding it would hide innocent text */
    }
    int k = nsecrets++;
    for (; k > 0 && secret_lens[k - 1] < n; k--) {
        secret_values[k] = secret_values[k - 1];
        secret_lens[k] = secret_lens[k - 1];
    }
    secret_values[k] = value;
    secret_lens[k] = n;
}

/* Does `text` hold a secret value? */
static NOI int leaks_secret(const char *text, size_t n) {
    for (int i = 0; i < nsecrets; i++)
        for (size_t k = 0; k + secret_lens[i] <= n; k++)
            if (!memcmp(text + k, secret_values[i], secret_lens[i])) return 1;
    return 0;
}

static NOI int word_char(char c) { return is_upper(c) || is_lower_or_digit(c) || c == '_'; }
static NOI int token_char(char c) { return word_char(c) || (c && strchr(".~+/=-", c)); }
static NOI int alnum_char(char c) { return is_upper(c) || is_lower_or_digit(c); }
static NOI int is_alpha(char c) { return is_upper(c) || (c >= 'a' && c <= 'z'); }
static NOI int slack_char(char c) { return alnum_char(c) || c == '-'; }
static NOI int jwt_char(char c) { return word_char(c) || c == '-'; }
static NOI int aws_char(char c) { return is_upper(c) || (c >= '0' && c <= '9'); }
static NOI int blank_char(char c) { return c == ' ' || c == '\t'; }
static NOI int option_char(char c) { return word_char(c) || c == '.' || c == '-'; }

/* Whether `p` starts with lower-case `word` in any case. */
static NOI int starts_nocase(const char *p, const char *word) {
    for (; *word; p++, word++)
        if ((*p | 0x20) != *word) return 0;
    return 1;
}

/* How many characters from t[i] on satisfy `ok`. */
static NOI size_t run_of(const char *t, size_t i, size_t n, int (*ok)(char)) {
    size_t k = i;
    while (k < n && ok(t[k])) k++;
    return k - i;
}

/* A header line at t[i] whose name looks secret (values.py _SHAPES): `Cookie: <redacted>`,
 * `Authorization: Basic <redacted>`, `X-Api-Key: <redacted>`, the value running to the end
 * of the line or a quote; a header's name is Authorization, Cookie or hyphenated. Its
 * length, 0 when none; the name, colon, blanks and scheme (`Basic `) are `*keep`. */
static NOI size_t header_at(const char *t, size_t i, size_t n, size_t *keep) {
    static const char *const schemes[] = {"basic", "bearer", "digest", "token", "negotiate", NULL};
    const char *p = t + i;
    size_t left = n - i, name = 0, at, value = 0;
    int hyphen = 0;
    while (name < left && (alnum_char(p[name]) || p[name] == '-')) hyphen |= p[name++] == '-';
    if (!name || name >= left || p[name] != ':' || p[name - 1] == '-') return 0;
    if (!hyphen && !(name == 13 && starts_nocase(p, "authorization")) &&
        !(name == 6 && starts_nocase(p, "cookie")))
        return 0;
    if (!looks_secret(p, name)) return 0;
    at = name + 1 + run_of(t, i + name + 1, n, blank_char);
    for (const char *const *scheme = schemes; *scheme; scheme++) {
        size_t k = strlen(*scheme), blanks;
        if (at + k < left && starts_nocase(p + at, *scheme) &&
            (blanks = run_of(t, i + at + k, n, blank_char))) {
            at += k + blanks;
            break;
        }
    }
    while (at + value < left && p[at + value] && !strchr("\r\n\"'", p[at + value])) value++;
    if (!value) return 0;
    *keep = at;
    return at + value;
}

/* The secret shape starting at t[i] (values.py _SHAPES: a URL's password, a bearer, GitHub,
 * AWS, Slack or JSON Web token, a secret-named query parameter or header line): its length,
 * 0 when none; its first `*keep` characters stay (`://user:`, `Bearer `). Signal-safe. */
static NOI size_t shape_at(const char *t, size_t i, size_t n, size_t *keep) {
    const char *p = t + i;
    size_t left = n - i, k;
    *keep = 0;
    if (left >= 3 && !memcmp(p, "://", 3) && i && alnum_char(t[i - 1])) {
        size_t user = 3, pass;
        while (user < left && p[user] && !strchr("/:@ \t\r\n", p[user])) user++;
        if (user >= left || p[user] != ':') return 0;
        for (pass = user + 1; pass < left && p[pass] && !strchr("/@ \t\r\n", p[pass]);) pass++;
        if (pass == user + 1 || pass >= left || p[pass] != '@') return 0;
        *keep = user + 1;
        return pass;
    }
    if (left > 3 && (*p == '?' || *p == '&' || *p == ';')) {
        /* a query parameter whose name looks secret: `?session=<redacted>&page=2` */
        size_t name = run_of(t, i + 1, n, option_char);
        if (!name || !(is_upper(p[1]) || (p[1] >= 'a' && p[1] <= 'z')) || 1 + name >= left ||
            p[1 + name] != '=' || !looks_secret(p + 1, name))
            return 0;
        size_t value = 0;
        while (2 + name + value < left && !strchr("&#; \t\r\n\"'<>", p[2 + name + value]))
            value++;
        if (!value) return 0;
        *keep = 2 + name;
        return 2 + name + value;
    }
    if (i && word_char(t[i - 1])) return 0;
    if (is_alpha(*p) && !(i && t[i - 1] == '-') && (k = header_at(t, i, n, keep))) return k;
    if (left > 7 && starts_nocase(p, "bearer") && (k = run_of(t, i + 6, n, blank_char))) {
        size_t token = run_of(t, i + 6 + k, n, token_char);
        if (token < 8) return 0;
        *keep = 6 + k;
        return 6 + k + token;
    }
    if (left > 4 && p[0] == 'g' && p[1] == 'h' && p[2] && strchr("pousr", p[2]) && p[3] == '_')
        return (k = run_of(t, i + 4, n, alnum_char)) >= 20 ? 4 + k : 0;
    if (left > 11 && !memcmp(p, "github_pat_", 11))
        return (k = run_of(t, i + 11, n, word_char)) >= 20 ? 11 + k : 0;
    if (left >= 20 && (!memcmp(p, "AKIA", 4) || !memcmp(p, "ASIA", 4)))
        return run_of(t, i + 4, n, aws_char) == 16 ? 20 : 0;
    if (left > 5 && !memcmp(p, "xox", 3) && p[3] && strchr("abposr", p[3]) && p[4] == '-')
        return (k = run_of(t, i + 5, n, slack_char)) >= 10 ? 5 + k : 0;
    if (left > 3 && !memcmp(p, "eyJ", 3)) {
        size_t a = run_of(t, i + 3, n, jwt_char), at = 3 + a;
        if (a < 8 || at + 4 > left || memcmp(p + at, ".eyJ", 4)) return 0;
        size_t b = run_of(t, i + at + 4, n, jwt_char), bt = at + 4 + b;
        if (b < 8 || bt >= left || p[bt] != '.') return 0;
        return bt + 1 + run_of(t, i + bt + 1, n, jwt_char);
    }
    return 0;
}

/* Every URL password in `text` joins the secret values. */
static NOI void add_url_passwords(const char *text, size_t n) {
    size_t keep;
    for (const char *p = memchr(text, ':', n); p; p = memchr(p + 1, ':', n - (size_t)(p + 1 - text))) {
        size_t at = (size_t)(p - text), len = shape_at(text, at, n, &keep);
        if (len && keep && p[1] == '/') add_secret_value(p + keep, len - keep);
    }
}

/* `text` with every secret value (the first `values` of them) and secret-shaped word in it
 * replaced by <redacted>, into `out` (NUL-ended, cut to fit); its length. Signal-safe. */
static NOI size_t scrub_with(const char *text, size_t n, char *out, size_t cap, int values) {
    size_t w = 0;
    for (size_t i = 0; i < n && w + 1 < cap;) {
        int hit = -1;
        for (int k = 0; k < values && hit < 0; k++)
            if (secret_lens[k] <= n - i && !memcmp(text + i, secret_values[k], secret_lens[k]))
                hit = k;
        size_t keep = 0, len = hit >= 0 ? secret_lens[hit] : shape_at(text, i, n, &keep);
        if (!len) {
            out[w++] = text[i++];
            continue;
        }
        size_t r = sizeof REDACTED - 1;
        if (w + keep + r >= cap) break;
        memcpy(out + w, text + i, keep);
        memcpy(out + w + keep, REDACTED, r);
        w += keep + r;
        i += len;
    }
    out[w] = 0;
    return w;
}

/* Free text has no redacted node of its own: secrets in it are replaced. Signal-safe. */
static NOI size_t scrub(const char *text, size_t n, char *out, size_t cap) {
    return scrub_with(text, n, out, cap, nsecrets);
}

/* A command-line word `-name` or `--name[=value]` (name: a letter, then letters, digits,
 * `_`, `.` or `-`): the name's length, or 0 when it is not one; `*value` points at the
 * `=` or is NULL. */
static NOI size_t option_name(const char *arg, const char **name, const char **value) {
    const char *p = arg;
    if (*p != '-') return 0;
    p += p[1] == '-' ? 2 : 1;
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) return 0;
    *name = p;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
           *p == '_' || *p == '.' || *p == '-')
        p++;
    if (*p && *p != '=') return 0;
    *value = *p == '=' ? p : NULL;
    return (size_t)(p - *name);
}

/* Whether the word after a bare `-p` is taken for a password (`sshpass -p`, mysql-style
 * tools): one holding a digit or a symbol, but not a number or port, a `name:value`
 * (pytest's `-p no:cacheprovider`), a path or an existing file; a plain name (`-p xdist`)
 * is not one (values.py is_short_password). */
static NOI int short_password(const char *word) {
    if (*word == '-' || strchr(word, '/') || strchr(word, ':')) return 0;
    const char *d = word;
    while (*d >= '0' && *d <= '9') d++;
    if (!*d) return 0; /* a number */
    for (d = word; *d && (is_alpha(*d) || *d == '_' || *d == '.' || *d == '-'); d++) {}
    return *d && access(word, F_OK) != 0;
}

/* The command line, from /proc/self/cmdline: its words, and which are secret option
 * values (the word after `--password` or a password-like `-p`; `--api-key=VALUE` holds
 * its own). */
static char cmdline[64 * 1024];
#define ARGV_MAX (sizeof cmdline / 2) /* every word and its NUL */
static const char *argv_words[ARGV_MAX];
static size_t argv_lens[ARGV_MAX];
static uint8_t argv_hidden[ARGV_MAX]; /* 1: the whole word is a secret value */
static int nargv;

static NOI void read_cmdline(void) {
    ssize_t n = 0, k;
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        while ((k = read(fd, cmdline + n, sizeof cmdline - 1 - (size_t)n)) > 0) n += k;
        close(fd);
    }
    nargv = 0;
    for (ssize_t i = 0; i < n && (size_t)nargv < ARGV_MAX;) {
        size_t len = strnlen(cmdline + i, (size_t)(n - i));
        if (i + (ssize_t)len >= n) break; /* cut short: not NUL-ended */
        argv_words[nargv] = cmdline + i;
        argv_lens[nargv] = len;
        argv_hidden[nargv++] = 0;
        i += (ssize_t)len + 1;
    }
    for (int i = 0; i + 1 < nargv; i++) {
        const char *name, *value;
        size_t name_len = option_name(argv_words[i], &name, &value);
        if (argv_hidden[i] || !name_len || value) continue;
        if (looks_secret(name, name_len) ||
            (!strcmp(argv_words[i], "-p") && short_password(argv_words[i + 1])))
            argv_hidden[i + 1] = 1;
    }
}

static NOI void read_secret_values(void) {
    extern char **environ;
    nsecrets = 0;
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq) continue;
        if (looks_secret(*e, (size_t)(eq - *e))) add_secret_value(eq + 1, strlen(eq + 1));
        add_url_passwords(eq + 1, strlen(eq + 1));
    }
    for (int i = 0; i < nargv; i++) {
        const char *name, *value;
        size_t name_len = option_name(argv_words[i], &name, &value);
        if (argv_hidden[i])
            add_secret_value(argv_words[i], argv_lens[i]);
        else if (name_len && value && looks_secret(name, name_len))
            add_secret_value(value + 1, argv_lens[i] - (size_t)(value + 1 - argv_words[i]));
        add_url_passwords(argv_words[i], argv_lens[i]);
    }
}

/* ------------------------------------------------------------------------------------- */
/* the encoder: strings, functions, modules, lanes, records, frames                        */

static NOI uint32_t str_hash(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static NOI void emit_begin(void) { E.records++; }

/* Intern `s`: its id, defining it with a STRING record on first use. */
static NOI uint32_t intern_n(const char *s, size_t n) {
    if (n > MAX_TEXT) n = MAX_TEXT;
    uint32_t h = str_hash(s, n);
    for (uint32_t i = h & (STR_CAP - 1);; i = (i + 1) & (STR_CAP - 1)) {
        struct str_slot *slot = &E.strs[i];
        if (!slot->text) {
            if (E.nstrings >= STR_CAP * 3 / 4 || E.arena_len + n + 1 > STR_ARENA) break;
            memcpy(E.arena + E.arena_len, s, n);
            E.arena[E.arena_len + n] = 0;
            slot->text = E.arena + E.arena_len;
            E.arena_len += n + 1;
            slot->len = (uint32_t)n;
            slot->hash = h;
            slot->sid = E.nstrings++;
            emit_begin();
            mp_array(&E.buf, 3);
            mp_uint(&E.buf, R_STRING);
            mp_uint(&E.buf, slot->sid);
            mp_strn(&E.buf, s, n);
            return slot->sid;
        }
        if (slot->hash == h && slot->len == n && !memcmp(slot->text, s, n)) return slot->sid;
    }
    /* The table is full: define the string again under a new id (still valid). */
    emit_begin();
    mp_array(&E.buf, 3);
    mp_uint(&E.buf, R_STRING);
    mp_uint(&E.buf, E.nstrings);
    mp_strn(&E.buf, s, n);
    return E.nstrings++;
}
static NOI uint32_t intern(const char *s) { return intern_n(s, strlen(s)); }

static NOI void read_build_id(struct module *m, const struct dl_phdr_info *info) {
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE) continue;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
        const uint8_t *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            const uint8_t *name = p + sizeof *nh;
            const uint8_t *desc = name + ((nh->n_namesz + 3) & ~3u);
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(name, "GNU", 4) &&
                nh->n_descsz <= sizeof m->build_id) {
                memcpy(m->build_id, desc, nh->n_descsz);
                m->build_id_len = nh->n_descsz;
                return;
            }
            p = desc + ((nh->n_descsz + 3) & ~3u);
        }
    }
}

/* The address span of a loaded module's segments; 0 when it has none. */
static NOI int module_span(const struct dl_phdr_info *info, uintptr_t *lo, uintptr_t *hi) {
    *lo = UINTPTR_MAX;
    *hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t a = info->dlpi_addr + ph->p_vaddr;
        if (a < *lo) *lo = a;
        if (a + ph->p_memsz > *hi) *hi = a + ph->p_memsz;
    }
    return *hi != 0;
}

/* The file of a loaded module; 0 for the vDSO (no file to read symbols from). */
static NOI int module_path(const struct dl_phdr_info *info, char *out, size_t cap) {
    const char *name = info->dlpi_name;
    if (!name || !*name) {
        ssize_t n = readlink("/proc/self/exe", out, cap - 1);
        if (n <= 0) return 0;
        out[n] = 0;
        return 1;
    }
    if (!strchr(name, '/')) return 0;
    snprintf(out, cap, "%s", name);
    return 1;
}

/* Left out by ORION_INCLUDE_LIBS / ORION_EXCLUDE_LIBS (path substrings)? */
static NOI int module_excluded(const char *path) {
    return (cfg.exclude[0] && list_matches(cfg.exclude, path)) ||
           (cfg.include[0] && !list_matches(cfg.include, path));
}

static NOI int add_module_cb(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size; (void)data;
    uintptr_t lo, hi;
    if (!module_span(info, &lo, &hi)) return 0;
    for (int i = 0; i < E.nmods; i++)
        if (E.mods[i].lo == lo && E.mods[i].base == info->dlpi_addr) return 0;
    if (E.nmods >= MOD_CAP) return 0;
    struct module *m = &E.mods[E.nmods];
    memset(m, 0, sizeof *m);
    if (!module_path(info, m->path, sizeof m->path)) return 0;
    m->lo = lo;
    m->hi = hi;
    m->base = info->dlpi_addr;
    m->id = -1;
    m->excluded = module_excluded(m->path);
    read_build_id(m, info);
    struct stat st;
    if (stat(m->path, &st) == 0) {
        m->size = (uint64_t)st.st_size;
        m->mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec;
    }
    E.nmods++;
    return 0;
}

/* Not signal-safe (the loader's lock): only outside the crash path. */
static NOI void scan_modules(void) { dl_iterate_phdr(add_module_cb, NULL); }

/* ------------------------------------------------------------------------------------- */
/* function filters                                                                       */
/*
 * ORION_INCLUDE_FUNCS / ORION_EXCLUDE_FUNCS are comma-separated glob patterns on function
 * names (the symbol, or for C++ the demangled name with or without its parameters), and
 * ORION_INCLUDE_LIBS / ORION_EXCLUDE_LIBS path substrings of modules. Names are unknown
 * when recording, so at start (and when a dlopen'ed module first shows up) the symbol
 * tables of the instrumented modules are read once and the matching functions become
 * sorted address ranges. The hooks then ask `keep_fn`: one load from a direct-mapped
 * cache of decisions per function address, a binary search on a miss.
 */

#define PATTERN_MAX 64
#define FCACHE_SIZE 4096

struct patterns {
    char *pat[PATTERN_MAX];
    int n;
};

struct frange {
    uintptr_t lo, hi;
};

struct franges {
    struct frange *r;
    uint32_t n, cap;
};

struct fmodule {
    uintptr_t lo, hi;
    int excluded;              /* by the module filters */
    struct franges inc, exc;   /* functions matching the include / exclude patterns */
};

typedef char *(*demangle_fn)(const char *, char *, size_t *, int *);
static demangle_fn demangler; /* __cxa_demangle when libstdc++ is loaded */
static struct patterns include_funcs, exclude_funcs;
static int filtering; /* any filter set: the hooks ask keep_fn */
static struct fmodule fmods[MOD_CAP];
static _Atomic int nfmods;
static pthread_mutex_t fmods_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uintptr_t fcache[FCACHE_SIZE]; /* fn << 1 | keep; 0: empty */
static __thread int tls_scanning __attribute__((tls_model("initial-exec")));

/* Split a comma-separated list into patterns (the list is kept: they point into it). */
static NOI void parse_patterns(struct patterns *p, char *list) {
    for (char *tok = strtok(list, ","); tok && p->n < PATTERN_MAX; tok = strtok(NULL, ","))
        if (*tok) p->pat[p->n++] = tok;
}

/* "ns::f(int) const" -> "ns::f": C++ names as `orion` prints them (c++filt --no-params). */
static NOI void strip_params(char *s) {
    char *close = strrchr(s, ')');
    int depth = 0;
    for (char *p = close; p && p >= s; p--) {
        if (*p == ')') depth++;
        else if (*p == '(' && --depth == 0) {
            if (p > s) *p = 0;
            return;
        }
    }
}

/* Where the name proper starts in a demangled name: after the return type that function
 * templates carry ("unsigned long const& std::min<unsigned long>(...)"), i.e. after the
 * last space outside <> and () before the parameters or the name's `operator` keyword
 * ("std::vector<int, std::allocator<int> >::size() const" has none). */
static NOI const char *skip_return_type(const char *s) {
    const char *start = s;
    int depth = 0;
    for (const char *p = s; *p; p++) {
        if (depth == 0 && !strncmp(p, "operator", 8) &&
            (p == s || p[-1] == ' ' || p[-1] == ':'))
            break; /* operator<, operator() and operator new hold brackets and spaces */
        if (depth == 0 && *p == '(' && p != start)
            break; /* the parameters ("(anonymous namespace)::" starts a name) */
        if (*p == '<' || *p == '(') depth++;
        else if ((*p == '>' || *p == ')') && depth > 0) depth--;
        else if (*p == ' ' && depth == 0) start = p + 1;
    }
    return start;
}

/* The form `orion show` gives a C++ name by default: without template arguments, as
 * uftrace shows it ("std::vector::push_back"), keeping the brackets of operator<,
 * operator<< and the like. In place. */
static NOI void strip_templates(char *s) {
    char *out = s;
    int depth = 0;
    for (char *p = s; *p;) {
        if (!strncmp(p, "operator", 8) && (p == s || !isalnum((unsigned char)p[-1]))) {
            char *q = p + 8;
            while (*q && strchr("<>=!+-*/%^&|~,[]()", *q)) q++;
            if (depth == 0) {
                memmove(out, p, (size_t)(q - p));
                out += q - p;
            }
            p = q;
            continue;
        }
        if (*p == '<') depth++;
        else if (*p == '>' && depth) depth--;
        else if (depth == 0) *out++ = *p;
        p++;
    }
    while (out > s && out[-1] == ' ') out--;
    *out = 0;
}

#define NAME_FORMS 6

static NOI int any_match(const struct patterns *p, const char *const names[NAME_FORMS]) {
    for (int i = 0; i < p->n; i++)
        for (int k = 0; k < NAME_FORMS; k++)
            if (names[k] && fnmatch(p->pat[i], names[k], 0) == 0) return 1;
    return 0;
}

static NOI void add_range(struct franges *rs, uintptr_t lo, uintptr_t hi) {
    if (rs->n == rs->cap) {
        uint32_t cap = rs->cap ? rs->cap * 2 : 64;
        struct frange *r = realloc(rs->r, cap * sizeof *r);
        if (!r) return;
        rs->r = r;
        rs->cap = cap;
    }
    rs->r[rs->n++] = (struct frange){lo, hi};
}

static NOI int range_order(const void *a, const void *b) {
    uintptr_t x = ((const struct frange *)a)->lo, y = ((const struct frange *)b)->lo;
    return x < y ? -1 : x > y;
}

/* Sort and merge overlaps (a function listed in .symtab and .dynsym, aliases). */
static NOI void finish_ranges(struct franges *rs) {
    if (!rs->n) return;
    qsort(rs->r, rs->n, sizeof *rs->r, range_order);
    uint32_t k = 0;
    for (uint32_t i = 1; i < rs->n; i++) {
        if (rs->r[i].lo <= rs->r[k].hi) {
            if (rs->r[i].hi > rs->r[k].hi) rs->r[k].hi = rs->r[i].hi;
        } else {
            rs->r[++k] = rs->r[i];
        }
    }
    rs->n = k + 1;
}

static NOI int in_ranges(const struct franges *rs, uintptr_t addr) {
    uint32_t lo = 0, hi = rs->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (addr < rs->r[mid].lo) hi = mid;
        else if (addr >= rs->r[mid].hi) lo = mid + 1;
        else return 1;
    }
    return 0;
}

struct collect {
    struct fmodule *m;
    uintptr_t base;
};

static NOI void collect_function(void *ctx, const char *name, uintptr_t addr, size_t size) {
    struct collect *c = ctx;
    char *readable = NULL, *bare = NULL, *shown = NULL;
    if (demangler && name[0] == '_' && name[1] == 'Z') {
        int status = -1;
        readable = demangler(name, NULL, NULL, &status);
        if (status != 0) { free(readable); readable = NULL; }
        if (readable && (bare = strdup(readable))) strip_params(bare);
    }
    /* the symbol; demangled, with and without parameters; the same without a return type;
     * as `orion show` gives it (no template arguments either) */
    const char *no_ret = readable ? skip_return_type(readable) : NULL;
    const char *bare_no_ret = bare ? skip_return_type(bare) : NULL;
    if (bare_no_ret && (shown = strdup(bare_no_ret))) strip_templates(shown);
    const char *const names[NAME_FORMS] = {name, readable, bare,
                                           no_ret != readable ? no_ret : NULL,
                                           bare_no_ret != bare ? bare_no_ret : NULL, shown};
    uintptr_t lo = c->base + addr, hi = lo + (size ? size : 1);
    if (any_match(&include_funcs, names)) add_range(&c->m->inc, lo, hi);
    if (any_match(&exclude_funcs, names)) add_range(&c->m->exc, lo, hi);
    free(readable);
    free(bare);
    free(shown);
}

/* dl_iterate_phdr callback: describe each module not seen yet (under fmods_lock). */
static NOI int filter_module_cb(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size; (void)data;
    uintptr_t lo, hi;
    char path[PATH_MAX];
    int n = atomic_load(&nfmods);
    if (!module_span(info, &lo, &hi) || n >= MOD_CAP) return 0;
    for (int i = 0; i < n; i++)
        if (fmods[i].lo == lo && fmods[i].hi == hi) return 0;
    struct fmodule *m = &fmods[n];
    memset(m, 0, sizeof *m);
    m->lo = lo;
    m->hi = hi;
    if (module_path(info, path, sizeof path)) {
        m->excluded = module_excluded(path);
        struct orion_elf elf;
        /* Only instrumented modules call the hooks: the others need no names. */
        if (!m->excluded && (include_funcs.n || exclude_funcs.n) &&
            orion_elf_open(&elf, info->dlpi_name && *info->dlpi_name ? path : "/proc/self/exe")) {
            if (orion_elf_mentions(&elf, "__cyg_profile_func_enter")) {
                struct collect c = {m, info->dlpi_addr};
                orion_elf_functions(&elf, collect_function, &c);
                finish_ranges(&m->inc);
                finish_ranges(&m->exc);
            }
            orion_elf_close(&elf);
        }
    }
    atomic_store_explicit(&nfmods, n + 1, memory_order_release);
    return 0;
}

static NOI void filter_scan(void) {
    tls_scanning = 1;
    pthread_mutex_lock(&fmods_lock);
    dl_iterate_phdr(filter_module_cb, NULL);
    pthread_mutex_unlock(&fmods_lock);
    tls_scanning = 0;
}

/* Is the function at `fn` recorded? The slow path of keep_fn. */
static NOI int filter_decide(uintptr_t fn) {
    for (int pass = 0; pass < 2; pass++) {
        int n = atomic_load_explicit(&nfmods, memory_order_acquire);
        for (int i = 0; i < n; i++) {
            const struct fmodule *m = &fmods[i];
            if (fn < m->lo || fn >= m->hi) continue;
            if (m->excluded) return 0;
            if (include_funcs.n && !in_ranges(&m->inc, fn)) return 0;
            return !in_ranges(&m->exc, fn);
        }
        if (pass || tls_scanning) break;
        filter_scan(); /* a module loaded since (dlopen) */
    }
    return 1; /* code outside any module: nothing to match it against */
}

static HOT inline int keep_fn(uintptr_t fn) {
    _Atomic uintptr_t *slot = &fcache[((fn >> 4) ^ (fn >> 16)) & (FCACHE_SIZE - 1)];
    uintptr_t v = atomic_load_explicit(slot, memory_order_relaxed);
    if (likely(v >> 1 == fn)) return (int)(v & 1);
    int keep = filter_decide(fn);
    atomic_store_explicit(slot, fn << 1 | (uintptr_t)keep, memory_order_relaxed);
    return keep;
}

static NOI void filter_init(void) {
    parse_patterns(&include_funcs, cfg.include_funcs);
    parse_patterns(&exclude_funcs, cfg.exclude_funcs);
    demangler = (demangle_fn)dlsym(RTLD_DEFAULT, "__cxa_demangle");
    filtering = include_funcs.n || exclude_funcs.n || cfg.include[0] || cfg.exclude[0];
    if (filtering) filter_scan();
}

static NOI void define_module(struct module *m) {
    if (m->id >= 0) return;
    uint32_t path = intern(m->path);
    m->path_sid_plus1 = path + 1;
    m->id = (int)E.nmodules++;
    emit_begin();
    mp_array(&E.buf, m->size ? 7 : 5);
    mp_uint(&E.buf, R_MODULE);
    mp_uint(&E.buf, (uint64_t)m->id);
    mp_uint(&E.buf, path);
    mp_uint(&E.buf, m->base);
    if (m->build_id_len) mp_bin(&E.buf, m->build_id, m->build_id_len);
    else mp_nil(&E.buf);
    if (m->size) {
        mp_uint(&E.buf, m->size);
        mp_uint(&E.buf, m->mtime_ns);
    }
}

static NOI struct module *module_of(uintptr_t addr) {
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < E.nmods; i++)
            if (addr >= E.mods[i].lo && addr < E.mods[i].hi) return &E.mods[i];
        if (pass || E.in_signal) break;
        scan_modules(); /* a library loaded since the last look (dlopen) */
    }
    return NULL;
}

static uint32_t function_id_lookup(uintptr_t key);

/* The function id for an address (or a tagged site pointer), defining it on first use.
 * UINT32_MAX: the function is excluded by the module filters. */
static uintptr_t last_key; /* function_id's last answer */
static uint32_t last_fid;

static NOI uint32_t function_id(uintptr_t key) {
    if (key == last_key && key) return last_fid; /* recursion and loops: the common case */
    uint32_t fid = function_id_lookup(key);
    last_key = key;
    last_fid = fid;
    return fid;
}

static NOI uint32_t function_id_lookup(uintptr_t key) {
    uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ull;
    uint32_t i = (uint32_t)(h >> 40) & (FN_CAP - 1);
    for (;; i = (i + 1) & (FN_CAP - 1)) {
        struct fn_slot *slot = &E.fns[i];
        if (slot->key == key) return slot->fid;
        if (!slot->key) break;
    }
    uint32_t fid;
    if (key & SITE_TAG) {
        const struct orion_site *site = (const struct orion_site *)(key & ~SITE_TAG);
        uint32_t name = intern(site->name ? site->name : "?");
        uint32_t file = site->file ? intern(site->file) : 0;
        fid = E.nfunctions++;
        emit_begin();
        mp_array(&E.buf, 6);
        mp_uint(&E.buf, R_FUNCTION);
        mp_uint(&E.buf, fid);
        mp_uint(&E.buf, name);
        mp_nil(&E.buf);
        if (site->file) mp_uint(&E.buf, file); else mp_nil(&E.buf);
        if (site->line > 0) mp_uint(&E.buf, (uint64_t)site->line); else mp_nil(&E.buf);
    } else {
        struct module *m = module_of(key);
        if (m && m->excluded) {
            fid = UINT32_MAX;
        } else {
            if (m) define_module(m);
            fid = E.nfunctions++;
            emit_begin();
            mp_array(&E.buf, 7);
            mp_uint(&E.buf, R_FUNCTION);
            mp_uint(&E.buf, fid);
            mp_nil(&E.buf);
            if (m) mp_uint(&E.buf, m->path_sid_plus1 - 1); else mp_nil(&E.buf);
            mp_nil(&E.buf);
            mp_nil(&E.buf);
            mp_uint(&E.buf, key);
        }
    }
    if (E.nfunctions < FN_CAP * 3 / 4) {
        E.fns[i].key = key;
        E.fns[i].fid = fid;
    }
    return fid;
}

static NOI void compress_and_write(void) {
    size_t n;
    if (E.in_signal || !E.zstd ||
        !(n = orion_zstd_compress(E.zstd, E.out, E.out_cap, E.buf.p, E.buf.len)))
        n = orion_raw_frame(E.out, E.out_cap, E.buf.p, E.buf.len);
    if (n && E.fd >= 0) write_all(E.fd, E.out, n);
}

/* Write the pending records as one frame; the next frame's clock restarts at 0. */
static NOI void flush_frame(void) {
    if (E.buf.len && !E.buf.overflow) {
        E.crc = orion_crc32(E.crc, E.buf.p, E.buf.len);
        compress_and_write();
    }
    E.buf.len = 0;
    E.buf.overflow = 0;
    E.last_t = 0;
}

static NOI void maybe_flush(void) {
    if (E.buf.len >= FRAME_TARGET) flush_frame();
}

/* Start a timed record at absolute time `t` (ns since the trace started). Definitions the
 * record needs must be emitted before this, since they may not move the clock. */
static NOI void timed(uint32_t code, uint32_t ncols, uint64_t t) {
    if (t < E.last_t) flush_frame(); /* another lane's events were older: new frame */
    if (t > E.max_t) E.max_t = t;
    emit_begin();
    mp_array(&E.buf, ncols + 1);
    mp_uint(&E.buf, code);
    mp_uint(&E.buf, t - E.last_t);
    E.last_t = t;
}

/* A lane's name: `main` for the main thread; else the name the thread gave itself (`own`,
 * when it differs from the process name, which threads inherit), else `thread N` by
 * creation order, so that the same thread of two runs has the same lane name (which is
 * how `orion diff` pairs lanes). Signal-safe. */
static NOI void lane_name(char *out, size_t cap, int tid, unsigned no, const char *own) {
    const char *text = tid == T.pid ? "main" : own[0] && strcmp(own, T.comm) ? own : NULL;
    if (text) {
        size_t n = strlen(text);
        if (n > cap - 1) n = cap - 1;
        memcpy(out, text, n);
        out[n] = 0;
        return;
    }
    char digits[12];
    size_t n = 0;
    do digits[n++] = (char)('0' + no % 10); while ((no /= 10) && n < sizeof digits);
    static const char prefix[] = "thread ";
    memcpy(out, prefix, sizeof prefix - 1);
    size_t o = sizeof prefix - 1;
    while (n && o + 1 < cap) out[o++] = digits[--n];
    out[o] = 0;
}

/* The thread's name as the kernel has it now (a thread may name itself after its first
 * traced call): from prctl for the calling thread (signal-safe), else from /proc outside
 * a signal handler; "" when unknown (a thread that has exited). */
static NOI void kernel_thread_name(const struct othread *th, char own[16]) {
    own[0] = 0;
    if (th->tid == (int)syscall(SYS_gettid)) {
        prctl(PR_GET_NAME, own);
        own[15] = 0;
        return;
    }
    if (E.in_signal || atomic_load(&th->dead)) return;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", th->tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = read(fd, own, 15);
    close(fd);
    own[n > 0 ? n : 0] = 0;
    char *newline = strchr(own, '\n');
    if (newline) *newline = 0;
}

/* Name the lane after what the thread is called now; keep the name it had when the
 * kernel's is unknown. */
static NOI void refresh_thread_name(struct othread *th) {
    char own[16];
    kernel_thread_name(th, own);
    if (own[0] || !th->name[0]) lane_name(th->name, sizeof th->name, th->tid, th->no, own);
}

static NOI void define_lane(struct othread *th) {
    if (th->lane >= 0) return;
    if (th->parent) define_lane(th->parent); /* a parent is defined before its children */
    refresh_thread_name(th);
    uint32_t name = intern(th->name);
    if (!E.thread_kind_sid_plus1) E.thread_kind_sid_plus1 = intern("thread") + 1;
    th->lane = (int)E.nlanes++;
    emit_begin();
    mp_array(&E.buf, 6);
    mp_uint(&E.buf, R_LANE);
    mp_uint(&E.buf, (uint64_t)th->lane);
    mp_uint(&E.buf, name);
    mp_uint(&E.buf, E.thread_kind_sid_plus1 - 1);
    mp_uint(&E.buf, (uint64_t)th->tid);
    if (th->parent) mp_uint(&E.buf, (uint64_t)th->parent->lane);
    else mp_nil(&E.buf);
}

static NOI uint64_t rel_time(uint64_t mono) {
    return mono > T.start_mono ? mono - T.start_mono : 0;
}

static NOI uint64_t tick_time(uint64_t tick) {
#if defined(__x86_64__)
    return tick > tick0 ? (uint64_t)((double)(tick - tick0) * tick_ns) : 0;
#else
    return rel_time(tick);
#endif
}

/* The summary's root from a symbol: C++ names demangled without parameters (not in a
 * signal handler: demangling allocates), a translation unit's static initialisation
 * (`_GLOBAL__sub_I_<key>`, the first call of many C++ programs) as c++filt writes the
 * older form, `global constructors keyed to <key>`, as `orion show` does. */
static NOI void readable_root(const char *name) {
    static const struct { const char *prefix, *text; } roots[] = {
        {"_GLOBAL__sub_I_", "global constructors keyed to "},
        {"_GLOBAL__sub_D_", "global destructors keyed to "}};
    const char *lead = "";
    for (size_t i = 0; i < sizeof roots / sizeof *roots; i++)
        if (!strncmp(name, roots[i].prefix, strlen(roots[i].prefix))) {
            lead = roots[i].text;
            name += strlen(roots[i].prefix);
            break;
        }
    char *readable = NULL;
    int status = -1;
    if (!E.in_signal && demangler && name[0] == '_' && name[1] == 'Z')
        readable = demangler(name, NULL, NULL, &status);
    if (readable && status == 0) strip_params(readable);
    snprintf(E.root, sizeof E.root, "%s%s", lead, readable && status == 0 ? readable : name);
    free(readable);
}

static NOI void set_root(uint32_t fid, uintptr_t key, const struct othread *th) {
    int on_main = th->tid == T.pid;
    if (E.root_on_main || (E.root_fid >= 0 && !on_main)) return;
    E.root_fid = fid;
    E.root_on_main = on_main;
    if (key & SITE_TAG) {
        const struct orion_site *site = (const struct orion_site *)(key & ~SITE_TAG);
        snprintf(E.root, sizeof E.root, "%s", site->name ? site->name : "?");
        return;
    }
    /* Named from the module's symbol tables (static functions too), so that `orion list`
     * shows it without reading the trace; signal-safe but for demangling. */
    struct module *m = module_of(key);
    struct orion_elf elf;
    const char *name = NULL;
    if (m && orion_elf_open(&elf, m->path)) {
        name = orion_elf_function_at(&elf, key - m->base);
        if (name) readable_root(name);
        orion_elf_close(&elf);
    }
    if (!name) {
        E.root[0] = '0';
        E.root[1] = 'x';
        E.root[2 + orion_hex(E.root + 2, key)] = 0;
    }
}

/* `site`: for a call, the return address in its caller (0: unknown), which readers turn
 * into the line the caller was at during the call; written as its distance from the
 * function's address (small: callers and callees are mostly near each other), and only
 * when it differs from the site of the function's previous call (a loop's calls omit it). */
static NOI void encode_entry(struct othread *th, const struct entry *e, uintptr_t site) {
    uint32_t kind = (uint32_t)(e->tk & 7);
    uint64_t t = tick_time(e->tk >> 3);
    if (t < th->last_t) t = th->last_t; /* the ratio was refined since: keep lanes monotonic */
    th->last_t = t;
    maybe_flush();
    switch (kind) {
    case K_CALL:
    case K_SCOPE: {
        uintptr_t key = kind == K_SCOPE ? (uintptr_t)e->p | SITE_TAG : (uintptr_t)e->p;
        uint32_t fid = function_id(key);
        uint32_t d = th->wdepth++;
        if (d < SHADOW_MAX) th->wskip[d] = fid == UINT32_MAX;
        if (fid == UINT32_MAX) return; /* excluded by module: its return goes too */
        set_root(fid, key, th);
        E.calls++;
        site = kind == K_CALL ? site : 0; /* a scope's key is no code address */
        if (fid < FN_CAP) {
            if (site == E.last_site[fid]) site = 0;
            else E.last_site[fid] = site;
        }
        timed(R_CALL, site ? 5 : 3, t);
        mp_uint(&E.buf, (uint64_t)th->lane);
        mp_uint(&E.buf, fid);
        if (site) {
            mp_nil(&E.buf); /* no arguments captured */
            mp_int(&E.buf, (int64_t)(site - key));
        }
        break;
    }
    case K_RETURN:
    case K_UNWIND:
        if (th->wdepth) {
            uint32_t d = --th->wdepth;
            if (d < SHADOW_MAX && th->wskip[d]) return;
        }
        break;
    }
    switch (kind) {
    case K_RETURN:
        E.returns++;
        timed(R_RETURN, 2, t);
        mp_uint(&E.buf, (uint64_t)th->lane);
        break;
    case K_UNWIND:
        E.unwinds++;
        timed(R_UNWIND, 3, t);
        mp_uint(&E.buf, (uint64_t)th->lane);
        mp_nil(&E.buf);
        break;
    case K_EXC: {
        struct exc_payload *x = (struct exc_payload *)e->p;
        if (!x) return;
        uint32_t type = intern(x->type ? x->type : "?");
        E.exceptions++;
        snprintf(E.exc_type, sizeof E.exc_type, "%s", x->type ? x->type : "?");
        snprintf(E.exc_message, sizeof E.exc_message, "%s", x->message ? x->message : "");
        snprintf(E.exc_kind, sizeof E.exc_kind, "exception");
        E.have_exc = 1;
        timed(R_EXCEPTION, 6, t);
        mp_uint(&E.buf, (uint64_t)th->lane);
        mp_uint(&E.buf, 0);
        mp_uint(&E.buf, type);
        mp_str(&E.buf, x->message ? x->message : "");
        mp_nil(&E.buf);
        if (!E.in_signal && cfg.mode != MODE_ERROR) {
            free(x->type);
            free(x->message);
            free(x);
        }
        break;
    }
    }
}

/* Lane ids are given in definition order: define new lanes in thread order (main first,
 * then creation order), not in the order the writer happens to find them, so that two
 * runs of a program list their lanes alike. A thread registered before one that has
 * events is defined with it, events or not yet. */
static NOI void define_lanes_in_order(void) {
    static struct othread *pending[1024]; /* static: this runs in the crash handler too */
    unsigned last = 0, n = 0;
    int any = 0;
    for (struct othread *th = atomic_load(&threads); th; th = th->next)
        if (th->lane < 0 && th->ring &&
            atomic_load_explicit(&th->w, memory_order_acquire) !=
                atomic_load_explicit(&th->r, memory_order_relaxed)) {
            any = 1;
            if (th->no > last) last = th->no;
        }
    if (!any) return;
    for (struct othread *th = atomic_load(&threads); th; th = th->next) {
        if (th->lane >= 0 || !th->ring || th->no > last) continue;
        if (n == sizeof pending / sizeof *pending) break; /* the rest: as drain_all finds them */
        unsigned k = n++;
        for (; k > 0 && pending[k - 1]->no > th->no; k--) pending[k] = pending[k - 1];
        pending[k] = th;
    }
    for (unsigned i = 0; i < n; i++) define_lane(pending[i]);
}

/* Encode every entry published by every thread since the last drain, the threads' entries
 * merged in time order (each ring is in order already): a reader streaming the file then
 * sees a thread's first calls while its creator's call is still open (exports nest them),
 * and frames restart their clock less often. In error mode the ring holds only the most
 * recent entries: read those. */
struct pending {
    struct othread *th;
    uint64_t r, w; /* the entries to encode */
};

static NOI uint64_t next_tick(const struct pending *p) {
    return p->th->ring[p->r & p->th->mask].tk >> 3;
}

static NOI void drain_all(void) {
    static struct pending lanes[1024]; /* static: this runs in the crash handler too */
    unsigned n = 0;
    calibrate();
    define_lanes_in_order();
    for (struct othread *th = atomic_load(&threads); th; th = th->next) {
        if (!th->ring) continue;
        uint64_t w = atomic_load_explicit(&th->w, memory_order_acquire);
        uint64_t r = atomic_load_explicit(&th->r, memory_order_relaxed);
        if (cfg.mode == MODE_ERROR && w - r > th->mask + 1) r = w - (th->mask + 1);
        if (r == w) continue;
        define_lane(th);
        if (n == sizeof lanes / sizeof *lanes) { /* more threads than that: in thread order */
            for (; r < w; r++)
                encode_entry(th, &th->ring[r & th->mask], th->ring_sites[r & th->mask]);
            atomic_store_explicit(&th->r, w, memory_order_release);
            continue;
        }
        lanes[n++] = (struct pending){th, r, w};
    }
    while (n) {
        /* the thread with the oldest next entry runs until another one's is older */
        unsigned oldest = 0;
        for (unsigned i = 1; i < n; i++)
            if (next_tick(&lanes[i]) < next_tick(&lanes[oldest])) oldest = i;
        uint64_t then = UINT64_MAX;
        for (unsigned i = 0; i < n; i++)
            if (i != oldest && next_tick(&lanes[i]) < then) then = next_tick(&lanes[i]);
        struct pending *p = &lanes[oldest];
        struct othread *th = p->th;
        do encode_entry(th, &th->ring[p->r & th->mask], th->ring_sites[p->r & th->mask]);
        while (++p->r < p->w && next_tick(p) <= then);
        if (p->r == p->w) {
            atomic_store_explicit(&th->r, p->w, memory_order_release);
            *p = lanes[--n];
        }
    }
}

/* ------------------------------------------------------------------------------------- */
/* the file: prelude, header, end record, trailer                                          */

static NOI void report_path(void) {
    if (!cfg.report[0]) return;
    int fd = open(cfg.report, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return;
    size_t n = strlen(T.path);
    char line[PATH_MAX + 1];
    memcpy(line, T.path, n);
    line[n] = '\n';
    write_all(fd, line, n + 1);
    close(fd);
}

static NOI void mkdirs(const char *path) {
    char tmp[PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof tmp) return;
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == 0) {
            char c = tmp[i];
            tmp[i] = 0;
            mkdir(tmp, 0755);
            tmp[i] = c;
        }
    }
}

/* Create the file under its hidden name, write the prelude and the header frame, then
 * rename it into place: readers never see a trace without a header. Signal-safe. */
static NOI int open_trace_file(void) {
    if (E.file_open) return 1;
    mkdirs(cfg.spool);
    E.fd = open(T.tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (E.fd < 0) return 0;
    uint8_t prelude[24];
    uint8_t payload[16] = {0x89, 'O', 'T', 'R', 'A', 'C', 'E', '\n', 1, 0, 0, 0, 0, 0, 0, 0};
    orion_skippable(prelude, sizeof prelude, payload, sizeof payload);
    write_all(E.fd, prelude, sizeof prelude);
    /* The header goes alone in the first frame. */
    struct obuf saved = E.buf;
    E.buf = T.header;
    E.records++;
    flush_frame();
    E.buf = saved;
    rename(T.tmp_path, T.path);
    E.file_open = 1;
    return 1;
}

static void pack_parent(struct obuf *b);

static NOI void pack_summary(struct obuf *b, const char *status, int exit_code, int have_code,
                             int with_checksum, uint32_t checksum) {
    mp_map(b, (with_checksum ? 15 : 14) + (cfg.service[0] ? 1 : 0) + (T.parent_trace[0] ? 1 : 0));
    mp_str(b, "trace_id"); mp_str(b, T.trace_id);
    mp_str(b, "status"); mp_str(b, status);
    mp_str(b, "language"); mp_str(b, cfg.language);
    mp_str(b, "mode"); mp_str(b, MODE_NAMES[cfg.mode]);
    mp_str(b, "start_ns"); mp_uint(b, T.start_ns);
    mp_str(b, "duration_ns"); mp_uint(b, E.max_t);
    mp_str(b, "command"); ob_put(b, T.command.p, T.command.len);
    mp_str(b, "host"); mp_str(b, T.host);
    mp_str(b, "pid"); mp_uint(b, (uint64_t)T.pid);
    mp_str(b, "root");
    if (E.root_fid >= 0) mp_str(b, E.root); else mp_nil(b);
    mp_str(b, "exception");
    if (E.have_exc && strcmp(status, "ok") != 0) {
        mp_map(b, 3);
        mp_str(b, "type"); mp_str(b, E.exc_type);
        mp_str(b, "message"); mp_str(b, E.exc_message);
        mp_str(b, "kind"); mp_str(b, E.exc_kind);
    } else {
        mp_nil(b);
    }
    mp_str(b, "exit_code");
    if (have_code) mp_int(b, exit_code); else mp_nil(b);
    mp_str(b, "counts");
    mp_map(b, 10);
    mp_str(b, "records"); mp_uint(b, E.records);
    mp_str(b, "calls"); mp_uint(b, E.calls);
    mp_str(b, "returns"); mp_uint(b, E.returns);
    mp_str(b, "unwinds"); mp_uint(b, E.unwinds);
    mp_str(b, "exceptions"); mp_uint(b, E.exceptions);
    mp_str(b, "crashes"); mp_uint(b, E.crashes);
    mp_str(b, "stacks"); mp_uint(b, E.stacks);
    mp_str(b, "events"); mp_uint(b, E.events);
    mp_str(b, "functions"); mp_uint(b, E.nfunctions);
    mp_str(b, "lanes"); mp_uint(b, E.nlanes);
    mp_str(b, "agent"); mp_str(b, "liborion " AGENT_VERSION);
    if (with_checksum) { mp_str(b, "checksum"); mp_uint(b, checksum); }
    if (cfg.service[0]) { mp_str(b, "service"); mp_str(b, cfg.service); }
    if (T.parent_trace[0]) pack_parent(b);
}

/* The end record (in the last frame) and the trailer frame; then close the file. */
static NOI void finish_file(const char *status, int exit_code, int have_code) {
    if (!E.file_open || E.finished) return;
    E.finished = 1;
    uint32_t checksum = E.buf.overflow ? E.crc : orion_crc32(E.crc, E.buf.p, E.buf.len);
    if (E.buf.len > FRAME_TARGET) { flush_frame(); checksum = E.crc; }
    mp_array(&E.buf, 2);
    mp_uint(&E.buf, R_END);
    size_t start = E.buf.len;
    pack_summary(&E.buf, status, exit_code, have_code, 1, checksum);
    size_t summary_len = E.buf.len - start;
    /* The trailer repeats the summary: build it in the compression buffer's tail. */
    static uint8_t trailer[64 * 1024];
    int trailer_ok = summary_len + 20 <= sizeof trailer;
    size_t tn = 0;
    if (trailer_ok) {
        uint8_t payload_hdr[8];
        (void)payload_hdr;
        static const uint8_t magic[4] = {0x5A, 0x2A, 0x4D, 0x18};
        uint32_t payload = (uint32_t)summary_len + 12;
        memcpy(trailer, magic, 4);
        for (int i = 0; i < 4; i++) trailer[4 + i] = (uint8_t)(payload >> (8 * i));
        memcpy(trailer + 8, E.buf.p + start, summary_len);
        tn = 8 + summary_len;
        for (int i = 0; i < 4; i++) trailer[tn++] = (uint8_t)((uint32_t)summary_len >> (8 * i));
        memcpy(trailer + tn, "\x89OTREND\n", 8);
        tn += 8;
    }
    flush_frame();
    if (trailer_ok) write_all(E.fd, trailer, tn);
    close(E.fd);
    E.fd = -1;
    report_path();
}

/* ------------------------------------------------------------------------------------- */
/* threads                                                                                */

static NOI void thread_gone(void *p) {
    struct othread *th = p;
    enc_lock(); /* a name given since the first call, for a lane not written yet */
    if (th->lane < 0) refresh_thread_name(th);
    enc_unlock();
    atomic_store(&th->dead, 1);
    tls_thread = th; /* keep hooks in later TLS destructors quiet (dead) */
}

static NOI void install_altstack(struct othread *th) {
    stack_t ss = {0};
    if (sigaltstack(NULL, &ss) == 0 && !(ss.ss_flags & SS_DISABLE)) return;
    size_t n = 64 * 1024;
    th->altstack = map_zero(n);
    if (!th->altstack) return;
    ss.ss_sp = th->altstack;
    ss.ss_size = n;
    ss.ss_flags = 0;
    sigaltstack(&ss, NULL);
}

static void start_trace(void);

static NOI struct othread *thread_register(void) {
    /* a thread's first call: in a program not known to be traced (an instrumented
     * library it dlopen'ed, liborion.a linked in), tracing begins here */
    if (atomic_load(&disabled) || !begin_tracing()) return NULL;
    tls_busy = 1;
    pthread_once(&start_once, start_trace);
    struct othread *th = calloc(1, sizeof *th);
    uint64_t cap = cfg.mode == MODE_ERROR ? cfg.ring_entries : DEV_RING;
    if (th) {
        th->ring = map_zero(cap * sizeof(struct entry));
        th->ring_sites = map_zero(cap * sizeof *th->ring_sites);
        th->shadow = calloc(SHADOW_MAX, sizeof *th->shadow);
        th->sites = calloc(SHADOW_MAX, sizeof *th->sites);
        th->kept = calloc(SHADOW_MAX, 1);
        th->wskip = calloc(SHADOW_MAX, 1);
    }
    if (!th || !th->ring || !th->ring_sites || !th->shadow || !th->sites || !th->kept ||
        !th->wskip) {
        tls_busy = 0;
        return NULL;
    }
    th->mask = cap - 1;
    th->lane = -1;
    th->tid = (int)syscall(SYS_gettid);
    if (th->tid != getpid())
        th->no = tls_thread_no ? tls_thread_no : atomic_fetch_add(&threads_created, 1) + 1;
    th->parent = tls_parent;
    refresh_thread_name(th);
    install_altstack(th);
    pthread_setspecific(thread_key, th);
    struct othread *head = atomic_load(&threads);
    do th->next = head;
    while (!atomic_compare_exchange_weak(&threads, &head, th));
    tls_thread = th;
    tls_busy = 0;
    return th;
}

/* The ring is full: wait for the writer (dev/safe). Bounded memory over never blocking;
 * once the trace is finished, events are dropped instead. */
static NOI int wait_space(struct othread *th, uint64_t w) {
    while (w - atomic_load_explicit(&th->r, memory_order_acquire) > th->mask) {
        if (atomic_load(&writer_state) != S_RUNNING) return 0;
        wake_writer();
        sleep_ns(20000);
    }
    return 1;
}

static HOT inline void push(struct othread *th, uint64_t kind, uint64_t p) {
    uint64_t w = atomic_load_explicit(&th->w, memory_order_relaxed);
    if (cfg.mode != MODE_ERROR) {
        if (unlikely(w - atomic_load_explicit(&th->r, memory_order_acquire) > th->mask) &&
            !wait_space(th, w))
            return;
    } else if (unlikely((th->ring[w & th->mask].tk & 7) == K_EXC) && w > th->mask) {
        struct exc_payload *old = (struct exc_payload *)th->ring[w & th->mask].p;
        th->ring[w & th->mask].p = 0;
        if (old) { free(old->type); free(old->message); free(old); }
    }
    struct entry *e = &th->ring[w & th->mask];
    e->tk = (ticks() << 3) | kind;
    e->p = p;
    atomic_store_explicit(&th->w, w + 1, memory_order_release);
    if (cfg.mode != MODE_ERROR && unlikely(((w + 1) & (th->mask >> 1)) == 0)) wake_writer();
}

static HOT inline struct othread *current(void) {
    struct othread *th = tls_thread;
    if (likely(th != NULL)) return atomic_load_explicit(&th->dead, memory_order_relaxed) ? NULL : th;
    if (tls_busy) return NULL;
    return thread_register();
}

static HOT inline void enter(uintptr_t key, uintptr_t site, uint64_t kind) {
    struct othread *th = current();
    if (unlikely(!th)) return;
    uint32_t d = th->depth++;
    if (likely(d < SHADOW_MAX)) {
        th->shadow[d] = key;
        th->sites[d] = site;
    }
    if (cfg.mode == MODE_SAFE) {
        if (d >= SHADOW_MAX) return;
        int keep = ++th->sample_ctr >= cfg.sample_every;
        if (keep) th->sample_ctr = 0;
        th->kept[d] = (uint8_t)keep;
        if (!keep) return;
    }
    /* the slot push() fills: only this thread moves w */
    th->ring_sites[atomic_load_explicit(&th->w, memory_order_relaxed) & th->mask] = site;
    push(th, kind, key & ~SITE_TAG);
}

static HOT inline void leave(struct othread *th, uint64_t kind) {
    uint32_t d = --th->depth;
    if (cfg.mode == MODE_SAFE && (d >= SHADOW_MAX || !th->kept[d])) return;
    push(th, kind, 0);
}

/* How the top frame ends while C++ exceptions may be in flight. g++ runs the exit hooks of
 * the frames an exception leaves from its cleanups: an exit at or below the depth the
 * newest uncaught exception has unwound to is one of them (an unwind, and the exception
 * is now one frame lower); a deeper one is a call made meanwhile (a destructor's), and
 * returns. */
static NOI uint64_t exit_kind(struct othread *th) {
    if (th->nthrown > *th->uncaught) th->nthrown = *th->uncaught; /* caught since */
    if (!th->nthrown) return K_RETURN;
    uint32_t *reached = &th->thrown_depth[(th->nthrown < THROWN_MAX ? th->nthrown : THROWN_MAX) - 1];
    if (th->depth > *reached) return K_RETURN;
    *reached = th->depth - 1;
    return K_UNWIND;
}

static HOT inline void leave_top(struct othread *th) {
    leave(th, unlikely(th->nthrown) ? exit_kind(th) : K_RETURN);
}

HOT void __cyg_profile_func_enter(void *fn, void *site) {
    if (unlikely(filtering) && !keep_fn((uintptr_t)fn)) return;
    enter((uintptr_t)fn, (uintptr_t)site, K_CALL);
}

HOT void __cyg_profile_func_exit(void *fn, void *site) {
    (void)site;
    if (unlikely(filtering) && !keep_fn((uintptr_t)fn)) return;
    struct othread *th = current();
    if (unlikely(!th || !th->depth)) return;
    uint32_t d = th->depth;
    if (unlikely(d <= SHADOW_MAX && th->shadow[d - 1] != (uintptr_t)fn)) {
        /* Frames left without their exit hook (an exception, longjmp): close them as
         * unwound, down to the frame this exit belongs to. */
        uint32_t k = d;
        while (k > 0 && th->shadow[k - 1] != (uintptr_t)fn) k--;
        if (k == 0) return; /* not a call we saw */
        while (th->depth > k) leave(th, K_UNWIND);
    }
    leave_top(th);
}

NOI void orion_scope_enter(const struct orion_site *site) {
    enter((uintptr_t)site | SITE_TAG, (uintptr_t)__builtin_return_address(0), K_SCOPE);
}

NOI void orion_scope_exit(void) {
    struct othread *th = current();
    if (th && th->depth) leave_top(th);
}

/* liborion++ calls this as a C++ exception is thrown or rethrown from the top frame;
 * `uncaught` is the C++ runtime's count of this thread's uncaught exceptions. */
NOI void orion_cxx_throwing(const unsigned *uncaught) {
    if (!begun()) return; /* every C++ program's throws: recorded only in traced ones */
    struct othread *th = current();
    if (!th) return;
    th->uncaught = uncaught;
    if (th->nthrown > *uncaught) th->nthrown = *uncaught;
    th->thrown_depth[th->nthrown < THROWN_MAX ? th->nthrown : THROWN_MAX - 1] = th->depth;
    if (th->nthrown < THROWN_MAX) th->nthrown++;
}

NOI void orion_exception(const char *type, const char *message) {
    struct othread *th = current();
    if (!th) return;
    struct exc_payload *x = malloc(sizeof *x);
    if (!x) return;
    x->type = strdup(type ? type : "?");
    const char *text = message ? message : "";
    size_t n = strnlen(text, MAX_TEXT);
    if ((x->message = malloc(MAX_TEXT + 1))) /* the message without the secrets */
        scrub(text, n, x->message, MAX_TEXT + 1);
    if (cfg.mode == MODE_SAFE) { /* exceptions are never sampled away */ }
    push(th, K_EXC, (uint64_t)(uintptr_t)x);
}

/* ------------------------------------------------------------------------------------- */
/* thread creation: numbers threads in the order they are created                          */

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

static NOI pthread_create_fn real_pthread_create(void) {
    static pthread_create_fn real;
    if (!real) real = (pthread_create_fn)dlsym(RTLD_NEXT, "pthread_create");
    return real;
}

struct thread_start {
    void *(*fn)(void *);
    void *arg;
    unsigned no;
    struct othread *parent; /* the creating thread, when it is traced */
};

static NOI void *start_numbered(void *p) {
    struct thread_start start = *(struct thread_start *)p;
    free(p);
    tls_thread_no = start.no;
    tls_parent = start.parent;
    void *result = start.fn(start.arg);
    /* Not a tail call: this frame is where unwinding a crash stops (agent code), not
     * the C library's thread start beyond it. */
    __asm__ volatile("" ::: "memory");
    return result;
}

/* Interposed: a thread's number is taken by its creator, so it does not depend on which
 * thread the scheduler runs first. */
NOI int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *),
                       void *arg) {
    struct thread_start *start =
        begun() && !atomic_load(&disabled) ? malloc(sizeof *start) : NULL;
    if (!start) return real_pthread_create()(thread, attr, fn, arg);
    *start = (struct thread_start){fn, arg, atomic_fetch_add(&threads_created, 1) + 1,
                                   tls_thread};
    int rc = real_pthread_create()(thread, attr, start_numbered, start);
    if (rc != 0) free(start);
    return rc;
}

/* ------------------------------------------------------------------------------------- */
/* the writer thread                                                                      */

static NOI void *writer_main(void *arg) {
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    for (size_t i = 0; i < sizeof crash_signals / sizeof *crash_signals; i++)
        sigdelset(&all, crash_signals[i]);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    tls_busy = 1;
    for (;;) {
        uint32_t seen = atomic_load(&wake_word);
        struct timespec ts = {0, WAKE_NS};
        futex(&wake_word, FUTEX_WAIT_PRIVATE, seen, &ts);
        enc_lock();
        if (atomic_load(&writer_state) != S_RUNNING || E.finished) {
            enc_unlock();
            break;
        }
        uint64_t now = rel_time(mono_ns());
        if (E.open_late && !E.file_open) {
            /* A forked child: most exec at once, and should leave no trace behind. */
            if (now < OPEN_LATE_NS || !open_trace_file()) {
                enc_unlock();
                continue;
            }
        }
        drain_all();
        if (E.buf.len >= FRAME_TARGET || (E.buf.len && now + WAKE_NS - E.last_flush_t >= FLUSH_NS)) {
            flush_frame();
            E.last_flush_t = now;
        }
        enc_unlock();
    }
    return NULL;
}

static NOI void start_writer(void) {
    atomic_store(&writer_state, S_RUNNING);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    if (real_pthread_create()(&writer_tid, NULL, writer_main, NULL) != 0)
        atomic_store(&writer_state, S_OFF);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* First traced event of the process (dev/safe): open the file and start the writer. */
static NOI void start_trace(void) {
    if (cfg.mode == MODE_ERROR) return;
    enc_lock();
    int ok = open_trace_file();
    enc_unlock();
    if (!ok) {
        atomic_store(&disabled, 1);
        return;
    }
    start_writer();
}

NOI void orion_flush(void) {
    if (atomic_load(&writer_state) != S_RUNNING) return;
    enc_lock();
    if (!E.finished && E.file_open) {
        drain_all();
        flush_frame();
    }
    enc_unlock();
}

NOI const char *orion_trace_path(void) { return E.file_open ? T.path : NULL; }

/* For liborion++, which sees every C++ program's throws and terminations: record them
 * only in a traced one. */
NOI int orion_tracing(void) { return begun(); }

/* ------------------------------------------------------------------------------------- */
/* crashes                                                                                */

/* Write the crash record and the stack of the crashing thread, then close the trace.
 * Runs in a signal handler or a terminate handler: the encoder is taken with a deadline
 * and everything it uses is pre-allocated. */
static NOI void write_crash(int from_signal, const char *kind, const char *reason,
                            const char *message, int sig, uintptr_t addr, uintptr_t pc) {
    if (!begun() || atomic_load(&disabled)) return;
    if (!enc_trylock(2000000000ull)) return;
    if (E.finished) { enc_unlock(); return; }
    E.in_signal = from_signal;
    if (!E.file_open && !open_trace_file()) { enc_unlock(); return; }
    drain_all();
    struct othread *th = tls_thread;
    if (!th || atomic_load(&th->dead)) {
        th = &signal_thread; /* a lane named like the thread, as if it had been traced */
        th->tid = (int)syscall(SYS_gettid);
        th->no = tls_thread_no ? tls_thread_no : atomic_fetch_add(&threads_created, 1) + 1;
        th->parent = tls_parent;
        th->name[0] = 0;
    }
    define_lane(th);
    static char clean[MAX_TEXT + 1]; /* the message without secret values (a what()) */
    if (!message) message = "";
    scrub(message, strnlen(message, MAX_TEXT), clean, sizeof clean);
    message = clean;
    uint32_t depth = th->depth < SHADOW_MAX ? th->depth : SHADOW_MAX;
    /* The frames, outermost first: the function and, for all but the innermost, the
     * address it was executing at a call (its callee's return address); the innermost is
     * placed by the pc. Readers turn them into lines. From the shadow stack when the
     * thread keeps one, else as the handler unwound it, else the faulting frame alone.
     * Definitions first: they must not sit between a timed record and the clock. */
    static struct { uint32_t fid; uintptr_t at; } frames[SHADOW_MAX + UNWIND_MAX];
    uint32_t nframes = 0;
    for (uint32_t i = 0; i < depth; i++) {
        uint32_t fid = function_id(th->shadow[i]);
        if (fid != UINT32_MAX) {
            frames[nframes].fid = fid;
            frames[nframes++].at = i + 1 < depth ? th->sites[i + 1] : 0;
        }
    }
    if (depth == 0 && from_signal && nunwound) {
        for (uint32_t i = nunwound; i-- > 0;) {
            /* A caller's frame is looked up at its return address - 1, inside the call:
             * after a call that does not return, the return address is the next
             * function's first byte. */
            uint32_t fid = function_id(i ? unwound[i] - 1 : unwound[i]);
            if (fid != UINT32_MAX) {
                frames[nframes].fid = fid;
                frames[nframes++].at = i ? unwound[i] : 0;
            }
        }
    } else if (depth == 0 && pc) {
        uint32_t fid = function_id(pc);
        if (fid != UINT32_MAX) {
            frames[nframes].fid = fid;
            frames[nframes++].at = 0;
        }
    }
    maybe_flush();
    uint64_t t = rel_time(mono_ns());
    if (t < E.max_t) t = E.max_t;
    E.crashes++;
    timed(R_CRASH, 6, t);
    mp_uint(&E.buf, (uint64_t)th->lane);
    mp_str(&E.buf, kind);
    mp_str(&E.buf, reason);
    mp_str(&E.buf, message);
    /* A traced thread that crashed in untraced code (the C library's abort): where its
     * innermost traced call was is among the return addresses the handler unwound. */
    int below = depth > 0 && from_signal && nunwound > 1;
    mp_map(&E.buf, (sig ? 4 : 1) + below);
    if (sig) {
        mp_str(&E.buf, "signal"); mp_uint(&E.buf, (uint64_t)sig);
        mp_str(&E.buf, "address"); mp_uint(&E.buf, addr);
        mp_str(&E.buf, "pc"); mp_uint(&E.buf, pc);
    }
    if (below) {
        mp_str(&E.buf, "unwound");
        mp_array(&E.buf, nunwound - 1);
        for (uint32_t i = 1; i < nunwound; i++) mp_uint(&E.buf, unwound[i]);
    }
    mp_str(&E.buf, "returns");
    mp_array(&E.buf, nframes);
    for (uint32_t i = 0; i < nframes; i++) mp_uint(&E.buf, frames[i].at);
    E.stacks++;
    timed(R_STACK, 4, t);
    mp_uint(&E.buf, (uint64_t)th->lane);
    mp_str(&E.buf, "crash");
    mp_array(&E.buf, nframes);
    for (uint32_t i = 0; i < nframes; i++) {
        mp_array(&E.buf, 3);
        mp_uint(&E.buf, frames[i].fid);
        mp_nil(&E.buf);
        mp_nil(&E.buf);
    }
    snprintf(E.exc_type, sizeof E.exc_type, "%s", reason);
    snprintf(E.exc_message, sizeof E.exc_message, "%s", message);
    snprintf(E.exc_kind, sizeof E.exc_kind, "%s", kind);
    E.have_exc = 1;
    finish_file("crashed", 128 + (sig ? sig : SIGABRT), 1);
    atomic_store(&writer_state, S_DONE);
    enc_unlock();
}

/* The text a failed assert() prints, kept for the crash record of the abort that follows.
 * The interposed __assert_fail lives in a section of its own, so that unwinding at the
 * crash steps over its frame; the C library's then prints and aborts as usual. */
static char assert_text[MAX_TEXT + 1];
static _Atomic int assert_taken;
extern const char __start_orion_assert[], __stop_orion_assert[];
typedef void (*assert_fail_fn)(const char *, const char *, unsigned, const char *);

__attribute__((section("orion_assert"), noreturn)) NOI void
__assert_fail(const char *assertion, const char *file, unsigned line, const char *function) {
    if (!atomic_exchange(&assert_taken, 1))
        snprintf(assert_text, sizeof assert_text, "%s:%u: %s%sAssertion `%s' failed.", file,
                 line, function ? function : "", function ? ": " : "", assertion);
    assert_fail_fn real = (assert_fail_fn)dlsym(RTLD_NEXT, "__assert_fail");
    if (real) real(assertion, file, line, function);
    abort();
}

static NOI int in_assert_hook(uintptr_t return_address) {
    return return_address - 1 >= (uintptr_t)__start_orion_assert &&
           return_address - 1 < (uintptr_t)__stop_orion_assert;
}

/* Unwind the interrupted stack from the signal handler (from the unwind tables: the
 * program needs no frame pointers), keeping the frames from the faulting pc outwards and
 * stopping at the agent's own frames (the wrapped main, a thread's start), beyond which
 * lie the C library's. backtrace() is warmed up at start, so that loading the unwinder
 * (which allocates) does not happen here. */
static NOI void unwind_crash(uintptr_t pc) {
    void *raw[UNWIND_MAX + 16];
    int n = backtrace(raw, UNWIND_MAX + 16);
    int k = 0;
    while (k < n && (uintptr_t)raw[k] != pc) k++; /* skip the handler's own frames */
    for (nunwound = 0; k < n && nunwound < UNWIND_MAX; k++) {
        uintptr_t a = (uintptr_t)raw[k];
        if (in_assert_hook(a)) continue;
        if (a >= agent_lo && a < agent_hi) break;
        unwound[nunwound++] = a;
    }
}

static NOI void on_crash_signal(int sig, siginfo_t *info, void *ucontext) {
    int saved = errno;
    if (atomic_exchange(&crashing, 1) == 0) {
        uintptr_t pc = 0;
#if defined(__x86_64__)
        pc = (uintptr_t)((ucontext_t *)ucontext)->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
        pc = (uintptr_t)((ucontext_t *)ucontext)->uc_mcontext.pc;
#endif
        (void)ucontext;
        if (pc) unwind_crash(pc); /* the stack, or below the shadow stack's innermost call */
        char message[96] = "killed by ";
        size_t n = strlen(message);
        const char *name = sig_name(sig);
        memcpy(message + n, name, strlen(name) + 1);
        n += strlen(name);
        if (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL) {
            memcpy(message + n, " at 0x", 6);
            n += 6;
            n += orion_hex(message + n, (uintptr_t)info->si_addr);
            message[n] = 0;
        }
        const char *text = sig == SIGABRT && assert_text[0] ? assert_text : message;
        write_crash(1, "signal", name, text, sig, (uintptr_t)info->si_addr, pc);
    }
    /* Re-raise with the previous action (the default, normally) so the exit status is
     * exactly what it would have been without us. */
    struct sigaction *old = &old_actions[sig];
    if (old->sa_handler == SIG_IGN) old->sa_handler = SIG_DFL;
    sigaction(sig, old, NULL);
    errno = saved;
    raise(sig);
}

NOI void orion_crash(const char *kind, const char *reason, const char *message) {
    if (!begin_tracing() || atomic_exchange(&crashing, 1)) return;
    write_crash(0, kind, reason, message, 0, 0, 0);
    /* the signal that usually follows (abort) only needs to be re-raised now */
    atomic_store(&crashing, 1);
}

static NOI void install_signal_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_crash_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof crash_signals / sizeof *crash_signals; i++) {
        int sig = crash_signals[i];
        sigaction(sig, NULL, &old_actions[sig]);
        /* A program that handles the signal itself keeps its handler. */
        if (old_actions[sig].sa_handler != SIG_DFL) continue;
        sigaction(sig, &sa, NULL);
    }
}

/* ------------------------------------------------------------------------------------- */
/* exit                                                                                   */

static NOI void finish_normally(void) {
    if (!begun() || atomic_load(&crashing)) return;
    atomic_store(&crashing, 1); /* late signals: nothing more to write */
    int was_running = atomic_exchange(&writer_state, S_DONE) == S_RUNNING;
    if (was_running) {
        wake_writer();
        pthread_join(writer_tid, NULL);
    }
    int code = T.have_exit_code ? T.exit_code : 0;
    enc_lock();
    if (((cfg.mode == MODE_ERROR && code != 0) || E.open_late) && atomic_load(&threads))
        open_trace_file();
    if (E.file_open && !E.finished) {
        drain_all();
        if (code != 0 && !E.have_exc) {
            snprintf(E.exc_type, sizeof E.exc_type, "exit");
            snprintf(E.exc_message, sizeof E.exc_message, "exit status %d", code);
            snprintf(E.exc_kind, sizeof E.exc_kind, "exit");
            E.have_exc = 1;
        }
        finish_file(code ? "failed" : "ok", code, T.have_exit_code);
    }
    enc_unlock();
}

__attribute__((destructor)) static NOI void orion_fini(void) { finish_normally(); }

/* Exit statuses: interpose exit() and _exit(), and wrap main() through
 * __libc_start_main (when preloaded or linked ahead of libc). */
NOI void exit(int code) {
    T.exit_code = code;
    T.have_exit_code = 1;
    if (!real_exit) real_exit = (exit_fn)dlsym(RTLD_NEXT, "exit");
    real_exit(code);
    __builtin_unreachable();
}

NOI void _exit(int code) {
    T.exit_code = code;
    T.have_exit_code = 1;
    finish_normally();
    if (!real__exit) real__exit = (exit_fn)dlsym(RTLD_NEXT, "_exit");
    real__exit(code);
    __builtin_unreachable();
}

typedef int (*main_fn)(int, char **, char **);
static main_fn real_main;

static NOI int wrapped_main(int argc, char **argv, char **envp) {
    int code = real_main(argc, argv, envp);
    T.exit_code = code & 0xff;
    T.have_exit_code = 1;
    return code;
}

NOI int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void),
                          void (*fini)(void), void (*rtld_fini)(void), void *stack_end) {
    int (*real)(main_fn, int, char **, void (*)(void), void (*)(void), void (*)(void), void *) =
        dlsym(RTLD_NEXT, "__libc_start_main");
    real_main = main;
    return real(wrapped_main, argc, argv, init, fini, rtld_fini, stack_end);
}

/* ------------------------------------------------------------------------------------- */
/* start-up: settings, spool, header                                                      */

static NOI int find_project_spool(char *out, size_t cap) {
    char dir[PATH_MAX];
    if (!getcwd(dir, sizeof dir)) return 0;
    char resolved[PATH_MAX];
    if (realpath(dir, resolved)) snprintf(dir, sizeof dir, "%s", resolved);
    for (;;) {
        char candidate[PATH_MAX + 16];
        snprintf(candidate, sizeof candidate, "%s/.orion", strcmp(dir, "/") ? dir : "");
        struct stat st;
        if (stat(candidate, &st) == 0 && S_ISDIR(st.st_mode)) {
            snprintf(out, cap, "%s/spool", candidate);
            return 1;
        }
        char *slash = strrchr(dir, '/');
        if (!slash || !strcmp(dir, "/")) return 0;
        if (slash == dir) slash[1] = 0;
        else *slash = 0;
    }
}

static NOI void resolve_spool(void) {
    const char *env = getenv("ORION_SPOOL");
    if (env && *env) {
        if (env[0] == '~' && getenv("HOME"))
            snprintf(cfg.spool, sizeof cfg.spool, "%s%s", getenv("HOME"), env + 1);
        else
            snprintf(cfg.spool, sizeof cfg.spool, "%s", env);
        return;
    }
    if (find_project_spool(cfg.spool, sizeof cfg.spool)) return;
    const char *xdg = getenv("XDG_DATA_HOME");
    if (xdg && *xdg) snprintf(cfg.spool, sizeof cfg.spool, "%s/orionis/spool", xdg);
    else snprintf(cfg.spool, sizeof cfg.spool, "%s/.local/share/orionis/spool",
                  getenv("HOME") ? getenv("HOME") : "");
}

static NOI const char *env_or_empty(const char *name) {
    const char *value = getenv(name);
    return value ? value : "";
}

static NOI void read_settings(void) {
    const char *mode = getenv("ORION_MODE");
    if (mode && !strcmp(mode, "dev")) cfg.mode = MODE_DEV;
    else if (mode && !strcmp(mode, "safe")) cfg.mode = MODE_SAFE;
    else cfg.mode = MODE_ERROR;
    const char *sample = getenv("ORION_SAMPLE");
    double fraction = 0.01;
    if (sample && *sample) {
        if (!strcmp(sample, "off") || !strcmp(sample, "all") || !strcmp(sample, "none") ||
            !strcmp(sample, "no"))
            fraction = 1.0;
        else {
            char *end;
            double v = strtod(sample, &end);
            if (end != sample) fraction = *end == '%' ? v / 100 : v;
        }
    }
    cfg.sample_every = fraction >= 1.0 ? 1 : fraction <= 0 ? UINT32_MAX : (uint32_t)(1.0 / fraction + 0.5);
    const char *ring = getenv("ORION_RING");
    uint64_t want = ring && *ring ? strtoull(ring, NULL, 10) : 20000;
    if (want < 16) want = 16;
    uint64_t cap = 16;
    while (cap < want) cap <<= 1;
    cfg.ring_entries = cap;
    const char *level = getenv("ORION_ZSTD_LEVEL");
    if (level && *level) cfg.level = atoi(level);
    /* Not ORION_INCLUDE / ORION_EXCLUDE: those name Python modules (the Python agent's). */
    snprintf(cfg.include, sizeof cfg.include, "%s", env_or_empty("ORION_INCLUDE_LIBS"));
    snprintf(cfg.exclude, sizeof cfg.exclude, "%s", env_or_empty("ORION_EXCLUDE_LIBS"));
    snprintf(cfg.include_funcs, sizeof cfg.include_funcs, "%s", env_or_empty("ORION_INCLUDE_FUNCS"));
    snprintf(cfg.exclude_funcs, sizeof cfg.exclude_funcs, "%s", env_or_empty("ORION_EXCLUDE_FUNCS"));
    snprintf(cfg.service, sizeof cfg.service, "%s", getenv("ORION_SERVICE") ? getenv("ORION_SERVICE") : "");
    snprintf(cfg.report, sizeof cfg.report, "%s", getenv("ORION_REPORT") ? getenv("ORION_REPORT") : "");
    cfg.every_program = !strcmp(env_or_empty("ORION_NATIVE_CRASHES"), "all");
    resolve_spool();
}

/* argv as a msgpack array: the value of an option whose name looks secret redacted
 * (`--api-key=<redacted>`, or the word after `--password` or a password-like `-p`), and
 * secret values scrubbed from every word. */
static NOI void pack_argv(struct obuf *b) {
    static char word[MAX_TEXT + 1], clean[MAX_TEXT + 1];
    mp_array(b, (uint32_t)nargv);
    for (int i = 0; i < nargv; i++) {
        const char *arg = argv_words[i], *name, *value;
        size_t len = argv_lens[i];
        if (argv_hidden[i]) {
            mp_str(b, REDACTED);
            continue;
        }
        size_t name_len = option_name(arg, &name, &value);
        if (name_len && value && looks_secret(name, name_len)) {
            snprintf(word, sizeof word, "%.*s=" REDACTED, (int)(value - arg), arg);
            arg = word;
            len = strlen(word);
        }
        mp_strn(b, clean, scrub(arg, len, clean, sizeof clean));
    }
}

static const struct { const char *name; const char *cols[7]; int timed; } RECORDS[] = {
    {"header", {"meta"}, 0},
    {"string", {"id", "text"}, 0},
    {"function", {"id", "name", "module", "file", "line", "addr?"}, 0},
    {"lane", {"id", "name", "kind", "native_id", "parent"}, 0},
    {"call", {"dt", "lane", "fn", "args?", "site?"}, 1},
    {"return", {"dt", "lane", "value?"}, 1},
    {"exception", {"dt", "lane", "kind", "exc_type", "message", "line"}, 1},
    {"unwind", {"dt", "lane", "line", "locals?"}, 1},
    {"crash", {"dt", "lane", "kind", "reason", "message", "detail"}, 1},
    {"stack", {"dt", "lane", "reason", "frames"}, 1},
    {"event", {"dt", "lane", "kind", "attrs"}, 1},
    {"module", {"id", "path", "base", "build_id", "size?", "mtime?"}, 0},
};

static NOI int language_of_executable(void) {
    /* C++ when the executable itself needs libstdc++ or libc++. */
    struct link_map *map = NULL;
    void *self = dlopen(NULL, RTLD_NOW | RTLD_NOLOAD);
    if (!self || dlinfo(self, RTLD_DI_LINKMAP, &map) != 0 || !map) return 0;
    const ElfW(Dyn) *dyn = map->l_ld;
    const char *strtab = NULL;
    for (const ElfW(Dyn) *d = dyn; d && d->d_tag != DT_NULL; d++)
        if (d->d_tag == DT_STRTAB) strtab = (const char *)d->d_un.d_ptr;
    if (!strtab) return 0;
    for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++)
        if (d->d_tag == DT_NEEDED) {
            const char *lib = strtab + d->d_un.d_val;
            if (strstr(lib, "libstdc++") || strstr(lib, "libc++")) return 1;
        }
    return 0;
}

static NOI void pack_parent(struct obuf *b) {
    mp_str(b, "parent");
    mp_map(b, 2);
    mp_str(b, "trace_id"); mp_str(b, T.parent_trace);
    mp_str(b, "span_id"); mp_str(b, T.parent_span);
}

/* The environment variables the header records (spec 4.1): envsnap.py COMMON_VARIABLES,
 * then the C runtime's own, and ORION_ENV_ALLOW's; a name, or a prefix ending in `*`. */
static const char *const ENV_SELECTED[] = {
    "PATH", "PWD", "LD_LIBRARY_PATH", "LD_PRELOAD",
    "LANG", "LANGUAGE", "LC_*", "TZ",
    "CI", "CONTINUOUS_INTEGRATION", "GITHUB_*", "RUNNER_*", "GITLAB_CI", "CI_*",
    "BUILDKITE*", "CIRCLE*", "TRAVIS*", "JENKINS_URL", "BUILD_*", "TF_BUILD",
    "CC", "CXX", "CFLAGS", "CXXFLAGS", "CPPFLAGS", "LDFLAGS", "MAKEFLAGS",
    "SOURCE_DATE_EPOCH",
    "ORION_*",
    /* the C runtime's own */
    "LD_*", "MALLOC_*", "GLIBC_TUNABLES", "ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS",
    "LSAN_OPTIONS", NULL};

static NOI int env_pattern_matches(const char *pattern, size_t plen, const char *name, size_t n) {
    if (plen && pattern[plen - 1] == '*') return n >= plen - 1 && !memcmp(name, pattern, plen - 1);
    return plen && n == plen && !memcmp(name, pattern, n);
}

static NOI int env_selected(const char *name, size_t n) {
    for (const char *const *p = ENV_SELECTED; *p; p++)
        if (env_pattern_matches(*p, strlen(*p), name, n)) return 1;
    for (const char *p = getenv("ORION_ENV_ALLOW"); p && *p;) {
        const char *end = strchr(p, ',');
        size_t k = end ? (size_t)(end - p) : strlen(p);
        while (k && *p == ' ') p++, k--;
        while (k && p[k - 1] == ' ') k--;
        if (env_pattern_matches(p, k, name, n)) return 1;
        if (!end) break;
        p = end + 1;
    }
    return 0;
}

static NOI void pack_header(void) {
    struct obuf *b = &T.header;
    extern char **environ;
    struct utsname un;
    uname(&un);
    char cwd[PATH_MAX] = "", exe[PATH_MAX] = "";
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = 0;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    int extra = (cfg.service[0] ? 1 : 0) + (T.parent_trace[0] ? 1 : 0);
    int ring = cfg.mode == MODE_ERROR;
    mp_array(b, 2);
    mp_uint(b, R_HEADER);
    mp_map(b, 9 + extra + ring);
    mp_str(b, "format"); mp_str(b, "otrace");
    mp_str(b, "version"); mp_array(b, 2); mp_uint(b, 1); mp_uint(b, 0);
    mp_str(b, "trace_id"); mp_str(b, T.trace_id);
    mp_str(b, "agent");
    mp_map(b, 3);
    mp_str(b, "language"); mp_str(b, cfg.language);
    mp_str(b, "name"); mp_str(b, "liborion");
    mp_str(b, "version"); mp_str(b, AGENT_VERSION);
    mp_str(b, "mode"); mp_str(b, MODE_NAMES[cfg.mode]);
    mp_str(b, "start_ns"); mp_uint(b, T.start_ns);
    mp_str(b, "process");
    mp_map(b, 5);
    mp_str(b, "pid"); mp_uint(b, (uint64_t)T.pid);
    mp_str(b, "argv"); ob_put(b, T.command.p, T.command.len);
    mp_str(b, "cwd"); mp_str(b, cwd);
    mp_str(b, "executable"); mp_str(b, exe);
    mp_str(b, "host"); mp_str(b, T.host);
    mp_str(b, "env");
    mp_map(b, 7);
    mp_str(b, "os"); mp_str(b, un.sysname);
    char platform[600];
    snprintf(platform, sizeof platform, "%s-%s-%s", un.sysname, un.release, un.machine);
    mp_str(b, "platform"); mp_str(b, platform);
    mp_str(b, "machine"); mp_str(b, un.machine);
    mp_str(b, "kernel"); mp_str(b, un.version);
    char runtime[64];
    snprintf(runtime, sizeof runtime, "%s (glibc %s)", !strcmp(cfg.language, "cpp") ? "C++" : "C",
             gnu_get_libc_version());
    mp_str(b, "runtime"); mp_str(b, runtime);
    mp_str(b, "vars"); /* the selected variables; the others are only counted */
    uint32_t count = 0, omitted = 0;
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (env_selected(*e, eq ? (size_t)(eq - *e) : strlen(*e)) && count < 2000) count++;
        else omitted++;
    }
    mp_map(b, count);
    uint32_t i = 0;
    for (char **e = environ; e && *e && i < count; e++) {
        const char *eq = strchr(*e, '=');
        size_t klen = eq ? (size_t)(eq - *e) : strlen(*e);
        const char *value = eq ? eq + 1 : "";
        if (!env_selected(*e, klen)) continue;
        i++;
        mp_strn(b, *e, klen);
        /* its secret shapes scrubbed, a value still holding a secret one is redacted */
        static char clean[1001];
        size_t vlen = strlen(value);
        size_t clen = scrub_with(value, vlen > 1000 ? 1000 : vlen, clean, sizeof clean, 0);
        if (looks_secret(*e, klen) || leaks_secret(clean, clen)) {
            mp_map(b, 2);
            mp_str(b, "t"); mp_str(b, "str");
            mp_str(b, "redacted"); mp_bool(b, 1);
        } else {
            mp_strn(b, clean, clen);
        }
    }
    mp_str(b, "vars_omitted"); mp_uint(b, omitted);
    mp_str(b, "records");
    mp_array(b, 13);
    for (int k = 0; k < 13; k++) {
        int code = k < 12 ? k : R_END;
        const char *name = k < 12 ? RECORDS[k].name : "end";
        mp_map(b, 4);
        mp_str(b, "type"); mp_uint(b, (uint64_t)code);
        mp_str(b, "name"); mp_str(b, name);
        mp_str(b, "columns");
        if (k == 12) {
            mp_array(b, 1); mp_str(b, "summary");
        } else {
            uint32_t c = 0;
            while (c < 7 && RECORDS[k].cols[c]) c++;
            mp_array(b, c);
            for (uint32_t j = 0; j < c; j++) mp_str(b, RECORDS[k].cols[j]);
        }
        mp_str(b, "timed"); mp_bool(b, k < 12 && RECORDS[k].timed);
    }
    if (cfg.service[0]) { mp_str(b, "service"); mp_str(b, cfg.service); }
    if (T.parent_trace[0]) pack_parent(b);
    if (ring) { mp_str(b, "window"); mp_str(b, "ring"); }
}

/* `n` random bytes as 2n hex digits into `out`. */
static NOI void random_hex(char *out, size_t n) {
    uint8_t id[16];
    if (getrandom(id, n, 0) != (ssize_t)n) {
        uint64_t x = mono_ns() ^ ((uint64_t)getpid() << 32);
        for (size_t i = 0; i < n; i++) { x = x * 6364136223846793005ull + 1; id[i] = (uint8_t)(x >> 56); }
    }
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = "0123456789abcdef"[id[i] >> 4];
        out[2 * i + 1] = "0123456789abcdef"[id[i] & 15];
    }
    out[2 * n] = 0;
}

static NOI void make_names(void) {
    random_hex(T.trace_id, 16);
    random_hex(T.span_id, 8);
    time_t secs = (time_t)(T.start_ns / 1000000000ull);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
    unsigned micros = (unsigned)((T.start_ns % 1000000000ull) / 1000);
    char name[128];
    snprintf(name, sizeof name, "%s%06uZ-%s.otrace", stamp, micros, T.trace_id);
    snprintf(T.path, sizeof T.path, "%s/%s", cfg.spool, name);
    snprintf(T.tmp_path, sizeof T.tmp_path, "%s/.%s.tmp", cfg.spool, name);
}

/* Where the agent's code is, when it is a library of its own (not linked into the
 * executable), and the unwinder loaded ahead of any crash. */
static NOI void find_agent_code(void) {
    void *warm[4];
    backtrace(warm, 4);
    struct module *m = module_of((uintptr_t)&find_agent_code);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    if (m && strcmp(m->path, exe) != 0) {
        agent_lo = m->lo;
        agent_hi = m->hi;
    }
}

/* ORION_PARENT=<trace id>-<span id>: set for the processes a traced Python program starts. */
static NOI void read_parent(void) {
    const char *v = getenv("ORION_PARENT");
    const char *dash = v ? strchr(v, '-') : NULL;
    if (!dash || dash - v != 32 || strlen(dash + 1) != 16) return;
    memcpy(T.parent_trace, v, 32);
    T.parent_trace[32] = 0;
    memcpy(T.parent_span, dash + 1, 17);
}

/* Fork: the encoder is taken around it, so the child gets it in a consistent state. */
static NOI void orion_atfork_prepare(void) { enc_lock(); }
static NOI void orion_atfork_parent(void) { enc_unlock(); }

/* Fresh zeroed pages in place of a table the parent filled (cheaper than memset: the
 * parent's pages are not copied). */
static NOI void rezero(void *p, size_t n) {
    if (p) mmap(p, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
}

/* A forked child without exec starts a trace of its own, as the Python agent does: a new
 * trace id, the parent's trace and span as its parent, lanes and definitions from scratch.
 * The forking thread, the only one the child has, carries on: its active calls are
 * entered again at the child's start so that the returns to come have their calls. */
static NOI void orion_atfork_child(void) {
    if (!begun()) return;
    tls_busy = 1;
    memcpy(T.parent_trace, T.trace_id, sizeof T.parent_trace);
    memcpy(T.parent_span, T.span_id, sizeof T.parent_span);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    T.start_ns = (uint64_t)wall.tv_sec * 1000000000ull + (uint64_t)wall.tv_nsec;
    T.start_mono = mono_ns();
    tick0 = ticks();
    T.pid = getpid();
    T.have_exit_code = 0;
    T.exit_code = 0;
    make_names();
    T.header.len = 0;
    pack_header();

    /* the encoder (already locked by the prepare handler) */
    E.fd = -1;
    E.file_open = E.finished = E.in_signal = 0;
    E.buf.len = 0;
    E.buf.overflow = 0;
    E.last_t = E.max_t = E.last_flush_t = 0;
    E.crc = 0;
    E.records = E.calls = E.returns = E.unwinds = E.exceptions = E.crashes = E.stacks = E.events = 0;
    E.nstrings = E.nfunctions = E.nlanes = E.nmodules = 0;
    E.root_fid = -1;
    E.root_on_main = 0;
    E.root[0] = 0;
    E.have_exc = 0;
    E.thread_kind_sid_plus1 = 0;
    rezero(E.fns, FN_CAP * sizeof *E.fns);
    rezero(E.last_site, FN_CAP * sizeof *E.last_site);
    rezero(E.strs, STR_CAP * sizeof *E.strs);
    E.arena_len = 0;
    for (int i = 0; i < E.nmods; i++) {
        E.mods[i].id = -1;
        E.mods[i].path_sid_plus1 = 0;
    }
    last_key = 0;
    last_fid = 0;
    signal_thread.lane = -1;

    /* threads: only this one survives fork */
    atomic_store(&threads_created, 0);
    struct othread *th = tls_thread;
    if (th && atomic_load(&th->dead)) th = NULL;
    atomic_store(&threads, th);
    atomic_store(&writer_state, S_OFF);
    atomic_store(&crashing, 0);
    if (th) {
        th->next = NULL;
        th->tid = (int)syscall(SYS_gettid);
        th->no = 0;
        th->parent = NULL;
        th->lane = -1;
        th->last_t = 0;
        th->wdepth = 0;
        snprintf(th->name, sizeof th->name, "main");
        atomic_store(&th->r, atomic_load(&th->w)); /* the parent's events stay the parent's */
        uint32_t depth = th->depth < SHADOW_MAX ? th->depth : SHADOW_MAX;
        for (uint32_t d = 0; d < depth; d++) {
            if (cfg.mode == MODE_SAFE && !th->kept[d]) continue;
            uintptr_t key = th->shadow[d];
            th->ring_sites[atomic_load(&th->w) & th->mask] = th->sites[d];
            push(th, key & SITE_TAG ? K_SCOPE : K_CALL, key & ~SITE_TAG);
        }
    }
    E.open_late = th && cfg.mode != MODE_ERROR;
    enc_unlock();
    if (E.open_late) start_writer(); /* dev and safe: a writer of its own */
    else if (!th) start_once = (pthread_once_t)PTHREAD_ONCE_INIT; /* its first call starts it */
    tls_busy = 0;
}

/* The entry points instrumented code calls: a module that imports one of them calls the
 * agent (-finstrument-functions, ORION_TRACE() scopes). */
static const char *const AGENT_ENTRIES[] = {"__cyg_profile_func_enter", "orion_scope_enter",
                                            NULL};

static NOI int calls_agent_cb(struct dl_phdr_info *info, size_t size, void *found) {
    (void)size;
    uintptr_t lo, hi, self = (uintptr_t)&calls_agent_cb;
    if (module_span(info, &lo, &hi) && self >= lo && self < hi)
        /* the agent's own code; linked into the executable (liborion.a), it was asked for */
        *(int *)found = !info->dlpi_name || !*info->dlpi_name;
    else
        *(int *)found = orion_module_imports(info, AGENT_ENTRIES);
    return *(int *)found; /* non-zero ends the walk */
}

/* Is the executable, or a library loaded with it, instrumented? Then tracing begins at
 * start, before the program's own code runs, as the crash handlers must. */
static NOI int program_calls_agent(void) {
    int found = 0;
    dl_iterate_phdr(calls_agent_cb, &found);
    return found;
}

/* Everything tracing needs, set up once the process is known to be traced: the header,
 * the encoder's tables, the module map, the filters, the fork handlers, and the crash
 * handlers. 0 when memory could not be had (the agent then stays off). */
static NOI int set_up(void) {
    while (mono_ns() < T.start_mono + 200000) { /* a first ratio; refined while running */ }
    calibrate();
    T.pid = getpid();
    read_parent();
    if (gethostname(T.host, sizeof T.host) != 0) T.host[0] = 0;
    make_names();
    if (language_of_executable()) snprintf(cfg.language, sizeof cfg.language, "cpp");
    T.command = (struct obuf){malloc(72 * 1024), 0, 72 * 1024, 0};
    T.header = (struct obuf){malloc(512 * 1024), 0, 512 * 1024, 0};
    E.buf = (struct obuf){map_zero(FRAME_CAP), 0, FRAME_CAP, 0};
    E.out_cap = orion_zstd_bound(FRAME_CAP) + orion_raw_frame_bound(FRAME_CAP);
    E.out = map_zero(E.out_cap);
    E.fns = map_zero(FN_CAP * sizeof *E.fns);
    E.last_site = map_zero(FN_CAP * sizeof *E.last_site);
    E.strs = map_zero(STR_CAP * sizeof *E.strs);
    E.arena = map_zero(STR_ARENA);
    if (!T.command.p || !T.header.p || !E.buf.p || !E.out || !E.fns || !E.last_site ||
        !E.strs || !E.arena)
        return 0;
    read_cmdline();
    read_secret_values();
    pack_argv(&T.command);
    pack_header();
    E.zstd = orion_zstd_open(cfg.level);
    E.fd = -1;
    E.root_fid = -1;
    orion_crc32(0, "", 0);
    scan_modules();
    find_agent_code();
    filter_init();
    pthread_key_create(&thread_key, thread_gone);
    pthread_atfork(orion_atfork_prepare, orion_atfork_parent, orion_atfork_child);
    signal_thread.lane = -1;
    real_exit = (exit_fn)dlsym(RTLD_NEXT, "exit");
    real__exit = (exit_fn)dlsym(RTLD_NEXT, "_exit");
    install_signal_handlers();
    stack_t ss;
    if (sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_DISABLE)) {
        static struct othread first_alt; /* the thread that begins: main, at start */
        install_altstack(&first_alt);
    }
    return 1;
}

/* Begin tracing, once: at start, or on the first call into the agent. A thread that
 * comes while another sets up does not wait (it may be inside dlopen, holding the lock
 * the setting up needs): its call goes unrecorded. Non-zero once tracing has begun. */
static NOI int begin_tracing(void) {
    int expected = B_PASSIVE;
    if (atomic_compare_exchange_strong(&begin_state, &expected, B_BEGINNING)) {
        int busy = tls_busy;
        tls_busy = 1;
        atomic_store(&begin_state, set_up() ? B_BEGUN : B_OFF);
        tls_busy = busy;
    }
    return begun();
}

/* At start: the settings and the clocks, then tracing only if the program calls the agent
 * (or ORION_NATIVE_CRASHES=all asks for crash capture in every program). */
__attribute__((constructor(101))) static NOI void orion_init(void) {
    if (atomic_load(&begin_state) != B_UNREAD) return;
    const char *off = getenv("ORION_DISABLE");
    if (off && *off && strcmp(off, "0")) {
        atomic_store(&begin_state, B_OFF);
        return;
    }
    read_settings();
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    T.start_ns = (uint64_t)wall.tv_sec * 1000000000ull + (uint64_t)wall.tv_nsec;
    T.start_mono = mono_ns();
    tick0 = ticks();
    pthread_getname_np(pthread_self(), T.comm, sizeof T.comm);
    /* Calls before this (an instrumented library's constructors, run before the agent's)
     * go unrecorded: tracing begins only once the settings are read. */
    atomic_store(&begin_state, B_PASSIVE);
    if (cfg.every_program || program_calls_agent()) begin_tracing();
}
