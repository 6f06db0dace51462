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
#include <map>
#include <unordered_map>

namespace ember {
// The frontend's answers for pictures, declared in its private
// frontend/lib/GraphCompiler.h (see there); repeated here rather than in a
// public header, whose every change rebuilds all of the bindings.
bool graphCutOf(const Buffer *buffer, std::string *reason, std::string *where);
std::vector<std::pair<std::string, std::vector<const Node *>>>
compiledKernelsOf(const std::vector<Node *> &roots, Backend device);
} // namespace ember

namespace ember::python {

namespace {

py::object cutOf(const Node &node) {
  if (node.op != OpCode::Input || !node.buffer)
    return py::none();
  std::string reason, where;
  if (!graphCutOf(node.buffer.get(), &reason, &where))
    return py::none();
  return py::make_tuple(reason, where);
}

/// The graph behind some tensors, inputs before users: `order` numbers the
/// nodes (`ids`), `outputs` are the tensors' nodes' ids.
struct GraphWalk {
  std::vector<NodeRef> roots;
  std::unordered_map<const Node *, size_t> ids;
  std::vector<const Node *> order;
  std::vector<size_t> outputs;

  explicit GraphWalk(const std::vector<Tensor> &tensors) {
    std::vector<std::pair<const Node *, size_t>> stack;
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
  }
};

} // namespace

void bindDebug(py::module_ &m) {
  // Per node: (id, op, dtype, shape, input ids, file, line, is_computed,
  // requires_grad, constant, cut). A node's id is its position in the list;
  // `cut` is (reason, "file:line") for a value an earlier graph computed
  // where the trace was cut, else None.
  m.def("_graph_nodes", [](const std::vector<Tensor> &tensors) {
    GraphWalk walk(tensors);
    std::unordered_map<const Node *, size_t> &ids = walk.ids;
    std::vector<const Node *> &order = walk.order;
    std::vector<size_t> &outputs = walk.outputs;
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
          node->op == OpCode::Constant ? py::object(py::float_(node->f)) : py::none(),
          cutOf(*node)));
    }
    return py::make_tuple(nodes, outputs);
  });
  // The kernels the graph behind `tensors` compiles to on their devices (one
  // graph per device, as they would run): per kernel, (name of its profiler
  // spans, ids of _graph_nodes' nodes whose ops it computes). Compiles,
  // runs nothing.
  m.def("_graph_kernels", [](const std::vector<Tensor> &tensors) {
    GraphWalk walk(tensors);
    std::map<Backend, std::vector<Node *>> rootsByDevice;
    for (size_t i = 0; i < tensors.size(); ++i)
      rootsByDevice[tensors[i].storage().device].push_back(walk.roots[i].get());
    py::list kernels;
    for (const auto &[device, roots] : rootsByDevice)
      for (const auto &[symbol, members] : compiledKernelsOf(roots, device)) {
        std::vector<size_t> ids;
        for (const Node *node : members)
          if (auto it = walk.ids.find(node); it != walk.ids.end())
            ids.push_back(it->second);
        kernels.append(py::make_tuple(symbol, ids));
      }
    return kernels;
  });
}

} // namespace ember::python
