//===- CustomFunction.cpp - autograd.Function's traced backward -----------===//
//
// The backward is traced while the trace is open: every node it makes has a
// serial past `firstSerial`. Those reachable from its gradients form the
// CustomVjp node's backward; anything older it reads (a saved input, a
// forward output, a weight) becomes an input of the node, so the region
// the emitter builds reads only its arguments.
//
//===----------------------------------------------------------------------===//

#include "ember/Frontend/CustomFunction.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

namespace ember {

namespace {
/// Open traces on this thread (a backward may apply another Function).
thread_local int openTraces = 0;
} // namespace

bool tracingCustomBackward() { return openTraces > 0; }

CustomFunctionTrace::CustomFunctionTrace(std::vector<Tensor> primalTensors,
                                         std::vector<Tensor> outputTensors)
    : primals(std::move(primalTensors)), outputs(std::move(outputTensors)) {
  // Read before the trace opens: a leaf updated in place is computed here,
  // while no placeholder exists that a sync could meet.
  for (const Tensor &primal : primals)
    primalNodes.push_back(primal.gradValue());
  for (const Tensor &output : outputs)
    outputNodes.push_back(output.plainValue());
  firstSerial = lastNodeSerial();
  ++openTraces;
  for (size_t k = 0; k < outputs.size(); ++k) {
    NodeRef placeholder =
        makeNode(OpCode::Placeholder, outputs[k].dtype(), outputs[k].shape());
    placeholder->device = deviceOf(outputs[k]);
    placeholder->ints = {static_cast<int64_t>(k)};
    cotangentTensors.push_back(fromNode(placeholder));
  }
}

CustomFunctionTrace::~CustomFunctionTrace() { abandon(); }

void CustomFunctionTrace::abandon() {
  if (open)
    --openTraces;
  open = false;
}

void CustomFunctionTrace::finish(llvm::ArrayRef<std::optional<Tensor>> gradients,
                                 llvm::ArrayRef<bool> differentiable,
                                 std::string name) {
  if (!open)
    runtimeError("internal error: a custom Function's backward trace was closed twice");
  abandon();
  auto backward = std::make_shared<CustomBackward>();
  backward->name = std::move(name);
  llvm::DenseSet<const Node *> placeholders;
  for (const Tensor &cotangent : cotangentTensors) {
    backward->cotangents.push_back(cotangent.impl->storage->pending);
    placeholders.insert(backward->cotangents.back().get());
  }

  // The backward's own nodes, inputs first; older nodes it reads.
  auto isOwn = [&](const Node *node) {
    return node->serial > firstSerial && node->op != OpCode::Input &&
           !placeholders.count(node);
  };
  std::vector<NodeRef> outer;
  llvm::DenseSet<const Node *> seen;
  auto noteOuter = [&](const NodeRef &node) {
    if (!placeholders.count(node.get()) && seen.insert(node.get()).second)
      outer.push_back(node);
  };
  std::vector<NodeRef> grads;
  for (const std::optional<Tensor> &gradient : gradients)
    grads.push_back(!gradient ? nullptr
                    : gradient->impl->history ? gradient->impl->history
                                              : gradient->plainValue());
  for (const NodeRef &root : grads) {
    if (!root)
      continue;
    if (!isOwn(root.get())) {
      noteOuter(root);
      continue;
    }
    if (!seen.insert(root.get()).second)
      continue;
    std::vector<std::pair<NodeRef, size_t>> stack{{root, 0}};
    while (!stack.empty()) {
      auto &[node, next] = stack.back();
      if (next < node->inputs.size()) {
        NodeRef input = node->inputs[next++];
        if (!isOwn(input.get()))
          noteOuter(input);
        else if (seen.insert(input.get()).second)
          stack.push_back({input, 0});
        continue;
      }
      if (node->op == OpCode::Grad)
        runtimeError("the backward of a custom autograd.Function cannot call "
                     "backward() or autograd.grad() (it is traced into the "
                     "compiled program)");
      backward->nodes.push_back(node);
      stack.pop_back();
    }
  }

  // Inputs of the node: primals that got a gradient, the forward outputs,
  // then the other values the backward reads (a primal without gradient
  // among them, read as a value).
  std::vector<NodeRef> inputs;
  llvm::DenseSet<const Node *> listed;
  for (size_t p = 0; p < primals.size(); ++p)
    if (grads[p]) {
      inputs.push_back(primalNodes[p]);
      backward->gradients.push_back(grads[p]);
    }
  int64_t primalCount = inputs.size();
  for (const NodeRef &output : outputNodes)
    inputs.push_back(output);
  for (const NodeRef &node : inputs)
    listed.insert(node.get());
  for (const NodeRef &node : outer)
    if (listed.insert(node.get()).second)
      inputs.push_back(node);

  NodeRef custom = makeNode(OpCode::CustomVjp, outputNodes[0]->dtype,
                            outputNodes[0]->shape, inputs);
  custom->ints = {primalCount, static_cast<int64_t>(outputNodes.size())};
  custom->custom = std::move(backward);
  custom->requiresGrad = true;
  for (size_t k = 0; k < outputs.size(); ++k) {
    if (k < differentiable.size() && !differentiable[k])
      continue;
    NodeRef result = makeNode(OpCode::CustomVjpResult, outputNodes[k]->dtype,
                              outputNodes[k]->shape, {custom});
    result->ints = {static_cast<int64_t>(k)};
    result->requiresGrad = true;
    outputs[k].impl->requiresGrad = true;
    outputs[k].impl->history = std::move(result);
  }
}

} // namespace ember
