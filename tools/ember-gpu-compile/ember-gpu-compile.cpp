//===- ember-gpu-compile.cpp - compile an ember program into GPU kernels ---===//
//
//   ember-gpu-compile program.mlir --target cuda:sm_90 -o out/
//
// Writes one binary per kernel (<kernel>.ptx [+ .cubin], .hsaco or .spv),
// kernels.json (launch metadata: block size and arguments per kernel),
// host.mlir (the host side: allocations and launches in order) and
// plan.json (the same host side as the runtime's launch plan) into the
// output folder, and prints a line per kernel. Nothing here needs a GPU: the
// binaries are for inspection and validation (ptxas, llvm-readelf,
// spirv-val), and for the runtime's device layer.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/GpuCompiler.h"
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

cl::opt<std::string> inputPath(cl::Positional, cl::desc("<program.mlir>"), cl::Required);
cl::opt<std::string> targetName("target",
                                cl::desc("cuda:sm_XX, rocm:gfxNNN, level-zero or vulkan"),
                                cl::Required);
cl::opt<std::string> outputDir("o", cl::desc("output folder (created)"),
                               cl::value_desc("folder"), cl::Required);

int fail(const Twine &message) {
  errs() << "ember-gpu-compile: error: " << message << "\n";
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
  cl::ParseCommandLineOptions(
      argc, argv,
      "ember-gpu-compile: compiles the public functions of an ember program "
      "into GPU kernels\nfor one target and writes the binaries, their launch "
      "metadata (kernels.json)\nand the host side (host.mlir) into a folder.\n");
  ember::GpuTarget target;
  std::string error;
  if (!ember::GpuTarget::parse(targetName, &target, &error))
    return fail(error);

  mlir::DialectRegistry registry;
  ember::registerGpuCompilerDialects(registry);
  mlir::MLIRContext context(registry);
  context.disableMultithreading();
  SourceMgr sources;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceFile<mlir::ModuleOp>(inputPath, sources, &context);
  if (!module)
    return fail("cannot parse '" + inputPath + "'");

  ember::GpuProgram program;
  if (!ember::compileForGpu(*module, target, &program, &error))
    return fail(inputPath + ": cannot compile for " + target.str() + ":\n" + error);

  if (std::error_code ec = sys::fs::create_directories(outputDir))
    return fail("cannot create '" + outputDir + "': " + ec.message());
  std::string extension = target.binaryFormat() == StringRef("spirv")
                              ? "spv"
                              : target.binaryFormat();
  for (const ember::GpuKernel &kernel : program.kernels) {
    SmallString<128> path(outputDir);
    sys::path::append(path, kernel.module + "." + extension);
    if (!writeFile(path, kernel.binary))
      return fail("cannot write '" + path + "'");
    if (!kernel.cubin.empty()) {
      sys::path::replace_extension(path, "cubin");
      if (!writeFile(path, kernel.cubin))
        return fail("cannot write '" + path + "'");
    }
    outs() << kernel.module << ": " << kernel.name << ", block " << kernel.block[0]
           << "x" << kernel.block[1] << "x" << kernel.block[2] << ", "
           << kernel.args.size() << " args, " << kernel.binary.size() << " bytes of "
           << target.binaryFormat() << (kernel.cubin.empty() ? "" : " + cubin") << "\n";
  }
  SmallString<128> metadata(outputDir), host(outputDir), plan(outputDir);
  sys::path::append(metadata, "kernels.json");
  sys::path::append(host, "host.mlir");
  sys::path::append(plan, "plan.json");
  if (!writeFile(metadata, ember::gpuProgramMetadata(program)) ||
      !writeFile(host, program.host) || !writeFile(plan, program.plan))
    return fail("cannot write into '" + outputDir + "'");
  outs() << program.kernels.size() << " kernels for " << target.str() << " in "
         << outputDir << "\n";
  return 0;
}
