//===- GraphCompiler.cpp - emit a lazy graph as an ember function ----------===//
//
// Each node becomes one ember op whose result type has a static 1 where the
// node's size is 1 and a dynamic dim elsewhere: the dialect broadcasts only
// static 1s, and everything else must not depend on sizes, so that one
// compiled function serves every size with the same pattern.
//
//===----------------------------------------------------------------------===//

#include "GraphCompiler.h"

#include "ember/Compiler/CpuCompiler.h"
#include "ember/Dialect/EmberOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace ember {
namespace {

constexpr const char kGraphName[] = "graph";

MLIRContext &compilerContext() {
  static MLIRContext *context = [] {
    DialectRegistry registry;
    registerCompilerDialects(registry);
    auto *ctx = new MLIRContext(registry);
    // One graph at a time on few cores: MLIR's thread pool only adds latency.
    ctx->disableMultithreading();
    ctx->loadDialect<EmberDialect, func::FuncDialect, tensor::TensorDialect,
                     arith::ArithDialect>();
    return ctx;
  }();
  return *context;
}

Type elementType(MLIRContext *ctx, DType dtype) {
  Builder b(ctx);
  switch (dtype) {
  case DType::Bool:
    return b.getI1Type();
  case DType::Int32:
    return b.getI32Type();
  case DType::Int64:
    return b.getI64Type();
  case DType::Float16:
    return b.getF16Type();
  case DType::BFloat16:
    return b.getBF16Type();
  case DType::Float32:
    return b.getF32Type();
  case DType::Float64:
    return b.getF64Type();
  }
  return {};
}

/// The size-pattern type of a node: static 1s, dynamic elsewhere.
RankedTensorType patternType(MLIRContext *ctx, const Node &node) {
  SmallVector<int64_t> dims;
  for (int64_t d : node.shape)
    dims.push_back(d == 1 ? 1 : ShapedType::kDynamic);
  return RankedTensorType::get(dims, elementType(ctx, node.dtype));
}

class Emitter {
public:
  Emitter(MLIRContext *ctx, const GraphPlan &plan) : ctx(ctx), plan(plan) {}

  OwningOpRef<ModuleOp> emit() {
    OpBuilder b(ctx);
    Location unknown = UnknownLoc::get(ctx);
    OwningOpRef<ModuleOp> module = ModuleOp::create(unknown);
    b.setInsertionPointToEnd(module->getBody());

    int64_t slots = 0;
    for (Node *node : plan.nodes)
      if (takesSizeSlots(*node))
        for (int64_t d : node->shape)
          slots += d != 1;

    SmallVector<Type> argTypes, resultTypes;
    for (Node *input : plan.inputs)
      argTypes.push_back(patternType(ctx, *input));
    argTypes.push_back(RankedTensorType::get({slots}, b.getI64Type()));
    for (Node *output : plan.outputs)
      resultTypes.push_back(patternType(ctx, *output));

    auto func = func::FuncOp::create(b, unknown, kGraphName,
                                     b.getFunctionType(argTypes, resultTypes));
    Block *body = func.addEntryBlock();
    b.setInsertionPointToStart(body);
    for (size_t i = 0; i < plan.inputs.size(); ++i)
      values[plan.inputs[i]] = body->getArgument(i);
    sizes = body->getArgument(plan.inputs.size());

    for (Node *node : plan.nodes)
      if (node->op != OpCode::Input)
        values[node] = emitNode(b, *node);

    SmallVector<Value> results;
    for (Node *output : plan.outputs)
      results.push_back(values[output]);
    func::ReturnOp::create(b, unknown, results);
    return module;
  }

private:
  Location locationOf(const Node &node) {
    if (!node.loc.file)
      return UnknownLoc::get(ctx);
    return FileLineColLoc::get(ctx, *node.loc.file, node.loc.line, 0);
  }

  Value operand(const Node &node, unsigned i) {
    return values.lookup(node.inputs[i].get());
  }

  /// The next entry of the size vector, as an index.
  Value nextSize(OpBuilder &b, Location loc) {
    Value position = arith::ConstantIndexOp::create(b, loc, nextSlot++);
    Value size = tensor::ExtractOp::create(b, loc, sizes, position);
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), size);
  }

  SmallVector<Value> dynamicSizes(OpBuilder &b, Location loc, const Node &node) {
    SmallVector<Value> result;
    for (int64_t d : node.shape)
      if (d != 1)
        result.push_back(nextSize(b, loc));
    return result;
  }

  Value constant(OpBuilder &b, Location loc, const Node &node) {
    auto type = RankedTensorType::get({}, elementType(ctx, node.dtype));
    Attribute scalar;
    if (isFloating(node.dtype))
      scalar = b.getFloatAttr(type.getElementType(), node.f);
    else
      scalar = b.getIntegerAttr(type.getElementType(), node.i);
    return ConstantOp::create(b, loc, DenseElementsAttr::get(type, scalar));
  }

  Value emitNode(OpBuilder &b, const Node &node) {
    Location loc = locationOf(node);
    RankedTensorType type = patternType(ctx, node);
    Value result = emitOp(b, loc, node, type);
    // Inference may know less (a dynamic dim the node knows is 1) or more
    // than the pattern; the cast states the pattern.
    if (result.getType() != type)
      result = tensor::CastOp::create(b, loc, type, result);
    return result;
  }

  Value emitOp(OpBuilder &b, Location loc, const Node &node,
               RankedTensorType type) {
    auto ints = ArrayRef<int64_t>(node.ints);
    switch (node.op) {
    case OpCode::Input:
      break;
    case OpCode::Constant:
      return constant(b, loc, node);
    case OpCode::Neg:
      return NegOp::create(b, loc, operand(node, 0));
    case OpCode::Abs:
      return AbsOp::create(b, loc, operand(node, 0));
    case OpCode::Relu:
      return ReluOp::create(b, loc, operand(node, 0));
    case OpCode::Exp:
      return ExpOp::create(b, loc, operand(node, 0));
    case OpCode::Log:
      return LogOp::create(b, loc, operand(node, 0));
    case OpCode::Sqrt:
      return SqrtOp::create(b, loc, operand(node, 0));
    case OpCode::Rsqrt:
      return RsqrtOp::create(b, loc, operand(node, 0));
    case OpCode::Tanh:
      return TanhOp::create(b, loc, operand(node, 0));
    case OpCode::Sigmoid:
      return SigmoidOp::create(b, loc, operand(node, 0));
    case OpCode::Gelu:
      return GeluOp::create(b, loc, operand(node, 0));
    case OpCode::Not:
      return NotOp::create(b, loc, operand(node, 0));
    case OpCode::Cast:
      return CastOp::create(b, loc, type, operand(node, 0));
    case OpCode::Add:
      return AddOp::create(b, loc, operand(node, 0), operand(node, 1));
    case OpCode::Sub:
      return SubOp::create(b, loc, operand(node, 0), operand(node, 1));
    case OpCode::Mul:
      return MulOp::create(b, loc, operand(node, 0), operand(node, 1));
    case OpCode::Div:
      return DivOp::create(b, loc, operand(node, 0), operand(node, 1));
    case OpCode::Pow:
      return PowOp::create(b, loc, operand(node, 0), operand(node, 1));
    case OpCode::Maximum:
      return MaximumOp::create(b, loc, operand(node, 0), operand(node, 1));
    case OpCode::Minimum:
      return MinimumOp::create(b, loc, operand(node, 0), operand(node, 1));
    case OpCode::And:
      return AndOp::create(b, loc, operand(node, 0), operand(node, 1));
    case OpCode::Or:
      return OrOp::create(b, loc, operand(node, 0), operand(node, 1));
    case OpCode::Xor:
      return XorOp::create(b, loc, operand(node, 0), operand(node, 1));
    case OpCode::Compare:
      return CompareOp::create(b, loc,
                               static_cast<ember::ComparePredicate>(ints[0]),
                               operand(node, 0), operand(node, 1));
    case OpCode::Select:
      return SelectOp::create(b, loc, operand(node, 0), operand(node, 1),
                              operand(node, 2));
    case OpCode::Sum:
      return SumOp::create(b, loc, operand(node, 0), ints, node.flag);
    case OpCode::Mean:
      return MeanOp::create(b, loc, operand(node, 0), ints, node.flag);
    case OpCode::Max:
      return MaxOp::create(b, loc, operand(node, 0), ints, node.flag);
    case OpCode::Min:
      return MinOp::create(b, loc, operand(node, 0), ints, node.flag);
    case OpCode::Argmax:
      return ArgmaxOp::create(b, loc, operand(node, 0), ints[0], node.flag);
    case OpCode::Argmin:
      return ArgminOp::create(b, loc, operand(node, 0), ints[0], node.flag);
    case OpCode::Matmul:
      return MatmulOp::create(b, loc, operand(node, 0), operand(node, 1));
    case OpCode::Reshape:
      return ReshapeOp::create(b, loc, type, operand(node, 0),
                               dynamicSizes(b, loc, node));
    case OpCode::BroadcastTo:
      return BroadcastToOp::create(b, loc, type, operand(node, 0),
                                   dynamicSizes(b, loc, node));
    case OpCode::Transpose:
      return TransposeOp::create(b, loc, operand(node, 0), ints);
    case OpCode::Slice: {
      size_t rank = node.shape.size();
      return SliceOp::create(b, loc, operand(node, 0), ints.take_front(rank),
                             ints.slice(rank, rank), ints.take_back(rank));
    }
    case OpCode::InsertSlice: {
      size_t rank = node.shape.size();
      return InsertSliceOp::create(b, loc, operand(node, 1), operand(node, 0),
                                   ints.take_front(rank), ints.slice(rank, rank),
                                   ints.take_back(rank));
    }
    case OpCode::Concat: {
      SmallVector<Value> inputs;
      for (unsigned i = 0; i < node.inputs.size(); ++i)
        inputs.push_back(operand(node, i));
      return ConcatOp::create(b, loc, inputs, ints[0]);
    }
    case OpCode::Gather:
      return GatherOp::create(b, loc, operand(node, 0), operand(node, 1),
                              ints[0]);
    case OpCode::Softmax:
      return SoftmaxOp::create(b, loc, operand(node, 0), ints[0]);
    case OpCode::LogSoftmax:
      return LogSoftmaxOp::create(b, loc, operand(node, 0), ints[0]);
    case OpCode::Grad:
      break; // rejected by compileGraph before emission
    }
    llvm_unreachable("unhandled op code");
  }

  MLIRContext *ctx;
  const GraphPlan &plan;
  llvm::DenseMap<const Node *, Value> values;
  Value sizes;
  int64_t nextSlot = 0;
};

class CpuGraph : public CompiledGraph {
public:
  CpuGraph(std::unique_ptr<CpuExecutable> executable, PackedEntry entry)
      : executable(std::move(executable)), packed(entry) {}

  void run(llvm::ArrayRef<GraphBuffer> buffers) const override {
    SmallVector<BufferView, 8> views;
    for (const GraphBuffer &buffer : buffers)
      views.push_back({buffer.data, buffer.shape, buffer.rank});
    invokePacked(packed, views);
  }

private:
  std::unique_ptr<CpuExecutable> executable;
  PackedEntry packed;
};

} // namespace

std::unique_ptr<CompiledGraph> compileGraph(const GraphPlan &plan,
                                            std::string *error) {
  MLIRContext &ctx = compilerContext();
  std::string diagnostics;
  llvm::raw_string_ostream os(diagnostics);
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &diag) {
    os << formatLocation(diag.getLocation()) << ": " << diag << "\n";
    return success();
  });

  for (const Node *node : plan.nodes)
    if (node->op == OpCode::Grad) {
      *error = "gradients need the ember-autodiff transformation, which the "
               "eager frontend does not call yet";
      return nullptr;
    }
  OwningOpRef<ModuleOp> module = Emitter(&ctx, plan).emit();
  if (failed(verify(*module))) {
    *error = "internal error: the traced graph does not verify:\n" + diagnostics;
    return nullptr;
  }
  if (getenv("EMBER_DUMP_GRAPHS"))
    module->print(llvm::errs());

  std::unique_ptr<CpuExecutable> executable =
      compileForCpu(*module, CpuCompileOptions{}, error);
  if (!executable)
    return nullptr;
  PackedEntry entry = executable->lookup(kGraphName, error);
  if (!entry)
    return nullptr;
  return std::make_unique<CpuGraph>(std::move(executable), entry);
}

} // namespace ember
