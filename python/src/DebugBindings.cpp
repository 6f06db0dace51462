//===- DebugBindings.cpp - the lazy graph as data, for ember.debug.draw ---===//
//
// `_graph_nodes(tensors)`: the pending graph behind some tensors, inputs
// before users, as plain tuples that python/ember/debug.py draws.
//
//===----------------------------------------------------------------------===//

#include "Conversions.h"

#include "ember/Frontend/Graph.h"
#include "ember/Frontend/Tensor.h"

#include <pybind11/stl.h>

#include <algorithm>
#include <unordered_map>

namespace ember::python {

void bindDebug(py::module_ &m) {
  // Per node: (id, op, dtype, shape, input ids, file, line, is_computed,
  // requires_grad). A node's id is its position in the list.
  m.def("_graph_nodes", [](const std::vector<Tensor> &tensors) {
    std::unordered_map<const Node *, size_t> ids;
    std::vector<const Node *> order;
    std::vector<std::pair<const Node *, size_t>> stack;
    std::vector<size_t> outputs;
    std::vector<NodeRef> roots;
    for (const Tensor &tensor : tensors) {
      Storage &storage = tensor.storage();
      roots.push_back(storage.pending ? storage.pending : tensor.plainValue());
    }
    for (const NodeRef &root : roots) {
      if (!ids.count(root.get())) {
        stack.push_back({root.get(), 0});
        while (!stack.empty()) {
          auto &[node, next] = stack.back();
          if (next < node->inputs.size()) {
            const Node *input = node->inputs[next++].get();
            if (!ids.count(input) &&
                std::none_of(stack.begin(), stack.end(),
                             [&](const auto &entry) { return entry.first == input; }))
              stack.push_back({input, 0});
            continue;
          }
          ids[node] = order.size();
          order.push_back(node);
          stack.pop_back();
        }
      }
      outputs.push_back(ids[root.get()]);
    }
    py::list nodes;
    for (const Node *node : order) {
      std::vector<size_t> inputs;
      for (const NodeRef &input : node->inputs)
        inputs.push_back(ids[input.get()]);
      nodes.append(py::make_tuple(
          ids[node], opName(node->op), elementTypeName(node->dtype),
          std::vector<int64_t>(node->shape.begin(), node->shape.end()), inputs,
          node->loc.file ? *node->loc.file : std::string(), node->loc.line,
          node->op == OpCode::Input && node->buffer != nullptr, node->requiresGrad,
          node->op == OpCode::Constant ? py::object(py::float_(node->f)) : py::none()));
    }
    return py::make_tuple(nodes, outputs);
  });
}

} // namespace ember::python
