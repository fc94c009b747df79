// The device-copy side of the page-locked host cache (pinned_host_alloc, engine/cuda/memory.h).
#pragma once
#include <cstddef>

#include <cuda_runtime_api.h>

#include "engine/cuda/check.h"

namespace gan::cuda {

// After a copy that reads [src, src + nbytes) was queued on `stream` of `device`: when those bytes
// are a cached page-locked block, the block is not handed out again before the copy has run.
// Called with `device` current.
void pinned_host_note_read(const void* src, size_t nbytes, int device, cudaStream_t stream);

}  // namespace gan::cuda
