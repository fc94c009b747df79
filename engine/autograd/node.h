// The autograd graph, define-by-run: every differentiable op that sees an input requiring grad
// records a Node holding its backward rule and one Edge per input pointing at the node that
// produced that input (or at the leaf's gradient accumulator).
//
// Backward rules are written with the engine's own differentiable ops. The engine runs them with
// grad mode off for a plain backward and on for create_graph, in which case each rule records new
// nodes and the resulting gradients can be differentiated again (double backward, WGAN-GP).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/tensor.h"

namespace gan::autograd {

struct Node;

// A gradient produced for an op's input flows to output slot `input_nr` of node `fn`.
struct Edge {
  std::shared_ptr<Node> fn;  // null: this input needs no gradient
  int input_nr = 0;
};

struct OutputMeta {
  Shape shape;
  DType dtype;
  Device device;
};

struct Node : std::enable_shared_from_this<Node> {
  std::string name;
  std::vector<Edge> next;            // one per op input
  std::vector<OutputMeta> outputs;   // one per op output (to make zero gradients when one is unused)
  uint64_t sequence = 0;             // creation order; later nodes run first in backward

  virtual ~Node() = default;
  // Given d(loss)/d(output_i) for every output, returns d(loss)/d(input_j) for every input
  // (an undefined Tensor where an input needs none).
  virtual std::vector<Tensor> apply(const std::vector<Tensor>& grad_outputs) = 0;
  virtual bool is_accumulator() const { return false; }
  // Whether input i wants a gradient (rules may skip computing the others).
  bool needs(size_t i) const { return next[i].fn != nullptr; }
};

// Signature of a backward rule. `self` gives access to the op's outputs (see FunctionNode::output).
struct FunctionNode;
using BackwardFn = std::function<std::vector<Tensor>(FunctionNode& self, const std::vector<Tensor>& grad_outputs)>;

struct FunctionNode : Node {
  BackwardFn fn;
  std::vector<Tensor> saved_outputs;  // detached aliases; only when the op asked to save them

  std::vector<Tensor> apply(const std::vector<Tensor>& grad_outputs) override { return fn(*this, grad_outputs); }
  // Output i as a tensor whose history is this node, so a rule that uses its own output (tanh,
  // sigmoid, exp) stays differentiable. Saving the output itself would make a reference cycle.
  Tensor output(int i);
};

// The sink of a leaf: adds incoming gradients into leaf.grad.
struct AccumulateGrad : Node {
  std::weak_ptr<TensorImpl> leaf;
  std::vector<Tensor> apply(const std::vector<Tensor>& grad_outputs) override;
  bool is_accumulator() const override { return true; }
};

// True when grad mode is on and some input requires grad: the op must call record().
bool needs_grad(const std::vector<Tensor>& inputs);

// Makes `outputs` the results of differentiable op `name` applied to `inputs`, with backward rule
// `fn`. Does nothing unless needs_grad(inputs). With save_outputs the rule may call self.output(i).
void record(const char* name, const std::vector<Tensor>& inputs, const std::vector<Tensor*>& outputs, BackwardFn fn,
            bool save_outputs = false);

// Every node reachable from `roots` (each once; null roots skipped), in recording order: inputs'
// nodes before the nodes that consumed them.
std::vector<Node*> reachable_nodes(const std::vector<Node*>& roots);

// The gradient accumulator of a leaf that requires grad (created on first use, then shared).
std::shared_ptr<Node> grad_accumulator(const Tensor& leaf);

}  // namespace gan::autograd
