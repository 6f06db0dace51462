//===- Autograd.cpp - requires_grad, backward, autograd.grad ---------------===//
//
// Autograd records no tape of closures: the lazy graph is the history. A
// backward request adds `Grad` nodes (d root / d value, seeded by a
// cotangent) to the graph; when the graph is compiled, the ember-autodiff
// transformation expands them into the gradient program, so forward,
// backward and an optimizer update that uses the gradients become one
// compiled program.
//
//===----------------------------------------------------------------------===//

#include "ember/Frontend/Tensor.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallPtrSet.h"

namespace ember {

void setRequiresGrad(const Tensor &x, bool requiresGrad) {
  if (!x.isLeaf())
    runtimeError("you can only change requires_grad flags of leaf variables. "
                 "If you want to use a computed variable in a subgraph that "
                 "doesn't require differentiation use var_no_grad = "
                 "var.detach().");
  if (requiresGrad && !isFloating(x.dtype()))
    runtimeError("only Tensors of floating point dtype can require "
                 "gradients (got " +
                 std::string(elementTypeName(x.dtype())) + ")");
  x.impl->requiresGrad = requiresGrad;
}

Tensor detach(const Tensor &x) {
  auto impl = std::make_shared<TensorImpl>(*x.impl);
  impl->requiresGrad = false;
  impl->history.reset();
  impl->grad.reset();
  impl->leafMarker.reset();
  impl->leafSource.reset();
  return Tensor(std::move(impl));
}

namespace {

/// What a backward pass walks: the nodes that require grad behind `root`.
struct Walk {
  std::vector<Node *> nodes;
  /// Leaf markers found, in order of discovery.
  std::vector<NodeRef> leaves;
};

void walkHistory(const NodeRef &root, Walk &walk,
                 llvm::SmallPtrSetImpl<Node *> &seen) {
  std::vector<NodeRef> stack{root};
  while (!stack.empty()) {
    NodeRef ref = std::move(stack.back());
    stack.pop_back();
    Node *node = ref.get();
    if (!node->requiresGrad || !seen.insert(node).second)
      continue;
    if (node->freed)
      runtimeError("Trying to backward through the graph a second time (or "
                   "directly access saved tensors after they have already "
                   "been freed). Specify retain_graph=True if you need to "
                   "backward through the graph a second time or if you need "
                   "to access saved tensors after calling backward.");
    walk.nodes.push_back(node);
    if (!node->leaf.expired()) {
      walk.leaves.push_back(ref);
      continue; // a leaf's own value has no history to follow
    }
    for (const NodeRef &input : node->inputs)
      stack.push_back(input);
  }
}

/// The cotangent that seeds d(output): `gradient`, or ones for a scalar.
NodeRef seedFor(const Tensor &output, const std::optional<Tensor> &gradient,
                size_t position, bool createGraph) {
  if (!output.requiresGrad())
    runtimeError("element " + std::to_string(position) +
                 " of tensors does not require grad and does not have a "
                 "grad_fn");
  if (gradient) {
    if (gradient->shape() != output.shape())
      runtimeError("Mismatch in shape: grad_output[" +
                   std::to_string(position) + "] has a shape of " +
                   shapeString(gradient->shape()) + " and output[" +
                   std::to_string(position) + "] has a shape of " +
                   shapeString(output.shape()) + ".");
    Tensor seed = cast(*gradient, output.dtype());
    return createGraph ? seed.value() : seed.plainValue();
  }
  if (output.numel() != 1)
    runtimeError("grad can be implicitly created only for scalar outputs "
                 "(output shape " +
                 shapeString(output.shape()) + ")");
  Tensor ones = toDevice(full(output.shape(), Scalar::fromInt(1), output.dtype()),
                         deviceOf(output));
  return ones.plainValue();
}

/// Grad nodes for d(sum of outputs . seeds)/d(value) for each of `wrt`;
/// null where a value does not influence the outputs.
std::vector<NodeRef> gradientNodes(llvm::ArrayRef<Tensor> outputs,
                                   llvm::ArrayRef<NodeRef> seeds,
                                   llvm::ArrayRef<NodeRef> wrt,
                                   bool retainGraph, bool createGraph) {
  std::vector<NodeRef> result(wrt.size());
  std::vector<Node *> visited;
  for (size_t o = 0; o < outputs.size(); ++o) {
    NodeRef root = outputs[o].gradValue();
    Walk walk;
    llvm::SmallPtrSet<Node *, 32> seen;
    walkHistory(root, walk, seen);
    visited.insert(visited.end(), walk.nodes.begin(), walk.nodes.end());
    for (size_t w = 0; w < wrt.size(); ++w) {
      if (!seen.count(wrt[w].get()))
        continue;
      bool wasEnabled = gradEnabled();
      setGradEnabled(createGraph);
      NodeRef g = makeNode(OpCode::Grad, wrt[w]->dtype, wrt[w]->shape,
                           {root, seeds[o], wrt[w]});
      g->requiresGrad = createGraph;
      result[w] = result[w] ? makeNode(OpCode::Add, g->dtype, g->shape,
                                       {result[w], g})
                            : g;
      setGradEnabled(wasEnabled);
    }
  }
  if (!retainGraph)
    for (Node *node : visited)
      if (node->leaf.expired()) // leaf markers hold no saved values
        node->freed = true;
  return result;
}

} // namespace

void backward(const Tensor &output, std::optional<Tensor> gradient,
              bool retainGraph, bool createGraph) {
  NodeRef seed = seedFor(output, gradient, 0, createGraph);
  Walk walk;
  llvm::SmallPtrSet<Node *, 32> seen;
  walkHistory(output.gradValue(), walk, seen);

  // One gradient per leaf tensor, summed over the markers standing for it
  // (a leaf read before and after an in-place update has two).
  llvm::DenseMap<TensorImpl *, std::vector<size_t>> byLeaf;
  std::vector<std::shared_ptr<TensorImpl>> leaves;
  std::vector<NodeRef> wrt;
  for (const NodeRef &marker : walk.leaves) {
    std::shared_ptr<TensorImpl> leaf = marker->leaf.lock();
    if (!leaf || !leaf->requiresGrad)
      continue;
    auto [it, inserted] = byLeaf.try_emplace(leaf.get());
    if (inserted)
      leaves.push_back(leaf);
    it->second.push_back(wrt.size());
    wrt.push_back(marker);
  }
  std::vector<NodeRef> grads =
      gradientNodes({output}, {seed}, wrt, retainGraph, createGraph);

  for (const std::shared_ptr<TensorImpl> &leaf : leaves) {
    NodeRef sum;
    for (size_t i : byLeaf[leaf.get()])
      if (grads[i])
        sum = sum ? makeNode(OpCode::Add, sum->dtype, sum->shape, {sum, grads[i]})
                  : grads[i];
    if (!sum)
      continue;
    bool wasEnabled = gradEnabled();
    setGradEnabled(createGraph);
    if (leaf->grad) {
      Tensor accumulated(leaf->grad);
      sum = makeNode(OpCode::Add, sum->dtype, sum->shape,
                     {accumulated.value(), sum});
    }
    Tensor grad = fromNode(sum);
    setGradEnabled(wasEnabled);
    leaf->grad = grad.impl;
  }
}

std::vector<std::optional<Tensor>>
gradients(llvm::ArrayRef<Tensor> outputs, llvm::ArrayRef<Tensor> inputs,
          llvm::ArrayRef<std::optional<Tensor>> gradOutputs, bool retainGraph,
          bool createGraph, bool allowUnused) {
  std::vector<NodeRef> seeds;
  for (size_t i = 0; i < outputs.size(); ++i)
    seeds.push_back(seedFor(outputs[i],
                            i < gradOutputs.size() ? gradOutputs[i]
                                                   : std::nullopt,
                            i, createGraph));
  std::vector<NodeRef> wrt;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].requiresGrad())
      runtimeError("One of the differentiated Tensors (input " +
                   std::to_string(i) + ") does not require grad");
    wrt.push_back(inputs[i].gradValue());
  }
  std::vector<NodeRef> grads =
      gradientNodes(outputs, seeds, wrt, retainGraph, createGraph);
  std::vector<std::optional<Tensor>> result;
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!grads[i]) {
      if (!allowUnused)
        runtimeError("One of the differentiated Tensors (input " +
                     std::to_string(i) +
                     ") appears to not have been used in the graph. Set "
                     "allow_unused=True if this is the desired behavior.");
      result.push_back(std::nullopt);
      continue;
    }
    result.push_back(fromNode(grads[i]));
  }
  return result;
}

std::string gradFnName(const Tensor &x) {
  if (!x.impl->history)
    return "";
  // An autograd.Function's outputs: torch names them after the class.
  // (A multi-output custom_call's results share the op code, not a name.)
  if (x.impl->history->op == OpCode::CustomVjpResult &&
      x.impl->history->inputs[0]->custom)
    return x.impl->history->inputs[0]->custom->name;
  // torch's names: the op in CamelCase + "Backward0".
  std::string name;
  bool upper = true;
  for (const char *c = opName(x.impl->history->op); *c; ++c) {
    if (*c == '_') {
      upper = true;
      continue;
    }
    name += upper ? static_cast<char>(toupper(*c)) : *c;
    upper = false;
  }
  return name + "Backward0";
}

} // namespace ember
