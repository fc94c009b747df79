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
};

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
}

void NcclGroup::all_reduce(Tensor& flat, ReduceOp op) {
  GAN_CHECK(flat.is_cuda() && flat.device().index == device_,
            "nccl all-reduce: " << flat.str() << " is not on this process's GPU cuda:" << device_);
  cuda::DeviceGuard on(device_);
  GAN_NCCL_CHECK(ncclAllReduce(flat.raw_data(), flat.raw_data(), static_cast<size_t>(flat.numel()), nccl_type(flat),
                               op == ReduceOp::Average ? ncclAvg : ncclSum, impl_->comm, cuda::stream(device_)));
}

void NcclGroup::broadcast(Tensor& flat, int root) {
  GAN_CHECK(flat.is_cuda() && flat.device().index == device_,
            "nccl broadcast: " << flat.str() << " is not on this process's GPU cuda:" << device_);
  cuda::DeviceGuard on(device_);
  GAN_NCCL_CHECK(ncclBroadcast(flat.raw_data(), flat.raw_data(), static_cast<size_t>(flat.numel()), nccl_type(flat),
                               root, impl_->comm, cuda::stream(device_)));
}

}  // namespace gan::dist
