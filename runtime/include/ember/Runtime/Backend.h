//===- Backend.h - where code runs: the CPU and the GPU backends -*- C++ -*-===//
//
// The one backend vocabulary of Ember: the frontend's tensor devices, the
// GPU runtime's drivers (ember::gpu::Backend is this type) and the GPU
// compiler's targets all name a Backend. One table holds every spelling of
// each, so the runtime's name, torch's device type and a model file's target
// cannot drift apart. No LLVM dependency.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_BACKEND_H
#define EMBER_RUNTIME_BACKEND_H

#include <cstdint>
#include <string>

namespace ember {

/// The CPU and the GPU programming interfaces the runtime can drive.
enum class Backend : uint8_t { Cpu, Cuda, Rocm, LevelZero, Vulkan };

constexpr int kNumBackends = 5;

/// Every spelling of one backend.
struct BackendInfo {
  Backend backend;
  /// The runtime's name: ember-run --device, GPU error messages
  /// ("level_zero: ..."), test names.
  const char *name;
  /// The Python device type, as torch spells it ("xpu" for Level Zero).
  const char *deviceType;
  /// How a model file's artifact target for this backend starts: the whole
  /// target ("cpu", "vulkan", "level-zero") or the part before the chip
  /// ("cuda:" + "sm_90", "rocm:" + "gfx942").
  const char *targetPrefix;
  /// The chip a target names when the device does not say; empty when
  /// targets name no chip.
  const char *defaultChip;
  /// What a GPU compiler emits for it: "ptx", "hsaco", "spirv"; empty for
  /// the CPU.
  const char *kernelFormat;
};

/// The table, indexed by the enum's value.
inline constexpr BackendInfo kBackends[kNumBackends] = {
    {Backend::Cpu, "cpu", "cpu", "cpu", "", ""},
    {Backend::Cuda, "cuda", "cuda", "cuda:", "sm_90", "ptx"},
    {Backend::Rocm, "rocm", "rocm", "rocm:", "gfx942", "hsaco"},
    {Backend::LevelZero, "level_zero", "xpu", "level-zero", "", "spirv"},
    {Backend::Vulkan, "vulkan", "vulkan", "vulkan", "", "spirv"},
};

constexpr const BackendInfo &backendInfo(Backend backend) {
  return kBackends[static_cast<int>(backend)];
}

/// "cpu", "cuda", "rocm", "level_zero" or "vulkan".
constexpr const char *backendName(Backend backend) { return backendInfo(backend).name; }
/// "cpu", "cuda", "rocm", "xpu" or "vulkan".
constexpr const char *backendDeviceType(Backend backend) {
  return backendInfo(backend).deviceType;
}
/// "cpu", "cuda:", "rocm:", "level-zero" or "vulkan".
constexpr const char *backendTargetPrefix(Backend backend) {
  return backendInfo(backend).targetPrefix;
}
constexpr bool isGpuBackend(Backend backend) { return backend != Backend::Cpu; }

/// The backend whose backendName is `name`; false when there is none.
bool parseBackendName(const std::string &name, Backend *backend);
/// The backend whose backendDeviceType is `type`; false when there is none.
bool parseDeviceType(const std::string &type, Backend *backend);
/// The backend any of the table's spellings names: backendName,
/// backendDeviceType, or backendTargetPrefix without its ':' ("level_zero",
/// "xpu" and "level-zero" alike), for command lines; false when none does.
bool parseAnyBackendSpelling(const std::string &text, Backend *backend);

} // namespace ember

#endif // EMBER_RUNTIME_BACKEND_H
