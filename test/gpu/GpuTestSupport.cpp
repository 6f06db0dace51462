//===- GpuTestSupport.cpp - helpers shared by the GPU device tests ---------===//

#include "GpuTestSupport.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <random>
#include <sys/stat.h>

namespace ember {
namespace gpu {
namespace test {

std::vector<char> readRunfile(const std::string &path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    ADD_FAILURE() << "cannot read " << path << " (a data dependency of the test)";
    return {};
  }
  return std::vector<char>(std::istreambuf_iterator<char>(file), {});
}

std::vector<float> randomFloats(size_t count, uint32_t seed, float low,
                                float high) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> distribution(low, high);
  std::vector<float> values(count);
  for (float &value : values)
    value = distribution(generator);
  return values;
}

std::string skipReason(Backend backend) {
  std::string reason = backendUnavailableReason(backend);
  if (reason.empty())
    return reason;
  struct stat info;
  const char *lavapipe = "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json";
  if (backend == Backend::Vulkan && stat(lavapipe, &info) == 0)
    ADD_FAILURE() << "Mesa's lavapipe is installed (" << lavapipe
                  << ") but Vulkan does not work: " << reason;
  return reason;
}

} // namespace test
} // namespace gpu
} // namespace ember
