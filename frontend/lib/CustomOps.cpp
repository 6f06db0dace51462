//===- CustomOps.cpp - trace C++ custom ops -------------------------------===//

#include "ember/Frontend/CustomOps.h"
#include "ember/Frontend/Error.h"
#include "ember/Runtime/CustomOpRegistry.h"

#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>

namespace ember {

namespace {

std::mutex namesMutex;
std::map<int64_t, std::string> &namesByHash() {
  static auto *names = new std::map<int64_t, std::string>;
  return *names;
}

int64_t fnv1a(const std::string &s) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : s) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return static_cast<int64_t>(hash);
}

} // namespace

const std::string &customOpNameOfHash(int64_t hash) {
  std::lock_guard<std::mutex> lock(namesMutex);
  return namesByHash().at(hash);
}

std::vector<Tensor> customOp(const std::string &name,
                             const std::vector<Tensor> &inputs,
                             const std::vector<double> &attrs) {
  const CustomOpInfo *op = findCustomOp(name);
  if (!op)
    runtimeError("no custom op named '" + name + "' is registered (load its "
                 "library with ember.utils.cpp_extension.load or "
                 "ember.ops.load_library)");
  if (attrs.size() != op->attrNames.size())
    runtimeError(name + ": expected " + std::to_string(op->attrNames.size()) +
                 " attribute value(s), got " + std::to_string(attrs.size()));
  std::vector<EmberTensorType> types;
  std::vector<NodeRef> values;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor &input = inputs[i];
    Backend device = deviceOf(input);
    if (device != deviceOf(inputs[0]))
      runtimeError(name + ": expected all inputs on one device, input 0 is on " +
                   backendDeviceType(deviceOf(inputs[0])) + " and input " +
                   std::to_string(i) + " on " + backendDeviceType(device));
    bool hasKernel = device == Backend::Cpu ||
                     (device == Backend::Vulkan && op->hasVulkan) ||
                     (device == Backend::Cuda && op->hasCuda);
    if (!hasKernel)
      runtimeError(name + ": has no kernel for " + backendDeviceType(device) +
                   " tensors (its library registers " +
                   (op->hasVulkan ? "a Vulkan kernel" : op->hasCuda ? "a CUDA kernel"
                                                                    : "a CPU kernel only") +
                   "; move the inputs with .cpu())");
    if (input.dim() > EMBER_CUSTOM_OP_MAX_RANK)
      runtimeError(name + ": inputs of rank above " +
                   std::to_string(EMBER_CUSTOM_OP_MAX_RANK) + " are not supported");
    EmberTensorType type{static_cast<int32_t>(input.dtype()),
                         static_cast<int32_t>(input.dim()), {}};
    for (int64_t d = 0; d < input.dim(); ++d)
      type.sizes[d] = input.shape()[d];
    types.push_back(type);
    values.push_back(input.value());
  }
  std::vector<EmberTensorType> outputs;
  try {
    outputs = inferCustomOpTypes(*op, types, attrs);
  } catch (const std::runtime_error &error) {
    runtimeError(error.what());
  }
  auto shapeOf = [](const EmberTensorType &type) {
    return Shape(type.sizes, type.sizes + type.rank);
  };
  int64_t hash = fnv1a(name);
  {
    std::lock_guard<std::mutex> lock(namesMutex);
    auto [it, inserted] = namesByHash().try_emplace(hash, name);
    if (!inserted && it->second != name)
      runtimeError(name + ": its name's hash collides with custom op '" +
                   it->second + "'; rename one of them");
  }
  NodeRef node = makeNode(OpCode::CustomCall, static_cast<DType>(outputs[0].dtype),
                          shapeOf(outputs[0]), values);
  node->ints.push_back(hash);
  for (double value : attrs) {
    int64_t bits;
    std::memcpy(&bits, &value, sizeof(bits));
    node->ints.push_back(bits);
  }
  // The other outputs' types as the emitter states them: dtype, rank and
  // which dims are 1 (the rest are dynamic, as in every pattern).
  for (size_t k = 1; k < outputs.size(); ++k) {
    int64_t ones = 0;
    for (int32_t d = 0; d < outputs[k].rank; ++d)
      if (outputs[k].sizes[d] == 1)
        ones |= int64_t(1) << d;
    node->ints.append({outputs[k].dtype, outputs[k].rank, ones});
  }
  std::vector<Tensor> results = {fromNode(node)};
  for (size_t k = 1; k < outputs.size(); ++k) {
    NodeRef result = makeNode(OpCode::CustomVjpResult,
                              static_cast<DType>(outputs[k].dtype),
                              shapeOf(outputs[k]), {node});
    result->ints = {static_cast<int64_t>(k)};
    results.push_back(fromNode(result));
  }
  return results;
}

} // namespace ember
