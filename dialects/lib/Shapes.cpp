//===- Shapes.cpp - shape rules shared by ops and the tracer ---------------===//

#include "ember/Dialect/Shapes.h"

#include "mlir/IR/BuiltinTypeInterfaces.h"

#include <algorithm>

namespace ember {

static bool isDynamic(int64_t dim) { return mlir::ShapedType::isDynamic(dim); }

std::string formatShape(llvm::ArrayRef<int64_t> dims) {
  std::string text;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i)
      text += "x";
    text += isDynamic(dims[i]) ? std::string("?") : std::to_string(dims[i]);
  }
  return text;
}

std::optional<llvm::SmallVector<int64_t>>
broadcastShapes(llvm::ArrayRef<int64_t> lhs, llvm::ArrayRef<int64_t> rhs) {
  size_t rank = std::max(lhs.size(), rhs.size());
  llvm::SmallVector<int64_t> result(rank);
  for (size_t i = 0; i < rank; ++i) {
    // Align from the right; a missing dim acts as a static 1.
    int64_t a = i < rank - lhs.size() ? 1 : lhs[i - (rank - lhs.size())];
    int64_t b = i < rank - rhs.size() ? 1 : rhs[i - (rank - rhs.size())];
    if (a == 1) {
      result[i] = b;
    } else if (b == 1) {
      result[i] = a;
    } else if (isDynamic(a)) {
      result[i] = b;
    } else if (isDynamic(b) || a == b) {
      result[i] = a;
    } else {
      return std::nullopt;
    }
  }
  return result;
}

bool isBroadcastableTo(llvm::ArrayRef<int64_t> from, llvm::ArrayRef<int64_t> to) {
  if (from.size() > to.size())
    return false;
  size_t lead = to.size() - from.size();
  for (size_t i = 0; i < from.size(); ++i) {
    int64_t a = from[i], b = to[lead + i];
    if (a == 1 || a == b)
      continue;
    // A dynamic source dim never stretches, so it must equal the target dim:
    // accept it against any target dim except a static mismatch we can see.
    if (isDynamic(a) || isDynamic(b))
      continue;
    return false;
  }
  return true;
}

SliceExtent computeSliceExtent(int64_t size, int64_t start, int64_t stop,
                               int64_t step) {
  auto normalize = [size](int64_t index) {
    if (index < 0)
      index = std::max<int64_t>(index + size, 0);
    return std::min(index, size);
  };
  int64_t begin = normalize(start);
  int64_t end = normalize(stop);
  int64_t count = end > begin ? (end - begin + step - 1) / step : 0;
  return {begin, count};
}

llvm::SmallVector<int64_t> gatherShape(llvm::ArrayRef<int64_t> input,
                                       llvm::ArrayRef<int64_t> indices,
                                       int64_t dim) {
  llvm::SmallVector<int64_t> shape(input.take_front(dim));
  shape.append(indices.begin(), indices.end());
  shape.append(input.begin() + dim + 1, input.end());
  return shape;
}

} // namespace ember
