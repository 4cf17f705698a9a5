/* The only file that includes Python.h: argument parsing, buffer handling, and the
 * GIL released around every kernel call. The kernels themselves know nothing of Python. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "planes.h"
#include "zw.h"

static PyObject *error_of[ZW_NCODES];
#define ARG_ERROR error_of[ZW_EARG] /* InvalidArgumentError, a ValueError */

static int get_plane_args(PyObject *args, Py_buffer *src, Py_buffer *dst, int *itemsize,
                          int *rotate)
{
    if (!PyArg_ParseTuple(args, "y*iiw*", src, itemsize, rotate, dst)) return -1;
    if (*itemsize != 1 && *itemsize != 2 && *itemsize != 4 && *itemsize != 8) {
        PyErr_Format(ARG_ERROR, "itemsize must be 1, 2, 4 or 8, got %d", *itemsize);
        goto fail;
    }
    if (src->len % *itemsize != 0 || dst->len != src->len) {
        PyErr_Format(ARG_ERROR,
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

typedef void (*planes_fn)(const uint8_t *src, size_t n, int itemsize, int rotate, uint8_t *dst);

/* split and merge take the same arguments: one body for both */
static PyObject *planes_call(PyObject *args, planes_fn fn)
{
    Py_buffer src, dst;
    int itemsize, rotate;
    if (get_plane_args(args, &src, &dst, &itemsize, &rotate) < 0) return NULL;
    Py_BEGIN_ALLOW_THREADS
    fn(src.buf, (size_t)(src.len / itemsize), itemsize, rotate, dst.buf);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&src);
    PyBuffer_Release(&dst);
    Py_RETURN_NONE;
}

static PyObject *py_split_planes(PyObject *self, PyObject *args)
{
    (void)self;
    return planes_call(args, zw_split_planes);
}

static PyObject *py_merge_planes(PyObject *self, PyObject *args)
{
    (void)self;
    return planes_call(args, zw_merge_planes);
}

/* ---- errors: one Python exception per kernel error code ---- */

/* error_of: zipweights.errors classes, looked up once at import (owned references) */

static const char *const error_name[ZW_NCODES] = {
    [ZW_ETRUNC] = "TruncatedDataError",     [ZW_ECORRUPT] = "CorruptDataError",
    [ZW_ETRAIL] = "CorruptDataError",       [ZW_ESIZE] = "CorruptDataError",
    [ZW_EARG] = "InvalidArgumentError",     [ZW_ELIMIT] = "LimitExceededError",
};

static int load_errors(void)
{
    PyObject *mod = PyImport_ImportModule("zipweights.errors");
    int c;
    if (!mod) return -1;
    for (c = 0; c < ZW_NCODES; c++) {
        if (!error_name[c]) continue;
        error_of[c] = PyObject_GetAttrString(mod, error_name[c]);
        if (!error_of[c]) {
            Py_DECREF(mod);
            return -1;
        }
    }
    Py_DECREF(mod);
    return 0;
}

static PyObject *raise_err(const zw_err *err)
{
    if (err->code == ZW_ENOMEM) return PyErr_NoMemory();
    if (err->code <= ZW_OK || err->code >= ZW_NCODES || !error_of[err->code]) {
        PyErr_Format(PyExc_SystemError, "kernel error with unknown code %d: %s", (int)err->code,
                     err->msg);
        return NULL;
    }
    PyErr_SetString(error_of[err->code], err->msg);
    return NULL;
}

/* ---- entropy kernels ---- */

static PyObject *finish_encode(PyObject *out, size_t len, zw_err *err)
{
    if (len == (size_t)-1) {
        Py_DECREF(out);
        return raise_err(err);
    }
    if (_PyBytes_Resize(&out, (Py_ssize_t)len) < 0) return NULL;
    return out;
}

static PyObject *py_ent_encode(PyObject *self, PyObject *args)
{
    Py_buffer src;
    PyObject *out;
    size_t len;
    zw_err err;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*:ent_encode", &src)) return NULL;
    if ((uint64_t)src.len > ZW_MAXN) {
        PyBuffer_Release(&src);
        return PyErr_Format(error_of[ZW_ELIMIT], "ent_encode: input too large (%zd bytes)", src.len);
    }
    out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)zw_ent_bound((size_t)src.len));
    if (!out) {
        PyBuffer_Release(&src);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    len = zw_ent_encode(src.buf, (size_t)src.len, (uint8_t *)PyBytes_AS_STRING(out));
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&src);
    err.code = ZW_ENOMEM; /* the only way the byte coder fails */
    err.msg[0] = 0;
    return finish_encode(out, len, &err);
}

static PyObject *py_ent_decode(PyObject *self, PyObject *args)
{
    Py_buffer src, dst;
    int rc;
    zw_err err;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*w*:ent_decode", &src, &dst)) return NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = zw_ent_decode(src.buf, (size_t)src.len, dst.buf, (size_t)dst.len, &err);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&src);
    PyBuffer_Release(&dst);
    if (rc) return raise_err(&err);
    Py_RETURN_NONE;
}

static PyObject *py_float_encode(PyObject *self, PyObject *args)
{
    Py_buffer src;
    int kind, level;
    PyObject *out;
    uint8_t *buf;
    size_t len = (size_t)-1;
    zw_err err;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*ii:float_encode", &src, &kind, &level)) return NULL;
    if (zw_float_check((size_t)src.len, kind, &err)) { /* before scratch of twice its size */
        PyBuffer_Release(&src);
        return raise_err(&err);
    }
    /* the worst-case bound is over twice the input: coding into this thread's kept
     * buffer and copying out the real size spares faulting in fresh pages per chunk */
    Py_BEGIN_ALLOW_THREADS
    buf = zw_scratch(ZW_S_MOD_OUT, zw_float_bound((size_t)src.len));
    if (buf) len = zw_float_encode(src.buf, (size_t)src.len, kind, level, buf, &err);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&src);
    if (!buf) return PyErr_NoMemory();
    if (len == (size_t)-1) {
        zw_scratch_done(ZW_S_MOD_OUT, buf);
        return raise_err(&err);
    }
    out = PyBytes_FromStringAndSize((const char *)buf, (Py_ssize_t)len);
    zw_scratch_done(ZW_S_MOD_OUT, buf);
    return out;
}

static PyObject *py_float_decode(PyObject *self, PyObject *args)
{
    Py_buffer src, dst;
    int kind, rc;
    zw_err err;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*iw*:float_decode", &src, &kind, &dst)) return NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = zw_float_decode(src.buf, (size_t)src.len, kind, dst.buf, (size_t)dst.len, &err);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&src);
    PyBuffer_Release(&dst);
    if (rc) return raise_err(&err);
    Py_RETURN_NONE;
}

/* ---- bitmap sparse ---- */

static int check_unit(int unit, Py_ssize_t len)
{
    if (unit != 1 && unit != 2 && unit != 4 && unit != 8) {
        PyErr_Format(ARG_ERROR, "unit must be 1, 2, 4 or 8, got %d", unit);
        return -1;
    }
    if (len % unit) {
        PyErr_Format(ARG_ERROR, "%zd bytes are not whole %d-byte values", len, unit);
        return -1;
    }
    return 0;
}

static PyObject *py_sparse_split(PyObject *self, PyObject *args)
{
    Py_buffer src;
    int unit;
    size_t m, nnz;
    PyObject *bitmap = NULL, *vals = NULL, *res = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*i:sparse_split", &src, &unit)) return NULL;
    if (check_unit(unit, src.len)) goto out;
    m = (size_t)src.len / (size_t)unit;
    bitmap = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)((m + 7) / 8));
    vals = PyBytes_FromStringAndSize(NULL, src.len);
    if (!bitmap || !vals) goto out;
    Py_BEGIN_ALLOW_THREADS
    nnz = zw_sparse_split(src.buf, m, unit, (uint8_t *)PyBytes_AS_STRING(bitmap),
                          (uint8_t *)PyBytes_AS_STRING(vals));
    Py_END_ALLOW_THREADS
    if (_PyBytes_Resize(&vals, (Py_ssize_t)(nnz * (size_t)unit)) < 0) goto out;
    res = Py_BuildValue("(OOn)", bitmap, vals, (Py_ssize_t)nnz);
out:
    Py_XDECREF(bitmap);
    Py_XDECREF(vals);
    PyBuffer_Release(&src);
    return res;
}

static PyObject *py_sparse_merge(PyObject *self, PyObject *args)
{
    Py_buffer bitmap, vals, dst;
    int unit, rc = -1;
    zw_err err;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*iw*:sparse_merge", &bitmap, &vals, &unit, &dst)) return NULL;
    if (check_unit(unit, dst.len) == 0 && check_unit(unit, vals.len) == 0) {
        Py_BEGIN_ALLOW_THREADS
        rc = zw_sparse_merge(bitmap.buf, (size_t)bitmap.len, vals.buf, (size_t)vals.len / (size_t)unit,
                             unit, dst.buf, (size_t)dst.len / (size_t)unit, &err);
        Py_END_ALLOW_THREADS
        if (rc) raise_err(&err);
    }
    PyBuffer_Release(&bitmap);
    PyBuffer_Release(&vals);
    PyBuffer_Release(&dst);
    if (rc) return NULL;
    Py_RETURN_NONE;
}

/* ---- the SIMD level, for the tests that compare the paths ---- */

static PyObject *py_set_simd(PyObject *self, PyObject *args)
{
    int level;
    (void)self;
    if (!PyArg_ParseTuple(args, "i:_set_simd", &level)) return NULL;
    return PyLong_FromLong(zw_cpu_set(level));
}

static PyObject *py_simd(PyObject *self, PyObject *noargs)
{
    (void)self, (void)noargs;
    return PyLong_FromLong(zw_have_avx512() ? 2 : zw_have_avx2());
}

static PyObject *py_delta_encode(PyObject *self, PyObject *args)
{
    Py_buffer src, base;
    int kind;
    PyObject *out;
    uint8_t *buf;
    size_t len = (size_t)-1;
    zw_err err;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*i:delta_encode", &src, &base, &kind)) return NULL;
    if (zw_delta_check((size_t)src.len, (size_t)base.len, kind, &err)) {
        PyBuffer_Release(&src);
        PyBuffer_Release(&base);
        return raise_err(&err);
    }
    Py_BEGIN_ALLOW_THREADS
    buf = zw_scratch(ZW_S_MOD_OUT, zw_delta_bound((size_t)src.len));
    if (buf) len = zw_delta_encode(src.buf, base.buf, (size_t)src.len, kind, buf, &err);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&src);
    PyBuffer_Release(&base);
    if (!buf) return PyErr_NoMemory();
    if (len == (size_t)-1) {
        zw_scratch_done(ZW_S_MOD_OUT, buf);
        return raise_err(&err);
    }
    out = PyBytes_FromStringAndSize((const char *)buf, (Py_ssize_t)len);
    zw_scratch_done(ZW_S_MOD_OUT, buf);
    return out;
}

static PyObject *py_delta_decode(PyObject *self, PyObject *args)
{
    Py_buffer src, base, dst;
    int kind, rc;
    zw_err err;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*iw*:delta_decode", &src, &base, &kind, &dst)) return NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = zw_delta_decode(src.buf, (size_t)src.len, base.buf, (size_t)base.len, kind, dst.buf,
                         (size_t)dst.len, &err);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&src);
    PyBuffer_Release(&base);
    PyBuffer_Release(&dst);
    if (rc) return raise_err(&err);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"_set_simd", py_set_simd, METH_VARARGS,
     "_set_simd(level) -> level set: 0 portable C, 1 AVX2, 2 AVX-512, capped by the CPU "
     "(for tests; not while kernels run on other threads)"},
    {"_simd", py_simd, METH_NOARGS, "_simd() -> the SIMD level the kernels use"},
    {"sparse_split", py_sparse_split, METH_VARARGS,
     "sparse_split(src, unit) -> (bitmap, values, nnz): bitmap of the non-zero values "
     "(LSB first) and those values packed"},
    {"sparse_merge", py_sparse_merge, METH_VARARGS,
     "sparse_merge(bitmap, values, unit, dst): scatter the values to the set bits, zero "
     "elsewhere; CorruptDataError when the bitmap and the values disagree"},
    {"split_planes", py_split_planes, METH_VARARGS,
     "split_planes(src, itemsize, rotate, dst): values -> byte planes, MSB plane first"},
    {"merge_planes", py_merge_planes, METH_VARARGS,
     "merge_planes(src, itemsize, rotate, dst): byte planes -> values"},
    {"ent_encode", py_ent_encode, METH_VARARGS,
     "ent_encode(src) -> bytes: order-0 rANS byte coder (self-contained payload)"},
    {"ent_decode", py_ent_decode, METH_VARARGS,
     "ent_decode(payload, dst): decode into dst (len(dst) = original length); "
     "CorruptDataError (TruncatedDataError) on corrupt input"},
    {"float_encode", py_float_encode, METH_VARARGS,
     "float_encode(src, kind, level) -> bytes; kind 0=BF16 1=F16 2=F32; level 0: one table "
     "(fastest), 1-5: up to 8 exponent contexts (16 with the sign split) and 13-bit precision, "
     ">= 6: also a 16-context exponent split and 14-bit precision"},
    {"float_decode", py_float_decode, METH_VARARGS,
     "float_decode(payload, kind, dst): decode the values into dst; CorruptDataError "
     "(TruncatedDataError) on corrupt input"},
    {"delta_encode", py_delta_encode, METH_VARARGS,
     "delta_encode(src, base, kind) -> bytes: src coded against base (as many bytes); kind "
     "0=BF16 1=F16 2=F32"},
    {"delta_decode", py_delta_decode, METH_VARARGS,
     "delta_decode(payload, base, kind, dst): decode into dst against base; CorruptDataError "
     "(TruncatedDataError) on corrupt input"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "zipweights._ckernels", "Compiled kernels of zipweights.", -1, methods,
};

PyMODINIT_FUNC PyInit__ckernels(void)
{
    zw_cpu_init(); /* CPU feature probe, while the import lock is held */
    if (load_errors()) return NULL;
    return PyModule_Create(&moduledef);
}
