// Run-time choice between the hand-written CUDA kernels and the cuDNN ones, per op family, so both
// can be tested and benchmarked against each other on the same build.
//
// Precedence, per family: set_kernel_impl() (the --kernels flag) > env GAN_KERNELS > the default.
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

namespace gan::cuda {

enum class KernelImpl { Hand, Cudnn };
enum class OpFamily { Conv, BatchNorm };

// Defaults from the benchmarks (bench/, recorded in docs/ with card and date). Until a family has been
// measured on the GPU its hand path is the default, so that path is the one exercised everywhere.
inline constexpr KernelImpl kDefaultConvImpl = KernelImpl::Hand;
inline constexpr KernelImpl kDefaultBatchNormImpl = KernelImpl::Hand;

const char* kernel_impl_name(KernelImpl impl);  // "hand", "cudnn"
const char* op_family_name(OpFamily family);    // "conv", "batchnorm"
// "hand" or "cudnn"; throws gan::Error otherwise.
KernelImpl parse_kernel_impl(const std::string& name);
// Whether this build has the cuDNN path at all.
bool cudnn_built();

// The implementation `family` runs now.
KernelImpl kernel_impl(OpFamily family);
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

}  // namespace gan::cuda
