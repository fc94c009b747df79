#include "engine/capture/step_graph.h"

#include "engine/build_config.h"
#include "engine/core/error.h"
#ifdef GAN_WITH_CUDA
#include "engine/cuda/capture.h"
#endif

namespace gan {

#ifdef GAN_WITH_CUDA

namespace {
cuda::Recording& recording_on(Device device, const char* what) {
  cuda::Recording* r = device.is_cuda() ? cuda::active_recording(device.index) : nullptr;
  GAN_CHECK(r, what << ": " << device.str() << " is not recording a step");
  return *r;
}
}  // namespace

bool step_recording(Device device) { return device.is_cuda() && cuda::recording(device.index); }

const void* replay_input(Device device, const void* now, size_t nbytes, std::function<void(void*)> next) {
  return recording_on(device, "replay_input").input(now, nbytes, std::move(next));
}

std::vector<Tensor> replay_tensors(Device device, const std::vector<Tensor>& now,
                                   std::function<std::vector<Tensor>()> next) {
  cuda::Recording& r = recording_on(device, "replay_tensors");
  std::vector<Tensor> out;
  std::vector<void*> dst;
  std::vector<size_t> nbytes;
  std::vector<const void*> initial;
  std::vector<std::pair<Shape, DType>> kinds;
  for (const Tensor& h : now) {
    GAN_CHECK(h.device().is_cpu(), "replay_tensors: " << h.str() << " is not a host tensor");
    out.push_back(Tensor::empty(h.shape(), h.dtype(), device));
    dst.push_back(out.back().raw_data());
    nbytes.push_back(h.nbytes());
    initial.push_back(h.raw_data());
    kinds.emplace_back(h.shape(), h.dtype());
  }
  r.tensor_input(dst, nbytes, initial, [kinds, next = std::move(next)](const std::vector<void*>& at) {
    const std::vector<Tensor> ts = next();
    GAN_CHECK(ts.size() == kinds.size(), "a replayed step's inputs: " << ts.size() << " tensors where the recording had "
                                                                     << kinds.size());
    for (size_t i = 0; i < ts.size(); ++i) {
      GAN_CHECK(ts[i].device().is_cpu() && ts[i].shape() == kinds[i].first && ts[i].dtype() == kinds[i].second,
                "a replayed step's input " << i << " is " << ts[i].str() << ", the recording's was "
                                           << dtype_name(kinds[i].second) << shape_str(kinds[i].first)
                                           << " on cpu (a recorded step needs the same shapes every time)");
      std::memcpy(at[i], ts[i].raw_data(), ts[i].nbytes());
    }
  });
  return out;
}

void on_replay(Device device, std::function<void()> effect) {
  recording_on(device, "on_replay").effect(std::move(effect));
}

DeviceActivity device_activity() {
  const cuda::DeviceCounters c = cuda::device_counters();
  return {c.pool_allocations, c.synchronisations};
}

struct StepGraph::Impl {
  explicit Impl(int device) : rec(device) {}
  cuda::Recording rec;
};

StepGraph::StepGraph(Device device) : device_(device) {
  GAN_CHECK(device.is_cuda(), "a recorded training step (CUDA graph) needs a CUDA device, not " << device.str());
  impl_ = std::make_unique<Impl>(device.index);
}
StepGraph::~StepGraph() = default;
size_t StepGraph::measure(const std::function<void()>& step) { return impl_->rec.measure(step); }
void StepGraph::record(const std::function<void()>& step, size_t arena_bytes) { impl_->rec.record(step, arena_bytes); }
void StepGraph::replay() { impl_->rec.replay(); }
bool StepGraph::recorded() const { return impl_->rec.recorded(); }
int64_t StepGraph::launches() const { return impl_->rec.launches(); }
int64_t StepGraph::ring_waits() const { return impl_->rec.ring_waits(); }

#else  // a build without CUDA: nothing ever records

bool step_recording(Device) { return false; }
const void* replay_input(Device device, const void*, size_t, std::function<void(void*)>) {
  GAN_FAIL("replay_input: " << device.str() << " is not recording a step (this build has no CUDA backend)");
}
std::vector<Tensor> replay_tensors(Device device, const std::vector<Tensor>&, std::function<std::vector<Tensor>()>) {
  GAN_FAIL("replay_tensors: " << device.str() << " is not recording a step (this build has no CUDA backend)");
}
void on_replay(Device device, std::function<void()>) {
  GAN_FAIL("on_replay: " << device.str() << " is not recording a step (this build has no CUDA backend)");
}
DeviceActivity device_activity() { return {}; }

struct StepGraph::Impl {};
StepGraph::StepGraph(Device device) : device_(device) {
  GAN_FAIL("a recorded training step (CUDA graph) needs the CUDA backend, which this build does not have ("
           << device.str() << ")");
}
StepGraph::~StepGraph() = default;
size_t StepGraph::measure(const std::function<void()>&) { return 0; }
void StepGraph::record(const std::function<void()>&, size_t) {}
void StepGraph::replay() {}
bool StepGraph::recorded() const { return false; }
int64_t StepGraph::launches() const { return 0; }
int64_t StepGraph::ring_waits() const { return 0; }

#endif

}  // namespace gan
