//===- CudaApi.h - the CUDA driver API entry points Ember calls -*- C++ -*-===//
//
// CUDA's headers are not needed: the few types and constants below are
// declared here with the driver API's values, and libcuda.so.1 is opened at
// run time. Entry points use their current versioned names (the _v2
// symbols are what cuda.h's macros map the plain names to).
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_GPU_CUDAAPI_H
#define EMBER_RUNTIME_GPU_CUDAAPI_H

#include "DynamicLibrary.h"

#include <cstddef>

namespace ember {
namespace gpu {
namespace cuda {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;
using CUjit_option = int;

constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult CUDA_ERROR_OUT_OF_MEMORY = 2;
constexpr CUresult CUDA_ERROR_NO_DEVICE = 100;
constexpr CUresult CUDA_ERROR_NOT_FOUND = 500;
constexpr CUresult CUDA_ERROR_NOT_READY = 600;
constexpr CUjit_option CU_JIT_INFO_LOG_BUFFER = 3;
constexpr CUjit_option CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4;
constexpr CUjit_option CU_JIT_ERROR_LOG_BUFFER = 5;
constexpr CUjit_option CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
constexpr unsigned CU_STREAM_NON_BLOCKING = 1;
constexpr unsigned CU_EVENT_DISABLE_TIMING = 2;
constexpr int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;

#define EMBER_CUDA_SYMBOLS(X)                                                  \
  X(cuInit, CUresult, unsigned)                                                \
  X(cuGetErrorName, CUresult, CUresult, const char **)                         \
  X(cuDeviceGetCount, CUresult, int *)                                         \
  X(cuDeviceGet, CUresult, CUdevice *, int)                                    \
  X(cuDeviceGetName, CUresult, char *, int, CUdevice)                          \
  X(cuDeviceTotalMem_v2, CUresult, size_t *, CUdevice)                         \
  X(cuDeviceGetAttribute, CUresult, int *, int, CUdevice)                      \
  X(cuDevicePrimaryCtxRetain, CUresult, CUcontext *, CUdevice)                 \
  X(cuDevicePrimaryCtxRelease_v2, CUresult, CUdevice)                          \
  X(cuCtxSetCurrent, CUresult, CUcontext)                                      \
  X(cuCtxSynchronize, CUresult)                                                \
  X(cuMemAlloc_v2, CUresult, CUdeviceptr *, size_t)                            \
  X(cuMemFree_v2, CUresult, CUdeviceptr)                                       \
  X(cuMemcpyHtoDAsync_v2, CUresult, CUdeviceptr, const void *, size_t,         \
    CUstream)                                                                  \
  X(cuMemcpyDtoHAsync_v2, CUresult, void *, CUdeviceptr, size_t, CUstream)     \
  X(cuMemcpyDtoDAsync_v2, CUresult, CUdeviceptr, CUdeviceptr, size_t,          \
    CUstream)                                                                  \
  X(cuStreamCreate, CUresult, CUstream *, unsigned)                            \
  X(cuStreamDestroy_v2, CUresult, CUstream)                                    \
  X(cuStreamSynchronize, CUresult, CUstream)                                   \
  X(cuStreamWaitEvent, CUresult, CUstream, CUevent, unsigned)                  \
  X(cuEventCreate, CUresult, CUevent *, unsigned)                              \
  X(cuEventDestroy_v2, CUresult, CUevent)                                      \
  X(cuEventRecord, CUresult, CUevent, CUstream)                                \
  X(cuEventSynchronize, CUresult, CUevent)                                     \
  X(cuEventQuery, CUresult, CUevent)                                           \
  X(cuEventElapsedTime, CUresult, float *, CUevent, CUevent)                   \
  X(cuModuleLoadDataEx, CUresult, CUmodule *, const void *, unsigned,          \
    CUjit_option *, void **)                                                   \
  X(cuModuleUnload, CUresult, CUmodule)                                        \
  X(cuModuleGetFunction, CUresult, CUfunction *, CUmodule, const char *)       \
  X(cuFuncSetAttribute, CUresult, CUfunction, int, int)                        \
  X(cuLaunchKernel, CUresult, CUfunction, unsigned, unsigned, unsigned,        \
    unsigned, unsigned, unsigned, unsigned, CUstream, void **, void **)

struct CudaApi {
  EMBER_CUDA_SYMBOLS(EMBER_GPU_DECLARE_SYMBOL)
  std::shared_ptr<DynamicLibrary> library;
};

/// Loads libcuda.so.1 and runs cuInit(0) once per process; throws
/// DeviceUnavailableError when either fails.
const CudaApi &cudaApi();

/// "CUDA_ERROR_OUT_OF_MEMORY (2)".
std::string cudaErrorText(CUresult result);

/// Throws DeviceError "cuda: <call> failed with <error>" unless success.
void checkCuda(CUresult result, const char *call);

} // namespace cuda
} // namespace gpu
} // namespace ember

#endif // EMBER_RUNTIME_GPU_CUDAAPI_H
