// The processes of one job and the collectives between them (DESIGN.md, "Distributed"): MPI starts
// and connects the processes (mpirun, srun); CUDA tensors travel over NCCL, whose communicator is
// bootstrapped through MPI (rank 0's unique id broadcast), and CPU tensors over MPI_Allreduce. No
// transport of our own. A process not started by an MPI launcher (or a build without MPI) is a
// world of one, whose collectives return their inputs: nothing here knows what is being trained.
//
//   std::shared_ptr<dist::Communicator> w = dist::world();
//   std::vector<Tensor> grads = ...;          // the same list, shapes and order on every process
//   w->all_reduce(grads, dist::ReduceOp::Average);  // each replaced by the mean over the processes
//
// Every collective must be called by every process of the world, in the same order, with the same
// shapes; a process that dies makes the launcher end the others (mpirun, srun), so no process
// waits for ever on a dead peer.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "engine/core/tensor.h"

namespace gan::dist {

enum class ReduceOp { Sum, Average };

// The transfer of one flattened buffer, as a communicator started it (start_reduce_buffer).
struct BufferRequest {
  virtual ~BufferRequest() = default;
  // Lets the transfer progress (MPI moves data only inside its calls); true once it has finished.
  virtual bool test() { return true; }
  // Blocks until it has finished; `flat` then holds the result (possibly as a new tensor).
  virtual void wait(Tensor& /*flat*/) {}
};

// An all-reduce under way (Communicator::start_all_reduce). Its buffer stays alive until wait().
class PendingReduce {
 public:
  PendingReduce(std::vector<Shape> shapes, Tensor flat, std::unique_ptr<BufferRequest> request);
  PendingReduce(const PendingReduce&) = delete;
  PendingReduce& operator=(const PendingReduce&) = delete;
  // Destroying one that was never waited for waits for it: its buffer may be in use by the transfer.
  ~PendingReduce();
  bool test();
  // The reduced tensors, in the order and shapes given to start_all_reduce. Once only.
  std::vector<Tensor> wait();

 private:
  std::vector<Shape> shapes_;
  Tensor flat_;
  std::unique_ptr<BufferRequest> request_;
  bool waited_ = false;
};

// Tensors are flattened into buckets of at most this many bytes per collective call (PyTorch
// DDP's default 25 MiB): few calls for many small gradients, bounded extra memory for big ones.
constexpr size_t kBucketBytes = 25u << 20;

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Rank and count among the processes on this machine: each takes its own GPU.
  virtual int local_rank() const = 0;
  virtual int local_size() const = 0;
  // "single process", "MPI (Open MPI v4.1.4), 2 processes on 1 machine; NCCL 2.27.3 for CUDA tensors"
  virtual std::string describe() const = 0;

  // Replaces every tensor (float32 or float64, on one device or several) by its sum or mean over the
  // processes. The results are new tensors: the inputs are never written (a gradient may share its
  // storage with another tensor).
  void all_reduce(std::vector<Tensor>& tensors, ReduceOp op);
  // The same as all_reduce for tensors of one device and dtype, flattened into one buffer, but
  // returning at once: the reduction runs while the caller goes on (an MPI non-blocking collective;
  // on CUDA, NCCL on a stream of its own that the engine stream waits for at wait()). Every process
  // must start its reductions in the same order.
  std::unique_ptr<PendingReduce> start_all_reduce(const std::vector<Tensor>& tensors, ReduceOp op);
  // Copies root's tensors into every process's, in place.
  void broadcast(const std::vector<Tensor>& tensors, int root);
  // Every process's `bytes`, by rank (lengths may differ).
  virtual std::vector<std::string> all_gather(const std::string& bytes) = 0;
  virtual void barrier() = 0;
  // Ends every process of the job with `code`, at once (MPI_Abort): for a failure that only this
  // process saw, while the others may be waiting for it in a collective. A world of one has no peer
  // to end and returns; its caller exits as it would have anyway.
  virtual void abort(int code) = 0;

 protected:
  // One contiguous buffer (float32 or float64, CPU or CUDA), reduced or broadcast in place.
  virtual void reduce_buffer(Tensor& flat, ReduceOp op) = 0;
  virtual void broadcast_buffer(Tensor& flat, int root) = 0;
  // Starts reducing `flat` in place. By default the reduction is done before it returns.
  virtual std::unique_ptr<BufferRequest> start_reduce_buffer(Tensor& flat, ReduceOp op) {
    reduce_buffer(flat, op);
    return std::make_unique<BufferRequest>();
  }
};

// An error every process of the world raised at the same point with the same message (refused
// flags, a batch that does not split): each can end normally, and only rank 0 need print it.
struct AgreedError : Error {
  using Error::Error;
};

// The processes this one was started with: MPI when an MPI launcher started it (its environment
// says so) and the build has MPI, else a world of one. MPI starts at the first call and ends at exit.
// Throws when a launcher started several processes but this build has no MPI.
std::shared_ptr<Communicator> world();
// Whether world() has been called and holds more than one process (never starts MPI).
bool world_started_with_peers();
// The processes the launcher says it started (1 when none), read from the environment only.
int launched_size();

// Whether this build has MPI / NCCL (CMake found them).
bool built_with_mpi();
bool built_with_nccl();

}  // namespace gan::dist
