// The engine's AVX-512 single-precision product (engine/cpu/packed_gemm.h).
//
// The classic three-level blocking: for each KC-deep slice of K, op(B)'s slice is packed into
// 32-wide column panels (each KC x 32 panel, 32 KiB, stays in L1 while it is used), then for each
// MC-tall block of rows op(A)'s slice is packed into 12-tall row panels (in L2), and the micro-kernel
// multiplies one row panel by one column panel into a 12 x 32 tile of C held in 24 zmm registers:
// per k, two loads of B, twelve broadcasts of A and 24 fused multiply-adds. Partial tiles at the
// edges are padded with zeros in the panels and computed into a local tile that is then copied.
#include "engine/cpu/packed_gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#if defined(__x86_64__)
#include <immintrin.h>
#define GAN_PACKED_SGEMM 1
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

#include "engine/cpu/blas_info.h"
#include "engine/cpu/scratch.h"

namespace gan::cpu {

namespace {

constexpr int64_t kMR = 12, kNR = 32;  // the register tile
constexpr int64_t kKC = 256;           // K slice: a 32-wide B panel of it is 32 KiB
constexpr int64_t kMC = 120;           // rows of A per packed block (10 panels, 120 KiB)
constexpr int64_t kNC = 1024;          // columns of B per packed slice (1 MiB at most)

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

#ifdef GAN_PACKED_SGEMM

// dst[0, width) = src[0, n) followed by zeros.
void copy_padded(const float* src, int64_t n, float* dst, int64_t width) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
  std::fill(dst + n, dst + width, 0.f);
}

// op(A)[i0 + i, k0 + k] for i < mc, k < kc into panels of kMR rows: panel p holds, for each k, its
// kMR values contiguous (rows past mc are zero).
void pack_a(bool ta, const float* A, int64_t M, int64_t K, int64_t i0, int64_t mc, int64_t k0, int64_t kc,
            float* dst) {
  for (int64_t p = 0; p < mc; p += kMR, dst += kMR * kc) {
    const int64_t rows = std::min(kMR, mc - p);
    if (ta) {  // A stored [K, M]: a panel's column is contiguous in memory
      for (int64_t k = 0; k < kc; ++k) copy_padded(A + (k0 + k) * M + i0 + p, rows, dst + k * kMR, kMR);
    } else {  // A stored [M, K]: each of the panel's rows is contiguous
      for (int64_t i = 0; i < kMR; ++i) {
        if (i < rows) {
          const float* src = A + (i0 + p + i) * K + k0;
          for (int64_t k = 0; k < kc; ++k) dst[k * kMR + i] = src[k];
        } else {
          for (int64_t k = 0; k < kc; ++k) dst[k * kMR + i] = 0;
        }
      }
    }
  }
}

// dst[k * ldd + j] = src[j * lds + k] for j, k < 16: sixteen loads, the transpose in registers
// (pairs interleaved, then 4-element groups, then 128-bit lanes), sixteen aligned stores.
__attribute__((target("avx512f"))) void transpose16(const float* src, int64_t lds, float* dst, int64_t ldd) {
  __m512 r[16], t[16];
#pragma GCC unroll 16
  for (int j = 0; j < 16; ++j) r[j] = _mm512_loadu_ps(src + j * lds);
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // r[4i + e], in 128-bit lane L: rows 4i..4i+3 of column 4L + e
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  // column 4L + e gathers lane L of r[e], r[4 + e], r[8 + e], r[12 + e]
#pragma GCC unroll 4
  for (int e = 0; e < 4; ++e) {
    const __m512 x0 = _mm512_shuffle_f32x4(r[e], r[4 + e], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512 x1 = _mm512_shuffle_f32x4(r[e], r[4 + e], _MM_SHUFFLE(3, 1, 3, 1));
    const __m512 x2 = _mm512_shuffle_f32x4(r[8 + e], r[12 + e], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512 x3 = _mm512_shuffle_f32x4(r[8 + e], r[12 + e], _MM_SHUFFLE(3, 1, 3, 1));
    _mm512_store_ps(dst + e * ldd, _mm512_shuffle_f32x4(x0, x2, _MM_SHUFFLE(2, 0, 2, 0)));
    _mm512_store_ps(dst + (4 + e) * ldd, _mm512_shuffle_f32x4(x1, x3, _MM_SHUFFLE(2, 0, 2, 0)));
    _mm512_store_ps(dst + (8 + e) * ldd, _mm512_shuffle_f32x4(x0, x2, _MM_SHUFFLE(3, 1, 3, 1)));
    _mm512_store_ps(dst + (12 + e) * ldd, _mm512_shuffle_f32x4(x1, x3, _MM_SHUFFLE(3, 1, 3, 1)));
  }
}

// op(B)[k0 + k, j0 + j] for k < kc, j < nc into panels of kNR columns: panel q holds, for each k,
// its kNR values contiguous (columns past nc are zero).
void pack_b(bool tb, const float* B, int64_t N, int64_t K, int64_t k0, int64_t kc, int64_t j0, int64_t nc,
            float* dst) {
  for (int64_t q = 0; q < nc; q += kNR, dst += kNR * kc) {
    const int64_t cols = std::min(kNR, nc - q);
    if (!tb) {  // B stored [K, N]: a panel's row is contiguous
      for (int64_t k = 0; k < kc; ++k) copy_padded(B + (k0 + k) * N + j0 + q, cols, dst + k * kNR, kNR);
    } else {  // B stored [N, K]: each of the panel's columns is contiguous
      const int64_t k16 = cols == kNR ? kc / 16 * 16 : 0;  // whole 16 x 16 blocks, transposed in registers
      for (int64_t h = 0; h < kNR; h += 16)
        for (int64_t k = 0; k < k16; k += 16) transpose16(B + (j0 + q + h) * K + k0 + k, K, dst + k * kNR + h, kNR);
      for (int64_t j = 0; j < kNR; ++j) {
        if (j < cols) {
          const float* src = B + (j0 + q + j) * K + k0;
          for (int64_t k = k16; k < kc; ++k) dst[k * kNR + j] = src[k];
        } else {
          for (int64_t k = 0; k < kc; ++k) dst[k * kNR + j] = 0;
        }
      }
    }
  }
}

// How a tile is written: kSet C = acc; kScale C = beta C + acc; kAdd C += acc.
enum Store { kSet, kScale, kAdd };

// tile[12 x 32] (row stride ldc) from a packed A panel and B panel, kc deep.
__attribute__((target("avx512f"))) void micro_kernel(int64_t kc, const float* a, const float* b, float* c,
                                                      int64_t ldc, Store store, float beta) {
  __m512 acc[kMR][2];
#pragma GCC unroll 12
  for (int i = 0; i < kMR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k, a += kMR, b += kNR) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 12
    for (int i = 0; i < kMR; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
  const __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 12
  for (int i = 0; i < kMR; ++i) {
    float* ci = c + i * ldc;
    for (int h = 0; h < 2; ++h) {
      __m512 v = acc[i][h];
      if (store == kAdd) v = _mm512_add_ps(_mm512_loadu_ps(ci + 16 * h), v);
      else if (store == kScale) v = _mm512_fmadd_ps(vb, _mm512_loadu_ps(ci + 16 * h), v);
      _mm512_storeu_ps(ci + 16 * h, v);
    }
  }
}

// C[i, j] for i < m, j < n (m <= 12, n <= 32) through a local tile.
__attribute__((target("avx512f"))) void edge_tile(int64_t kc, const float* a, const float* b, float* c,
                                                   int64_t ldc, int64_t m, int64_t n, Store store, float beta) {
  alignas(64) float tile[kMR * kNR];
  micro_kernel(kc, a, b, tile, kNR, kSet, 0.f);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float& out = c[i * ldc + j];
      const float v = tile[i * kNR + j];
      out = store == kSet ? v : store == kAdd ? out + v : beta * out + v;
    }
}

// C's rows [i0, i1) and columns [j0, j1), on the calling thread.
void block(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float beta, float* C,
           int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  float* bp = thread_scratch<float>(ScratchSlot::GemmPanelB, kKC * ((std::min(kNC, j1 - j0) + kNR - 1) / kNR * kNR));
  float* ap = thread_scratch<float>(ScratchSlot::GemmPanelA, kKC * ((std::min(kMC, i1 - i0) + kMR - 1) / kMR * kMR));
  for (int64_t jc = j0; jc < j1; jc += kNC) {
    const int64_t nc = std::min(kNC, j1 - jc);
    for (int64_t pc = 0; pc < K; pc += kKC) {
      const int64_t kc = std::min(kKC, K - pc);
      const Store store = pc > 0 ? kAdd : beta == 0.f ? kSet : beta == 1.f ? kAdd : kScale;
      pack_b(tb, B, N, K, pc, kc, jc, nc, bp);
      for (int64_t ic = i0; ic < i1; ic += kMC) {
        const int64_t mc = std::min(kMC, i1 - ic);
        pack_a(ta, A, M, K, ic, mc, pc, kc, ap);
        for (int64_t jr = 0; jr < nc; jr += kNR) {
          const float* bpan = bp + jr * kc;
          const int64_t n = std::min(kNR, nc - jr);
          for (int64_t ir = 0; ir < mc; ir += kMR) {
            const float* apan = ap + ir * kc;
            const int64_t m = std::min(kMR, mc - ir);
            float* c = C + (ic + ir) * N + jc + jr;
            if (m == kMR && n == kNR) micro_kernel(kc, apan, bpan, c, N, store, beta);
            else edge_tile(kc, apan, bpan, c, N, m, n, store, beta);
          }
        }
      }
    }
  }
}

#endif  // GAN_PACKED_SGEMM

bool cpu_has_avx512f() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
#else
  return false;
#endif
}

struct Choice {
  bool use = false;
  std::string reason;
};

Choice choose() {
  const char* forced = env("GAN_GEMM");
  const std::string f = forced ? forced : "";
  if (!packed_sgemm_available() || !gemm_setting_error().empty()) return {false, ""};
  if (f == "blas") return {false, ""};
  if (f == "own") return {true, "GAN_GEMM=own"};
  if (!blas_present()) return {true, "no BLAS in this build"};
  if (!blas_runs_avx512_kernels()) return {true, "the BLAS runs " + blas_kernel_name() + " kernels, narrower than this CPU's AVX-512"};
  return {false, ""};
}

const Choice& choice() {
  static const Choice c = choose();
  return c;
}

}  // namespace

bool packed_sgemm_available() {
#ifdef GAN_PACKED_SGEMM
  static const bool ok = cpu_has_avx512f();
  return ok;
#else
  return false;
#endif
}

std::string gemm_setting_error() {
  const char* v = std::getenv("GAN_GEMM");
  if (v == nullptr || *v == '\0') return "";
  const std::string f = v;
  if (f != "own" && f != "blas" && f != "auto")
    return "GAN_GEMM='" + f + "' in the environment: expected own, blas or auto (or unset)";
  if (f == "own" && !packed_sgemm_available())
    return "GAN_GEMM=own in the environment: the engine's product needs AVX-512F, which this CPU does not have "
           "(expected blas, auto or unset here)";
  return "";
}

bool use_packed_sgemm() { return choice().use; }

std::string packed_sgemm_reason() { return choice().reason; }

void packed_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float beta,
                  float* C) {
  packed_sgemm_batch(1, ta, tb, M, N, K, A, 0, B, 0, beta, C, 0);
}

void packed_sgemm_batch(int64_t count, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A,
                        int64_t stride_a, const float* B, int64_t stride_b, float beta, float* C, int64_t stride_c) {
#ifdef GAN_PACKED_SGEMM
  if (count <= 0 || M <= 0 || N <= 0) return;
  if (K <= 0) {  // op(A) op(B) is zero: C = beta C
    for (int64_t p = 0; p < count; ++p)
      for (float *c = C + p * stride_c, *e = c + M * N; c < e; ++c) *c = beta == 0.f ? 0.f : beta * *c;
    return;
  }
  // Split the longer side of C, in whole tiles, so every element's K sum stays on one thread.
  const bool by_rows = (M + kMR - 1) / kMR >= (N + kNR - 1) / kNR;
  const int64_t tiles = by_rows ? (M + kMR - 1) / kMR : (N + kNR - 1) / kNR;
  // Tiles [t0, t1) of product p.
  auto run = [&](int64_t p, int64_t t0, int64_t t1) {
    const float *a = A + p * stride_a, *b = B + p * stride_b;
    float* c = C + p * stride_c;
    if (by_rows) block(ta, tb, M, N, K, a, b, beta, c, std::min(M, t0 * kMR), std::min(M, t1 * kMR), 0, N);
    else block(ta, tb, M, N, K, a, b, beta, c, 0, M, std::min(N, t0 * kNR), std::min(N, t1 * kNR));
  };
  // The products' tiles form one list that the threads share out in contiguous runs: a product
  // with fewer tiles than threads (a weight gradient's small C) no longer leaves a thread idle,
  // and a batch costs one fork and join, not one per product.
  const int64_t units = count * tiles;
  int threads = 1;
#ifdef _OPENMP
  // Worth splitting only when each thread gets a few million multiply-adds.
  if (!omp_in_parallel() && count * M * N * K >= (int64_t{1} << 21)) threads = omp_get_max_threads();
#endif
  threads = static_cast<int>(std::min<int64_t>(threads, units));
  if (threads <= 1) {
    for (int64_t p = 0; p < count; ++p) run(p, 0, tiles);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t u1 = units * (t + 1) / nt;
    for (int64_t u = units * t / nt; u < u1;) {
      const int64_t p = u / tiles, first = u % tiles, last = std::min(tiles, first + (u1 - u));
      run(p, first, last);
      u += last - first;
    }
  }
#else
  (void)count, (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)A, (void)stride_a, (void)B, (void)stride_b;
  (void)beta, (void)C, (void)stride_c;
#endif
}

}  // namespace gan::cpu
