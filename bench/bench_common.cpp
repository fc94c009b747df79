#include "bench/bench_common.h"

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>

#include <unistd.h>

#include "engine/build_config.h"
#include "engine/cpu/blas_info.h"
#include "engine/cpu/conv_winograd.h"
#include "engine/cpu/packed_gemm.h"
#include "engine/ops/ops.h"

#ifdef GAN_WITH_CUDA
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "engine/cuda/check.h"
#include "engine/cuda/kernel_select.h"
#include "engine/cuda/memory.h"
#endif

namespace gan::bench {

namespace {

Options g_options;

// Google Benchmark keeps the error text by pointer in some versions: keep every message alive.
const char* keep(const std::string& s) {
  static std::deque<std::string> texts;
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  texts.push_back(s);
  return texts.back().c_str();
}

// Fallback messages the engine reports while a case runs (kernel selection's verbose sink).
std::vector<std::string>& fallback_log() {
  static std::vector<std::string> v;
  return v;
}

// The label and repeat count of the case now running (set by add_case()'s wrapper).
std::string& current_label() {
  static std::string s;
  return s;
}
int& current_reps() {
  static int n = 1;
  return n;
}
std::string& current_name() {
  static std::string s;
  return s;
}

// The engine says each distinct fallback message once per process, and the messages name the
// shape but not the TF32 switch, which the fallback decision does not depend on either. So a
// `.tf32` case whose strict twin fell back falls back too, silently: remember per twin.
std::map<std::string, std::vector<std::string>>& fallbacks_by_twin() {
  static std::map<std::string, std::vector<std::string>> m;
  return m;
}
std::string twin_key(const std::string& name) {
  const std::string sfx = ".tf32";
  return name.size() > sfx.size() && name.compare(name.size() - sfx.size(), sfx.size(), sfx) == 0
             ? name.substr(0, name.size() - sfx.size())
             : name;
}

// Wall time one case may spend on its timed repeats before it stops early (>= 5 repeats still).
double time_budget_s(const Variant& v) {
  if (v.gpu()) return g_options.quick ? 0.5 : 1.5;
  return g_options.quick ? 2.0 : 5.0;
}

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) {
      auto p = line.find(':');
      return p == std::string::npos ? line : line.substr(p + 2);
    }
  return "unknown";
}

#ifdef GAN_WITH_CUDA
cudaStream_t engine_stream() { return cuda::stream(0); }

// Times `fn` on the engine stream with events: best (lowest) of `reps` after `warm` calls, in ms.
template <class F>
double best_gpu_ms(int warm, int reps, F&& fn) {
  cudaStream_t s = engine_stream();
  for (int i = 0; i < warm; ++i) fn(s);
  cudaEvent_t e0, e1;
  GAN_CUDA_CHECK(cudaEventCreate(&e0));
  GAN_CUDA_CHECK(cudaEventCreate(&e1));
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    GAN_CUDA_CHECK(cudaEventRecord(e0, s));
    fn(s);
    GAN_CUDA_CHECK(cudaEventRecord(e1, s));
    GAN_CUDA_CHECK(cudaEventSynchronize(e1));
    float ms = 0;
    GAN_CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
    best = std::min(best, static_cast<double>(ms));
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  return best;
}

Ceilings measure_gpu_ceilings() {
  Ceilings c;
  const Device dev = Device::cuda(0);
  {
    const int64_t n = int64_t(1) << 28;  // 1 GiB of float32: far beyond any L2
    Tensor a = randn({n}, dev), b = Tensor::empty({n}, DType::Float32, dev);
    const size_t nb = a.nbytes();
    double ms = best_gpu_ms(3, g_options.quick ? 5 : 10, [&](cudaStream_t s) {
      GAN_CUDA_CHECK(cudaMemcpyAsync(b.raw_data(), a.raw_data(), nb, cudaMemcpyDeviceToDevice, s));
    });
    c.copy_gbps = 2.0 * nb / (ms * 1e-3) / 1e9;
  }
  {
    const int m = 8192;
    Tensor A = randn({m, m}, dev), B = randn({m, m}, dev), C = Tensor::empty({m, m}, DType::Float32, dev);
    cublasHandle_t h;
    GAN_CUBLAS_CHECK(cublasCreate(&h));
    GAN_CUBLAS_CHECK(cublasSetStream(h, engine_stream()));
    auto gemm = [&](cublasComputeType_t ct) {
      return [&, ct](cudaStream_t) {
        const float alpha = 1.f, beta = 0.f;
        GAN_CUBLAS_CHECK(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, m, m, m, &alpha, A.raw_data(), CUDA_R_32F, m,
                                      B.raw_data(), CUDA_R_32F, m, &beta, C.raw_data(), CUDA_R_32F, m, ct,
                                      CUBLAS_GEMM_DEFAULT));
      };
    };
    const double flops = 2.0 * m * double(m) * m;
    try {
      c.fp32_tflops = flops / (best_gpu_ms(2, g_options.quick ? 3 : 6, gemm(CUBLAS_COMPUTE_32F)) * 1e-3) / 1e12;
      c.tf32_tflops =
          flops / (best_gpu_ms(3, g_options.quick ? 5 : 10, gemm(CUBLAS_COMPUTE_32F_FAST_TF32)) * 1e-3) / 1e12;
    } catch (...) {
      cublasDestroy(h);
      throw;
    }
    GAN_CUDA_CHECK(cudaStreamSynchronize(engine_stream()));
    cublasDestroy(h);
  }
  return c;
}
#endif

Ceilings measure_cpu_ceilings() {
  Ceilings c;
  {
    // Every thread copies its own slice: one thread's memcpy does not reach the socket's bandwidth.
    const size_t n = size_t(1) << 26;  // 256 MiB per buffer
    std::vector<float> a(n), b(n);
    for (size_t i = 0; i < n; ++i) a[i] = static_cast<float>(i % 1021) * 0.5f;
    double best = 1e30;
    for (int rep = 0; rep < 5; ++rep) {
      auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel
      {
        const size_t nt = omp_get_num_threads(), t = omp_get_thread_num();
        const size_t lo = n * t / nt, hi = n * (t + 1) / nt;
        std::memcpy(b.data() + lo, a.data() + lo, (hi - lo) * sizeof(float));
      }
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (rep > 0) best = std::min(best, s);  // the first pass also faults the pages in
    }
    c.copy_gbps = 2.0 * n * sizeof(float) / best / 1e9;
  }
  {
    const int m = 1024;
    Eigen::MatrixXf A = Eigen::MatrixXf::Random(m, m), B = Eigen::MatrixXf::Random(m, m), C(m, m);
    double best = 1e30;
    for (int rep = 0; rep < 5; ++rep) {
      auto t0 = std::chrono::steady_clock::now();
      C.noalias() = A * B;
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (rep > 0) best = std::min(best, s);
    }
    benchmark::DoNotOptimize(C.data());
    c.fp32_tflops = 2.0 * m * double(m) * m / best / 1e12;
    c.tf32_tflops = 0;  // no TF32 on the CPU
  }
  return c;
}

}  // namespace

const Options& options() { return g_options; }

bool cpu_enabled() { return g_options.cpu; }

// --list_gpu: list the GPU cases of a CUDA build on a machine without a GPU (nothing runs).
bool g_list_gpu = false;

bool gpu_enabled() {
#ifdef GAN_WITH_CUDA
  return g_options.gpu && (g_list_gpu || cuda_available());
#else
  return false;
#endif
}

bool cudnn_enabled() {
#ifdef GAN_WITH_CUDA
  return gpu_enabled() && cuda::cudnn_built();
#else
  return false;
#endif
}

std::string Variant::name() const {
  std::string s = path == Path::Cpu ? "cpu" : path == Path::Hand ? "hand" : "cudnn";
  if (bf16) return s + ".bf16";
  return tf32 && path != Path::Cpu ? s + ".tf32" : s;
}

Device Variant::device() const { return path == Path::Cpu ? Device::cpu() : Device::cuda(0); }

std::vector<Variant> variants(bool has_lib, bool tf32, bool with_cpu) {
  std::vector<Variant> v;
  if (with_cpu && cpu_enabled()) v.push_back({Path::Cpu, false});
  if (gpu_enabled()) {
    for (bool t : {false, true}) {
      if (t && !tf32) continue;
      v.push_back({Path::Hand, t});
      if (has_lib && cudnn_enabled()) v.push_back({Path::Lib, t});
    }
  }
  return v;
}

void apply(const Variant& v) {
#ifdef GAN_WITH_CUDA
  if (!v.gpu()) return;
  cuda::set_kernel_impl(v.path == Path::Lib ? cuda::KernelImpl::Cudnn : cuda::KernelImpl::Hand);
  cuda::set_allow_tf32(v.tf32);
#else
  (void)v;
#endif
}

// Why a ceiling could not be measured (empty when it was): the cases then report no fractions
// rather than the binary failing.
std::string& ceiling_error() {
  static std::string s;
  return s;
}

// The ceilings `measure` finds, or none (with the reason kept for the report) when it throws.
template <class F>
static Ceilings measured_or_none(const char* what, F measure) {
  try {
    return measure();
  } catch (const std::exception& e) {
    ceiling_error() = std::string(what) + " ceilings: " + e.what();
    return Ceilings{};
  }
}

const Ceilings& gpu_ceilings() {
#ifdef GAN_WITH_CUDA
  static const Ceilings c = gpu_enabled() ? measured_or_none("GPU", measure_gpu_ceilings) : Ceilings{};
#else
  static const Ceilings c{};
#endif
  return c;
}

const Ceilings& cpu_ceilings() {
  static const Ceilings c = measured_or_none("CPU", measure_cpu_ceilings);
  return c;
}

int repeats(const Variant& v, bool large) {
  const bool q = g_options.quick;
  if (!v.gpu()) return q ? 3 : 5;
  if (large) return q ? 4 : 10;
  return q ? 12 : 30;
}

int rotation_sets(const Variant& v, double set_bytes) {
  if (g_options.warm_l2 || set_bytes <= 0) return 1;
  // The last cache level before memory: the GPU's L2, the CPU's L3.
  double cache = 50.0 * (1 << 20);
  if (v.gpu()) {
#ifdef GAN_WITH_CUDA
    int bytes = 0;
    if (cudaDeviceGetAttribute(&bytes, cudaDevAttrL2CacheSize, 0) == cudaSuccess && bytes > 0) cache = bytes;
    else cudaGetLastError();
#endif
  } else {
    // Virtual machines often report a whole socket's L3 (hundreds of MB); a core reaches far less
    // of it, and filling many large sets with random numbers would cost more than the case itself.
    long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    cache = std::min(l3 > 0 ? static_cast<double>(l3) : 32.0 * (1 << 20), 32.0 * (1 << 20));
  }
  const double need = 2.0 * cache;  // a set is long evicted by the time it comes round again
  return static_cast<int>(std::clamp(std::ceil(need / set_bytes), 1.0, 32.0));
}

void sync(const Variant& v) {
#ifdef GAN_WITH_CUDA
  if (v.gpu()) cuda::synchronize(0);
#else
  (void)v;
#endif
}

void measure(benchmark::State& st, const Variant& v, const Work& w, int nsets,
             const std::function<void(int)>& fn, int warmup) {
  nsets = std::max(nsets, 1);
  const int reps = std::max(current_reps(), 1);
  const double budget_s = time_budget_s(v);
  using clock = std::chrono::steady_clock;
  auto since = [](clock::time_point t0) { return std::chrono::duration<double>(clock::now() - t0).count(); };

  // Warm-up: module loading, cuDNN algorithm search, pool growth stay out of the numbers. A slow
  // case stops warming once a quarter of its budget is spent, after two calls (the first may be
  // all algorithm search; the second shows the steady state starting).
  try {
    const auto t0 = clock::now();
    for (int i = 0; i < warmup; ++i) {
      fn(i % nsets);
      sync(v);
      if (i + 1 >= std::min(warmup, 2) && since(t0) > 0.25 * budget_s) break;
    }
  } catch (const std::exception& e) {
    st.SkipWithError(keep(std::string("warm-up failed: ") + e.what()));
    return;
  }

  // Google Benchmark runs one iteration; inside it, `reps` calls are timed one by one (fewer when
  // the case's time budget runs out, but never under min(reps, 5)) and the median is reported as
  // that iteration's manual time, so the Time column is the median.
  std::vector<double> ms;
  for (auto _ : st) {
#ifdef GAN_WITH_CUDA
    cudaEvent_t e0 = nullptr, e1 = nullptr;
#endif
    try {
#ifdef GAN_WITH_CUDA
      if (v.gpu()) {
        GAN_CUDA_CHECK(cudaEventCreate(&e0));
        GAN_CUDA_CHECK(cudaEventCreate(&e1));
      }
#endif
      const auto t_start = clock::now();
      for (int r = 0; r < reps; ++r) {
        const int set = (warmup + r) % nsets;
        double t_ms = 0;
        if (v.gpu()) {
#ifdef GAN_WITH_CUDA
          cudaStream_t s = engine_stream();
          GAN_CUDA_CHECK(cudaEventRecord(e0, s));
          fn(set);
          GAN_CUDA_CHECK(cudaEventRecord(e1, s));
          GAN_CUDA_CHECK(cudaEventSynchronize(e1));
          float f = 0;
          GAN_CUDA_CHECK(cudaEventElapsedTime(&f, e0, e1));
          t_ms = f;
#endif
        } else {
          const auto t0 = clock::now();
          fn(set);
          t_ms = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
        }
        ms.push_back(t_ms);
        if (r + 1 >= std::min(reps, 5) && since(t_start) > budget_s) break;
      }
    } catch (const std::exception& e) {
      st.SkipWithError(keep(std::string("run failed: ") + e.what()));
    }
#ifdef GAN_WITH_CUDA
    if (e0) cudaEventDestroy(e0);
    if (e1) cudaEventDestroy(e1);
#endif
    if (st.error_occurred()) break;
    st.SetIterationTime(median_of(ms) * 1e-3);
  }
  if (st.error_occurred() || ms.empty()) return;

  const double med = median_of(ms);
  const double sec = med * 1e-3;
  const Ceilings& c = v.gpu() ? gpu_ceilings() : cpu_ceilings();
  using benchmark::Counter;
  st.counters["median_ms"] = Counter(med);
  st.counters["min_ms"] = Counter(*std::min_element(ms.begin(), ms.end()));
  st.counters["repeats"] = Counter(static_cast<double>(ms.size()));
  if (w.bytes > 0) {
    const double gbps = w.bytes / sec / 1e9;
    st.counters["GBps"] = Counter(gbps);
    if (c.copy_gbps > 0) st.counters["frac_copy"] = Counter(gbps / c.copy_gbps);
  }
  if (w.flops > 0) {
    const double tf = w.flops / sec / 1e12;
    st.counters["TFLOPs"] = Counter(tf);
    if (c.fp32_tflops > 0) st.counters["frac_fp32"] = Counter(tf / c.fp32_tflops);
    if (c.tf32_tflops > 0) st.counters["frac_tf32"] = Counter(tf / c.tf32_tflops);
  }
  if (nsets > 1) st.counters["rotated_sets"] = Counter(nsets);
  std::string label = current_label();
  std::vector<std::string>& twin = fallbacks_by_twin()[twin_key(current_name())];
  if (!fallback_log().empty()) {
    label += " FALLBACK:";
    for (const auto& m : fallback_log()) label += " " + m;
    twin.insert(twin.end(), fallback_log().begin(), fallback_log().end());
    st.counters["fallback"] = Counter(1);
  } else if (!twin.empty()) {
    label += " FALLBACK (as its TF32/strict twin):";
    for (const auto& m : twin) label += " " + m;
    st.counters["fallback"] = Counter(1);
  }
  if (!label.empty()) st.SetLabel(label);
}

void add_case(const std::string& name, const std::string& label, const Variant& v, bool large,
              std::function<void(benchmark::State&, const Variant&)> body, int reps) {
  const std::string full = name + "/" + v.name();
  benchmark::RegisterBenchmark(full.c_str(),
                               [v, body, label, full, n = reps > 0 ? reps : repeats(v, large)](
                                   benchmark::State& st) {
                                 current_label() = label;
                                 current_reps() = n;
                                 current_name() = full;
                                 fallback_log().clear();  // before the body: its setup may run kernels
                                 try {
                                   apply(v);
                                   body(st, v);
                                 } catch (const std::exception& e) {
                                   if (!st.error_occurred()) st.SkipWithError(keep(std::string("setup failed: ") + e.what()));
                                 }
                               })
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}

Tensor randn(const Shape& shape, Device device, double std) {
  Tensor t = Tensor::randn(shape, nullptr, DType::Float32, device);
  if (std != 1.0) t = mul(t, std);
  return t;
}

Tensor rand(const Shape& shape, Device device, double lo, double hi) {
  return Tensor::rand(shape, nullptr, lo, hi, DType::Float32, device);
}

std::vector<Tensor> randn_sets(int n, const Shape& shape, Device device, double std) {
  std::vector<Tensor> v;
  for (int i = 0; i < n; ++i) v.push_back(randn(shape, device, std));
  return v;
}

double bytes_of(const Shape& s) { return 4.0 * static_cast<double>(numel_of(s)); }

int run_main(int argc, char** argv, void (*register_benchmarks)()) {
  // The products' kernels `gan train` would get (engine/cpu/blas_info.h): the CPU rows time those.
  gan::cpu::reexec_for_better_blas(argv);
  for (const std::string& bad : {gan::cpu::gemm_setting_error(), gan::cpu::winograd::conv_setting_error()})
    if (!bad.empty()) {
      std::fprintf(stderr, "error: %s\n", bad.c_str());
      return 2;
    }
  // Our flags first; Google Benchmark sees the rest.
  std::vector<char*> rest;
  bool list_only = false;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") g_options.quick = true;
    else if (a == "--warm_l2") g_options.warm_l2 = true;
    else if (a == "--no_cpu") g_options.cpu = false;
    else if (a == "--no_gpu") g_options.gpu = false;
    else if (a == "--list_gpu") g_list_gpu = true;
    else {
      if (a.rfind("--benchmark_list_tests", 0) == 0 && a != "--benchmark_list_tests=false") list_only = true;
      rest.push_back(argv[i]);
    }
  }
  if (g_list_gpu && !list_only) {
    std::cerr << "--list_gpu only lists cases: add --benchmark_list_tests\n";
    return 1;
  }
  int rargc = static_cast<int>(rest.size());
  benchmark::Initialize(&rargc, rest.data());
  if (benchmark::ReportUnrecognizedArguments(rargc, rest.data())) return 1;

  try {
#ifdef GAN_WITH_CUDA
    if (gpu_enabled() && !list_only) {
      // Fallback messages go into the case's label instead of stderr.
      cuda::set_verbose(true);
      cuda::set_message_sink([](const std::string& m) { fallback_log().push_back(m); });
    }
#endif
    register_benchmarks();

    benchmark::AddCustomContext("cpu_model", cpu_model());
    benchmark::AddCustomContext("omp_threads", std::to_string(omp_get_max_threads()));
    benchmark::AddCustomContext("cpu_blas", cpu::describe_products());
    if (std::string w = cpu::products_warning(); !w.empty()) {
      benchmark::AddCustomContext("cpu_blas_warning", w);
      std::fprintf(stderr, "warning: %s\n", w.c_str());
    }
    benchmark::AddCustomContext("quick", g_options.quick ? "1" : "0");
    benchmark::AddCustomContext("l2", g_options.warm_l2 ? "warm" : "rotated input sets");
    auto num = [](double x) {
      std::ostringstream os;
      os.precision(6);
      os << x;
      return os.str();
    };
    if (!list_only && cpu_enabled()) {
      const Ceilings& c = cpu_ceilings();
      benchmark::AddCustomContext("ceil_cpu_copy_GBps", num(c.copy_gbps));
      benchmark::AddCustomContext("ceil_cpu_sgemm_TFLOPs", num(c.fp32_tflops));
    }
#ifdef GAN_WITH_CUDA
    if (gpu_enabled() && !list_only) {
      cudaDeviceProp prop{};
      if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
        cudaGetLastError();
        std::snprintf(prop.name, sizeof(prop.name), "unknown");
      }
      int rt = 0, drv = 0;
      cudaRuntimeGetVersion(&rt);
      cudaDriverGetVersion(&drv);
      benchmark::AddCustomContext("gpu", prop.name);
      benchmark::AddCustomContext("gpu_sms", std::to_string(prop.multiProcessorCount));
      benchmark::AddCustomContext("cuda_runtime", std::to_string(rt));
      benchmark::AddCustomContext("cuda_driver", std::to_string(drv));
      benchmark::AddCustomContext("cudnn_built", cuda::cudnn_built() ? "1" : "0");
      if (!list_only) {
        const Ceilings& c = gpu_ceilings();
        if (c.copy_gbps > 0) {
          benchmark::AddCustomContext("ceil_copy_GBps", num(c.copy_gbps));
          benchmark::AddCustomContext("ceil_fp32_TFLOPs", num(c.fp32_tflops));
          benchmark::AddCustomContext("ceil_tf32_TFLOPs", num(c.tf32_tflops));
        }
      }
    } else {
      benchmark::AddCustomContext("gpu", "none: GPU cases not registered");
    }
#else
    benchmark::AddCustomContext("gpu", "none: built without CUDA, GPU cases not registered");
#endif
    if (!ceiling_error().empty()) benchmark::AddCustomContext("ceil_error", ceiling_error());
  } catch (const std::exception& e) {
    std::cerr << "benchmark setup failed: " << e.what() << "\n";
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace gan::bench
