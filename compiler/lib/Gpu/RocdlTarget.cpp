//===- RocdlTarget.cpp - rocm:gfxNNN, ROCDL to HSACO ----------------------===//
//
// MLIR's ROCDL lowering and gpu-module-to-binary give AMDGPU assembly; it is
// assembled with llvm-mc and linked with ld.lld (MLIR's own HSACO step looks
// for a ROCm install).
//
//===----------------------------------------------------------------------===//

#include "GpuCompilerInternal.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

namespace ember {

std::string rocdlLoweringPipeline(const GpuTarget &target) {
  return "builtin.module(rocdl-attach-target{chip=" + target.chip +
         " O=3},ember-gpu-f64-math,ember-gpu-math,gpu.module(convert-scf-to-cf,convert-gpu-to-rocdl{"
         "index-bitwidth=64},canonicalize,cse,reconcile-unrealized-casts),"
         "gpu-module-to-binary{format=isa})";
}

bool assembleHsaco(const std::string &assembly, const std::string &chip,
                   std::string *hsaco, std::string *error) {
  llvm::SmallString<128> source, object, image;
  llvm::sys::fs::createTemporaryFile("ember-kernel", "s", source);
  llvm::sys::fs::createTemporaryFile("ember-kernel", "o", object);
  llvm::sys::fs::createTemporaryFile("ember-kernel", "hsaco", image);
  {
    std::error_code ec;
    llvm::raw_fd_ostream out(source, ec);
    out << assembly;
  }
  std::string output;
  std::string mcpu = "-mcpu=" + chip;
  bool ok = runTool("/usr/lib/llvm-22/bin/llvm-mc",
                    {"-triple=amdgcn-amd-amdhsa", mcpu, "-filetype=obj", source,
                     "-o", object},
                    &output) &&
            runTool("/usr/lib/llvm-22/bin/ld.lld", {"-shared", object, "-o", image},
                    &output);
  if (ok)
    *hsaco = readFile(image);
  else
    *error = "assembling the AMDGPU kernel failed: " + output;
  for (auto &path : {source, object, image})
    llvm::sys::fs::remove(path);
  return ok;
}

} // namespace ember
