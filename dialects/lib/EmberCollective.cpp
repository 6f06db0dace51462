//===- EmberCollective.cpp - collectives: verifier and VJP ----------------===//
//
// ember.all_reduce. Its VJP: y = sum over ranks of x_r, so every rank's
// x_r receives the sum over ranks of the cotangents of y (each rank's loss
// depends on every rank's input): the all-reduce (sum) of the cotangent;
// for avg, the avg of the cotangents. Min, max and product are not
// differentiated (torch.distributed's all_reduce has no autograd either;
// this is what DDP's gradient averaging needs).
//
//===----------------------------------------------------------------------===//

#include "ember/Dialect/EmberOps.h"
#include "ember/Dialect/EmberInterfaces.h"

using namespace mlir;
using namespace ember;

namespace {
constexpr int64_t kSum = 0, kAvg = 1, kProduct = 4;
} // namespace

LogicalResult AllReduceOp::verify() {
  // I64Attr's getters are unsigned: read the signed values.
  int64_t reduceOp = getReduceOpAttr().getInt();
  if (reduceOp < kSum || reduceOp > kProduct)
    return emitOpError("reduce_op must be 0 (sum), 1 (avg), 2 (min), 3 (max) "
                       "or 4 (product), got ")
           << reduceOp;
  if (reduceOp == kAvg &&
      !isa<FloatType>(getInput().getType().getElementType()))
    return emitOpError("reduce_op avg needs a floating element type");
  if (getGroupAttr().getInt() < 0)
    return emitOpError("group must be a process group number >= 0");
  return success();
}

LogicalResult AllReduceOp::buildVjp(OpBuilder &b, ValueRange cotangents,
                                    SmallVectorImpl<Value> &gradients) {
  if (getReduceOp() != kSum && getReduceOp() != kAvg)
    return emitOpError("only sum and avg all-reduces are differentiable");
  gradients.push_back(AllReduceOp::create(b, getLoc(), cotangents[0],
                                          getReduceOpAttr(), getGroupAttr()));
  return success();
}
