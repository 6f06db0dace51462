//===- PackedCall.cpp - memref descriptors for compiled entries ------------===//

#include "ember/Runtime/PackedCall.h"
#include "ember/Runtime/HostAllocator.h"

#include <csetjmp>
#include <stdexcept>
#include <string>
#include <vector>

namespace ember {
namespace {

thread_local std::jmp_buf *activeCall = nullptr;
thread_local size_t failedBytes = 0;

[[noreturn]] void leaveCall(size_t bytes) {
  failedBytes = bytes;
  std::longjmp(*activeCall, 1);
}

/// Calls `entry`; false when an allocation in it failed. Compiled code
/// cannot report that and would write through the null pointer, so the
/// allocation hook jumps back here instead. Compiled code holds no C++
/// objects, so the jump skips nothing that needs destroying; the
/// temporaries the call had allocated are not freed (out of memory is the
/// rare path). This frame holds no C++ objects either.
bool callCompiled(PackedEntry entry, void **args) {
  std::jmp_buf here;
  std::jmp_buf *outer = activeCall;
  CompiledAllocationFailure previous = setCompiledAllocationFailure(leaveCall);
  activeCall = &here;
  if (setjmp(here) != 0) {
    activeCall = outer;
    setCompiledAllocationFailure(previous);
    return false;
  }
  entry(args);
  activeCall = outer;
  setCompiledAllocationFailure(previous);
  return true;
}

} // namespace

void invokePacked(PackedEntry entry, const BufferView *buffers, size_t count) {
  // One descriptor per buffer as 64-bit words: {allocated, aligned, offset,
  // sizes[rank], strides[rank]}, strides row-major. Small calls stay on the
  // stack.
  size_t words = 0;
  for (size_t i = 0; i < count; ++i)
    words += 3 + 2 * buffers[i].rank;
  constexpr size_t kInline = 128;
  int64_t inlineWords[kInline];
  void *inlinePointers[2 * 32];
  std::vector<int64_t> heapWords;
  std::vector<void *> heapPointers;
  int64_t *storage = inlineWords;
  void **pointers = inlinePointers;
  if (words > kInline) {
    heapWords.resize(words);
    storage = heapWords.data();
  }
  if (count > 32) {
    heapPointers.resize(2 * count);
    pointers = heapPointers.data();
  }
  void **descriptors = pointers;
  void **args = pointers + count;
  int64_t *cursor = storage;
  for (size_t i = 0; i < count; ++i) {
    const BufferView &buffer = buffers[i];
    descriptors[i] = cursor;
    cursor[0] = reinterpret_cast<int64_t>(buffer.data);
    cursor[1] = reinterpret_cast<int64_t>(buffer.data);
    cursor[2] = 0;
    int64_t stride = 1;
    for (int64_t d = buffer.rank - 1; d >= 0; --d) {
      cursor[3 + d] = buffer.shape[d];
      cursor[3 + buffer.rank + d] = stride;
      stride *= buffer.shape[d];
    }
    cursor += 3 + 2 * buffer.rank;
    args[i] = &descriptors[i];
  }
  if (!callCompiled(entry, args))
    throw std::runtime_error("out of memory: compiled code could not allocate " +
                             std::to_string(failedBytes) +
                             " bytes for a temporary (the values it computes are too "
                             "large for this machine)");
}

} // namespace ember
