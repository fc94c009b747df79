// Gradient averaging that overlaps with the backward pass (PyTorch DDP's reducer): the parameters
// are cut into buckets, and each bucket's all-reduce starts as soon as the backward pass has
// finished every gradient in it, while the pass goes on with the layers before.
//
//   dist::Reducer r(world, params, 4 << 20);
//   backward({loss}, [&](const Tensor& leaf) { r.ready(leaf); });
//   r.finish();  // every parameter's .grad is now its mean over the processes
//
// Buckets follow the parameters in reverse (a network's last layers finish their gradients first)
// and are started strictly in that order on every process, whatever order the gradients finish
// in: MPI and NCCL pair collectives by the order in which they are issued. A parameter the pass
// does not reach keeps its .grad as it is, and its bucket starts at finish(). The sums are the
// ones one all-reduce after the backward pass would give (same buffers, same order of the ranks).
#pragma once
#include <cstddef>
#include <memory>
#include <unordered_map>
#include <vector>

#include "engine/dist/communicator.h"

namespace gan::dist {

class Reducer {
 public:
  // `params`: leaf tensors, the same list on every process. A bucket holds parameters of one device
  // and dtype, up to `bucket_bytes` (a larger parameter is a bucket of its own).
  Reducer(Communicator& world, std::vector<Tensor> params, size_t bucket_bytes);
  Reducer(const Reducer&) = delete;
  Reducer& operator=(const Reducer&) = delete;

  // A leaf's gradient is final for this pass (autograd's GradReadyFn). Starts every bucket that is
  // now complete and next in order, and lets the transfers already under way progress.
  void ready(const Tensor& leaf);
  // Starts the buckets not yet started (their defined gradients only), waits for every one, and
  // replaces each reduced parameter's .grad by the mean. Call once, after the backward pass.
  void finish();

  // Buckets, and how many started before finish() (what overlapped with the backward pass).
  size_t buckets() const { return buckets_.size(); }
  size_t started_early() const { return started_early_; }

 private:
  struct Bucket {
    std::vector<size_t> params;  // indices into params_
    size_t bytes = 0;
    size_t waiting = 0;          // gradients not yet final
    std::vector<size_t> sent;    // the ones in flight, in the order of `pending`'s tensors
    std::unique_ptr<PendingReduce> pending;
  };
  void start(Bucket& b);

  Communicator& world_;
  std::vector<Tensor> params_;
  std::vector<Bucket> buckets_;
  std::unordered_map<const TensorImpl*, size_t> bucket_of_;  // leaf -> its bucket
  size_t next_ = 0;                                           // the next bucket to start
  size_t started_early_ = 0;
  bool finished_ = false;
};

}  // namespace gan::dist
