// Warp-level tensor-core products through PTX mma.sync, and where each lane's registers sit in
// the operand tiles. Two shapes:
//   TF32  mma.sync.m16n8k8   A 16x8 (4 registers of tf32), B 8x8 (2), C 16x8 (4 floats)
//   BF16  mma.sync.m16n8k16  A 16x16 (4 registers of two bf16), B 16x8 (2 of two), C 16x8 (4)
// Lane l is in group g = l / 4, position t = l % 4 within it (PTX ISA, "Matrix fragments for
// mma.m16n8k8 / mma.m16n8k16"). The coordinate functions below are plain C++ as well, so the host
// tests replay a warp's product from them and check that it is the tile's product.
//
// The shared tiles these products read are laid out [k][row] (rows contiguous: see
// implicit_gemm.cuh), i.e. A column-major and B row-major, while the instructions want A's rows
// and B's columns. TF32 fragments are gathered with one 32-bit shared load per register (ldmatrix
// moves 16-bit elements and cannot transpose 32-bit ones). BF16 fragments come from ldmatrix with
// .trans, which transposes each 8x8 block of 16-bit elements as it loads.
#pragma once
#include <cstdint>

#include "kernels/host_device.h"

namespace gan::kernels::mma {

struct Coord {
  int row, col;  // within the fragment's matrix: A (m, k), B (k, n), C (m, n)
};

GAN_HD int group(int lane) { return lane >> 2; }
GAN_HD int in_group(int lane) { return lane & 3; }

// Accumulators, both shapes: c0, c1 in row g, c2, c3 in row g + 8; columns 2t and 2t + 1.
GAN_HD Coord c_coord(int lane, int reg) {
  return {group(lane) + 8 * (reg >> 1), 2 * in_group(lane) + (reg & 1)};
}

// ---- TF32, m16n8k8 ----
// a0 (g, t), a1 (g + 8, t), a2 (g, t + 4), a3 (g + 8, t + 4).
GAN_HD Coord tf32_a_coord(int lane, int reg) {
  return {group(lane) + 8 * (reg & 1), in_group(lane) + 4 * (reg >> 1)};
}
// b0 (k = t, n = g), b1 (k = t + 4, n = g).
GAN_HD Coord tf32_b_coord(int lane, int reg) { return {in_group(lane) + 4 * reg, group(lane)}; }

// ---- BF16, m16n8k16 ----
// Register r of A holds two adjacent k, the lower in its low half: r = 0 (g, 2t..), 1 (g + 8, 2t..),
// 2 (g, 8 + 2t..), 3 (g + 8, 8 + 2t..). `half` picks the element of the pair.
GAN_HD Coord bf16_a_coord(int lane, int reg, int half) {
  return {group(lane) + 8 * (reg & 1), 2 * in_group(lane) + half + 8 * (reg >> 1)};
}
// Register r of B: k = 2t + half + 8 r, n = g.
GAN_HD Coord bf16_b_coord(int lane, int reg, int half) {
  return {2 * in_group(lane) + half + 8 * reg, group(lane)};
}

// ldmatrix .x4 reads four 8x8 matrices of 16-bit elements; lanes 8 i .. 8 i + 7 give the addresses
// of matrix i's eight rows, and register i of every lane receives from matrix i. With .trans, lane
// l receives elements (row 2t, col g) and (row 2t + 1, col g) of the matrix as stored, i.e. the
// stored matrix transposed. Matrix i of an A fragment (stored [k][m]) is the block k in
// 8 (i / 2) + [0, 8), m in 8 (i % 2) + [0, 8), which lands in register i as bf16_a_coord says.
// Returns the stored (k, m) whose row address lane `lane` gives: column m is the row's first.
GAN_HD Coord bf16_a_ldmatrix_row(int lane) {
  const int i = lane >> 3, r = lane & 7;
  return {8 * (i >> 1) + r, 8 * (i & 1)};
}
// Two B fragments side by side (columns n and n + 8) in one .x4, stored [k][n]: matrix i is the
// block k in 8 (i % 2) + [0, 8), n in 8 (i / 2) + [0, 8); registers 0, 1 are the first fragment's
// b0, b1, registers 2, 3 the second's.
GAN_HD Coord bf16_b_ldmatrix_row(int lane) {
  const int i = lane >> 3, r = lane & 7;
  return {8 * (i & 1) + r, 8 * (i >> 1)};
}

#if defined(__CUDACC__)

// Round to TF32 (10-bit mantissa, nearest, ties away), as the tensor cores read it.
__device__ __forceinline__ uint32_t to_tf32(float v) {
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(v));
  return r;
}

// d += a b on TF32 tensor cores, FP32 accumulation.
__device__ __forceinline__ void mma_tf32_16x8x8(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// d += a b on BF16 tensor cores, FP32 accumulation (bf16 products are exact in FP32).
__device__ __forceinline__ void mma_bf16_16x8x16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// Four transposed 8x8 matrices of 16-bit elements from shared memory (row address: this lane's
// row, 16-byte aligned).
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* row) {
  const uint32_t addr = static_cast<uint32_t>(__cvta_generic_to_shared(row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

#endif  // __CUDACC__

}  // namespace gan::kernels::mma
