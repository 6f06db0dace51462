//===- GpuTestSupport.h - helpers shared by the GPU device tests -*- C++ -*-===//
//
// Reading test data from the runfiles, random inputs, and the rule for
// when a missing backend skips a test and when it fails one.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_TEST_GPU_GPUTESTSUPPORT_H
#define EMBER_TEST_GPU_GPUTESTSUPPORT_H

#include "ember/Runtime/Gpu/Device.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ember {
namespace gpu {
namespace test {

/// The bytes of a file of the test's runfiles ("test/gpu/mul_add.spv");
/// fails the calling test (and returns empty) when it cannot be read.
std::vector<char> readRunfile(const std::string &path);

/// `count` floats uniform in [low, high) from a seeded generator.
std::vector<float> randomFloats(size_t count, uint32_t seed, float low = -1.0f,
                                float high = 1.0f);

/// Why tests of `backend` should be skipped here, or "" when it is usable.
/// Vulkan must work wherever Mesa's lavapipe is installed: there an
/// unavailable Vulkan fails the test instead (through ADD_FAILURE) and the
/// reason is returned all the same.
std::string skipReason(Backend backend);

} // namespace test
} // namespace gpu
} // namespace ember

#endif // EMBER_TEST_GPU_GPUTESTSUPPORT_H
