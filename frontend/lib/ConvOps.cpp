//===- ConvOps.cpp - trace convolutions ----------------------------------===//
//
// F.conv*d reaches the tracer as one ember.conv node and F.conv_transpose*d
// as one ember.conv_backward_data node (python/ember/nn/_conv.py checks
// the arguments with torch's messages first and picks the node or the
// composite). The attributes are the node's ints, so they are part of the
// compile cache key: stride..., padding_low..., padding_high...,
// dilation..., groups (and output_padding... for the transposed form).
//
//===----------------------------------------------------------------------===//

#include "ember/Frontend/Error.h"
#include "ember/Frontend/Tensor.h"
#include "ember/Runtime/ElementType.h"

namespace ember {

namespace {

void checkOperands(const char *name, const Tensor &input, const Tensor &weight,
                   size_t attributes) {
  if (!isFloating(input.dtype()) || weight.dtype() != input.dtype())
    runtimeError(std::string(name) + ": expected input and weight of one "
                 "floating dtype, got " +
                 elementTypeTorchName(input.dtype()) + " and " +
                 elementTypeTorchName(weight.dtype()));
  int64_t rank = input.dim();
  if (rank < 3 || rank > 5 || weight.dim() != rank ||
      attributes != static_cast<size_t>(rank - 2))
    runtimeError(std::string(name) + ": expected input (N, C, spatial...) and "
                 "weight (O, C/groups, kernel...) of one rank with 1 to 3 "
                 "spatial dims, got " +
                 shapeString(input.shape()) + " and " +
                 shapeString(weight.shape()));
}

void appendAll(llvm::SmallVector<int64_t, 4> &ints,
               std::initializer_list<llvm::ArrayRef<int64_t>> lists) {
  for (llvm::ArrayRef<int64_t> list : lists)
    ints.append(list.begin(), list.end());
}

} // namespace

Tensor conv(const Tensor &input, const Tensor &weight,
            llvm::ArrayRef<int64_t> stride, llvm::ArrayRef<int64_t> padLow,
            llvm::ArrayRef<int64_t> padHigh, llvm::ArrayRef<int64_t> dilation,
            int64_t groups) {
  const char *name = "conv";
  checkOperands(name, input, weight, stride.size());
  int64_t nd = input.dim() - 2;
  Shape shape = {input.shape()[0], weight.shape()[0]};
  for (int64_t i = 0; i < nd; ++i) {
    int64_t extent = input.shape()[i + 2] + padLow[i] + padHigh[i] -
                     dilation[i] * (weight.shape()[i + 2] - 1) - 1;
    if (extent < 0 || stride[i] <= 0)
      runtimeError(std::string(name) + ": input " +
                   shapeString(input.shape()) + " is smaller than weight " +
                   shapeString(weight.shape()) + "'s dilated kernel");
    shape.push_back(extent / stride[i] + 1);
  }
  if (groups <= 0 || weight.shape()[0] % groups ||
      input.shape()[1] != weight.shape()[1] * groups)
    runtimeError(std::string(name) + ": input " + shapeString(input.shape()) +
                 " and weight " + shapeString(weight.shape()) +
                 " do not fit " + std::to_string(groups) + " groups");
  NodeRef node = makeNode(OpCode::Conv, input.dtype(), shape,
                          {input.value(), weight.value()});
  appendAll(node->ints, {stride, padLow, padHigh, dilation});
  node->ints.push_back(groups);
  return fromNode(node);
}

Tensor convTranspose(const Tensor &input, const Tensor &weight,
                     llvm::ArrayRef<int64_t> stride,
                     llvm::ArrayRef<int64_t> padding,
                     llvm::ArrayRef<int64_t> outputPadding,
                     llvm::ArrayRef<int64_t> dilation, int64_t groups) {
  const char *name = "conv_transpose";
  checkOperands(name, input, weight, stride.size());
  int64_t nd = input.dim() - 2;
  if (groups <= 0 || weight.shape()[0] != input.shape()[1] ||
      weight.shape()[0] % groups)
    runtimeError(std::string(name) + ": input " + shapeString(input.shape()) +
                 " and weight " + shapeString(weight.shape()) +
                 " do not fit " + std::to_string(groups) + " groups");
  Shape shape = {input.shape()[0], weight.shape()[1] * groups};
  for (int64_t i = 0; i < nd; ++i) {
    int64_t size = (input.shape()[i + 2] - 1) * stride[i] - 2 * padding[i] +
                   dilation[i] * (weight.shape()[i + 2] - 1) + 1 +
                   outputPadding[i];
    if (size <= 0)
      runtimeError(std::string(name) + ": output size is too small");
    shape.push_back(size);
  }
  NodeRef node = makeNode(OpCode::ConvBackwardData, input.dtype(), shape,
                          {input.value(), weight.value()});
  appendAll(node->ints, {stride, padding, padding, dilation});
  node->ints.push_back(groups);
  appendAll(node->ints, {outputPadding});
  return fromNode(node);
}

} // namespace ember
