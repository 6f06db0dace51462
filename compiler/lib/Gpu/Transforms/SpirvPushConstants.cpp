//===- SpirvPushConstants.cpp - Vulkan scalars as push constants ----------===//

#include "ember/Compiler/Passes.h"
#include "llvm/ADT/BitVector.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVAttributes.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVDialect.h"
#include "mlir/Dialect/SPIRV/IR/TargetAndABI.h"

namespace ember {
#define GEN_PASS_DEF_EMBERSPIRVPUSHCONSTANTS
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

struct EmberSpirvPushConstantsPass
    : ember::impl::EmberSpirvPushConstantsBase<EmberSpirvPushConstantsPass> {
  void runOnOperation() override {
    MLIRContext *context = &getContext();
    getOperation().walk([&](gpu::GPUFuncOp func) {
      if (!func.isKernel())
        return;
      Block &entry = func.getBody().front();
      unsigned numArgs = func.getNumArguments();
      SmallVector<unsigned> scalars;
      for (unsigned i = 0; i < numArgs; ++i)
        if (!isa<MemRefType>(func.getArgumentTypes()[i]))
          scalars.push_back(i);
      // Vulkan guarantees 128 bytes of push constants: a kernel with more
      // scalars reads them from a storage buffer the launcher fills.
      bool inBuffer = scalars.size() > ember::kMaxPushConstantWords;
      unsigned buffers = numArgs - scalars.size();
      // Buffers keep bindings 0, 1, ... in order (once one argument has an
      // ABI attribute, convert-gpu-to-spirv wants all to have one); scalar k
      // is word k. The placement is recorded on the kernel for the runtime's
      // kernel description (recordVulkanPlacement): per argument its
      // binding or its word's byte offset.
      SmallVector<Attribute> placement;
      unsigned binding = 0, word = 0;
      for (unsigned i = 0; i < numArgs; ++i) {
        if (isa<MemRefType>(func.getArgumentTypes()[i])) {
          auto abi = spirv::getInterfaceVarABIAttr(0, binding++, std::nullopt, context);
          func.setArgAttr(i, spirv::getInterfaceVarABIAttrName(), abi);
          placement.push_back(abi);
        } else {
          placement.push_back(IntegerAttr::get(IntegerType::get(context, 64), 8 * word++));
        }
      }
      func->setAttr(ember::kVulkanPlacementAttrName, ArrayAttr::get(context, placement));
      if (scalars.empty())
        return;
      Location loc = func.getLoc();
      auto wordType = IntegerType::get(context, 64);
      auto blockType = MemRefType::get(
          {int64_t(scalars.size())}, wordType, MemRefLayoutAttrInterface{},
          spirv::StorageClassAttr::get(context, inBuffer ? spirv::StorageClass::StorageBuffer
                                                         : spirv::StorageClass::PushConstant));
      if (failed(func.insertArgument(numArgs, blockType, {}, loc)))
        return signalPassFailure();
      // The block's binding is dropped again after spirv-lower-abi-attrs
      // when it is push constants (serializeSpirvModules).
      auto blockAbi = spirv::getInterfaceVarABIAttr(0, buffers, std::nullopt, context);
      func.setArgAttr(numArgs, spirv::getInterfaceVarABIAttrName(), blockAbi);
      if (inBuffer)
        func->setAttr(ember::kVulkanScalarBufferAttrName, blockAbi);
      Value block = entry.getArgument(numArgs);
      OpBuilder b = OpBuilder::atBlockBegin(&entry);
      llvm::BitVector erase(numArgs + 1);
      for (auto [word, i] : llvm::enumerate(scalars)) {
        BlockArgument arg = entry.getArgument(i);
        Value bits = memref::LoadOp::create(
            b, loc, block, ValueRange{arith::ConstantIndexOp::create(b, loc, word)});
        Type type = arg.getType();
        Value value = bits;
        if (type.isIndex()) {
          value = arith::IndexCastOp::create(b, loc, type, bits);
        } else if (type.getIntOrFloatBitWidth() < 64) {
          Type narrow = IntegerType::get(context, type.getIntOrFloatBitWidth());
          value = arith::TruncIOp::create(b, loc, narrow, bits);
          if (type != narrow)
            value = arith::BitcastOp::create(b, loc, type, value);
        } else if (type != wordType) {
          value = arith::BitcastOp::create(b, loc, type, bits);
        }
        arg.replaceAllUsesWith(value);
        erase.set(i);
      }
      if (failed(func.eraseArguments(erase)))
        signalPassFailure();
    });
  }
};

} // namespace
