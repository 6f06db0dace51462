//===- GpuTarget.cpp - the GPU targets by name ----------------------------===//
//
// A target is a runtime Backend plus, for CUDA and ROCm, the chip; its
// spellings and binary format come from the runtime's backend table
// (ember/Runtime/Backend.h), so a target name, a model file's artifact
// target and the runtime's choice of artifact cannot disagree.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/GpuCompiler.h"

#include "llvm/ADT/StringExtras.h"

namespace ember {

bool GpuTarget::parse(llvm::StringRef text, GpuTarget *target, std::string *error) {
  for (const BackendInfo &info : kBackends) {
    if (!isGpuBackend(info.backend))
      continue;
    llvm::StringRef prefix = info.targetPrefix;
    GpuTarget result;
    result.backend = info.backend;
    if (!*info.defaultChip) {
      if (text != prefix)
        continue;
    } else {
      // A chip of the default's family: "sm_" + digits, "gfx" + digits.
      llvm::StringRef family =
          llvm::StringRef(info.defaultChip).take_while([](char c) { return !llvm::isDigit(c); });
      if (!text.starts_with(prefix))
        continue;
      llvm::StringRef chip = text.drop_front(prefix.size());
      if (!chip.starts_with(family) || chip.size() <= family.size())
        continue;
      result.chip = chip.str();
    }
    *target = result;
    return true;
  }
  *error = "unknown GPU target '" + text.str() +
           "' (expected cuda:sm_XX, rocm:gfxNNN, level-zero or vulkan)";
  return false;
}

std::string GpuTarget::str() const { return backendTargetPrefix(backend) + chip; }

const char *GpuTarget::binaryFormat() const { return backendInfo(backend).kernelFormat; }

gpu::ModuleFormat GpuTarget::moduleFormat() const {
  return gpu::parseModuleFormat(binaryFormat(), "GPU target " + str());
}

} // namespace ember
