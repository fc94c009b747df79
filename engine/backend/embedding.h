// Embedding primitives: gather rows of a table by class id, scatter-add rows back (the gather's
// gradient), one-hot rows. Class ids arrive as a float tensor of either float dtype (independent of
// the table's dtype) holding integers in [0, K); see kernels/class_ids.h.
//
// A bad id (not an integer in [0, K), NaN included) is never skipped: both backends write NaN where
// its values would go, so a training run's NaN guard stops on it. The ops check CPU ids first and
// throw instead (a CUDA op cannot look at them without a host sync).
#pragma once
#include "engine/backend/declare.h"
#include "engine/core/tensor.h"

#define GAN_EMBEDDING_PRIMITIVES                                                                     \
  /* out[i, :] = weight[indices[i], :]; weight [K, E], indices [N], out [N, E]. Bad id: out row i   */ \
  /* is all NaN.                                                                                   */ \
  void embedding_gather(const Tensor& weight, const Tensor& indices, Tensor& out);                  \
  /* out [K, E] (overwritten) = sum_i grad[i, :] added into row indices[i]; grad [N, E]. Bad id:   */ \
  /* NaN is added into row class_id_clamped(id) (its own values are dropped). CPU: in index order, */ \
  /* deterministic; CUDA: float atomics, so the order of additions (last bits) varies run to run. */ \
  void embedding_scatter_add(const Tensor& grad, const Tensor& indices, Tensor& out);               \
  /* out [N, C] = 1 where c == indices[i], else 0; out's dtype is its own. Bad id: row i all NaN.  */ \
  void one_hot(const Tensor& indices, Tensor& out);

GAN_DECLARE_PRIMITIVES(GAN_EMBEDDING_PRIMITIVES)
// Every output written in full, never read first (engine/backend/declare.h).
GAN_OVERWRITES_OUTPUTS(embedding_gather)
GAN_OVERWRITES_OUTPUTS(embedding_scatter_add)
GAN_OVERWRITES_OUTPUTS(one_hot)
