// Shared machinery of the benchmark binaries: which paths run (CPU, hand-written CUDA kernels, the
// cuDNN/cuBLAS path), how a case is timed (CUDA events after warm-up, median of the repeats), the
// counters every case reports, and the ceilings those counters are fractions of (device-to-device
// copy bandwidth, cuBLAS SGEMM FP32 and TF32 at 8192^3: measured once by each binary, in the same
// process, on the same GPU).
//
// A benchmark binary defines register_benchmarks() and calls run_main() from main(). Cases are
// registered only for paths this build and machine can run: without CUDA (or without a GPU) a
// binary runs its CPU cases only; without cuDNN the cudnn cases are absent.
//
// Flags of every binary, on top of Google Benchmark's own:
//   --quick        fewer repeats (for a short device run)
//   --warm_l2      time repeats on one input set (default: rotate among input sets whose total
//                  is twice the last-level cache, GPU L2 or CPU L3, so small layers are not timed
//                  from a warm cache)
//   --no_cpu / --no_gpu   leave out the CPU or the GPU cases
//   --list_gpu     with --benchmark_list_tests: list a CUDA build's GPU cases where no GPU is present
#pragma once
#include <benchmark/benchmark.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/core/tensor.h"

namespace gan::bench {

// Where a case runs. Hand and Lib are CUDA: Lib is cuDNN for convolutions and batch norm (the
// kernel-selection switch); element-wise, loss, penalty and optimizer kernels have no library
// counterpart and run Hand only.
enum class Path { Cpu, Hand, Lib };

struct Variant {
  Path path = Path::Cpu;
  bool tf32 = false;  // TF32 tensor-core math allowed (cuDNN convolutions, cuBLAS matmuls)
  bool bf16 = false;  // bfloat16 data: conv cases (bench_conv.h), whole steps with --precision bf16
  std::string name() const;  // cpu, hand, cudnn, hand.tf32, cudnn.tf32, hand.bf16, cudnn.bf16
  Device device() const;
  bool gpu() const { return path != Path::Cpu; }
};

struct Options {
  bool quick = false;
  bool warm_l2 = false;
  bool cpu = true;
  bool gpu = true;
};
const Options& options();

// Whether GPU cases can run here (CUDA built and a GPU visible, and not --no_gpu).
bool gpu_enabled();
bool cpu_enabled();
bool cudnn_enabled();

// The variants a family runs: cpu (when cpu_enabled), hand, and, for families with a library path,
// cudnn; `tf32` adds the .tf32 twins of the GPU variants (convolutions).
std::vector<Variant> variants(bool has_lib, bool tf32, bool with_cpu = true);

// Sets the engine's kernel selection and TF32 switch for `v` (no-op on the CPU).
void apply(const Variant& v);

// What one call of a case moves and computes, from the tensors' real sizes: each input read once,
// each output written once (the least traffic any implementation needs); flops = 2 * MACs.
struct Work {
  double bytes = 0;
  double flops = 0;
};

struct Ceilings {
  double copy_gbps = 0;    // device-to-device copy, bytes read + written
  double fp32_tflops = 0;  // cuBLAS SGEMM, strict FP32
  double tf32_tflops = 0;  // cuBLAS GEMM with TF32 tensor cores
};
// GPU ceilings, measured on first use and cached for the process.
const Ceilings& gpu_ceilings();
// CPU ceilings: memcpy bandwidth (every thread copying a slice) and Eigen SGEMM at 1024^3, with
// the process's OpenMP thread count.
const Ceilings& cpu_ceilings();

// How many calls a case times (at most), and how many calls warm it up first.
int repeats(const Variant& v, bool large);
constexpr int kWarmup = 3;

// How many distinct input sets of `set_bytes` each to rotate among so that the sets together
// exceed twice the last-level cache (GPU L2; CPU L3, counted as at most 32 MB); 1 with --warm_l2
// or when one set already does; at most 32.
int rotation_sets(const Variant& v, double set_bytes);

// Times `fn(set)` (set = call number % nsets): `warmup` untimed calls (fewer for a slow case), then
// the case's repeat count of timed calls, each alone: GPU: CUDA events on the engine's stream
// around the call; CPU: a steady clock. A case whose timed calls pass its wall-time budget (GPU
// 1.5 s, CPU 5 s; a third of that with --quick) stops early, after at least min(repeats, 5).
// Google Benchmark sees one iteration whose manual time is the median, so its Time column is the
// median; the counters are:
//   median_ms, min_ms, repeats, GBps, TFLOPs, frac_copy (of the copy ceiling), frac_fp32, frac_tf32
// An exception from the engine marks the case as errored (with the message) instead of aborting.
// Fallbacks that the engine reports while the case runs (a hand kernel that handed a shape to
// cuDNN) are put in the label, so a "hand" figure never silently measures another kernel.
void measure(benchmark::State& st, const Variant& v, const Work& w, int nsets,
             const std::function<void(int)>& fn, int warmup = kWarmup);

// Registers `body` under `name` + "/" + variant name, with the repeat count from repeats() and
// `label` (which layers the shape belongs to) as the case's label. The body builds its tensors,
// then calls measure(). Exceptions thrown while building are reported as a benchmark error.
// `reps` overrides repeats() when positive.
void add_case(const std::string& name, const std::string& label, const Variant& v, bool large,
              std::function<void(benchmark::State&, const Variant&)> body, int reps = 0);

// Filled random tensors (never zeros: they hide unwritten outputs and can time faster).
Tensor randn(const Shape& shape, Device device, double std = 1.0);
Tensor rand(const Shape& shape, Device device, double lo, double hi);
// n independent random tensors of one shape (the rotation sets).
std::vector<Tensor> randn_sets(int n, const Shape& shape, Device device, double std = 1.0);

double bytes_of(const Shape& s);  // float32 bytes

// Waits for the device's work (CPU: nothing).
void sync(const Variant& v);

// Parses the flags above, registers, measures the ceilings (when a case needs them), adds the
// machine to the JSON context, runs Google Benchmark. Returns the process exit code.
int run_main(int argc, char** argv, void (*register_benchmarks)());

}  // namespace gan::bench
