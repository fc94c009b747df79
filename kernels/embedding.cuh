// Embedding kernels: gather table rows by class id, scatter-add rows back, one-hot rows. Ids are
// floats (T: the data type, I: the ids' type, each float or double) holding integers in [0, k);
// a bad id is written as NaN, never skipped (kernels/class_ids.h says which values are bad).
#pragma once
#include <cstdint>

#include <cuda_runtime_api.h>

namespace gan::kernels {

// out[i, :] = weight[ids[i], :] for weight [k, e], ids [n], out [n, e]; a bad id's row is NaN.
template <class T, class I>
cudaError_t embedding_gather(const T* weight, const I* ids, int64_t n, int64_t k, int64_t e, T* out,
                             cudaStream_t stream);

// out [k, e] = 0, then grad[i, :] atomically added into row ids[i]; a bad id adds NaN into row
// class_id_clamped(id). Float atomics: the order of additions, hence the last bits, may differ
// from run to run.
template <class T, class I>
cudaError_t embedding_scatter_add(const T* grad, const I* ids, int64_t n, int64_t k, int64_t e, T* out,
                                  cudaStream_t stream);

// out [n, c] = (col == ids[i]); a bad id's row is NaN.
template <class T, class I>
cudaError_t one_hot(const I* ids, int64_t n, int64_t c, T* out, cudaStream_t stream);

}  // namespace gan::kernels
