#include "engine/dist/mpi_world.h"

#include <mpi.h>

#include <climits>
#include <sstream>

#include "engine/ops/elementwise.h"
#ifdef GAN_WITH_NCCL
#include "engine/dist/nccl_group.h"
#endif

namespace gan::dist {

namespace {

MPI_Datatype mpi_type(const Tensor& t) { return t.dtype() == DType::Float64 ? MPI_DOUBLE : MPI_FLOAT; }

// Open MPI's version string spans several lines; its first clause names the library.
std::string library_version() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(text, &len);
  std::string v(text, static_cast<size_t>(len));
  return v.substr(0, v.find_first_of(",\n"));
}

class MpiWorld final : public Communicator {
 public:
  MpiWorld() {
    int started = 0;
    MPI_Initialized(&started);
    if (!started) {
      int provided = 0;
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      owns_ = true;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
    MPI_Comm_rank(local, &local_rank_);
    MPI_Comm_size(local, &local_size_);
    MPI_Comm_free(&local);
    int first_on_machine = local_rank_ == 0, machines = 0;
    MPI_Allreduce(&first_on_machine, &machines, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    machines_ = machines;
    version_ = library_version();
  }
  ~MpiWorld() override {
#ifdef GAN_WITH_NCCL
    nccl_.reset();  // before MPI goes
#endif
    int finished = 0;
    MPI_Finalized(&finished);
    if (owns_ && !finished) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  std::string describe() const override {
    std::ostringstream os;
    os << "MPI (" << version_ << "), " << size_ << " processes on " << machines_ << " machine"
       << (machines_ == 1 ? "" : "s");
#ifdef GAN_WITH_NCCL
    os << "; " << nccl_version() << " for CUDA tensors";
#else
    os << "; no NCCL in this build (CPU tensors only)";
#endif
    return os.str();
  }

  std::vector<std::string> all_gather(const std::string& bytes) override {
    GAN_CHECK(bytes.size() <= INT_MAX, "all_gather: " << bytes.size() << " bytes is more than one MPI call carries");
    int n = static_cast<int>(bytes.size());
    std::vector<int> lens(static_cast<size_t>(size_)), offsets(static_cast<size_t>(size_));
    MPI_Allgather(&n, 1, MPI_INT, lens.data(), 1, MPI_INT, MPI_COMM_WORLD);
    int64_t total = 0;
    for (int r = 0; r < size_; ++r) {
      offsets[static_cast<size_t>(r)] = static_cast<int>(total);
      total += lens[static_cast<size_t>(r)];
    }
    GAN_CHECK(total <= INT_MAX, "all_gather: " << total << " bytes in all is more than one MPI call carries");
    std::string all(static_cast<size_t>(total), '\0');
    MPI_Allgatherv(bytes.data(), n, MPI_BYTE, all.data(), lens.data(), offsets.data(), MPI_BYTE, MPI_COMM_WORLD);
    std::vector<std::string> out;
    for (int r = 0; r < size_; ++r)
      out.push_back(all.substr(static_cast<size_t>(offsets[static_cast<size_t>(r)]), static_cast<size_t>(lens[static_cast<size_t>(r)])));
    return out;
  }

  void barrier() override { MPI_Barrier(MPI_COMM_WORLD); }
  void abort(int code) override { MPI_Abort(MPI_COMM_WORLD, code); }

 protected:
  // MPI counts are ints: `fn(start, count)` over pieces of at most 2^30 elements of a CPU buffer.
  template <class Fn>
  static void in_pieces(Tensor& flat, Fn&& fn) {
    char* p = static_cast<char*>(flat.raw_data());
    const size_t elem = dtype_size(flat.dtype());
    for (int64_t done = 0, n = flat.numel(); done < n;) {
      const int count = static_cast<int>(std::min<int64_t>(n - done, INT_MAX / 2));
      fn(p + done * elem, count);
      done += count;
    }
  }

  void reduce_buffer(Tensor& flat, ReduceOp op) override {
    if (flat.is_cuda()) {
#ifdef GAN_WITH_NCCL
      nccl(flat).all_reduce(flat, op);
      return;
#else
      refuse_cuda(flat);
#endif
    }
    in_pieces(flat, [&](char* p, int count) { MPI_Allreduce(MPI_IN_PLACE, p, count, mpi_type(flat), MPI_SUM, MPI_COMM_WORLD); });
    if (op == ReduceOp::Average) flat = mul(flat, 1.0 / size_);
  }

  // MPI_Iallreduce per piece: the data moves while this process computes (and inside each test()).
  struct MpiRequest final : BufferRequest {
    std::vector<MPI_Request> pieces;
    bool average = false;
    int size = 1;
    bool test() override {
      int done = 0;
      MPI_Testall(static_cast<int>(pieces.size()), pieces.data(), &done, MPI_STATUSES_IGNORE);
      return done != 0;
    }
    void wait(Tensor& flat) override {
      MPI_Waitall(static_cast<int>(pieces.size()), pieces.data(), MPI_STATUSES_IGNORE);
      if (average) flat = mul(flat, 1.0 / size);
      average = false;
    }
  };

  std::unique_ptr<BufferRequest> start_reduce_buffer(Tensor& flat, ReduceOp op) override {
    if (flat.is_cuda()) {
#ifdef GAN_WITH_NCCL
      return nccl(flat).start_all_reduce(flat, op);
#else
      refuse_cuda(flat);
#endif
    }
    auto r = std::make_unique<MpiRequest>();
    r->average = op == ReduceOp::Average;
    r->size = size_;
    in_pieces(flat, [&](char* p, int count) {
      r->pieces.emplace_back();
      MPI_Iallreduce(MPI_IN_PLACE, p, count, mpi_type(flat), MPI_SUM, MPI_COMM_WORLD, &r->pieces.back());
    });
    return r;
  }

  void broadcast_buffer(Tensor& flat, int root) override {
    if (flat.is_cuda()) {
#ifdef GAN_WITH_NCCL
      nccl(flat).broadcast(flat, root);
      return;
#else
      refuse_cuda(flat);
#endif
    }
    in_pieces(flat, [&](char* p, int count) { MPI_Bcast(p, count, mpi_type(flat), root, MPI_COMM_WORLD); });
  }

 private:
#ifdef GAN_WITH_NCCL
  // The NCCL communicator over every process's GPU, made at the first CUDA collective (which every
  // process reaches together): rank 0's unique id travels to the others over MPI.
  NcclGroup& nccl(const Tensor& t) {
    if (!nccl_) {
      std::string id = rank_ == 0 ? nccl_unique_id() : std::string(nccl_unique_id_size(), '\0');
      MPI_Bcast(id.data(), static_cast<int>(id.size()), MPI_BYTE, 0, MPI_COMM_WORLD);
      nccl_ = std::make_unique<NcclGroup>(id, rank_, size_, t.device().index);
    }
    GAN_CHECK(nccl_->device() == t.device().index, "collective: " << t.str() << " is not on this process's GPU cuda:"
                                                                  << nccl_->device());
    return *nccl_;
  }
  std::unique_ptr<NcclGroup> nccl_;
#else
  [[noreturn]] static void refuse_cuda(const Tensor& t) {
    GAN_FAIL("collective on " << t.str() << ": CUDA tensors travel over NCCL, and this build has no NCCL (CMake "
                              "found no nccl.h and libnccl; see docs/distributed.md)");
  }
#endif

  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1, machines_ = 1;
  bool owns_ = false;
  std::string version_;
};

}  // namespace

std::shared_ptr<Communicator> make_mpi_world() { return std::make_shared<MpiWorld>(); }

}  // namespace gan::dist
