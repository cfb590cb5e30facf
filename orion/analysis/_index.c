/* The trace index's pass over every record, in C (orion/analysis/trace_index.py).
 *
 * A 1,000,000-event trace took ~1 s of CPU to index in Python and ~0.7 s more to read
 * every record through msgpack into Python lists, most of them quiet calls that the
 * model never sees. Scanner walks each decompressed frame's msgpack bytes itself and
 * does what `_Indexer.observe` does with each record: the step columns, the frame and
 * partner links, the held-back calls and the order the model is given records in. It
 * hands the reader (TraceReader.frame_filter) only the records the model is given, the
 * held-back calls' records put back where they are needed, each timed one with its
 * time delta rewritten so that the reader's running sum still gives its own time.
 *
 * Anything it does not know for certain to be what the Python pass would accept raises
 * Unscannable (a float delta, an ext type, a record that is not an array, a value past
 * a column's range, ...): the caller then indexes the trace in Python, which gives the
 * same index or the same error. NotIndexable is what `_NotIndexable` is in Python (the
 * tree walk would reorder steps, or a return has no call open): the whole tree is read.
 * The scan itself runs without the GIL. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Record type codes (orion/format/constants.py: spec section 4); the step kinds each
 * becomes and msgpack's container length limit are given by Scanner(kinds, limit). */
enum { R_CALL = 4, R_RETURN = 5, R_EXCEPTION = 6, R_UNWIND = 7, R_CRASH = 8, R_STACK = 9,
       R_EVENT = 10 };
/* Deeper values are Unscannable (msgpack refuses 1,024 levels: the reader says so). */
#define MAX_NESTING 512
#define HAS_EVENTS 1

enum { OK = 0, E_UNSCANNABLE = 1, E_NOT_INDEXABLE = 2, E_NO_MEMORY = 3, E_FAILED = 4 };

static PyObject *Unscannable, *NotIndexable;

/* -- growable byte vectors ------------------------------------------------------------ */

typedef struct {
    char *p;
    size_t n, cap;
} Vec;

static int vec_reserve(Vec *v, size_t more) {
    if (v->n + more <= v->cap) return OK;
    size_t cap = v->cap ? v->cap : 256;
    while (cap < v->n + more) cap *= 2;
    char *p = realloc(v->p, cap);
    if (!p) return E_NO_MEMORY;
    v->p = p;
    v->cap = cap;
    return OK;
}

static int vec_put(Vec *v, const void *data, size_t size) {
    if (vec_reserve(v, size)) return E_NO_MEMORY;
    memcpy(v->p + v->n, data, size);
    v->n += size;
    return OK;
}

#define PUT(vec, type, value)                                                                 \
    do {                                                                                      \
        type put_value_ = (type)(value);                                                      \
        if (vec_put(&(vec), &put_value_, sizeof put_value_)) return E_NO_MEMORY;             \
    } while (0)

/* -- int64 -> index map (lanes, functions with sites) ------------------------------- */

typedef struct {
    int64_t *keys;
    int32_t *values; /* -1: empty */
    size_t cap, n;
} Map;

static uint64_t mix(int64_t key) {
    uint64_t x = (uint64_t)key * 0x9E3779B97F4A7C15ull;
    return x ^ (x >> 29);
}

static int32_t map_get(const Map *m, int64_t key) {
    if (!m->cap) return -1;
    for (size_t i = mix(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (m->values[i] < 0) return -1;
        if (m->keys[i] == key) return m->values[i];
    }
}

static int map_set(Map *m, int64_t key, int32_t value) {
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        int64_t *keys = malloc(cap * sizeof *keys);
        int32_t *values = malloc(cap * sizeof *values);
        if (!keys || !values) {
            free(keys);
            free(values);
            return E_NO_MEMORY;
        }
        memset(values, 0xff, cap * sizeof *values);
        for (size_t i = 0; i < m->cap; i++) {
            if (m->values[i] < 0) continue;
            size_t j = mix(m->keys[i]) & (cap - 1);
            while (values[j] >= 0) j = (j + 1) & (cap - 1);
            keys[j] = m->keys[i];
            values[j] = m->values[i];
        }
        free(m->keys);
        free(m->values);
        m->keys = keys;
        m->values = values;
        m->cap = cap;
    }
    size_t i = mix(key) & (m->cap - 1);
    while (m->values[i] >= 0) i = (i + 1) & (m->cap - 1);
    m->keys[i] = key;
    m->values[i] = value;
    m->n++;
    return OK;
}

static void map_free(Map *m) {
    free(m->keys);
    free(m->values);
}

/* -- the index's state ---------------------------------------------------------------- */

typedef struct {
    int32_t step;   /* the level's call step (-1: the lane itself) */
    int32_t record; /* its call's record number */
    int64_t last;   /* time of the last step directly in it */
    int has_last, priority;
} Level;

typedef struct {
    size_t start, size;   /* the record's bytes in the lane's `held` */
    size_t delta_at, delta_size; /* its time delta, within those bytes */
    int64_t t;
} Held;

typedef struct {
    int64_t id;
    Vec kinds, times, depths, records, aux, frame, partner, flagged;
    int32_t steps;
    int has_items;
    Level *levels;
    size_t nlevels, levels_cap;
    Held *pending;
    size_t npending, pending_cap;
    Vec held; /* the held-back call records' bytes */
} Lane;

typedef struct {
    Vec numbers, sites;
} Sites;

typedef struct {
    PyObject_HEAD
    Lane *lanes;
    size_t nlanes, lanes_cap;
    Map lane_ids;
    Sites *sites;
    size_t nsites, sites_cap;
    Map site_fns;
    Vec frame_offsets, frame_starts, given, call_records;
    int64_t number; /* records read so far */
    int32_t crashes;
    int failed; /* a scan raised: the scanner is not to be used again */
    /* A step the index cannot hold was read: the reader was handed the records before it
     * (the Python pass stops there too, after the reader checked them), and the next
     * frame() or finish() raises NotIndexable. */
    int not_indexable;
    int64_t emitted_t; /* the reader's running time over what it was handed in this frame */
    Vec out;
    uint8_t kinds[R_EVENT + 1]; /* record type -> step kind */
    uint64_t max_container_len;
} Scanner;

/* -- msgpack ------------------------------------------------------------------------- */

typedef struct {
    const uint8_t *p, *end;
    uint64_t limit; /* the longest array or map msgpack's Unpacker is let read */
} Cursor;

static uint64_t be(const uint8_t *p, int size) {
    uint64_t x = 0;
    for (int i = 0; i < size; i++) x = (x << 8) | p[i];
    return x;
}

/* An int at the cursor: 1 read (into *value), 0 nil, -1 anything else (or too big). */
static int read_int(Cursor *c, int64_t *value) {
    if (c->p >= c->end) return -1;
    uint8_t b = *c->p;
    if (b <= 0x7f || b >= 0xe0) {
        *value = (int8_t)b;
        c->p++;
        return 1;
    }
    if (b == 0xc0) {
        c->p++;
        return 0;
    }
    static const int sizes[8] = {1, 2, 4, 8, 1, 2, 4, 8}; /* 0xcc..0xd3 */
    if (b < 0xcc || b > 0xd3) return -1;
    int size = sizes[b - 0xcc];
    if (c->end - c->p < 1 + size) return -1;
    uint64_t raw = be(c->p + 1, size);
    if (b <= 0xcf) { /* unsigned */
        if (raw > INT64_MAX) return -1;
        *value = (int64_t)raw;
    } else if (size == 1) {
        *value = (int8_t)raw;
    } else if (size == 2) {
        *value = (int16_t)raw;
    } else if (size == 4) {
        *value = (int32_t)raw;
    } else {
        *value = (int64_t)raw;
    }
    c->p += 1 + size;
    return 1;
}

/* A container's header: its item count, or -1 when the cursor holds no such container. */
static int64_t read_array(Cursor *c) {
    if (c->p >= c->end) return -1;
    uint8_t b = *c->p;
    uint64_t n;
    if ((b & 0xf0) == 0x90) {
        n = b & 0x0f;
        c->p++;
    } else if (b == 0xdc || b == 0xdd) {
        int size = b == 0xdc ? 2 : 4;
        if (c->end - c->p < 1 + size) return -1;
        n = be(c->p + 1, size);
        c->p += 1 + size;
    } else {
        return -1;
    }
    return n > c->limit ? -1 : (int64_t)n;
}

/* Strict UTF-8 as Python decodes it: no overlong forms, surrogates or code points past
 * U+10FFFF. */
static int utf8_ok(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t b = s[i];
        if (b < 0x80) {
            i++;
            continue;
        }
        int more;
        uint32_t cp;
        if (b >= 0xc2 && b <= 0xdf) {
            more = 1;
            cp = b & 0x1f;
        } else if (b >= 0xe0 && b <= 0xef) {
            more = 2;
            cp = b & 0x0f;
        } else if (b >= 0xf0 && b <= 0xf4) {
            more = 3;
            cp = b & 0x07;
        } else {
            return 0;
        }
        if (n - i <= (size_t)more) return 0;
        for (int k = 1; k <= more; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((more == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (more == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        i += more + 1;
    }
    return 1;
}

/* Past one msgpack object, checked as the reader's Unpacker checks it; 0 when it is
 * anything this scanner leaves to the Python reader. `key`: a map's key (no container). */
static int skip(Cursor *c, int depth, int key) {
    if (c->p >= c->end || depth > MAX_NESTING) return 0;
    uint8_t b = *c->p;
    uint64_t n = 0, size = 0;
    int items = 0; /* 1 array, 2 map */
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
        c->p++;
        return 1;
    }
    if ((b & 0xe0) == 0xa0) { /* fixstr */
        size = b & 0x1f;
        c->p++;
        if ((uint64_t)(c->end - c->p) < size || !utf8_ok(c->p, size)) return 0;
        c->p += size;
        return 1;
    }
    if ((b & 0xf0) == 0x90) {
        n = b & 0x0f;
        items = 1;
        c->p++;
    } else if ((b & 0xf0) == 0x80) {
        n = b & 0x0f;
        items = 2;
        c->p++;
    } else {
        int head;
        switch (b) {
        case 0xca: head = 4; break;
        case 0xcb: head = 8; break;
        case 0xcc: case 0xd0: head = 1; break;
        case 0xcd: case 0xd1: head = 2; break;
        case 0xce: case 0xd2: head = 4; break;
        case 0xcf: case 0xd3: head = 8; break;
        case 0xc4: case 0xd9: head = 1; break;
        case 0xc5: case 0xda: case 0xdc: case 0xde: head = 2; break;
        case 0xc6: case 0xdb: case 0xdd: case 0xdf: head = 4; break;
        default: return 0; /* ext types, 0xc1 */
        }
        if (c->end - c->p < 1 + head) return 0;
        uint64_t v = be(c->p + 1, head);
        c->p += 1 + head;
        if (b >= 0xc4 && b <= 0xc6) { /* bin */
            if ((uint64_t)(c->end - c->p) < v) return 0;
            c->p += v;
            return 1;
        }
        if (b >= 0xd9 && b <= 0xdb) { /* str */
            if ((uint64_t)(c->end - c->p) < v || !utf8_ok(c->p, v)) return 0;
            c->p += v;
            return 1;
        }
        if (b == 0xdc || b == 0xdd) {
            n = v;
            items = 1;
        } else if (b == 0xde || b == 0xdf) {
            n = v;
            items = 2;
        } else {
            return 1; /* a number */
        }
    }
    if (key || n > c->limit) return 0; /* unhashable key; msgpack's length limit */
    for (uint64_t i = 0; i < n; i++) {
        if (items == 2 && !skip(c, depth + 1, 1)) return 0;
        if (!skip(c, depth + 1, 0)) return 0;
    }
    return 1;
}

/* -- the pass ------------------------------------------------------------------------ */

static int lane_of(Scanner *s, int64_t id, Lane **out) {
    int32_t at = map_get(&s->lane_ids, id);
    if (at < 0) {
        if (s->nlanes == s->lanes_cap) {
            size_t cap = s->lanes_cap ? s->lanes_cap * 2 : 4;
            Lane *lanes = realloc(s->lanes, cap * sizeof *lanes);
            if (!lanes) return E_NO_MEMORY;
            s->lanes = lanes;
            s->lanes_cap = cap;
        }
        Lane *lane = &s->lanes[s->nlanes];
        memset(lane, 0, sizeof *lane);
        lane->id = id;
        lane->levels = malloc(16 * sizeof(Level));
        if (!lane->levels) return E_NO_MEMORY;
        lane->levels_cap = 16;
        lane->levels[0] = (Level){-1, -1, 0, 0, 0};
        lane->nlevels = 1;
        at = (int32_t)s->nlanes++;
        if (map_set(&s->lane_ids, id, at)) return E_NO_MEMORY;
    }
    *out = &s->lanes[at];
    return OK;
}

/* A record for the reader, its time delta (at [delta_at, +delta_size) of its bytes)
 * rewritten to bring the reader's running time to t. */
static int emit_timed(Scanner *s, const uint8_t *rec, size_t size, size_t delta_at,
                      size_t delta_size, int64_t t) {
    int64_t delta;
    if (__builtin_sub_overflow(t, s->emitted_t, &delta)) return E_UNSCANNABLE;
    s->emitted_t = t;
    uint8_t encoded[9] = {0xd3};
    for (int i = 0; i < 8; i++) encoded[1 + i] = (uint8_t)((uint64_t)delta >> (56 - 8 * i));
    if (vec_reserve(&s->out, size + 9)) return E_NO_MEMORY;
    vec_put(&s->out, rec, delta_at);
    vec_put(&s->out, encoded, 9);
    vec_put(&s->out, rec + delta_at + delta_size, size - delta_at - delta_size);
    return OK;
}

/* The lane's held-back calls handed on, outermost first (`_Indexer._give`). */
static int give_pending(Scanner *s, Lane *lane) {
    size_t first = lane->nlevels - lane->npending;
    for (size_t i = 0; i < lane->npending; i++) {
        Held *h = &lane->pending[i];
        int32_t number = lane->levels[first + i].record;
        PUT(s->call_records, int64_t, number);
        PUT(s->given, int64_t, number);
        int err = emit_timed(s, (const uint8_t *)lane->held.p + h->start, h->size,
                             h->delta_at, h->delta_size, h->t);
        if (err) return err;
    }
    lane->npending = 0;
    lane->held.n = 0;
    return OK;
}

static int push_level(Lane *lane, int32_t step, int32_t record) {
    if (lane->nlevels == lane->levels_cap) {
        Level *levels = realloc(lane->levels, lane->levels_cap * 2 * sizeof *levels);
        if (!levels) return E_NO_MEMORY;
        lane->levels = levels;
        lane->levels_cap *= 2;
    }
    lane->levels[lane->nlevels++] = (Level){step, record, 0, 0, 0};
    return OK;
}

static int hold(Lane *lane, const uint8_t *rec, size_t size, size_t delta_at,
                size_t delta_size, int64_t t) {
    if (lane->npending == lane->pending_cap) {
        size_t cap = lane->pending_cap ? lane->pending_cap * 2 : 16;
        Held *pending = realloc(lane->pending, cap * sizeof *pending);
        if (!pending) return E_NO_MEMORY;
        lane->pending = pending;
        lane->pending_cap = cap;
    }
    lane->pending[lane->npending++] = (Held){lane->held.n, size, delta_at, delta_size, t};
    return vec_put(&lane->held, rec, size);
}

static int add_step(Lane *lane, int kind, int64_t t, int64_t record, int64_t aux,
                    int32_t frame, int32_t partner) {
    /* What the Python pass's 4-byte columns cannot hold: it finds out only when it packs
     * them, later, so it is left to find out itself. */
    if (record > INT32_MAX || aux > INT32_MAX || aux < INT32_MIN || lane->steps == INT32_MAX)
        return E_UNSCANNABLE;
    PUT(lane->kinds, uint8_t, kind);
    PUT(lane->times, int64_t, t);
    PUT(lane->depths, int32_t, lane->nlevels - 1);
    PUT(lane->records, int32_t, record);
    PUT(lane->aux, int32_t, aux);
    PUT(lane->frame, int32_t, frame);
    PUT(lane->partner, int32_t, partner);
    lane->steps++;
    return OK;
}

static int add_site(Scanner *s, int64_t fn, int64_t number, int64_t site) {
    int32_t at = map_get(&s->site_fns, fn);
    if (at < 0) {
        if (s->nsites == s->sites_cap) {
            size_t cap = s->sites_cap ? s->sites_cap * 2 : 8;
            Sites *sites = realloc(s->sites, cap * sizeof *sites);
            if (!sites) return E_NO_MEMORY;
            s->sites = sites;
            s->sites_cap = cap;
        }
        memset(&s->sites[s->nsites], 0, sizeof(Sites));
        at = (int32_t)s->nsites++;
        if (map_set(&s->site_fns, fn, at)) return E_NO_MEMORY;
    }
    PUT(s->sites[at].numbers, int64_t, number);
    PUT(s->sites[at].sites, int64_t, site);
    return OK;
}

/* The time order the tree walk keeps within a call (`_Indexer.observe`). */
static int in_order(Level *level, int64_t t, int priority, int is_call) {
    if (level->has_last && (t < level->last ||
                            (t == level->last && (is_call ? level->priority != 0
                                                          : priority < level->priority))))
        return 0;
    level->has_last = 1;
    level->last = t;
    level->priority = priority;
    return 1;
}

/* Past the object at the cursor if it is nil or an array (args, locals): 0 if not. */
static int nil_or_array(Cursor *c) {
    if (c->p >= c->end) return 0;
    uint8_t b = *c->p;
    return (b == 0xc0 || (b & 0xf0) == 0x90 || b == 0xdc || b == 0xdd) && skip(c, 1, 0);
}

/* One timed record of a step kind (`fields` after its type code, the cursor at its lane,
 * its bytes [rec, rec + size) already checked whole): the step indexed as the Python
 * pass does, *given set when the record goes on to the model now. */
static int step(Scanner *s, int code, int64_t fields, const uint8_t *rec, size_t size,
                Cursor *c, size_t delta_at, size_t delta_size, int64_t t, int64_t number,
                int *given) {
    int64_t lane_id, fn = 0, aux = 0, site = 0, line;
    int has_site = 0, err;
    if (fields < 2 || read_int(c, &lane_id) != 1) return E_UNSCANNABLE;
    if (code == R_CALL) {
        if (fields < 3 || read_int(c, &fn) != 1) return E_UNSCANNABLE;
        if (fields > 3 && !nil_or_array(c)) return E_UNSCANNABLE;
        if (fields > 4) {
            int got = read_int(c, &site);
            if (got < 0) return E_UNSCANNABLE;
            if (got == 0) return E_NOT_INDEXABLE; /* array('q') takes no None */
            has_site = 1;
        }
    } else if (code == R_UNWIND) {
        if (fields < 3 || read_int(c, &line) < 0) return E_UNSCANNABLE;
        if (fields > 3 && !nil_or_array(c)) return E_UNSCANNABLE;
    } else if (code == R_EXCEPTION) {
        if (fields < 3 || read_int(c, &aux) != 1) return E_UNSCANNABLE;
    }
    if (number > INT32_MAX) return E_UNSCANNABLE; /* as add_step */
    Lane *lane;
    if ((err = lane_of(s, lane_id, &lane))) return err;
    int32_t step_no = lane->steps;
    Level *level = &lane->levels[lane->nlevels - 1];
    *given = 1;
    if (code == R_CALL) {
        if (!in_order(level, t, 0, 1)) return E_NOT_INDEXABLE;
        int32_t caller = level->step;
        if (step_no) {
            if ((err = hold(lane, rec, size, delta_at, delta_size, t))) return err;
            *given = 0;
        } else { /* a lane's first call, given at once: the model makes lanes in order */
            PUT(s->call_records, int64_t, number);
        }
        if (has_site && (err = add_site(s, fn, number, site))) return err;
        if ((err = add_step(lane, s->kinds[code], t, number, fn, caller, -1))) return err;
        return push_level(lane, step_no, (int32_t)number);
    }
    if (code == R_RETURN || code == R_UNWIND) {
        if (lane->nlevels == 1) return E_NOT_INDEXABLE; /* a frame from before the window */
        if (code == R_UNWIND && lane->npending) {
            if ((err = give_pending(s, lane))) return err;
        } else if (lane->npending) {
            Held *h = &lane->pending[--lane->npending]; /* quiet: the model never sees it */
            lane->held.n = h->start;
            *given = 0;
        }
        int32_t call = lane->levels[--lane->nlevels].step;
        ((int32_t *)lane->partner.p)[call] = step_no;
        return add_step(lane, s->kinds[code], t, number, 0,
                        lane->levels[lane->nlevels - 1].step, call);
    }
    if (!in_order(level, t, code == R_EXCEPTION ? 1 : 2, 0)) return E_NOT_INDEXABLE;
    if (code == R_CRASH) aux = s->crashes++;
    if (code != R_EXCEPTION) {
        if (level->step >= 0) PUT(lane->flagged, int32_t, level->step);
        else lane->has_items = 1;
    }
    if (code != R_EVENT && lane->npending && (err = give_pending(s, lane))) return err;
    return add_step(lane, s->kinds[code], t, number, aux, level->step, -1);
}

/* Past `count` objects, each checked (skip); 0 when one is not right. */
static int skip_all(Cursor *c, int64_t count) {
    for (int64_t i = 0; i < count; i++)
        if (!skip(c, 1, 0)) return 0;
    return 1;
}

/* One frame's records: steps indexed, what the model is given appended to s->out. */
static int scan_frame(Scanner *s, const uint8_t *data, size_t size, int64_t offset) {
    Cursor c = {data, data + size, s->max_container_len};
    int64_t t = 0; /* the reader's running time in this frame */
    int err;
    s->emitted_t = 0;
    s->out.n = 0;
    for (int first = 1; c.p < c.end; first = 0) {
        const uint8_t *rec = c.p;
        int64_t fields = read_array(&c) - 1, code;
        if (fields < 0 || read_int(&c, &code) != 1) return E_UNSCANNABLE;
        int64_t number = s->number++;
        if (first) {
            PUT(s->frame_offsets, int64_t, offset);
            PUT(s->frame_starts, int64_t, number);
        }
        if (code < R_CALL || code > R_EVENT) { /* untimed: handed on as it is */
            if (!skip_all(&c, fields)) return E_UNSCANNABLE;
            PUT(s->given, int64_t, number);
            if (vec_put(&s->out, rec, c.p - rec)) return E_NO_MEMORY;
            continue;
        }
        size_t delta_at = c.p - rec;
        int64_t delta;
        if (fields < 1 || read_int(&c, &delta) != 1) return E_UNSCANNABLE; /* float, nil */
        if (__builtin_add_overflow(t, delta, &t)) return E_UNSCANNABLE;
        size_t delta_size = (c.p - rec) - delta_at;
        Cursor fields_at = c;
        if (!skip_all(&c, fields - 1)) return E_UNSCANNABLE;
        size_t rec_size = c.p - rec;
        int given;
        err = step(s, (int)code, fields, rec, rec_size, &fields_at, delta_at, delta_size, t,
                   number, &given);
        if (err == E_NOT_INDEXABLE) {
            s->not_indexable = 1;
            return OK;
        }
        if (err) return err;
        if (given) {
            PUT(s->given, int64_t, number);
            if ((err = emit_timed(s, rec, rec_size, delta_at, delta_size, t))) return err;
        }
    }
    return OK;
}

/* -- the Python type ------------------------------------------------------------------ */

static void lane_free(Lane *lane) {
    Vec *vecs[] = {&lane->kinds, &lane->times, &lane->depths, &lane->records, &lane->aux,
                   &lane->frame, &lane->partner, &lane->flagged, &lane->held};
    for (size_t i = 0; i < sizeof vecs / sizeof *vecs; i++) free(vecs[i]->p);
    free(lane->levels);
    free(lane->pending);
}

static void scanner_dealloc(Scanner *s) {
    for (size_t i = 0; i < s->nlanes; i++) lane_free(&s->lanes[i]);
    free(s->lanes);
    for (size_t i = 0; i < s->nsites; i++) {
        free(s->sites[i].numbers.p);
        free(s->sites[i].sites.p);
    }
    free(s->sites);
    map_free(&s->lane_ids);
    map_free(&s->site_fns);
    free(s->frame_offsets.p);
    free(s->frame_starts.p);
    free(s->given.p);
    free(s->call_records.p);
    free(s->out.p);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static int scanner_init(Scanner *s, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"kinds", "max_container_len", NULL};
    Py_buffer kinds;
    unsigned long long limit;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*K", keywords, &kinds, &limit))
        return -1;
    int ok = kinds.len == sizeof s->kinds;
    if (ok) memcpy(s->kinds, kinds.buf, sizeof s->kinds);
    PyBuffer_Release(&kinds);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "kinds: one step kind per record type up to event");
        return -1;
    }
    s->max_container_len = limit;
    return 0;
}

static PyObject *raise_for(int err) {
    if (err == E_NO_MEMORY) return PyErr_NoMemory();
    if (err == E_FAILED) {
        PyErr_SetString(PyExc_RuntimeError, "the scanner failed before");
        return NULL;
    }
    PyErr_SetNone(err == E_NOT_INDEXABLE ? NotIndexable : Unscannable);
    return NULL;
}

PyDoc_STRVAR(frame_doc,
"frame(data, offset) -> bytes: one decompressed frame (at byte offset of the file) indexed;\n"
"the records the model is to be given now, for the reader to unpack.");

static PyObject *scanner_frame(Scanner *s, PyObject *args) {
    Py_buffer data;
    long long offset;
    if (!PyArg_ParseTuple(args, "y*L", &data, &offset)) return NULL;
    if (s->failed || s->not_indexable) {
        PyBuffer_Release(&data);
        return raise_for(s->failed ? E_FAILED : E_NOT_INDEXABLE);
    }
    int err;
    Py_BEGIN_ALLOW_THREADS
    err = scan_frame(s, data.buf, (size_t)data.len, offset);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    if (err) {
        s->failed = 1;
        return raise_for(err);
    }
    return PyBytes_FromStringAndSize(s->out.p, (Py_ssize_t)s->out.n);
}

/* A column handed over as the Python pass has it (an array of `typecode`, or a bytearray
 * when typecode is NULL), its C copy freed at once: a million steps' columns are tens
 * of MB, and they are never held twice over. */
static PyObject *column(PyObject *array_type, const char *typecode, Vec *v) {
    PyObject *out;
    if (!typecode) {
        out = PyByteArray_FromStringAndSize(v->p, (Py_ssize_t)v->n);
    } else {
        out = PyObject_CallFunction(array_type, "s", typecode);
        PyObject *view = out ? PyMemoryView_FromMemory(v->p ? v->p : "", (Py_ssize_t)v->n,
                                                       PyBUF_READ) : NULL;
        PyObject *done = view ? PyObject_CallMethod(out, "frombytes", "O", view) : NULL;
        Py_XDECREF(view);
        if (!done) Py_CLEAR(out);
        Py_XDECREF(done);
    }
    free(v->p);
    *v = (Vec){NULL, 0, 0};
    return out;
}

PyDoc_STRVAR(finish_doc,
"finish() -> (tail, lanes, sites, frame_offsets, frame_starts, given, call_records):\n"
"tail: the msgpack records of calls still open at the end, for the model last (deltas\n"
"from 0); lanes: (id, has_items, kinds, times, depths, records, aux, flags, frame,\n"
"partner) in the order first seen; sites: (order, fn, record numbers, sites); columns as\n"
"the Python pass's arrays and bytearrays.");

static PyObject *scanner_finish(Scanner *s, PyObject *unused) {
    (void)unused;
    if (s->failed || s->not_indexable) return raise_for(s->failed ? E_FAILED : E_NOT_INDEXABLE);
    s->failed = 1; /* its columns are handed over: once only */
    s->out.n = 0;
    s->emitted_t = 0;
    PyObject *module = PyImport_ImportModule("array"), *array_type = NULL;
    PyObject *lanes = PyList_New(0), *sites = PyList_New(0), *tail = NULL, *result = NULL;
    if (!module || !lanes || !sites || !(array_type = PyObject_GetAttrString(module, "array")))
        goto done;
    for (size_t i = 0; i < s->nlanes; i++) {
        int err = give_pending(s, &s->lanes[i]);
        if (err) {
            raise_for(err);
            goto done;
        }
    }
    if (!(tail = PyBytes_FromStringAndSize(s->out.p, (Py_ssize_t)s->out.n))) goto done;
    for (size_t i = 0; i < s->nlanes; i++) {
        Lane *lane = &s->lanes[i];
        Vec flags = {calloc(lane->steps ? lane->steps : 1, 1), lane->steps, lane->steps};
        if (!flags.p) {
            PyErr_NoMemory();
            goto done;
        }
        for (size_t j = 0; j < lane->flagged.n / sizeof(int32_t); j++)
            flags.p[((int32_t *)lane->flagged.p)[j]] |= HAS_EVENTS;
        PyObject *item = Py_BuildValue(
            "(LiNNNNNNNN)", (long long)lane->id, lane->has_items,
            column(array_type, NULL, &lane->kinds), column(array_type, "q", &lane->times),
            column(array_type, "i", &lane->depths), column(array_type, "i", &lane->records),
            column(array_type, "i", &lane->aux), column(array_type, NULL, &flags),
            column(array_type, "i", &lane->frame), column(array_type, "i", &lane->partner));
        if (!item || PyList_Append(lanes, item) < 0) {
            Py_XDECREF(item);
            goto done;
        }
        Py_DECREF(item);
    }
    for (size_t i = 0; i < s->site_fns.cap; i++) {
        int32_t at = s->site_fns.values[i];
        if (at < 0) continue;
        PyObject *item = Py_BuildValue("(iLNN)", at, (long long)s->site_fns.keys[i],
                                       column(array_type, "q", &s->sites[at].numbers),
                                       column(array_type, "q", &s->sites[at].sites));
        if (!item || PyList_Append(sites, item) < 0) {
            Py_XDECREF(item);
            goto done;
        }
        Py_DECREF(item);
    }
    if (PyList_Sort(sites) < 0) goto done; /* back in the order first seen */
    result = Py_BuildValue("(OOONNNN)", tail, lanes, sites,
                           column(array_type, "q", &s->frame_offsets),
                           column(array_type, "q", &s->frame_starts),
                           column(array_type, "q", &s->given),
                           column(array_type, "q", &s->call_records));
done:
    Py_XDECREF(module);
    Py_XDECREF(array_type);
    Py_XDECREF(tail);
    Py_XDECREF(lanes);
    Py_XDECREF(sites);
    return result;
}

static PyMethodDef scanner_methods[] = {
    {"frame", (PyCFunction)scanner_frame, METH_VARARGS, frame_doc},
    {"finish", (PyCFunction)scanner_finish, METH_NOARGS, finish_doc},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "orion.analysis._index.Scanner",
    .tp_basicsize = sizeof(Scanner),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Scanner(kinds, max_container_len): a trace's index, made frame by frame.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)scanner_init,
    .tp_dealloc = (destructor)scanner_dealloc,
    .tp_methods = scanner_methods,
};

static struct PyModuleDef index_module = {
    PyModuleDef_HEAD_INIT, "orion.analysis._index",
    "The trace index's pass over every record, in C (see trace_index.py).", -1, NULL,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__index(void) {
    if (PyType_Ready(&ScannerType) < 0) return NULL;
    PyObject *m = PyModule_Create(&index_module);
    if (!m) return NULL;
    Unscannable = PyErr_NewException("orion.analysis._index.Unscannable", NULL, NULL);
    NotIndexable = PyErr_NewException("orion.analysis._index.NotIndexable", NULL, NULL);
    if (!Unscannable || !NotIndexable || PyModule_AddObject(m, "Unscannable", Unscannable) < 0 ||
        PyModule_AddObject(m, "NotIndexable", NotIndexable) < 0)
        return NULL;
    Py_INCREF(Unscannable);
    Py_INCREF(NotIndexable);
    Py_INCREF(&ScannerType);
    if (PyModule_AddObject(m, "Scanner", (PyObject *)&ScannerType) < 0) return NULL;
    return m;
}
