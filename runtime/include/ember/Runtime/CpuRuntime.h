//===- CpuRuntime.h - runtime functions compiled CPU code calls -*- C++ -*-===//
//
// Compiled CPU code calls a few runtime functions by name: the GEMMs
// (CpuGemm.h), `memrefCopy`, the allocation functions behind its
// temporaries (HostAllocator.h), and `ember_parallel_for` (ThreadPool.h),
// which splits a kernel's outer parallel loop across the runtime's pool. A JIT resolves those names from this one
// table; an AOT object gets them by linking `//runtime:cpu_runtime`.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_CPURUNTIME_H
#define EMBER_RUNTIME_CPURUNTIME_H

namespace ember {

/// A symbol compiled code may call, with its address.
struct RuntimeSymbol {
  const char *name;
  void *address;
};

/// Every runtime symbol compiled CPU code may call; sets `*count`.
const RuntimeSymbol *cpuRuntimeSymbols(int *count);

} // namespace ember

#endif // EMBER_RUNTIME_CPURUNTIME_H
