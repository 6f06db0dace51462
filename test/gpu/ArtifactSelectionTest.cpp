//===- ArtifactSelectionTest.cpp - which GPU artifact a device runs -------===//
//
// selectGpuArtifact needs no GPU: it reads a manifest's artifact list and a
// device's kind and architecture.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/Gpu/DeviceModel.h"

#include <gtest/gtest.h>

using namespace ember;
using namespace ember::gpu;

namespace {

Manifest withTargets(std::initializer_list<const char *> targets) {
  Manifest manifest;
  for (const char *target : targets) {
    ArtifactSpec artifact;
    artifact.target = target;
    artifact.format = std::string(target) == "cpu" ? "elf-shared-object" : "gpu-kernels";
    artifact.section = std::string("artifact.") + target;
    manifest.artifacts.push_back(artifact);
  }
  return manifest;
}

std::string pick(const Manifest &manifest, Backend backend, const std::string &arch,
                 std::string *why = nullptr) {
  std::string reason;
  const ArtifactSpec *artifact = selectGpuArtifact(manifest, backend, arch, &reason);
  if (why)
    *why = reason;
  return artifact ? artifact->target : "";
}

TEST(ArtifactSelection, CudaPrefersTheDevicesOwnArchitecture) {
  Manifest m = withTargets({"cpu", "cuda:sm_80", "cuda:sm_90", "vulkan"});
  EXPECT_EQ(pick(m, Backend::Cuda, "sm_90"), "cuda:sm_90");
  EXPECT_EQ(pick(m, Backend::Cuda, "sm_80"), "cuda:sm_80");
}

TEST(ArtifactSelection, CudaFallsBackToTheNewestOlderPtx) {
  Manifest m = withTargets({"cuda:sm_70", "cuda:sm_80", "cuda:sm_90a"});
  // sm_90a code runs on sm_90 only; sm_80 PTX is compiled by the driver.
  EXPECT_EQ(pick(m, Backend::Cuda, "sm_89"), "cuda:sm_80");
  EXPECT_EQ(pick(m, Backend::Cuda, "sm_100"), "cuda:sm_80");
  EXPECT_EQ(pick(m, Backend::Cuda, "sm_90a"), "cuda:sm_90a");
}

TEST(ArtifactSelection, CudaCodeForANewerGpuIsRefusedWithTheReason) {
  Manifest m = withTargets({"cpu", "cuda:sm_90"});
  std::string why;
  EXPECT_EQ(pick(m, Backend::Cuda, "sm_80", &why), "");
  EXPECT_NE(why.find("cuda:sm_90"), std::string::npos) << why;
  EXPECT_NE(why.find("sm_80 device"), std::string::npos) << why;
}

TEST(ArtifactSelection, RocmNeedsItsOwnChipWhenTheChipIsKnown) {
  Manifest m = withTargets({"rocm:gfx90a", "rocm:gfx942"});
  EXPECT_EQ(pick(m, Backend::Rocm, "gfx942"), "rocm:gfx942");
  EXPECT_EQ(pick(m, Backend::Rocm, "gfx1100"), "");
  // Unknown chip: the last one, and the driver says whether it loads.
  EXPECT_EQ(pick(m, Backend::Rocm, ""), "rocm:gfx942");
}

TEST(ArtifactSelection, OtherKindsAndMissingCode) {
  Manifest m = withTargets({"cpu", "level-zero", "vulkan"});
  EXPECT_EQ(pick(m, Backend::Vulkan, ""), "vulkan");
  EXPECT_EQ(pick(m, Backend::LevelZero, ""), "level-zero");
  std::string why;
  EXPECT_EQ(pick(m, Backend::Cuda, "sm_90", &why), "");
  EXPECT_EQ(why, "no cuda code in this file");
}

} // namespace
