/* liborion: the Orionis agent for C and C++ programs.
 *
 * Build with -finstrument-functions and link -lorion (or preload liborion.so, which is what
 * `orion run` does): every instrumented call is recorded into an .otrace file in the spool.
 * Settings come from the environment: ORION_MODE (dev | safe | error, default error),
 * ORION_SPOOL, ORION_SAMPLE (safe mode: fraction of calls kept), ORION_RING (error mode:
 * events kept per thread), ORION_INCLUDE_FUNCS / ORION_EXCLUDE_FUNCS (comma-separated glob
 * patterns on function names: the symbol, or a C++ name demangled with or without its
 * parameters, e.g. "log_*,ns::Cache::*"), ORION_INCLUDE_LIBS / ORION_EXCLUDE_LIBS (path
 * substrings of the executable or shared libraries), ORION_REDACT, ORION_SERVICE,
 * ORION_REPORT. Filters leave out a function's calls and returns; its callees that are kept
 * appear under its caller. ORION_TRACE() scopes are always kept.
 */
#ifndef ORION_H
#define ORION_H

#ifdef __cplusplus
extern "C" {
#endif

#define ORION_NOINSTR __attribute__((no_instrument_function))

/* A named scope: a function record with a name, file and line known at compile time. */
struct orion_site {
    const char *name;
    const char *file;
    int line;
};

/* Weak: a program that uses the scope macros still links and runs without liborion
 * (the scopes then cost a test), and `orion run` supplies it by preloading. */
__attribute__((weak)) void orion_scope_enter(const struct orion_site *site);
__attribute__((weak)) void orion_scope_exit(void);
/* An exception raised on this thread (C++ throw, or a C library's own error type). */
void orion_exception(const char *type, const char *message);
/* The process is about to die of an uncaught error: write the crash and the stack now. */
void orion_crash(const char *kind, const char *reason, const char *message);
/* Push what was recorded so far to the trace file (dev and safe modes). */
void orion_flush(void);
/* The path of the trace being written, or NULL when none is open yet. */
const char *orion_trace_path(void);

#ifndef __cplusplus
/* C scopes (GCC and Clang): ORION_TRACE() spans the enclosing block, named after the function. */
static inline ORION_NOINSTR void orion__scope_end(int *unused) {
    (void)unused;
    if (orion_scope_exit) orion_scope_exit();
}
#define ORION__CAT2(a, b) a##b
#define ORION__CAT(a, b) ORION__CAT2(a, b)
#define ORION_TRACE_NAMED(label)                                                          \
    static const struct orion_site ORION__CAT(orion__site_, __LINE__) = {label, __FILE__, \
                                                                          __LINE__};      \
    int ORION__CAT(orion__scope_, __LINE__) __attribute__((cleanup(orion__scope_end))) =  \
        (orion_scope_enter ? orion_scope_enter(&ORION__CAT(orion__site_, __LINE__)) : (void)0, 0)
#define ORION_TRACE() ORION_TRACE_NAMED(__func__)
#endif

#ifdef __cplusplus
}
#endif
#endif
