/* _fastbpe.c: the Python module llmlab.tokenizers._fastbpe, the compiled BPE fast path.
 *
 * Read llmlab/tokenizers/fast.py first: it is the documented API and says what each function
 * computes; fast_reference.py computes the same in a few lines of Python. This file only turns
 * Python objects into C data and back, around the C parts in csrc/ (see csrc/fastbpe.h):
 *
 *   split(text, pattern) -> list[str]                       the pre-tokenizer's pieces
 *   count_pieces(text, pattern, counts=None) -> dict        piece UTF-8 bytes -> occurrences
 *   PieceCounter(pattern)                                   the same, fed chunk by chunk
 *   safe_cut(data: bytes) -> int                            where a chunk may end
 *   RankTable(ranks)                                        bytes -> rank, for encoding
 *       .encode_piece(piece: bytes) -> list[int]
 *       .encode(text, pattern) -> list[int]
 *   train_merges(word_counts, num_merges, min_frequency=0, byte_order=None) -> list[tuple[int, int]]
 *
 * The heavy loops run with the GIL released (Py_BEGIN_ALLOW_THREADS), so threads that each own
 * a PieceCounter count in parallel. Rules kept everywhere below: every allocation is checked;
 * a function that fails sets a Python exception and returns NULL or -1; references we own are
 * released on every path (look for the `done:` labels).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include "csrc/fastbpe.h"

/* setup.py passes the SHA-256 of the C sources it compiled, as a bare token we stringify. */
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
#ifdef FASTBPE_SOURCE_SHA256
#define SOURCE_SHA256 STRINGIFY(FASTBPE_SOURCE_SHA256)
#else
#define SOURCE_SHA256 "unknown"
#endif

#define CACHE_MAX_ENTRIES 65536 /* encode's piece -> ids cache restarts when this full */
#define CACHE_MAX_PIECE 256     /* longer pieces are rare: not worth caching */

/* ---- 1. argument helpers --------------------------------------------------------------------- */

static int parse_pattern(PyObject *name, Pattern *out) {
    if (PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, "gpt2") == 0) {
        *out = PATTERN_GPT2;
        return 0;
    }
    if (PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, "cl100k") == 0) {
        *out = PATTERN_CL100K;
        return 0;
    }
    PyErr_Format(PyExc_ValueError, "unknown pattern %R: expected 'gpt2' or 'cl100k'", name);
    return -1;
}

/* The UTF-8 bytes of a str (cached inside the str by CPython, so valid while we hold `text`). */
static const unsigned char *utf8_of(PyObject *text, size_t *n) {
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "text must be str, not %.100s", Py_TYPE(text)->tp_name);
        return NULL;
    }
    Py_ssize_t len;
    const char *s = PyUnicode_AsUTF8AndSize(text, &len); /* fails on lone surrogates */
    *n = (size_t)len;
    return (const unsigned char *)s;
}

/* Text to scan: a str (its UTF-8), or any bytes-like object holding UTF-8, which is checked
 * (without the GIL) before scanning, since only CPython's own UTF-8 is known to be valid. */
typedef struct {
    const unsigned char *s;
    size_t n;
    int is_buffer; /* 1: `view` must be released, and the bytes checked */
    Py_buffer view;
} Text;

static int text_open(PyObject *obj, Text *t) {
    memset(t, 0, sizeof *t);
    if (PyUnicode_Check(obj)) {
        t->s = utf8_of(obj, &t->n);
        return t->s ? 0 : -1;
    }
    if (!PyObject_CheckBuffer(obj)) {
        PyErr_Format(PyExc_TypeError, "text must be str or UTF-8 bytes, not %.100s", Py_TYPE(obj)->tp_name);
        return -1;
    }
    if (PyObject_GetBuffer(obj, &t->view, PyBUF_SIMPLE) < 0) return -1;
    t->is_buffer = 1;
    t->s = t->view.buf;
    t->n = (size_t)t->view.len;
    return 0;
}

static void text_close(Text *t) {
    if (t->is_buffer) PyBuffer_Release(&t->view);
}

/* Raise UnicodeDecodeError for the invalid byte at `at` (its .start, as Python's decoder would). */
static void raise_utf8_error(const Text *t, int64_t at) {
    PyObject *exc = PyUnicodeDecodeError_Create("utf-8", (const char *)t->s, (Py_ssize_t)t->n, (Py_ssize_t)at,
                                                (Py_ssize_t)at + 1, "invalid UTF-8");
    if (exc) {
        PyErr_SetObject(PyExc_UnicodeDecodeError, exc);
        Py_DECREF(exc);
    }
}

/* Check (bytes only) and count the pieces of `t` into `m`, without Python calls: safe without
 * the GIL. Returns 0, -1 when memory ran out, or 1 with *bad_at set when the bytes are not UTF-8. */
static int check_and_count(BytesMap *m, Pattern pattern, int lines, const Text *t, int64_t *total,
                           int64_t *bad_at);

/* Count the pieces of s[0:n] into `m` (no Python calls: safe without the GIL). With `lines`,
 * every line (up to and including its "\n") is pre-tokenized as a text of its own, so no piece
 * crosses a line end: the readable trainer's rule for files, which it reads line by line. */
static int count_into(BytesMap *m, Pattern pattern, int lines, const unsigned char *s, size_t n, int64_t *total) {
    for (size_t start = 0, end; start < n; start = end) {
        const unsigned char *nl = lines ? memchr(s + start, '\n', n - start) : NULL;
        end = nl ? (size_t)(nl - s) + 1 : n;
        for (size_t i = start; i < end;) {
            size_t len = fb_next_piece(pattern, s + start, end - start, i - start);
            BMEntry *e = bm_upsert(m, s + i, len);
            if (!e) return -1;
            e->value++;
            (*total)++;
            i += len;
        }
    }
    return 0;
}

static int check_and_count(BytesMap *m, Pattern pattern, int lines, const Text *t, int64_t *total,
                           int64_t *bad_at) {
    *bad_at = t->is_buffer ? fb_utf8_error(t->s, t->n) : -1;
    if (*bad_at >= 0) return 1;
    return count_into(m, pattern, lines, t->s, t->n, total);
}

/* counts[key] = counts.get(key, 0) + value for every entry of `m`. */
static int add_to_dict(PyObject *counts, const BytesMap *m) {
    for (size_t k = 0; k < m->n_entries; k++) {
        const BMEntry *e = &m->entries[k];
        PyObject *key = PyBytes_FromStringAndSize((const char *)bm_key(m, e), e->len);
        PyObject *add = key ? PyLong_FromLongLong(e->value) : NULL;
        PyObject *old = add ? PyDict_GetItemWithError(counts, key) : NULL; /* borrowed */
        PyObject *sum = NULL;
        if (add && !PyErr_Occurred()) sum = old ? PyNumber_Add(old, add) : Py_NewRef(add);
        int rc = sum ? PyDict_SetItem(counts, key, sum) : -1;
        Py_XDECREF(key);
        Py_XDECREF(add);
        Py_XDECREF(sum);
        if (rc < 0) return -1;
    }
    return 0;
}

/* ---- 2. split and count_pieces --------------------------------------------------------------- */

static PyObject *split(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"text", "pattern", NULL};
    PyObject *text, *name;
    Pattern pattern;
    size_t n;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO:split", kwlist, &text, &name)) return NULL;
    const unsigned char *s = utf8_of(text, &n);
    if (!s || parse_pattern(name, &pattern) < 0) return NULL;
    PyObject *pieces = PyList_New(0);
    for (size_t i = 0; pieces && i < n;) {
        size_t len = fb_next_piece(pattern, s, n, i);
        PyObject *piece = PyUnicode_DecodeUTF8((const char *)s + i, (Py_ssize_t)len, "strict");
        if (!piece || PyList_Append(pieces, piece) < 0) Py_CLEAR(pieces);
        Py_XDECREF(piece);
        i += len;
    }
    return pieces;
}

static PyObject *count_pieces(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"text", "pattern", "counts", NULL};
    PyObject *obj, *name, *counts = Py_None;
    Pattern pattern;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|O:count_pieces", kwlist, &obj, &name, &counts))
        return NULL;
    if (parse_pattern(name, &pattern) < 0) return NULL;
    if (counts != Py_None && !PyDict_Check(counts))
        return PyErr_Format(PyExc_TypeError, "counts must be a dict or None, not %.100s", Py_TYPE(counts)->tp_name);
    Text text;
    BytesMap m;
    if (text_open(obj, &text) < 0) return NULL;
    if (bm_init(&m, 1024) < 0) {
        text_close(&text);
        return PyErr_NoMemory();
    }
    int64_t total = 0, bad_at;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = check_and_count(&m, pattern, 0, &text, &total, &bad_at);
    Py_END_ALLOW_THREADS
    PyObject *result = NULL;
    if (rc < 0) {
        PyErr_NoMemory();
    } else if (rc > 0) {
        raise_utf8_error(&text, bad_at);
    } else {
        result = counts == Py_None ? PyDict_New() : Py_NewRef(counts);
        if (result && add_to_dict(result, &m) < 0) Py_CLEAR(result);
    }
    bm_free(&m);
    text_close(&text);
    return result;
}

static PyObject *safe_cut(PyObject *self, PyObject *obj) {
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_SIMPLE) < 0) return NULL;
    size_t cut = fb_last_safe_cut(view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    return PyLong_FromSize_t(cut);
}

/* ---- 3. PieceCounter: count_pieces that keeps its counts in C between calls ------------------ */

typedef struct {
    PyObject_HEAD
    Pattern pattern;
    int lines;     /* 1: each line is pre-tokenized on its own (see count_into) */
    BytesMap map;  /* piece bytes -> occurrences */
    int64_t total; /* pieces seen, repeats included */
    int busy;      /* 1 while a method runs without the GIL; then nothing else may touch `map` */
} PieceCounterObject;

static PyTypeObject PieceCounterType;

static int counter_idle(PieceCounterObject *c) {
    if (!c->busy) return 0;
    PyErr_SetString(PyExc_RuntimeError, "PieceCounter is in use by another thread: give each thread its own counter");
    return -1;
}

static PyObject *counter_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"pattern", "lines", NULL};
    PyObject *name;
    Pattern pattern;
    int lines = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|p:PieceCounter", kwlist, &name, &lines)) return NULL;
    if (parse_pattern(name, &pattern) < 0) return NULL;
    PieceCounterObject *c = (PieceCounterObject *)type->tp_alloc(type, 0); /* zero-filled */
    if (!c) return NULL;
    c->pattern = pattern;
    c->lines = lines;
    if (bm_init(&c->map, 1024) < 0) {
        Py_DECREF(c);
        return PyErr_NoMemory();
    }
    return (PyObject *)c;
}

static void counter_dealloc(PieceCounterObject *c) {
    bm_free(&c->map);
    Py_TYPE(c)->tp_free((PyObject *)c);
}

static PyObject *counter_add(PieceCounterObject *c, PyObject *obj) {
    Text text;
    if (counter_idle(c) < 0 || text_open(obj, &text) < 0) return NULL;
    int64_t bad_at;
    int rc;
    c->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    rc = check_and_count(&c->map, c->pattern, c->lines, &text, &c->total, &bad_at);
    Py_END_ALLOW_THREADS
    c->busy = 0;
    if (rc < 0) PyErr_NoMemory();
    if (rc > 0) raise_utf8_error(&text, bad_at);
    text_close(&text);
    if (rc != 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *counter_update(PieceCounterObject *c, PyObject *arg) {
    if (!PyObject_TypeCheck(arg, &PieceCounterType))
        return PyErr_Format(PyExc_TypeError, "update() needs a PieceCounter, not %.100s", Py_TYPE(arg)->tp_name);
    PieceCounterObject *other = (PieceCounterObject *)arg;
    if (counter_idle(c) < 0 || counter_idle(other) < 0) return NULL;
    if (other->pattern != c->pattern) {
        PyErr_SetString(PyExc_ValueError, "cannot add counts of a different pattern");
        return NULL;
    }
    size_t n = other->map.n_entries; /* subtle: fixed first, in case other is c itself */
    for (size_t k = 0; k < n; k++) {
        const BMEntry *e = &other->map.entries[k];
        int64_t value = e->value;
        BMEntry *mine = bm_upsert(&c->map, bm_key(&other->map, e), e->len);
        if (!mine) return PyErr_NoMemory();
        mine->value += value;
    }
    c->total += other == c ? c->total : other->total;
    Py_RETURN_NONE;
}

static PyObject *counter_to_dict(PieceCounterObject *c, PyObject *unused) {
    if (counter_idle(c) < 0) return NULL;
    PyObject *d = PyDict_New();
    if (d && add_to_dict(d, &c->map) < 0) Py_CLEAR(d);
    return d;
}

static Py_ssize_t counter_len(PieceCounterObject *c) { return (Py_ssize_t)c->map.n_entries; }

static PyObject *counter_total(PieceCounterObject *c, void *closure) { return PyLong_FromLongLong(c->total); }

static PyObject *counter_pattern(PieceCounterObject *c, void *closure) {
    return PyUnicode_FromString(c->pattern == PATTERN_GPT2 ? "gpt2" : "cl100k");
}

static PyMethodDef counter_methods[] = {
    {"add", (PyCFunction)counter_add, METH_O, "add(text: str | bytes) -> None: count the pieces of text (bytes: UTF-8)"},
    {"update", (PyCFunction)counter_update, METH_O, "update(other: PieceCounter) -> None: add other's counts"},
    {"to_dict", (PyCFunction)counter_to_dict, METH_NOARGS, "to_dict() -> dict[bytes, int]: the counts"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef counter_getset[] = {
    {"total", (getter)counter_total, NULL, "pieces counted, repeats included", NULL},
    {"pattern", (getter)counter_pattern, NULL, "the pre-tokenizer pattern name", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods counter_as_sequence = {.sq_length = (lenfunc)counter_len};

static PyTypeObject PieceCounterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "llmlab.tokenizers._fastbpe.PieceCounter",
    .tp_doc = "PieceCounter(pattern, lines=False): counts of pre-tokenizer pieces (UTF-8 bytes), fed with "
              "add(text); with lines=True no piece crosses a line end",
    .tp_basicsize = sizeof(PieceCounterObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = counter_new,
    .tp_dealloc = (destructor)counter_dealloc,
    .tp_methods = counter_methods,
    .tp_getset = counter_getset,
    .tp_as_sequence = &counter_as_sequence,
};

/* ---- 4. RankTable: encoding with a C hash table of ranks ------------------------------------- */

typedef struct {
    PyObject_HEAD
    BytesMap ranks; /* token bytes -> rank (= token id) */
} RankTableObject;

static PyObject *rank_table_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"ranks", NULL};
    PyObject *ranks, *key, *value;
    Py_ssize_t pos = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!:RankTable", kwlist, &PyDict_Type, &ranks)) return NULL;
    RankTableObject *t = (RankTableObject *)type->tp_alloc(type, 0);
    if (!t) return NULL;
    if (bm_init(&t->ranks, (size_t)PyDict_GET_SIZE(ranks)) < 0) goto nomem;
    while (PyDict_Next(ranks, &pos, &key, &value)) { /* borrowed references */
        if (!PyBytes_Check(key) || PyBytes_GET_SIZE(key) == 0) {
            PyErr_Format(PyExc_TypeError, "rank table keys must be non-empty bytes, got %R", key);
            goto fail;
        }
        long long rank = PyLong_Check(value) ? PyLong_AsLongLong(value) : -1;
        if (rank < 0 || rank > INT32_MAX) {
            if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_OverflowError)) {
                PyErr_Clear();
                PyErr_Format(PyExc_ValueError, "rank of %R must be an int in [0, %d], got %R", key, INT32_MAX, value);
            }
            goto fail;
        }
        BMEntry *e = bm_upsert(&t->ranks, (const unsigned char *)PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key));
        if (!e) goto nomem;
        e->value = rank;
    }
    return (PyObject *)t;
nomem:
    PyErr_NoMemory();
fail:
    Py_DECREF(t);
    return NULL;
}

static void rank_table_dealloc(RankTableObject *t) {
    bm_free(&t->ranks);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

static Py_ssize_t rank_table_len(RankTableObject *t) { return (Py_ssize_t)t->ranks.n_entries; }

static PyObject *ids_to_list(const IntVec *ids) {
    PyObject *list = PyList_New((Py_ssize_t)ids->len);
    for (size_t k = 0; list && k < ids->len; k++) {
        PyObject *id = PyLong_FromLong(ids->data[k]);
        if (!id) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)k, id); /* steals the reference */
    }
    return list;
}

/* Turn an FB_* code into a Python exception (missing rank: name the byte). */
static void raise_encode_error(int rc, const unsigned char *bytes, size_t len) {
    if (rc == FB_NOMEM) {
        PyErr_NoMemory();
        return;
    }
    PyObject *b = PyBytes_FromStringAndSize((const char *)bytes, (Py_ssize_t)len);
    if (b) {
        PyErr_Format(PyExc_ValueError, "the rank table has no token for %R (byte-level BPE needs all 256 single bytes)", b);
        Py_DECREF(b);
    }
}

/* A piece that is itself a token is that token (tiktoken's shortcut, kept for identical ids);
 * otherwise byte-pair merging decides. */
static int encode_one(const BytesMap *ranks, const unsigned char *piece, size_t len, IntVec *ids, size_t *missing_at,
                      size_t *missing_len) {
    const BMEntry *e = bm_find(ranks, piece, len);
    if (e) return iv_push(ids, (int32_t)e->value) < 0 ? FB_NOMEM : FB_OK;
    return fb_bpe_encode_piece(ranks, piece, len, ids, missing_at, missing_len);
}

static PyObject *rank_table_encode_piece(RankTableObject *t, PyObject *piece) {
    if (!PyBytes_Check(piece))
        return PyErr_Format(PyExc_TypeError, "piece must be bytes, not %.100s", Py_TYPE(piece)->tp_name);
    const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(piece);
    IntVec ids = {0};
    size_t at = 0, len = 0;
    int rc = encode_one(&t->ranks, s, (size_t)PyBytes_GET_SIZE(piece), &ids, &at, &len);
    PyObject *result = NULL;
    if (rc == FB_OK)
        result = ids_to_list(&ids);
    else
        raise_encode_error(rc, s + at, len);
    iv_free(&ids);
    return result;
}

/* Pre-tokenize and encode a whole text, with a piece -> ids cache (text repeats its words).
 * Cache values are offsets into `pool`, which stores [n_ids, id, id, ...] per cached piece. */
static int encode_text(const BytesMap *ranks, Pattern pattern, const unsigned char *s, size_t n, IntVec *ids,
                       size_t *missing_at, size_t *missing_len) {
    BytesMap cache;
    IntVec pool = {0};
    if (bm_init(&cache, 0) < 0) return FB_NOMEM;
    int rc = FB_OK;
    for (size_t i = 0; i < n && rc == FB_OK;) {
        size_t len = fb_next_piece(pattern, s, n, i);
        const unsigned char *piece = s + i;
        const BMEntry *hit = len <= CACHE_MAX_PIECE ? bm_find(&cache, piece, len) : NULL;
        if (hit) {
            const int32_t *cached = pool.data + hit->value;
            for (int32_t k = 1; k <= cached[0] && rc == FB_OK; k++) rc = iv_push(ids, cached[k]) < 0 ? FB_NOMEM : FB_OK;
        } else {
            size_t before = ids->len;
            rc = encode_one(ranks, piece, len, ids, missing_at, missing_len);
            if (rc == FB_MISSING_RANK) *missing_at += i;
            if (rc == FB_OK && len <= CACHE_MAX_PIECE) {
                if (cache.n_entries >= CACHE_MAX_ENTRIES) { /* full: start over rather than grow */
                    bm_free(&cache);
                    pool.len = 0;
                    if (bm_init(&cache, 0) < 0) rc = FB_NOMEM;
                }
                BMEntry *e = rc == FB_OK ? bm_upsert(&cache, piece, len) : NULL;
                if (!e) rc = FB_NOMEM;
                if (e) e->value = (int64_t)pool.len;
                if (rc == FB_OK && iv_push(&pool, (int32_t)(ids->len - before)) < 0) rc = FB_NOMEM;
                for (size_t k = before; k < ids->len && rc == FB_OK; k++)
                    if (iv_push(&pool, ids->data[k]) < 0) rc = FB_NOMEM;
            }
        }
        i += len;
    }
    bm_free(&cache);
    iv_free(&pool);
    return rc;
}

static PyObject *rank_table_encode(RankTableObject *t, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"text", "pattern", NULL};
    PyObject *text, *name;
    Pattern pattern;
    size_t n, at = 0, len = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO:encode", kwlist, &text, &name)) return NULL;
    const unsigned char *s = utf8_of(text, &n);
    if (!s || parse_pattern(name, &pattern) < 0) return NULL;
    IntVec ids = {0};
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = encode_text(&t->ranks, pattern, s, n, &ids, &at, &len);
    Py_END_ALLOW_THREADS
    PyObject *result = NULL;
    if (rc == FB_OK)
        result = ids_to_list(&ids);
    else
        raise_encode_error(rc, s + at, len);
    iv_free(&ids);
    return result;
}

static PyMethodDef rank_table_methods[] = {
    {"encode_piece", (PyCFunction)rank_table_encode_piece, METH_O,
     "encode_piece(piece: bytes) -> list[int]: byte-pair merge one piece by rank"},
    {"encode", (PyCFunction)(void (*)(void))rank_table_encode, METH_VARARGS | METH_KEYWORDS,
     "encode(text: str, pattern: str) -> list[int]: pre-tokenize, then encode every piece"},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods rank_table_as_sequence = {.sq_length = (lenfunc)rank_table_len};

static PyTypeObject RankTableType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "llmlab.tokenizers._fastbpe.RankTable",
    .tp_doc = "RankTable(ranks: dict[bytes, int]): token ranks in a C hash table, for encoding",
    .tp_basicsize = sizeof(RankTableObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = rank_table_new,
    .tp_dealloc = (destructor)rank_table_dealloc,
    .tp_methods = rank_table_methods,
    .tp_as_sequence = &rank_table_as_sequence,
};

/* ---- 5. train_merges ------------------------------------------------------------------------ */

/* Copy a dict[bytes, int] into a BytesMap, checking every key and count. */
static int words_from_dict(PyObject *dict, BytesMap *m) {
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    if (bm_init(m, (size_t)PyDict_GET_SIZE(dict)) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    while (PyDict_Next(dict, &pos, &key, &value)) {
        if (!PyBytes_Check(key)) {
            PyErr_Format(PyExc_TypeError, "word_counts keys must be bytes, got %R", key);
            return -1;
        }
        if (!PyLong_Check(value)) {
            PyErr_Format(PyExc_TypeError, "word count of %R must be an int, got %R", key, value);
            return -1;
        }
        long long count = PyLong_AsLongLong(value);
        if (count == -1 && PyErr_Occurred()) return -1;
        if (count < 0) {
            PyErr_Format(PyExc_ValueError, "word count of %R must be >= 0, got %lld", key, count);
            return -1;
        }
        BMEntry *e = bm_upsert(m, (const unsigned char *)PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key));
        if (!e) {
            PyErr_NoMemory();
            return -1;
        }
        e->value = count;
    }
    return 0;
}

static PyObject *train_merges(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"word_counts", "num_merges", "min_frequency", "byte_order", NULL};
    PyObject *word_counts, *result = NULL;
    Py_ssize_t num_merges;
    long long min_frequency = 0;
    PyObject *order_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "On|LO:train_merges", kwlist, &word_counts, &num_merges,
                                     &min_frequency, &order_obj))
        return NULL;
    unsigned char byte_order[256];
    const unsigned char *order_ptr = NULL;
    if (order_obj != Py_None) { /* a permutation of the 256 byte values: byte_order[i] gets id i */
        Py_buffer order;
        if (PyObject_GetBuffer(order_obj, &order, PyBUF_SIMPLE) < 0) return NULL;
        int seen[256] = {0}, ok = order.len == 256;
        for (Py_ssize_t i = 0; ok && i < 256; i++) {
            byte_order[i] = ((const unsigned char *)order.buf)[i];
            ok = !seen[byte_order[i]]++;
        }
        PyBuffer_Release(&order);
        if (!ok) return PyErr_Format(PyExc_ValueError, "byte_order must be a permutation of the 256 byte values");
        order_ptr = byte_order;
    }
    if (num_merges < 0 || num_merges > INT32_MAX - 256)
        return PyErr_Format(PyExc_ValueError, "num_merges must be in [0, %d], got %zd", INT32_MAX - 256, num_merges);
    BytesMap local = {0};
    const BytesMap *words = &local;
    PieceCounterObject *counter = NULL;
    if (PyObject_TypeCheck(word_counts, &PieceCounterType)) { /* counts that never left C */
        counter = (PieceCounterObject *)word_counts;
        if (counter_idle(counter) < 0) return NULL;
        words = &counter->map;
    } else if (!PyDict_Check(word_counts)) {
        return PyErr_Format(PyExc_TypeError, "word_counts must be a dict[bytes, int] or a PieceCounter, not %.100s",
                            Py_TYPE(word_counts)->tp_name);
    } else if (words_from_dict(word_counts, &local) < 0) {
        bm_free(&local);
        return NULL;
    }
    IntVec merges = {0};
    int rc;
    if (counter) counter->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    rc = fb_train(words, (int32_t)num_merges, min_frequency, order_ptr, &merges);
    Py_END_ALLOW_THREADS
    if (counter) counter->busy = 0;
    bm_free(&local);
    if (rc != FB_OK) {
        iv_free(&merges);
        return PyErr_NoMemory();
    }
    result = PyList_New((Py_ssize_t)(merges.len / 2));
    for (size_t k = 0; result && k < merges.len / 2; k++) {
        PyObject *pair = Py_BuildValue("(ii)", merges.data[2 * k], merges.data[2 * k + 1]);
        if (!pair) {
            Py_CLEAR(result);
            break;
        }
        PyList_SET_ITEM(result, (Py_ssize_t)k, pair);
    }
    iv_free(&merges);
    return result;
}

/* ---- 6. the module ----------------------------------------------------------------------------- */

static PyMethodDef module_methods[] = {
    {"split", (PyCFunction)(void (*)(void))split, METH_VARARGS | METH_KEYWORDS,
     "split(text: str, pattern: str) -> list[str]: the pieces regex.findall would return"},
    {"count_pieces", (PyCFunction)(void (*)(void))count_pieces, METH_VARARGS | METH_KEYWORDS,
     "count_pieces(text: str, pattern: str, counts: dict | None = None) -> dict[bytes, int]"},
    {"safe_cut", (PyCFunction)safe_cut, METH_O,
     "safe_cut(data: bytes) -> int: the last offset where cutting UTF-8 data keeps its pieces, or 0"},
    {"train_merges", (PyCFunction)(void (*)(void))train_merges, METH_VARARGS | METH_KEYWORDS,
     "train_merges(word_counts, num_merges: int, min_frequency: int = 0, byte_order: bytes | None = None)"
     " -> list[tuple[int, int]]"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_fastbpe", "The compiled BPE fast path; see llmlab/tokenizers/fast.py.", -1,
    module_methods,
};

PyMODINIT_FUNC PyInit__fastbpe(void) {
    fb_init_unicode();
    if (PyType_Ready(&PieceCounterType) < 0 || PyType_Ready(&RankTableType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m) return NULL;
    if (PyModule_AddObjectRef(m, "PieceCounter", (PyObject *)&PieceCounterType) < 0 ||
        PyModule_AddObjectRef(m, "RankTable", (PyObject *)&RankTableType) < 0 ||
        PyModule_AddStringConstant(m, "SOURCE_SHA256", SOURCE_SHA256) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
