// Per-thread scratch buffers of the CPU backend, kept for the thread's lifetime (OpenMP keeps its
// team's threads), so that a training step allocates no column matrices, GEMM panels or transform
// buffers: each slot grows to the largest size asked of it, is 64-byte aligned, and is never
// zero-filled (callers write before they read). A slot is one role; roles that are live at the
// same time in one thread (a convolution's buffers and the GEMM it calls) have different slots.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>

namespace gan::cpu {

enum class ScratchSlot {
  ConvColumns,     // engine/cpu/conv.cpp: a group's column matrix
  ConvRows,        // its [Co, b P] product rows
  ConvPrep,        // one sample's padded, phase-split input
  GemmPanelB,      // engine/cpu/packed_gemm.cpp: packed column panels
  GemmPanelA,      // packed row panels
  WinogradData,    // engine/cpu/conv_winograd.cpp: transformed inputs (or their gradients)
  WinogradProduct, // transformed outputs (or output gradients)
  WinogradWeight,  // transformed weights (or their gradients)
  WinogradChannel, // one channel's column split, or its zero-padded output block
  Count
};

template <class T>
T* thread_scratch(ScratchSlot slot, int64_t n) {
  struct Buf {
    std::unique_ptr<T, decltype(&std::free)> p{nullptr, &std::free};
    int64_t n = 0;
  };
  thread_local Buf bufs[static_cast<int>(ScratchSlot::Count)];
  Buf& b = bufs[static_cast<int>(slot)];
  if (b.n < n) {
    const size_t bytes = (static_cast<size_t>(n) * sizeof(T) + 63) / 64 * 64;
    T* fresh = static_cast<T*>(std::aligned_alloc(64, bytes));
    if (fresh == nullptr) throw std::bad_alloc();
    b.p.reset(fresh);
    b.n = n;
  }
  return b.p.get();
}

}  // namespace gan::cpu
