//===- DeviceUnavailableTest.cpp - missing driver libraries ----------------===//
//
// Runs with EMBER_<BACKEND>_LIBRARY naming libraries that do not exist (see
// BUILD.bazel), so every backend, Vulkan included, must fail with its exact
// "not available" message here and on GPU machines alike, never crash.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/Gpu/Device.h"

#include <gtest/gtest.h>

using namespace ember::gpu;

namespace {

std::string enumerateError(Backend backend) {
  try {
    enumerateDevices(backend);
  } catch (const DeviceUnavailableError &error) {
    EXPECT_EQ(error.backend(), backend);
    return error.what();
  }
  return "no error";
}

TEST(DeviceUnavailable, MissingLibrariesAreNamed) {
  EXPECT_EQ(enumerateError(Backend::Vulkan),
            "vulkan is not available: libvulkan-missing.so.1 not found "
            "(install libvulkan1 and mesa-vulkan-drivers, or a GPU driver)");
  EXPECT_EQ(enumerateError(Backend::Cuda),
            "cuda is not available: libcuda-missing.so.1 not found (install "
            "the NVIDIA driver; the CUDA toolkit is not needed)");
  EXPECT_EQ(enumerateError(Backend::Rocm),
            "rocm is not available: libamdhip64-missing.so not found (install "
            "ROCm's HIP runtime (libamdhip64) and the amdgpu driver)");
  EXPECT_EQ(enumerateError(Backend::LevelZero),
            "level_zero is not available: libze_loader-missing.so.1 not found "
            "(install level-zero (the oneAPI loader) and a GPU driver such as "
            "intel-level-zero-gpu)");
}

TEST(DeviceUnavailable, OpenAndReasonRepeatTheError) {
  for (Backend backend : kAllBackends) {
    std::string expected = enumerateError(backend);
    EXPECT_EQ(backendUnavailableReason(backend), expected);
    try {
      openDevice(backend);
      ADD_FAILURE() << "opened a " << backendName(backend) << " device";
    } catch (const DeviceUnavailableError &error) {
      EXPECT_EQ(error.what(), expected);
    }
  }
}

TEST(DeviceUnavailable, BackendNames) {
  for (Backend backend : kAllBackends)
    EXPECT_EQ(parseBackend(backendName(backend)), backend);
  EXPECT_THROW(parseBackend("metal"), std::invalid_argument);
  // GPU backends only, by their runtime names: not the CPU, not torch's or
  // a model file's spelling of Level Zero.
  EXPECT_THROW(parseBackend("cpu"), std::invalid_argument);
  EXPECT_THROW(parseBackend("xpu"), std::invalid_argument);
  EXPECT_THROW(parseBackend("level-zero"), std::invalid_argument);
}

} // namespace
