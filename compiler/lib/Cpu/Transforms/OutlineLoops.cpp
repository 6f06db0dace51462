//===- OutlineLoops.cpp - one function per top-level loop nest -------------===//
//
// LLVM's back end is superlinear in the size of a function, and a traced
// training step lowers to one very large function. Giving each top-level
// loop nest a function of its own (never inlined) keeps every function the
// size of one fused kernel.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/raw_ostream.h"

namespace ember {
#define GEN_PASS_DEF_EMBEROUTLINELOOPS
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

/// Values `op` reads that are defined outside it, in first-use order.
llvm::SetVector<Value> capturedValues(Operation *op) {
  llvm::SetVector<Value> values;
  for (Value operand : op->getOperands())
    values.insert(operand);
  for (Region &region : op->getRegions())
    getUsedValuesDefinedAbove(region, values);
  return values;
}

/// Whether `value` is made by a constant op, which the outlined function
/// clones rather than takes as an argument (its value keeps constant
/// folding and the vectorizer's trip-count reasoning working).
Operation *constantDef(Value value) {
  Operation *def = value.getDefiningOp();
  return def && def->hasTrait<OpTrait::ConstantLike>() ? def : nullptr;
}

/// Moves `loop` into a new function and returns the call that replaces it.
func::CallOp outline(func::FuncOp parent, Operation *loop, StringRef name,
                     SymbolTable &symbols) {
  OpBuilder builder(parent);
  Location loc = loop->getLoc();
  SmallVector<Value> arguments;
  SmallVector<Operation *> constants;
  for (Value value : capturedValues(loop)) {
    if (Operation *def = constantDef(value))
      constants.push_back(def);
    else
      arguments.push_back(value);
  }
  SmallVector<Type> argTypes;
  for (Value value : arguments)
    argTypes.push_back(value.getType());
  auto func = func::FuncOp::create(builder, loc, name,
                                   builder.getFunctionType(argTypes, loop->getResultTypes()));
  func.setPrivate();
  // Kept separate through LLVM's inliner (convert-func-to-llvm carries
  // `passthrough` over to the LLVM function's attributes).
  // `ember-kernel` marks it for compileForCpuByKernel (an object per kernel).
  func->setAttr("passthrough", builder.getArrayAttr({builder.getStringAttr("noinline"),
                                                    builder.getStringAttr("ember-kernel")}));
  symbols.insert(func);

  Block *body = func.addEntryBlock();
  OpBuilder inner = OpBuilder::atBlockBegin(body);
  IRMapping mapping;
  for (auto [value, arg] : llvm::zip(arguments, body->getArguments()))
    mapping.map(value, arg);
  for (Operation *constant : constants)
    if (!mapping.contains(constant->getResult(0)))
      inner.clone(*constant, mapping);
  Operation *clone = inner.clone(*loop, mapping);
  func::ReturnOp::create(inner, loc, clone->getResults());

  OpBuilder outer(loop);
  auto call = func::CallOp::create(outer, loc, func, arguments);
  loop->replaceAllUsesWith(call.getResults());
  loop->erase();
  return call;
}

/// The text of `func` without its name and locations: equal for kernels
/// that do the same work on different buffers.
std::string kernelText(func::FuncOp func) {
  std::string text;
  llvm::raw_string_ostream os(text);
  OpPrintingFlags flags;
  flags.printGenericOpForm().useLocalScope().enableDebugInfo(false);
  // Printed under a fixed name (the symbol table is not consulted here).
  StringAttr name = func.getSymNameAttr();
  func.setSymName("kernel");
  func->print(os, flags);
  func.setSymNameAttr(name);
  return text;
}

struct OutlineLoops : ember::impl::EmberOutlineLoopsBase<OutlineLoops> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    SmallVector<func::FuncOp> funcs(module.getOps<func::FuncOp>());
    for (func::FuncOp func : funcs) {
      if (func.isExternal())
        continue;
      SmallVector<Operation *> loops;
      for (Operation &op : func.getBody().getOps())
        if (isa<scf::ForOp, scf::ParallelOp>(op))
          loops.push_back(&op);
      // Even a single nest moves: the glue is compiled for speed of
      // compiling, the kernels for speed of running.
      if (loops.empty())
        continue;
      for (auto [i, loop] : llvm::enumerate(loops)) {
        func::CallOp call =
            outline(func, loop, (func.getSymName() + "_loop" + Twine(i)).str(), symbols);
        auto kernel = symbols.lookup<func::FuncOp>(call.getCallee());
        // Identical kernels (the same update of every parameter of one
        // shape class, the same layer repeated) are generated once; the
        // call is the new function's only use.
        auto [it, inserted] = kernels.try_emplace(kernelText(kernel), kernel);
        if (inserted)
          continue;
        call.setCallee(it->second.getSymName());
        symbols.erase(kernel);
      }
      // What is left is glue: buffer set-up, allocations and calls, in
      // one long basic block that the optimizing instruction selector
      // takes seconds on (superlinear in block size) and that gains
      // nothing from optimization.
      func->setAttr("passthrough", OpBuilder(func).getArrayAttr(
                                       {OpBuilder(func).getStringAttr("noinline"),
                                        OpBuilder(func).getStringAttr("optnone")}));
    }
  }

  llvm::StringMap<func::FuncOp> kernels;
};

} // namespace
