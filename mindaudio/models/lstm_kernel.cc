// One LSTM direction (time-major, zero initial state) as two MindSpore AOT custom CPU kernels.
//
// Weight layout = mindspore.nn.LSTM / PyTorch: w_ih [4H, D], w_hh [4H, H], b_ih [4H], b_hh [4H],
// gate blocks in the order i, f, g, o.
//
//   LstmFwd(x[T,B,D], w_ih, w_hh, b_ih, b_hh) -> y[T,B,H], gates[T,B,4H] (activated i,f,g,o), c[T,B,H]
//   LstmBwd(x, w_ih, w_hh, y, gates, c, dy[T,B,H]) -> dx[T,B,D], dw_ih[4H,D], dw_hh[4H,H], db[4H]
//
// All matrix products are OpenBLAS sgemm calls (scipy-openblas32: symbols prefixed "scipy_"):
//   forward:  x·w_ihᵀ for all T frames (one GEMM, its rows split over the threads), then per frame
//             h_{t-1}·w_hhᵀ, computed per block of hidden units (the 4 gate rows of those units) so that the
//             same thread applies the gate nonlinearities to its block right after;
//   backward: per frame dh = dG_{t+1}·w_hh per block of hidden units (against a transposed copy of w_hh, so the
//             weight rows read are contiguous), then dx = dG·w_ih, dw_ih = dGᵀ·x, dw_hh = dG[1:]ᵀ·y[:-1] over all
//             frames at once (each split over the threads).
// Why blocks: with a small batch B the recurrent product is a [B,H]x[H,4H] GEMM that streams the whole w_hh
// (16 MB at H=1024) every frame. OpenBLAS's ordinary sgemm path copies ("packs") w_hh on each call, doubling
// the traffic; calls with M·N·K <= 1e6 take OpenBLAS's small-matrix kernels (SkylakeX and later cores), which
// read the operands in place. Measured (blas_bench.cc, B=2, H=1024, 256 frames, 1 thread): forward as one
// sgemm 496 ms, as B sgemv calls 301 ms, in blocks of 256 rows of w_hh 151 ms (backward: 533 / 298 / 151 ms).
// Threads: OpenMP (the library MindSpore itself links, libgomp). OpenBLAS is kept single-threaded (each call is
// made from one OpenMP thread): OpenBLAS's own pool would fight the OpenMP threads for the 2 cores.
// The kernels keep no state between calls (scratch memory is allocated per call); the thread count is a
// process-wide setting (LstmSetNumThreads). Return codes: 0 ok, 1 wrong parameter count, 2 dtype not float32,
// 3 inconsistent shapes.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "cblas.h"  // scipy_openblas32's header: scipy_cblas_sgemm, scipy_openblas_set_num_threads, ...

namespace {

std::atomic<int> g_threads{0};  // 0: OpenMP's default (omp_get_max_threads)

int num_threads() {
  int n = g_threads.load(std::memory_order_relaxed);
#ifdef _OPENMP
  return n > 0 ? n : omp_get_max_threads();
#else
  (void)n;
  return 1;
#endif
}

int thread_id() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

int team_size() {
#ifdef _OPENMP
  return omp_get_num_threads();
#else
  return 1;
#endif
}

// The part [begin, end) of [0, n) that worker `id` of `parts` takes; boundaries are multiples of `align`.
void split(int64_t n, int parts, int id, int64_t align, int64_t *begin, int64_t *end) {
  const int64_t units = (n + align - 1) / align;
  *begin = std::min(n, units * id / parts * align);
  *end = std::min(n, units * (id + 1) / parts * align);
}

// Block width (hidden units) for the per-frame products: small enough that M·N·K <= 1e6 keeps OpenBLAS on its
// small-matrix kernels (m = B, k = the product's inner dimension), at most 256, and preferably dividing H into a
// multiple of `threads` equal blocks of a multiple of 8 units (even work per thread). When that would make blocks
// narrower than kMinSmallBlock (larger B), the batch amortises OpenBLAS's packing: one wide block per thread.
constexpr int64_t kMinSmallBlock = 16;
int64_t block_width(int64_t m, int64_t k, int64_t h, int threads) {
  int64_t nb_max = std::min<int64_t>(256, 1000000 / std::max<int64_t>(1, m * k));
  if (nb_max < kMinSmallBlock) nb_max = (h + threads - 1) / threads;  // larger batch: one ordinary block per thread
  nb_max = std::max<int64_t>(8, nb_max);
  const int64_t first = (h + nb_max - 1) / nb_max;
  for (int64_t blocks = (first + threads - 1) / threads * threads; blocks <= h / 8; blocks += threads) {
    if (h % blocks == 0 && (h / blocks) % 8 == 0) return h / blocks;
  }
  return std::min(nb_max / 8 * 8, h);
}

// OpenBLAS single-threaded from the start: every call is made from one OpenMP thread (this library instance is
// used by nothing else in the process: numpy and scipy ship their own OpenBLAS copies).
__attribute__((constructor)) void blas_single_threaded() { scipy_openblas_set_num_threads(1); }

inline float sigmoidf(float v) { return 1.0f / (1.0f + std::exp(-v)); }

bool all_float32(int n, const char **dtypes) {
  for (int i = 0; i < n; ++i) {
    if (std::strcmp(dtypes[i], "float32") != 0) return false;
  }
  return true;
}

// Row-major sgemm wrappers: C[m,n] = op(A)·op(B) + beta·C.
inline void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                 const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {  // BLAS leaves C untouched when k = 0; make beta apply as it does for k > 0
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    return;
  }
  scipy_cblas_sgemm(CblasRowMajor, ta, tb, (blasint)m, (blasint)n, (blasint)k, 1.0f, a, (blasint)lda, b, (blasint)ldb,
                    beta, c, (blasint)ldc);
}

}  // namespace

extern "C" {

// ---- Shape inference (C++), called by MindSpore for every new input shape --------------------------------------
// Graph-mode dynamic shapes need these: at run time the backend's primitive is no longer a PrimitivePy, so a Python
// out_shape cannot be called ("The prim is not a PrimitivePy"). MindSpore finds them by name (<func>InferShape) when
// the Custom op is built with out_shape=None; with the 'multi_output' attribute (set by a reg_info that lists more
// than one output) the signature is vector<vector<int64_t>>(int *ndims, int64_t **shapes, AotExtra *extra).
// Dims are -1 when unknown; a dynamic-rank input is shape {-2}. extra is unused (declared as void *).
// std::vector crosses the library boundary: fine because both sides use the system's shared libstdc++.

std::vector<std::vector<int64_t>> LstmFwdInferShape(int *ndims, int64_t **shapes, void *extra) {
  (void)extra;
  // inputs: x [T,B,D], w_ih [4H,D], w_hh [4H,H], b_ih, b_hh -> y [T,B,H], gates [T,B,4H], c [T,B,H]
  const int64_t H = ndims[2] == 2 ? shapes[2][1] : -1;
  if (ndims[0] != 3) return {{-2}, {-2}, {-2}};
  const int64_t T = shapes[0][0], B = shapes[0][1];
  return {{T, B, H}, {T, B, H < 0 ? -1 : 4 * H}, {T, B, H}};
}

std::vector<std::vector<int64_t>> LstmBwdInferShape(int *ndims, int64_t **shapes, void *extra) {
  (void)extra;
  // inputs: x, w_ih, w_hh, y, gates, c, dy -> dx (as x), dw_ih (as w_ih), dw_hh (as w_hh), db [4H]
  auto shape = [&](int i) { return std::vector<int64_t>(shapes[i], shapes[i] + ndims[i]); };
  return {shape(0), shape(1), shape(2), {ndims[2] == 2 ? shapes[2][0] : -1}};
}

// Thread count of both kernels (process-wide; n <= 0: OpenMP's default). Also pins OpenBLAS to one thread.
void LstmSetNumThreads(int n) {
  g_threads.store(n, std::memory_order_relaxed);
  scipy_openblas_set_num_threads(1);
}
int LstmGetNumThreads(void) { return num_threads(); }

int LstmFwd(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *stream,
            void *extra) {
  (void)stream;
  (void)extra;
  if (nparam != 8) return 1;
  if (!all_float32(nparam, dtypes)) return 2;
  if (ndims[0] != 3 || ndims[1] != 2 || ndims[2] != 2 || ndims[3] != 1 || ndims[4] != 1) return 3;
  const int64_t T = shapes[0][0], B = shapes[0][1], D = shapes[0][2];
  const int64_t G = shapes[2][0], H = shapes[2][1];
  if (G != 4 * H || shapes[1][0] != G || shapes[1][1] != D || shapes[3][0] != G || shapes[4][0] != G) return 3;

  const float *x = static_cast<const float *>(params[0]);
  const float *w_ih = static_cast<const float *>(params[1]);
  const float *w_hh = static_cast<const float *>(params[2]);
  const float *b_ih = static_cast<const float *>(params[3]);
  const float *b_hh = static_cast<const float *>(params[4]);
  float *y = static_cast<float *>(params[5]);
  float *gates = static_cast<float *>(params[6]);
  float *c = static_cast<float *>(params[7]);
  const int64_t rows = T * B;
  if (rows == 0 || H == 0) return 0;
  const int threads = num_threads();
  const int64_t nb = block_width(B, H, H, threads);
  const int64_t nblocks = (H + nb - 1) / nb;

#pragma omp parallel num_threads(threads)
  {
    // gates = x · w_ihᵀ + (b_ih + b_hh), all frames; each thread takes a range of rows (bias preloaded, beta = 1).
    int64_t r0, r1;
    split(rows, team_size(), thread_id(), 1, &r0, &r1);
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t j = 0; j < G; ++j) gates[r * G + j] = b_ih[j] + b_hh[j];
    gemm(CblasNoTrans, CblasTrans, r1 - r0, G, D, x + r0 * D, D, w_ih, D, 1.0f, gates + r0 * G, G);
#pragma omp barrier

    for (int64_t t = 0; t < T; ++t) {
      float *gt = gates + t * B * G;
      const float *h_prev = t > 0 ? y + (t - 1) * B * H : nullptr;
      const float *c_prev = t > 0 ? c + (t - 1) * B * H : nullptr;
      float *ct = c + t * B * H;
      float *ht = y + t * B * H;
#pragma omp for schedule(static)
      for (int64_t blk = 0; blk < nblocks; ++blk) {
        const int64_t j0 = blk * nb, n = std::min(nb, H - j0);
        if (h_prev) {
          for (int q = 0; q < 4; ++q)  // gate q of units [j0, j0+n): += h_{t-1} · w_hh[q·H + j0 : +n]ᵀ
            gemm(CblasNoTrans, CblasTrans, B, n, H, h_prev, H, w_hh + (q * H + j0) * H, H, 1.0f, gt + q * H + j0, G);
        }
        for (int64_t b = 0; b < B; ++b) {
          float *gi = gt + b * G + j0, *gf = gi + H, *gg = gi + 2 * H, *go = gi + 3 * H;
          const float *cp = c_prev ? c_prev + b * H + j0 : nullptr;
          float *cb = ct + b * H + j0, *hb = ht + b * H + j0;
          for (int64_t j = 0; j < n; ++j) {
            const float i = sigmoidf(gi[j]), f = sigmoidf(gf[j]), g = std::tanh(gg[j]), o = sigmoidf(go[j]);
            const float cv = (cp ? f * cp[j] : 0.0f) + i * g;
            gi[j] = i;
            gf[j] = f;
            gg[j] = g;
            go[j] = o;
            cb[j] = cv;
            hb[j] = o * std::tanh(cv);
          }
        }
      }  // implicit barrier: frame t complete before frame t+1 reads it
    }
  }
  return 0;
}

int LstmBwd(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *stream,
            void *extra) {
  (void)stream;
  (void)extra;
  if (nparam != 11) return 1;
  if (!all_float32(nparam, dtypes)) return 2;
  if (ndims[0] != 3 || ndims[1] != 2 || ndims[2] != 2) return 3;
  const int64_t T = shapes[0][0], B = shapes[0][1], D = shapes[0][2];
  const int64_t G = shapes[2][0], H = shapes[2][1];
  if (G != 4 * H || shapes[1][0] != G || shapes[1][1] != D) return 3;

  const float *x = static_cast<const float *>(params[0]);
  const float *w_ih = static_cast<const float *>(params[1]);
  const float *w_hh = static_cast<const float *>(params[2]);
  const float *y = static_cast<const float *>(params[3]);
  const float *gates = static_cast<const float *>(params[4]);
  const float *c = static_cast<const float *>(params[5]);
  const float *dy = static_cast<const float *>(params[6]);
  float *dx = static_cast<float *>(params[7]);
  float *dw_ih = static_cast<float *>(params[8]);
  float *dw_hh = static_cast<float *>(params[9]);
  float *db = static_cast<float *>(params[10]);
  const int64_t rows = T * B;
  if (rows == 0 || H == 0) {
    std::memset(dw_ih, 0, G * D * sizeof(float));
    std::memset(dw_hh, 0, G * H * sizeof(float));
    std::memset(db, 0, G * sizeof(float));
    return 0;
  }

  std::vector<float> dgates(rows * G);  // gradients w.r.t. the pre-activation gates, all frames
  std::vector<float> dh(B * H, 0.0f);   // dG_{t+1} · w_hh: the recurrent part of dL/dh_t
  std::vector<float> dc(B * H, 0.0f);   // dL/dc_t carried from frame t+1
  std::vector<float> w_hh_t(T > 1 ? H * G : 0);  // w_hhᵀ [H, 4H]: contiguous rows for the per-frame product
  const int threads = num_threads();
  const int64_t nb = block_width(B, G, H, threads);
  const int64_t nblocks = (H + nb - 1) / nb;
  float *dG = dgates.data();

#pragma omp parallel num_threads(threads)
  {
    const int nt = team_size(), id = thread_id();
    if (T > 1) {
      int64_t r0, r1;  // rows [r0, r1) of w_hh, transposed into columns of w_hh_t
      split(G, nt, id, 16, &r0, &r1);
      if (r1 > r0)
        scipy_cblas_somatcopy(CblasRowMajor, CblasTrans, (blasint)(r1 - r0), (blasint)H, 1.0f, w_hh + r0 * H,
                              (blasint)H, w_hh_t.data() + r0, (blasint)G);
    }
#pragma omp barrier

    for (int64_t t = T - 1; t >= 0; --t) {
      const float *gt = gates + t * B * G;
      const float *ct = c + t * B * H;
      const float *c_prev = t > 0 ? c + (t - 1) * B * H : nullptr;
      const float *dyt = dy + t * B * H;
      const float *dg_next = t < T - 1 ? dG + (t + 1) * B * G : nullptr;
      float *dgt = dG + t * B * G;
#pragma omp for schedule(static)
      for (int64_t blk = 0; blk < nblocks; ++blk) {
        const int64_t j0 = blk * nb, n = std::min(nb, H - j0);
        if (dg_next)  // dh[:, j0:j0+n] = dG_{t+1} · w_hh[:, j0:j0+n] = dG_{t+1} · (w_hhᵀ[j0:j0+n, :])ᵀ
          gemm(CblasNoTrans, CblasTrans, B, n, G, dg_next, G, w_hh_t.data() + j0 * G, G, 0.0f, dh.data() + j0, H);
        for (int64_t b = 0; b < B; ++b) {
          const float *gi = gt + b * G + j0, *gf = gi + H, *gg = gi + 2 * H, *go = gi + 3 * H;
          float *di = dgt + b * G + j0, *df = di + H, *dg = di + 2 * H, *dov = di + 3 * H;
          const float *cb = ct + b * H + j0, *cp = c_prev ? c_prev + b * H + j0 : nullptr, *dyb = dyt + b * H + j0;
          float *dhb = dh.data() + b * H + j0, *dcb = dc.data() + b * H + j0;
          for (int64_t j = 0; j < n; ++j) {
            const float i = gi[j], f = gf[j], g = gg[j], o = go[j];
            const float tc = std::tanh(cb[j]);
            const float dhv = dyb[j] + (dg_next ? dhb[j] : 0.0f);
            const float dcv = dhv * o * (1.0f - tc * tc) + dcb[j];
            di[j] = dcv * g * i * (1.0f - i);
            df[j] = cp ? dcv * cp[j] * f * (1.0f - f) : 0.0f;
            dg[j] = dcv * i * (1.0f - g * g);
            dov[j] = dhv * tc * o * (1.0f - o);
            dcb[j] = dcv * f;
          }
        }
      }  // implicit barrier: all of dG_t is written before frame t-1 reads it
    }

    // Products over all frames, each split over the threads: rows of dx, rows (gate units) of dw_ih, dw_hh, db.
    int64_t r0, r1, g0, g1;
    split(rows, nt, id, 1, &r0, &r1);
    split(G, nt, id, 16, &g0, &g1);
    gemm(CblasNoTrans, CblasNoTrans, r1 - r0, D, G, dG + r0 * G, G, w_ih, D, 0.0f, dx + r0 * D, D);  // dG · w_ih
    gemm(CblasTrans, CblasNoTrans, g1 - g0, D, rows, dG + g0, G, x, D, 0.0f, dw_ih + g0 * D, D);      // dGᵀ · x
    // Σ_t dG_tᵀ · h_{t-1} (frames 1..T-1; zero when T = 1)
    gemm(CblasTrans, CblasNoTrans, g1 - g0, H, (T - 1) * B, dG + B * G + g0, G, y, H, 0.0f, dw_hh + g0 * H, H);
    for (int64_t j = g0; j < g1; ++j) db[j] = 0.0f;
    for (int64_t r = 0; r < rows; ++r) {
      const float *row = dG + r * G;
      for (int64_t j = g0; j < g1; ++j) db[j] += row[j];
    }
  }
  return 0;
}

}  // extern "C"
