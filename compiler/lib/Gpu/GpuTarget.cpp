//===- GpuTarget.cpp - the GPU targets by name ----------------------------===//

#include "ember/Compiler/GpuCompiler.h"

namespace ember {

bool GpuTarget::parse(llvm::StringRef text, GpuTarget *target, std::string *error) {
  auto [kind, chip] = text.split(':');
  GpuTarget result;
  if (kind == "cuda" && chip.starts_with("sm_") && chip.size() > 3) {
    result.backend = GpuBackend::Cuda;
    result.chip = chip.str();
  } else if (kind == "rocm" && chip.starts_with("gfx") && chip.size() > 3) {
    result.backend = GpuBackend::Rocm;
    result.chip = chip.str();
  } else if (text == "level-zero") {
    result.backend = GpuBackend::LevelZero;
  } else if (text == "vulkan") {
    result.backend = GpuBackend::Vulkan;
  } else {
    *error = "unknown GPU target '" + text.str() +
             "' (expected cuda:sm_XX, rocm:gfxNNN, level-zero or vulkan)";
    return false;
  }
  *target = result;
  return true;
}

std::string GpuTarget::str() const {
  switch (backend) {
  case GpuBackend::Cuda:
    return "cuda:" + chip;
  case GpuBackend::Rocm:
    return "rocm:" + chip;
  case GpuBackend::LevelZero:
    return "level-zero";
  case GpuBackend::Vulkan:
    return "vulkan";
  }
  return "";
}

const char *GpuTarget::binaryFormat() const {
  switch (backend) {
  case GpuBackend::Cuda:
    return "ptx";
  case GpuBackend::Rocm:
    return "hsaco";
  default:
    return "spirv";
  }
}

} // namespace ember
