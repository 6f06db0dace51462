//===- LevelZeroApi.h - the Level Zero entry points Ember calls -*- C++ -*-===//
//
// oneAPI Level Zero's headers are not needed: the handles, descriptors and
// constants below are declared here as in ze_api.h (spec 1.x; descriptor
// layouts of version 1.0, which later drivers accept), and
// libze_loader.so.1 is opened at run time.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_GPU_LEVELZEROAPI_H
#define EMBER_RUNTIME_GPU_LEVELZEROAPI_H

#include "DynamicLibrary.h"

#include <cstddef>
#include <cstdint>

namespace ember {
namespace gpu {
namespace ze {

using ze_result_t = uint32_t;
using ze_driver_handle_t = struct _ze_driver_handle_t *;
using ze_device_handle_t = struct _ze_device_handle_t *;
using ze_context_handle_t = struct _ze_context_handle_t *;
using ze_command_list_handle_t = struct _ze_command_list_handle_t *;
using ze_event_pool_handle_t = struct _ze_event_pool_handle_t *;
using ze_event_handle_t = struct _ze_event_handle_t *;
using ze_module_handle_t = struct _ze_module_handle_t *;
using ze_module_build_log_handle_t = struct _ze_module_build_log_handle_t *;
using ze_kernel_handle_t = struct _ze_kernel_handle_t *;

constexpr ze_result_t ZE_RESULT_SUCCESS = 0;
constexpr ze_result_t ZE_RESULT_NOT_READY = 1;
constexpr ze_result_t ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY = 0x70000002;
constexpr ze_result_t ZE_RESULT_ERROR_OUT_OF_DEVICE_MEMORY = 0x70000003;
constexpr ze_result_t ZE_RESULT_ERROR_MODULE_BUILD_FAILURE = 0x70000004;
constexpr ze_result_t ZE_RESULT_ERROR_UNINITIALIZED = 0x78000001;
constexpr ze_result_t ZE_RESULT_ERROR_INVALID_KERNEL_NAME = 0x78000011;

constexpr uint32_t ZE_STRUCTURE_TYPE_DEVICE_PROPERTIES = 0x3;
constexpr uint32_t ZE_STRUCTURE_TYPE_COMMAND_QUEUE_GROUP_PROPERTIES = 0x6;
constexpr uint32_t ZE_STRUCTURE_TYPE_DEVICE_MEMORY_PROPERTIES = 0x7;
constexpr uint32_t ZE_STRUCTURE_TYPE_CONTEXT_DESC = 0xd;
constexpr uint32_t ZE_STRUCTURE_TYPE_COMMAND_QUEUE_DESC = 0xe;
constexpr uint32_t ZE_STRUCTURE_TYPE_EVENT_POOL_DESC = 0x10;
constexpr uint32_t ZE_STRUCTURE_TYPE_EVENT_DESC = 0x11;
constexpr uint32_t ZE_STRUCTURE_TYPE_DEVICE_MEM_ALLOC_DESC = 0x15;
constexpr uint32_t ZE_STRUCTURE_TYPE_HOST_MEM_ALLOC_DESC = 0x16;
constexpr uint32_t ZE_STRUCTURE_TYPE_MODULE_DESC = 0x1b;
constexpr uint32_t ZE_STRUCTURE_TYPE_KERNEL_DESC = 0x1d;

constexpr uint32_t ZE_COMMAND_QUEUE_GROUP_PROPERTY_FLAG_COMPUTE = 1;
constexpr uint32_t ZE_COMMAND_QUEUE_MODE_ASYNCHRONOUS = 2;
constexpr uint32_t ZE_EVENT_POOL_FLAG_HOST_VISIBLE = 1;
constexpr uint32_t ZE_EVENT_SCOPE_FLAG_HOST = 4;
constexpr uint32_t ZE_MODULE_FORMAT_IL_SPIRV = 0;

struct ze_device_properties_t {
  uint32_t stype = ZE_STRUCTURE_TYPE_DEVICE_PROPERTIES;
  void *pNext = nullptr;
  uint32_t type, vendorId, deviceId, flags, subdeviceId, coreClockRate;
  uint64_t maxMemAllocSize;
  uint32_t maxHardwareContexts, maxCommandQueuePriority, numThreadsPerEU,
      physicalEUSimdWidth, numEUsPerSubslice, numSubslicesPerSlice, numSlices;
  uint64_t timerResolution;
  uint32_t timestampValidBits, kernelTimestampValidBits;
  uint8_t uuid[16];
  char name[256];
};
struct ze_device_memory_properties_t {
  uint32_t stype = ZE_STRUCTURE_TYPE_DEVICE_MEMORY_PROPERTIES;
  void *pNext = nullptr;
  uint32_t flags, maxClockRate, maxBusWidth;
  uint64_t totalSize;
  char name[256];
};
struct ze_command_queue_group_properties_t {
  uint32_t stype = ZE_STRUCTURE_TYPE_COMMAND_QUEUE_GROUP_PROPERTIES;
  void *pNext = nullptr;
  uint32_t flags;
  size_t maxMemoryFillPatternSize;
  uint32_t numQueues;
};
struct ze_context_desc_t {
  uint32_t stype = ZE_STRUCTURE_TYPE_CONTEXT_DESC;
  const void *pNext = nullptr;
  uint32_t flags = 0;
};
struct ze_command_queue_desc_t {
  uint32_t stype = ZE_STRUCTURE_TYPE_COMMAND_QUEUE_DESC;
  const void *pNext = nullptr;
  uint32_t ordinal = 0, index = 0, flags = 0, mode = 0, priority = 0;
};
struct ze_event_pool_desc_t {
  uint32_t stype = ZE_STRUCTURE_TYPE_EVENT_POOL_DESC;
  const void *pNext = nullptr;
  uint32_t flags = 0, count = 0;
};
struct ze_event_desc_t {
  uint32_t stype = ZE_STRUCTURE_TYPE_EVENT_DESC;
  const void *pNext = nullptr;
  uint32_t index = 0, signal = 0, wait = 0;
};
struct ze_device_mem_alloc_desc_t {
  uint32_t stype = ZE_STRUCTURE_TYPE_DEVICE_MEM_ALLOC_DESC;
  const void *pNext = nullptr;
  uint32_t flags = 0, ordinal = 0;
};
struct ze_host_mem_alloc_desc_t {
  uint32_t stype = ZE_STRUCTURE_TYPE_HOST_MEM_ALLOC_DESC;
  const void *pNext = nullptr;
  uint32_t flags = 0;
};
struct ze_module_desc_t {
  uint32_t stype = ZE_STRUCTURE_TYPE_MODULE_DESC;
  const void *pNext = nullptr;
  uint32_t format = ZE_MODULE_FORMAT_IL_SPIRV;
  size_t inputSize = 0;
  const uint8_t *pInputModule = nullptr;
  const char *pBuildFlags = nullptr;
  const void *pConstants = nullptr;
};
struct ze_kernel_desc_t {
  uint32_t stype = ZE_STRUCTURE_TYPE_KERNEL_DESC;
  const void *pNext = nullptr;
  uint32_t flags = 0;
  const char *pKernelName = nullptr;
};
struct ze_group_count_t {
  uint32_t groupCountX, groupCountY, groupCountZ;
};

#define EMBER_LEVEL_ZERO_SYMBOLS(X)                                            \
  X(zeInit, ze_result_t, uint32_t)                                             \
  X(zeDriverGet, ze_result_t, uint32_t *, ze_driver_handle_t *)                \
  X(zeDeviceGet, ze_result_t, ze_driver_handle_t, uint32_t *,                  \
    ze_device_handle_t *)                                                      \
  X(zeDeviceGetProperties, ze_result_t, ze_device_handle_t,                    \
    ze_device_properties_t *)                                                  \
  X(zeDeviceGetMemoryProperties, ze_result_t, ze_device_handle_t, uint32_t *,  \
    ze_device_memory_properties_t *)                                           \
  X(zeDeviceGetCommandQueueGroupProperties, ze_result_t, ze_device_handle_t,   \
    uint32_t *, ze_command_queue_group_properties_t *)                         \
  X(zeContextCreate, ze_result_t, ze_driver_handle_t,                          \
    const ze_context_desc_t *, ze_context_handle_t *)                          \
  X(zeContextDestroy, ze_result_t, ze_context_handle_t)                        \
  X(zeMemAllocDevice, ze_result_t, ze_context_handle_t,                        \
    const ze_device_mem_alloc_desc_t *, size_t, size_t, ze_device_handle_t,    \
    void **)                                                                   \
  X(zeMemAllocHost, ze_result_t, ze_context_handle_t,                          \
    const ze_host_mem_alloc_desc_t *, size_t, size_t, void **)                 \
  X(zeMemFree, ze_result_t, ze_context_handle_t, void *)                       \
  X(zeCommandListCreateImmediate, ze_result_t, ze_context_handle_t,            \
    ze_device_handle_t, const ze_command_queue_desc_t *,                       \
    ze_command_list_handle_t *)                                                \
  X(zeCommandListDestroy, ze_result_t, ze_command_list_handle_t)               \
  X(zeCommandListAppendMemoryCopy, ze_result_t, ze_command_list_handle_t,      \
    void *, const void *, size_t, ze_event_handle_t, uint32_t,                 \
    ze_event_handle_t *)                                                       \
  X(zeCommandListAppendBarrier, ze_result_t, ze_command_list_handle_t,         \
    ze_event_handle_t, uint32_t, ze_event_handle_t *)                          \
  X(zeCommandListAppendWaitOnEvents, ze_result_t, ze_command_list_handle_t,    \
    uint32_t, ze_event_handle_t *)                                             \
  X(zeCommandListAppendLaunchKernel, ze_result_t, ze_command_list_handle_t,    \
    ze_kernel_handle_t, const ze_group_count_t *, ze_event_handle_t,           \
    uint32_t, ze_event_handle_t *)                                             \
  X(zeEventPoolCreate, ze_result_t, ze_context_handle_t,                       \
    const ze_event_pool_desc_t *, uint32_t, ze_device_handle_t *,              \
    ze_event_pool_handle_t *)                                                  \
  X(zeEventPoolDestroy, ze_result_t, ze_event_pool_handle_t)                   \
  X(zeEventCreate, ze_result_t, ze_event_pool_handle_t,                        \
    const ze_event_desc_t *, ze_event_handle_t *)                              \
  X(zeEventDestroy, ze_result_t, ze_event_handle_t)                            \
  X(zeEventHostSynchronize, ze_result_t, ze_event_handle_t, uint64_t)          \
  X(zeEventQueryStatus, ze_result_t, ze_event_handle_t)                        \
  X(zeEventHostReset, ze_result_t, ze_event_handle_t)                          \
  X(zeModuleCreate, ze_result_t, ze_context_handle_t, ze_device_handle_t,      \
    const ze_module_desc_t *, ze_module_handle_t *,                            \
    ze_module_build_log_handle_t *)                                            \
  X(zeModuleDestroy, ze_result_t, ze_module_handle_t)                          \
  X(zeModuleBuildLogGetString, ze_result_t, ze_module_build_log_handle_t,      \
    size_t *, char *)                                                          \
  X(zeModuleBuildLogDestroy, ze_result_t, ze_module_build_log_handle_t)        \
  X(zeKernelCreate, ze_result_t, ze_module_handle_t, const ze_kernel_desc_t *, \
    ze_kernel_handle_t *)                                                      \
  X(zeKernelDestroy, ze_result_t, ze_kernel_handle_t)                          \
  X(zeKernelSetGroupSize, ze_result_t, ze_kernel_handle_t, uint32_t, uint32_t, \
    uint32_t)                                                                  \
  X(zeKernelSetArgumentValue, ze_result_t, ze_kernel_handle_t, uint32_t,       \
    size_t, const void *)

/// One usable device: its driver and handle.
struct LevelZeroDevice {
  ze_driver_handle_t driver;
  ze_device_handle_t device;
};

struct LevelZeroApi {
  EMBER_LEVEL_ZERO_SYMBOLS(EMBER_GPU_DECLARE_SYMBOL)
  std::shared_ptr<DynamicLibrary> library;
  /// Every device of every driver, in order: openDevice's ordinals.
  std::vector<LevelZeroDevice> devices;
};

/// Loads libze_loader.so.1, runs zeInit(0) and lists the devices once per
/// process; throws DeviceUnavailableError when that fails.
const LevelZeroApi &levelZeroApi();

/// "ZE_RESULT_ERROR_OUT_OF_DEVICE_MEMORY (0x70000003)".
std::string levelZeroResultText(ze_result_t result);

/// Throws DeviceError "level_zero: <call> failed with <result>" unless
/// success.
void checkLevelZero(ze_result_t result, const char *call);

} // namespace ze
} // namespace gpu
} // namespace ember

#endif // EMBER_RUNTIME_GPU_LEVELZEROAPI_H
