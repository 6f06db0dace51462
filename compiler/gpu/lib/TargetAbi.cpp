//===- TargetAbi.cpp - per-target kernel signatures and legalizations ------===//
//
// The kernels `ember-gpu-kernelize` outlines take 1-D buffers
// (`memref<?xT>`), `index` scalars and workgroup attributions. Each target
// wants them a little differently:
//
//   NVVM, ROCDL  one pointer per buffer (`ember-gpu-bare-buffers`); no
//                math op may become a device-library call
//                (`ember-gpu-legalize-math`)
//   SPIR-V       an entry point ABI, workgroup memory as `memref.alloc`s,
//                and for Vulkan storage-buffer bindings plus one
//                push-constant block for the scalars (`ember-gpu-spirv-abi`,
//                `ember-spirv-unbind-push-constants`)
//
// These passes change kernel signatures, so they run on modules whose host
// functions were dropped (`ember-gpu-drop-host`).
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Gpu/Passes.h"
#include "mlir/AsmParser/AsmParser.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVAttributes.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVDialect.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVOps.h"
#include "mlir/Dialect/SPIRV/IR/TargetAndABI.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/BitVector.h"

#include <cmath>

namespace ember::gpu {
#define GEN_PASS_DEF_EMBERGPUDROPHOST
#define GEN_PASS_DEF_EMBERGPUBAREBUFFERS
#define GEN_PASS_DEF_EMBERGPULEGALIZEMATH
#define GEN_PASS_DEF_EMBERGPUSPIRVABI
#define GEN_PASS_DEF_EMBERSPIRVUNBINDPUSHCONSTANTS
#include "ember/Compiler/Gpu/Passes.h.inc"
} // namespace ember::gpu

using namespace mlir;

namespace {

/// The size a bare buffer's kernel-side view claims: kernels never check
/// bounds, so any extent larger than a real buffer does.
constexpr int64_t kBareExtent = int64_t(1) << 40;

/// Capabilities a target offers; `spirv-update-vce` keeps the used ones.
constexpr const char kVulkanTargetEnv[] =
    "#spirv.target_env<#spirv.vce<v1.3, [Shader, Int64, Float64, Float16, "
    "Int16, StorageBuffer16BitAccess], [SPV_KHR_storage_buffer_storage_class, "
    "SPV_KHR_16bit_storage]>, api=Vulkan, #spirv.resource_limits<>>";
constexpr const char kOpenClTargetEnv[] =
    "#spirv.target_env<#spirv.vce<v1.0, [Addresses, Kernel, Int64, Int8, "
    "Int16, Float64, Float16], []>, api=OpenCL, #spirv.resource_limits<>>";

struct EmberGpuDropHost
    : ember::gpu::impl::EmberGpuDropHostBase<EmberGpuDropHost> {
  void runOnOperation() override {
    for (Operation &op :
         llvm::make_early_inc_range(getOperation().getBody()->getOperations()))
      if (!isa<gpu::GPUModuleOp>(op))
        op.erase();
  }
};

struct EmberGpuBareBuffers
    : ember::gpu::impl::EmberGpuBareBuffersBase<EmberGpuBareBuffers> {
  void runOnOperation() override {
    getOperation().walk([](gpu::GPUFuncOp func) {
      if (!func.isKernel())
        return;
      Block &entry = func.getBody().front();
      OpBuilder b = OpBuilder::atBlockBegin(&entry);
      SmallVector<Type> inputs(func.getArgumentTypes());
      for (unsigned i = 0; i < inputs.size(); ++i) {
        auto type = dyn_cast<MemRefType>(inputs[i]);
        if (!type || type.getRank() != 1 || !type.getLayout().isIdentity())
          continue;
        BlockArgument arg = entry.getArgument(i);
        inputs[i] = MemRefType::get({}, type.getElementType(),
                                    MemRefLayoutAttrInterface{},
                                    type.getMemorySpace());
        arg.setType(inputs[i]);
        Value extent = arith::ConstantIndexOp::create(b, func.getLoc(), kBareExtent);
        Value view = memref::ReinterpretCastOp::create(
            b, func.getLoc(), type, arg, OpFoldResult(b.getIndexAttr(0)),
            ArrayRef<OpFoldResult>{extent},
            ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
        arg.replaceAllUsesExcept(view, view.getDefiningOp());
      }
      func.setType(FunctionType::get(func.getContext(), inputs, {}));
    });
  }
};

/// floor(x) = t - (t > x), t = sitofp(fptosi(x)); x itself when |x| is
/// large enough to be integral already (2^23 for f32, 2^52 for f64) or NaN.
/// ceil(x) = -floor(-x).
Value expandFloor(OpBuilder &b, Location loc, Value x) {
  auto type = cast<FloatType>(x.getType());
  auto constant = [&](double value) -> Value {
    return arith::ConstantOp::create(b, loc, b.getFloatAttr(type, value));
  };
  Value truncated = arith::SIToFPOp::create(
      b, loc, type, arith::FPToSIOp::create(b, loc, b.getI64Type(), x));
  Value above = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT,
                                      truncated, x);
  Value floor = arith::SubFOp::create(
      b, loc, truncated,
      arith::SelectOp::create(b, loc, above, constant(1.0), constant(0.0)));
  double integral = std::ldexp(1.0, type.getFPMantissaWidth() - 1);
  Value inRange = arith::AndIOp::create(
      b, loc,
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x,
                            constant(integral)),
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x,
                            constant(-integral)));
  return arith::SelectOp::create(b, loc, inRange, floor, x);
}

struct ExpandFloor : OpRewritePattern<math::FloorOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(math::FloorOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, expandFloor(rewriter, op.getLoc(), op.getOperand()));
    return success();
  }
};

struct ExpandCeil : OpRewritePattern<math::CeilOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(math::CeilOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value negated = arith::NegFOp::create(rewriter, loc, op.getOperand());
    rewriter.replaceOpWithNewOp<arith::NegFOp>(
        op, expandFloor(rewriter, loc, negated));
    return success();
  }
};

/// A math op as the LLVM intrinsic op of the same operands.
template <typename MathOp, typename IntrinsicOp>
struct AsIntrinsic : OpRewritePattern<MathOp> {
  using OpRewritePattern<MathOp>::OpRewritePattern;
  LogicalResult matchAndRewrite(MathOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOpWithNewOp<IntrinsicOp>(op, op->getResultTypes(),
                                             op->getOperands());
    return success();
  }
};

struct EmberGpuLegalizeMath
    : ember::gpu::impl::EmberGpuLegalizeMathBase<EmberGpuLegalizeMath> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<ExpandFloor, ExpandCeil, AsIntrinsic<math::FmaOp, LLVM::FMAOp>,
                 AsIntrinsic<math::AbsFOp, LLVM::FAbsOp>,
                 AsIntrinsic<math::CopySignOp, LLVM::CopySignOp>>(
        &getContext());
    FrozenRewritePatternSet frozen(std::move(patterns));
    for (auto module : getOperation().getOps<gpu::GPUModuleOp>())
      if (failed(applyPatternsGreedily(module, frozen)))
        return signalPassFailure();
  }
};

struct EmberGpuSpirvAbi
    : ember::gpu::impl::EmberGpuSpirvAbiBase<EmberGpuSpirvAbi> {
  using Base::Base;

  void runOnOperation() override {
    MLIRContext *context = &getContext();
    Attribute env =
        parseAttribute(vulkan ? kVulkanTargetEnv : kOpenClTargetEnv, context);
    for (auto module : getOperation().getOps<gpu::GPUModuleOp>()) {
      module->setAttr(spirv::getTargetEnvAttrName(), env);
      for (auto func : module.getOps<gpu::GPUFuncOp>())
        if (func.isKernel() && failed(rewriteKernel(func)))
          return signalPassFailure();
    }
  }

  LogicalResult rewriteKernel(gpu::GPUFuncOp func) {
    MLIRContext *context = &getContext();
    Location loc = func.getLoc();
    Block &entry = func.getBody().front();
    OpBuilder b = OpBuilder::atBlockBegin(&entry);

    // Workgroup memory: memory space 3 is what the SPIR-V memref conversion
    // maps to Workgroup for both client APIs.
    auto workgroupSpace = b.getI64IntegerAttr(3);
    unsigned numAttributions = func.getNumWorkgroupAttributions();
    unsigned firstAttribution = func.getFirstWorkgroupAttributionIndex();
    for (unsigned i = 0; i < numAttributions; ++i) {
      BlockArgument arg = entry.getArgument(firstAttribution + i);
      auto type = cast<MemRefType>(arg.getType());
      auto allocated = memref::AllocOp::create(
          b, loc,
          MemRefType::get(type.getShape(), type.getElementType(),
                          type.getLayout(), workgroupSpace));
      arg.replaceAllUsesWith(allocated);
    }
    for (unsigned i = 0; i < numAttributions; ++i)
      entry.eraseArgument(firstAttribution);
    func->setAttr(gpu::GPUFuncOp::getNumWorkgroupAttributionsAttrName(),
                  b.getI64IntegerAttr(0));

    SmallVector<int32_t> block = {1, 1, 1};
    if (std::optional<ArrayRef<int32_t>> known = func.getKnownBlockSize())
      block.assign(known->begin(), known->end());
    func->setAttr(spirv::getEntryPointABIAttrName(),
                  spirv::getEntryPointABIAttr(context, block));
    if (!vulkan)
      return success();

    // Vulkan: buffer i at (0, i); scalars as 32-bit push-constant words.
    unsigned numInputs = func.getNumArguments();
    SmallVector<unsigned> scalars;
    unsigned binding = 0;
    for (unsigned i = 0; i < numInputs; ++i) {
      Type type = func.getArgumentTypes()[i];
      if (isa<MemRefType>(type)) {
        func.setArgAttr(i, spirv::getInterfaceVarABIAttrName(),
                        spirv::getInterfaceVarABIAttr(0, binding++, std::nullopt,
                                                      context));
        continue;
      }
      if (!type.isIndex() && type.getIntOrFloatBitWidth() != 32)
        return func.emitOpError("argument ")
               << i << " of type " << type
               << " does not fit a 32-bit push-constant word";
      scalars.push_back(i);
    }
    if (scalars.empty())
      return success();
    auto pushType = MemRefType::get(
        {int64_t(scalars.size())}, b.getI32Type(), MemRefLayoutAttrInterface{},
        spirv::StorageClassAttr::get(context, spirv::StorageClass::PushConstant));
    if (failed(func.insertArgument(numInputs, pushType, {}, loc)))
      return failure();
    func.setArgAttr(numInputs, spirv::getInterfaceVarABIAttrName(),
                    spirv::getInterfaceVarABIAttr(0, binding, std::nullopt, context));
    Value block32 = entry.getArgument(numInputs);
    llvm::BitVector erase(numInputs + 1);
    for (auto [word, i] : llvm::enumerate(scalars)) {
      BlockArgument arg = entry.getArgument(i);
      Value bits = memref::LoadOp::create(
          b, loc, block32,
          ValueRange{arith::ConstantIndexOp::create(b, loc, word)});
      Value value = bits;
      if (arg.getType().isIndex())
        value = arith::IndexCastOp::create(b, loc, arg.getType(), bits);
      else if (arg.getType() != bits.getType())
        value = arith::BitcastOp::create(b, loc, arg.getType(), bits);
      arg.replaceAllUsesWith(value);
      erase.set(i);
    }
    return func.eraseArguments(erase);
  }
};

struct EmberSpirvUnbindPushConstants
    : ember::gpu::impl::EmberSpirvUnbindPushConstantsBase<
          EmberSpirvUnbindPushConstants> {
  void runOnOperation() override {
    getOperation().walk([](spirv::GlobalVariableOp variable) {
      auto pointer = dyn_cast<spirv::PointerType>(variable.getType());
      if (!pointer ||
          pointer.getStorageClass() != spirv::StorageClass::PushConstant)
        return;
      variable->removeAttr(variable.getDescriptorSetAttrName());
      variable->removeAttr(variable.getBindingAttrName());
    });
  }
};

} // namespace
