/* The products a word boundary runs, for one vector at a time, in C with AVX2.
 *
 * A word boundary reads every LSTM weight and every output-layer row once, for a single
 * vector. PyTorch's quantized kernels (fbgemm) are built for matrices: for one vector each
 * call spends as much on its set-up (quantizing the input, dispatch, the gate arithmetic as
 * separate tensor operations) as on the product. Here a whole LSTM step, both layers and
 * their gates, is one call, and the 8-bit products multiply bytes by bytes (vpmaddubsw: 32
 * products an instruction) with the input quantized per call, symmetric, 8 bits, a scale for
 * each part of the input (the token's vector and the recurrent state differ in range).
 *
 * Weights: 8-bit rows with a scale per row (``w[r, j] * scale[r]``), or half precision.
 * Everything is row-major and contiguous; the Python side (compiled.py) checks shapes once
 * when it packs the weights, and every call checks the buffers' sizes again.
 *
 * Built where the compiler targets x86-64 (functions compiled for AVX2, FMA and F16C and
 * used only where the processor has them: ``supported()``); elsewhere the module builds with
 * ``supported()`` false and the Python side keeps PyTorch's kernels.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* The weights of one LSTM layer, borrowed from Python for the length of a call: w, scale, bias. */
typedef struct {
    Py_buffer views[3];
} Layer;

/* NEXTWORD_PORTABLE builds the module without the kernels, as on other processors. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(NEXTWORD_PORTABLE)
#define NEXTWORD_X86 1
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2,fma,f16c")))
#endif

#define MAX_WIDTH 8192 /* the widest input a product takes (the quantized input lives on the stack) */
#define MAX_HIDDEN 4096
#define MAX_LAYERS 8

#ifdef NEXTWORD_X86

/* x[0:n] as 8-bit integers q with x ~ q * scale (symmetric: |q| <= 127, rounded to
 * nearest); returns the scale. */
AVX2 static float quantize(const float *x, long n, int8_t *q) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 top8 = _mm256_setzero_ps();
    long j = 0;
    for (; j + 8 <= n; j += 8)
        top8 = _mm256_max_ps(top8, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)));
    __m128 t = _mm_max_ps(_mm256_castps256_ps128(top8), _mm256_extractf128_ps(top8, 1));
    t = _mm_max_ps(t, _mm_movehl_ps(t, t));
    t = _mm_max_ss(t, _mm_shuffle_ps(t, t, 1));
    float top = _mm_cvtss_f32(t);
    for (; j < n; j++)
        top = fabsf(x[j]) > top ? fabsf(x[j]) : top;
    if (top == 0.0f || !isfinite(top)) {
        memset(q, 0, (size_t)n);
        return top == 0.0f ? 0.0f : NAN;
    }
    const __m256 inverse = _mm256_set1_ps(127.0f / top);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    j = 0;
    for (; j + 32 <= n; j += 32) {
        __m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j), inverse));
        __m256i b = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 8), inverse));
        __m256i c = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 16), inverse));
        __m256i d = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 24), inverse));
        __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
        _mm256_storeu_si256((__m256i *)(q + j), _mm256_permutevar8x32_epi32(packed, order));
    }
    for (; j < n; j++)
        q[j] = (int8_t)lrintf(x[j] * (127.0f / top));
    return top / 127.0f;
}

/* The sums of eight vectors' lanes, as one vector: lane i holds the sum of a[i]'s lanes. */
AVX2 static inline __m256i reduce8_epi32(const __m256i a[8]) {
    __m256i t0 = _mm256_hadd_epi32(_mm256_hadd_epi32(a[0], a[1]), _mm256_hadd_epi32(a[2], a[3]));
    __m256i t1 = _mm256_hadd_epi32(_mm256_hadd_epi32(a[4], a[5]), _mm256_hadd_epi32(a[6], a[7]));
    return _mm256_add_epi32(_mm256_permute2x128_si256(t0, t1, 0x20), _mm256_permute2x128_si256(t0, t1, 0x31));
}

AVX2 static inline __m256 reduce8_ps(const __m256 a[8]) {
    __m256 t0 = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
    __m256 t1 = _mm256_hadd_ps(_mm256_hadd_ps(a[4], a[5]), _mm256_hadd_ps(a[6], a[7]));
    return _mm256_add_ps(_mm256_permute2f128_ps(t0, t1, 0x20), _mm256_permute2f128_ps(t0, t1, 0x31));
}

/* The integer dot products of eight rows (w, w + cols, ...) with q over columns [lo, hi),
 * as one vector. vpmaddubsw multiplies unsigned by signed bytes: |q| against w with q's sign
 * moved onto w, so the pairwise sums (at most 2 * 127 * 127) never saturate. */
AVX2 static __m256i dot8_i8(const int8_t *w, long cols, const int8_t *q, long lo, long hi) {
    __m256i a[8];
    for (int i = 0; i < 8; i++)
        a[i] = _mm256_setzero_si256();
    const __m256i ones = _mm256_set1_epi16(1);
    long j = lo;
    for (; j + 32 <= hi; j += 32) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(q + j));
        __m256i ax = _mm256_sign_epi8(x, x);
        for (int i = 0; i < 8; i++) {
            __m256i wv = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)(w + i * cols + j)), x);
            a[i] = _mm256_add_epi32(a[i], _mm256_madd_epi16(_mm256_maddubs_epi16(ax, wv), ones));
        }
    }
    __m256i sums = reduce8_epi32(a);
    if (j < hi) {
        int32_t rest[8];
        for (int i = 0; i < 8; i++) {
            rest[i] = 0;
            for (long k = j; k < hi; k++)
                rest[i] += w[i * cols + k] * q[k];
        }
        sums = _mm256_add_epi32(sums, _mm256_loadu_si256((const __m256i *)rest));
    }
    return sums;
}

AVX2 static int32_t dot1_i8(const int8_t *w, const int8_t *q, long lo, long hi) {
    int32_t s = 0;
    for (long j = lo; j < hi; j++)
        s += w[j] * q[j];
    return s;
}

/* y[r] = scale[r] * (qs[0] * w[r, :split] . q[:split] + qs[1] * w[r, split:] . q[split:]) + bias[r]:
 * the input quantized in two parts, each with its own scale. */
AVX2 static void gemv_i8(const int8_t *w, const float *scale, const float *bias, long rows, long cols, const int8_t *q, const float qs[2], long split, float *y) {
    long r = 0;
    const __m256 s0 = _mm256_set1_ps(qs[0]), s1 = _mm256_set1_ps(qs[1]);
    for (; r + 8 <= rows; r += 8) {
        const int8_t *block = w + r * cols;
        __m256 sum = _mm256_mul_ps(s0, _mm256_cvtepi32_ps(dot8_i8(block, cols, q, 0, split)));
        if (split < cols)
            sum = _mm256_fmadd_ps(s1, _mm256_cvtepi32_ps(dot8_i8(block, cols, q, split, cols)), sum);
        _mm256_storeu_ps(y + r, _mm256_fmadd_ps(sum, _mm256_loadu_ps(scale + r), _mm256_loadu_ps(bias + r)));
    }
    for (; r < rows; r++) {
        const int8_t *row = w + r * cols;
        y[r] = scale[r] * (qs[0] * (float)dot1_i8(row, q, 0, split) + qs[1] * (float)dot1_i8(row, q, split, cols)) + bias[r];
    }
}

/* y[r] = w[r, :] . x + bias[r] for half-precision rows. */
AVX2 static void gemv_f16(const uint16_t *w, const float *bias, long rows, long cols, const float *x, float *y) {
    long r = 0;
    long vec = cols & ~7L;
    for (; r + 8 <= rows; r += 8) {
        const uint16_t *block = w + r * cols;
        __m256 a[8];
        for (int i = 0; i < 8; i++)
            a[i] = _mm256_setzero_ps();
        for (long j = 0; j < vec; j += 8) {
            __m256 xv = _mm256_loadu_ps(x + j);
            for (int i = 0; i < 8; i++)
                a[i] = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(block + i * cols + j))), xv, a[i]);
        }
        __m256 sums = reduce8_ps(a);
        if (vec < cols) {
            float rest[8];
            for (int i = 0; i < 8; i++) {
                rest[i] = 0.0f;
                for (long k = vec; k < cols; k++)
                    rest[i] += _cvtsh_ss(block[i * cols + k]) * x[k];
            }
            sums = _mm256_add_ps(sums, _mm256_loadu_ps(rest));
        }
        _mm256_storeu_ps(y + r, _mm256_add_ps(sums, _mm256_loadu_ps(bias + r)));
    }
    for (; r < rows; r++) {
        float s = 0.0f;
        for (long j = 0; j < cols; j++)
            s += _cvtsh_ss(w[r * cols + j]) * x[j];
        y[r] = s + bias[r];
    }
}

/* e^x for eight floats: 2^n * e^r with n = round(x / ln 2), |r| <= ln 2 / 2, e^r by its
 * Taylor polynomial to degree 6 (relative error under 2e-7 over the range that matters). */
AVX2 static inline __m256 exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

AVX2 static inline __m256 sigmoid8(__m256 x) {
    __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

/* tanh x = 1 - 2 / (e^2x + 1): exact to about 1e-7 absolute, which is all a gate needs. */
AVX2 static inline __m256 tanh8(__m256 x) {
    __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(exp8(_mm256_add_ps(x, x)), one)));
}

static inline float sigmoid1(float v) { return 1.0f / (1.0f + expf(-v)); }

/* One LSTM layer's step: gates = W [x, h] + b (rows i, f, g, o as PyTorch orders them). */
AVX2 static void lstm_layer(const Layer *layer, long in, long hidden, const float *x, float *h, float *c, float *gates) {
    int8_t q[MAX_WIDTH];
    float qs[2];
    qs[0] = quantize(x, in, q);
    qs[1] = quantize(h, hidden, q + in);
    gemv_i8(layer->views[0].buf, layer->views[1].buf, layer->views[2].buf, 4 * hidden, in + hidden, q, qs, in, gates);
    const float *gi = gates, *gf = gates + hidden, *gg = gates + 2 * hidden, *go = gates + 3 * hidden;
    long u = 0;
    for (; u + 8 <= hidden; u += 8) {
        __m256 cell = _mm256_fmadd_ps(sigmoid8(_mm256_loadu_ps(gf + u)), _mm256_loadu_ps(c + u), _mm256_mul_ps(sigmoid8(_mm256_loadu_ps(gi + u)), tanh8(_mm256_loadu_ps(gg + u))));
        _mm256_storeu_ps(c + u, cell);
        _mm256_storeu_ps(h + u, _mm256_mul_ps(sigmoid8(_mm256_loadu_ps(go + u)), tanh8(cell)));
    }
    for (; u < hidden; u++) {
        float cell = sigmoid1(gf[u]) * c[u] + sigmoid1(gi[u]) * tanhf(gg[u]);
        c[u] = cell;
        h[u] = sigmoid1(go[u]) * tanhf(cell);
    }
}

/* x[0:n] = softmax(x[0:n]), in place. */
AVX2 static void softmax_row(float *x, long n) {
    long vec = n & ~7L;
    __m256 top8 = _mm256_set1_ps(-INFINITY);
    for (long j = 0; j < vec; j += 8)
        top8 = _mm256_max_ps(top8, _mm256_loadu_ps(x + j));
    float lanes[8], top = -INFINITY;
    _mm256_storeu_ps(lanes, top8);
    for (int i = 0; i < 8; i++)
        top = lanes[i] > top ? lanes[i] : top;
    for (long j = vec; j < n; j++)
        top = x[j] > top ? x[j] : top;
    __m256 shift = _mm256_set1_ps(top), total8 = _mm256_setzero_ps();
    for (long j = 0; j < vec; j += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + j), shift));
        _mm256_storeu_ps(x + j, e);
        total8 = _mm256_add_ps(total8, e);
    }
    _mm256_storeu_ps(lanes, total8);
    double total = 0.0;
    for (int i = 0; i < 8; i++)
        total += lanes[i];
    for (long j = vec; j < n; j++) {
        x[j] = expf(x[j] - top);
        total += x[j];
    }
    __m256 inverse = _mm256_set1_ps((float)(1.0 / total));
    for (long j = 0; j < vec; j += 8)
        _mm256_storeu_ps(x + j, _mm256_mul_ps(_mm256_loadu_ps(x + j), inverse));
    for (long j = vec; j < n; j++)
        x[j] *= (float)(1.0 / total);
}

#endif /* NEXTWORD_X86 */

/* ----- Python bindings ------------------------------------------------------------------ */

static int cpu_supported(void) {
#ifdef NEXTWORD_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
    return 0;
#endif
}

static PyObject *supported(PyObject *self, PyObject *unused) { return PyBool_FromLong(cpu_supported()); }

/* Borrow ``obj``'s buffer, checking it holds exactly ``bytes`` bytes. */
static int get_buffer(PyObject *obj, Py_buffer *view, Py_ssize_t bytes, int writable, const char *name) {
    if (PyObject_GetBuffer(obj, view, writable ? PyBUF_WRITABLE : PyBUF_SIMPLE) < 0)
        return -1;
    if (view->len != bytes) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd bytes, got %zd", name, bytes, view->len);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static void release(Py_buffer *views, int n) {
    for (int i = 0; i < n; i++)
        PyBuffer_Release(&views[i]);
}

/* Borrow the buffers of objs[0:n], each of sizes[i] bytes, those from ``writable_from`` on
 * writable: all of them, or none (-1 with an error set). */
static int get_buffers(PyObject *const *objs, int n, const Py_ssize_t *sizes, const char *const *names, int writable_from, Py_buffer *views) {
    for (int i = 0; i < n; i++)
        if (get_buffer(objs[i], &views[i], sizes[i], i >= writable_from, names[i]) < 0) {
            release(views, i);
            return -1;
        }
    return 0;
}

/* How many float32 rows of ``width`` ``obj``'s buffer holds; -1 with an error set when it is
 * not a whole, non-zero number of them. */
static Py_ssize_t count_rows(PyObject *obj, Py_ssize_t width, const char *what) {
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_SIMPLE) < 0)
        return -1;
    Py_ssize_t row_bytes = width * (Py_ssize_t)sizeof(float);
    Py_ssize_t rows = row_bytes > 0 ? view.len / row_bytes : 0;
    int whole = rows > 0 && view.len == rows * row_bytes;
    PyBuffer_Release(&view);
    if (!whole) {
        PyErr_Format(PyExc_ValueError, "%s is not a whole number of inputs", what);
        return -1;
    }
    return rows;
}

/* The start of every call: ``nargs`` must be ``expected``, the last ``n_ints`` arguments are
 * integers (into ``ints``), and the processor runs the kernels; -1 with an error set if not. */
static int begin_call(const char *name, PyObject *const *args, Py_ssize_t nargs, Py_ssize_t expected, int n_ints, Py_ssize_t *ints) {
    if (nargs != expected) {
        PyErr_Format(PyExc_TypeError, "%s takes %zd arguments", name, expected);
        return -1;
    }
    for (int i = 0; i < n_ints; i++)
        ints[i] = PyLong_AsSsize_t(args[expected - n_ints + i]);
    if (PyErr_Occurred())
        return -1;
    if (!cpu_supported()) {
        PyErr_SetString(PyExc_RuntimeError, "this processor lacks AVX2, FMA or F16C");
        return -1;
    }
    return 0;
}

/* The start of a product's call: its shape (the last two arguments, ``rows`` and ``cols``, at
 * most ``max_cols``) and how many inputs ``m`` the argument at ``x_index`` holds. */
static int begin_linear(const char *name, PyObject *const *args, Py_ssize_t nargs, Py_ssize_t expected, int x_index, Py_ssize_t max_cols, Py_ssize_t *rows, Py_ssize_t *cols, Py_ssize_t *m) {
    Py_ssize_t shape[2];
    if (begin_call(name, args, nargs, expected, 2, shape) < 0)
        return -1;
    *rows = shape[0], *cols = shape[1];
    if (*rows <= 0 || *cols <= 0 || *cols > max_cols) {
        PyErr_Format(PyExc_ValueError, "%s: bad shape", name);
        return -1;
    }
    char what[64];
    snprintf(what, sizeof what, "%s: x", name);
    *m = count_rows(args[x_index], *cols, what);
    return *m < 0 ? -1 : 0;
}

PyDoc_STRVAR(linear_i8_doc, "linear_i8(w, scale, bias, x, y, rows, cols)\n--\n\n"
                            "y[m] = (w * scale[:, None]) @ x[m] + bias for each of the len(x) // cols inputs: w 8-bit "
                            "[rows, cols], scale and bias float32 [rows], x float32 [M, cols], y float32 [M, rows].");

static PyObject *linear_i8(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_ssize_t rows = 0, cols = 0, m = 0;
    if (begin_linear("linear_i8", args, nargs, 7, 3, MAX_WIDTH, &rows, &cols, &m) < 0)
        return NULL;
    Py_buffer v[5];
    const Py_ssize_t sizes[5] = {rows * cols, rows * 4, rows * 4, m * cols * 4, m * rows * 4};
    const char *const names[5] = {"w", "scale", "bias", "x", "y"};
    if (get_buffers(args, 5, sizes, names, 4, v) < 0)
        return NULL;
#ifdef NEXTWORD_X86
    Py_BEGIN_ALLOW_THREADS;
    int8_t q[MAX_WIDTH];
    for (Py_ssize_t i = 0; i < m; i++) {
        const float *x = (const float *)v[3].buf + i * cols;
        float qs[2];
        qs[0] = qs[1] = quantize(x, cols, q);
        gemv_i8(v[0].buf, v[1].buf, v[2].buf, rows, cols, q, qs, cols, (float *)v[4].buf + i * rows);
    }
    Py_END_ALLOW_THREADS;
#endif
    release(v, 5);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(linear_f16_doc, "linear_f16(w, bias, x, y, rows, cols)\n--\n\n"
                             "y[m] = w @ x[m] + bias for each input: w half precision [rows, cols] (as 16-bit "
                             "integers), bias float32 [rows], x float32 [M, cols], y float32 [M, rows].");

static PyObject *linear_f16(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_ssize_t rows = 0, cols = 0, m = 0;
    if (begin_linear("linear_f16", args, nargs, 6, 2, PY_SSIZE_T_MAX, &rows, &cols, &m) < 0)
        return NULL;
    Py_buffer v[4];
    const Py_ssize_t sizes[4] = {rows * cols * 2, rows * 4, m * cols * 4, m * rows * 4};
    const char *const names[4] = {"w", "bias", "x", "y"};
    if (get_buffers(args, 4, sizes, names, 3, v) < 0)
        return NULL;
#ifdef NEXTWORD_X86
    Py_BEGIN_ALLOW_THREADS;
    for (Py_ssize_t i = 0; i < m; i++)
        gemv_f16(v[0].buf, v[1].buf, rows, cols, (const float *)v[2].buf + i * cols, (float *)v[3].buf + i * rows);
    Py_END_ALLOW_THREADS;
#endif
    release(v, 4);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(lstm_doc, "lstm(layers, xs, state, out, width, hidden)\n--\n\n"
                       "Read the inputs xs (float32 [T, width]) through the stacked LSTM, one step each: layers is "
                       "a sequence of (w, scale, bias) per layer, w 8-bit [4 * hidden, in + hidden] (the input "
                       "and recurrent weights side by side, gates i, f, g, o), scale and bias float32 [4 * hidden] "
                       "(bias: both of PyTorch's biases summed). state (float32 [layers, 2, hidden]: h, then c, of "
                       "each layer) is updated in place; out (float32 [T, hidden]) receives the last layer's h "
                       "after each input.");

static PyObject *lstm(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_ssize_t shape[2];
    if (begin_call("lstm", args, nargs, 6, 2, shape) < 0)
        return NULL;
    Py_ssize_t width = shape[0], hidden = shape[1];
    PyObject *seq = PySequence_Fast(args[0], "lstm: layers must be a sequence");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n_layers = PySequence_Fast_GET_SIZE(seq);
    if (n_layers < 1 || n_layers > MAX_LAYERS || width <= 0 || hidden <= 0 || hidden > MAX_HIDDEN || width + hidden > MAX_WIDTH || 2 * hidden > MAX_WIDTH) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "lstm: bad shape");
        return NULL;
    }
    Py_ssize_t steps = count_rows(args[1], width, "lstm: xs");
    Py_buffer views[3];
    const Py_ssize_t sizes[3] = {steps * width * 4, n_layers * 2 * hidden * 4, steps * hidden * 4};
    const char *const names[3] = {"xs", "state", "out"};
    if (steps < 0 || get_buffers(args + 1, 3, sizes, names, 1, views) < 0) {
        Py_DECREF(seq);
        return NULL;
    }
    Layer layers[MAX_LAYERS];
    int held = 0; /* layers whose buffers are borrowed */
    int failed = 0;
    for (; held < n_layers; held++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, held);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 3) {
            PyErr_SetString(PyExc_TypeError, "lstm: each layer is a (w, scale, bias) tuple");
            failed = 1;
            break;
        }
        Py_ssize_t in = held == 0 ? width : hidden;
        const Py_ssize_t layer_sizes[3] = {4 * hidden * (in + hidden), 4 * hidden * 4, 4 * hidden * 4};
        const char *const layer_names[3] = {"w", "scale", "bias"};
        if (get_buffers(PySequence_Fast_ITEMS(item), 3, layer_sizes, layer_names, 3, layers[held].views) < 0) {
            failed = 1;
            break;
        }
    }
#ifdef NEXTWORD_X86
    if (!failed) {
        Py_BEGIN_ALLOW_THREADS;
        float gates[4 * MAX_HIDDEN];
        float *state = views[1].buf, *out = views[2].buf;
        for (Py_ssize_t t = 0; t < steps; t++) {
            const float *x = (const float *)views[0].buf + t * width;
            for (Py_ssize_t l = 0; l < n_layers; l++) {
                float *h = state + 2 * l * hidden;
                lstm_layer(&layers[l], l == 0 ? width : hidden, hidden, x, h, h + hidden, gates);
                x = h;
            }
            memcpy(out + t * hidden, x, (size_t)hidden * sizeof(float));
        }
        Py_END_ALLOW_THREADS;
    }
#endif
    for (int l = 0; l < held; l++)
        release(layers[l].views, 3);
    release(views, 3);
    Py_DECREF(seq);
    if (failed)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(softmax_doc, "softmax(x, cols)\n--\n\n"
                          "Each row of x (float32 [M, cols]) replaced by its softmax, in place.");

static PyObject *softmax(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_ssize_t cols;
    if (begin_call("softmax", args, nargs, 2, 1, &cols) < 0)
        return NULL;
    Py_ssize_t m = count_rows(args[0], cols, "softmax: x");
    Py_buffer view;
    if (m < 0 || get_buffer(args[0], &view, m * cols * (Py_ssize_t)sizeof(float), 1, "x") < 0)
        return NULL;
#ifdef NEXTWORD_X86
    Py_BEGIN_ALLOW_THREADS;
    for (Py_ssize_t i = 0; i < m; i++)
        softmax_row((float *)view.buf + i * cols, cols);
    Py_END_ALLOW_THREADS;
#endif
    PyBuffer_Release(&view);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"supported", supported, METH_NOARGS, "supported()\n--\n\nWhether this processor runs these kernels (AVX2, FMA, F16C)."},
    {"linear_i8", (PyCFunction)(void (*)(void))linear_i8, METH_FASTCALL, linear_i8_doc},
    {"linear_f16", (PyCFunction)(void (*)(void))linear_f16, METH_FASTCALL, linear_f16_doc},
    {"lstm", (PyCFunction)(void (*)(void))lstm, METH_FASTCALL, lstm_doc},
    {"softmax", (PyCFunction)(void (*)(void))softmax, METH_FASTCALL, softmax_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels", "The products of a word boundary in C (AVX2): see kernels.c.", -1, methods};

PyMODINIT_FUNC PyInit__kernels(void) {
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    /* The sizes the kernels take (their scratch space lives on the stack). */
    if (PyModule_AddIntConstant(m, "MAX_WIDTH", MAX_WIDTH) < 0 || PyModule_AddIntConstant(m, "MAX_HIDDEN", MAX_HIDDEN) < 0 ||
        PyModule_AddIntConstant(m, "MAX_LAYERS", MAX_LAYERS) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
