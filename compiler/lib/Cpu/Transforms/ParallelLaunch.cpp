//===- ParallelLaunch.cpp - run chunk kernels on the runtime's thread pool ===//
//
// Runs on the LLVM dialect, after the CPU lowering. A call to a kernel that
// ember-chunk-parallel-loops marked `ember.chunk_kernel` passes the kernel's
// arguments and then (lo, hi, grain). It becomes
//
//   - a context: a stack struct holding the arguments (memref descriptors
//     are already flat scalars here),
//   - a call `ember_parallel_for(@<kernel>_tramp, ctx, lo, hi, grain)`,
//
// and `@<kernel>_tramp(ctx, lo, hi)`, next to the caller, loads the
// arguments and calls the kernel on [lo, hi). The kernel itself is
// untouched: it stays one self-contained function, which the per-kernel JIT
// compiles and caches alone. AOT objects reach `ember_parallel_for` through
// their runtime slot (ember-runtime-slots runs after this pass).
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"

namespace ember {
#define GEN_PASS_DEF_EMBERPARALLELLAUNCH
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

constexpr llvm::StringLiteral kChunkKernelAttr = "ember.chunk_kernel";
constexpr llvm::StringLiteral kParallelFor = "ember_parallel_for";

/// `ember_parallel_for(fn, ctx, begin, end, grain)`, declared once.
LLVM::LLVMFuncOp declareParallelFor(ModuleOp module) {
  if (auto existing = module.lookupSymbol<LLVM::LLVMFuncOp>(kParallelFor))
    return existing;
  MLIRContext *context = module.getContext();
  auto ptr = LLVM::LLVMPointerType::get(context);
  auto i64 = IntegerType::get(context, 64);
  auto type = LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(context),
                                          {ptr, ptr, i64, i64, i64});
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  return LLVM::LLVMFuncOp::create(b, module.getLoc(), kParallelFor, type);
}

/// `@<kernel>_tramp(ptr ctx, i64 lo, i64 hi)`: loads the kernel's leading
/// arguments from `ctx` (a `context` struct) and calls it on [lo, hi).
LLVM::LLVMFuncOp defineTrampoline(ModuleOp module, LLVM::LLVMFuncOp kernel,
                                  LLVM::LLVMStructType context,
                                  SymbolTable &symbols) {
  MLIRContext *ctx = module.getContext();
  Location loc = kernel.getLoc();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto i64 = IntegerType::get(ctx, 64);
  auto type = LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), {ptr, i64, i64});
  OpBuilder b(kernel);
  auto tramp = LLVM::LLVMFuncOp::create(b, loc, (kernel.getSymName() + "_tramp").str(),
                                        type, LLVM::Linkage::Internal);
  symbols.insert(tramp);
  Block *body = tramp.addEntryBlock(b);
  b.setInsertionPointToStart(body);
  SmallVector<Value> arguments;
  for (auto [i, field] : llvm::enumerate(context.getBody())) {
    Value address = LLVM::GEPOp::create(
        b, loc, ptr, context, body->getArgument(0),
        ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(i)});
    arguments.push_back(LLVM::LoadOp::create(b, loc, field, address));
  }
  arguments.push_back(body->getArgument(1));
  arguments.push_back(body->getArgument(2));
  // The grain is the launch's, not the chunk's.
  arguments.push_back(LLVM::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(1)));
  LLVM::CallOp::create(b, loc, kernel, arguments);
  LLVM::ReturnOp::create(b, loc, ValueRange());
  return tramp;
}

struct ParallelLaunch : ember::impl::EmberParallelLaunchBase<ParallelLaunch> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    MLIRContext *ctx = &getContext();
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    auto i64 = IntegerType::get(ctx, 64);
    // Every call of each chunk kernel, found in one walk of the module (a
    // walk per kernel was quadratic: 12 s of resnet18's lowering).
    llvm::DenseMap<StringAttr, SmallVector<LLVM::CallOp>> callsOf;
    module.walk([&](LLVM::CallOp call) {
      if (FlatSymbolRefAttr callee = call.getCalleeAttr())
        callsOf[callee.getAttr()].push_back(call);
    });
    LLVM::LLVMFuncOp parallelFor;
    for (auto kernel : llvm::to_vector(module.getOps<LLVM::LLVMFuncOp>())) {
      if (!kernel->hasAttr(kChunkKernelAttr))
        continue;
      kernel->removeAttr(kChunkKernelAttr);
      ArrayRef<Type> params = kernel.getFunctionType().getParams();
      if (params.size() < 3 || !llvm::all_of(params.take_back(3), [&](Type t) {
            return t == i64;
          })) {
        kernel.emitOpError("is marked ember.chunk_kernel but does not end in "
                           "(i64 lo, i64 hi, i64 grain)");
        return signalPassFailure();
      }
      auto context = LLVM::LLVMStructType::getLiteral(ctx, params.drop_back(3));
      LLVM::LLVMFuncOp tramp;
      SmallVector<LLVM::CallOp> calls = callsOf.lookup(kernel.getSymNameAttr());
      for (LLVM::CallOp call : calls) {
        if (!tramp)
          tramp = defineTrampoline(module, kernel, context, symbols);
        Location loc = call.getLoc();
        auto caller = call->getParentOfType<LLVM::LLVMFuncOp>();
        OpBuilder b = OpBuilder::atBlockBegin(&caller.getBody().front());
        Value one = LLVM::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(1));
        Value frame = LLVM::AllocaOp::create(b, loc, ptr, context, one);
        b.setInsertionPoint(call);
        OperandRange operands = call.getArgOperands();
        unsigned fields = operands.size() - 3;
        for (unsigned i = 0; i < fields; ++i) {
          Value address = LLVM::GEPOp::create(
              b, loc, ptr, context, frame,
              ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(i)});
          LLVM::StoreOp::create(b, loc, operands[i], address);
        }
        Value fn = LLVM::AddressOfOp::create(b, loc, tramp);
        if (!parallelFor)
          parallelFor = declareParallelFor(module);
        LLVM::CallOp::create(b, loc, parallelFor,
                             ValueRange{fn, frame, operands[fields],
                                        operands[fields + 1], operands[fields + 2]});
        call.erase();
      }
    }
  }
};

} // namespace
