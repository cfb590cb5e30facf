/* The compiled hook, which records the hot events itself. On CPython >= 3.12 its callbacks
 * are sys.monitoring's (PEP 669; see "the sys.monitoring hook" below: process-wide, filtered
 * code disabled at its first event); on 3.11, or when every free tool id is taken, it is a
 * C profile function (PyEval_SetProfile, installed per thread as VizTracer does). Both
 * feed the same record writers; what follows describes the profile hook where they differ.
 *
 * - Every code object carries a cache entry (co_extra): its function id, or "not traced".
 *   Only the first sight of a code object calls Python (Session.classify, which applies
 *   the filters and defines the function); untraced code then costs one lookup.
 * - Lanes: each thread keeps a shadow stack of its traced frames; a new frame runs on the
 *   lane of the nearest traced frame below it, else on its thread's lane, or for
 *   coroutine code on the running asyncio task's lane (asked of Python).
 * - dev/safe: calls, returns and unwinds are msgpack-encoded here into a chunk, which the
 *   session moves into its TraceWriter (append_packed) before anything Python writes and
 *   when the chunk is full. Values that are not simple scalars, and the locals of unwound
 *   frames, are captured by Python, so records are those of the pure-Python hook.
 * - error: calls, returns and unwinds go into a fixed ring of C structs (Ring).
 * - Adaptive capture (dev/safe; spec section 7.1): a function's first `full_calls` calls
 *   are recorded with their values, then one call in `value_every`; the others are
 *   recorded without arguments, return value or unwind locals. Past `max_calls` calls
 *   in the trace no new call is recorded (exceptions still are, and the calls already
 *   open still get their returns). The counts of both go into the summary (`capture`).
 * - Threads: install() hooks every thread of the interpreter, including those already
 *   running (threading.setprofile hooks later ones) but not the agent's own;
 *   uninstall() unhooks them all.
 * - Call sites (spec 4.6): a call record carries its caller's current line when it differs
 *   from the last one that function's calls carried.
 * - python -m: wrap_main's C function stands in for runpy._run_module_as_main, to learn
 *   the exit status of a SystemExit raised in untraced code.
 *
 * Exceptions. The profile protocol has no exception event (a trace function, which has
 * one, makes CPython 3.11 check for a new line at every instruction: ~25% dearer here).
 * A frame unwound by an exception arrives as a return with no value, while CPython holds
 * the exception where no callback can read it. So the unwind is kept pending and a trace
 * function is installed on this thread just long enough to see the exception arrive in
 * the next Python frame (the "exception" event carries it): then the `exception` record
 * (when this exception is new on the lane) and the unwind are written, and the trace
 * function goes away. An exception that no Python frame receives (swallowed by C code)
 * leaves the unwind without an exception record, unless Session.fail names it. The
 * outermost frame of a thread (no Python caller, e.g. a script's module body) keeps the
 * trace function while it runs its own lines, so a `sys.exit(n)` there is seen.
 *
 * Record layouts and type codes: orion/format/constants.py.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>
#include <opcode.h>
/* a frame's caller and its line, read off the interpreter's frames (internal) without
 * making frame objects for them */
#define Py_BUILD_CORE 1
#include <internal/pycore_frame.h>
#undef Py_BUILD_CORE
#if PY_VERSION_HEX >= 0x030D0000
#define FRAME_CODE(f) _PyFrame_GetCode(f)
#else
#define FRAME_CODE(f) ((f)->f_code)
#endif
#include <math.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <x86intrin.h>
#define HAVE_TSC 1
#else
#define HAVE_TSC 0
#endif

#if SIZEOF_VOID_P < 8
#error "the compiled hook needs 64-bit pointers (the Python hook is used instead)"
#endif
#if PY_VERSION_HEX >= 0x030C0000
#define REQUEST_EXTRA PyUnstable_Eval_RequestCodeExtraIndex
#define SET_EXTRA PyUnstable_Code_SetExtra
#else
#define REQUEST_EXTRA _PyEval_RequestCodeExtraIndex
#define SET_EXTRA _PyCode_SetExtra
#endif
/* co_extra's layout (CPython's _PyCodeObjectExtra, Objects/codeobject.c, the same from 3.6
 * to 3.13): read here at every call, where the API function's checks cost as much as the
 * read. Entries are written through the API. */
typedef struct {
    Py_ssize_t size;
    void *extras[1];
} CodeExtra;

#define REC_CALL 4
#define REC_RETURN 5
#define REC_EXCEPTION 6
#define REC_UNWIND 7
#define MAX_TEXT 200
#define CHUNK_BYTES (64 * 1024)
#define CORO_FLAGS (CO_COROUTINE | CO_ITERABLE_COROUTINE | CO_ASYNC_GENERATOR)
#define GEN_FLAGS (CO_GENERATOR | CORO_FLAGS)

enum { MODE_CALLS = 0, MODE_VALUES = 1, MODE_RING = 2 };

static Py_ssize_t extra_index = -1;
static uint64_t generations = 0;
static PyObject *s_classify, *s_thread_lane_id, *s_task_lane_id, *s_arg_names, *s_intern,
    *s_drain, *s_calls, *s_returns, *s_unwinds;

static inline int64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);  /* time.perf_counter_ns() on POSIX */
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline uint64_t
ticks(void)
{
#if HAVE_TSC
    return __rdtsc();
#else
    return 0;
#endif
}

/* -- a growable byte buffer and msgpack encoding -------------------------------------- */

/* The hook's own memory (record buffers, function table, stacks, ring) comes from the C
 * library, not PyMem: tracemalloc traces PyMem blocks and blames each on the traced line
 * running, so a program measuring its own allocations counted the agent's records. */
typedef struct {
    char *data;
    Py_ssize_t len, cap;
} Buf;

static int
buf_reserve(Buf *b, Py_ssize_t extra)
{
    if (b->len + extra <= b->cap)
        return 0;
    Py_ssize_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra)
        cap *= 2;
    char *data = realloc(b->data, cap);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

/* The put_* functions write at `p`, which has room (the caller reserved it), and return
 * the position after what they wrote: a record reserves once, then writes unchecked. */
static inline char *
put_be(char *p, unsigned char tag, uint64_t v, int size)
{
    *p++ = (char)tag;
    for (int i = size - 1; i >= 0; i--)
        *p++ = (char)(v >> (8 * i));
    return p;
}

#define MAX_INT_BYTES 9

/* Integers as msgpack-python packs them (smallest form; unsigned forms for positives). */
static inline char *
put_int(char *p, int64_t v)
{
    if (v >= 0) {
        if (v < 128) {
            *p = (char)v;
            return p + 1;
        }
        if (v < 256)
            return put_be(p, 0xcc, (uint64_t)v, 1);
        if (v < 65536)
            return put_be(p, 0xcd, (uint64_t)v, 2);
        if (v < 4294967296LL)
            return put_be(p, 0xce, (uint64_t)v, 4);
        return put_be(p, 0xcf, (uint64_t)v, 8);
    }
    if (v >= -32) {
        *p = (char)(0xe0 | (v + 32));
        return p + 1;
    }
    if (v >= -128)
        return put_be(p, 0xd0, (uint64_t)v, 1);
    if (v >= -32768)
        return put_be(p, 0xd1, (uint64_t)v, 2);
    if (v >= -2147483648LL)
        return put_be(p, 0xd2, (uint64_t)v, 4);
    return put_be(p, 0xd3, (uint64_t)v, 8);
}

static int
pack_int(Buf *b, int64_t v)
{
    if (buf_reserve(b, MAX_INT_BYTES) < 0)
        return -1;
    b->len = put_int(b->data + b->len, v) - b->data;
    return 0;
}

static int
pack_array(Buf *b, Py_ssize_t n)
{
    if (buf_reserve(b, 5) < 0)
        return -1;
    char *p = b->data + b->len;
    if (n < 16)
        *p++ = (char)(0x90 | n);
    else if (n < 65536)
        p = put_be(p, 0xdc, (uint64_t)n, 2);
    else
        p = put_be(p, 0xdd, (uint64_t)n, 4);
    b->len = p - b->data;
    return 0;
}

static int
pack_bytes(Buf *b, const char *data, Py_ssize_t n)
{
    if (buf_reserve(b, n) < 0)
        return -1;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return 0;
}

/* Whether the word ending at s[i - 1] may be a header's name (values.py _SHAPES):
 * Authorization, Cookie, or hyphenated. */
static int
header_name_before(const char *s, Py_ssize_t i)
{
    Py_ssize_t start = i;
    int hyphen = 0;
    while (start > 0 && (Py_ISALNUM(s[start - 1]) || s[start - 1] == '-'))
        hyphen |= s[--start] == '-';
    Py_ssize_t n = i - start;
    return hyphen || (n == 13 && !PyOS_strnicmp(s + start, "authorization", 13))
           || (n == 6 && !PyOS_strnicmp(s + start, "cookie", 6));
}

/* Whether UTF-8 `s` may hold a secret shape (values.py _SHAPES: a URL's password, a query
 * parameter or header line, a bearer, GitHub, AWS, Slack or JSON Web token): then Python
 * captures it, which scrubs the shape.
 * One test per byte for most bytes: it runs on every string the hook packs itself. */
static int
may_hold_secret_shape(const char *s, Py_ssize_t n)
{
#define AT(lit) (i + (Py_ssize_t)sizeof lit - 1 <= n && !memcmp(p, lit, sizeof lit - 1))
    if (n < 4)
        return 0;
    for (Py_ssize_t i = 0; i + 3 <= n; i++) {
        const char *p = s + i;
        switch (*p) {
        case '?':
        case '&':
        case ';':
            if (memchr(p, '=', (size_t)(n - i)))
                return 1;
            break;
        case ':':
            if (AT("://") || header_name_before(s, i))
                return 1;
            break;
        case 'A':
            if (AT("AKIA") || AT("ASIA"))
                return 1;
            break;
        case 'e':
            if (AT("eyJ"))
                return 1;
            break;
        case 'g':
            if ((i + 4 <= n && p[1] == 'h' && p[2] && strchr("pousr", p[2]) && p[3] == '_')
                || AT("github_pat_"))
                return 1;
            break;
        case 'x':
            if (i + 5 <= n && p[1] == 'o' && p[2] == 'x' && p[3] && strchr("abposr", p[3])
                && p[4] == '-')
                return 1;
            break;
        case 'b':
        case 'B':
            if (i + 7 <= n && !PyOS_strnicmp(p + 1, "earer", 5))
                return 1;
            break;
        }
    }
    return 0;
#undef AT
}

/* Whether `obj` is a value the C side packs as itself, exactly as Capturer.value would:
 * None, bool, int64 int, finite float, str of at most 200 characters holding no secret. */
static int
simple_value(PyObject *obj, PyObject *secret_values)
{
    if (obj == Py_None || PyBool_Check(obj))
        return 1;
    if (PyLong_CheckExact(obj)) {
        int overflow;
        PyLong_AsLongLongAndOverflow(obj, &overflow);
        return overflow == 0;
    }
    if (PyFloat_CheckExact(obj))
        return isfinite(PyFloat_AS_DOUBLE(obj));
    if (!PyUnicode_CheckExact(obj) || PyUnicode_GET_LENGTH(obj) > MAX_TEXT)
        return 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(secret_values); i++) {
        int found = PyUnicode_Contains(obj, PyList_GET_ITEM(secret_values, i));
        if (found != 0) {
            PyErr_Clear();
            return 0;
        }
    }
    Py_ssize_t size;
    const char *text = PyUnicode_AsUTF8AndSize(obj, &size);
    if (text == NULL) {  /* lone surrogates: Python packs */
        PyErr_Clear();
        return 0;
    }
    return !may_hold_secret_shape(text, size);
}

static int
pack_simple(Buf *b, PyObject *obj)
{
    if (obj == Py_None || PyBool_Check(obj)) {
        if (buf_reserve(b, 1) < 0)
            return -1;
        b->data[b->len++] = (char)(obj == Py_None ? 0xc0 : obj == Py_True ? 0xc3 : 0xc2);
        return 0;
    }
    if (PyLong_CheckExact(obj))
        return pack_int(b, PyLong_AsLongLong(obj));
    if (PyFloat_CheckExact(obj)) {
        double d = PyFloat_AS_DOUBLE(obj);
        uint64_t bits;
        memcpy(&bits, &d, 8);
        if (buf_reserve(b, 9) < 0)
            return -1;
        b->len = put_be(b->data + b->len, 0xcb, bits, 8) - b->data;
        return 0;
    }
    Py_ssize_t n;
    const char *text = PyUnicode_AsUTF8AndSize(obj, &n);
    if (text == NULL || buf_reserve(b, 5 + n) < 0)
        return -1;
    char *p = b->data + b->len;
    if (n < 32)
        *p++ = (char)(0xa0 | n);
    else if (n < 256)
        p = put_be(p, 0xd9, (uint64_t)n, 1);
    else
        p = put_be(p, 0xda, (uint64_t)n, 2);  /* 200 characters are at most 800 bytes */
    b->len = p - b->data;
    return pack_bytes(b, text, n);
}

/* -- the error-mode ring ----------------------------------------------------------------- */

typedef struct {
    int64_t t;
    int64_t a;      /* call: function id, and its site << 32; unwind: line */
    int32_t kind;
    int32_t lane;
    PyObject *obj;  /* an event Python appended (an exception), as its tuple */
} Entry;

typedef struct {
    PyObject_HEAD
    Entry *entries;
    Py_ssize_t cap, head, count;
} Ring;

static inline void
ring_push(Ring *r, int32_t kind, int64_t t, int32_t lane, int64_t a, PyObject *obj)
{
    Entry *e;
    if (r->count == r->cap) {
        e = &r->entries[r->head];
        r->head = (r->head + 1) % r->cap;
        Py_CLEAR(e->obj);
    }
    else {
        e = &r->entries[(r->head + r->count) % r->cap];
        r->count++;
    }
    e->t = t;
    e->a = a;
    e->kind = kind;
    e->lane = lane;
    e->obj = obj;
}

static PyObject *
Ring_append(Ring *self, PyObject *event)
{
    if (!PyTuple_Check(event) || PyTuple_GET_SIZE(event) < 3) {
        PyErr_SetString(PyExc_TypeError, "a ring event is a tuple (kind, t, lane, ...)");
        return NULL;
    }
    int64_t t = PyLong_AsLongLong(PyTuple_GET_ITEM(event, 1));
    if (t == -1 && PyErr_Occurred())
        return NULL;
    Py_INCREF(event);
    ring_push(self, (int32_t)PyLong_AsLong(PyTuple_GET_ITEM(event, 0)), t, 0, 0, event);
    Py_RETURN_NONE;
}

static PyObject *
Ring_clear(Ring *self, PyObject *unused)
{
    for (Py_ssize_t i = 0; i < self->count; i++)
        Py_CLEAR(self->entries[(self->head + i) % self->cap].obj);
    self->head = self->count = 0;
    Py_RETURN_NONE;
}

static Py_ssize_t
Ring_len(Ring *self)
{
    return self->count;
}

/* ring[i], oldest first, in the tuple form of the Python hook's deque. */
static PyObject *
Ring_item(Ring *self, Py_ssize_t i)
{
    if (i < 0 || i >= self->count) {
        PyErr_SetString(PyExc_IndexError, "ring index out of range");
        return NULL;
    }
    Entry *e = &self->entries[(self->head + i) % self->cap];
    if (e->obj != NULL)
        return Py_NewRef(e->obj);
    if (e->kind == REC_RETURN)
        return Py_BuildValue("(iLi)", e->kind, (long long)e->t, e->lane);
    if (e->kind == REC_CALL)  /* (kind, t, lane, function, site) */
        return Py_BuildValue("(iLiLi)", e->kind, (long long)e->t, e->lane,
                             (long long)(e->a & 0xffffffff), (int)(e->a >> 32));
    return Py_BuildValue("(iLiL)", e->kind, (long long)e->t, e->lane, (long long)e->a);
}

static void
Ring_dealloc(Ring *self)
{
    Py_XDECREF(Ring_clear(self, NULL));
    free(self->entries);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Ring_methods[] = {
    {"append", (PyCFunction)Ring_append, METH_O, "Add an event tuple (kind, t, lane, ...)."},
    {"clear", (PyCFunction)Ring_clear, METH_NOARGS, "Forget every event."},
    {NULL}
};

static PySequenceMethods Ring_as_sequence = {
    .sq_length = (lenfunc)Ring_len,
    .sq_item = (ssizeargfunc)Ring_item,
};

static PyTypeObject RingType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "orion.agent._hook.Ring",
    .tp_basicsize = sizeof(Ring),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)Ring_dealloc,
    .tp_methods = Ring_methods,
    .tp_as_sequence = &Ring_as_sequence,
    .tp_doc = "Bounded ring of recent events (error mode), oldest first.",
};

/* -- the tracer (one per session) ------------------------------------------------------ */

typedef struct {
    int64_t calls;     /* calls seen so far (adaptive capture) */
    Py_ssize_t nargs;
    PyObject *names;   /* tuple of (name, secret) pairs from Session.arg_names */
    int64_t sids[];    /* interned name ids, -1 until the name is first written */
} FnInfo;

typedef struct {
    PyObject_HEAD
    PyObject *session;
    PyObject *secret_values;  /* the session's list of str, which grows as values are
                               * redacted: strings containing one are captured by Python */
    Ring *ring;               /* error mode */
    int64_t t0;
    /* the clock: the TSC scaled to ns (a third of clock_gettime's cost here), kept on
     * the monotonic clock by recalibrating every CALIBRATE_EVERY readings and at take() */
    double rate;           /* ns per tick; 0: use clock_gettime */
    uint64_t anchor_tsc, calib_tsc;
    int64_t anchor_t, calib_ns, clock_last;
    int readings;
    uint64_t gen;             /* tags this session's co_extra entries */
    int mode;
    int enabled;
    Buf chunk;
    Py_ssize_t records, calls, returns, unwinds;
    int64_t base_t;  /* the time the chunk's first delta is taken from */
    int64_t last_t;  /* time of the last record packed */
    int64_t max_t;
    int64_t root;    /* function of the chunk's first call, or -1 */
    FnInfo **fns;     /* by function id; entries never move (other threads hold them) */
    Py_ssize_t nfns;
    int32_t *sites;   /* by function id: the site its last call record carries (-1: none) */
    Py_ssize_t nsites;
    PyObject **last_exc;  /* by lane: the exception last recorded (a reference, dropped at
                           * a return once nothing else holds it: ids get reused) */
    Py_ssize_t nlanes;
    /* adaptive capture: the policy (full_calls < 0: every call keeps its values; max_calls
     * 0: no cap) and what it left out */
    int64_t full_calls, value_every, max_calls;
    int64_t recorded_calls, calls_without_values, calls_dropped;
    int tool;                /* its sys.monitoring tool id; -1: the profile hook */
    PyObject *states;        /* sys.monitoring: every thread's ThreadState (a list) */
    unsigned long installer; /* the thread that installed it (never the agent's own) */
} Tracer;

static void clock_recalibrate(Tracer *tr);
#define CALIBRATE_EVERY 65536

/* Nanoseconds since t0, never going back. */
static inline int64_t
tracer_now(Tracer *tr)
{
    if (tr->rate <= 0)
        return now_ns() - tr->t0;
    if (++tr->readings >= CALIBRATE_EVERY)
        clock_recalibrate(tr);
    int64_t t = tr->anchor_t + (int64_t)((double)(int64_t)(ticks() - tr->anchor_tsc) * tr->rate);
    if (t < tr->clock_last)
        t = tr->clock_last;
    tr->clock_last = t;
    return t;
}

/* Start the TSC clock: ticks per ns over a 1 ms spin (invariant TSC assumed on x86-64,
 * as VizTracer does; the rate is refined from the whole run at every take). */
static void
clock_start(Tracer *tr)
{
    tr->rate = 0;
    if (!HAVE_TSC)
        return;
    uint64_t a = ticks();
    int64_t na = now_ns(), nb;
    do
        nb = now_ns();
    while (nb - na < 1000000);
    uint64_t b = ticks();
    if (b <= a)
        return;
    tr->calib_tsc = a;
    tr->calib_ns = na;
    tr->anchor_tsc = b;
    tr->anchor_t = nb - tr->t0;
    tr->clock_last = 0;
    tr->readings = 0;
    tr->rate = (double)(nb - na) / (double)(b - a);
}

/* Refine the rate from the whole run, and slew towards the monotonic clock over ~1 s. */
static void
clock_recalibrate(Tracer *tr)
{
    tr->readings = 0;
    if (tr->rate <= 0)
        return;
    uint64_t tsc = ticks();
    int64_t ns = now_ns();
    if (ns - tr->calib_ns < 10000000 || tsc <= tr->calib_tsc)
        return;
    int64_t cur = tr->anchor_t + (int64_t)((double)(int64_t)(tsc - tr->anchor_tsc) * tr->rate);
    double rate = (double)(ns - tr->calib_ns) / (double)(tsc - tr->calib_tsc);
    double slew = (double)(ns - tr->t0 - cur) / 1e9;  /* relative correction over 1 s */
    if (slew > 1e-3)
        slew = 1e-3;
    else if (slew < -1e-3)
        slew = -1e-3;
    tr->anchor_tsc = tsc;
    tr->anchor_t = cur;
    tr->rate = rate * (1 + slew);
}

#define SLOT_RECORDED 1  /* its call record was written: its return or unwind is too */
#define SLOT_VALUES 2    /* dev: its values are captured (adaptive capture) */

typedef struct {
    const void *frame;  /* identity only (the profile hook's frame object, the monitoring
                         * hook's interpreter frame): alive while on the stack */
    int64_t lane;
    int flags;             /* SLOT_* */
} Slot;

/* Per-thread state: the object PyEval_SetProfile passes back to the callback. */
typedef struct {
    PyObject_HEAD
    Tracer *tracer;
    int64_t lane;  /* the thread's lane, -1 until first needed */
    Slot *stack;
    Py_ssize_t depth, cap;
    Buf scratch;   /* arguments being captured */
    int tracing;   /* our trace function is installed on this thread */
    /* an unwind waiting for its exception (see the top of this file) */
    PyObject *p_frame;   /* the unwound frame (a reference), NULL when none */
    PyObject *p_locals;  /* dev: its packed locals */
    int64_t p_lane, p_t;  /* the unwind's time: records keep it, however late written */
    int p_line;
    int p_flags;  /* its slot's flags */
    PyFrameObject *top;  /* the thread's outermost traced frame while it runs (identity) */
    PyObject *top_exc;   /* the exception that last arrived in it */
    int ignored;         /* sys.monitoring: one of the agent's own threads */
} ThreadState;

static PyTypeObject ThreadStateType;

static int
report(void)
{
    /* A failing Python callback must not break the traced program. */
    if (PyErr_ExceptionMatches(PyExc_Exception)) {
        PyErr_WriteUnraisable(NULL);
        return 0;
    }
    return -1;
}

static int64_t
call_int(PyObject *session, PyObject *name, PyObject *arg)
{
    PyObject *r = arg ? PyObject_CallMethodOneArg(session, name, arg)
                      : PyObject_CallMethodNoArgs(session, name);
    if (r == NULL)
        return -2;
    int64_t v = PyLong_AsLongLong(r);
    Py_DECREF(r);
    return (v == -1 && PyErr_Occurred()) ? -2 : v;
}

#define UNKNOWN (-3)

/* The function id of `code` as this tracer classified it (-1: not traced), UNKNOWN when
 * it has not. */
static inline int64_t
cached_id(Tracer *tr, PyCodeObject *code)
{
    const CodeExtra *extra = code->co_extra;
    uintptr_t v = extra != NULL && extra_index < extra->size
        ? (uintptr_t)extra->extras[extra_index] : 0;
    return v >> 32 == tr->gen ? (int64_t)(v & 0xffffffffu) - 1 : UNKNOWN;
}

/* The function id of `code` (-1: not traced), asking Session.classify on first sight. */
static int64_t
function_id(Tracer *tr, PyCodeObject *code, PyFrameObject *frame, int classify)
{
    int64_t cached = cached_id(tr, code);
    if (cached != UNKNOWN)
        return cached;
    if (!classify)
        return -1;
    int64_t fid = call_int(tr->session, s_classify, (PyObject *)frame);
    if (fid < -1 || fid >= 0xfffffffeLL)
        return fid < -1 ? -2 : -1;
    if (SET_EXTRA((PyObject *)code, extra_index, (void *)((tr->gen << 32) | (uintptr_t)(fid + 1))) < 0)
        return -2;
    return fid;
}

static int
drain_if_full(Tracer *tr)
{
    if (tr->chunk.len < CHUNK_BYTES)
        return 0;
    PyObject *r = PyObject_CallMethodNoArgs(tr->session, s_drain);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* Start a timed record in the chunk: array header (fewer than 16 columns), type and
 * delta, with room for `more` bytes after them; the position to write them at (NULL on
 * error). end_record closes it. */
static inline char *
begin_record(Tracer *tr, int columns, int code, int64_t t, Py_ssize_t more)
{
    if (buf_reserve(&tr->chunk, 2 + MAX_INT_BYTES + more) < 0)
        return NULL;
    if (tr->records == 0)
        tr->base_t = tr->last_t;
    char *p = tr->chunk.data + tr->chunk.len;
    *p++ = (char)(0x90 | columns);
    *p++ = (char)code;
    p = put_int(p, t - tr->last_t);
    tr->last_t = t;
    if (t > tr->max_t)
        tr->max_t = t;
    tr->records++;
    return p;
}

static inline int
end_record(Tracer *tr, char *end)
{
    tr->chunk.len = end - tr->chunk.data;
    return drain_if_full(tr);
}

/* A function's argument names, fetched from Python on its first start. The entry stays
 * put while Python runs (another thread may then add functions). */
static FnInfo *
fn_info(Tracer *tr, int64_t fid, PyFrameObject *frame)
{
    if (fid >= tr->nfns) {
        Py_ssize_t n = tr->nfns ? tr->nfns : 64;
        while (n <= fid)
            n *= 2;
        FnInfo **fns = realloc(tr->fns, n * sizeof(FnInfo *));
        if (fns == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        memset(fns + tr->nfns, 0, (n - tr->nfns) * sizeof(FnInfo *));
        tr->fns = fns;
        tr->nfns = n;
    }
    if (tr->fns[fid] != NULL)
        return tr->fns[fid];
    PyObject *names = PyObject_CallMethodOneArg(tr->session, s_arg_names, (PyObject *)frame);
    if (names == NULL)
        return NULL;
    if (tr->fns[fid] != NULL) {  /* another thread got there while Python ran */
        Py_DECREF(names);
        return tr->fns[fid];
    }
    if (!PyTuple_Check(names)) {
        Py_DECREF(names);
        PyErr_SetString(PyExc_TypeError, "Session.arg_names must return a tuple");
        return NULL;
    }
    Py_ssize_t nargs = PyTuple_GET_SIZE(names);
    FnInfo *info = malloc(sizeof(FnInfo) + nargs * sizeof(int64_t));
    if (info == NULL) {
        Py_DECREF(names);
        PyErr_NoMemory();
        return NULL;
    }
    info->calls = 0;
    info->nargs = nargs;
    info->names = names;
    for (Py_ssize_t i = 0; i < nargs; i++)
        info->sids[i] = -1;
    tr->fns[fid] = info;
    return info;
}

/* A value that is not simple (or a secret-named argument): Python captures and packs it. */
static int
pack_by_python(Tracer *tr, Buf *b, PyObject *value, int secret)
{
    PyObject *packed = PyObject_CallMethod(tr->session, "pack_value", "Oi", value, secret);
    if (packed == NULL)
        return -1;
    int rc = PyBytes_Check(packed)
        ? pack_bytes(b, PyBytes_AS_STRING(packed), PyBytes_GET_SIZE(packed)) : -1;
    if (rc < 0 && !PyErr_Occurred())
        PyErr_SetString(PyExc_TypeError, "Session.pack_value must return bytes");
    Py_DECREF(packed);
    return rc;
}

/* Whether a generator-like frame starts (its arguments are new) rather than resumes. */
static int
starts(PyCodeObject *code, PyFrameObject *frame)
{
    if (!(code->co_flags & GEN_FLAGS))
        return 1;
    int lasti = PyFrame_GetLasti(frame);
    if (lasti < 0)
        return 1;
    PyObject *ops = PyCode_GetCode(code);
    if (ops == NULL)
        return -1;
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(ops);
    int fresh = lasti + 1 < PyBytes_GET_SIZE(ops) && p[lasti] == RESUME && p[lasti + 1] == 0;
    Py_DECREF(ops);
    return fresh;
}

/* The flat [name sid, value, ...] arguments of a starting frame, into ts->scratch. */
static int
capture_args(ThreadState *ts, FnInfo *info, PyFrameObject *frame)
{
    Tracer *tr = ts->tracer;
    Buf *b = &ts->scratch;
    b->len = 0;
    if (pack_array(b, 2 * info->nargs) < 0)
        return -1;
    if (info->nargs == 0)
        return 0;
    PyObject *locals = PyFrame_GetLocals(frame);
    if (locals == NULL)
        return -1;
    int rc = 0;
    for (Py_ssize_t i = 0; i < info->nargs && rc == 0; i++) {
        PyObject *pair = PyTuple_GET_ITEM(info->names, i);
        PyObject *name = PyTuple_GET_ITEM(pair, 0);
        int secret = PyObject_IsTrue(PyTuple_GET_ITEM(pair, 1));
        if (info->sids[i] < 0) {
            info->sids[i] = call_int(tr->session, s_intern, name);
            if (info->sids[i] < 0) {
                info->sids[i] = -1;
                rc = -1;
                break;
            }
        }
        rc = pack_int(b, info->sids[i]);
        if (rc < 0)
            break;
        PyObject *value = PyDict_Check(locals) ? PyDict_GetItemWithError(locals, name)
                                               : PyObject_GetItem(locals, name);
        if (value == NULL) {
            if (PyErr_Occurred() && !PyErr_ExceptionMatches(PyExc_KeyError)) {
                rc = -1;
                break;
            }
            PyErr_Clear();
            value = Py_NewRef(Py_None);
        }
        else if (PyDict_Check(locals))
            Py_INCREF(value);
        if (!secret && simple_value(value, tr->secret_values))
            rc = pack_simple(b, value);
        else
            rc = pack_by_python(tr, b, value, secret);
        Py_DECREF(value);
    }
    Py_DECREF(locals);
    return rc;
}

/* Adaptive capture: whether this call of a function keeps its values (it counts it). */
static int
wants_values(Tracer *tr, FnInfo *info)
{
    int64_t n = ++info->calls;
    if (tr->full_calls < 0 || n <= tr->full_calls)
        return 1;
    return (n - tr->full_calls) % tr->value_every == 0;
}

static int
lane_of(ThreadState *ts, PyCodeObject *code, int64_t *lane)
{
    Tracer *tr = ts->tracer;
    if (code->co_flags & CORO_FLAGS) {
        int64_t task = call_int(tr->session, s_task_lane_id, NULL);
        if (task < -1)
            return -1;
        if (task >= 0) {
            *lane = task;
            return 0;
        }
    }
    if (ts->depth > 0) {
        *lane = ts->stack[ts->depth - 1].lane;
        return 0;
    }
    if (ts->lane < 0) {
        ts->lane = call_int(tr->session, s_thread_lane_id, NULL);
        if (ts->lane < 0) {
            ts->lane = -1;
            return -1;
        }
    }
    *lane = ts->lane;
    return 0;
}

/* -- call sites (spec 4.6): the line the caller is at when a call starts ------------- */

/* Lines by (code, offset), direct-mapped: a loop's calls come from the same few sites,
 * and finding a line walks the code's line table. An entry whose code object died and
 * whose address a new one reuses with the same offset may give a wrong line: rare and
 * harmless to the program (a site is only shown). */
#define SITE_CACHE 4096
static struct {
    const PyCodeObject *code;
    int offset, line;
} site_lines[SITE_CACHE];

static int
line_at(PyCodeObject *code, int offset)
{
    size_t h = (((uintptr_t)code >> 4) ^ ((uintptr_t)offset * 0x9E3779B1u)) % SITE_CACHE;
    if (site_lines[h].code != code || site_lines[h].offset != offset) {
        int line = PyCode_Addr2Line(code, offset);
        site_lines[h].code = code;
        site_lines[h].offset = offset;
        site_lines[h].line = line > 0 ? line : 0;
    }
    return site_lines[h].line;
}

/* The site of the call of interpreter frame `current`: the line of the Python frame below
 * it (frames of C calls in between, "incomplete" ones, are skipped; 0: none). */
static int
caller_line(const _PyInterpreterFrame *current)
{
    _PyInterpreterFrame *back = current->previous;
    while (back != NULL && _PyFrame_IsIncomplete(back))
        back = back->previous;
    if (back == NULL)
        return 0;
    return line_at(FRAME_CODE(back), _PyInterpreterFrame_LASTI(back) * (int)sizeof(_Py_CODEUNIT));
}

/* Whether a call of `fid` from `site` writes its site: not when its last call's record
 * had the same (readers carry it over). */
static int
site_is_new(Tracer *tr, int64_t fid, int site)
{
    if (fid >= tr->nsites) {
        Py_ssize_t n = tr->nsites ? tr->nsites : 64;
        while (n <= fid)
            n *= 2;
        int32_t *sites = realloc(tr->sites, n * sizeof(int32_t));
        if (sites == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        memset(sites + tr->nsites, 0xff, (n - tr->nsites) * sizeof(int32_t));  /* -1 */
        tr->sites = sites;
        tr->nsites = n;
    }
    if (tr->sites[fid] == site)
        return 0;
    tr->sites[fid] = site;
    return 1;
}

/* A traced frame starts (fresh 1), resumes (0) or either (-1: `frame` tells), called from
 * line `site` of its caller. `key` is the frame's identity on the shadow stack; `frame` is
 * only read in dev mode. */
static int
on_call(ThreadState *ts, const void *key, PyFrameObject *frame, PyCodeObject *code,
        int64_t fid, int fresh, int site)
{
    Tracer *tr = ts->tracer;
    int64_t lane;
    if (lane_of(ts, code, &lane) < 0)
        return -1;
    if (ts->depth == ts->cap) {
        Py_ssize_t cap = ts->cap ? ts->cap * 2 : 64;
        Slot *stack = realloc(ts->stack, cap * sizeof(Slot));
        if (stack == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        ts->stack = stack;
        ts->cap = cap;
    }
    Slot *slot = &ts->stack[ts->depth];
    slot->frame = key;
    slot->lane = lane;
    slot->flags = SLOT_RECORDED | SLOT_VALUES;  /* the ring's calls are all kept */
    ts->depth++;
    if (tr->mode == MODE_RING) {
        ring_push(tr->ring, REC_CALL, tracer_now(tr), (int32_t)lane,
                  fid | ((int64_t)site << 32), NULL);
        return 0;
    }
    slot->flags = 0;
    if (tr->max_calls > 0 && tr->recorded_calls >= tr->max_calls) {
        tr->calls_dropped++;  /* past the cap: neither this call nor its return */
        return 0;
    }
    int args = 0;
    if (tr->mode == MODE_VALUES) {
        FnInfo *info = fn_info(tr, fid, frame);
        if (info == NULL && report() < 0)  /* still write the call, so that its return has one */
            return -1;
        if (info != NULL && wants_values(tr, info)) {
            if (fresh < 0)
                fresh = starts(code, frame);
            if (fresh < 0)
                return -1;
            ts->scratch.len = 0;
            if (fresh && capture_args(ts, info, frame) < 0) {
                if (report() < 0)
                    return -1;
                fresh = 0;
            }
            if (!fresh) {
                ts->scratch.len = 0;
                if (pack_array(&ts->scratch, 0) < 0)
                    return -1;
            }
            args = 1;
            slot->flags |= SLOT_VALUES;
        }
        else
            tr->calls_without_values++;
    }
    if (!tr->enabled)  /* closed while Python captured the arguments */
        return 0;
    slot->flags |= SLOT_RECORDED;
    int new_site = site_is_new(tr, fid, site);
    if (new_site < 0)
        return -1;
    if (new_site && !args) {  /* args is nil when a site follows */
        ts->scratch.len = 0;
        if (buf_reserve(&ts->scratch, 1) < 0)
            return -1;
        ts->scratch.data[ts->scratch.len++] = (char)0xc0;
        args = 1;
    }
    Py_ssize_t nargs = args ? ts->scratch.len : 0;
    char *p = begin_record(tr, 4 + args + new_site, REC_CALL, tracer_now(tr),
                           3 * MAX_INT_BYTES + nargs);
    if (p == NULL)
        return -1;
    p = put_int(put_int(p, lane), fid);
    if (nargs) {
        memcpy(p, ts->scratch.data, nargs);
        p += nargs;
    }
    if (new_site)
        p = put_int(p, site);
    if (tr->root < 0)
        tr->root = fid;
    tr->calls++;
    tr->recorded_calls++;
    return end_record(tr, p);
}

static void trace_on(ThreadState *ts);
static void trace_off(ThreadState *ts);

/* An unwind record (its exception, if any, is written before). */
static int
emit_unwind(ThreadState *ts, int64_t lane, int line, PyObject *locals, int64_t t)
{
    Tracer *tr = ts->tracer;
    if (tr->mode == MODE_RING) {
        ring_push(tr->ring, REC_UNWIND, t, (int32_t)lane, line, NULL);
        return 0;
    }
    Py_ssize_t nlocals = locals ? PyBytes_GET_SIZE(locals) : 0;
    char *p = begin_record(tr, locals ? 5 : 4, REC_UNWIND, t, 2 * MAX_INT_BYTES + nlocals);
    if (p == NULL)
        return -1;
    p = put_int(put_int(p, lane), line);
    if (locals)
        memcpy(p, PyBytes_AS_STRING(locals), nlocals);
    tr->unwinds++;
    return end_record(tr, p + nlocals);
}

/* The `exception` record of `exc` unwinding a frame of `lane` at `line`, unless it is
 * control flow or the exception this lane recorded last (passing through outer frames). */
static int
emit_raised(ThreadState *ts, int64_t lane, int line, PyObject *exc, int64_t t)
{
    Tracer *tr = ts->tracer;
    PyObject *type = (PyObject *)Py_TYPE(exc);
    if (type == PyExc_StopIteration || type == PyExc_StopAsyncIteration ||
        type == PyExc_GeneratorExit)
        return 0;  /* control flow, not a failure */
    if (lane >= tr->nlanes) {
        Py_ssize_t n = tr->nlanes ? tr->nlanes : 16;
        while (n <= lane)
            n *= 2;
        PyObject **last = realloc(tr->last_exc, n * sizeof(PyObject *));
        if (last == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        memset(last + tr->nlanes, 0, (n - tr->nlanes) * sizeof(PyObject *));
        tr->last_exc = last;
        tr->nlanes = n;
    }
    if (tr->last_exc[lane] == exc)
        return 0;
    Py_XSETREF(tr->last_exc[lane], Py_NewRef(exc));
    PyObject *r = PyObject_CallMethod(tr->session, "on_exception", "LiOL", (long long)lane,
                                      line, exc, (long long)t);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

/* Whether traceback `tb` passes through `frame`: the exception did unwind it. */
static int
tb_holds(PyObject *tb, PyObject *frame)
{
    while (tb != NULL && PyTraceBack_Check(tb)) {
        if ((PyObject *)((PyTracebackObject *)tb)->tb_frame == frame)
            return 1;
        tb = (PyObject *)((PyTracebackObject *)tb)->tb_next;
    }
    return 0;
}

/* Write the pending unwind, preceded by its exception when `exc` is the one that unwound
 * the frame (NULL: unknown). `tb` is its traceback so far (NULL: its __traceback__, which
 * CPython brings up to date only when a handler catches it). */
static int
resolve(ThreadState *ts, PyObject *exc, PyObject *tb)
{
    if (ts->p_frame == NULL)
        return 0;
    PyObject *frame = ts->p_frame, *locals = ts->p_locals;
    ts->p_frame = ts->p_locals = NULL;
    int recorded = ts->p_flags & SLOT_RECORDED;
    int rc = 0;
    if (ts->tracer->enabled) {
        if (exc != NULL) {
            PyObject *own = tb == NULL ? PyException_GetTraceback(exc) : NULL;
            if (tb_holds(tb ? tb : own, frame))
                rc = emit_raised(ts, ts->p_lane, ts->p_line, exc, ts->p_t);
            Py_XDECREF(own);
        }
        if (rc == 0 && ts->tracer->enabled && recorded)
            rc = emit_unwind(ts, ts->p_lane, ts->p_line, locals, ts->p_t);
    }
    Py_DECREF(frame);
    Py_XDECREF(locals);
    return rc;
}

/* dev: the locals of a frame an exception unwinds, packed by Python, now (NULL: none
 * captured for this call). */
static int
unwind_locals(Tracer *tr, PyFrameObject *frame, Slot slot, PyObject **locals)
{
    *locals = NULL;
    if (tr->mode != MODE_VALUES || !(slot.flags & SLOT_VALUES))
        return 0;
    *locals = PyObject_CallMethod(tr->session, "unwind_locals", "O", (PyObject *)frame);
    if (*locals == NULL)
        return -1;
    if (!PyBytes_Check(*locals)) {
        Py_CLEAR(*locals);
        PyErr_SetString(PyExc_TypeError, "Session.unwind_locals must return bytes");
        return -1;
    }
    return 0;
}

static int
on_unwind(ThreadState *ts, PyFrameObject *frame, Slot slot)
{
    int64_t lane = slot.lane;
    Tracer *tr = ts->tracer;
    if (resolve(ts, NULL, NULL) < 0)  /* an earlier exception no Python frame received */
        return -1;
    int line = PyFrame_GetLineNumber(frame);
    int64_t t = tracer_now(tr);
    PyObject *locals = NULL;
    if (unwind_locals(tr, frame, slot, &locals) < 0)
        return -1;
    if (frame == ts->top) {  /* its exception is known: it arrived while tracing */
        PyObject *exc = ts->top_exc;
        ts->top = NULL;
        ts->top_exc = NULL;
        trace_off(ts);
        int rc = exc ? emit_raised(ts, lane, line, exc, t) : 0;
        Py_XDECREF(exc);
        if (rc == 0 && tr->enabled && (slot.flags & SLOT_RECORDED))
            rc = emit_unwind(ts, lane, line, locals, t);
        Py_XDECREF(locals);
        return rc;
    }
    ts->p_frame = Py_NewRef((PyObject *)frame);
    ts->p_locals = locals;
    ts->p_lane = lane;
    ts->p_line = line;
    ts->p_flags = slot.flags;
    ts->p_t = t;
    trace_on(ts);
    return 0;
}

static int emit_return(ThreadState *ts, PyObject *value, Slot slot);

static int
on_return(ThreadState *ts, PyFrameObject *frame, PyObject *value, Slot slot)
{
    if (ts->p_frame != NULL && resolve(ts, NULL, NULL) < 0)
        return -1;
    if (value == NULL)  /* unwound by an exception */
        return on_unwind(ts, frame, slot);
    if (frame == ts->top) {
        ts->top = NULL;
        Py_CLEAR(ts->top_exc);
        trace_off(ts);
    }
    return emit_return(ts, value, slot);
}

/* The return record of a frame that returned (or yielded) `value`. */
static int
emit_return(ThreadState *ts, PyObject *value, Slot slot)
{
    Tracer *tr = ts->tracer;
    int64_t lane = slot.lane;
    if (lane < tr->nlanes && tr->last_exc[lane] != NULL && Py_REFCNT(tr->last_exc[lane]) == 1)
        Py_CLEAR(tr->last_exc[lane]);  /* handled and gone: let it go */
    if (tr->mode == MODE_RING) {
        ring_push(tr->ring, REC_RETURN, tracer_now(tr), (int32_t)lane, 0, NULL);
        return 0;
    }
    if (!(slot.flags & SLOT_RECORDED))
        return 0;
    Buf *b = &ts->scratch;
    b->len = 0;
    if (tr->mode == MODE_VALUES && (slot.flags & SLOT_VALUES)) {
        if (simple_value(value, tr->secret_values) ? pack_simple(b, value) < 0
                                                   : pack_by_python(tr, b, value, 0) < 0) {
            if (report() < 0)  /* still write the return, without its value */
                return -1;
            b->len = 0;
        }
        if (!tr->enabled)
            return 0;
    }
    char *p = begin_record(tr, b->len ? 4 : 3, REC_RETURN, tracer_now(tr),
                           MAX_INT_BYTES + b->len);
    if (p == NULL)
        return -1;
    p = put_int(p, lane);
    if (b->len)
        memcpy(p, b->data, b->len);
    tr->returns++;
    return end_record(tr, p + b->len);
}

/* The trace function, installed only while an exception is awaited (and while a thread's
 * outermost traced frame runs its own lines). */
static int
trace_callback(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    ThreadState *ts = (ThreadState *)obj;
    int rc = 0;
    if (!ts->tracer->enabled) {
        trace_off(ts);
        return 0;
    }
    Py_INCREF(ts);  /* as in callback: resolve() calls Python */
    if (what == PyTrace_EXCEPTION) {
        PyObject *exc = NULL, *tb = NULL;
        if (PyTuple_Check(arg) && PyTuple_GET_SIZE(arg) >= 3) {
            exc = PyTuple_GET_ITEM(arg, 1);
            tb = PyTuple_GET_ITEM(arg, 2);
        }
        if (exc != NULL && !PyExceptionInstance_Check(exc))
            exc = NULL;
        rc = resolve(ts, exc, tb);
        if (frame == ts->top && exc != NULL)
            Py_XSETREF(ts->top_exc, Py_NewRef(exc));
        else if (frame != ts->top)
            trace_off(ts);
    }
    else if (what == PyTrace_CALL || frame != ts->top)
        trace_off(ts);  /* the exception went elsewhere; the unwind waits for the next event */
    Py_DECREF(ts);
    return rc < 0 ? report() : 0;
}

static void
trace_on(ThreadState *ts)
{
    PyThreadState *tstate = PyThreadState_Get();
    ts->tracing = tstate->c_tracefunc == trace_callback && tstate->c_traceobj == (PyObject *)ts;
    if (ts->tracing || tstate->c_tracefunc != NULL)
        return;  /* on already, or someone else's (a debugger, coverage): leave it be */
    ts->tracing = 1;
    PyEval_SetTrace(trace_callback, (PyObject *)ts);
}

static void
trace_off(ThreadState *ts)
{
    if (!ts->tracing)
        return;
    ts->tracing = 0;
    if (PyThreadState_Get()->c_tracefunc == trace_callback)
        PyEval_SetTrace(NULL, NULL);
}

/* A frame returned: when to the thread's outermost traced frame, trace its lines again.
 * That frame is at the bottom of the shadow stack, so only a frame returning to a depth
 * of 1 (or from an untraced frame) needs its caller looked at. */
static inline void
back_to_top(ThreadState *ts, PyFrameObject *frame)
{
    if (ts->top == NULL || ts->tracing || frame == ts->top || ts->depth > 1)
        return;
    PyFrameObject *back = PyFrame_GetBack(frame);
    if (back == ts->top)
        trace_on(ts);
    Py_XDECREF(back);
}

static int
callback(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    ThreadState *ts = (ThreadState *)obj;
    Tracer *tr = ts->tracer;
    if ((what != PyTrace_CALL && what != PyTrace_RETURN) || !tr->enabled)
        return 0;
    /* CPython passes the state borrowed, and another thread may unhook this one
     * (Tracer.uninstall) while Python called from here lets the GIL go: hold it. */
    Py_INCREF(ts);
    int rc = 0;
    if (what == PyTrace_RETURN && ts->depth > 0 && ts->stack[ts->depth - 1].frame == frame) {
        ts->depth--;  /* the common return: the innermost traced frame, no lookup needed */
        rc = on_return(ts, frame, arg, ts->stack[ts->depth]);
        back_to_top(ts, frame);
        goto done;
    }
    PyCodeObject *code = FRAME_CODE(frame->f_frame);  /* borrowed */
    int64_t fid = function_id(tr, code, frame, what == PyTrace_CALL);
    if (fid < -1)
        rc = -1;
    else if (fid >= 0) {
        if (what == PyTrace_CALL) {
            if (ts->p_frame != NULL)
                rc = resolve(ts, NULL, NULL);
            if (rc == 0 && ts->depth == 0 && ts->top == NULL) {
                PyFrameObject *back = PyFrame_GetBack(frame);
                if (back == NULL) {  /* the thread's outermost frame */
                    ts->top = frame;
                    trace_on(ts);
                }
                Py_XDECREF(back);
            }
            if (rc == 0)
                rc = on_call(ts, frame, frame, code, fid, -1, caller_line(frame->f_frame));
        }
        else {
            /* Only frames this thread saw start; a frame that started before tracing, or
             * that left the stack unseen, is dropped from it. */
            Py_ssize_t i = ts->depth - 1;
            while (i >= 0 && ts->stack[i].frame != frame)
                i--;
            if (i >= 0) {
                ts->depth = i;
                rc = on_return(ts, frame, arg, ts->stack[i]);
            }
        }
    }
    if (what == PyTrace_RETURN)
        back_to_top(ts, frame);
done:
    Py_DECREF(ts);
    return rc < 0 ? report() : 0;
}

/* -- the sys.monitoring hook (CPython >= 3.12, PEP 669) ---------------------------------
 *
 * Process-wide: one tool id, callbacks that are C functions, every thread covered (those
 * running before tracing began too). A code object the filters leave out is DISABLE'd at
 * its first start, return, yield or resume, after which CPython runs it uninstrumented.
 * PY_UNWIND carries the exception that unwinds a frame, so neither the pending unwind nor
 * the trace function of the profile hook is needed; RAISE and EXCEPTION_HANDLED (which
 * cannot be disabled, and fire in every library) add nothing to the records: an exception
 * caught where it was raised leaves none, as with the profile hook. */
#if PY_VERSION_HEX >= 0x030C0000
#define HAVE_MONITORING 1
#if PY_VERSION_HEX >= 0x030D0000
#define CURRENT_FRAME(t) ((t)->current_frame)
#else
#define CURRENT_FRAME(t) ((t)->cframe->current_frame)
#endif

static ThreadState *new_thread_state(Tracer *self);

static Tracer *monitored;                /* the tracer the callbacks feed (NULL: none) */
static PyObject *disable_event;          /* sys.monitoring.DISABLE */
static int monitoring_used;              /* some code may have been DISABLE'd already */
static _Thread_local ThreadState *thread_state;  /* this thread's, while its gen matches */
static _Thread_local uint64_t thread_state_gen;
/* The thread of the last event and its state: under the GIL, events come in runs from one
 * thread, and reading a thread-local variable costs a call (__tls_get_addr) in a shared
 * library. A later thread can reuse a PyThreadState's address, not its id. */
static struct {
    const PyThreadState *tstate;
    uint64_t id, gen;
    ThreadState *state;  /* borrowed: tr->states holds it while gen is the tracer's */
} last_thread;

/* Whether the calling thread is one of the agent's own (its outermost frame runs Orionis
 * code; see Session.own_threads): its events are ignored, or a compressor could wait in
 * classify() for the lock that close() holds while waiting for it. */
static int
agent_thread(Tracer *tr)
{
    PyObject *r = PyObject_CallMethod(tr->session, "is_own_thread", NULL);
    if (r == NULL)
        return -1;
    int own = PyObject_IsTrue(r);
    Py_DECREF(r);
    return own;
}

/* The calling thread's state for `tr`, made at its first event (NULL: error). */
static ThreadState *
thread_state_of(Tracer *tr)
{
    if (thread_state_gen == tr->gen)
        return thread_state;
    ThreadState *ts = new_thread_state(tr);
    if (ts == NULL)
        return NULL;
    if (PyList_Append(tr->states, (PyObject *)ts) < 0) {
        Py_DECREF(ts);
        return NULL;
    }
    Py_DECREF(ts);  /* tr->states holds it */
    if (PyThread_get_thread_ident() != tr->installer) {
        int own = agent_thread(tr);
        if (own < 0)
            return NULL;
        ts->ignored = own;
    }
    thread_state = ts;
    thread_state_gen = tr->gen;
    return ts;
}

/* The state of `tstate`, the calling thread, for `tr` (NULL and no error: the thread is
 * the agent's own). */
static inline ThreadState *
monitored_state(Tracer *tr, PyThreadState *tstate)
{
    ThreadState *ts = last_thread.state;
    if (last_thread.tstate != tstate || last_thread.id != tstate->id ||
        last_thread.gen != tr->gen) {
        ts = thread_state_of(tr);
        if (ts == NULL)
            return NULL;
        last_thread.tstate = tstate;
        last_thread.id = tstate->id;
        last_thread.gen = tr->gen;
        last_thread.state = ts;
    }
    return ts->ignored ? NULL : ts;
}

/* The function id of `code` (-1: not traced), classifying it on first sight. */
static int64_t
monitored_id(Tracer *tr, PyCodeObject *code)
{
    int64_t fid = cached_id(tr, code);
    return fid == UNKNOWN ? function_id(tr, code, PyEval_GetFrame(), 1) : fid;
}

static PyObject *
callback_result(int rc)
{
    if (rc < 0 && report() < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* PY_START (fresh 1), PY_RESUME and PY_THROW (0): a call record. */
static PyObject *
monitored_enter(PyObject *const *args, int fresh, int can_disable)
{
    Tracer *tr = monitored;
    if (tr == NULL || !tr->enabled)
        Py_RETURN_NONE;
    PyThreadState *tstate = PyThreadState_Get();
    ThreadState *ts = monitored_state(tr, tstate);  /* first: an agent thread must not classify */
    if (ts == NULL)
        return callback_result(PyErr_Occurred() ? -1 : 0);
    PyCodeObject *code = (PyCodeObject *)args[0];
    int64_t fid = monitored_id(tr, code);
    if (fid == -1 && can_disable)
        return Py_NewRef(disable_event);
    if (fid < 0)
        return callback_result(fid < -1 ? -1 : 0);
    Py_INCREF(ts);  /* as in callback: Python called from here may let the GIL go */
    PyFrameObject *frame = tr->mode == MODE_VALUES ? PyEval_GetFrame() : NULL;
    const _PyInterpreterFrame *current = CURRENT_FRAME(tstate);
    int rc = on_call(ts, current, frame, code, fid, fresh, caller_line(current));
    Py_DECREF(ts);
    return callback_result(rc);
}

/* The slot of `tstate`'s current frame, popped with the frames above it that left unseen
 * (0: the frame started before tracing, or on another session's watch). */
static int
pop_current(ThreadState *ts, PyThreadState *tstate, Slot *slot)
{
    const void *key = CURRENT_FRAME(tstate);
    Py_ssize_t i = ts->depth - 1;
    while (i >= 0 && ts->stack[i].frame != key)
        i--;
    if (i < 0)
        return 0;
    ts->depth = i;
    *slot = ts->stack[i];
    return 1;
}

/* PY_RETURN and PY_YIELD: a return record with the value. */
static PyObject *
monitored_leave(PyObject *const *args)
{
    Tracer *tr = monitored;
    if (tr == NULL || !tr->enabled)
        Py_RETURN_NONE;
    PyThreadState *tstate = PyThreadState_Get();
    ThreadState *ts = monitored_state(tr, tstate);
    if (ts == NULL)
        return callback_result(PyErr_Occurred() ? -1 : 0);
    Slot slot;
    if (ts->depth > 0 && ts->stack[ts->depth - 1].frame == CURRENT_FRAME(tstate))
        slot = ts->stack[--ts->depth];  /* the common return: no need to look the code up */
    else {
        int64_t fid = monitored_id(tr, (PyCodeObject *)args[0]);
        if (fid == -1)
            return Py_NewRef(disable_event);
        if (fid < 0)
            return callback_result(-1);
        if (!pop_current(ts, tstate, &slot))
            Py_RETURN_NONE;
    }
    Py_INCREF(ts);
    int rc = emit_return(ts, args[2], slot);
    Py_DECREF(ts);
    return callback_result(rc);
}

/* PY_UNWIND: the exception record (when new on the lane) and the unwind. */
static PyObject *
monitored_unwind(PyObject *const *args)
{
    Tracer *tr = monitored;
    if (tr == NULL || !tr->enabled)
        Py_RETURN_NONE;
    PyCodeObject *code = (PyCodeObject *)args[0];
    if (cached_id(tr, code) < 0)  /* not traced, or never seen starting */
        Py_RETURN_NONE;
    PyThreadState *tstate = PyThreadState_Get();
    ThreadState *ts = monitored_state(tr, tstate);
    Slot slot;
    if (ts == NULL || !pop_current(ts, tstate, &slot))
        return callback_result(PyErr_Occurred() ? -1 : 0);
    int offset = (int)PyLong_AsLong(args[1]);
    if (offset == -1 && PyErr_Occurred())
        return NULL;
    int line = PyCode_Addr2Line(code, offset);
    int64_t t = tracer_now(tr);
    Py_INCREF(ts);
    PyObject *locals = NULL;
    int rc = unwind_locals(tr, PyEval_GetFrame(), slot, &locals);
    if (rc == 0 && PyExceptionInstance_Check(args[2]))
        rc = emit_raised(ts, slot.lane, line, args[2], t);
    if (rc == 0 && tr->enabled && (slot.flags & SLOT_RECORDED))
        rc = emit_unwind(ts, slot.lane, line, locals, t);
    Py_XDECREF(locals);
    Py_DECREF(ts);
    return callback_result(rc);
}

static PyObject *
on_py_start(PyObject *unused, PyObject *const *args, Py_ssize_t nargs)
{
    return monitored_enter(args, 1, 1);
}

static PyObject *
on_py_resume(PyObject *unused, PyObject *const *args, Py_ssize_t nargs)
{
    return monitored_enter(args, 0, 1);
}

static PyObject *
on_py_throw(PyObject *unused, PyObject *const *args, Py_ssize_t nargs)
{
    return monitored_enter(args, 0, 0);
}

static PyObject *
on_py_return(PyObject *unused, PyObject *const *args, Py_ssize_t nargs)
{
    return monitored_leave(args);
}

static PyObject *
on_py_unwind(PyObject *unused, PyObject *const *args, Py_ssize_t nargs)
{
    return monitored_unwind(args);
}

#define N_EVENTS 6
static const char *event_names[N_EVENTS] = {
    "PY_START", "PY_RESUME", "PY_THROW", "PY_RETURN", "PY_UNWIND", "PY_YIELD"};
static PyMethodDef event_callbacks[N_EVENTS] = {
    {"orion_py_start", (PyCFunction)(void (*)(void))on_py_start, METH_FASTCALL, NULL},
    {"orion_py_resume", (PyCFunction)(void (*)(void))on_py_resume, METH_FASTCALL, NULL},
    {"orion_py_throw", (PyCFunction)(void (*)(void))on_py_throw, METH_FASTCALL, NULL},
    {"orion_py_return", (PyCFunction)(void (*)(void))on_py_return, METH_FASTCALL, NULL},
    {"orion_py_unwind", (PyCFunction)(void (*)(void))on_py_unwind, METH_FASTCALL, NULL},
    {"orion_py_yield", (PyCFunction)(void (*)(void))on_py_return, METH_FASTCALL, NULL},
};
/* Tool ids tried in turn: the profiler's, then the two that no kind of tool is named for
 * (the debugger's, coverage's and the optimizer's are left to those tools). */
static const int tool_ids[] = {2, 3, 4};

/* Claim a tool id and register the callbacks; 0 without error when every id is taken
 * (the profile hook is used instead). */
static int
monitoring_install(Tracer *self)
{
    PyObject *mon = PySys_GetObject("monitoring");  /* borrowed */
    if (mon == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "sys.monitoring is missing");
        return -1;
    }
    if (disable_event == NULL &&
        (disable_event = PyObject_GetAttrString(mon, "DISABLE")) == NULL)
        return -1;
    for (size_t i = 0; i < sizeof tool_ids / sizeof tool_ids[0] && self->tool < 0; i++) {
        PyObject *r = PyObject_CallMethod(mon, "use_tool_id", "is", tool_ids[i], "orion");
        if (r != NULL) {
            Py_DECREF(r);
            self->tool = tool_ids[i];
        }
        else if (PyErr_ExceptionMatches(PyExc_ValueError))
            PyErr_Clear();  /* taken by another tool */
        else
            return -1;
    }
    if (self->tool < 0)
        return 0;
    PyObject *events = PyObject_GetAttrString(mon, "events");
    if (events == NULL)
        return -1;
    long mask = 0;
    int rc = 0;
    for (int i = 0; i < N_EVENTS && rc == 0; i++) {
        PyObject *bit = PyObject_GetAttrString(events, event_names[i]);
        PyObject *func = bit ? PyCFunction_New(&event_callbacks[i], NULL) : NULL;
        PyObject *r = func ? PyObject_CallMethod(mon, "register_callback", "iOO", self->tool,
                                                 bit, func) : NULL;
        if (r == NULL)
            rc = -1;
        else
            mask |= PyLong_AsLong(bit);
        Py_XDECREF(r);
        Py_XDECREF(func);
        Py_XDECREF(bit);
    }
    Py_DECREF(events);
    if (rc == 0 && monitoring_used) {  /* what an earlier session disabled, for its filters */
        PyObject *r = PyObject_CallMethod(mon, "restart_events", NULL);
        rc = r ? 0 : -1;
        Py_XDECREF(r);
    }
    if (rc < 0)
        return -1;
    self->states = PyList_New(0);
    if (self->states == NULL)
        return -1;
    self->installer = PyThread_get_thread_ident();
    monitored = self;
    monitoring_used = 1;
    PyObject *r = PyObject_CallMethod(mon, "set_events", "il", self->tool, mask);
    Py_XDECREF(r);
    return r ? 1 : -1;
}

/* Stop the events, unregister the callbacks and give the tool id back. */
static int
monitoring_uninstall(Tracer *self)
{
    if (self->tool < 0)
        return 0;
    if (monitored == self)
        monitored = NULL;
    PyObject *mon = PySys_GetObject("monitoring");
    PyObject *events = mon ? PyObject_GetAttrString(mon, "events") : NULL;
    if (events == NULL)
        return -1;
    PyObject *r = PyObject_CallMethod(mon, "set_events", "ii", self->tool, 0);
    for (int i = 0; i < N_EVENTS && r != NULL; i++) {
        Py_DECREF(r);
        PyObject *bit = PyObject_GetAttrString(events, event_names[i]);
        r = bit ? PyObject_CallMethod(mon, "register_callback", "iOO", self->tool, bit,
                                      Py_None) : NULL;
        Py_XDECREF(bit);
    }
    Py_DECREF(events);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    r = PyObject_CallMethod(mon, "free_tool_id", "i", self->tool);
    Py_XDECREF(r);
    self->tool = -1;
    Py_CLEAR(self->states);  /* threads' states: their gen no longer matches any tracer */
    return r ? 0 : -1;
}
#else
#define HAVE_MONITORING 0
#endif

static int
Tracer_init(Tracer *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"session", "t0", "mode", "ring", "secret_values", "full_calls",
                             "value_every", "max_calls", NULL};
    PyObject *session, *secret_values;
    long long t0, full_calls = -1, value_every = 1, max_calls = 0;
    int mode;
    Py_ssize_t ring = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OLinO!|$LLL", kwlist, &session, &t0, &mode,
                                     &ring, &PyList_Type, &secret_values, &full_calls,
                                     &value_every, &max_calls))
        return -1;
    if (mode < MODE_CALLS || mode > MODE_RING || (mode == MODE_RING && ring < 1)) {
        PyErr_SetString(PyExc_ValueError, "bad mode or ring size");
        return -1;
    }
    if (value_every < 1 || max_calls < 0) {
        PyErr_SetString(PyExc_ValueError, "value_every must be >= 1 and max_calls >= 0");
        return -1;
    }
    self->full_calls = full_calls;
    self->value_every = value_every;
    self->max_calls = max_calls;
    Py_XSETREF(self->session, Py_NewRef(session));
    Py_XSETREF(self->secret_values, Py_NewRef(secret_values));
    self->t0 = t0;
    self->mode = mode;
    clock_start(self);
    self->gen = ++generations;
    self->root = -1;
    self->enabled = 1;
    self->tool = -1;
    if (mode == MODE_RING) {
        Ring *r = PyObject_New(Ring, &RingType);
        if (r == NULL)
            return -1;
        r->entries = calloc(ring, sizeof(Entry));
        r->cap = ring;
        r->head = r->count = 0;
        if (r->entries == NULL) {
            r->cap = 0;
            Py_DECREF(r);
            PyErr_NoMemory();
            return -1;
        }
        Py_XSETREF(self->ring, r);
    }
    return 0;
}

static void
free_fns(Tracer *self)
{
    for (Py_ssize_t i = 0; i < self->nfns; i++) {
        if (self->fns[i] != NULL) {
            Py_DECREF(self->fns[i]->names);
            free(self->fns[i]);
        }
    }
    free(self->fns);
    self->fns = NULL;
    self->nfns = 0;
    free(self->sites);
    self->sites = NULL;
    self->nsites = 0;
}

static void
Tracer_dealloc(Tracer *self)
{
#if HAVE_MONITORING
    if (monitored == self)
        monitored = NULL;
#endif
    Py_XDECREF(self->states);
    Py_XDECREF(self->session);
    Py_XDECREF(self->secret_values);
    Py_XDECREF(self->ring);
    free(self->chunk.data);
    for (Py_ssize_t i = 0; i < self->nlanes; i++)
        Py_XDECREF(self->last_exc[i]);
    free(self->last_exc);
    free_fns(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static ThreadState *
new_thread_state(Tracer *self)
{
    ThreadState *ts = PyObject_New(ThreadState, &ThreadStateType);
    if (ts == NULL)
        return NULL;
    ts->tracer = (Tracer *)Py_NewRef(self);
    ts->lane = -1;
    ts->stack = NULL;
    ts->depth = ts->cap = 0;
    ts->scratch = (Buf){NULL, 0, 0};
    ts->tracing = 0;
    ts->p_frame = ts->p_locals = NULL;
    ts->p_lane = ts->p_t = 0;
    ts->p_line = ts->p_flags = 0;
    ts->top = NULL;
    ts->top_exc = NULL;
    ts->ignored = 0;
    return ts;
}

/* This thread's state, when this tracer's hook is installed on it. */
static ThreadState *
current_state(Tracer *self)
{
    PyThreadState *tstate = PyThreadState_Get();
    if (tstate->c_profilefunc != callback || tstate->c_profileobj == NULL)
        return NULL;
    ThreadState *ts = (ThreadState *)tstate->c_profileobj;
    return ts->tracer == self ? ts : NULL;
}

/* Another thread's hook. The caller holds the GIL, so the interpreter's thread list only
 * changes when something called here lets it go: an audit hook (sys.setprofile is audited)
 * or the release of a previous profile object. Hence each step walks the list afresh. */
#if PY_VERSION_HEX >= 0x030D0000
/* 3.13 moved both to the internal headers; this one stays exported (for _lsprof), and
 * without the other trace_callback removes itself at its next event once disabled */
PyAPI_FUNC(int) _PyEval_SetProfile(PyThreadState *tstate, Py_tracefunc func, PyObject *arg);
#define UNHOOK_TRACE 0
#else
#define UNHOOK_TRACE 1
#endif

static int
owned_by(PyObject *state, Tracer *self)
{
    return state != NULL && ((ThreadState *)state)->tracer == self;
}

#if PY_VERSION_HEX >= 0x030D0000
#define RUNS_PYTHON(t) ((t)->current_frame != NULL)
#else
#define RUNS_PYTHON(t) ((t)->cframe != NULL && (t)->cframe->current_frame != NULL)
#endif

/* The next thread to hook: not the caller; running Python (one that has not begun yet may
 * be one of the agent's own, whose ident it does not have yet; a threading.Thread has
 * begun once start() returns, and threading.setprofile hooks it anyway); not one of the
 * agent's own (`skip`, see Session.own_threads); with no profile function or with ours
 * from an earlier session (another tool's profiler, e.g. cProfile, is left alone). */
static PyThreadState *
next_to_hook(Tracer *self, PyThreadState *me, const unsigned long *skip, Py_ssize_t nskip)
{
    for (PyThreadState *t = PyInterpreterState_ThreadHead(me->interp); t != NULL;
         t = PyThreadState_Next(t)) {
        if (t == me || !RUNS_PYTHON(t) ||
            (t->c_profilefunc != NULL &&
             (t->c_profilefunc != callback || owned_by(t->c_profileobj, self))))
            continue;
        Py_ssize_t i = 0;
        while (i < nskip && skip[i] != t->thread_id)
            i++;
        if (i == nskip)
            return t;
    }
    return NULL;
}

/* The next thread, other than the caller, with this tracer's profile or trace function. */
static PyThreadState *
next_to_unhook(Tracer *self, PyThreadState *me)
{
    for (PyThreadState *t = PyInterpreterState_ThreadHead(me->interp); t != NULL;
         t = PyThreadState_Next(t)) {
        if (t != me && ((t->c_profilefunc == callback && owned_by(t->c_profileobj, self)) ||
                        (UNHOOK_TRACE && t->c_tracefunc == trace_callback &&
                         owned_by(t->c_traceobj, self))))
            return t;
    }
    return NULL;
}

/* Hook the calling thread, then every other thread of the interpreter: threads already
 * running when tracing began (threading.setprofile only reaches threads started later).
 * Frames they are in the middle of were never seen starting, so their returns are
 * dropped as those of the calling thread's are: the trace holds what they call next.
 * A thread's state starts empty; its lane is asked for at its first traced call, from
 * that thread (Session.thread_lane_id names it after the running thread). */
static int
install(Tracer *self, const unsigned long *skip, Py_ssize_t nskip)
{
    ThreadState *ts = new_thread_state(self);
    if (ts == NULL)
        return -1;
    PyEval_SetProfile(callback, (PyObject *)ts);  /* holds its own reference */
    Py_DECREF(ts);
    PyThreadState *me = PyThreadState_Get(), *t;
    while ((t = next_to_hook(self, me, skip, nskip)) != NULL) {
        ts = new_thread_state(self);
        if (ts == NULL)
            return -1;
        int rc = _PyEval_SetProfile(t, callback, (PyObject *)ts);
        Py_DECREF(ts);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static PyObject *
Tracer_install(Tracer *self, PyObject *args)
{
    PyObject *idents = NULL;
    if (!PyArg_ParseTuple(args, "|O!", &PyTuple_Type, &idents))
        return NULL;
    Py_ssize_t nskip = idents ? PyTuple_GET_SIZE(idents) : 0;
    unsigned long *skip = calloc(nskip ? nskip : 1, sizeof(unsigned long));
    if (skip == NULL)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < nskip; i++) {
        skip[i] = PyLong_AsUnsignedLong(PyTuple_GET_ITEM(idents, i));
        if (skip[i] == (unsigned long)-1 && PyErr_Occurred()) {
            free(skip);
            return NULL;
        }
    }
    int rc = 0;
#if HAVE_MONITORING
    rc = monitoring_install(self);  /* 0: no tool id free */
#endif
    rc = rc == 0 ? install(self, skip, nskip) : rc < 0 ? -1 : 0;
    free(skip);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* Unhook the calling thread and every thread this tracer hooked (a callback running in
 * one of them holds its state: see callback). */
static PyObject *
Tracer_uninstall(Tracer *self, PyObject *unused)
{
#if HAVE_MONITORING
    if (self->tool >= 0)
        return monitoring_uninstall(self) < 0 ? NULL : Py_NewRef(Py_None);
#endif
    ThreadState *ts = current_state(self);
    if (ts != NULL)
        trace_off(ts);
    PyEval_SetProfile(NULL, NULL);
    PyThreadState *me = PyThreadState_Get(), *t;
    while ((t = next_to_unhook(self, me)) != NULL) {
#if UNHOOK_TRACE
        if (t->c_tracefunc == trace_callback && owned_by(t->c_traceobj, self)) {
            ((ThreadState *)t->c_traceobj)->tracing = 0;
            if (_PyEval_SetTrace(t, NULL, NULL) < 0)
                return NULL;
        }
#endif
        if (t->c_profilefunc == callback && owned_by(t->c_profileobj, self) &&
            _PyEval_SetProfile(t, NULL, NULL) < 0)
            return NULL;
    }
    Py_RETURN_NONE;
}

/* Session.fail and friends, in the failing thread: write this thread's pending unwind,
 * with `exc` as its exception when `exc` unwound it (None: unknown). */
static PyObject *
Tracer_resolve(Tracer *self, PyObject *exc)
{
    ThreadState *ts = current_state(self);
    if (ts != NULL && resolve(ts, PyExceptionInstance_Check(exc) ? exc : NULL, NULL) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* threading.setprofile() target: installs the C hook in a new thread, then handles the
 * thread's first frame like any other call. */
static PyObject *
Tracer_thread_bootstrap(Tracer *self, PyObject *args)
{
    PyObject *frame, *event, *arg;
    if (!PyArg_ParseTuple(args, "OOO", &frame, &event, &arg))
        return NULL;
    ThreadState *ts = new_thread_state(self);
    if (ts == NULL)
        return NULL;
    PyEval_SetProfile(callback, (PyObject *)ts);
    int rc = 0;
    if (PyFrame_Check(frame) && PyUnicode_Check(event) &&
        PyUnicode_CompareWithASCIIString(event, "call") == 0)
        rc = callback((PyObject *)ts, (PyFrameObject *)frame, PyTrace_CALL, NULL);
    Py_DECREF(ts);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* The packed records since the last take, as Session.drain hands them to
 * TraceWriter.append_packed: (data, records, base_t, last_t, max_t, counts, root). */
static PyObject *
Tracer_now(Tracer *self, PyObject *unused)
{
    return PyLong_FromLongLong(tracer_now(self));
}

static PyObject *
Tracer_take(Tracer *self, PyObject *unused)
{
    clock_recalibrate(self);
    if (self->records == 0)
        Py_RETURN_NONE;
    PyObject *root = self->root < 0 ? Py_NewRef(Py_None) : PyLong_FromLongLong(self->root);
    if (root == NULL)
        return NULL;
    PyObject *result = Py_BuildValue(
        "(y#nLLL{OnOnOn}N)", self->chunk.data, self->chunk.len, self->records,
        (long long)self->base_t, (long long)self->last_t, (long long)self->max_t,
        s_calls, self->calls, s_returns, self->returns, s_unwinds, self->unwinds, root);
    if (result == NULL)
        return NULL;
    self->chunk.len = 0;
    self->records = self->calls = self->returns = self->unwinds = 0;
    self->max_t = 0;
    self->root = -1;
    return result;
}

static PyObject *
Tracer_capture(Tracer *self, PyObject *unused)
{
    return Py_BuildValue("{sLsL}", "calls_without_values", (long long)self->calls_without_values,
                         "calls_dropped", (long long)self->calls_dropped);
}

static PyObject *
Tracer_close(Tracer *self, PyObject *unused)
{
    self->enabled = 0;
    free(self->chunk.data);
    self->chunk = (Buf){NULL, 0, 0};
    self->records = self->calls = self->returns = self->unwinds = 0;
    Py_RETURN_NONE;
}

static PyObject *
Tracer_get_hook(Tracer *self, void *closure)
{
    return PyUnicode_FromString(self->tool >= 0 ? "sys.monitoring" : "profile");
}

static PyObject *
Tracer_get_ring(Tracer *self, void *closure)
{
    if (self->ring == NULL)
        Py_RETURN_NONE;
    return Py_NewRef(self->ring);
}

static PyMethodDef Tracer_methods[] = {
    {"install", (PyCFunction)Tracer_install, METH_VARARGS,
     "Hook every thread but the agent's own (those whose idents are given; with "
     "sys.monitoring, those Session.is_own_thread names)."},
    {"uninstall", (PyCFunction)Tracer_uninstall, METH_NOARGS, "Unhook the current thread."},
    {"thread_bootstrap", (PyCFunction)Tracer_thread_bootstrap, METH_VARARGS,
     "threading.setprofile() function that installs the hook in new threads."},
    {"resolve", (PyCFunction)Tracer_resolve, METH_O,
     "Write this thread's pending unwind, with this exception if it caused it."},
    {"now", (PyCFunction)Tracer_now, METH_NOARGS,
     "Nanoseconds since t0 on the hook's clock (Python's records use it too)."},
    {"take", (PyCFunction)Tracer_take, METH_NOARGS,
     "The records packed since the last take (None if none), for append_packed."},
    {"capture", (PyCFunction)Tracer_capture, METH_NOARGS,
     "What adaptive capture left out: calls recorded without values, calls not recorded."},
    {"close", (PyCFunction)Tracer_close, METH_NOARGS, "Stop recording (the session ended)."},
    {NULL}
};

static PyGetSetDef Tracer_getset[] = {
    {"ring", (getter)Tracer_get_ring, NULL, "The error-mode ring (None in other modes).", NULL},
    {"hook", (getter)Tracer_get_hook, NULL,
     "How it is hooked in: 'sys.monitoring' (CPython >= 3.12) or 'profile'.", NULL},
    {NULL}
};

static PyTypeObject TracerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "orion.agent._hook.Tracer",
    .tp_basicsize = sizeof(Tracer),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Tracer_init,
    .tp_dealloc = (destructor)Tracer_dealloc,
    .tp_methods = Tracer_methods,
    .tp_getset = Tracer_getset,
    .tp_doc = "Tracer(session, t0, mode, ring, secret_values, *, full_calls=-1, "
              "value_every=1, max_calls=0): the C trace hook of one session; mode 0 packs "
              "calls only, 1 also values, 2 fills a ring; the keywords set adaptive capture.",
};

static void
ThreadState_dealloc(ThreadState *self)
{
    Py_XDECREF(self->tracer);
    Py_XDECREF(self->p_frame);
    Py_XDECREF(self->p_locals);
    Py_XDECREF(self->top_exc);
    free(self->stack);
    free(self->scratch.data);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject ThreadStateType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "orion.agent._hook.ThreadState",
    .tp_basicsize = sizeof(ThreadState),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)ThreadState_dealloc,
    .tp_doc = "One thread's traced frames and lane.",
};

/* -- python -m: the exit status ------------------------------------------------------- */

/* runpy._run_module_as_main as wrap_main replaces it; `pair` is (the original, on_exit).
 * A C function adds no frame, so a traceback printed for an uncaught exception is the one
 * CPython prints without the agent. */
static PyObject *
run_module_as_main(PyObject *pair, PyObject *args, PyObject *kwargs)
{
    PyObject *result = PyObject_Call(PyTuple_GET_ITEM(pair, 0), args, kwargs);
    if (result != NULL || !PyErr_ExceptionMatches(PyExc_SystemExit))
        return result;
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);  /* as it is: CPython normalizes it when it exits */
    PyObject *r = PyObject_CallOneArg(PyTuple_GET_ITEM(pair, 1), value ? value : Py_None);
    if (r == NULL)
        PyErr_Clear();  /* the program's SystemExit goes on, whatever the agent did */
    Py_XDECREF(r);
    PyErr_Restore(type, value, tb);
    return NULL;
}

static PyMethodDef run_module_def = {
    "_run_module_as_main", (PyCFunction)(void (*)(void))run_module_as_main,
    METH_VARARGS | METH_KEYWORDS,
    "runpy._run_module_as_main, telling the Orionis agent the status a SystemExit ends it with."
};

static PyObject *
wrap_main(PyObject *module, PyObject *args)
{
    PyObject *original, *on_exit;
    if (!PyArg_ParseTuple(args, "OO:wrap_main", &original, &on_exit))
        return NULL;
    PyObject *pair = PyTuple_Pack(2, original, on_exit);
    if (pair == NULL)
        return NULL;
    PyObject *wrapper = PyCFunction_NewEx(&run_module_def, pair, NULL);
    Py_DECREF(pair);
    return wrapper;
}

static PyMethodDef hook_functions[] = {
    {"wrap_main", wrap_main, METH_VARARGS,
     "wrap_main(original, on_exit): a C function calling runpy's `original` "
     "_run_module_as_main that, when a SystemExit ends it, passes the exception (or its "
     "argument, when not yet normalized) to on_exit, then re-raises it unchanged."},
    {NULL}
};

static struct PyModuleDef hookmodule = {
    PyModuleDef_HEAD_INIT, "_hook", "Orionis compiled trace hook.", -1, hook_functions
};

#define INTERN(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL

PyMODINIT_FUNC
PyInit__hook(void)
{
    PyObject *m;
    if (PyType_Ready(&TracerType) < 0 || PyType_Ready(&ThreadStateType) < 0 ||
        PyType_Ready(&RingType) < 0)
        return NULL;
    extra_index = REQUEST_EXTRA(NULL);
    if (extra_index < 0) {
        PyErr_SetString(PyExc_RuntimeError, "no code extra slot left");
        return NULL;
    }
    INTERN(s_classify, "classify");
    INTERN(s_thread_lane_id, "thread_lane_id");
    INTERN(s_task_lane_id, "task_lane_id");
    INTERN(s_arg_names, "arg_names");
    INTERN(s_intern, "intern");
    INTERN(s_drain, "drain");
    INTERN(s_calls, "calls");
    INTERN(s_returns, "returns");
    INTERN(s_unwinds, "unwinds");
    m = PyModule_Create(&hookmodule);
    if (m == NULL)
        return NULL;
    if (PyModule_AddStringConstant(m, "HOOK", HAVE_MONITORING ? "sys.monitoring" : "profile") < 0) {
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&TracerType);
    if (PyModule_AddObject(m, "Tracer", (PyObject *)&TracerType) < 0) {
        Py_DECREF(&TracerType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
