//===- GpuArtifact.cpp - kernel metadata and model artifacts --------------===//
//
// What travels with the kernels' binaries: each kernel's entry point, block
// size and arguments (describeKernels), written as ember-gpu-compile's
// metadata JSON (gpuProgramMetadata) or as a model file's artifact section
// and manifest entry (packGpuArtifact, docs/model-format.md).
//
//===----------------------------------------------------------------------===//

#include "GpuCompilerInternal.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace ember {

namespace {

std::string typeName(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  type.print(os);
  return text;
}

} // namespace

/// The kernels of the outlined module, with their launch metadata.
std::vector<GpuKernel> describeKernels(ModuleOp module) {
  std::vector<GpuKernel> kernels;
  module.walk([&](gpu::GPUFuncOp func) {
    if (!func.isKernel())
      return;
    GpuKernel kernel;
    kernel.name = func.getName().str();
    kernel.module = func->getParentOfType<gpu::GPUModuleOp>().getName().str();
    if (std::optional<ArrayRef<int32_t>> known = func.getKnownBlockSize())
      for (auto [i, extent] : llvm::enumerate(*known))
        if (i < 3)
          kernel.block[i] = extent;
    for (Type type : func.getArgumentTypes()) {
      GpuKernelArg arg;
      if (auto memref = dyn_cast<MemRefType>(type)) {
        arg.kind = GpuKernelArg::Kind::Memref;
        arg.rank = memref.getRank();
        arg.type = typeName(memref.getElementType());
      } else if (type.isIndex()) {
        arg.kind = GpuKernelArg::Kind::Index;
        arg.type = "index";
        arg.bits = 64;
      } else if (isa<FloatType>(type)) {
        arg.kind = GpuKernelArg::Kind::Float;
        arg.type = typeName(type);
        arg.bits = type.getIntOrFloatBitWidth();
      } else {
        arg.kind = GpuKernelArg::Kind::Integer;
        arg.type = typeName(type);
        arg.bits = std::max(32u, type.getIntOrFloatBitWidth());
      }
      kernel.args.push_back(arg);
    }
    kernels.push_back(std::move(kernel));
  });
  return kernels;
}

std::string gpuProgramMetadata(const GpuProgram &program) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "{\n  \"target\": \"" << program.target.str() << "\",\n  \"format\": \""
     << program.target.binaryFormat() << "\",\n  \"kernels\": [";
  for (size_t i = 0; i < program.kernels.size(); ++i) {
    const GpuKernel &kernel = program.kernels[i];
    os << (i ? "," : "") << "\n    {\"name\": \"" << kernel.name << "\", \"module\": \""
       << kernel.module << "\", \"block\": [" << kernel.block[0] << ", "
       << kernel.block[1] << ", " << kernel.block[2] << "], \"bytes\": "
       << kernel.binary.size() << ", \"cubin\": " << (kernel.cubin.empty() ? "false" : "true")
       << ", \"args\": [";
    for (size_t j = 0; j < kernel.args.size(); ++j) {
      const GpuKernelArg &arg = kernel.args[j];
      os << (j ? ", " : "") << "{\"kind\": \"";
      switch (arg.kind) {
      case GpuKernelArg::Kind::Memref:
        os << "memref\", \"rank\": " << arg.rank << ", ";
        break;
      case GpuKernelArg::Kind::Index:
        os << "index\", ";
        break;
      case GpuKernelArg::Kind::Integer:
        os << "int\", ";
        break;
      case GpuKernelArg::Kind::Float:
        os << "float\", ";
        break;
      }
      os << "\"type\": \"" << arg.type << "\"}";
    }
    os << "]}";
  }
  os << "\n  ]\n}\n";
  return text;
}

GpuArtifact packGpuArtifact(const GpuProgram &program) {
  GpuArtifact artifact;
  artifact.target = program.target.str();
  artifact.section = "artifact." + artifact.target;
  std::string kernels;
  llvm::raw_string_ostream os(kernels);
  os << "[";
  for (size_t i = 0; i < program.kernels.size(); ++i) {
    const GpuKernel &kernel = program.kernels[i];
    auto append = [&](const std::string &bytes) {
      size_t offset = artifact.bytes.size();
      artifact.bytes.insert(artifact.bytes.end(), bytes.begin(), bytes.end());
      // Keep each binary 8-byte aligned (SPIR-V is read as 32-bit words).
      artifact.bytes.resize((artifact.bytes.size() + 7) / 8 * 8, 0);
      return offset;
    };
    size_t offset = append(kernel.binary);
    os << (i ? ", " : "") << "{\"module\": \"" << kernel.module << "\", \"name\": \""
       << kernel.name << "\", \"offset\": " << offset << ", \"size\": "
       << kernel.binary.size() << ", \"block\": [" << kernel.block[0] << ", "
       << kernel.block[1] << ", " << kernel.block[2] << "], \"params\": [";
    for (size_t j = 0; j < kernel.args.size(); ++j) {
      const GpuKernelArg &arg = kernel.args[j];
      const char *kind = arg.kind == GpuKernelArg::Kind::Memref   ? "buffer"
                         : arg.kind == GpuKernelArg::Kind::Index ? "index"
                         : arg.kind == GpuKernelArg::Kind::Float ? "float"
                                                                 : "int";
      os << (j ? ", " : "") << "{\"kind\": \"" << kind << "\", \"bits\": " << arg.bits
         << ", \"rank\": " << arg.rank << (arg.type == "bf16" ? ", \"bfloat\": true" : "")
         << "}";
    }
    os << "]}";
  }
  os << "]";
  std::string plan = program.plan;
  while (!plan.empty() && (plan.back() == '\n' || plan.back() == ' '))
    plan.pop_back();
  artifact.manifestJson = "{\"target\": \"" + artifact.target +
                          "\", \"format\": \"gpu-kernels\", \"section\": \"" +
                          artifact.section + "\", \"checksum\": \"\", "
                          "\"binary_format\": \"" + program.target.binaryFormat() +
                          "\", \"kernels\": " + kernels + ", \"plan\": " + plan + "}";
  return artifact;
}

} // namespace ember
