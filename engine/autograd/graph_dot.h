// The recorded autograd graph as a Graphviz DOT picture.
//
// What backward() will walk, drawn in the forward direction: one box per op (its recorded name
// and output shapes), one arrow per tensor flowing from the op that made it to the op that used
// it, labelled with the tensor's shape. Leaves that require grad (parameters) appear as the
// accumulators their gradients land in, named from `DotOptions::names` when given. An op input
// that needs no gradient (data, a detached tensor) has no node and no arrow: this is how a
// detach() shows up, as a place where the graph stops. The roots get one node each.
//
// The output is deterministic: nodes are numbered in recording order relative to each other, so
// the same computation gives the same text in any process.
//
//   std::map<const TensorImpl*, std::string> names;
//   for (auto& [n, p] : net.named_parameters()) names[p.impl_ptr().get()] = n;
//   std::string dot = autograd::graph_to_dot({loss}, {.names = names, .root_names = {"loss"}});
//   // dot -Tsvg graph.dot -o graph.svg
#pragma once
#include <map>
#include <string>
#include <vector>

#include "engine/core/tensor.h"

namespace gan::autograd {

struct Node;

struct DotOptions {
  std::map<const TensorImpl*, std::string> names;  // leaf tensor -> label (parameter name)
  std::vector<std::string> root_names;             // one per root; "output i" when absent
  std::string title;                               // graph label, drawn at the top
  // Ops to draw inside a labelled box (Graphviz cluster), e.g. the layers of one network pass.
  std::map<const Node*, std::string> clusters;
};

struct DotStats {
  int64_t ops = 0;          // function nodes
  int64_t leaves = 0;       // gradient accumulators (parameters and other leaves)
  int64_t edges = 0;        // arrows between op/leaf nodes (the arrows into root nodes not counted)
};

// Graph reachable from `roots` (each must require grad). `stats`, when given, receives counts.
std::string graph_to_dot(const std::vector<Tensor>& roots, const DotOptions& opts = {}, DotStats* stats = nullptr);

}  // namespace gan::autograd
