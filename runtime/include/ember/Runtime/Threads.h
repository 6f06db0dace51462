//===- Threads.h - how many threads Ember's CPU work may use -----*- C++ -*-===//
//
// torch.get_num_threads / set_num_threads for Ember: one process-wide count
// of the threads CPU work may use. The GEMMs (OpenBLAS, which owns its
// threads) follow it, and so does the runtime's thread pool (ThreadPool.h)
// that generated kernels split their parallel loops over.
//
// The count is EMBER_NUM_THREADS when that is a positive integer, else
// OpenBLAS's own default (the CPUs this process may use, or its
// OPENBLAS_NUM_THREADS / OMP_NUM_THREADS). No LLVM dependency.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_THREADS_H
#define EMBER_RUNTIME_THREADS_H

namespace ember {

/// The threads CPU work may use (at least 1).
int numThreads();

/// Sets numThreads for the whole process; throws std::invalid_argument for
/// a count below 1.
void setNumThreads(int threads);

/// Applies EMBER_NUM_THREADS once, before the first GEMM (called by the
/// GEMM entry points; cheap after the first call).
void ensureThreadsConfigured();

} // namespace ember

#endif // EMBER_RUNTIME_THREADS_H
