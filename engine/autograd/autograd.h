// Public autograd entry points: backward() lives on Tensor; grad() is here.
#pragma once
#include <functional>
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

// Called during a backward pass with each leaf whose .grad this pass has finished: every path from
// the roots to it has delivered its share (PyTorch's post-accumulate-grad hook). Leaves the pass
// does not reach are not reported. Data-parallel training starts reducing a bucket of gradients
// as soon as all of its leaves are reported, while the rest of the backward pass still runs.
using GradReadyFn = std::function<void(const Tensor& leaf)>;
void backward(const std::vector<Tensor>& outputs, const GradReadyFn& on_grad_ready,
              const std::vector<Tensor>& grad_outputs = {}, bool create_graph = false);

// The backward rule of a fused op that has a slow reference formula (the pattern of StyleGAN2's
// bias_act): for each input i with wanted[i], d/d inputs[i] of sum_k <reference(inputs)[k],
// grad_outputs[k]>, i.e. the reference's vector-Jacobian product at `inputs`. A fused backward op
// (batch_norm_backward, gradient_penalty_backward) uses it as its own backward rule, so its second
// derivative is the reference formula's, exactly, without a second fused kernel. Where grad mode
// is on (create_graph) the result is recorded and can be differentiated again. Undefined where an
// input is not wanted or the reference does not depend on it.
using ReferenceFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& inputs)>;
std::vector<Tensor> reference_vjp(const ReferenceFn& reference, const std::vector<Tensor>& inputs,
                                  const std::vector<Tensor>& grad_outputs, const std::vector<bool>& wanted);

}  // namespace gan
