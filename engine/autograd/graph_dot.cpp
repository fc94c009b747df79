#include "engine/autograd/graph_dot.h"

#include <algorithm>
#include <map>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "engine/autograd/node.h"

namespace gan::autograd {

namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') {  // DOT's line break inside a quoted label
      out += "\\n";
      continue;
    }
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string shape_label(const Shape& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

std::shared_ptr<Node> node_of(const Tensor& t) {
  if (t.grad_fn()) return t.grad_fn();
  return grad_accumulator(t);
}

}  // namespace

std::string graph_to_dot(const std::vector<Tensor>& roots, const DotOptions& opts, DotStats* stats) {
  // Everything reachable from the roots, as backward() would find it.
  std::vector<std::shared_ptr<Node>> root_nodes;
  std::vector<Node*> root_ptrs;
  for (size_t i = 0; i < roots.size(); ++i) {
    GAN_CHECK(roots[i].defined() && roots[i].requires_grad(),
              "graph_to_dot: root " << i << " (" << (roots[i].defined() ? roots[i].str() : std::string("undefined"))
                                    << ") does not require grad, so it has no graph");
    root_nodes.push_back(node_of(roots[i]));
    root_ptrs.push_back(root_nodes.back().get());
  }
  // Recording order: stable across processes, unlike addresses or the global sequence counter.
  const std::vector<Node*> nodes = reachable_nodes(root_ptrs);
  std::unordered_map<Node*, size_t> id;
  for (size_t i = 0; i < nodes.size(); ++i) id[nodes[i]] = i;

  DotStats st;
  std::ostringstream os;
  os << "digraph autograd {\n";
  os << "  // forward direction: arrows carry tensors from producer to consumer; backward() walks them in reverse\n";
  os << "  rankdir=TB;\n";
  os << "  node [fontname=\"Helvetica\", fontsize=10];\n";
  os << "  edge [fontname=\"Helvetica\", fontsize=8, color=\"#555555\"];\n";
  if (!opts.title.empty()) os << "  labelloc=t;\n  label=\"" << escape(opts.title) << "\";\n";
  // Node declarations, grouped by cluster (clusters in order of their first node).
  std::vector<std::string> cluster_order;
  std::map<std::string, std::vector<size_t>> members;
  std::vector<size_t> loose;
  for (size_t i = 0; i < nodes.size(); ++i) {
    auto it = opts.clusters.find(nodes[i]);
    if (it == opts.clusters.end() || nodes[i]->is_accumulator()) {
      loose.push_back(i);
      continue;
    }
    if (!members.count(it->second)) cluster_order.push_back(it->second);
    members[it->second].push_back(i);
  }
  auto declare = [&](size_t i, const char* indent) {
    Node* n = nodes[i];
    std::string label;
    const char* style;
    if (n->is_accumulator()) {
      ++st.leaves;
      auto leaf = static_cast<AccumulateGrad*>(n)->leaf.lock();
      auto it = leaf ? opts.names.find(leaf.get()) : opts.names.end();
      label = (it != opts.names.end() ? it->second : std::string("leaf")) + "\n" + shape_label(n->outputs[0].shape);
      style = "shape=box, style=filled, fillcolor=\"#cfe2f3\"";
    } else {
      ++st.ops;
      label = n->name;
      for (const auto& o : n->outputs) label += "\n" + shape_label(o.shape);
      style = "shape=box, style=\"rounded,filled\", fillcolor=\"#fff2cc\"";
    }
    os << indent << "n" << i << " [label=\"" << escape(label) << "\", " << style << "];\n";
  };
  for (size_t c = 0; c < cluster_order.size(); ++c) {
    os << "  subgraph cluster_" << c << " {\n    label=\"" << escape(cluster_order[c])
       << "\";\n    style=dashed;\n    color=\"#999999\";\n";
    for (size_t i : members[cluster_order[c]]) declare(i, "    ");
    os << "  }\n";
  }
  for (size_t i : loose) declare(i, "  ");
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const auto& e : nodes[i]->next) {
      if (!e.fn) continue;
      ++st.edges;
      std::string label = shape_label(e.fn->outputs[e.input_nr].shape);
      if (e.fn->outputs.size() > 1) label = "out " + std::to_string(e.input_nr) + " " + label;
      // xlabel, not label: Graphviz's dot (2.43) loses labelled edges that leave a cluster for a
      // node outside any (a residual block's skip into its add) and then fails the whole drawing.
      os << "  n" << id.at(e.fn.get()) << " -> n" << i << " [xlabel=\"" << escape(label) << "\"];\n";
    }
  }
  for (size_t r = 0; r < roots.size(); ++r) {
    std::string name = r < opts.root_names.size() ? opts.root_names[r] : "output " + std::to_string(r);
    os << "  r" << r << " [label=\"" << escape(name + "\n" + shape_label(roots[r].shape()))
       << "\", shape=box, style=filled, fillcolor=\"#f4cccc\"];\n";
    os << "  n" << id.at(root_nodes[r].get()) << " -> r" << r << " [penwidth=2];\n";
  }
  os << "}\n";
  if (stats) *stats = st;
  return os.str();
}

}  // namespace gan::autograd
