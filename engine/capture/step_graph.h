// Recording one training step as a CUDA graph and replaying it: one launch per step instead of
// hundreds, and no host work for the kernels of a replayed step.
//
//   StepGraph g(Device::cuda(0));
//   size_t bytes = g.measure([&] { step(); });   // an ordinary step, its device memory measured
//   g.record([&] { step(); }, bytes);            // the host code runs once; its device work is recorded
//   for (...) g.replay();                         // and run again, with fresh per-step inputs
//
// What a step computes on the host fresh each time must reach a recorded step through device memory,
// so code on the step's path asks step_recording() and, while it is true:
//   - passes a per-step value (a random fill's draw number, Adam's bias-corrected step size) through
//     replay_value(): the kernel reads it from device memory, and `next` gives it for each replay;
//   - turns host data (a batch of images) into device tensors with replay_tensors();
//   - registers the host state it advanced (a generator's draw count, an optimizer's step count,
//     batch norm's num_batches_tracked) with on_replay().
// At each replay those callbacks run in the order they were registered, which is the order the
// recorded host code ran: after n replays the host state is what n ordinary steps leave, so
// checkpoints and resumption see no difference.
//
// What the recording asks of the step (and checks where it can, with an error that names the call):
//   - no copy between host and device and no wait for the device inside it (refused);
//   - the same allocations each time (the recording's memory is an arena the size measure() found);
//   - state that outlives a step updated in place (parameters, optimizer slots, running statistics,
//     the moving average): a value replaced by a new tensor would leave the graph reading the old one.
//     Memory dropped while recording is kept until the graph goes, so such a mistake gives wrong
//     numbers (which the captured-vs-uncaptured tests catch), never a read of freed memory.
// CUDA only: on the CPU, or in a build without CUDA, StepGraph throws and step_recording() is false.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <vector>

#include "engine/core/device.h"
#include "engine/core/tensor.h"

namespace gan {

// True while a StepGraph records on `device`.
bool step_recording(Device device);

// While recording on `device`: device memory holding `now` (nbytes) for the recording's own run and
// what `next` writes into `dst` before each later replay. Returns its device address.
const void* replay_input(Device device, const void* now, size_t nbytes, std::function<void(void* dst)> next);

template <class T>
const T* replay_value(Device device, const T& now, std::function<T()> next) {
  return static_cast<const T*>(replay_input(device, &now, sizeof(T), [next = std::move(next)](void* dst) {
    const T v = next();
    std::memcpy(dst, &v, sizeof(T));
  }));
}

// While recording: device tensors holding the host tensors `now` for the recording's run, and the
// host tensors `next` returns (the same shapes and dtypes, checked) before each later replay.
std::vector<Tensor> replay_tensors(Device device, const std::vector<Tensor>& now,
                                   std::function<std::vector<Tensor>()> next);

// While recording: host work each later replay repeats (before the launch, in registration order).
void on_replay(Device device, std::function<void()> effect);

// Device allocations from the memory pool and host waits for the device (D2H copies included) since
// the process started: the tests' evidence that a replay neither allocates nor synchronises.
struct DeviceActivity {
  int64_t pool_allocations = 0, synchronisations = 0;
};
DeviceActivity device_activity();

class StepGraph {
 public:
  explicit StepGraph(Device device);  // a CUDA device; throws otherwise
  ~StepGraph();
  StepGraph(const StepGraph&) = delete;
  StepGraph& operator=(const StepGraph&) = delete;

  // Runs `step` as usual and returns the most device memory its own allocations held at once.
  size_t measure(const std::function<void()>& step);
  // Records `step`'s device work (its host code runs once and nothing is queued) with an arena of
  // `arena_bytes`, then launches the recording once: that launch is this step. Throws, naming what
  // could not be recorded; the host state the step's code advanced has then advanced with no device
  // work done, so the caller must not go on training from it.
  void record(const std::function<void()>& step, size_t arena_bytes);
  // Runs the on_replay / replay_* callbacks, copies the inputs, launches the graph. No allocation;
  // waits for the device only when the host is several replays ahead (ring_waits()).
  void replay();

  bool recorded() const;
  int64_t launches() const;    // the recording's own run and the replays
  int64_t ring_waits() const;  // replays that waited for a staging slot

 private:
  Device device_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gan
