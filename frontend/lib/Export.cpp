//===- Export.cpp - tracing a function into a portable program -------------===//

#include "ember/Frontend/Export.h"

#include "GraphCompiler.h"

#include "llvm/ADT/DenseMap.h"

#include <cstdio>

namespace ember {
namespace {

/// Per thread: an export trace in one thread must not stop other threads
/// from reading their values.
thread_local bool exportingFlag = false;

/// The graph behind `outputs`, and for each plan input which argument it
/// is: an input, a weight, or a constant (appended to `constants`).
struct ExportGraph {
  GraphPlan plan;
  std::vector<NodeRef> keepAlive;
  std::vector<int> argumentOfInput;
  std::vector<Tensor> constants;
};

ExportGraph collect(const std::vector<Tensor> &outputs,
                    const std::vector<Tensor> &inputs,
                    const std::vector<Tensor> &weights) {
  ExportGraph graph;
  // Each argument's buffer; a buffer passed twice maps to its first place.
  llvm::DenseMap<const Buffer *, int> argumentOfBuffer;
  auto addArgument = [&](const Tensor &tensor, const char *what, size_t i,
                         int argument) {
    Storage &storage = tensor.storage();
    if (storage.pending || !storage.buffer || !tensor.isBase())
      runtimeError(std::string("ember.export: ") + what + " " + std::to_string(i) +
                   " must be a computed tensor that is not a view");
    return argumentOfBuffer.try_emplace(storage.buffer.get(), argument).second;
  };
  for (size_t i = 0; i < inputs.size(); ++i)
    if (!addArgument(inputs[i], "input", i, static_cast<int>(i)))
      runtimeError("ember.export: input " + std::to_string(i) +
                   " is the same tensor as an earlier input; pass distinct tensors");
  for (size_t i = 0; i < weights.size(); ++i)
    addArgument(weights[i], "weight", i, static_cast<int>(inputs.size() + i));

  for (const Tensor &output : outputs) {
    NodeRef node = output.value();
    graph.keepAlive.push_back(node);
    graph.plan.outputs.push_back(node.get());
  }
  collectGraph(graph.plan.outputs, graph.plan);

  size_t fixedArguments = inputs.size() + weights.size();
  for (Node *input : graph.plan.inputs) {
    auto it = argumentOfBuffer.find(input->buffer.get());
    if (it != argumentOfBuffer.end()) {
      graph.argumentOfInput.push_back(it->second);
      continue;
    }
    // A tensor the function created or captured: stored as a weight.
    auto storage = std::make_shared<Storage>();
    storage->dtype = input->dtype;
    storage->shape = input->shape;
    storage->buffer = input->buffer;
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = std::move(storage);
    impl->dtype = input->dtype;
    impl->shape = input->shape;
    impl->strides = contiguousStrides(input->shape);
    graph.argumentOfInput.push_back(
        static_cast<int>(fixedArguments + graph.constants.size()));
    graph.constants.push_back(Tensor(std::move(impl)));
  }
  return graph;
}

/// How error messages name a node: "reshape at model.py:12".
std::string nodeName(const Node &node) {
  std::string name = opName(node.op);
  if (node.op == OpCode::Constant) {
    char value[32];
    if (isFloating(node.dtype))
      snprintf(value, sizeof(value), " %g", node.f);
    else
      snprintf(value, sizeof(value), " %lld", static_cast<long long>(node.i));
    name += value;
  }
  if (node.loc.file)
    name += " at " + *node.loc.file + ":" + std::to_string(node.loc.line);
  return name;
}

} // namespace

void setExporting(bool exporting) { exportingFlag = exporting; }
bool exporting() { return exportingFlag; }

ExportTrace describeExportTrace(const std::vector<Tensor> &outputs,
                                const std::vector<Tensor> &inputs,
                                const std::vector<Tensor> &weights) {
  ExportGraph graph = collect(outputs, inputs, weights);
  ExportTrace trace;
  GraphDescriptionMap map;
  describeGraph(graph.plan, trace.key, trace.sizes, &map);
  trace.nodeHashes = std::move(map.nodeHashes);
  for (const Node *node : graph.plan.nodes)
    trace.nodeNames.push_back(nodeName(*node));
  for (const Node *owner : map.slotOwners) {
    trace.slotOwners.push_back(nodeName(*owner));
    trace.slotIsScalar.push_back(isRuntimeScalar(*owner));
  }
  // Which plan input is which argument is part of the program.
  trace.key.insert(trace.key.end(), graph.argumentOfInput.begin(),
                   graph.argumentOfInput.end());
  for (Node *output : graph.plan.outputs) {
    trace.outputShapes.push_back(output->shape);
    trace.outputDTypes.push_back(output->dtype);
  }
  trace.constants = std::move(graph.constants);
  return trace;
}

std::string exportProgram(const std::vector<Tensor> &outputs,
                          const std::vector<Tensor> &inputs,
                          const std::vector<Tensor> &weights,
                          const std::vector<Shape> &inputDims,
                          const std::vector<ExportSizeExpr> &sizes,
                          const std::vector<Shape> &outputDims,
                          const std::string &name) {
  ExportGraph graph = collect(outputs, inputs, weights);
  ExportSignature signature;
  signature.name = name;
  for (size_t i = 0; i < inputs.size(); ++i)
    signature.arguments.push_back({inputs[i].dtype(), inputDims.at(i)});
  for (const Tensor &weight : weights)
    signature.arguments.push_back({weight.dtype(), weight.shape()});
  for (const Tensor &constant : graph.constants)
    signature.arguments.push_back({constant.dtype(), constant.shape()});
  signature.argumentOfInput = graph.argumentOfInput;
  for (const ExportSizeExpr &expr : sizes) {
    ExportSignature::SizeExpr slot;
    slot.constant = expr.constant;
    for (const ExportSizeTerm &term : expr.terms)
      slot.terms.push_back({term.input, term.dim, term.coefficient});
    signature.sizes.push_back(std::move(slot));
  }
  signature.outputs = outputDims;
  std::string error;
  std::string bytecode = exportGraph(graph.plan, signature, &error);
  if (bytecode.empty())
    runtimeError("ember.export: " + error);
  return bytecode;
}

std::string programText(const std::string &bytecode) {
  std::string error;
  std::string text = exportGraphText(bytecode, &error);
  if (text.empty())
    runtimeError(error);
  return text;
}

} // namespace ember
