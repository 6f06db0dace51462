//===- EmberCustomCall.cpp - custom_call: a registered C++ op -------------===//
//
// The dialect knows nothing of the registry (a program may be parsed where
// the op's library is not loaded, e.g. by ember-opt): it checks only what
// the runtime's calling convention needs (CustomOpRegistry.h).
//
//===----------------------------------------------------------------------===//

#include "ember/Dialect/EmberOps.h"

using namespace mlir;
using namespace ember;

namespace {
/// EMBER_CUSTOM_OP_MAX_RANK (ember/Runtime/CustomOp.h).
constexpr int64_t kMaxRank = 8;
} // namespace

LogicalResult CustomCallOp::verify() {
  StringRef callee = getCallee();
  auto [ns, name] = callee.split("::");
  if (ns.empty() || name.empty() || name.contains(':'))
    return emitOpError("callee '") << callee << "' is not \"namespace::op\"";
  for (NamedAttribute attr : getOpAttributes()) {
    auto value = dyn_cast<FloatAttr>(attr.getValue());
    if (!value || !value.getType().isF64())
      return emitOpError("op_attributes: '")
             << attr.getName().getValue() << "' is not an f64 value";
  }
  if (getOutputs().empty())
    return emitOpError("has no results");
  SmallVector<Type> types(getInputs().getTypes());
  llvm::append_range(types, getOutputs().getTypes());
  for (Type type : types)
    if (cast<RankedTensorType>(type).getRank() > kMaxRank)
      return emitOpError("has a tensor of rank above ") << kMaxRank;
  return success();
}
