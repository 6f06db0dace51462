//===- KernelSymbol.h - the name a compiled CPU kernel is known by -*- C++ -*-//
//
// compileForCpuByKernel names each kernel by a hash of its code
// (`ember_kernel_<hash>`): its object's cache key and the name of its
// profiler span. It writes that name on the kernel's function in the lowered
// module under this attribute, so that a caller can read back which of its
// ops each kernel computes (the frontend's graph pictures do, from the
// locations lowering carried into the kernel).
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_COMPILER_KERNELSYMBOL_H
#define EMBER_COMPILER_KERNELSYMBOL_H

namespace ember {

constexpr const char kKernelSymbolAttribute[] = "ember.kernel_symbol";

} // namespace ember

#endif // EMBER_COMPILER_KERNELSYMBOL_H
