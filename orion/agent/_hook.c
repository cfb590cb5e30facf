/* The compiled hook: a C trace function (PyEval_SetTrace, as VizTracer uses
 * PyEval_SetProfile) that drops line events and untraced code in C and hands the rest to
 * the same Python callbacks the pure-Python hook uses, so both write the same records.
 *
 * Tracer(trace, fids): `trace` is the settrace-protocol global function, `fids` the dict
 * code -> function id (-1: not traced) that the Python side fills in.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>

typedef struct {
    PyObject_HEAD
    PyObject *trace;   /* global function: (frame, "call", None) -> local tracer or None */
    PyObject *fids;    /* dict: code -> int */
} Tracer;

static PyObject *s_call, *s_return, *s_exception, *s_f_trace;

static int
excluded(Tracer *self, PyFrameObject *frame)
{
    PyCodeObject *code = PyFrame_GetCode(frame);
    PyObject *fid = PyDict_GetItemWithError(self->fids, (PyObject *)code);
    Py_DECREF(code);
    if (fid == NULL)
        return 0;  /* unknown yet: let Python classify it */
    return PyLong_AsLong(fid) < 0;
}

static int
tracer_callback(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    Tracer *self = (Tracer *)obj;
    PyObject *result, *local;
    if (what == PyTrace_LINE || what == PyTrace_OPCODE)
        return 0;
    if (excluded(self, frame))
        return 0;
    if (what == PyTrace_CALL) {
        result = PyObject_CallFunctionObjArgs(self->trace, (PyObject *)frame, s_call,
                                              Py_None, NULL);
        if (result == NULL)
            return -1;
        if (result != Py_None && PyObject_SetAttr((PyObject *)frame, s_f_trace, result) < 0) {
            Py_DECREF(result);
            return -1;
        }
        Py_DECREF(result);
        return 0;
    }
    if (what != PyTrace_RETURN && what != PyTrace_EXCEPTION)
        return 0;
    local = PyObject_GetAttr((PyObject *)frame, s_f_trace);
    if (local == NULL)
        return -1;
    if (local == Py_None) {
        Py_DECREF(local);
        return 0;
    }
    result = PyObject_CallFunctionObjArgs(local, (PyObject *)frame,
                                          what == PyTrace_RETURN ? s_return : s_exception,
                                          arg ? arg : Py_None, NULL);
    Py_DECREF(local);
    if (result == NULL)
        return -1;
    Py_DECREF(result);
    return 0;
}

static int
Tracer_init(Tracer *self, PyObject *args, PyObject *kwds)
{
    PyObject *trace, *fids;
    if (!PyArg_ParseTuple(args, "OO!", &trace, &PyDict_Type, &fids))
        return -1;
    Py_INCREF(trace);
    Py_INCREF(fids);
    Py_XSETREF(self->trace, trace);
    Py_XSETREF(self->fids, fids);
    return 0;
}

static void
Tracer_dealloc(Tracer *self)
{
    Py_XDECREF(self->trace);
    Py_XDECREF(self->fids);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
Tracer_install(Tracer *self, PyObject *unused)
{
    PyEval_SetTrace(tracer_callback, (PyObject *)self);
    Py_RETURN_NONE;
}

static PyObject *
Tracer_uninstall(Tracer *self, PyObject *unused)
{
    PyEval_SetTrace(NULL, NULL);
    Py_RETURN_NONE;
}

static PyObject *
Tracer_retarget(Tracer *self, PyObject *args)
{
    PyObject *trace, *fids;
    if (!PyArg_ParseTuple(args, "OO!", &trace, &PyDict_Type, &fids))
        return NULL;
    Py_INCREF(trace);
    Py_INCREF(fids);
    Py_XSETREF(self->trace, trace);
    Py_XSETREF(self->fids, fids);
    Py_RETURN_NONE;
}

/* threading.settrace() target: installs the C hook in a new thread, then handles the
 * thread's first frame like any other call. */
static PyObject *
Tracer_thread_bootstrap(Tracer *self, PyObject *args)
{
    PyObject *frame, *event, *arg;
    if (!PyArg_ParseTuple(args, "OOO", &frame, &event, &arg))
        return NULL;
    PyEval_SetTrace(tracer_callback, (PyObject *)self);
    if (!PyFrame_Check(frame) || excluded(self, (PyFrameObject *)frame))
        Py_RETURN_NONE;
    return PyObject_CallFunctionObjArgs(self->trace, frame, event, arg, NULL);
}

static PyMethodDef Tracer_methods[] = {
    {"install", (PyCFunction)Tracer_install, METH_NOARGS, "Hook the current thread."},
    {"uninstall", (PyCFunction)Tracer_uninstall, METH_NOARGS, "Unhook the current thread."},
    {"retarget", (PyCFunction)Tracer_retarget, METH_VARARGS,
     "Send events to another session (a fork child)."},
    {"thread_bootstrap", (PyCFunction)Tracer_thread_bootstrap, METH_VARARGS,
     "threading.settrace() function that installs the hook in new threads."},
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
    .tp_doc = "C trace hook feeding the agent's Python callbacks.",
};

static struct PyModuleDef hookmodule = {
    PyModuleDef_HEAD_INIT, "_hook", "Orionis compiled trace hook.", -1, NULL
};

PyMODINIT_FUNC
PyInit__hook(void)
{
    PyObject *m;
    if (PyType_Ready(&TracerType) < 0)
        return NULL;
    s_call = PyUnicode_InternFromString("call");
    s_return = PyUnicode_InternFromString("return");
    s_exception = PyUnicode_InternFromString("exception");
    s_f_trace = PyUnicode_InternFromString("f_trace");
    m = PyModule_Create(&hookmodule);
    if (m == NULL)
        return NULL;
    Py_INCREF(&TracerType);
    if (PyModule_AddObject(m, "Tracer", (PyObject *)&TracerType) < 0) {
        Py_DECREF(&TracerType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
