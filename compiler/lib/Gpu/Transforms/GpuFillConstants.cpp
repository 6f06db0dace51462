//===- GpuFillConstants.cpp - constant buffers made on the device ---------===//

#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace ember {
#define GEN_PASS_DEF_EMBERGPUFILLCONSTANTS
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

struct EmberGpuFillConstantsPass
    : ember::impl::EmberGpuFillConstantsBase<EmberGpuFillConstantsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    SmallVector<memref::GetGlobalOp> uses;
    module.walk([&](memref::GetGlobalOp use) {
      if (use->getParentOfType<func::FuncOp>())
        uses.push_back(use);
    });
    for (memref::GetGlobalOp use : uses) {
      auto global = symbols.lookup<memref::GlobalOp>(use.getName());
      auto value = global ? dyn_cast_or_null<DenseElementsAttr>(
                                global.getInitialValue().value_or(Attribute()))
                          : DenseElementsAttr();
      // Small constants (a reshape's shape vector, which the launcher reads
      // on the host) are stored element by element from the host; larger
      // splats are filled by a kernel; larger others are left for the
      // launcher to reject with a message (the frontend makes none).
      constexpr int64_t kMaxStoredElements = 32;
      bool small = value && value.getNumElements() <= kMaxStoredElements;
      if (!value || (!value.isSplat() && !small))
        continue;
      OpBuilder b(use);
      Location loc = use.getLoc();
      Value buffer = memref::AllocOp::create(b, loc, use.getType());
      if (!small) {
        Value scalar = arith::ConstantOp::create(b, loc, value.getSplatValue<TypedAttr>());
        linalg::FillOp::create(b, loc, ValueRange{scalar}, ValueRange{buffer});
      } else {
        ArrayRef<int64_t> shape = use.getType().getShape();
        for (auto [linear, element] : llvm::enumerate(value.getValues<Attribute>())) {
          SmallVector<Value> indices(shape.size());
          int64_t rest = linear;
          for (int64_t d = shape.size() - 1; d >= 0; --d) {
            indices[d] = arith::ConstantIndexOp::create(b, loc, rest % shape[d]);
            rest /= shape[d];
          }
          Value scalar = arith::ConstantOp::create(b, loc, cast<TypedAttr>(element));
          memref::StoreOp::create(b, loc, scalar, buffer, indices);
        }
      }
      use.replaceAllUsesWith(buffer);
      use.erase();
      // Freed when the function returns (the buffer is never written again).
      auto func = buffer.getDefiningOp()->getParentOfType<func::FuncOp>();
      func.walk([&](func::ReturnOp ret) {
        OpBuilder end(ret);
        memref::DeallocOp::create(end, loc, buffer);
      });
    }
    for (auto global : llvm::make_early_inc_range(module.getOps<memref::GlobalOp>()))
      if (SymbolTable::symbolKnownUseEmpty(global, module))
        global.erase();
  }
};

} // namespace
