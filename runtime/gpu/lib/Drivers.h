//===- Drivers.h - the entry points of each backend's driver ----*- C++ -*-===//
//
// Device.cpp dispatches enumerateDevices/openDevice through these; each
// backend's file defines its pair.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_GPU_DRIVERS_H
#define EMBER_RUNTIME_GPU_DRIVERS_H

#include "ember/Runtime/Gpu/Device.h"

namespace ember {
namespace gpu {

std::vector<DeviceInfo> enumerateCudaDevices();
std::unique_ptr<Device> openCudaDevice(int ordinal);
std::vector<DeviceInfo> enumerateHipDevices();
std::unique_ptr<Device> openHipDevice(int ordinal);
std::vector<DeviceInfo> enumerateLevelZeroDevices();
std::unique_ptr<Device> openLevelZeroDevice(int ordinal);
std::vector<DeviceInfo> enumerateVulkanDevices();
std::unique_ptr<Device> openVulkanDevice(int ordinal);

/// The DeviceUnavailableError for asking for device `ordinal` of `count`.
[[noreturn]] void throwNoSuchDevice(Backend backend, int ordinal, size_t count);

} // namespace gpu
} // namespace ember

#endif // EMBER_RUNTIME_GPU_DRIVERS_H
