// Which code computes the CPU backend's matrix products (engine/cpu/linalg.cpp, the convolutions'
// column products), and whether it runs the widest kernels this CPU has. `gan train` prints both
// when it trains on the CPU; the benchmarks record them beside their figures.
#pragma once

#include <string>

namespace gan::cpu {

// "OpenBLAS 0.3.21, SkylakeX kernels, 2 threads" or "Eigen (AVX512, FMA, AVX2, ...), 2 threads"; when
// float products go to the engine's own kernel (engine/cpu/packed_gemm.h), it says so and why.
std::string describe_products();

// Whether a BLAS is linked (GAN_WITH_OPENBLAS), the name of the kernels it runs ("Haswell"), and
// whether they use 512-bit vectors.
bool blas_present();
std::string blas_kernel_name();
bool blas_runs_avx512_kernels();

// A warning when the products run narrower kernels than this CPU supports because the environment
// asks for them (OPENBLAS_CORETYPE naming a pre-AVX-512 core on an AVX-512 machine) and the engine's
// own kernel does not take their place (GAN_GEMM=blas); empty otherwise.
std::string products_warning();

// When OpenBLAS, left to choose (OPENBLAS_CORETYPE unset), picked kernels narrower than this CPU
// runs, the core to ask it for instead (SkylakeX on AVX-512, Haswell on AVX2 + FMA); empty
// otherwise. That happens on CPUs newer than its tables: Debian 12's OpenBLAS 0.3.21 runs its SSE3
// Prescott kernels on an Emerald Rapids Xeon, 3x slower there than SkylakeX (docs/PERFORMANCE.md).
// OpenBLAS reads OPENBLAS_CORETYPE once, when it is loaded, so a program that wants the better
// kernels sets it and starts again: reexec_for_better_blas() does, and gan's main calls it first.
std::string better_blas_core();

// With better_blas_core() non-empty: sets OPENBLAS_CORETYPE to it (and GAN_OPENBLAS_OWN_CORE to
// OpenBLAS's own choice, which describe_products() then names) and replaces this process by a new
// run of the same program with the same arguments. Returns only when there is nothing to do or the
// exec failed (the run goes on with the kernels it has).
void reexec_for_better_blas(char** argv);

}  // namespace gan::cpu
