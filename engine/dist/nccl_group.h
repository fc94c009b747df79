// An NCCL communicator over the GPUs of the processes of a job, one GPU each (built only with NCCL
// and the CUDA backend). The caller moves the unique id from rank 0 to the others (through MPI).
#pragma once
#include <memory>
#include <string>

#include "engine/core/tensor.h"
#include "engine/dist/communicator.h"

namespace gan::dist {

// A fresh id for a new communicator (ncclGetUniqueId), as bytes to broadcast; its length.
std::string nccl_unique_id();
size_t nccl_unique_id_size();
// "NCCL 2.28.9": the library loaded at run time.
std::string nccl_version();

class NcclGroup {
 public:
  // ncclCommInitRank on `device` (cuda:device) as `rank` of `size`, from rank 0's id.
  NcclGroup(const std::string& unique_id, int rank, int size, int device);
  ~NcclGroup();
  NcclGroup(const NcclGroup&) = delete;
  NcclGroup& operator=(const NcclGroup&) = delete;
  int device() const { return device_; }
  // In place on the device's engine stream (ordered after the work that made `flat`, no host sync).
  void all_reduce(Tensor& flat, ReduceOp op);
  // The same on this group's own stream, after the work already queued on the engine stream, so
  // that it overlaps with what the engine stream does next; wait() makes the engine stream wait
  // for it (no host sync). `flat` must stay alive until then (PendingReduce keeps it).
  std::unique_ptr<BufferRequest> start_all_reduce(Tensor& flat, ReduceOp op);
  void broadcast(Tensor& flat, int root);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int device_;
};

}  // namespace gan::dist
