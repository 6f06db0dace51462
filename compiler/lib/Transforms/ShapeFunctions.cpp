//===- ShapeFunctions.cpp - functions that compute an entry's result shapes ===//
//
// A model file declares its outputs' shapes in the manifest, but the code
// decides how much it writes. `@f.shapes` lets a loader ask the code itself,
// so a manifest that disagrees is an error instead of a heap overflow.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

namespace ember {
#define GEN_PASS_DEF_EMBERSHAPEFUNCTIONS
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

/// Replaces each return of `func` by the sizes of its operands' dims.
LogicalResult returnShapes(func::FuncOp func, RankedTensorType shapesType) {
  SmallVector<func::ReturnOp> returns;
  func.walk([&](func::ReturnOp op) { returns.push_back(op); });
  OpBuilder builder(func.getContext());
  for (func::ReturnOp ret : returns) {
    builder.setInsertionPoint(ret);
    Location loc = ret.getLoc();
    SmallVector<Value> sizes;
    for (Value result : ret.getOperands()) {
      auto type = dyn_cast<RankedTensorType>(result.getType());
      if (!type)
        return func.emitOpError("returns a non-tensor value; entry points "
                                "return ranked tensors");
      for (int64_t d = 0; d < type.getRank(); ++d) {
        if (!type.isDynamicDim(d)) {
          sizes.push_back(arith::ConstantIntOp::create(
              builder, loc, type.getDimSize(d), 64));
          continue;
        }
        Value size = tensor::DimOp::create(builder, loc, result, d);
        sizes.push_back(arith::IndexCastOp::create(
            builder, loc, builder.getI64Type(), size));
      }
    }
    if (sizes.empty()) // only 0-d results: keep the tensor non-empty
      sizes.push_back(arith::ConstantIntOp::create(builder, loc, 0, 64));
    Value shapes =
        tensor::FromElementsOp::create(builder, loc, shapesType, sizes);
    func::ReturnOp::create(builder, loc, shapes);
    ret.erase();
  }
  return success();
}

struct EmberShapeFunctionsPass
    : ember::impl::EmberShapeFunctionsBase<EmberShapeFunctionsPass> {
  /// The cleanup pipeline's dialects too (resolving dims through a
  /// reshape may build affine.apply and memref.dim).
  void getDependentDialects(DialectRegistry &registry) const override {
    EmberShapeFunctionsBase::getDependentDialects(registry);
    registry.insert<affine::AffineDialect, memref::MemRefDialect>();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> entries;
    for (func::FuncOp func : module.getOps<func::FuncOp>())
      if (func.isPublic() && !func.isExternal() &&
          !func.getSymName().ends_with(ember::kShapeFunctionSuffix))
        entries.push_back(func);

    SymbolTable symbols(module);
    OpBuilder builder(module.getContext());
    for (func::FuncOp entry : entries) {
      std::string name =
          (entry.getSymName() + ember::kShapeFunctionSuffix).str();
      if (symbols.lookup(name)) {
        entry.emitOpError("already has a shape function '") << name << "'";
        return signalPassFailure();
      }
      int64_t count = 0;
      for (Type type : entry.getFunctionType().getResults())
        if (auto tensor = dyn_cast<RankedTensorType>(type))
          count += tensor.getRank();
      auto shapesType = RankedTensorType::get({std::max<int64_t>(count, 1)},
                                              builder.getI64Type());
      builder.setInsertionPointAfter(entry);
      auto shapes = cast<func::FuncOp>(builder.clone(*entry));
      shapes.setSymName(name);
      shapes.setType(FunctionType::get(module.getContext(),
                                       entry.getFunctionType().getInputs(),
                                       {shapesType}));
      if (failed(returnShapes(shapes, shapesType)))
        return signalPassFailure();
      // The runtime kernels that the `*-to-runtime` passes call
      // (convolutions, attention, a custom op's kernel, collectives) write
      // only the data of buffers whose sizes are already known; the one
      // call that writes sizes is a custom op's shapes call, which stays.
      // Kept, the kernel calls would keep the whole computation alive: the
      // shape function of an imported CNN ran the network once more on
      // every call, and doubled the code the JIT compiles at load.
      SmallVector<func::CallOp> kernels;
      shapes.walk([&](func::CallOp call) {
        if (call.getNumResults() == 0 &&
            call.getCallee() != "ember_custom_call_shapes")
          kernels.push_back(call);
      });
      for (func::CallOp call : kernels)
        call.erase();
      // Fold the sizes down to the arguments' and drop the computation.
      OpPassManager cleanup(func::FuncOp::getOperationName());
      cleanup.addPass(createCanonicalizerPass());
      // tensor.dim through reshapes of a kernel's fresh buffer, down to the
      // sizes it was allocated with (the canonicalizer alone stops at a
      // collapse_shape, and the allocation would stay).
      cleanup.addPass(memref::createResolveRankedShapeTypeResultDimsPass());
      cleanup.addPass(createCanonicalizerPass());
      cleanup.addPass(createCSEPass());
      if (failed(runPipeline(cleanup, shapes)))
        return signalPassFailure();
    }
  }
};

} // namespace
