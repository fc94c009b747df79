// Public autograd entry points: backward() lives on Tensor; grad() is here.
#pragma once
#include <vector>

#include "engine/autograd/grad_mode.h"
#include "engine/core/tensor.h"

namespace gan {

// d(sum_k <outputs[k], grad_outputs[k]>) / d(inputs[i]) for every input, without touching any
// leaf's .grad (torch.autograd.grad). grad_outputs may be empty for scalar outputs (ones). With
// create_graph the returned gradients carry history and can be differentiated again. An input the
// outputs do not depend on gets an undefined tensor when allow_unused, else an error.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool create_graph = false,
                         bool allow_unused = false);

// Accumulates into the leaves' .grad (Tensor::backward for several roots at once).
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs = {},
              bool create_graph = false);

}  // namespace gan
