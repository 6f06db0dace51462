//===- CpuCollectives.cpp - collectives compiled code calls ---------------===//

#include "ember/Runtime/CpuCollectives.h"
#include "ember/Runtime/ProcessGroups.h"

#include <cstring>

namespace ember::dist {
namespace {

template <typename T>
void allReduce(ElementType type, const T *in, int64_t inStride, T *out,
               int64_t size, int64_t reduceOp, int64_t group) {
  if (inStride == 1)
    std::memcpy(out, in, static_cast<size_t>(size) * sizeof(T));
  else
    for (int64_t i = 0; i < size; ++i)
      out[i] = in[i * inStride];
  // A failed collective earlier in this program: the peers gave up too, or
  // will; waiting here could hang.
  if (collectiveErrorPending())
    return;
  std::shared_ptr<Communicator> communicator =
      lookupGroup(static_cast<int>(group));
  if (!communicator) {
    setCollectiveError("all_reduce in a compiled program: process group " +
                       std::to_string(group) +
                       " does not exist (was it destroyed?)");
    return;
  }
  Buffer buffer;
  buffer.data = out;
  buffer.numElements = static_cast<size_t>(size);
  buffer.type = type;
  try {
    // Through the group's ordered queue, like the Python API's calls, so
    // that an async_op issued before this program keeps its place.
    runAsync(*communicator, [&] {
      communicator->allReduce(buffer, static_cast<ReduceOp>(reduceOp));
    })->wait();
  } catch (const std::exception &error) {
    setCollectiveError(error.what());
  }
}

} // namespace
} // namespace ember::dist

#define EMBER_DEFINE_ALL_REDUCE(suffix, T, type)                               \
  EMBER_COLLECTIVE_ALL_REDUCE(suffix, T) {                                     \
    (void)inAlloc;                                                             \
    (void)outAlloc;                                                            \
    (void)outSize;                                                             \
    (void)outStride;                                                           \
    ember::dist::allReduce<T>(ember::ElementType::type, inData + inOffset,     \
                              inStride, outData + outOffset, inSize,           \
                              reduceOp, group);                                \
  }

EMBER_DEFINE_ALL_REDUCE(f32, float, Float32)
EMBER_DEFINE_ALL_REDUCE(f64, double, Float64)
EMBER_DEFINE_ALL_REDUCE(f16, uint16_t, Float16)
EMBER_DEFINE_ALL_REDUCE(bf16, uint16_t, BFloat16)
EMBER_DEFINE_ALL_REDUCE(i32, int32_t, Int32)
EMBER_DEFINE_ALL_REDUCE(i64, int64_t, Int64)
