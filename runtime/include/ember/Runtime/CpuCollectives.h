//===- CpuCollectives.h - collectives compiled code calls -------*- C++ -*-===//
//
// `ember-collectives-to-runtime` lowers ember.all_reduce on the CPU to a call
// of ember_collective_all_reduce_<type>: the input as a 1-D strided memref
// descriptor expanded to scalars (allocated, aligned, offset, size, stride),
// the result a fresh contiguous 1-D buffer of the same size, then the
// reduce op (ember::dist::ReduceOp) and the process group's number
// (ProcessGroups.h). The function copies the input into the result and
// all-reduces it in place through the group's engine, in the group's
// ordered queue. Errors cannot unwind through generated code: they are
// recorded (setCollectiveError) and raised by the frontend after the
// program; the program's later collectives are skipped meanwhile.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_CPUCOLLECTIVES_H
#define EMBER_RUNTIME_CPUCOLLECTIVES_H

#include <cstdint>

#define EMBER_COLLECTIVE_ALL_REDUCE(suffix, T)                                 \
  void ember_collective_all_reduce_##suffix(                                   \
      T *inAlloc, T *inData, int64_t inOffset, int64_t inSize,                 \
      int64_t inStride, T *outAlloc, T *outData, int64_t outOffset,            \
      int64_t outSize, int64_t outStride, int64_t reduceOp, int64_t group)

extern "C" {
EMBER_COLLECTIVE_ALL_REDUCE(f32, float);
EMBER_COLLECTIVE_ALL_REDUCE(f64, double);
EMBER_COLLECTIVE_ALL_REDUCE(f16, uint16_t);
EMBER_COLLECTIVE_ALL_REDUCE(bf16, uint16_t);
EMBER_COLLECTIVE_ALL_REDUCE(i32, int32_t);
EMBER_COLLECTIVE_ALL_REDUCE(i64, int64_t);
}

#endif // EMBER_RUNTIME_CPUCOLLECTIVES_H
