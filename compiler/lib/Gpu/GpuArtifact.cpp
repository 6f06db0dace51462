//===- GpuArtifact.cpp - kernel descriptions and model artifacts ----------===//
//
// What travels with the kernels' binaries is the runtime's own kernel
// description (ember/Runtime/Gpu/KernelDescription.h): filled here from the
// outlined kernels (describeKernels; the Vulkan placement is added by
// recordVulkanPlacement once the lowering chose it), and written only by its
// toJson: into --emit-kernels' kernels.json (gpuProgramMetadata) and into a
// model file's manifest entry beside the artifact section (packGpuArtifact,
// docs/model-format.md), which the runtime reads back with fromJson.
// Kernels are named by their code first (nameKernelsByContent), as the CPU's
// are (ember_kernel_<hash>), so that profiler spans tell them apart.
//
//===----------------------------------------------------------------------===//

#include "GpuCompilerInternal.h"
#include "ember/Compiler/ContentName.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/STLExtras.h"
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

/// A kernel argument of `type` as the runtime describes it.
gpu::KernelParameter describeParameter(Type type) {
  using Kind = gpu::KernelParameter::Kind;
  gpu::KernelParameter param;
  if (auto memref = dyn_cast<MemRefType>(type)) {
    param.kind = Kind::Buffer;
    param.rank = static_cast<int>(memref.getRank());
    param.type = typeName(memref.getElementType());
  } else if (type.isIndex()) {
    param.kind = Kind::Index;
    param.type = "index";
  } else if (isa<FloatType>(type)) {
    param.kind = Kind::Float;
    param.type = typeName(type);
    param.bits = static_cast<int>(type.getIntOrFloatBitWidth());
  } else {
    // i1, i8 and i16 scalars travel as 32-bit words.
    param.kind = Kind::Int;
    param.type = typeName(type);
    param.bits = static_cast<int>(std::max(32u, type.getIntOrFloatBitWidth()));
  }
  param.bfloat = param.type == "bf16";
  return param;
}

} // namespace

void nameKernelsByContent(ModuleOp module) {
  MLIRContext *context = module.getContext();
  constexpr llvm::StringLiteral neutral = "ember_gpu_kernel";
  for (auto gpuModule : module.getOps<mlir::gpu::GPUModuleOp>()) {
    auto kernels = llvm::to_vector(llvm::make_filter_range(
        gpuModule.getOps<mlir::gpu::GPUFuncOp>(),
        [](mlir::gpu::GPUFuncOp func) { return func.isKernel(); }));
    if (kernels.size() != 1) // outlining makes one kernel per module
      continue;
    mlir::gpu::GPUFuncOp kernel = kernels.front();
    // The module's code (helpers and globals too) under neutral names: the
    // names outlining gave depend on the host function and on the order.
    StringAttr moduleName = gpuModule.getNameAttr();
    StringAttr oldName = kernel.getNameAttr();
    SymbolTable::setSymbolName(gpuModule, neutral);
    SymbolTable::setSymbolName(kernel, neutral);
    std::string text;
    llvm::raw_string_ostream os(text);
    gpuModule->print(os, OpPrintingFlags().useLocalScope());
    SymbolTable::setSymbolName(gpuModule, moduleName);
    StringAttr name = StringAttr::get(context, contentName("ember_gpu_kernel_", text));
    SymbolTable::setSymbolName(kernel, name);
    // Only launches refer to a kernel (@module::@kernel).
    SymbolRefAttr newRef =
        SymbolRefAttr::get(moduleName, {FlatSymbolRefAttr::get(name)});
    module.walk([&](mlir::gpu::LaunchFuncOp launch) {
      if (launch.getKernelModuleName() == moduleName && launch.getKernelName() == oldName)
        launch.setKernelAttr(newRef);
    });
  }
}

std::vector<gpu::KernelDescription> describeKernels(ModuleOp module, const GpuTarget &target) {
  std::vector<gpu::KernelDescription> kernels;
  module.walk([&](mlir::gpu::GPUFuncOp func) {
    if (!func.isKernel())
      return;
    gpu::KernelDescription kernel;
    kernel.name = func.getName().str();
    kernel.module = func->getParentOfType<mlir::gpu::GPUModuleOp>().getName().str();
    kernel.backend = target.backend;
    kernel.format = target.moduleFormat();
    if (std::optional<ArrayRef<int32_t>> known = func.getKnownBlockSize())
      for (auto [i, extent] : llvm::enumerate(*known))
        if (i < 3)
          kernel.block[i] = extent;
    for (Type type : func.getArgumentTypes())
      kernel.params.push_back(describeParameter(type));
    kernels.push_back(std::move(kernel));
  });
  return kernels;
}

std::string gpuProgramMetadata(const GpuProgram &program) {
  // One kernel per line; each exactly as a manifest holds it, plus its size.
  std::string text = "{\n  \"target\": \"" + program.target.str() +
                     "\",\n  \"binary_format\": \"" + program.target.binaryFormat() +
                     "\",\n  \"kernels\": [";
  for (size_t i = 0; i < program.kernels.size(); ++i) {
    Json kernel = program.kernels[i].toJson();
    kernel.set("size", static_cast<uint64_t>(program.kernels[i].binary.size()));
    text += std::string(i ? "," : "") + "\n    " + kernel.dump();
  }
  return text + "\n  ]\n}\n";
}

GpuArtifact packGpuArtifact(const GpuProgram &program) {
  GpuArtifact artifact;
  artifact.target = program.target.str();
  artifact.section = "artifact." + artifact.target;
  Json kernels = Json::array();
  for (const gpu::KernelDescription &kernel : program.kernels) {
    size_t offset = artifact.bytes.size();
    artifact.bytes.insert(artifact.bytes.end(), kernel.binary.begin(), kernel.binary.end());
    // Keep each binary 8-byte aligned (SPIR-V is read as 32-bit words).
    artifact.bytes.resize((artifact.bytes.size() + 7) / 8 * 8, 0);
    Json entry = kernel.toJson();
    entry.set("offset", static_cast<uint64_t>(offset));
    entry.set("size", static_cast<uint64_t>(kernel.binary.size()));
    kernels.push(std::move(entry));
  }
  Json manifest = Json::object();
  manifest.set("target", artifact.target);
  manifest.set("format", "gpu-kernels");
  manifest.set("section", artifact.section);
  manifest.set("checksum", "");
  manifest.set("binary_format", program.target.binaryFormat());
  manifest.set("kernels", std::move(kernels));
  manifest.set("plan", Json::parse(program.plan));
  artifact.manifestJson = manifest.dump();
  return artifact;
}

} // namespace ember
