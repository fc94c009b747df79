// The CUDA tests' choice of implementation: each family's hand-written kernels, and cuDNN where the
// build has it.
#pragma once
#include <vector>

#include "engine/cuda/kernel_select.h"

namespace gan::test {

// Selects an implementation for one family for the scope of a test.
struct ImplScope {
  ImplScope(cuda::OpFamily f, cuda::KernelImpl impl) { cuda::set_kernel_impl(f, impl); }
  ~ImplScope() { cuda::reset_kernel_impl(); }
  ImplScope(const ImplScope&) = delete;
  ImplScope& operator=(const ImplScope&) = delete;
};

// Hand, and Cudnn when built with cuDNN.
inline std::vector<cuda::KernelImpl> impls() {
  std::vector<cuda::KernelImpl> v{cuda::KernelImpl::Hand};
  if (cuda::cudnn_built()) v.push_back(cuda::KernelImpl::Cudnn);
  return v;
}

}  // namespace gan::test
