//===- GpuMath.cpp - sqrt, floor and abs in GPU kernels -------------------===//

#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"

namespace ember {
#define GEN_PASS_DEF_EMBERGPUMATH
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

struct EmberGpuMathPass : ember::impl::EmberGpuMathBase<EmberGpuMathPass> {
  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation().walk([&](gpu::GPUModuleOp module) {
      module.walk([&](Operation *op) {
        if (isa<math::FloorOp, math::AbsFOp, math::SqrtOp, math::RsqrtOp>(op))
          ops.push_back(op);
      });
    });
    for (Operation *op : ops) {
      auto type = dyn_cast<FloatType>(op->getResult(0).getType());
      if (!type || (!type.isF32() && !type.isF64()))
        continue;
      OpBuilder b(op);
      Location loc = op->getLoc();
      Value x = op->getOperand(0);
      Type intType = b.getIntegerType(type.getWidth());
      Value result;
      if (isa<math::SqrtOp, math::RsqrtOp>(op)) {
        // The correctly rounded instruction instead of __nv_sqrtf or
        // __ocml_sqrt_*: PTX inline (convert-gpu-to-nvvm refuses the LLVM
        // intrinsic), the LLVM intrinsic for AMDGPU.
        auto module = op->getParentOfType<gpu::GPUModuleOp>();
        bool nvvm = module.getTargetsAttr() &&
                    llvm::any_of(module.getTargetsAttr(), [](Attribute target) {
                      return target.getDialect().getNamespace() == "nvvm";
                    });
        if (nvvm) {
          bool f32 = type.isF32();
          result = LLVM::InlineAsmOp::create(
                       b, loc, type, ValueRange{x},
                       f32 ? "sqrt.rn.f32 $0, $1;" : "sqrt.rn.f64 $0, $1;",
                       f32 ? "=f,f" : "=d,d", /*has_side_effects=*/false,
                       /*is_align_stack=*/false, LLVM::TailCallKind::None,
                       /*asm_dialect=*/LLVM::AsmDialectAttr(),
                       /*operand_attrs=*/ArrayAttr())
                       .getResult(0);
        } else {
          result = LLVM::SqrtOp::create(b, loc, x);
        }
        if (isa<math::RsqrtOp>(op))
          result = arith::DivFOp::create(
              b, loc, arith::ConstantOp::create(b, loc, b.getFloatAttr(type, 1.0)), result);
      } else if (isa<math::AbsFOp>(op)) {
        // Clear the sign bit.
        APInt mask = APInt::getSignedMaxValue(type.getWidth());
        Value bits = arith::BitcastOp::create(b, loc, intType, x);
        Value cleared = arith::AndIOp::create(
            b, loc, bits, arith::ConstantOp::create(b, loc, b.getIntegerAttr(intType, mask)));
        result = arith::BitcastOp::create(b, loc, type, cleared);
      } else {
        Value truncated = arith::SIToFPOp::create(
            b, loc, type, arith::FPToSIOp::create(b, loc, intType, x));
        Value above = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, truncated, x);
        Value one = arith::ConstantOp::create(b, loc, b.getFloatAttr(type, 1.0));
        Value zero = arith::ConstantOp::create(b, loc, b.getFloatAttr(type, 0.0));
        Value floor = arith::SubFOp::create(
            b, loc, truncated, arith::SelectOp::create(b, loc, above, one, zero));
        // Outside (-2^31, 2^31) (or inf/nan) x is already integral: keep it.
        Value high = arith::ConstantOp::create(b, loc, b.getFloatAttr(type, 2147483648.0));
        Value low = arith::ConstantOp::create(b, loc, b.getFloatAttr(type, -2147483648.0));
        Value small = arith::AndIOp::create(
            b, loc, arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x, high),
            arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x, low));
        result = arith::SelectOp::create(b, loc, small, floor, x);
      }
      op->getResult(0).replaceAllUsesWith(result);
      op->erase();
    }
  }
};

} // namespace
