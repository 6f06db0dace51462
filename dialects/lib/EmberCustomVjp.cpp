//===- EmberCustomVjp.cpp - custom_vjp: a user-written backward -----------===//
//
// `ember.custom_vjp` carries the values of an autograd.Function and, in its
// region, the user's backward traced into ember ops. Its VJP is that region,
// inlined with the real cotangents, so the gradient program computes what
// the user wrote, not the derivative of the forward.
//
//===----------------------------------------------------------------------===//

#include "ember/Dialect/EmberOps.h"

#include "mlir/IR/IRMapping.h"

using namespace mlir;
using namespace ember;

LogicalResult CustomVjpOp::verify() {
  int64_t primals = getNumPrimals();
  unsigned operands = getInputs().size(), results = getNumResults();
  if (primals < 0 || primals + results > operands)
    return emitOpError("needs ")
           << primals << " primals and " << results
           << " forward outputs among its operands, but has " << operands;
  for (unsigned i = 0; i < results; ++i)
    if (getForwardOutput(i).getType() != getResult(i).getType())
      return emitOpError("result #")
             << i << " has type " << getResult(i).getType()
             << " but the forward output it carries has type "
             << getForwardOutput(i).getType();
  Block &body = getBackward().front();
  if (body.getNumArguments() != operands + results)
    return emitOpError("backward region needs ")
           << operands + results << " arguments (one per operand, then one "
           << "cotangent per result), but has " << body.getNumArguments();
  for (unsigned i = 0; i < operands; ++i)
    if (body.getArgument(i).getType() != getInputs()[i].getType())
      return emitOpError("backward argument #")
             << i << " has type " << body.getArgument(i).getType()
             << " but operand #" << i << " has type " << getInputs()[i].getType();
  for (unsigned i = 0; i < results; ++i)
    if (body.getArgument(operands + i).getType() != getResult(i).getType())
      return emitOpError("cotangent argument #")
             << i << " has type " << body.getArgument(operands + i).getType()
             << " but result #" << i << " has type " << getResult(i).getType();
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield)
    return emitOpError("backward region must end in ember.yield");
  if (yield.getValues().size() != static_cast<size_t>(primals))
    return emitOpError("backward yields ")
           << yield.getValues().size() << " gradients for " << primals
           << " primals";
  for (int64_t i = 0; i < primals; ++i)
    if (yield.getValues()[i].getType() != getInputs()[i].getType())
      return emitOpError("gradient #")
             << i << " has type " << yield.getValues()[i].getType()
             << " but primal #" << i << " has type " << getInputs()[i].getType();
  return success();
}

LogicalResult CustomVjpOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                    SmallVectorImpl<Value> &gradients) {
  Block &body = getBackward().front();
  unsigned primals = getNumPrimals(), operands = getInputs().size();
  IRMapping mapping;
  for (unsigned i = 0; i < operands; ++i) {
    bool forwardOutput = i >= primals && i < primals + getNumResults();
    // A saved output is this op's result, so that a second derivative goes
    // through the user's backward again (as torch's saved outputs do).
    mapping.map(body.getArgument(i),
                forwardOutput ? getResult(i - primals) : getInputs()[i]);
  }
  for (auto [i, cotangent] : llvm::enumerate(cotangents))
    mapping.map(body.getArgument(operands + i), cotangent);
  for (Operation &op : body.without_terminator())
    b.clone(op, mapping);
  auto yield = cast<YieldOp>(body.getTerminator());
  for (unsigned i = 0; i < operands; ++i)
    gradients.push_back(i < primals ? mapping.lookupOrDefault(yield.getValues()[i])
                                    : Value());
  return success();
}
