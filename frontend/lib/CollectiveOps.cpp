//===- CollectiveOps.cpp - trace collectives ------------------------------===//
//
// ember.distributed.all_reduce on a pending CPU tensor reaches the tracer as
// one ember.all_reduce node (python/ember/distributed/_graph.py decides),
// so that a training step's gradient all-reduce is part of the step's one
// compiled program. The reduce op and the group number are the node's ints,
// hence part of the compile cache key.
//
//===----------------------------------------------------------------------===//

#include "ember/Frontend/Error.h"
#include "ember/Frontend/Tensor.h"
#include "ember/Runtime/ElementType.h"

namespace ember {

Tensor allReduce(const Tensor &input, int64_t reduceOp, int64_t group) {
  if (input.dtype() == ElementType::Bool)
    runtimeError("all_reduce: a bool tensor cannot be reduced in a compiled "
                 "program");
  if (reduceOp < 0 || reduceOp > 4)
    runtimeError("all_reduce: unknown reduce op " + std::to_string(reduceOp));
  if (reduceOp == 1 && !isFloating(input.dtype()))
    runtimeError(std::string("all_reduce: ReduceOp.AVG needs a floating "
                             "dtype, got ") +
                 elementTypeTorchName(input.dtype()));
  if (group < 0)
    runtimeError("all_reduce: process group number " + std::to_string(group) +
                 " is not valid");
  NodeRef node = makeNode(OpCode::AllReduce, input.dtype(), input.shape(),
                          {input.value()});
  node->ints = {reduceOp, group};
  return fromNode(node);
}

} // namespace ember
