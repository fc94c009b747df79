// conv_transpose2d (the generator's layers): forward, input gradient and weight gradient,
// hand-written kernels vs cuDNN, each in strict FP32 and with TF32 allowed, at every distinct
// DCGAN-64/DCGAN-32 generator shape (batch 128) and one GPU-filling layer; the CPU backend at batch
// 16. Target: the hand-written path within 1.5x of cuDNN at the DCGAN shapes in strict FP32.
// The forward cases time the conv_transpose2d_forward primitive (kernels:
// conv_transpose2d_fwd_implicit_gemm, or cuDNN's backward-data); see bench_conv.h for the others.
#include "bench/bench_conv.h"

using namespace gan::bench;

static void register_all() { register_conv_family("conv_transpose2d", conv_transpose2d_layers(), true); }

int main(int argc, char** argv) { return run_main(argc, argv, register_all); }
