/* zstd frames for the trace writer, through the system's libzstd.so.1.
 *
 * The zstandard package is the writer's other way to compress, but importing it costs
 * every traced Python process ~15 ms (it imports platform and typing), and the agent
 * writes its header frame while the program starts. This module uses the C agent's
 * loader (agents/c/src/compress.c: libzstd loaded at run time, no zstd headers needed)
 * and compresses without the GIL, so a program thread is not held up by the writer's
 * compressing thread. Compressor() raises OSError when libzstd cannot be loaded: the
 * writer then falls back to the zstandard package. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>

#include "compress.h"

typedef struct {
    PyObject_HEAD
    struct orion_zstd *zstd;
    PyThread_type_lock lock; /* a zstd context is used by one thread at a time */
} Compressor;

static int compressor_init(Compressor *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"level", NULL};
    int level = 3;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|i", keywords, &level)) return -1;
    if (self->zstd) return 0;
    self->lock = PyThread_allocate_lock();
    if (!self->lock) {
        PyErr_NoMemory();
        return -1;
    }
    self->zstd = orion_zstd_open(level);
    if (!self->zstd) {
        PyErr_SetString(PyExc_OSError, "libzstd.so.1 could not be loaded");
        return -1;
    }
    return 0;
}

static void compressor_dealloc(Compressor *self) {
    orion_zstd_close(self->zstd);
    if (self->lock) PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

PyDoc_STRVAR(compress_doc, "compress(data) -> bytes: one zstd frame with content size and checksum.");

static PyObject *compressor_compress(Compressor *self, PyObject *arg) {
    Py_buffer data;
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0) return NULL;
    size_t cap = orion_zstd_bound((size_t)data.len);
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)cap);
    if (!out) {
        PyBuffer_Release(&data);
        return NULL;
    }
    size_t written;
    Py_BEGIN_ALLOW_THREADS
    PyThread_acquire_lock(self->lock, WAIT_LOCK);
    written = orion_zstd_compress(self->zstd, (uint8_t *)PyBytes_AS_STRING(out), cap,
                                  (const uint8_t *)data.buf, (size_t)data.len);
    PyThread_release_lock(self->lock);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    if (!written) {
        Py_DECREF(out);
        PyErr_SetString(PyExc_RuntimeError, "zstd compression failed");
        return NULL;
    }
    if (_PyBytes_Resize(&out, (Py_ssize_t)written) < 0) return NULL;
    return out;
}

static PyMethodDef compressor_methods[] = {
    {"compress", (PyCFunction)compressor_compress, METH_O, compress_doc},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject CompressorType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "orion.format._zstd.Compressor",
    .tp_doc = PyDoc_STR("Compressor(level=3): zstd frames through libzstd.so.1."),
    .tp_basicsize = sizeof(Compressor),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)compressor_init,
    .tp_dealloc = (destructor)compressor_dealloc,
    .tp_methods = compressor_methods,
};

static struct PyModuleDef zstd_module = {
    PyModuleDef_HEAD_INIT, "_zstd", "zstd frames through the system's libzstd.so.1.", -1, NULL,
};

PyMODINIT_FUNC PyInit__zstd(void) {
    if (PyType_Ready(&CompressorType) < 0) return NULL;
    PyObject *module = PyModule_Create(&zstd_module);
    if (!module) return NULL;
    Py_INCREF(&CompressorType);
    if (PyModule_AddObject(module, "Compressor", (PyObject *)&CompressorType) < 0) {
        Py_DECREF(&CompressorType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
