// Lookups by class id, for conditional GANs: a projection discriminator's class embedding, a
// generator's label embedding, one-hot label maps for concat conditioning.
//
// Class ids travel as float tensors (either float dtype, independent of the table's) holding
// integers in [0, K). On the CPU a bad id (not an integer, out of range, NaN) throws an error that
// names the op, the position and the value. On CUDA the op never reads ids on the host (that would
// sync it): a bad id's output row is NaN instead, and in embedding_backward NaN is added into row
// min(max(trunc(id), 0), K - 1) (row 0 for NaN), so a training run's NaN guard stops on it.
#pragma once
#include "engine/core/tensor.h"

namespace gan {

// weight [K, E], indices [N] -> [N, E]: row i is weight[indices[i]]. Differentiable in weight (its
// gradient is embedding_backward, itself differentiable, to any order); indices get no gradient.
//   Tensor w = Tensor::randn({10, 4}).requires_grad_();
//   Tensor y = Tensor::from_vector(std::vector<float>{3, 0, 3}, {3});
//   Tensor e = embedding(w, y);  // [3, 4]: rows 3, 0, 3 of w
Tensor embedding(const Tensor& weight, const Tensor& indices);

// The gradient of embedding with respect to its table: grad [N, E] -> [K, E], row k the sum of the
// rows i of grad with indices[i] == k (a scatter-add; zero for ids that never occur). Linear in
// grad; its own gradient is embedding(G, indices). CUDA adds with float atomics, so the last bits
// of a row that several ids share may differ between runs.
Tensor embedding_backward(const Tensor& grad, const Tensor& indices, int64_t num_embeddings);

// indices [N] -> [N, classes] in indices' dtype and device: 1 at column indices[i], else 0. Not
// differentiable (a piecewise-constant map of the ids): never recorded. A CUDA bad id: row of NaN.
Tensor one_hot(const Tensor& indices, int64_t classes);

}  // namespace gan
