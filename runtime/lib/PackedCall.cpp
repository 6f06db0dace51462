//===- PackedCall.cpp - memref descriptors for compiled entries ------------===//

#include "ember/Runtime/PackedCall.h"

#include <vector>

namespace ember {

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
  entry(args);
}

} // namespace ember
