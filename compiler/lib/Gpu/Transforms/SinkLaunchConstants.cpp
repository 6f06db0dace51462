//===- SinkLaunchConstants.cpp - constants copied into launches -----------===//

#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"

namespace ember {
#define GEN_PASS_DEF_EMBERSINKLAUNCHCONSTANTS
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

struct EmberSinkLaunchConstantsPass
    : ember::impl::EmberSinkLaunchConstantsBase<EmberSinkLaunchConstantsPass> {
  void runOnOperation() override {
    getOperation().walk([](gpu::LaunchOp launch) {
      Region &body = launch.getBody();
      llvm::DenseMap<Value, Value> copies;
      OpBuilder b = OpBuilder::atBlockBegin(&body.front());
      body.walk([&](Operation *op) {
        for (OpOperand &use : op->getOpOperands()) {
          auto constant = use.get().getDefiningOp<arith::ConstantOp>();
          if (!constant || launch->isAncestor(constant))
            continue;
          Value &copy = copies[use.get()];
          if (!copy)
            copy = b.clone(*constant)->getResult(0);
          use.set(copy);
        }
      });
    });
  }
};

} // namespace
