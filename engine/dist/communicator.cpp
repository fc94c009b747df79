// The bucketing every communicator shares, the world of one, and the choice of world from the
// launcher's environment.
#include "engine/dist/communicator.h"

#include <cstdlib>
#include <map>
#include <mutex>

#include "engine/autograd/grad_mode.h"
#ifdef GAN_WITH_MPI
#include "engine/dist/mpi_world.h"
#endif
#include "engine/ops/shape_ops.h"

namespace gan::dist {

namespace {

// Consecutive runs of tensors of one device and dtype, cut so that a bucket stays under
// kBucketBytes (a tensor larger than that is a bucket of its own). Indices into the list.
std::vector<std::vector<size_t>> buckets(const std::vector<Tensor>& tensors) {
  std::map<std::pair<std::string, int>, std::vector<size_t>> groups;  // (device, dtype) -> indices, in order
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    GAN_CHECK(t.defined(), "collective: tensor " << i << " of " << tensors.size() << " is undefined");
    GAN_CHECK(t.dtype() == DType::Float32 || t.dtype() == DType::Float64,
              "collective: tensor " << i << " is " << t.str() << " (expected float32 or float64)");
    groups[{t.device().str(), static_cast<int>(t.dtype())}].push_back(i);
  }
  std::vector<std::vector<size_t>> out;
  for (auto& [key, idx] : groups) {
    out.emplace_back();
    size_t bytes = 0;
    for (size_t i : idx) {
      if (!out.back().empty() && bytes + tensors[i].nbytes() > kBucketBytes) {
        out.emplace_back();
        bytes = 0;
      }
      out.back().push_back(i);
      bytes += tensors[i].nbytes();
    }
  }
  return out;
}

// The bucket's tensors, flattened one after the other into a new contiguous tensor.
Tensor flatten_bucket(const std::vector<Tensor>& tensors, const std::vector<size_t>& bucket) {
  if (bucket.size() == 1) return tensors[bucket[0]].flatten().clone();
  std::vector<Tensor> flat;
  for (size_t i : bucket) flat.push_back(tensors[i].flatten());
  return cat(flat, 0);
}

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  std::string describe() const override { return "single process"; }
  std::vector<std::string> all_gather(const std::string& bytes) override { return {bytes}; }
  void barrier() override {}
  void abort(int) override {}

 protected:
  void reduce_buffer(Tensor&, ReduceOp) override {}  // the sum and the mean of one are itself
  void broadcast_buffer(Tensor&, int) override {}
};

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

// Set by the process managers of Open MPI (mpirun), MPICH/Hydra and Slurm's PMI2, and PMIx
// (srun --mpi=pmix, prterun).
bool launched_by_mpi() {
  return env("OMPI_COMM_WORLD_SIZE") || env("PMI_SIZE") || env("PMI_RANK") || env("PMIX_RANK");
}

std::mutex g_world_mutex;
std::shared_ptr<Communicator>& world_slot() {
  static std::shared_ptr<Communicator> w;  // destroyed at exit: MPI_Finalize
  return w;
}

}  // namespace

void Communicator::all_reduce(std::vector<Tensor>& tensors, ReduceOp op) {
  if (size() == 1 || tensors.empty()) return;
  NoGradGuard no_grad;
  for (const std::vector<size_t>& bucket : buckets(tensors)) {
    Tensor flat = flatten_bucket(tensors, bucket);
    reduce_buffer(flat, op);
    int64_t offset = 0;
    for (size_t i : bucket) {
      const int64_t n = tensors[i].numel();
      const Shape shape = tensors[i].shape();
      tensors[i] = bucket.size() == 1 ? flat.reshape(shape) : slice(flat, 0, offset, offset + n).reshape(shape);
      offset += n;
    }
  }
}

std::unique_ptr<PendingReduce> Communicator::start_all_reduce(const std::vector<Tensor>& tensors, ReduceOp op) {
  GAN_CHECK(!tensors.empty(), "start_all_reduce: no tensors");
  NoGradGuard no_grad;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    GAN_CHECK(t.defined(), "start_all_reduce: tensor " << i << " of " << tensors.size() << " is undefined");
    GAN_CHECK((t.dtype() == DType::Float32 || t.dtype() == DType::Float64) && t.dtype() == tensors[0].dtype() &&
                  t.device() == tensors[0].device(),
              "start_all_reduce: tensor " << i << " is " << t.str() << " but tensor 0 is " << tensors[0].str()
                                          << " (one bucket holds float32 or float64 tensors of one device and dtype)");
  }
  std::vector<Shape> shapes;
  for (const Tensor& t : tensors) shapes.push_back(t.shape());
  std::vector<size_t> all(tensors.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  Tensor flat = flatten_bucket(tensors, all);
  std::unique_ptr<BufferRequest> request =
      size() == 1 ? std::make_unique<BufferRequest>() : start_reduce_buffer(flat, op);
  return std::make_unique<PendingReduce>(std::move(shapes), std::move(flat), std::move(request));
}

PendingReduce::PendingReduce(std::vector<Shape> shapes, Tensor flat, std::unique_ptr<BufferRequest> request)
    : shapes_(std::move(shapes)), flat_(std::move(flat)), request_(std::move(request)) {}

PendingReduce::~PendingReduce() {
  if (waited_ || !request_) return;
  try {
    request_->wait(flat_);
  } catch (...) {  // a destructor must not throw; the failure reached whoever waits next
  }
}

bool PendingReduce::test() { return waited_ || request_->test(); }

std::vector<Tensor> PendingReduce::wait() {
  GAN_CHECK(!waited_, "PendingReduce::wait: called twice");
  waited_ = true;
  NoGradGuard no_grad;
  request_->wait(flat_);
  std::vector<Tensor> out;
  int64_t offset = 0;
  for (const Shape& s : shapes_) {
    const int64_t n = numel_of(s);
    out.push_back(shapes_.size() == 1 ? flat_.reshape(s) : slice(flat_, 0, offset, offset + n).reshape(s));
    offset += n;
  }
  return out;
}

void Communicator::broadcast(const std::vector<Tensor>& tensors, int root) {
  GAN_CHECK(root >= 0 && root < size(), "broadcast: root " << root << " is not a rank of " << size() << " processes");
  if (size() == 1 || tensors.empty()) return;
  NoGradGuard no_grad;
  for (const std::vector<size_t>& bucket : buckets(tensors)) {
    Tensor flat = flatten_bucket(tensors, bucket);
    broadcast_buffer(flat, root);
    int64_t offset = 0;
    for (size_t i : bucket) {
      Tensor t = tensors[i];  // shares the caller's storage: written in place
      const int64_t n = t.numel();
      t.copy_(bucket.size() == 1 ? flat : slice(flat, 0, offset, offset + n));
      offset += n;
    }
  }
}

std::shared_ptr<Communicator> world() {
  std::lock_guard<std::mutex> lock(g_world_mutex);
  std::shared_ptr<Communicator>& w = world_slot();
  if (w) return w;
  if (launched_by_mpi()) {
#ifdef GAN_WITH_MPI
    w = make_mpi_world();
    return w;
#else
    GAN_CHECK(launched_size() <= 1, "an MPI launcher started this process as one of "
                                        << launched_size()
                                        << ", but this build has no MPI: install libopenmpi-dev and openmpi-bin "
                                           "(scripts/setup.sh does) and rebuild, or run a single process");
#endif
  }
  w = std::make_shared<SingleProcess>();
  return w;
}

bool world_started_with_peers() {
  std::lock_guard<std::mutex> lock(g_world_mutex);
  return world_slot() && world_slot()->size() > 1;
}

int launched_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char* v = env(name)) return std::max(1, std::atoi(v));
  return 1;
}

bool built_with_mpi() {
#ifdef GAN_WITH_MPI
  return true;
#else
  return false;
#endif
}

bool built_with_nccl() {
#ifdef GAN_WITH_NCCL
  return true;
#else
  return false;
#endif
}

}  // namespace gan::dist
