//===- PackedCall.h - calling compiled entries ------------------*- C++ -*-===//
//
// Every compiled entry (JIT or ahead-of-time) has MLIR's packed form
// `void entry(void **args)`: `args[i]` points at a pointer to the i-th
// ranked memref descriptor {allocated, aligned, offset, sizes[rank],
// strides[rank]}. Buffers are dense row-major: inputs, then (for the
// destination-passing ABI) one caller-allocated buffer per result.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_PACKEDCALL_H
#define EMBER_RUNTIME_PACKEDCALL_H

#include <cstddef>
#include <cstdint>

namespace ember {

/// A dense row-major buffer handed to compiled code.
struct BufferView {
  void *data;
  const int64_t *shape;
  int64_t rank;
};

/// The uniform entry signature.
using PackedEntry = void (*)(void **args);

/// Calls `entry` with `count` buffers (inputs then outputs). Throws
/// std::runtime_error ("out of memory: ...") when the code cannot allocate a
/// temporary (see setCompiledAllocationFailure in HostAllocator.h).
void invokePacked(PackedEntry entry, const BufferView *buffers, size_t count);

} // namespace ember

#endif // EMBER_RUNTIME_PACKEDCALL_H
