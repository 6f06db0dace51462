//===- StripCustomVjp.cpp - custom_vjp ops become their forward values ----===//
//
// After autodiff, a custom_vjp's region (the user's backward) has been
// inlined where it was needed; the op itself only forwards values.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Passes.h"
#include "ember/Dialect/EmberOps.h"

namespace ember {
#define GEN_PASS_DEF_EMBERSTRIPCUSTOMVJP
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;
using namespace ember;

namespace {

struct EmberStripCustomVjpPass
    : ember::impl::EmberStripCustomVjpBase<EmberStripCustomVjpPass> {
  void runOnOperation() override {
    SmallVector<CustomVjpOp> ops;
    getOperation().walk([&](CustomVjpOp op) { ops.push_back(op); });
    for (CustomVjpOp op : ops) {
      for (unsigned i = 0; i < op.getNumResults(); ++i)
        op.getResult(i).replaceAllUsesWith(op.getForwardOutput(i));
      op.erase();
    }
  }
};

} // namespace
