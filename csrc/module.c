/* The only file that includes Python.h: argument parsing, buffer handling, and the
 * GIL released around every kernel call. The kernels themselves know nothing of Python. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "planes.h"

static int get_plane_args(PyObject *args, Py_buffer *src, Py_buffer *dst, int *itemsize,
                          int *rotate)
{
    if (!PyArg_ParseTuple(args, "y*iiw*", src, itemsize, rotate, dst)) return -1;
    if (*itemsize != 1 && *itemsize != 2 && *itemsize != 4 && *itemsize != 8) {
        PyErr_Format(PyExc_ValueError, "itemsize must be 1, 2, 4 or 8, got %d", *itemsize);
        goto fail;
    }
    if (src->len % *itemsize != 0 || dst->len != src->len) {
        PyErr_Format(PyExc_ValueError,
                     "buffer sizes do not match: src %zd bytes, dst %zd bytes, itemsize %d",
                     src->len, dst->len, *itemsize);
        goto fail;
    }
    return 0;
fail:
    PyBuffer_Release(src);
    PyBuffer_Release(dst);
    return -1;
}

static PyObject *py_split_planes(PyObject *self, PyObject *args)
{
    Py_buffer src, dst;
    int itemsize, rotate;
    (void)self;
    if (get_plane_args(args, &src, &dst, &itemsize, &rotate) < 0) return NULL;
    Py_BEGIN_ALLOW_THREADS
    zw_split_planes(src.buf, (size_t)(src.len / itemsize), itemsize, rotate, dst.buf);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&src);
    PyBuffer_Release(&dst);
    Py_RETURN_NONE;
}

static PyObject *py_merge_planes(PyObject *self, PyObject *args)
{
    Py_buffer src, dst;
    int itemsize, rotate;
    (void)self;
    if (get_plane_args(args, &src, &dst, &itemsize, &rotate) < 0) return NULL;
    Py_BEGIN_ALLOW_THREADS
    zw_merge_planes(src.buf, (size_t)(src.len / itemsize), itemsize, rotate, dst.buf);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&src);
    PyBuffer_Release(&dst);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"split_planes", py_split_planes, METH_VARARGS,
     "split_planes(src, itemsize, rotate, dst): values -> byte planes, MSB plane first"},
    {"merge_planes", py_merge_planes, METH_VARARGS,
     "merge_planes(src, itemsize, rotate, dst): byte planes -> values"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "zipweights._kernels", "Compiled kernels of zipweights.", -1, methods,
};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&moduledef); }
