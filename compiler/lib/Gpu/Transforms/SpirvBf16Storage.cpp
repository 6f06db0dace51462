//===- SpirvBf16Storage.cpp - bfloat16 buffers as i16 for SPIR-V ----------===//

#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace ember {
#define GEN_PASS_DEF_EMBERSPIRVBF16STORAGE
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

struct EmberSpirvBf16StoragePass
    : ember::impl::EmberSpirvBf16StorageBase<EmberSpirvBf16StoragePass> {
  void runOnOperation() override {
    MLIRContext *context = &getContext();
    Type i16 = IntegerType::get(context, 16);
    auto asI16 = [&](Type type) -> Type {
      auto memref = dyn_cast<MemRefType>(type);
      if (!memref || !memref.getElementType().isBF16())
        return type;
      return MemRefType::get(memref.getShape(), i16, memref.getLayout(),
                             memref.getMemorySpace());
    };
    getOperation().walk([&](gpu::GPUFuncOp func) {
      // Every bf16 buffer value: arguments, then allocations.
      SmallVector<Value> buffers;
      for (BlockArgument arg : func.getArguments())
        if (asI16(arg.getType()) != arg.getType())
          buffers.push_back(arg);
      func.walk([&](memref::AllocOp alloc) {
        if (asI16(alloc.getType()) != alloc.getType())
          buffers.push_back(alloc.getResult());
      });
      if (buffers.empty())
        return;
      for (Value buffer : buffers) {
        buffer.setType(asI16(buffer.getType()));
        for (Operation *user : llvm::make_early_inc_range(buffer.getUsers())) {
          OpBuilder b(user);
          if (auto load = dyn_cast<memref::LoadOp>(user)) {
            load.getResult().setType(i16);
            b.setInsertionPointAfter(load);
            auto bits = arith::BitcastOp::create(b, load.getLoc(), b.getBF16Type(),
                                                 load.getResult());
            load.getResult().replaceAllUsesExcept(bits, bits);
          } else if (auto store = dyn_cast<memref::StoreOp>(user)) {
            Value bits = arith::BitcastOp::create(b, store.getLoc(), i16,
                                                  store.getValueToStore());
            store.getValueMutable().assign(bits);
          } else {
            user->emitOpError("uses a bfloat16 buffer in a way the SPIR-V "
                              "lowering cannot keep as i16");
            return signalPassFailure();
          }
        }
      }
      SmallVector<Type> inputs;
      for (Type type : func.getArgumentTypes())
        inputs.push_back(asI16(type));
      func.setFunctionType(FunctionType::get(context, inputs, func.getResultTypes()));
      // Conversions between bf16 and anything but f32 go through f32 (as
      // torch converts), which arith-expand can then do in integers.
      Type f32 = Float32Type::get(context);
      func.walk([&](Operation *op) {
        if (!isa<arith::ExtFOp, arith::TruncFOp, arith::SIToFPOp, arith::UIToFPOp,
                 arith::FPToSIOp, arith::FPToUIOp>(op))
          return;
        Type from = op->getOperand(0).getType(), to = op->getResult(0).getType();
        if ((!from.isBF16() && !to.isBF16()) || from.isF32() || to.isF32())
          return;
        OpBuilder b(op);
        Location loc = op->getLoc();
        Value input = op->getOperand(0), wide;
        if (from.isBF16()) {
          wide = arith::ExtFOp::create(b, loc, f32, input);
          OperationState state(loc, op->getName().getStringRef(), ValueRange{wide},
                               TypeRange{to}, op->getAttrs());
          op->getResult(0).replaceAllUsesWith(b.create(state)->getResult(0));
        } else {
          OperationState state(loc, op->getName().getStringRef(), ValueRange{input},
                               TypeRange{f32}, op->getAttrs());
          wide = b.create(state)->getResult(0);
          op->getResult(0).replaceAllUsesWith(
              arith::TruncFOp::create(b, loc, to, wide).getResult());
        }
        op->erase();
      });
      // Selects pick bits: done on i16, so that no bf16 value is left once
      // the bitcasts around them fold with the loads' and stores'.
      func.walk([&](arith::SelectOp select) {
        if (!select.getType().isBF16())
          return;
        OpBuilder b(select);
        Location loc = select.getLoc();
        Value a = arith::BitcastOp::create(b, loc, i16, select.getTrueValue());
        Value c = arith::BitcastOp::create(b, loc, i16, select.getFalseValue());
        Value picked = arith::SelectOp::create(b, loc, select.getCondition(), a, c);
        select.replaceAllUsesWith(
            arith::BitcastOp::create(b, loc, b.getBF16Type(), picked).getResult());
        select.erase();
      });
    });
  }
};

} // namespace
