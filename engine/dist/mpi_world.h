// The world of an MPI launch (built only with MPI): MPI_Allreduce for CPU tensors, NCCL for CUDA
// tensors (built only with NCCL), the NCCL communicator bootstrapped through MPI on first use.
#pragma once
#include <memory>

#include "engine/dist/communicator.h"

namespace gan::dist {

// Starts MPI (MPI_Init_thread, funneled: only the main thread calls it) unless the program already
// did; MPI_Finalize when the returned world is destroyed.
std::shared_ptr<Communicator> make_mpi_world();

}  // namespace gan::dist
