//===- HostTensor.h - a dense host tensor for the C++ model API -*- C++ -*-===//
//
// What `ember::Model::forward` takes and returns: a dtype, a shape and a
// dense row-major block of host memory (64-byte aligned, from the caching
// host allocator), shared between copies of the handle. No LLVM dependency.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_HOSTTENSOR_H
#define EMBER_RUNTIME_HOSTTENSOR_H

#include "ember/Runtime/ElementType.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ember {

class HostTensor {
public:
  HostTensor() = default;
  /// Uninitialized memory of `shape`. Throws ModelError for a negative dim
  /// or a size that overflows.
  HostTensor(ElementType dtype, std::vector<int64_t> shape);
  /// A copy of `data` (numel(shape) elements).
  static HostTensor fromData(ElementType dtype, std::vector<int64_t> shape,
                             const void *data);
  /// Views memory owned elsewhere (kept alive by `owner`), no copy.
  static HostTensor borrow(ElementType dtype, std::vector<int64_t> shape,
                           void *data, std::shared_ptr<void> owner);
  static HostTensor zeros(ElementType dtype, std::vector<int64_t> shape);

  ElementType dtype() const { return type; }
  const std::vector<int64_t> &shape() const { return dims; }
  int64_t dim(size_t i) const { return dims.at(i); }
  size_t rank() const { return dims.size(); }
  int64_t numel() const;
  size_t bytes() const { return numel() * elementSize(type); }
  void *data() { return ptr; }
  const void *data() const { return ptr; }
  template <typename T> T *data() { return static_cast<T *>(ptr); }
  template <typename T> const T *data() const { return static_cast<const T *>(ptr); }
  /// "[2, 10] float32".
  std::string describe() const;

private:
  ElementType type = ElementType::Float32;
  std::vector<int64_t> dims;
  void *ptr = nullptr;
  std::shared_ptr<void> memory;
};

} // namespace ember

#endif // EMBER_RUNTIME_HOSTTENSOR_H
