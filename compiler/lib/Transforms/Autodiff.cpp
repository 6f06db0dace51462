//===- Autodiff.cpp - reverse-mode differentiation of ember functions -----===//
//
// Reverse mode over a function's single block: the VJP function first
// clones the forward computation, then walks the cloned ops backwards,
// keeping one cotangent per value (summed with ember.add where a value has
// several users) and asking each op's DifferentiableOpInterface for the
// cotangents of its operands.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Autodiff.h"

#include "ember/Compiler/Passes.h"
#include "ember/Dialect/EmberInterfaces.h"
#include "ember/Dialect/EmberOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/CSE.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/SetVector.h"

namespace ember {
#define GEN_PASS_DEF_EMBERAUTODIFF
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;
using namespace ember;

namespace {

bool isFloatTensorType(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  return tensor && isa<FloatType>(tensor.getElementType());
}

/// Zeros of `like`'s type: a rank-0 constant broadcast with `like`'s sizes.
Value zerosLike(OpBuilder &b, Location loc, Value like) {
  auto type = cast<RankedTensorType>(like.getType());
  auto scalarType = RankedTensorType::get({}, type.getElementType());
  Value zero = ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(scalarType,
                             ArrayRef<Attribute>{b.getZeroAttr(
                                 type.getElementType())}));
  if (type.getRank() == 0)
    return zero;
  SmallVector<Value> sizes;
  for (int64_t i = 0; i < type.getRank(); ++i)
    if (type.isDynamicDim(i))
      sizes.push_back(tensor::DimOp::create(b, loc, like, i));
  return BroadcastToOp::create(b, loc, type, zero, sizes);
}

/// Clones `op` and the ops of its block that it transitively reads, in block
/// order, at `b`'s insertion point; returns the copy of `op`.
Operation *recomputeCone(OpBuilder &b, Operation *op) {
  llvm::SetVector<Operation *> cone;
  SmallVector<Operation *> worklist = {op};
  while (!worklist.empty()) {
    Operation *current = worklist.pop_back_val();
    for (Value operand : current->getOperands()) {
      Operation *producer = operand.getDefiningOp();
      if (producer && producer->getBlock() == op->getBlock() &&
          cone.insert(producer))
        worklist.push_back(producer);
    }
  }
  SmallVector<Operation *> ordered(cone.begin(), cone.end());
  llvm::sort(ordered, [](Operation *x, Operation *y) {
    return x->isBeforeInBlock(y);
  });
  IRMapping mapping;
  for (Operation *producer : ordered)
    b.clone(*producer, mapping);
  return b.clone(*op, mapping);
}

/// Canonicalizes `func` with every loaded dialect's and op's patterns, and
/// eliminates common subexpressions unless `cse` is false.
void simplify(func::FuncOp func, bool cse) {
  MLIRContext *ctx = func.getContext();
  RewritePatternSet patterns(ctx);
  for (Dialect *dialect : ctx->getLoadedDialects())
    dialect->getCanonicalizationPatterns(patterns);
  for (RegisteredOperationName name : ctx->getRegisteredOperations())
    name.getCanonicalizationPatterns(patterns, ctx);
  FrozenRewritePatternSet frozen(std::move(patterns));
  // Not converging within the iteration limit leaves valid IR; keep it.
  (void)applyPatternsGreedily(func, frozen);
  if (!cse)
    return;
  IRRewriter rewriter(ctx);
  DominanceInfo dominance(func);
  bool changed = false;
  eliminateCommonSubExpressions(rewriter, dominance, func, &changed);
  if (changed)
    (void)applyPatternsGreedily(func, frozen);
}

} // namespace

SmallVector<unsigned> ember::floatTensorArguments(func::FuncOp func) {
  SmallVector<unsigned> indices;
  for (auto [i, type] : llvm::enumerate(func.getArgumentTypes()))
    if (isFloatTensorType(type))
      indices.push_back(i);
  return indices;
}

FailureOr<func::FuncOp> ember::buildVjpFunction(func::FuncOp func,
                                                ArrayRef<unsigned> wrt,
                                                const VjpOptions &options) {
  MLIRContext *ctx = func.getContext();
  if (func.isExternal() || !func.getBody().hasOneBlock())
    return func.emitOpError("cannot be differentiated: ember-autodiff needs a "
                            "body of exactly one block");
  FunctionType type = func.getFunctionType();
  for (unsigned index : wrt) {
    if (index >= type.getNumInputs())
      return func.emitOpError("has no argument #")
             << index << " to differentiate (it has " << type.getNumInputs()
             << ")";
    if (!isFloatTensorType(type.getInput(index)))
      return func.emitOpError("argument #")
             << index << " of type " << type.getInput(index)
             << " cannot be differentiated (only floating-point tensors)";
  }
  std::string name =
      options.name.empty() ? (func.getName() + "_vjp").str() : options.name;
  Operation *symbolTableOp = SymbolTable::getNearestSymbolTable(func);
  if (symbolTableOp && SymbolTable::lookupSymbolIn(symbolTableOp, name))
    return func.emitOpError("cannot get a VJP function: @")
           << name << " already exists";

  // Signature: (args..., cotangents...) -> (results..., gradients...).
  SmallVector<Type> inputs(type.getInputs());
  inputs.append(type.getResults().begin(), type.getResults().end());
  SmallVector<Type> results(type.getResults());
  for (unsigned index : wrt)
    results.push_back(type.getInput(index));
  OpBuilder b(ctx);
  b.setInsertionPointAfter(func);
  auto vjp = func::FuncOp::create(b, func.getLoc(), name,
                                  FunctionType::get(ctx, inputs, results));
  Block *block = vjp.addEntryBlock();
  b.setInsertionPointToEnd(block);
  Location loc = func.getLoc();

  // The forward pass, cloned.
  Block &body = func.getBody().front();
  IRMapping forward;
  for (auto [from, to] : llvm::zip(body.getArguments(), block->getArguments()))
    forward.map(from, to);
  SmallVector<Operation *> forwardOps;
  for (Operation &op : body.without_terminator())
    forwardOps.push_back(b.clone(op, forward));
  SmallVector<Value> forwardResults;
  for (Value value : body.getTerminator()->getOperands())
    forwardResults.push_back(forward.lookupOrDefault(value));

  // Active values: float tensors that depend on a differentiated argument.
  // Only they carry cotangents, so an op none of whose operands is active
  // (constants, index arithmetic, integer ops) needs no VJP rule.
  llvm::DenseSet<Value> active;
  for (unsigned index : wrt)
    active.insert(block->getArgument(index));
  for (Operation *op : forwardOps) {
    bool reads = llvm::any_of(op->getOperands(),
                              [&](Value v) { return active.contains(v); });
    if (!reads)
      continue;
    for (Value result : op->getResults())
      if (isFloatTensorType(result.getType()))
        active.insert(result);
  }

  llvm::DenseMap<Value, Value> cotangents;
  auto accumulate = [&](Value value, Value cotangent) {
    auto [it, inserted] = cotangents.try_emplace(value, cotangent);
    if (!inserted)
      it->second = AddOp::create(b, loc, it->second, cotangent);
  };
  auto fail = [&]() -> FailureOr<func::FuncOp> {
    vjp.erase();
    return failure();
  };

  for (auto [i, result] : llvm::enumerate(forwardResults))
    if (active.contains(result))
      accumulate(result, block->getArgument(type.getNumInputs() + i));

  for (Operation *op : llvm::reverse(forwardOps)) {
    if (llvm::none_of(op->getResults(),
                      [&](Value v) { return cotangents.contains(v); }))
      continue;
    // tensor.cast only restates a shape (the eager tracer casts a dim it
    // knows is 1, such as a concat result of extent 1): its VJP casts back.
    if (auto castOp = dyn_cast<tensor::CastOp>(op)) {
      if (Value cotangent = cotangents.lookup(castOp.getResult());
          cotangent && active.contains(castOp.getSource()))
        accumulate(castOp.getSource(),
                   tensor::CastOp::create(b, loc, castOp.getSource().getType(),
                                          cotangent));
      continue;
    }
    if (!isa<DifferentiableOpInterface>(op)) {
      op->emitOpError("is on the path from the differentiated arguments to "
                      "the results of @")
          << func.getName() << " but has no VJP rule (it does not implement "
          << "DifferentiableOpInterface)";
      return fail();
    }
    Operation *ruleOp = options.recompute ? recomputeCone(b, op) : op;
    SmallVector<Value> resultCotangents;
    for (Value result : op->getResults()) {
      Value cotangent = cotangents.lookup(result);
      resultCotangents.push_back(cotangent ? cotangent
                                           : zerosLike(b, loc, result));
    }
    SmallVector<Value> gradients;
    if (failed(cast<DifferentiableOpInterface>(ruleOp).buildVjp(
            b, resultCotangents, gradients)))
      return fail();
    if (gradients.size() != op->getNumOperands()) {
      op->emitOpError("VJP rule returned ")
          << gradients.size() << " gradients for " << op->getNumOperands()
          << " operands";
      return fail();
    }
    for (auto [operand, gradient] : llvm::zip(op->getOperands(), gradients)) {
      if (!gradient || !active.contains(operand))
        continue;
      if (gradient.getType() != operand.getType()) {
        op->emitOpError("VJP rule returned a gradient of type ")
            << gradient.getType() << " for an operand of type "
            << operand.getType();
        return fail();
      }
      accumulate(operand, gradient);
    }
  }

  SmallVector<Value> returned(forwardResults);
  for (unsigned index : wrt) {
    Value argument = block->getArgument(index);
    Value gradient = cotangents.lookup(argument);
    returned.push_back(gradient ? gradient : zerosLike(b, loc, argument));
  }
  func::ReturnOp::create(b, loc, returned);
  if (options.simplify)
    simplify(vjp, /*cse=*/!options.recompute);
  return vjp;
}

namespace {

struct EmberAutodiffPass : ember::impl::EmberAutodiffBase<EmberAutodiffPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> targets;
    if (!funcName.empty()) {
      auto func = module.lookupSymbol<func::FuncOp>(funcName);
      if (!func) {
        module.emitError("ember-autodiff: no function named @") << funcName;
        return signalPassFailure();
      }
      targets.push_back(func);
    } else {
      // Every public function that has no VJP function yet, so that running
      // the pass again differentiates the VJP functions (second order).
      for (auto func : module.getOps<func::FuncOp>())
        if (func.isPublic() && !func.isExternal() &&
            !module.lookupSymbol((func.getName() + "_vjp").str()))
          targets.push_back(func);
    }
    VjpOptions options;
    options.recompute = recompute;
    for (func::FuncOp func : targets) {
      SmallVector<unsigned> indices(wrt.begin(), wrt.end());
      if (wrt.empty())
        indices = floatTensorArguments(func);
      if (failed(buildVjpFunction(func, indices, options)))
        return signalPassFailure();
    }
  }
};

} // namespace
