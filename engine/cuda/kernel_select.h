// Run-time choice between the hand-written CUDA kernels and the cuDNN ones, per op family, so both
// can be tested and benchmarked against each other on the same build.
//
// Precedence, per family: set_kernel_impl() (the --kernels flag) > env GAN_KERNELS > the default
// (default_kernel_impl(): the faster path as measured, which for conv depends on the TF32 switch).
//   GAN_KERNELS=hand | cudnn                    every family
//   GAN_KERNELS=conv=cudnn,batchnorm=hand       per family (families not named keep their default)
// A bad value is an error (gan::Error naming the variable and the accepted values), raised when a
// family's choice is first asked for. Asking for cuDNN in a build without it is an error too: a
// benchmark that silently ran the other kernels would report the wrong thing.
//
// Also here: the TF32 switch shared by cuBLAS matmuls and cuDNN convolutions (off by default, so
// float32 results match the CPU to ~1e-6), and one-time fallback messages shown when `verbose` is on.
#pragma once
#include <functional>
#include <string>

#include "engine/core/error.h"

namespace gan::cuda {

enum class KernelImpl { Hand, Cudnn };
// Conv: conv2d forward, backward-data and backward-weight, and conv_transpose2d forward (the names
// fallback notes use; engine/cuda/conv.cpp). BatchNorm: batch_norm forward (train, eval), backward.
// Every other op (element-wise, reductions, losses, the penalty, optimizers) has only its
// hand-written kernel, so there is nothing to choose; matmuls always run on cuBLAS.
enum class OpFamily { Conv, BatchNorm };

// Defaults: whichever path the benchmarks measured faster (H100 80GB HBM3, 2026-11-27, batch 128;
// docs/gpu-runs/h100-2026-11-27/bench-report.md).
// - Conv with TF32 allowed: cuDNN. Its tensor-core kernels beat the hand TF32 ones 2-4x on the middle
//   DCGAN layers (conv_transpose2d fwd 512x4x4 -> 256x8x8: hand 0.419 ms, cuDNN 0.156 ms), and whole
//   steps follow: DCGAN-32 CIFAR 11.55 ms hand vs 4.45 ms cuDNN, DCGAN-64 17.41 vs 8.98.
// - Conv in strict FP32: hand. Comparable or faster on most DCGAN shapes; whole steps DCGAN-32 CIFAR
//   12.55 ms hand vs 14.30 cuDNN, DCGAN-32 MNIST 12.40 vs 13.86, DCGAN-64 20.07 vs 19.80 (a tie),
//   WGAN-GP DCGAN-32 39.5 vs 54.3.
// - Batch norm: hand. Training fwd+bwd faster at 3 of 4 DCGAN shapes (128x64x32x32: 0.123 vs
//   0.286 ms; the exception is 128x256x8x8, 0.037 vs 0.031) and 2.6x at 128x64x128x128 (1.67 vs 4.29).
// A cuDNN default in a build without cuDNN means the hand path.
// - Conv on bfloat16 data: cuDNN. The hand BF16 kernels (mma.sync, kernels/implicit_gemm.cuh) have
//   not been timed against it on a GPU yet; --kernels hand (or GAN_KERNELS=conv=hand) runs them.
inline constexpr KernelImpl kDefaultConvImplTf32 = KernelImpl::Cudnn;
inline constexpr KernelImpl kDefaultConvImplFp32 = KernelImpl::Hand;
inline constexpr KernelImpl kDefaultConvImplBf16 = KernelImpl::Cudnn;
inline constexpr KernelImpl kDefaultBatchNormImpl = KernelImpl::Hand;

const char* kernel_impl_name(KernelImpl impl);  // "hand", "cudnn"
const char* op_family_name(OpFamily family);    // "conv", "batchnorm"
// "hand" or "cudnn"; throws gan::Error otherwise.
KernelImpl parse_kernel_impl(const std::string& name);
// Whether this build has the cuDNN path at all.
bool cudnn_built();

// The implementation `family` runs now, for bfloat16 data when `bf16`.
KernelImpl kernel_impl(OpFamily family, bool bf16 = false);
// What `family` runs when neither set_kernel_impl() nor GAN_KERNELS names it: the constants above,
// the conv one picked by the data (bf16) and then by allow_tf32() at the time of the call.
KernelImpl default_kernel_impl(OpFamily family, bool bf16 = false);
void set_kernel_impl(OpFamily family, KernelImpl impl);
void set_kernel_impl(KernelImpl impl);          // every family
void set_kernel_impl(const std::string& spec);  // GAN_KERNELS syntax, e.g. from --kernels
// Forgets set_kernel_impl() choices and reads GAN_KERNELS again.
void reset_kernel_impl();

// TF32 tensor-core math for float32 matmuls and convolutions (faster, ~1e-3 relative error).
void set_allow_tf32(bool allow);
bool allow_tf32();

// Fallback messages: when verbose, each distinct message goes to the sink once (stderr unless the
// application installs its own sink). Off by default.
void set_verbose(bool on);
bool verbose();
void set_message_sink(std::function<void(const std::string&)> sink);
// Says that `op` ran on `used` instead of the family's chosen implementation, and why
// (e.g. a shape the chosen kernel does not support).
void note_fallback(OpFamily family, const std::string& op, KernelImpl used, const std::string& reason);

// Runs `family`'s chosen implementation for one call of `op` on `shape` (a description for
// messages), or the other one, saying so with note_fallback, when the chosen one cannot run it.
// hand_why: null when the hand kernels can run the call, else why not; cudnn_why: empty when cuDNN
// can. Neither: gan::Error naming the op, the shape and both reasons.
template <class Hand, class Cudnn>
void run_chosen(OpFamily family, const std::string& op, const std::string& shape, const char* hand_why,
                const std::string& cudnn_why, Hand&& hand, Cudnn&& cudnn, bool bf16 = false) {
  const bool hand_ok = hand_why == nullptr, cudnn_ok = cudnn_why.empty();
  const KernelImpl want = kernel_impl(family, bf16);
  if (want == KernelImpl::Cudnn && cudnn_ok) return cudnn();
  if (want == KernelImpl::Hand && hand_ok) return hand();
  if (want == KernelImpl::Cudnn && hand_ok) {
    note_fallback(family, op, KernelImpl::Hand, cudnn_why + " for " + shape);
    return hand();
  }
  if (want == KernelImpl::Hand && cudnn_ok) {
    note_fallback(family, op, KernelImpl::Cudnn, std::string("hand kernels: ") + hand_why + " for " + shape);
    return cudnn();
  }
  GAN_FAIL(op << ": no CUDA kernel runs " << shape << ": hand kernels: " << (hand_why ? hand_why : "-")
              << "; cuDNN: " << cudnn_why);
}

}  // namespace gan::cuda
