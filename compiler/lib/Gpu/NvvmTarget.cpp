//===- NvvmTarget.cpp - cuda:sm_XX, NVVM to PTX and cubin -----------------===//
//
// MLIR's NVVM lowering and gpu-module-to-binary give PTX; ptxas, where it is
// installed, assembles it into a cubin for the chip as well.
//
//===----------------------------------------------------------------------===//

#include "GpuCompilerInternal.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

namespace ember {

std::string nvvmLoweringPipeline(const GpuTarget &target) {
  return "builtin.module(nvvm-attach-target{chip=" + target.chip +
         " features=+ptx80 O=3},ember-gpu-f64-math,ember-gpu-math,gpu.module(convert-scf-to-cf,"
         // fma as mul+add (the backend contracts it again), not a
         // libdevice call.
         "math-expand-ops{ops=fma},convert-gpu-to-nvvm{index-bitwidth=64},canonicalize,cse,"
         "reconcile-unrealized-casts),gpu-module-to-binary{format=isa})";
}

bool assembleCubin(const std::string &ptx, const std::string &chip, std::string *cubin) {
  std::string ptxas;
  if (auto found = llvm::sys::findProgramByName("ptxas"))
    ptxas = *found;
  else if (llvm::sys::fs::can_execute("/usr/local/cuda/bin/ptxas"))
    ptxas = "/usr/local/cuda/bin/ptxas";
  else
    return false;
  llvm::SmallString<128> source, image;
  llvm::sys::fs::createTemporaryFile("ember-kernel", "ptx", source);
  llvm::sys::fs::createTemporaryFile("ember-kernel", "cubin", image);
  {
    std::error_code ec;
    llvm::raw_fd_ostream out(source, ec);
    out << ptx;
  }
  std::string output, arch = "-arch=" + chip;
  bool ok = runTool(ptxas, {arch, source, "-o", image}, &output);
  if (ok)
    *cubin = readFile(image);
  llvm::sys::fs::remove(source);
  llvm::sys::fs::remove(image);
  return ok;
}

} // namespace ember
