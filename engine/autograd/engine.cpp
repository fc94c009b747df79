// The backward pass: a topological walk of the recorded graph from the roots.
//
// Each node runs once, after every node that feeds it a gradient has run, so gradients arriving
// over several paths (a discriminator applied to a real and a fake batch) are summed first.
#include <algorithm>
#include <atomic>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "engine/autograd/autograd.h"
#include "engine/autograd/node.h"
#include "engine/ops/ops.h"

namespace gan {

namespace {
thread_local bool t_grad_enabled = true;
std::atomic<uint64_t> g_sequence{0};
}  // namespace

bool GradMode::enabled() { return t_grad_enabled; }
void GradMode::set_enabled(bool on) { t_grad_enabled = on; }

namespace autograd {

Tensor FunctionNode::output(int i) {
  GAN_CHECK(i >= 0 && i < static_cast<int>(saved_outputs.size()),
            name << ": backward asked for output " << i << " that was not saved");
  auto impl = std::make_shared<TensorImpl>(saved_outputs[i].impl());
  impl->requires_grad = true;
  impl->grad = nullptr;
  impl->grad_fn = shared_from_this();
  impl->output_nr = i;
  return Tensor(impl);
}

std::vector<Tensor> AccumulateGrad::apply(const std::vector<Tensor>& grad_outputs) {
  auto impl = leaf.lock();
  if (!impl) return {};
  Tensor g = grad_outputs[0];
  if (!GradMode::enabled()) g = g.detach();
  impl->grad = impl->grad ? add(Tensor(impl->grad), g).impl_ptr() : g.impl_ptr();
  return {};
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!GradMode::enabled()) return false;
  for (const auto& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

std::shared_ptr<Node> grad_accumulator(const Tensor& leaf) {
  auto& impl = leaf.impl();
  GAN_CHECK(impl.requires_grad && !impl.grad_fn, "grad_accumulator: tensor is not a leaf that requires grad");
  if (auto acc = impl.grad_accumulator.lock()) return acc;
  auto acc = std::make_shared<AccumulateGrad>();
  acc->name = "AccumulateGrad";
  acc->leaf = leaf.impl_ptr();
  acc->outputs = {{leaf.shape(), leaf.dtype(), leaf.device()}};
  acc->sequence = g_sequence++;
  impl.grad_accumulator = acc;
  return acc;
}

std::vector<Node*> reachable_nodes(const std::vector<Node*>& roots) {
  std::vector<Node*> nodes, stack;
  std::unordered_set<Node*> seen;
  for (Node* r : roots)
    if (r && seen.insert(r).second) stack.push_back(r);
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    nodes.push_back(n);
    for (auto& e : n->next)
      if (e.fn && seen.insert(e.fn.get()).second) stack.push_back(e.fn.get());
  }
  // Sequence numbers are taken at recording, after the inputs' (record below).
  std::sort(nodes.begin(), nodes.end(), [](Node* a, Node* b) { return a->sequence < b->sequence; });
  return nodes;
}

static Edge edge_of(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return {};
  if (t.grad_fn()) return {t.grad_fn(), t.output_nr()};
  return {grad_accumulator(t), 0};
}

void record(const char* name, const std::vector<Tensor>& inputs, const std::vector<Tensor*>& outputs, BackwardFn fn,
            bool save_outputs) {
  if (!needs_grad(inputs)) return;
  auto node = std::make_shared<FunctionNode>();
  node->name = name;
  node->fn = std::move(fn);
  node->next.reserve(inputs.size());
  for (const auto& t : inputs) node->next.push_back(edge_of(t));
  node->sequence = g_sequence++;  // after the edges: a node is always newer than what it feeds on
  for (size_t i = 0; i < outputs.size(); ++i) {
    Tensor& out = *outputs[i];
    node->outputs.push_back({out.shape(), out.dtype(), out.device()});
    if (save_outputs) node->saved_outputs.push_back(out.detach());
    auto& impl = out.impl();
    impl.requires_grad = true;
    impl.grad_fn = node;
    impl.output_nr = static_cast<int>(i);
  }
}

// A rule may return the gradient of a broadcast input at the broadcast (output) shape: the one
// place that sums it down to the input's shape is here, so no rule repeats it. Any other mismatch
// is a bug in the rule.
static Tensor reduce_to_input(const Node& n, const Tensor& g, const OutputMeta& input) {
  if (g.shape() == input.shape) return g;
  GAN_CHECK(broadcasts_to(input.shape, g.shape()),
            n.name << ": backward produced a gradient of shape " << shape_str(g.shape()) << " for an input of shape "
                   << shape_str(input.shape) << " (not a broadcast of it)");
  return sum_to(g, input.shape);
}

// One backward traversal. In accumulate mode, leaves' accumulators run and fill .grad. In capture
// mode (grad()), the gradient arriving at each (node, slot) in `targets` is returned instead and
// only the part of the graph between the roots and the targets runs.
static std::vector<Tensor> run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& root_grads,
                                        bool create_graph, bool accumulate, const std::vector<Edge>& targets,
                                        const GradReadyFn& on_grad_ready = {}) {
  GAN_CHECK(root_grads.empty() || root_grads.size() == roots.size(),
            "backward: got " << root_grads.size() << " gradients for " << roots.size() << " outputs");
  // Collect the graph reachable from the roots.
  std::vector<Node*> root_nodes;
  for (const auto& r : roots) {
    GAN_CHECK(r.requires_grad(), "backward: output " << r.str() << " does not require grad (no graph was recorded)");
    root_nodes.push_back(edge_of(r).fn.get());
  }
  const std::vector<Node*> order = reachable_nodes(root_nodes);
  // Which nodes lead to something we want: an accumulator (accumulate mode) or a target.
  std::unordered_set<Node*> target_nodes;
  for (auto& t : targets) target_nodes.insert(t.fn.get());
  std::unordered_map<Node*, bool> useful;  // node is wanted or feeds a wanted node
  std::unordered_map<Node*, bool> runs;    // node's backward rule must execute
  for (Node* n : order) {  // children were created before parents, so ascending sequence works
    bool child_useful = false;
    for (auto& e : n->next)
      if (e.fn && useful[e.fn.get()]) child_useful = true;
    bool wanted = accumulate ? n->is_accumulator() : target_nodes.count(n) > 0;
    useful[n] = wanted || child_useful;
    runs[n] = accumulate ? (n->is_accumulator() || child_useful) : child_useful;
  }
  std::unordered_map<Node*, int> deps;
  for (Node* n : order)
    if (runs[n])
      for (auto& e : n->next)
        if (e.fn && useful[e.fn.get()]) deps[e.fn.get()]++;

  std::unordered_map<Node*, std::vector<Tensor>> buffers;
  auto add_to = [&](Node* n, int slot, const Tensor& g) {
    auto& buf = buffers[n];
    if (buf.empty()) buf.resize(n->outputs.size());
    buf[slot] = buf[slot].defined() ? add(buf[slot], g) : g;
  };

  GradModeGuard mode(create_graph);
  for (size_t i = 0; i < roots.size(); ++i) {
    Tensor g;
    if (root_grads.empty() || !root_grads[i].defined()) {
      GAN_CHECK(roots[i].numel() == 1, "backward: output " << roots[i].str()
                                           << " is not a scalar, so its gradient must be given explicitly");
      g = Tensor::ones(roots[i].shape(), roots[i].dtype(), roots[i].device());
    } else {
      g = root_grads[i];
      check_same_shape("backward (gradient of output)", g, roots[i]);
    }
    Edge e = edge_of(roots[i]);
    add_to(e.fn.get(), e.input_nr, g);
  }

  auto later_first = [](Node* a, Node* b) { return a->sequence < b->sequence; };
  std::priority_queue<Node*, std::vector<Node*>, decltype(later_first)> ready(later_first);
  for (Node* n : order)
    if (useful[n] && deps[n] == 0) ready.push(n);

  std::unordered_map<Node*, std::vector<Tensor>> captured;
  while (!ready.empty()) {
    Node* n = ready.top();
    ready.pop();
    auto& buf = buffers[n];
    if (buf.empty()) buf.resize(n->outputs.size());
    const bool target = target_nodes.count(n) > 0;
    // No gradient reached any output (every path to it carried none, e.g. the input of a
    // piecewise-constant mask): its inputs get nothing either, so the rule is skipped rather than
    // run on zeros. A captured target still reports zeros.
    const bool reached = std::any_of(buf.begin(), buf.end(), [](const Tensor& t) { return t.defined(); });
    if (reached || target)
      for (size_t s = 0; s < buf.size(); ++s)
        if (!buf[s].defined()) buf[s] = Tensor::zeros(n->outputs[s].shape, n->outputs[s].dtype, n->outputs[s].device);
    if (target) captured[n] = buf;
    if (runs[n] && !reached && !target) {
      for (Edge& e : n->next)
        if (e.fn && useful[e.fn.get()] && --deps[e.fn.get()] == 0) ready.push(e.fn.get());
    } else if (runs[n]) {
      std::vector<Tensor> grads = n->apply(buf);
      if (on_grad_ready && n->is_accumulator())  // an accumulator runs once, after all its inputs
        if (auto leaf = static_cast<AccumulateGrad*>(n)->leaf.lock()) on_grad_ready(Tensor(leaf));
      GAN_CHECK(n->is_accumulator() || grads.size() == n->next.size(),
                n->name << ": backward returned " << grads.size() << " gradients for " << n->next.size() << " inputs");
      for (size_t j = 0; j < grads.size(); ++j) {
        Edge& e = n->next[j];
        if (!e.fn || !useful[e.fn.get()]) continue;
        if (grads[j].defined())
          add_to(e.fn.get(), e.input_nr, reduce_to_input(*n, grads[j], e.fn->outputs[e.input_nr]));
        if (--deps[e.fn.get()] == 0) ready.push(e.fn.get());
      }
    }
    buffers.erase(n);  // frees intermediate gradients as soon as they are consumed
  }

  std::vector<Tensor> result;
  for (auto& t : targets) {
    auto it = captured.find(t.fn.get());
    result.push_back(it == captured.end() ? Tensor() : it->second[t.input_nr]);
  }
  return result;
}

}  // namespace autograd

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs, bool create_graph) {
  autograd::run_backward(outputs, grad_outputs, create_graph, /*accumulate=*/true, {});
}

void backward(const std::vector<Tensor>& outputs, const GradReadyFn& on_grad_ready,
              const std::vector<Tensor>& grad_outputs, bool create_graph) {
  autograd::run_backward(outputs, grad_outputs, create_graph, /*accumulate=*/true, {}, on_grad_ready);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool create_graph, bool allow_unused) {
  std::vector<autograd::Edge> targets;
  for (const auto& in : inputs) {
    GAN_CHECK(in.requires_grad(), "grad: input " << in.str() << " does not require grad");
    targets.push_back(autograd::edge_of(in));
  }
  auto result = autograd::run_backward(outputs, grad_outputs, create_graph, /*accumulate=*/false, targets);
  for (size_t i = 0; i < result.size(); ++i) {
    if (!result[i].defined()) {
      GAN_CHECK(allow_unused, "grad: input " << i << " (" << inputs[i].str()
                                             << ") is not used by the outputs; pass allow_unused to get undefined");
    } else if (!create_graph) {
      result[i] = result[i].detach();
    }
  }
  return result;
}

void Tensor::backward(const Tensor& grad, bool create_graph) const {
  gan::backward({*this}, grad.defined() ? std::vector<Tensor>{grad} : std::vector<Tensor>{}, create_graph);
}

}  // namespace gan
