/* msgpack packing for the trace writer, byte for byte as msgpack-python's
 * Packer(use_bin_type=True, unicode_errors="replace") packs the same objects.
 *
 * Every traced Python process packs its header frame while the program starts; importing
 * msgpack for that costs it datetime's import too (~5 ms of the agent's start on 3.11).
 * The writer packs only plain data (None, bool, int, float, str, bytes, lists, tuples and
 * dicts of them, and their subclasses, as msgpack accepts them without strict_types), so
 * this module packs exactly those and raises TypeError for anything else, as msgpack does
 * without a `default`. orion/format/writer.py falls back to msgpack when it is not built;
 * tests/format/test_pack.py checks both give the same bytes. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define NEST_LIMIT 511 /* msgpack's DEFAULT_RECURSE_LIMIT */

typedef struct {
    char *data;
    Py_ssize_t len, cap;
} Buf;

static int reserve(Buf *b, Py_ssize_t more) {
    if (b->len + more <= b->cap) return 0;
    Py_ssize_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more) cap *= 2;
    char *grown = PyMem_Realloc(b->data, cap);
    if (!grown) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = grown;
    b->cap = cap;
    return 0;
}

static int put(Buf *b, const void *bytes, Py_ssize_t n) {
    if (reserve(b, n) < 0) return -1;
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
    return 0;
}

/* A type byte followed by `size` bytes of `value`, big-endian. */
static int put_be(Buf *b, unsigned char type, uint64_t value, int size) {
    unsigned char out[9];
    out[0] = type;
    for (int i = 0; i < size; i++) out[1 + i] = (unsigned char)(value >> (8 * (size - 1 - i)));
    return put(b, out, 1 + size);
}

/* A header for `n` items: the fix form under `fix_limit`, else the 8- (when `type8` is
 * non-zero), 16- or 32-bit form. */
static int put_header(Buf *b, Py_ssize_t n, unsigned char fix, Py_ssize_t fix_limit,
                      unsigned char type8, unsigned char type16, unsigned char type32) {
    if (n < fix_limit) {
        unsigned char byte = (unsigned char)(fix | n);
        return put(b, &byte, 1);
    }
    if (type8 && n < 256) return put_be(b, type8, (uint64_t)n, 1);
    if (n < 65536) return put_be(b, type16, (uint64_t)n, 2);
    if ((uint64_t)n <= 0xffffffffULL) return put_be(b, type32, (uint64_t)n, 4);
    PyErr_SetString(PyExc_ValueError, "too large to pack");
    return -1;
}

static int pack_int(Buf *b, PyObject *obj) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (overflow > 0) { /* beyond int64: uint64 when it fits */
        unsigned long long u = PyLong_AsUnsignedLongLong(obj);
        if (u == (unsigned long long)-1 && PyErr_Occurred()) {
            PyErr_SetString(PyExc_OverflowError, "Integer value out of range");
            return -1;
        }
        return put_be(b, 0xcf, u, 8);
    }
    if (overflow < 0) {
        PyErr_SetString(PyExc_OverflowError, "Integer value out of range");
        return -1;
    }
    if (v == -1 && PyErr_Occurred()) return -1;
    if (v >= 0) {
        if (v < 128) {
            unsigned char byte = (unsigned char)v;
            return put(b, &byte, 1);
        }
        if (v < 256) return put_be(b, 0xcc, (uint64_t)v, 1);
        if (v < 65536) return put_be(b, 0xcd, (uint64_t)v, 2);
        if (v <= 0xffffffffLL) return put_be(b, 0xce, (uint64_t)v, 4);
        return put_be(b, 0xcf, (uint64_t)v, 8);
    }
    if (v >= -32) {
        unsigned char byte = (unsigned char)(int8_t)v;
        return put(b, &byte, 1);
    }
    if (v >= -128) return put_be(b, 0xd0, (uint64_t)(uint8_t)(int8_t)v, 1);
    if (v >= -32768) return put_be(b, 0xd1, (uint64_t)(uint16_t)(int16_t)v, 2);
    if (v >= -2147483648LL) return put_be(b, 0xd2, (uint64_t)(uint32_t)(int32_t)v, 4);
    return put_be(b, 0xd3, (uint64_t)v, 8);
}

static int pack_str(Buf *b, PyObject *obj) {
    Py_ssize_t n;
    const char *text = PyUnicode_AsUTF8AndSize(obj, &n);
    PyObject *replaced = NULL;
    if (!text) { /* lone surrogates: "?" in their place, as unicode_errors="replace" */
        PyErr_Clear();
        replaced = PyUnicode_AsEncodedString(obj, "utf-8", "replace");
        if (!replaced) return -1;
        text = PyBytes_AS_STRING(replaced);
        n = PyBytes_GET_SIZE(replaced);
    }
    int rc = put_header(b, n, 0xa0, 32, 0xd9, 0xda, 0xdb);
    if (rc == 0) rc = put(b, text, n);
    Py_XDECREF(replaced);
    return rc;
}

static int pack_bin(Buf *b, const char *data, Py_ssize_t n) {
    if (put_header(b, n, 0, 0, 0xc4, 0xc5, 0xc6) < 0) return -1;
    return put(b, data, n);
}

static int pack(Buf *b, PyObject *obj, int depth) {
    if (depth > NEST_LIMIT) {
        PyErr_SetString(PyExc_ValueError, "recursion limit exceeded.");
        return -1;
    }
    if (obj == Py_None) return put(b, "\xc0", 1);
    if (obj == Py_True) return put(b, "\xc3", 1);
    if (obj == Py_False) return put(b, "\xc2", 1);
    if (PyLong_Check(obj)) return pack_int(b, obj);
    if (PyFloat_Check(obj)) {
        double d = PyFloat_AS_DOUBLE(obj);
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        return put_be(b, 0xcb, bits, 8);
    }
    if (PyUnicode_Check(obj)) return pack_str(b, obj);
    if (PyBytes_Check(obj)) return pack_bin(b, PyBytes_AS_STRING(obj), PyBytes_GET_SIZE(obj));
    if (PyByteArray_Check(obj))
        return pack_bin(b, PyByteArray_AS_STRING(obj), PyByteArray_GET_SIZE(obj));
    if (PyList_Check(obj) || PyTuple_Check(obj)) {
        PyObject *seq = PySequence_Fast(obj, "");
        if (!seq) return -1;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
        int rc = put_header(b, n, 0x90, 16, 0, 0xdc, 0xdd);
        for (Py_ssize_t i = 0; rc == 0 && i < n; i++)
            rc = pack(b, PySequence_Fast_GET_ITEM(seq, i), depth + 1);
        Py_DECREF(seq);
        return rc;
    }
    if (PyDict_Check(obj)) {
        if (put_header(b, PyDict_GET_SIZE(obj), 0x80, 16, 0, 0xde, 0xdf) < 0) return -1;
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        while (PyDict_Next(obj, &pos, &key, &value)) {
            if (pack(b, key, depth + 1) < 0 || pack(b, value, depth + 1) < 0) return -1;
        }
        return 0;
    }
    PyErr_Format(PyExc_TypeError, "can not serialize '%.200s' object", Py_TYPE(obj)->tp_name);
    return -1;
}

static PyObject *pack_object(PyObject *module, PyObject *obj) {
    Buf b = {NULL, 0, 0};
    PyObject *out = NULL;
    if (pack(&b, obj, 0) == 0) out = PyBytes_FromStringAndSize(b.data, b.len);
    PyMem_Free(b.data);
    return out;
}

/* The length of the msgpack integer at `p` (at most `n` bytes there), its value in *v (a
 * new reference); 0 when there is no whole integer there. */
static Py_ssize_t read_int(const unsigned char *p, Py_ssize_t n, PyObject **v) {
    if (n < 1) return 0;
    unsigned char type = p[0];
    if (type <= 0x7f || type >= 0xe0) {
        *v = PyLong_FromLong(type <= 0x7f ? (long)type : (long)(signed char)type);
        return *v ? 1 : 0;
    }
    int size = type == 0xcc || type == 0xd0 ? 1 : type == 0xcd || type == 0xd1 ? 2
             : type == 0xce || type == 0xd2 ? 4 : type == 0xcf || type == 0xd3 ? 8 : 0;
    if (!size || n < 1 + size) return 0;
    uint64_t u = 0;
    for (int i = 0; i < size; i++) u = (u << 8) | p[1 + i];
    if (type >= 0xd0) { /* signed: sign-extended */
        int unused = 64 - 8 * size;
        *v = PyLong_FromLongLong((long long)(u << unused) >> unused);
    } else {
        *v = PyLong_FromUnsignedLongLong(u);
    }
    return *v ? 1 + size : 0;
}

/* rebase_first(data, shift): records an agent packed itself, each [type, time delta, ...],
 * with the first record's delta moved by `shift` (TraceWriter.append_packed: a chunk the C
 * hook packed is re-based on the writer's clock). */
static PyObject *rebase_first(PyObject *module, PyObject *args) {
    Py_buffer data;
    PyObject *shift, *code = NULL, *delta = NULL, *moved = NULL, *out = NULL;
    if (!PyArg_ParseTuple(args, "y*O!", &data, &PyLong_Type, &shift)) return NULL;
    const unsigned char *p = data.buf;
    Py_ssize_t n = data.len, at;
    if (n >= 1 && p[0] >= 0x90 && p[0] <= 0x9f) at = 1;
    else if (n >= 3 && p[0] == 0xdc) at = 3;
    else if (n >= 5 && p[0] == 0xdd) at = 5;
    else at = 0;
    Py_ssize_t code_len = at ? read_int(p + at, n - at, &code) : 0;
    Py_ssize_t delta_len = code_len ? read_int(p + at + code_len, n - at - code_len, &delta) : 0;
    if (!delta_len) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "the first record is no [type, time delta, ...]");
    } else if ((moved = PyNumber_Add(delta, shift)) != NULL) {
        Buf b = {NULL, 0, 0};
        Py_ssize_t rest = at + code_len + delta_len;
        if (put(&b, p, at + code_len) == 0 && pack_int(&b, moved) == 0
            && put(&b, p + rest, n - rest) == 0)
            out = PyBytes_FromStringAndSize(b.data, b.len);
        PyMem_Free(b.data);
    }
    Py_XDECREF(code);
    Py_XDECREF(delta);
    Py_XDECREF(moved);
    PyBuffer_Release(&data);
    return out;
}

static PyMethodDef methods[] = {
    {"pack", pack_object, METH_O,
     "pack(obj) -> bytes: obj in msgpack, as msgpack.Packer(use_bin_type=True, "
     "unicode_errors='replace').pack(obj) gives it."},
    {"rebase_first", rebase_first, METH_VARARGS,
     "rebase_first(data, shift) -> bytes: packed records, each [type, time delta, ...], "
     "with the first one's delta moved by shift."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_pack", "msgpack packing for the trace writer.", -1, methods,
};

PyMODINIT_FUNC PyInit__pack(void) { return PyModule_Create(&module); }
