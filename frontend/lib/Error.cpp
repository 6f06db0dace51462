//===- Error.cpp - eager API errors ----------------------------------------===//

#include "ember/Frontend/Error.h"

namespace ember {

void throwError(Error::Kind kind, const std::string &message) {
  throw Error(kind, message);
}

std::string shapeString(llvm::ArrayRef<int64_t> shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

int64_t wrapDim(int64_t dim, int64_t rank) {
  // torch treats a 0-d tensor as having one dim for this purpose.
  int64_t bound = rank == 0 ? 1 : rank;
  if (dim < -bound || dim >= bound)
    indexError("Dimension out of range (expected to be in range of [" +
               std::to_string(-bound) + ", " + std::to_string(bound - 1) +
               "], but got " + std::to_string(dim) + ")");
  return dim < 0 ? dim + bound : dim;
}

} // namespace ember
