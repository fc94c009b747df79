// conv2d (the discriminator's layers): forward, input gradient and weight gradient, hand-written
// implicit-GEMM kernels vs cuDNN, each in strict FP32 and with TF32 allowed, at every distinct
// DCGAN-64/DCGAN-32 discriminator shape (batch 128) and one GPU-filling layer; the CPU backend at
// batch 16. Counters: TFLOP/s and its fraction of the measured SGEMM FP32 and TF32 rates.
#include "bench/bench_conv.h"

using namespace gan::bench;

static void register_all() { register_conv_family("conv2d", conv2d_layers(), false); }

int main(int argc, char** argv) { return run_main(argc, argv, register_all); }
