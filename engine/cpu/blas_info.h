// Which code computes the CPU backend's matrix products (engine/cpu/linalg.cpp, the convolutions'
// column products), and whether it runs the widest kernels this CPU has. `gan train` prints both
// when it trains on the CPU; the benchmarks record them beside their figures.
#pragma once

#include <string>

namespace gan::cpu {

// "OpenBLAS 0.3.21, SkylakeX kernels, 2 threads" or "Eigen (AVX512, FMA, AVX2, ...), 2 threads".
std::string describe_products();

// A warning when the products run narrower kernels than this CPU supports because the environment
// asks for them (OPENBLAS_CORETYPE naming a pre-AVX-512 core on an AVX-512 machine); empty otherwise.
std::string products_warning();

}  // namespace gan::cpu
