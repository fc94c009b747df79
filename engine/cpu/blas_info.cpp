#include "engine/cpu/blas_info.h"

#include <omp.h>

#include <Eigen/Core>
#include <cstdlib>
#include <string>

#ifdef GAN_WITH_OPENBLAS
extern "C" {
char* openblas_get_corename(void);
char* openblas_get_config(void);
}
#endif

namespace gan::cpu {

namespace {

std::string threads() {
  const int n = omp_get_max_threads();
  return std::to_string(n) + (n == 1 ? " thread" : " threads");
}

#ifdef GAN_WITH_OPENBLAS
// OpenBLAS's x86 kernels that use 512-bit vectors (its names, as openblas_get_corename() reports them).
bool is_avx512_kernel(const std::string& core) {
  for (const char* k : {"skylakex", "cooperlake", "sapphirerapids"})
    if (core == k) return true;
  return false;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return s;
}

// What OpenBLAS's SkylakeX kernels need.
bool cpu_has_avx512() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
  return false;
#endif
}

// "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..." -> "OpenBLAS 0.3.21".
std::string openblas_version() {
  std::string config = openblas_get_config();
  const size_t second_space = config.find(' ', config.find(' ') + 1);
  return config.substr(0, second_space);
}
#endif

}  // namespace

std::string describe_products() {
#ifdef GAN_WITH_OPENBLAS
  return openblas_version() + ", " + openblas_get_corename() + " kernels, " + threads();
#else
  return std::string("Eigen (") + Eigen::SimdInstructionSetsInUse() + "), " + threads();
#endif
}

std::string products_warning() {
#ifdef GAN_WITH_OPENBLAS
  const char* forced = std::getenv("OPENBLAS_CORETYPE");
  const std::string core = openblas_get_corename();
  if (forced == nullptr || *forced == '\0' || is_avx512_kernel(lower(core)) || !cpu_has_avx512()) return "";
  return "OPENBLAS_CORETYPE=" + std::string(forced) + " in the environment makes OpenBLAS run its " + core +
         " kernels on this CPU, which has AVX-512: its 512-bit kernels measured 1.9x faster on the products "
         "(docs/PERFORMANCE.md); unset OPENBLAS_CORETYPE to let OpenBLAS choose";
#else
  return "";
#endif
}

}  // namespace gan::cpu
