//===- GpuBuffers.cpp - buffers as GPU kernels take them ------------------===//

#include "GpuBuffers.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;

namespace ember {

FlatBuffer flattenBuffer(OpBuilder &b, Location loc, Value buffer) {
  auto type = cast<MemRefType>(buffer.getType());
  auto metadata = memref::ExtractStridedMetadataOp::create(b, loc, buffer);
  FlatBuffer view;
  view.offset = metadata.getOffset();
  for (Value stride : metadata.getStrides())
    view.strides.push_back(stride);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value extent = arith::AddIOp::create(b, loc, view.offset, one);
  for (auto [size, stride] : llvm::zip(metadata.getSizes(), metadata.getStrides())) {
    Value last = arith::SubIOp::create(b, loc, size, one);
    extent = arith::AddIOp::create(b, loc, extent, arith::MulIOp::create(b, loc, last, stride));
  }
  auto flatType = MemRefType::get({ShapedType::kDynamic}, type.getElementType(),
                                  MemRefLayoutAttrInterface{}, type.getMemorySpace());
  view.flat = memref::ReinterpretCastOp::create(
      b, loc, flatType, metadata.getBaseBuffer(), b.getIndexAttr(0),
      ArrayRef<OpFoldResult>{OpFoldResult(extent)},
      ArrayRef<OpFoldResult>{OpFoldResult(b.getIndexAttr(1))});
  return view;
}

Value flatIndex(OpBuilder &b, Location loc, const FlatBuffer &view, ValueRange indices) {
  Value index = view.offset;
  for (auto [i, stride] : llvm::zip(indices, view.strides))
    index = arith::AddIOp::create(b, loc, index, arith::MulIOp::create(b, loc, i, stride));
  return index;
}

} // namespace ember
