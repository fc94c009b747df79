// reference_vjp: differentiate a reference formula inside another op's backward rule.
//
// The reference is evaluated on stand-ins for the inputs and differentiated with grad(). The
// stand-ins must be fresh graph nodes: the rule's inputs may depend on one another (in a double
// backward the upstream gradient g is itself a function of x), and grad() with respect to x would
// then return the total derivative through g as well, where the rule needs the partial one.
//   - Plain backward: the stand-ins are detached leaves; nothing outside the reference is walked.
//   - create_graph: each stand-in is a recorded identity (a reshape view) of its input, so the
//     result stays connected to the real inputs and can be differentiated again.
#include "engine/autograd/autograd.h"

namespace gan {

std::vector<Tensor> reference_vjp(const ReferenceFn& reference, const std::vector<Tensor>& inputs,
                                  const std::vector<Tensor>& grad_outputs, const std::vector<bool>& wanted) {
  GAN_CHECK(wanted.size() == inputs.size(),
            "reference_vjp: " << wanted.size() << " flags for " << inputs.size() << " inputs");
  const bool create_graph = GradMode::enabled();  // the outer backward's mode
  GradModeGuard on(true);                        // the reference's graph is needed either way
  std::vector<Tensor> stand_ins = inputs, targets;
  std::vector<size_t> target_of;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!wanted[i] || !inputs[i].defined()) continue;
    if (create_graph && inputs[i].requires_grad()) {
      stand_ins[i] = inputs[i].reshape(inputs[i].shape());
    } else {
      stand_ins[i] = inputs[i].detach();
      stand_ins[i].requires_grad_();
    }
    targets.push_back(stand_ins[i]);
    target_of.push_back(i);
  }
  std::vector<Tensor> result(inputs.size());
  if (targets.empty()) return result;

  const std::vector<Tensor> outs = reference(stand_ins);
  GAN_CHECK(outs.size() == grad_outputs.size(), "reference_vjp: the reference returned " << outs.size()
                                                    << " outputs for " << grad_outputs.size() << " gradients");
  std::vector<Tensor> roots, root_grads;
  for (size_t k = 0; k < outs.size(); ++k)
    if (outs[k].defined() && outs[k].requires_grad() && grad_outputs[k].defined()) {
      roots.push_back(outs[k]);
      root_grads.push_back(grad_outputs[k]);
    }
  if (roots.empty()) return result;
  std::vector<Tensor> g = grad(roots, targets, root_grads, create_graph, /*allow_unused=*/true);
  for (size_t j = 0; j < g.size(); ++j) result[target_of[j]] = g[j];
  return result;
}

}  // namespace gan
