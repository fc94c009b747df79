// Matrix products: CPU through Eigen, CUDA through cuBLAS.
#pragma once
#include "engine/backend/declare.h"
#include "engine/core/tensor.h"

#define GAN_LINALG_PRIMITIVES                                                                  \
  /* out[M,N] = beta * out + op(a) @ op(b), op = transpose when the flag is set; 2-D tensors */ \
  void matmul(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& out, double beta);

GAN_DECLARE_PRIMITIVES(GAN_LINALG_PRIMITIVES)
GAN_STORES_BF16(cuda, matmul)  // cuBLAS: bfloat16 in and out, float32 accumulation
