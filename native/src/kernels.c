/*
 * rarlhf native CPU kernels for the tfjs wasm backend.
 *
 * Every function reads and writes the wasm heap in place: JS passes the heap's ArrayBuffer and
 * byte offsets of tensors the backend allocated, so nothing is copied. Matrix products go to
 * OpenBLAS; the fused loops below replace chains of small tfjs kernels (softmax + log + gather,
 * gelu_new, LayerNorm, Adam) that each make a full pass over memory.
 *
 * Hot loops are compiled twice (AVX2+FMA and baseline x86-64) and picked at load time, so the
 * addon built on one machine does not assume AVX-512 or even AVX2 on another.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include <node_api.h>


extern void openblas_set_num_threads(int);
extern int openblas_get_num_threads(void);
extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);

/* ------------------------------------------------------------------------------------------ */
/* exp and tanh that vectorise (libm's expf/tanhf do not here): Cephes' expf polynomial, about  */
/* 1 ulp on [-88, 88]; below -88 the result flushes to 0 (every caller feeds x - max <= 0 or    */
/* clamps), NaN stays NaN (comparisons are false for NaN, so it passes the clamp unchanged).    */

static inline __attribute__((always_inline)) float fexp(float x) {
  float xc = x < -88.0f ? -88.0f : (x > 88.0f ? 88.0f : x);
  float n = floorf(xc * 1.44269504088896341f + 0.5f);
  float r = xc - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  union {
    int32_t i;
    float f;
  } scale;
  scale.i = ((int32_t)n + 127) << 23;
  return p * scale.f;
}

/* tanh z = 1 - 2 / (1 + e^{2z}): absolute error ~1e-7, enough for gelu (0.5 x (1 + tanh)). */
static inline __attribute__((always_inline)) float ftanh(float z) { return 1.0f - 2.0f / (1.0f + fexp(2.0f * z)); }

/* ------------------------------------------------------------------------------------------ */
/* Argument helpers: (heap, numbers...) with the heap an ArrayBuffer (the wasm memory).        */

#define MAX_ARGS 20
typedef struct {
  uint8_t *heap;
  size_t heap_len;
  double v[MAX_ARGS];
  size_t n;
} Args;

static int read_args(napi_env env, napi_callback_info info, Args *a, size_t want) {
  napi_value argv[MAX_ARGS + 1];
  size_t argc = MAX_ARGS + 1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != want + 1) {
    char msg[96];
    snprintf(msg, sizeof msg, "rarlhf native: expected %zu arguments, got %zu", want + 1, argc);
    napi_throw_error(env, NULL, msg);
    return 0;
  }
  void *data = NULL;
  bool is_ab = false;
  napi_is_arraybuffer(env, argv[0], &is_ab);
  if (!is_ab || napi_get_arraybuffer_info(env, argv[0], &data, &a->heap_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "rarlhf native: first argument must be the wasm heap ArrayBuffer");
    return 0;
  }
  a->heap = (uint8_t *)data;
  a->n = want;
  for (size_t i = 0; i < want; i++) {
    if (napi_get_value_double(env, argv[i + 1], &a->v[i]) != napi_ok) {
      napi_throw_type_error(env, NULL, "rarlhf native: arguments after the heap must be numbers");
      return 0;
    }
  }
  return 1;
}

#define F32(a, i) ((float *)((a).heap + (size_t)(a).v[i]))
#define I32(a, i) ((int32_t *)((a).heap + (size_t)(a).v[i]))
#define SZ(a, i) ((long)(a).v[i])

/* ------------------------------------------------------------------------------------------ */
/* Matrix products                                                                             */

/* sgemm(heap, batch, M, N, K, transA, transB, aOff, aStride, bOff, bStride, cOff, biasOff, relu)
 * C[b] = op(A[b]) op(B[b]) (+ bias[N]) (relu), row-major; strides in elements (0 = broadcast). */
static napi_value js_sgemm(napi_env env, napi_callback_info info) {
  Args a;
  if (!read_args(env, info, &a, 14)) return NULL;
  long batch = SZ(a, 0), M = SZ(a, 1), N = SZ(a, 2), K = SZ(a, 3);
  int tA = a.v[4] != 0, tB = a.v[5] != 0;
  const float *A = F32(a, 6), *B = F32(a, 8);
  long sA = SZ(a, 7), sB = SZ(a, 9);
  float *C = F32(a, 10);
  long biasOff = SZ(a, 11);
  int relu = a.v[12] != 0;
  (void)a.v[13];
  for (long b = 0; b < batch; b++) {
    float *Cb = C + b * M * N;
    if (K == 0) {
      memset(Cb, 0, sizeof(float) * M * N);
    } else {
      cblas_sgemm(CblasRowMajor, tA ? CblasTrans : CblasNoTrans, tB ? CblasTrans : CblasNoTrans, (int)M, (int)N,
                  (int)K, 1.0f, A + b * sA, tA ? (int)M : (int)K, B + b * sB, tB ? (int)K : (int)N, 0.0f, Cb, (int)N);
    }
    if (biasOff >= 0) {
      const float *bias = (const float *)(a.heap + biasOff);
      for (long i = 0; i < M; i++)
        for (long j = 0; j < N; j++) Cb[i * N + j] += bias[j];
    }
    if (relu)
      for (long i = 0; i < M * N; i++) Cb[i] = Cb[i] > 0 ? Cb[i] : 0;
  }
  return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Log-softmax + gather (log-probs of chosen tokens), its gradient, entropy, sampling          */

/* Row max; finite-math lets it vectorise. A NaN logit still yields NaN below: exp(NaN - m). */
__attribute__((optimize("finite-math-only"))) static float row_max(const float *x, long V) {
  float m = -INFINITY;
  for (long j = 0; j < V; j++) m = x[j] > m ? x[j] : m;
  return m;
}

/* e_j = exp(x_j - m) into e (a separate pass so both it and the sums vectorise) */
static void exp_shift(const float *restrict x, float *restrict e, long V, float m) {
  for (long j = 0; j < V; j++) e[j] = fexp(x[j] - m);
}
static float sum(const float *e, long V) {
  float s = 0;
  for (long j = 0; j < V; j++) s += e[j];
  return s;
}

/* Per-thread scratch row (one vocabulary row of exps), grown on demand. */
static _Thread_local float *scratch_buf = NULL;
static _Thread_local long scratch_cap = 0;
static float *scratch(long n) {
  if (n > scratch_cap) {
    free(scratch_buf);
    scratch_buf = (float *)malloc(sizeof(float) * (size_t)n);
    scratch_cap = scratch_buf ? n : 0;
  }
  return scratch_buf;
}

/* softmax(heap, N, V, xOff, yOff): y = exp(x - max) / sum, per row */
static napi_value js_softmax(napi_env env, napi_callback_info info) {
  Args a;
  if (!read_args(env, info, &a, 4)) return NULL;
  long N = SZ(a, 0), V = SZ(a, 1);
  const float *x = F32(a, 2);
  float *y = F32(a, 3);
  for (long i = 0; i < N; i++) {
    exp_shift(x + i * V, y + i * V, V, row_max(x + i * V, V));
    float inv = 1.0f / sum(y + i * V, V);
    for (long j = 0; j < V; j++) y[i * V + j] *= inv;
  }
  return NULL;
}

/* logprob(heap, N, V, logitsOff, idxOff, lpOff, lseOff): lp[i] = x[i, idx[i]] - logsumexp(x[i]) */
static napi_value js_logprob(napi_env env, napi_callback_info info) {
  Args a;
  if (!read_args(env, info, &a, 6)) return NULL;
  long N = SZ(a, 0), V = SZ(a, 1);
  const float *x = F32(a, 2);
  const int32_t *idx = I32(a, 3);
  float *lp = F32(a, 4), *lse = F32(a, 5);
  float *e = scratch(V);
  if (!e) return NULL;
  for (long i = 0; i < N; i++) {
    const float *r = x + i * V;
    float m = row_max(r, V);
    exp_shift(r, e, V, m);
    float l = m + logf(sum(e, V));
    lse[i] = l;
    long k = idx[i];
    lp[i] = (k >= 0 && k < V) ? r[k] - l : NAN;
  }
  return NULL;
}

static void logprob_grad_row(const float *r, float *g, long V, float l, float d) {
  for (long j = 0; j < V; j++) g[j] = -d * fexp(r[j] - l);
}

/* logprobGrad(heap, N, V, logitsOff, idxOff, lseOff, dyOff, dxOff): dx = dy (onehot - softmax) */
static napi_value js_logprob_grad(napi_env env, napi_callback_info info) {
  Args a;
  if (!read_args(env, info, &a, 7)) return NULL;
  long N = SZ(a, 0), V = SZ(a, 1);
  const float *x = F32(a, 2), *lse = F32(a, 4), *dy = F32(a, 5);
  const int32_t *idx = I32(a, 3);
  float *dx = F32(a, 6);
  for (long i = 0; i < N; i++) {
    logprob_grad_row(x + i * V, dx + i * V, V, lse[i], dy[i]);
    long k = idx[i];
    if (k >= 0 && k < V) dx[i * V + k] += dy[i];
  }
  return NULL;
}

static float row_entropy(const float *r, float *e, long V) {
  float m = row_max(r, V);
  exp_shift(r, e, V, m);
  float s = 0, sx = 0;
  for (long j = 0; j < V; j++) {
    s += e[j];
    sx += e[j] * (r[j] - m);
  }
  return logf(s) - sx / s;
}

/* entropy(heap, N, V, logitsOff, outOff): logsumexp(x) - sum softmax(x) x per row */
static napi_value js_entropy(napi_env env, napi_callback_info info) {
  Args a;
  if (!read_args(env, info, &a, 4)) return NULL;
  long N = SZ(a, 0), V = SZ(a, 1);
  const float *x = F32(a, 2);
  float *out = F32(a, 3);
  float *e = scratch(V);
  if (!e) return NULL;
  for (long i = 0; i < N; i++) out[i] = row_entropy(x + i * V, e, V);
  return NULL;
}

/* sample(heap, B, V, logitsOff, uOff, outOff): inverse-CDF sampling from softmax(x) with uniforms
 * u (float32); same rule as the tfjs path: #{j : cdf_j < u * cdf_{V-1}}, capped at V - 1. */
static napi_value js_sample(napi_env env, napi_callback_info info) {
  Args a;
  if (!read_args(env, info, &a, 5)) return NULL;
  long B = SZ(a, 0), V = SZ(a, 1);
  const float *x = F32(a, 2), *u = F32(a, 3);
  int32_t *out = I32(a, 4);
  float *e = scratch(V);
  if (!e) return NULL;
  for (long i = 0; i < B; i++) {
    const float *r = x + i * V;
    exp_shift(r, e, V, row_max(r, V));
    float target = u[i] * sum(e, V), c = 0;
    long k = 0;
    for (; k < V - 1; k++) {
      c += e[k];
      if (c >= target) break;
    }
    out[i] = (int32_t)k;
  }
  return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* gelu_new, LayerNorm, Adam                                                                   */

#define GELU_C 0.7978845608028654f /* sqrt(2 / pi) */

static void gelu_fwd(const float *x, float *y, long n) {
  for (long i = 0; i < n; i++) {
    float v = x[i];
    float t = ftanh(GELU_C * (v + 0.044715f * v * v * v));
    y[i] = 0.5f * v * (1.0f + t);
  }
}
static void gelu_bwd(const float *x, const float *dy, float *dx, long n) {
  for (long i = 0; i < n; i++) {
    float v = x[i];
    float t = ftanh(GELU_C * (v + 0.044715f * v * v * v));
    float dt = (1.0f - t * t) * GELU_C * (1.0f + 3.0f * 0.044715f * v * v);
    dx[i] = dy[i] * (0.5f * (1.0f + t) + 0.5f * v * dt);
  }
}

/* gelu(heap, n, xOff, yOff) */
static napi_value js_gelu(napi_env env, napi_callback_info info) {
  Args a;
  if (!read_args(env, info, &a, 3)) return NULL;
  gelu_fwd(F32(a, 1), F32(a, 2), SZ(a, 0));
  return NULL;
}
/* geluGrad(heap, n, xOff, dyOff, dxOff) */
static napi_value js_gelu_grad(napi_env env, napi_callback_info info) {
  Args a;
  if (!read_args(env, info, &a, 4)) return NULL;
  gelu_bwd(F32(a, 1), F32(a, 2), F32(a, 3), SZ(a, 0));
  return NULL;
}

/* layerNorm(heap, rows, D, eps, xOff, gOff, bOff, yOff, meanOff, rstdOff): biased variance as tf.moments */
static void ln_fwd(long rows, long D, float eps, const float *x, const float *g, const float *b, float *y, float *mean,
                       float *rstd) {
  for (long r = 0; r < rows; r++) {
    const float *xr = x + r * D;
    float *yr = y + r * D;
    float mu = 0;
    for (long j = 0; j < D; j++) mu += xr[j];
    mu /= (float)D;
    float var = 0;
    for (long j = 0; j < D; j++) {
      float d = xr[j] - mu;
      var += d * d;
    }
    var /= (float)D;
    float rs = 1.0f / sqrtf(var + eps);
    for (long j = 0; j < D; j++) yr[j] = (xr[j] - mu) * rs * g[j] + b[j];
    mean[r] = mu;
    rstd[r] = rs;
  }
}
static napi_value js_layer_norm(napi_env env, napi_callback_info info) {
  Args a;
  if (!read_args(env, info, &a, 9)) return NULL;
  ln_fwd(SZ(a, 0), SZ(a, 1), (float)a.v[2], F32(a, 3), F32(a, 4), F32(a, 5), F32(a, 6), F32(a, 7), F32(a, 8));
  return NULL;
}

/* layerNormGrad(heap, rows, D, xOff, gOff, meanOff, rstdOff, dyOff, dxOff, dgOff, dbOff) */
static void ln_bwd(long rows, long D, const float *x, const float *g, const float *mean, const float *rstd,
                       const float *dy, float *dx, float *dg, float *db) {
  memset(dg, 0, sizeof(float) * D);
  memset(db, 0, sizeof(float) * D);
  for (long r = 0; r < rows; r++) {
    const float *xr = x + r * D, *dyr = dy + r * D;
    float *dxr = dx + r * D;
    float mu = mean[r], rs = rstd[r];
    float s1 = 0, s2 = 0; /* sum dxhat, sum dxhat * xhat */
    for (long j = 0; j < D; j++) {
      float xh = (xr[j] - mu) * rs;
      float dxh = dyr[j] * g[j];
      s1 += dxh;
      s2 += dxh * xh;
      dg[j] += dyr[j] * xh;
      db[j] += dyr[j];
    }
    s1 /= (float)D;
    s2 /= (float)D;
    for (long j = 0; j < D; j++) {
      float xh = (xr[j] - mu) * rs;
      dxr[j] = rs * (dyr[j] * g[j] - s1 - xh * s2);
    }
  }
}
static napi_value js_layer_norm_grad(napi_env env, napi_callback_info info) {
  Args a;
  if (!read_args(env, info, &a, 10)) return NULL;
  ln_bwd(SZ(a, 0), SZ(a, 1), F32(a, 2), F32(a, 3), F32(a, 4), F32(a, 5), F32(a, 6), F32(a, 7), F32(a, 8), F32(a, 9));
  return NULL;
}

/* adam(heap, n, pOff, gOff, mOff, vOff, pOut, mOut, vOut, lr, beta1, beta2, eps, weightDecay, bc1, bc2)
 * torch.optim.Adam(W) step: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= lr * (m / bc1) / (sqrt(v / bc2) + eps) (+ decoupled decay lr * wd * p, applied first). */
static void adam_loop(long n, const float *p, const float *g, const float *m, const float *v, float *po, float *mo,
                          float *vo, float lr, float b1, float b2, float eps, float wd, float bc1, float bc2) {
  for (long i = 0; i < n; i++) {
    float gi = g[i];
    float mi = b1 * m[i] + (1 - b1) * gi;
    float vi = b2 * v[i] + (1 - b2) * gi * gi;
    float pi = p[i] * (1 - lr * wd);
    po[i] = pi - lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
    mo[i] = mi;
    vo[i] = vi;
  }
}
static napi_value js_adam(napi_env env, napi_callback_info info) {
  Args a;
  if (!read_args(env, info, &a, 15)) return NULL;
  adam_loop(SZ(a, 0), F32(a, 1), F32(a, 2), F32(a, 3), F32(a, 4), F32(a, 5), F32(a, 6), F32(a, 7), (float)a.v[8],
            (float)a.v[9], (float)a.v[10], (float)a.v[11], (float)a.v[12], (float)a.v[13], (float)a.v[14]);
  return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Reductions and gathers that tfjs-wasm runs elementwise                                      */

static void col_sum(long R, long C, const float *x, float *out) {
  memset(out, 0, sizeof(float) * C);
  for (long i = 0; i < R; i++)
    for (long j = 0; j < C; j++) out[j] += x[i * C + j];
}
static void row_sum(long R, long C, const float *x, float *out) {
  for (long i = 0; i < R; i++) {
    float s = 0;
    for (long j = 0; j < C; j++) s += x[i * C + j];
    out[i] = s;
  }
}
/* sum(heap, R, C, xOff, outOff, leading): leading = 1 sums over the R rows, else over each row */
static napi_value js_sum(napi_env env, napi_callback_info info) {
  Args a;
  if (!read_args(env, info, &a, 5)) return NULL;
  if (a.v[4] != 0) col_sum(SZ(a, 0), SZ(a, 1), F32(a, 2), F32(a, 3));
  else row_sum(SZ(a, 0), SZ(a, 1), F32(a, 2), F32(a, 3));
  return NULL;
}

/* gather(heap, nIdx, rowSize, numRows, xOff, idxOff, outOff): out[i] = x[idx[i]] for 4-byte
 * elements; returns -1, or the position of the first index outside [0, numRows) (nothing written
 * past it), so JS can throw tfjs's own message. */
static napi_value js_gather(napi_env env, napi_callback_info info) {
  Args a;
  if (!read_args(env, info, &a, 6)) return NULL;
  long n = SZ(a, 0), row = SZ(a, 1), rows = SZ(a, 2);
  const float *x = F32(a, 3);
  const int32_t *idx = I32(a, 4);
  float *out = F32(a, 5);
  double bad = -1;
  for (long i = 0; i < n; i++) {
    long k = idx[i];
    if (k < 0 || k >= rows) {
      bad = (double)i;
      break;
    }
    memcpy(out + i * row, x + k * row, sizeof(float) * row);
  }
  napi_value r;
  napi_create_double(env, bad, &r);
  return r;
}

/* segmentSum(heap, n, inner, numSegments, xOff, idsOff, outOff, isInt): scatter-add rows,
 * out[ids[i]] += x[i]; ids outside [0, numSegments) are dropped, as TF does. */
#define SEGMENT_SUM(T)                                                                          \
  do {                                                                                          \
    const T *x = (const T *)(a.heap + (size_t)a.v[3]);                                          \
    T *out = (T *)(a.heap + (size_t)a.v[5]);                                                    \
    memset(out, 0, sizeof(T) * segs * inner);                                                   \
    for (long i = 0; i < n; i++)                                                                \
      if (ids[i] >= 0 && ids[i] < segs)                                                         \
        for (long j = 0; j < inner; j++) out[ids[i] * inner + j] += x[i * inner + j];           \
  } while (0)
static napi_value js_segment_sum(napi_env env, napi_callback_info info) {
  Args a;
  if (!read_args(env, info, &a, 7)) return NULL;
  long n = SZ(a, 0), inner = SZ(a, 1), segs = SZ(a, 2);
  const int32_t *ids = I32(a, 4);
  if (a.v[6] != 0) SEGMENT_SUM(int32_t);
  else SEGMENT_SUM(float);
  return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Threads and identification                                                                  */

static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t n = 1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1) {
    napi_throw_range_error(env, NULL, "rarlhf native: setThreads needs a positive integer");
    return NULL;
  }
  openblas_set_num_threads(n);
  return NULL;
}

static napi_value js_info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj, s, t, c;
  napi_create_object(env, &obj);
  napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &s);
  napi_create_string_utf8(env, openblas_get_corename(), NAPI_AUTO_LENGTH, &c);
  napi_create_int32(env, openblas_get_num_threads(), &t);
  napi_set_named_property(env, obj, "blas", s);
  napi_set_named_property(env, obj, "core", c);
  napi_set_named_property(env, obj, "threads", t);
  return obj;
}

static napi_value init(napi_env env, napi_value exports) {
  struct {
    const char *name;
    napi_callback fn;
  } fns[] = {
      {"sgemm", js_sgemm},         {"logprob", js_logprob},     {"logprobGrad", js_logprob_grad},
      {"entropy", js_entropy},     {"softmax", js_softmax},     {"sample", js_sample},       {"gelu", js_gelu},
      {"geluGrad", js_gelu_grad},  {"layerNorm", js_layer_norm}, {"layerNormGrad", js_layer_norm_grad},
      {"adam", js_adam},           {"sum", js_sum},             {"gather", js_gather},
      {"segmentSum", js_segment_sum}, {"setThreads", js_set_threads}, {"info", js_info},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
    napi_set_named_property(env, exports, fns[i].name, f);
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
