//===- Shapes.h - shape rules shared by ops and the tracer ------*- C++ -*-===//
//
// The shape rules of ember ops as plain functions over dim lists, where
// `mlir::ShapedType::kDynamic` marks a dynamic dim. The op verifiers and the
// eager tracer use the same functions, so both reject the same programs.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_DIALECT_SHAPES_H
#define EMBER_DIALECT_SHAPES_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include <cstdint>
#include <optional>
#include <string>

namespace ember {

/// Formats dims like a tensor type's shape: `3x?x4` (a scalar prints as ``).
std::string formatShape(llvm::ArrayRef<int64_t> dims);

/// NumPy broadcasting of two shapes. Returns std::nullopt when two static dims
/// differ and neither is 1. A dynamic dim meets 1 -> dynamic, N -> N.
std::optional<llvm::SmallVector<int64_t>>
broadcastShapes(llvm::ArrayRef<int64_t> lhs, llvm::ArrayRef<int64_t> rhs);

/// Whether `from` broadcasts to exactly `to` (NumPy rules, `from` rank <= `to`).
bool isBroadcastableTo(llvm::ArrayRef<int64_t> from, llvm::ArrayRef<int64_t> to);

/// The number of elements a Python slice `start:stop:step` (step > 0) selects
/// from a dim of size `size`, and the normalized start offset.
struct SliceExtent {
  int64_t offset;
  int64_t count;
};
SliceExtent computeSliceExtent(int64_t size, int64_t start, int64_t stop,
                               int64_t step);

/// The shape of a gather along `dim` (in range) of `input` by an index tensor
/// of shape `indices`: input[:dim] ++ indices ++ input[dim+1:].
llvm::SmallVector<int64_t> gatherShape(llvm::ArrayRef<int64_t> input,
                                       llvm::ArrayRef<int64_t> indices,
                                       int64_t dim);

} // namespace ember

#endif // EMBER_DIALECT_SHAPES_H
