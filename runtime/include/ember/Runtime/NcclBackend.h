//===- NcclBackend.h - the "nccl" and "rccl" engines ------------*- C++ -*-===//
//
// GPU collectives for CUDA device tensors (NCCL, libnccl.so.2 from the CUDA
// toolkit) and ROCm device tensors (RCCL, librccl.so.1), both opened with
// dlopen on first use: a missing library or GPU is a CollectiveError that
// names it. Rank 0's NCCL unique id travels through the rendezvous Store.
// EMBER_NCCL_LIBRARY / EMBER_RCCL_LIBRARY name another library file.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_NCCLBACKEND_H
#define EMBER_RUNTIME_NCCLBACKEND_H

#include "ember/Runtime/Collectives.h"

#include <string>

namespace ember::dist {

/// Buffers: MemoryKind::Cuda, `data` a CUdeviceptr on device 0.
std::unique_ptr<Communicator>
createNcclCommunicator(const CommunicatorOptions &options);
/// Buffers: MemoryKind::Rocm, `data` a HIP device pointer on device 0.
std::unique_ptr<Communicator>
createRcclCommunicator(const CommunicatorOptions &options);

/// Why the engine cannot run here ("" when it can): the library or the GPU
/// that is missing. Tests skip with this reason.
std::string ncclUnavailableReason(bool rocm = false);

} // namespace ember::dist

#endif // EMBER_RUNTIME_NCCLBACKEND_H
