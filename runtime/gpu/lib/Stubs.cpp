#include "Drivers.h"
namespace ember { namespace gpu {
std::vector<DeviceInfo> enumerateCudaDevices() { throw DeviceUnavailableError(Backend::Cuda, "todo"); }
std::unique_ptr<Device> openCudaDevice(int) { throw DeviceUnavailableError(Backend::Cuda, "todo"); }
std::vector<DeviceInfo> enumerateHipDevices() { throw DeviceUnavailableError(Backend::Rocm, "todo"); }
std::unique_ptr<Device> openHipDevice(int) { throw DeviceUnavailableError(Backend::Rocm, "todo"); }
std::vector<DeviceInfo> enumerateLevelZeroDevices() { throw DeviceUnavailableError(Backend::LevelZero, "todo"); }
std::unique_ptr<Device> openLevelZeroDevice(int) { throw DeviceUnavailableError(Backend::LevelZero, "todo"); }
}}
