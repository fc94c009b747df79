#include "engine/dist/nccl_group.h"

#include <nccl.h>

#include <cstring>
#include <sstream>

#include "engine/cuda/check.h"
#include "engine/cuda/memory.h"

// A failed NCCL call throws with file:line, the call and NCCL's own description (and its last
// error text, which names the peer or the transport that failed).
#define GAN_NCCL_CHECK(...)                                                                              \
  do {                                                                                                   \
    ncclResult_t gan_nccl_status_ = (__VA_ARGS__);                                                       \
    if (gan_nccl_status_ != ncclSuccess && gan_nccl_status_ != ncclInProgress) {                         \
      std::ostringstream gan_nccl_os_;                                                                   \
      gan_nccl_os_ << "NCCL error " << static_cast<int>(gan_nccl_status_) << " ("                        \
                   << ncclGetErrorString(gan_nccl_status_) << ") at " << __FILE__ << ":" << __LINE__      \
                   << " in " #__VA_ARGS__;                                                               \
      if (const char* last = ncclGetLastError(nullptr); last && *last) gan_nccl_os_ << ": " << last;      \
      throw ::gan::Error(gan_nccl_os_.str());                                                            \
    }                                                                                                    \
  } while (0)

namespace gan::dist {

namespace {
ncclDataType_t nccl_type(const Tensor& t) {
  if (t.dtype() == DType::Float32) return ncclFloat32;
  GAN_CHECK(t.dtype() == DType::Float64, "nccl: " << t.str() << " (expected float32 or float64)");
  return ncclFloat64;
}
}  // namespace

struct NcclGroup::Impl {
  ncclComm_t comm = nullptr;
  cudaStream_t side = nullptr;  // the overlapped all-reduces' stream, made at the first one
};

namespace {
// An all-reduce queued on the side stream; `done` is recorded after it.
struct NcclRequest final : BufferRequest {
  int device = 0;
  cudaEvent_t done = nullptr;
  bool test() override {
    cuda::DeviceGuard on(device);
    const cudaError_t e = cudaEventQuery(done);
    if (e == cudaErrorNotReady) return false;
    GAN_CUDA_CHECK(e);
    return true;
  }
  void wait(Tensor&) override {
    cuda::DeviceGuard on(device);
    GAN_CUDA_CHECK(cudaStreamWaitEvent(cuda::stream(device), done, 0));
  }
  ~NcclRequest() override {
    if (done) cudaEventDestroy(done);  // safe while pending: the event is released once it completes
  }
};
}  // namespace

std::string nccl_unique_id() {
  ncclUniqueId id;
  GAN_NCCL_CHECK(ncclGetUniqueId(&id));
  return std::string(id.internal, sizeof id.internal);
}

size_t nccl_unique_id_size() { return sizeof(ncclUniqueId); }

std::string nccl_version() {
  int v = 0;
  if (ncclGetVersion(&v) != ncclSuccess) return "NCCL (version unknown)";
  // 2.9 and later encode major * 10000 + minor * 100 + patch.
  std::ostringstream os;
  os << "NCCL " << v / 10000 << "." << (v / 100) % 100 << "." << v % 100;
  return os.str();
}

NcclGroup::NcclGroup(const std::string& unique_id, int rank, int size, int device)
    : impl_(std::make_unique<Impl>()), device_(device) {
  GAN_CHECK(unique_id.size() == sizeof(ncclUniqueId),
            "nccl: a unique id has " << sizeof(ncclUniqueId) << " bytes, got " << unique_id.size());
  ncclUniqueId id;
  std::memcpy(id.internal, unique_id.data(), sizeof id.internal);
  cuda::DeviceGuard on(device);
  GAN_NCCL_CHECK(ncclCommInitRank(&impl_->comm, size, id, rank));
}

NcclGroup::~NcclGroup() {
  if (impl_ && impl_->comm) ncclCommDestroy(impl_->comm);  // never throws: runs at exit
  if (impl_ && impl_->side) cudaStreamDestroy(impl_->side);
}

void NcclGroup::all_reduce(Tensor& flat, ReduceOp op) {
  GAN_CHECK(flat.is_cuda() && flat.device().index == device_,
            "nccl all-reduce: " << flat.str() << " is not on this process's GPU cuda:" << device_);
  cuda::DeviceGuard on(device_);
  GAN_NCCL_CHECK(ncclAllReduce(flat.raw_data(), flat.raw_data(), static_cast<size_t>(flat.numel()), nccl_type(flat),
                               op == ReduceOp::Average ? ncclAvg : ncclSum, impl_->comm, cuda::stream(device_)));
}

std::unique_ptr<BufferRequest> NcclGroup::start_all_reduce(Tensor& flat, ReduceOp op) {
  GAN_CHECK(flat.is_cuda() && flat.device().index == device_,
            "nccl all-reduce: " << flat.str() << " is not on this process's GPU cuda:" << device_);
  cuda::DeviceGuard on(device_);
  if (!impl_->side) GAN_CUDA_CHECK(cudaStreamCreateWithFlags(&impl_->side, cudaStreamNonBlocking));
  cudaEvent_t made = nullptr;
  GAN_CUDA_CHECK(cudaEventCreateWithFlags(&made, cudaEventDisableTiming));
  GAN_CUDA_CHECK(cudaEventRecord(made, cuda::stream(device_)));  // after the copy that filled flat
  GAN_CUDA_CHECK(cudaStreamWaitEvent(impl_->side, made, 0));
  GAN_CUDA_CHECK(cudaEventDestroy(made));
  GAN_NCCL_CHECK(ncclAllReduce(flat.raw_data(), flat.raw_data(), static_cast<size_t>(flat.numel()), nccl_type(flat),
                               op == ReduceOp::Average ? ncclAvg : ncclSum, impl_->comm, impl_->side));
  auto r = std::make_unique<NcclRequest>();
  r->device = device_;
  GAN_CUDA_CHECK(cudaEventCreateWithFlags(&r->done, cudaEventDisableTiming));
  GAN_CUDA_CHECK(cudaEventRecord(r->done, impl_->side));
  return r;
}

void NcclGroup::broadcast(Tensor& flat, int root) {
  GAN_CHECK(flat.is_cuda() && flat.device().index == device_,
            "nccl broadcast: " << flat.str() << " is not on this process's GPU cuda:" << device_);
  cuda::DeviceGuard on(device_);
  GAN_NCCL_CHECK(ncclBroadcast(flat.raw_data(), flat.raw_data(), static_cast<size_t>(flat.numel()), nccl_type(flat),
                               root, impl_->comm, cuda::stream(device_)));
}

}  // namespace gan::dist
