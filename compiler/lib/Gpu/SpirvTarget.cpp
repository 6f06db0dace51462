//===- SpirvTarget.cpp - vulkan and level-zero, SPIR-V --------------------===//
//
// Both flavours go through convert-gpu-to-spirv: Vulkan's (Shader; scalars
// as push constants) and OpenCL's for Level Zero (Kernel, Addresses). The
// spirv.modules are serialized here, not by gpu-module-to-binary.
//
//===----------------------------------------------------------------------===//

#include "GpuCompilerInternal.h"
#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SPIRV/IR/TargetAndABI.h"
#include "mlir/AsmParser/AsmParser.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVOps.h"
#include "mlir/Target/SPIRV/Serialization.h"

using namespace mlir;

namespace ember {

namespace {

// Float16, Int16 and 16-bit storage buffers let f16 (and bf16, as i16 bits)
// tensors be read and computed as they are stored; spirv-update-vce keeps
// only what a module uses, so other programs do not ask for them.
const char *kVulkanEnv =
    "#spirv.target_env<#spirv.vce<v1.3, [Shader, Int64, Float64, Int16, Float16, "
    "StorageBuffer16BitAccess], [SPV_KHR_storage_buffer_storage_class, "
    "SPV_KHR_16bit_storage]>, #spirv.resource_limits<>>";
const char *kOpenClEnv =
    "#spirv.target_env<#spirv.vce<v1.0, [Addresses, Kernel, Int64, Float64, "
    "Int8, Int16, Float16, Linkage], []>, api=OpenCL, #spirv.resource_limits<>>";
} // namespace

std::string prepareSpirvLowering(ModuleOp module, const GpuTarget &target) {
  MLIRContext *context = module.getContext();
  bool vulkan = target.backend == Backend::Vulkan;
  module->setAttr("spirv.target_env",
                  parseAttribute(vulkan ? kVulkanEnv : kOpenClEnv, context));
  // Scalars as push constants and bf16 buffers as i16 change kernel
  // signatures: the host functions (already written as the plan) go first.
  for (auto func : llvm::make_early_inc_range(module.getOps<func::FuncOp>()))
    func.erase();
  // Vulkan puts each spirv.module beside its gpu.module; OpenCL inside it.
  return std::string("builtin.module(ember-gpu-f64-math,ember-spirv-entry-points,") +
         (vulkan ? "ember-spirv-push-constants," : "") +
         std::string("ember-spirv-bf16-storage,gpu.module(arith-emulate-unsupported-floats{"
                     "source-types=bf16 target-type=f32},arith-expand{include-bf16=true},"
                     "canonicalize),gpu.module(convert-math-to-spirv),"
                     "convert-gpu-to-spirv{use-64bit-index=true},") +
         (vulkan ? "spirv.module(spirv-lower-abi-attrs,spirv-update-vce))"
                 : "gpu.module(spirv.module(spirv-lower-abi-attrs,"
                   "spirv-update-vce)))");
}

bool recordVulkanPlacement(ModuleOp module, std::vector<gpu::KernelDescription> *kernels,
                           std::string *error) {
  // The gpu.modules stay beside their spirv.modules, with the kernels as
  // ember-spirv-push-constants left them.
  std::map<std::string, mlir::gpu::GPUFuncOp> funcs;
  module.walk([&](mlir::gpu::GPUFuncOp func) {
    if (func.isKernel())
      funcs[func->getParentOfType<mlir::gpu::GPUModuleOp>().getName().str()] = func;
  });
  for (gpu::KernelDescription &kernel : *kernels) {
    auto it = funcs.find(kernel.module);
    auto placement = it == funcs.end() ? ArrayAttr()
                                       : it->second->getAttrOfType<ArrayAttr>(
                                             kVulkanPlacementAttrName);
    if (!placement || placement.size() != kernel.params.size()) {
      *error = "internal error: no Vulkan placement for kernel '" + kernel.name + "'";
      return false;
    }
    for (auto [param, where] : llvm::zip_equal(kernel.params, placement)) {
      if (auto abi = dyn_cast<spirv::InterfaceVarABIAttr>(where))
        param.vulkanBinding = {abi.getDescriptorSet(), abi.getBinding()};
      else
        param.vulkanOffset = static_cast<uint32_t>(cast<IntegerAttr>(where).getInt());
    }
    if (auto abi = it->second->getAttrOfType<spirv::InterfaceVarABIAttr>(
            kVulkanScalarBufferAttrName))
      kernel.scalarBuffer = gpu::VulkanBinding{abi.getDescriptorSet(), abi.getBinding()};
  }
  return true;
}

bool serializeSpirvModules(ModuleOp module, std::map<std::string, std::string> *binaries,
                           const std::string &diagnostics, std::string *error) {
  std::vector<spirv::ModuleOp> modules;
  module.walk([&](spirv::ModuleOp spirvModule) { modules.push_back(spirvModule); });
  for (spirv::ModuleOp spirvModule : modules) {
    // spirv-lower-abi-attrs gives every interface variable a descriptor
    // set and binding; a push-constant block must have neither.
    spirvModule.walk([](spirv::GlobalVariableOp variable) {
      auto pointer = dyn_cast<spirv::PointerType>(variable.getType());
      if (pointer && pointer.getStorageClass() == spirv::StorageClass::PushConstant) {
        variable->removeAttr(variable.getDescriptorSetAttrName());
        variable->removeAttr(variable.getBindingAttrName());
      }
    });
    SmallVector<uint32_t, 0> words;
    if (failed(spirv::serialize(spirvModule, words))) {
      *error = "cannot serialize SPIR-V module:\n" + diagnostics;
      return false;
    }
    std::string name = spirvModule.getName().value_or("").str();
    llvm::StringRef gpuModule = llvm::StringRef(name).drop_front(
        llvm::StringRef(name).starts_with("__spv__") ? 7 : 0);
    (*binaries)[gpuModule.str()] =
        std::string(reinterpret_cast<const char *>(words.data()), words.size() * 4);
  }
  return true;
}

} // namespace ember
