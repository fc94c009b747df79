#include "engine/cuda/kernel_select.h"

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <optional>
#include <set>

#include "engine/build_config.h"
#include "engine/core/error.h"

namespace gan::cuda {

namespace {

constexpr int kFamilies = 2;

struct State {
  std::mutex mu;
  std::optional<KernelImpl> chosen[kFamilies];    // set_kernel_impl
  bool env_read = false;
  std::optional<KernelImpl> from_env[kFamilies];  // GAN_KERNELS
  std::string env_error;                          // non-empty when GAN_KERNELS is malformed
  std::set<std::string> said;                     // fallback messages already delivered
  std::function<void(const std::string&)> sink;
};

State& state() {
  static State s;
  return s;
}

std::atomic<bool> g_allow_tf32{false};
std::atomic<bool> g_verbose{false};

int index_of(OpFamily f) { return static_cast<int>(f); }

std::optional<OpFamily> parse_family(const std::string& s) {
  if (s == "conv") return OpFamily::Conv;
  if (s == "batchnorm" || s == "bn") return OpFamily::BatchNorm;
  return std::nullopt;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// Parses a GAN_KERNELS-style spec into per-family choices; returns an error text instead of throwing so
// the environment can be read once and the error raised on every use.
std::string parse_spec(const std::string& spec, std::optional<KernelImpl> (&out)[kFamilies]) {
  const std::string accepted = "expected hand, cudnn, or a list like conv=cudnn,batchnorm=hand";
  std::string s = trim(spec);
  if (s.empty()) return "empty kernel choice: " + accepted;
  if (s.find('=') == std::string::npos) {
    if (s != "hand" && s != "cudnn") return "unknown kernel choice '" + s + "': " + accepted;
    for (auto& o : out) o = s == "hand" ? KernelImpl::Hand : KernelImpl::Cudnn;
    return {};
  }
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    std::string item = trim(s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
    size_t eq = item.find('=');
    if (eq == std::string::npos) return "bad kernel choice '" + item + "' in '" + s + "': " + accepted;
    std::string fam = trim(item.substr(0, eq)), impl = trim(item.substr(eq + 1));
    auto f = parse_family(fam);
    if (!f) return "unknown op family '" + fam + "' in '" + s + "' (families: conv, batchnorm)";
    if (impl != "hand" && impl != "cudnn") return "unknown kernel choice '" + impl + "' in '" + s + "': " + accepted;
    out[index_of(*f)] = impl == "hand" ? KernelImpl::Hand : KernelImpl::Cudnn;
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return {};
}

void check_buildable(KernelImpl impl, const std::string& where) {
  GAN_CHECK(impl != KernelImpl::Cudnn || cudnn_built(),
            where << ": cudnn kernels requested but this build has no cuDNN (install cuDNN 9 and reconfigure)");
}

void read_env_locked(State& st) {
  if (st.env_read) return;
  st.env_read = true;
  for (auto& o : st.from_env) o.reset();
  st.env_error.clear();
  const char* v = std::getenv("GAN_KERNELS");
  if (!v) return;
  std::optional<KernelImpl> parsed[kFamilies];
  std::string err = parse_spec(v, parsed);
  if (err.empty() && !cudnn_built())
    for (auto& p : parsed)
      if (p == KernelImpl::Cudnn) err = "cudnn kernels requested but this build has no cuDNN";
  if (!err.empty()) {
    st.env_error = "GAN_KERNELS=" + std::string(v) + ": " + err;
    return;
  }
  for (int i = 0; i < kFamilies; ++i) st.from_env[i] = parsed[i];
}

}  // namespace

const char* kernel_impl_name(KernelImpl impl) { return impl == KernelImpl::Hand ? "hand" : "cudnn"; }

const char* op_family_name(OpFamily family) { return family == OpFamily::Conv ? "conv" : "batchnorm"; }

KernelImpl parse_kernel_impl(const std::string& name) {
  if (name == "hand") return KernelImpl::Hand;
  if (name == "cudnn") return KernelImpl::Cudnn;
  GAN_FAIL("unknown kernel implementation '" << name << "': expected hand or cudnn");
}

bool cudnn_built() {
#ifdef GAN_WITH_CUDNN
  return true;
#else
  return false;
#endif
}

KernelImpl default_kernel_impl(OpFamily family, bool bf16) {
  KernelImpl d = KernelImpl::Hand;
  switch (family) {
    case OpFamily::Conv:
      d = bf16 ? kDefaultConvImplBf16 : allow_tf32() ? kDefaultConvImplTf32 : kDefaultConvImplFp32;
      break;
    case OpFamily::BatchNorm: d = kDefaultBatchNormImpl; break;
  }
  return d == KernelImpl::Cudnn && !cudnn_built() ? KernelImpl::Hand : d;
}

KernelImpl kernel_impl(OpFamily family, bool bf16) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  const int i = index_of(family);
  if (st.chosen[i]) return *st.chosen[i];
  read_env_locked(st);
  GAN_CHECK(st.env_error.empty(), st.env_error);
  return st.from_env[i] ? *st.from_env[i] : default_kernel_impl(family, bf16);
}

void set_kernel_impl(OpFamily family, KernelImpl impl) {
  check_buildable(impl, std::string("set_kernel_impl(") + op_family_name(family) + ")");
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  st.chosen[index_of(family)] = impl;
}

void set_kernel_impl(KernelImpl impl) {
  check_buildable(impl, "set_kernel_impl");
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  for (auto& c : st.chosen) c = impl;
}

void set_kernel_impl(const std::string& spec) {
  std::optional<KernelImpl> parsed[kFamilies];
  std::string err = parse_spec(spec, parsed);
  GAN_CHECK(err.empty(), "kernels '" << spec << "': " << err);
  for (auto& p : parsed)
    if (p) check_buildable(*p, "kernels '" + spec + "'");
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  for (int i = 0; i < kFamilies; ++i)
    if (parsed[i]) st.chosen[i] = parsed[i];
}

void reset_kernel_impl() {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  for (auto& c : st.chosen) c.reset();
  st.env_read = false;
}

void set_allow_tf32(bool allow) { g_allow_tf32.store(allow); }
bool allow_tf32() { return g_allow_tf32.load(); }

void set_verbose(bool on) { g_verbose.store(on); }
bool verbose() { return g_verbose.load(); }

void set_message_sink(std::function<void(const std::string&)> sink) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  st.sink = std::move(sink);
}

void note_fallback(OpFamily family, const std::string& op, KernelImpl used, const std::string& reason) {
  if (!verbose()) return;
  std::string msg = std::string("[gan] ") + op + ": ran the " + kernel_impl_name(used) + " " +
                    op_family_name(family) + " kernel instead of the requested one: " + reason;
  std::function<void(const std::string&)> sink;
  {
    State& st = state();
    std::lock_guard<std::mutex> lock(st.mu);
    if (!st.said.insert(msg).second) return;
    sink = st.sink;
  }
  // Printing happens only because the user asked for verbose output.
  if (sink) sink(msg);
  else std::cerr << msg << std::endl;
}

}  // namespace gan::cuda
