#include "engine/cpu/blas_info.h"

#include <omp.h>

#include <Eigen/Core>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "engine/cpu/packed_gemm.h"

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

bool cpu_has_avx2_fma() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

// OpenBLAS's x86 kernels that use 256-bit FMA (or wider).
bool is_avx2_kernel(const std::string& core) {
  if (is_avx512_kernel(core)) return true;
  for (const char* k : {"haswell", "zen", "excavator"})
    if (core == k) return true;
  return false;
}

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

// "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..." -> "OpenBLAS 0.3.21".
std::string openblas_version() {
  std::string config = openblas_get_config();
  const size_t second_space = config.find(' ', config.find(' ') + 1);
  return config.substr(0, second_space);
}
#endif

}  // namespace

bool blas_present() {
#ifdef GAN_WITH_OPENBLAS
  return true;
#else
  return false;
#endif
}

std::string blas_kernel_name() {
#ifdef GAN_WITH_OPENBLAS
  return openblas_get_corename();
#else
  return "";
#endif
}

bool blas_runs_avx512_kernels() {
#ifdef GAN_WITH_OPENBLAS
  return is_avx512_kernel(lower(openblas_get_corename()));
#else
  return false;
#endif
}

std::string describe_products() {
#ifdef GAN_WITH_OPENBLAS
  std::string own;
  if (const char* c = env("GAN_OPENBLAS_OWN_CORE"))
    own = std::string(" (set by gan: OpenBLAS's own choice for this CPU was ") + c + ")";
  std::string blas = openblas_version() + ", " + openblas_get_corename() + " kernels" + own;
#else
  std::string blas = std::string("Eigen (") + Eigen::SimdInstructionSetsInUse() + ")";
#endif
  if (use_packed_sgemm())
    return "the engine's AVX-512 kernel for float (" + packed_sgemm_reason() + "; " + blas + " for the rest), " +
           threads();
  return blas + ", " + threads();
}

std::string products_warning() {
#ifdef GAN_WITH_OPENBLAS
  const char* forced = env("OPENBLAS_CORETYPE");
  const std::string core = openblas_get_corename();
  if (forced == nullptr || env("GAN_OPENBLAS_OWN_CORE") || is_avx512_kernel(lower(core)) || !cpu_has_avx512() ||
      use_packed_sgemm())
    return "";
  return "OPENBLAS_CORETYPE=" + std::string(forced) + " in the environment makes OpenBLAS run its " + core +
         " kernels on this CPU, which has AVX-512: its 512-bit kernels measured 1.9x faster on the products "
         "(docs/PERFORMANCE.md); unset OPENBLAS_CORETYPE to let OpenBLAS choose";
#else
  return "";
#endif
}

std::string better_blas_core() {
#ifdef GAN_WITH_OPENBLAS
  if (env("OPENBLAS_CORETYPE")) return "";  // an explicit instruction to OpenBLAS: respected
  const std::string core = lower(openblas_get_corename());
  if (cpu_has_avx512() && !is_avx512_kernel(core)) return "SkylakeX";
  if (cpu_has_avx2_fma() && !is_avx2_kernel(core)) return "Haswell";
#endif
  return "";
}

void reexec_for_better_blas(char** argv) {
#ifdef GAN_WITH_OPENBLAS
  const std::string core = better_blas_core();
  if (core.empty() || env("GAN_OPENBLAS_OWN_CORE")) return;  // never twice
  ::setenv("GAN_OPENBLAS_OWN_CORE", openblas_get_corename(), 1);
  ::setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
  ::execv("/proc/self/exe", argv);
  ::unsetenv("OPENBLAS_CORETYPE");  // the exec failed: say nothing that is not so
  ::unsetenv("GAN_OPENBLAS_OWN_CORE");
#else
  (void)argv;
#endif
}

}  // namespace gan::cpu
