// Embedding and one-hot. Backward rules, each another op of this file:
//   op                   backward (d/d its tensor input)        its own backward
//   embedding(W, y)      embedding_backward(g, y, K)  scatter   embedding(G, y)
//   embedding_backward   embedding(G, y)              gather    embedding_backward(G', y, K)
//   one_hot              none (piecewise constant)
// Both maps are linear in their tensor input, so these two rules close the loop at every order.
#include "engine/ops/embedding.h"

#include "engine/backend/dispatch.h"
#include "engine/backend/embedding.h"
#include "engine/ops/op_helpers.h"
#include "engine/ops/ops.h"

namespace gan {

using detail::FunctionNode;
using detail::Grads;

namespace {

// Checks shared by the three ops: 1-D ids on the table's device, valid ids on the CPU.
void check_ids(const char* op, const Tensor& ids, const Tensor& data, int64_t classes, const std::string& context) {
  GAN_CHECK(ids.defined(), op << ": indices undefined");
  GAN_CHECK(ids.device() == data.device(),
            op << ": tensors on different devices: " << data.str() << " and indices " << ids.str());
  GAN_CHECK(classes > 0 || ids.numel() == 0,
            op << ": " << classes << " classes leave no valid id for indices " << ids.str() << context);
  detail::check_class_ids(op, "indices", ids, classes, context);
}

}  // namespace

Tensor embedding(const Tensor& weight, const Tensor& indices) {
  GAN_CHECK(weight.defined() && weight.dim() == 2,
            "embedding: weight must be a 2-D table [K, E], got " << (weight.defined() ? weight.str() : "undefined"));
  const int64_t k = weight.shape()[0], e = weight.shape()[1];
  check_ids("embedding", indices, weight, k, " (weight " + shape_str(weight.shape()) + ")");
  Tensor out = Tensor::empty({indices.numel(), e}, weight.dtype(), weight.device());
  GAN_BACKEND(weight.device(), embedding_gather, weight, indices, out);
  autograd::record("embedding", {weight}, {&out}, [indices, k](FunctionNode&, const Grads& g) -> Grads {
    return {embedding_backward(g[0], indices, k)};
  });
  return out;
}

Tensor embedding_backward(const Tensor& grad, const Tensor& indices, int64_t num_embeddings) {
  GAN_CHECK(grad.defined() && indices.defined() && grad.dim() == 2 && indices.dim() == 1 &&
                grad.shape()[0] == indices.numel(),
            "embedding_backward: grad must be [N, E] for indices [N], got grad "
                << (grad.defined() ? grad.str() : "undefined") << " and indices "
                << (indices.defined() ? indices.str() : "undefined"));
  GAN_CHECK(num_embeddings >= 0, "embedding_backward: num_embeddings " << num_embeddings << " is negative");
  check_ids("embedding_backward", indices, grad, num_embeddings,
            " (num_embeddings " + std::to_string(num_embeddings) + ")");
  Tensor out = Tensor::empty({num_embeddings, grad.shape()[1]}, grad.dtype(), grad.device());
  GAN_BACKEND(grad.device(), embedding_scatter_add, grad, indices, out);
  autograd::record("embedding_backward", {grad}, {&out}, [indices](FunctionNode&, const Grads& g) -> Grads {
    return {embedding(g[0], indices)};
  });
  return out;
}

Tensor one_hot(const Tensor& indices, int64_t classes) {
  GAN_CHECK(indices.defined(), "one_hot: indices undefined");
  GAN_CHECK(classes >= 0, "one_hot: classes " << classes << " is negative");
  check_ids("one_hot", indices, indices, classes, " (classes " + std::to_string(classes) + ")");
  Tensor out = Tensor::empty({indices.numel(), classes}, indices.dtype(), indices.device());
  GAN_BACKEND(indices.device(), one_hot, indices, out);
  return out;
}

}  // namespace gan
