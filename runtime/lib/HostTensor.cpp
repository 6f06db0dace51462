//===- HostTensor.cpp - dense host tensors for the model API ---------------===//

#include "ember/Runtime/HostTensor.h"
#include "ember/Runtime/HostAllocator.h"
#include "ember/Runtime/ModelFile.h"

#include <cstring>
#include <limits>

namespace ember {

namespace {

/// The byte size of a dense tensor; throws for negative dims or overflow.
size_t checkedBytes(ElementType type, const std::vector<int64_t> &shape) {
  uint64_t count = 1;
  const uint64_t limit = std::numeric_limits<int64_t>::max() / 8;
  for (int64_t d : shape) {
    if (d < 0)
      throw ModelError("tensor shape has a negative dim (" + std::to_string(d) + ")");
    if (d != 0 && count > limit / static_cast<uint64_t>(d))
      throw ModelError("tensor shape is too large");
    count *= static_cast<uint64_t>(d);
  }
  return static_cast<size_t>(count) * elementSize(type);
}

} // namespace

HostTensor::HostTensor(ElementType dtype, std::vector<int64_t> shape)
    : type(dtype), dims(std::move(shape)) {
  size_t bytes = checkedBytes(type, dims);
  void *block = hostAlloc(bytes);
  if (!block)
    throw ModelError("out of host memory allocating " + std::to_string(bytes) + " bytes");
  memory = std::shared_ptr<void>(block, [](void *p) { hostFree(p); });
  ptr = block;
}

HostTensor HostTensor::fromData(ElementType dtype, std::vector<int64_t> shape,
                                const void *data) {
  HostTensor tensor(dtype, std::move(shape));
  if (tensor.bytes())
    std::memcpy(tensor.ptr, data, tensor.bytes());
  return tensor;
}

HostTensor HostTensor::borrow(ElementType dtype, std::vector<int64_t> shape,
                              void *data, std::shared_ptr<void> owner) {
  checkedBytes(dtype, shape);
  HostTensor tensor;
  tensor.type = dtype;
  tensor.dims = std::move(shape);
  tensor.ptr = data;
  tensor.memory = std::move(owner);
  return tensor;
}

HostTensor HostTensor::zeros(ElementType dtype, std::vector<int64_t> shape) {
  HostTensor tensor(dtype, std::move(shape));
  if (tensor.bytes())
    std::memset(tensor.ptr, 0, tensor.bytes());
  return tensor;
}

int64_t HostTensor::numel() const {
  int64_t count = 1;
  for (int64_t d : dims)
    count *= d;
  return count;
}

std::string HostTensor::describe() const {
  std::string text = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + "] " + elementTypeName(type);
}

} // namespace ember
