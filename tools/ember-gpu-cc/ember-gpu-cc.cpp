//===- ember-gpu-cc.cpp - compile an ember program into GPU kernels --------===//
//
//   ember-gpu-cc program.mlir --target cuda:sm_90 -o out/
//
// Writes one binary per kernel (<kernel>.ptx [+ .cubin], .hsaco or .spv),
// kernels.json (the launch metadata, see docs/gpu-codegen.md) and host.mlir
// (the host side: allocations, views, sizes and launches in order) into the
// output folder, and prints one line per kernel. No GPU is needed: the
// binaries are for the runtime's devices and for validation (ptxas,
// llvm-readelf, spirv-val).
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Gpu/GpuCompiler.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace {

cl::opt<std::string> inputPath(cl::Positional, cl::desc("<program.mlir>"),
                               cl::Required);
cl::opt<std::string> targetName(
    "target", cl::desc("cuda:sm_XX, rocm:gfxNNN, level-zero or vulkan"),
    cl::Required);
cl::opt<std::string> outputDir("o", cl::desc("output folder (created)"),
                               cl::value_desc("folder"), cl::Required);

int fail(const Twine &message) {
  errs() << "ember-gpu-cc: error: " << message << "\n";
  return 1;
}

bool writeFile(const Twine &path, StringRef bytes) {
  std::error_code ec;
  raw_fd_ostream out(path.str(), ec, sys::fs::OF_None);
  if (ec)
    return false;
  out << bytes;
  return true;
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv,
                              "ember-gpu-cc: ember program -> GPU kernels, "
                              "launch metadata and host side\n");
  ember::gpu::GpuTarget target;
  std::string error;
  if (!ember::gpu::GpuTarget::parse(targetName, target, error))
    return fail(error);

  mlir::DialectRegistry registry;
  ember::gpu::registerGpuCompilerDialects(registry);
  mlir::MLIRContext context(registry);
  SourceMgr sources;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceFile<mlir::ModuleOp>(inputPath, sources, &context);
  if (!module)
    return fail("cannot parse '" + inputPath + "'");

  ember::gpu::GpuProgram program;
  if (!ember::gpu::compileForGpu(*module, target, program, error))
    return fail(inputPath + ": " + error);

  if (std::error_code ec = sys::fs::create_directories(outputDir))
    return fail("cannot create '" + outputDir + "': " + ec.message());
  StringRef format = target.binaryFormat();
  std::string extension = format == "spirv" ? "spv" : format.str();
  for (const ember::gpu::GpuKernelInfo &kernel : program.kernels) {
    SmallString<128> path(outputDir);
    sys::path::append(path, kernel.module + "." + extension);
    if (!writeFile(path, kernel.binary))
      return fail("cannot write '" + path + "'");
    if (!kernel.cubin.empty()) {
      sys::path::replace_extension(path, "cubin");
      if (!writeFile(path, kernel.cubin))
        return fail("cannot write '" + path + "'");
    }
    outs() << kernel.name << ": " << kernel.kind << ", block "
           << kernel.block[0] << "x" << kernel.block[1] << "x"
           << kernel.block[2] << ", " << kernel.params.size() << " params, "
           << kernel.binary.size() << " bytes of " << format
           << (kernel.cubin.empty() ? "" : " + cubin") << "\n";
  }
  SmallString<128> metadata(outputDir), host(outputDir);
  sys::path::append(metadata, "kernels.json");
  sys::path::append(host, "host.mlir");
  if (!writeFile(metadata, ember::gpu::gpuProgramMetadataJson(program)) ||
      !writeFile(host, program.host))
    return fail("cannot write into '" + outputDir + "'");
  outs() << program.kernels.size() << " kernels for " << target.str() << "\n";
  return 0;
}
