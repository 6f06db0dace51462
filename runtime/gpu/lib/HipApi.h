//===- HipApi.h - the HIP module API entry points Ember calls ---*- C++ -*-===//
//
// ROCm's headers are not needed: the few types and constants below are
// declared here with HIP's values, and libamdhip64.so is opened at run
// time. Only the module API is used (HSACO code objects loaded with
// hipModuleLoadData and launched with hipModuleLaunchKernel), the HIP
// counterpart of CUDA's driver API.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_GPU_HIPAPI_H
#define EMBER_RUNTIME_GPU_HIPAPI_H

#include "DynamicLibrary.h"

#include <cstddef>

namespace ember {
namespace gpu {
namespace hip {

using hipError_t = int;
using hipDevice_t = int;
using hipDeviceptr_t = void *;
using hipModule_t = struct ihipModule_t *;
using hipFunction_t = struct ihipModuleSymbol_t *;
using hipStream_t = struct ihipStream_t *;
using hipEvent_t = struct ihipEvent_t *;

constexpr hipError_t hipSuccess = 0;
constexpr hipError_t hipErrorOutOfMemory = 2;
constexpr hipError_t hipErrorNoDevice = 100;
constexpr hipError_t hipErrorNotFound = 500;
constexpr hipError_t hipErrorNotReady = 600;
constexpr unsigned hipStreamNonBlocking = 1;
constexpr unsigned hipEventDisableTiming = 2;

#define EMBER_HIP_SYMBOLS(X)                                                   \
  X(hipInit, hipError_t, unsigned)                                             \
  X(hipGetErrorName, const char *, hipError_t)                                 \
  X(hipGetDeviceCount, hipError_t, int *)                                      \
  X(hipDeviceGet, hipError_t, hipDevice_t *, int)                              \
  X(hipDeviceGetName, hipError_t, char *, int, hipDevice_t)                    \
  X(hipDeviceTotalMem, hipError_t, size_t *, hipDevice_t)                      \
  X(hipSetDevice, hipError_t, int)                                             \
  X(hipDeviceSynchronize, hipError_t)                                          \
  X(hipMalloc, hipError_t, void **, size_t)                                    \
  X(hipFree, hipError_t, void *)                                               \
  X(hipMemcpyHtoDAsync, hipError_t, hipDeviceptr_t, void *, size_t,            \
    hipStream_t)                                                               \
  X(hipMemcpyDtoHAsync, hipError_t, void *, hipDeviceptr_t, size_t,            \
    hipStream_t)                                                               \
  X(hipMemcpyDtoDAsync, hipError_t, hipDeviceptr_t, hipDeviceptr_t, size_t,    \
    hipStream_t)                                                               \
  X(hipStreamCreateWithFlags, hipError_t, hipStream_t *, unsigned)             \
  X(hipStreamDestroy, hipError_t, hipStream_t)                                 \
  X(hipStreamSynchronize, hipError_t, hipStream_t)                             \
  X(hipStreamWaitEvent, hipError_t, hipStream_t, hipEvent_t, unsigned)         \
  X(hipEventCreateWithFlags, hipError_t, hipEvent_t *, unsigned)               \
  X(hipEventDestroy, hipError_t, hipEvent_t)                                   \
  X(hipEventRecord, hipError_t, hipEvent_t, hipStream_t)                       \
  X(hipEventSynchronize, hipError_t, hipEvent_t)                               \
  X(hipEventQuery, hipError_t, hipEvent_t)                                     \
  X(hipEventElapsedTime, hipError_t, float *, hipEvent_t, hipEvent_t)          \
  X(hipModuleLoadData, hipError_t, hipModule_t *, const void *)                \
  X(hipModuleUnload, hipError_t, hipModule_t)                                  \
  X(hipModuleGetFunction, hipError_t, hipFunction_t *, hipModule_t,            \
    const char *)                                                              \
  X(hipModuleLaunchKernel, hipError_t, hipFunction_t, unsigned, unsigned,      \
    unsigned, unsigned, unsigned, unsigned, unsigned, hipStream_t, void **,    \
    void **)

struct HipApi {
  EMBER_HIP_SYMBOLS(EMBER_GPU_DECLARE_SYMBOL)
  std::shared_ptr<DynamicLibrary> library;
};

/// Loads libamdhip64.so and runs hipInit(0) once per process; throws
/// DeviceUnavailableError when either fails.
const HipApi &hipApi();

/// "hipErrorOutOfMemory (2)".
std::string hipErrorText(hipError_t result);

/// Throws DeviceError "rocm: <call> failed with <error>" unless success.
void checkHip(hipError_t result, const char *call);

} // namespace hip
} // namespace gpu
} // namespace ember

#endif // EMBER_RUNTIME_GPU_HIPAPI_H
