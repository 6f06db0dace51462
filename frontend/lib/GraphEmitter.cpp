//===- GraphEmitter.cpp - emit a lazy graph as an ember function ----------===//
//
// Each node becomes one ember op whose result type has a static 1 where the
// node's size is 1 and a dynamic dim elsewhere: the dialect broadcasts only
// static 1s, and everything else must not depend on sizes, so that one
// compiled function serves every size with the same pattern.
//
//===----------------------------------------------------------------------===//

#include "GraphEmitter.h"

#include "ember/Compiler/Autodiff.h"
#include "ember/Compiler/GpuCompiler.h"
#include "ember/Dialect/EmberOps.h"
#include "ember/Frontend/CustomOpNames.h"
#include "ember/Frontend/Error.h"
#include "ember/Runtime/CustomOpRegistry.h"
#include "ember/Runtime/Debug.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <cstring>
#include <limits>
#include <map>
#include <set>

using namespace mlir;

namespace ember {

std::mutex &contextMutex() {
  static std::mutex mutex;
  return mutex;
}

MLIRContext &compilerContext() {
  static MLIRContext *context = [] {
    DialectRegistry registry;
    // The GPU back end's dialects too (a superset of the CPU's).
    registerGpuCompilerDialects(registry);
    auto *ctx = new MLIRContext(registry);
    // One graph at a time on few cores: MLIR's thread pool only adds latency.
    ctx->disableMultithreading();
    ctx->loadDialect<EmberDialect, func::FuncDialect, tensor::TensorDialect,
                     arith::ArithDialect>();
    return ctx;
  }();
  return *context;
}

namespace {

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

/// The gradients asked of one (output, cotangent) pair: one VJP function
/// serves every Grad node of the pair.
struct GradGroup {
  Node *root;
  Node *seed;
  /// The values differentiated against, in argument order.
  std::vector<Node *> wrt;
  /// The VJP: (wrt..., other args..., sizes, cotangent) -> (root, grads...).
  func::FuncOp vjp;
  /// The forward function's other arguments (values computed outside).
  std::vector<Node *> captures;
};

class Emitter {
public:
  Emitter(MLIRContext *ctx, const GraphPlan &plan, bool reshapeGroups = false,
          bool tagNodes = false)
      : ctx(ctx), plan(plan), reshapeGroups(reshapeGroups), tagNodes(tagNodes) {}

  /// The module, or null with `error` set.
  OwningOpRef<ModuleOp> emit(std::string *error) {
    OpBuilder b(ctx);
    Location unknown = UnknownLoc::get(ctx);
    OwningOpRef<ModuleOp> module = ModuleOp::create(unknown);
    if (failed(prepare(b, *module, error)))
      return nullptr;

    SmallVector<Type> argTypes, resultTypes;
    for (Node *input : plan.inputs)
      argTypes.push_back(patternType(ctx, *input));
    argTypes.push_back(sizesType);
    for (Node *output : plan.outputs)
      resultTypes.push_back(patternType(ctx, *output));

    b.setInsertionPointToEnd(module->getBody());
    auto func = func::FuncOp::create(b, unknown, kGraphName,
                                     b.getFunctionType(argTypes, resultTypes));
    Block *body = func.addEntryBlock();
    b.setInsertionPointToStart(body);
    llvm::DenseMap<const Node *, Value> mainValues;
    values = &mainValues;
    for (size_t i = 0; i < plan.inputs.size(); ++i)
      mainValues[plan.inputs[i]] = body->getArgument(i);
    sizes = body->getArgument(plan.inputs.size());
    emitBody(b, resultTypes);
    return module;
  }

  /// The plan as a function with `signature`'s arguments: the size vector is
  /// computed from the arguments' dims, so the function stands alone.
  OwningOpRef<ModuleOp> emitExport(const ExportSignature &signature,
                                   std::string *error) {
    OpBuilder b(ctx);
    Location unknown = UnknownLoc::get(ctx);
    OwningOpRef<ModuleOp> module = ModuleOp::create(unknown);
    if (failed(prepare(b, *module, error)))
      return nullptr;
    if (signature.sizes.size() != size_t(sizesType.getDimSize(0)) ||
        signature.argumentOfInput.size() != plan.inputs.size() ||
        signature.outputs.size() != plan.outputs.size()) {
      *error = "internal error: the export signature does not fit the graph";
      return nullptr;
    }
    auto typeOf = [&](DType dtype, const Shape &shape) {
      SmallVector<int64_t> dims;
      for (int64_t d : shape)
        dims.push_back(d < 0 ? ShapedType::kDynamic : d);
      return RankedTensorType::get(dims, elementType(ctx, dtype));
    };
    SmallVector<Type> argTypes, resultTypes;
    for (const auto &[dtype, shape] : signature.arguments)
      argTypes.push_back(typeOf(dtype, shape));
    for (size_t i = 0; i < plan.outputs.size(); ++i)
      resultTypes.push_back(typeOf(plan.outputs[i]->dtype, signature.outputs[i]));

    b.setInsertionPointToEnd(module->getBody());
    auto func = func::FuncOp::create(b, unknown, signature.name,
                                     b.getFunctionType(argTypes, resultTypes));
    Block *body = func.addEntryBlock();
    b.setInsertionPointToStart(body);
    llvm::DenseMap<const Node *, Value> mainValues;
    values = &mainValues;
    for (size_t i = 0; i < plan.inputs.size(); ++i) {
      Value arg = body->getArgument(signature.argumentOfInput[i]);
      RankedTensorType pattern = patternType(ctx, *plan.inputs[i]);
      if (arg.getType() != pattern)
        arg = tensor::CastOp::create(b, unknown, pattern, arg);
      mainValues[plan.inputs[i]] = arg;
    }
    SmallVector<Value> slotValues;
    for (const ExportSignature::SizeExpr &expr : signature.sizes) {
      Value value = arith::ConstantIntOp::create(b, unknown, b.getI64Type(),
                                                 expr.constant);
      for (const ExportSignature::Term &term : expr.terms) {
        Value dim = tensor::DimOp::create(b, unknown,
                                          body->getArgument(term.argument),
                                          term.dim);
        dim = arith::IndexCastOp::create(b, unknown, b.getI64Type(), dim);
        Value coefficient = arith::ConstantIntOp::create(
            b, unknown, b.getI64Type(), term.coefficient);
        value = arith::AddIOp::create(
            b, unknown, value, arith::MulIOp::create(b, unknown, dim, coefficient));
      }
      slotValues.push_back(value);
    }
    sizes = tensor::FromElementsOp::create(b, unknown, sizesType, slotValues);
    emitBody(b, resultTypes);
    return module;
  }

private:
  /// Sizes the size vector and builds the gradient programs.
  LogicalResult prepare(OpBuilder &b, ModuleOp module, std::string *error) {
    b.setInsertionPointToEnd(module.getBody());
    int64_t slots = 0;
    std::vector<int64_t> nodeSlots;
    for (Node *node : plan.nodes)
      assignSlots(*node, slots, nodeSlots);
    sizesType = RankedTensorType::get({slots}, b.getI64Type());

    // Gradient programs first (a nested gradient's group precedes the
    // groups that use it in the topological order).
    for (Node *node : plan.nodes)
      if (node->op == OpCode::Grad && failed(buildGroup(b, module, *node, error)))
        return failure();
    return success();
  }

  /// A node's first slot of the size vector; then its traced backward's
  /// nodes' (the order describeGraph gives them).
  void assignSlots(const Node &node, int64_t &slots, std::vector<int64_t> &scratch) {
    slotBase[&node] = slots;
    scratch.clear();
    appendRuntimeSlots(node, scratch);
    slots += scratch.size();
    if (node.custom)
      for (const NodeRef &inner : node.custom->nodes)
        assignSlots(*inner, slots, scratch);
  }

  /// An autograd.Function's value: an ember.custom_vjp carrying the forward
  /// outputs, its region the traced backward. The region is isolated: it
  /// reads the node's inputs and the size vector as its arguments.
  Value emitCustomVjp(OpBuilder &b, Location loc, const Node &node) {
    const CustomBackward &backward = *node.custom;
    int64_t primals = node.ints[0], outputs = node.ints[1];
    SmallVector<Value> operands;
    for (unsigned i = 0; i < node.inputs.size(); ++i)
      operands.push_back(operand(node, i));
    operands.push_back(sizes);
    SmallVector<Type> resultTypes;
    for (int64_t k = 0; k < outputs; ++k)
      resultTypes.push_back(operands[primals + k].getType());
    auto op = CustomVjpOp::create(b, loc, resultTypes, operands, primals);
    Block *block = new Block;
    op.getBackward().push_back(block);
    for (Value value : operands)
      block->addArgument(value.getType(), loc);
    for (Type type : resultTypes)
      block->addArgument(type, loc);

    llvm::DenseMap<const Node *, Value> backwardValues;
    for (unsigned i = 0; i < node.inputs.size(); ++i)
      backwardValues.try_emplace(node.inputs[i].get(), block->getArgument(i));
    for (auto [k, cotangent] : llvm::enumerate(backward.cotangents))
      backwardValues[cotangent.get()] = block->getArgument(operands.size() + k);
    auto *outerValues = values;
    Value outerSizes = sizes;
    values = &backwardValues;
    sizes = block->getArgument(node.inputs.size());
    OpBuilder inner = OpBuilder::atBlockBegin(block);
    for (const NodeRef &inside : backward.nodes)
      backwardValues[inside.get()] = emitNode(inner, *inside);
    SmallVector<Value> gradients;
    for (int64_t p = 0; p < primals; ++p) {
      Value gradient = backwardValues.lookup(backward.gradients[p].get());
      Type type = block->getArgument(p).getType();
      if (gradient.getType() != type)
        gradient = tensor::CastOp::create(inner, loc, type, gradient);
      gradients.push_back(gradient);
    }
    YieldOp::create(inner, loc, gradients);
    values = outerValues;
    sizes = outerSizes;
    return op.getResult(0);
  }

  /// Output `node.ints[0]` of the custom_vjp (or multi-output custom_call)
  /// emitted for `node.inputs[0]`.
  Value emitCustomVjpResult(const Node &node) {
    Value first = operand(node, 0);
    if (auto cast = first.getDefiningOp<tensor::CastOp>())
      first = cast.getSource();
    return first.getDefiningOp()->getResult(node.ints[0]);
  }

  /// Emits every node into the current function (`values` holds its
  /// inputs) and returns the outputs as `resultTypes`.
  void emitBody(OpBuilder &b, ArrayRef<Type> resultTypes) {
    Location unknown = UnknownLoc::get(ctx);
    for (Node *node : plan.nodes)
      if (node->op != OpCode::Input)
        (*values)[node] = emitNode(b, *node);

    SmallVector<Value> results;
    for (auto [output, type] : llvm::zip(plan.outputs, resultTypes)) {
      Value result = values->lookup(output);
      if (result.getType() != type)
        result = tensor::CastOp::create(b, unknown, type, result);
      results.push_back(result);
    }
    func::ReturnOp::create(b, unknown, results);

    // The gradient programs now live inside the graph function.
    for (GradGroup &group : groups)
      group.vjp.erase();
    groups.clear();
  }

  Location locationOf(const Node &node) {
    Location loc = node.loc.file
                       ? Location(FileLineColLoc::get(ctx, *node.loc.file, node.loc.line, 0))
                       : Location(UnknownLoc::get(ctx));
    // Lowering carries locations into the kernels' code: the tag tells
    // which kernels each node's ops ended up in (kernelNodeTag).
    if (tagNodes)
      loc = NameLoc::get(StringAttr::get(ctx, kNodeTagPrefix + std::to_string(node.index)),
                         loc);
    return loc;
  }

  Value operand(const Node &node, unsigned i) {
    return values->lookup(node.inputs[i].get());
  }

  /// Slot `slot` of the size vector as an index.
  Value slotValue(OpBuilder &b, Location loc, int64_t slot) {
    Value position = arith::ConstantIndexOp::create(b, loc, slot);
    Value value = tensor::ExtractOp::create(b, loc, sizes, position);
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), value);
  }

  SmallVector<Value> dynamicSizes(OpBuilder &b, Location loc, const Node &node) {
    SmallVector<Value> result;
    int64_t slot = slotBase.lookup(&node);
    for (int64_t d : node.shape)
      if (d != 1)
        result.push_back(slotValue(b, loc, slot++));
    return result;
  }

  /// A slice window: whole dims static, the others' starts and stops read
  /// from the size vector (see SliceDim).
  struct Window {
    SmallVector<int64_t> start, stop, step;
    SmallVector<Value> dynamicStart, dynamicStop;
  };
  Window sliceWindow(OpBuilder &b, Location loc, const Node &node) {
    Window window;
    int64_t slot = slotBase.lookup(&node);
    for (size_t d = 0; d < node.inputs[0]->shape.size(); ++d) {
      SliceDim dim = sliceDim(node, d);
      window.step.push_back(dim.step);
      if (dim.whole) {
        window.start.push_back(0);
        window.stop.push_back(std::numeric_limits<int64_t>::max());
        continue;
      }
      window.start.push_back(ShapedType::kDynamic);
      window.stop.push_back(ShapedType::kDynamic);
      window.dynamicStart.push_back(slotValue(b, loc, slot++));
      window.dynamicStop.push_back(slotValue(b, loc, slot++));
    }
    return window;
  }

  GradGroup *groupOf(const Node &grad) {
    for (GradGroup &group : groups)
      if (group.root == grad.inputs[0].get() && group.seed == grad.inputs[1].get())
        return &group;
    return nullptr;
  }

  /// Emits d(root)/d(wrt) for every Grad node of `grad`'s group: a forward
  /// function from the wrt values (and the values it reads from outside) to
  /// the root, differentiated by the autodiff transformation.
  LogicalResult buildGroup(OpBuilder &b, ModuleOp module, const Node &grad,
                           std::string *error) {
    if (groupOf(grad))
      return success();
    GradGroup group{grad.inputs[0].get(), grad.inputs[1].get(), {}, {}, {}};
    for (Node *node : plan.nodes)
      if (node->op == OpCode::Grad && node->inputs[0].get() == group.root &&
          node->inputs[1].get() == group.seed &&
          llvm::find(group.wrt, node->inputs[2].get()) == group.wrt.end())
        group.wrt.push_back(node->inputs[2].get());

    // The forward: every node between the wrt values and the root that
    // depends on them; the rest (no gradient flows through it) is an
    // argument computed by the caller.
    llvm::DenseSet<const Node *> inside, wrtSet(group.wrt.begin(), group.wrt.end());
    std::vector<Node *> stack{group.root};
    llvm::DenseSet<const Node *> seen;
    while (!stack.empty()) {
      Node *node = stack.back();
      stack.pop_back();
      if (!seen.insert(node).second || wrtSet.count(node))
        continue;
      // A leaf's value is where gradients stop: it is an argument even when
      // it is still pending (a fresh randn with requires_grad), so that an
      // outer group that differentiates with respect to that leaf
      // (create_graph, then backward) finds it among its own values.
      if (!node->requiresGrad || node->op == OpCode::Input || !node->leaf.expired()) {
        group.captures.push_back(node);
        continue;
      }
      inside.insert(node);
      for (const NodeRef &input : node->inputs)
        stack.push_back(input.get());
    }

    SmallVector<Type> argTypes;
    for (Node *node : group.wrt)
      argTypes.push_back(patternType(ctx, *node));
    for (Node *node : group.captures)
      argTypes.push_back(patternType(ctx, *node));
    argTypes.push_back(sizesType);
    Location loc = locationOf(grad);
    b.setInsertionPointToEnd(module.getBody());
    std::string name = "ember_forward_" + std::to_string(groups.size());
    auto forward = func::FuncOp::create(
        b, loc, name,
        b.getFunctionType(argTypes, {patternType(ctx, *group.root)}));
    Block *body = forward.addEntryBlock();
    OpBuilder inner = OpBuilder::atBlockBegin(body);
    llvm::DenseMap<const Node *, Value> forwardValues;
    auto *outerValues = values;
    Value outerSizes = sizes;
    values = &forwardValues;
    unsigned arg = 0;
    for (Node *node : group.wrt)
      forwardValues[node] = body->getArgument(arg++);
    for (Node *node : group.captures)
      forwardValues[node] = body->getArgument(arg++);
    sizes = body->getArgument(arg);
    for (Node *node : plan.nodes)
      if (inside.count(node))
        forwardValues[node] = emitNode(inner, *node);
    func::ReturnOp::create(inner, loc, forwardValues[group.root]);
    // Clones made for this function are keyed by its (stack) value map.
    for (auto it = clonedGroups.begin(); it != clonedGroups.end();)
      it = it->first.second == &forwardValues ? clonedGroups.erase(it)
                                               : std::next(it);
    values = outerValues;
    sizes = outerSizes;

    SmallVector<unsigned> wrt;
    for (unsigned i = 0; i < group.wrt.size(); ++i)
      wrt.push_back(i);
    FailureOr<func::FuncOp> vjp = buildVjpFunction(forward, wrt);
    forward.erase();
    if (failed(vjp)) {
      *error = "could not differentiate the graph (see the diagnostics above)";
      return failure();
    }
    group.vjp = *vjp;
    group.vjp.setPrivate();
    groups.push_back(std::move(group));
    return success();
  }

  /// Grad nodes: the group's VJP body, cloned once per function that needs
  /// it, then the gradient for this node's wrt value.
  Value emitGrad(OpBuilder &b, const Node &node) {
    GradGroup *group = groupOf(node);
    auto key = std::make_pair(static_cast<const void *>(group),
                              static_cast<const void *>(values));
    auto it = clonedGroups.find(key);
    if (it == clonedGroups.end()) {
      IRMapping mapping;
      Block &body = group->vjp.front();
      SmallVector<Value> operands;
      for (Node *wrt : group->wrt)
        operands.push_back(values->lookup(wrt));
      for (Node *capture : group->captures)
        operands.push_back(values->lookup(capture));
      operands.push_back(sizes);
      operands.push_back(values->lookup(group->seed));
      for (auto [arg, value] : llvm::zip(body.getArguments(), operands))
        mapping.map(arg, value);
      for (Operation &op : body.without_terminator())
        b.clone(op, mapping);
      SmallVector<Value> results;
      for (Value v : body.getTerminator()->getOperands())
        results.push_back(mapping.lookupOrDefault(v));
      it = clonedGroups.try_emplace(key, std::move(results)).first;
    }
    size_t position = llvm::find(group->wrt, node.inputs[2].get()) - group->wrt.begin();
    return it->second[1 + position];
  }

  Value constant(OpBuilder &b, Location loc, const Node &node) {
    auto type = RankedTensorType::get({}, elementType(ctx, node.dtype));
    if (isRuntimeScalar(node) && !isFloating(node.dtype)) {
      // The value sits in the node's slot of the size vector.
      Value position =
          arith::ConstantIndexOp::create(b, loc, slotBase.lookup(&node));
      Value value = tensor::ExtractOp::create(b, loc, sizes, position);
      if (type.getElementType() != value.getType())
        value = arith::TruncIOp::create(b, loc, type.getElementType(), value);
      return tensor::FromElementsOp::create(b, loc, type, value);
    }
    if (isRuntimeScalar(node)) {
      // The f64 bits sit in the node's slot of the size vector.
      Value position =
          arith::ConstantIndexOp::create(b, loc, slotBase.lookup(&node));
      Value bits = tensor::ExtractOp::create(b, loc, sizes, position);
      Value value = arith::BitcastOp::create(b, loc, b.getF64Type(), bits);
      // Through f32: the JIT links no f64-to-half library routine.
      Type element = type.getElementType();
      if (element != value.getType())
        value = arith::TruncFOp::create(b, loc, b.getF32Type(), value);
      if (element != value.getType())
        value = arith::TruncFOp::create(b, loc, element, value);
      return tensor::FromElementsOp::create(b, loc, type, value);
    }
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

  static FloatAttr epsOf(OpBuilder &b, const Node &node) {
    double eps;
    memcpy(&eps, &node.ints[0], sizeof(eps));
    return b.getF64FloatAttr(eps);
  }

  template <typename OpTy>
  Value emitNorm(OpBuilder &b, Location loc, const Node &node) {
    unsigned next = 1;
    Value weight = node.ints[1] ? operand(node, next++) : Value();
    Value bias = node.ints[2] ? operand(node, next++) : Value();
    Value x = operand(node, 0);
    return OpTy::create(b, loc, x.getType(), x, weight, bias, epsOf(b, node));
  }

  /// ember.attention's first result; the second (each query row's
  /// logsumexp, [..., L]) only its VJP reads.
  Value emitAttention(OpBuilder &b, Location loc, const Node &node,
                      RankedTensorType type) {
    Value q = operand(node, 0);
    Value mask = node.ints[2] ? operand(node, 3) : Value();
    double scale;
    memcpy(&scale, &node.ints[0], sizeof(scale));
    auto qType = cast<RankedTensorType>(q.getType());
    auto lseType = RankedTensorType::get(qType.getShape().drop_back(),
                                         qType.getElementType());
    auto op = AttentionOp::create(
        b, loc, type, lseType, q, operand(node, 1), operand(node, 2), mask,
        b.getF64FloatAttr(scale), node.ints[1] ? b.getUnitAttr() : UnitAttr());
    return op.getResult();
  }

  /// ember.conv / ember.conv_backward_data from a node's ints: stride...,
  /// padding_low..., padding_high..., dilation..., groups (then
  /// output_padding... for the transposed form, see ConvOps.cpp).
  Value emitConv(OpBuilder &b, Location loc, const Node &node,
                 RankedTensorType type) {
    Value input = operand(node, 0), weight = operand(node, 1);
    auto ints = ArrayRef<int64_t>(node.ints);
    size_t nd = node.shape.size() - 2;
    auto strides = b.getDenseI64ArrayAttr(ints.slice(0, nd));
    auto low = b.getDenseI64ArrayAttr(ints.slice(nd, nd));
    auto high = b.getDenseI64ArrayAttr(ints.slice(2 * nd, nd));
    auto dilations = b.getDenseI64ArrayAttr(ints.slice(3 * nd, nd));
    auto groups = b.getI64IntegerAttr(ints[4 * nd]);
    if (node.op == OpCode::Conv)
      return ConvOp::create(b, loc, type, input, weight, strides, low, high,
                            dilations, groups);
    // The transposed form's spatial sizes from its input's and kernel's:
    // (in - 1) * stride - low - high + dilation * (k - 1) + 1 + out_pad.
    SmallVector<Value> sizes;
    auto index = [&](int64_t v) {
      return arith::ConstantIndexOp::create(b, loc, v).getResult();
    };
    for (size_t i = 0; i < nd; ++i) {
      Value in = tensor::DimOp::create(b, loc, input, i + 2);
      Value k = tensor::DimOp::create(b, loc, weight, i + 2);
      Value size = arith::MulIOp::create(
          b, loc, arith::SubIOp::create(b, loc, in, index(1)), index(ints[i]));
      Value extent = arith::MulIOp::create(
          b, loc, arith::SubIOp::create(b, loc, k, index(1)),
          index(ints[3 * nd + i]));
      size = arith::AddIOp::create(b, loc, size, extent);
      size = arith::AddIOp::create(
          b, loc, size,
          index(1 + ints[4 * nd + 1 + i] - ints[nd + i] - ints[2 * nd + i]));
      sizes.push_back(size);
    }
    return ConvBackwardDataOp::create(b, loc, type, input, weight, sizes,
                                      strides, low, high, dilations, groups);
  }

  /// ember.custom_call from a node's ints: the name's hash, then the f64
  /// bits of each declared attribute (frontend/lib/CustomOps.cpp).
  Value emitCustomCall(OpBuilder &b, Location loc, const Node &node,
                       RankedTensorType type) {
    const std::string &name = customOpNameOfHash(node.ints[0]);
    const CustomOpInfo *op = findCustomOp(name);
    if (!op)
      runtimeError("custom op '" + name + "' is no longer registered");
    SmallVector<NamedAttribute> attrs;
    for (size_t i = 0; i < op->attrNames.size(); ++i) {
      double value;
      std::memcpy(&value, &node.ints[1 + i], sizeof(value));
      attrs.push_back(b.getNamedAttr(op->attrNames[i], b.getF64FloatAttr(value)));
    }
    SmallVector<Value> inputs;
    for (unsigned i = 0; i < node.inputs.size(); ++i)
      inputs.push_back(operand(node, i));
    // Output 0 is the node's; the others' patterns follow the attributes
    // (frontend/lib/CustomOps.cpp).
    SmallVector<Type> types = {type};
    for (size_t at = 1 + op->attrNames.size(); at + 3 <= node.ints.size(); at += 3) {
      SmallVector<int64_t> dims;
      for (int64_t d = 0; d < node.ints[at + 1]; ++d)
        dims.push_back(node.ints[at + 2] >> d & 1 ? 1 : ShapedType::kDynamic);
      types.push_back(RankedTensorType::get(
          dims, elementType(ctx, static_cast<DType>(node.ints[at]))));
    }
    auto call = CustomCallOp::create(b, loc, types, inputs,
                                     b.getStringAttr(name),
                                     b.getDictionaryAttr(attrs));
    return call.getOutputs()[0];
  }

  template <typename OpTy>
  Value emitNormBackward(OpBuilder &b, Location loc, const Node &node) {
    Value x = operand(node, 1);
    Value weight = node.inputs.size() > 2 ? operand(node, 2) : Value();
    return OpTy::create(b, loc, x.getType(), operand(node, 0), x, weight,
                        epsOf(b, node));
  }

  /// RecurrentSequence: inputs = {input, h0, c0?, weight_hh, bias_hh?,
  /// weight_hr?, mask?}, ints = {cell, has c0, has bias_hh, has weight_hr,
  /// has mask}.
  Value emitRecurrentSequence(OpBuilder &b, Location loc, const Node &node,
                              RankedTensorType type) {
    unsigned next = 2;
    Value c0 = node.ints[1] ? operand(node, next++) : Value();
    Value weightHh = operand(node, next++);
    Value biasHh = node.ints[2] ? operand(node, next++) : Value();
    Value weightHr = node.ints[3] ? operand(node, next++) : Value();
    Value mask = node.ints[4] ? operand(node, next++) : Value();
    return RecurrentSequenceOp::create(b, loc, type, operand(node, 0),
                                       operand(node, 1), c0, weightHh, biasHh,
                                       weightHr, mask, node.ints[0]);
  }

  Value emitOp(OpBuilder &b, Location loc, const Node &node,
               RankedTensorType type) {
    auto ints = ArrayRef<int64_t>(node.ints);
    switch (node.op) {
    case OpCode::Input:
      break;
    case OpCode::Constant:
      return constant(b, loc, node);
    // Element-wise ops with one or two operands, all alike.
#define EMBER_UNARY_OP(Name, Mnemonic, Types, TorchNames)                      \
  case OpCode::Name:                                                           \
    return Name##Op::create(b, loc, operand(node, 0));
#define EMBER_BINARY_OP(Name, Mnemonic, Types, TorchNames)                     \
  case OpCode::Name:                                                           \
    return Name##Op::create(b, loc, operand(node, 0), operand(node, 1));
#include "ember/Dialect/EmberVocabulary.inc"
    case OpCode::Cast:
      return CastOp::create(b, loc, type, operand(node, 0));
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
    case OpCode::Reshape: {
      DenseI64ArrayAttr groups;
      if (reshapeGroups)
        if (SmallVector<int64_t, 8> dims = ember::reshapeGroups(node); !dims.empty())
          groups = b.getDenseI64ArrayAttr(dims);
      return ReshapeOp::create(b, loc, type, operand(node, 0),
                               dynamicSizes(b, loc, node), groups);
    }
    case OpCode::BroadcastTo:
      return BroadcastToOp::create(b, loc, type, operand(node, 0),
                                   dynamicSizes(b, loc, node));
    case OpCode::Transpose:
      return TransposeOp::create(b, loc, operand(node, 0), ints);
    case OpCode::Slice: {
      Window w = sliceWindow(b, loc, node);
      return SliceOp::create(b, loc, operand(node, 0), w.dynamicStart, w.dynamicStop,
                             w.start, w.stop, w.step);
    }
    case OpCode::InsertSlice: {
      Window w = sliceWindow(b, loc, node);
      Value dest = operand(node, 0);
      return InsertSliceOp::create(b, loc, dest.getType(), operand(node, 1), dest,
                                   w.dynamicStart, w.dynamicStop, w.start, w.stop,
                                   w.step);
    }
    case OpCode::Concat: {
      // The inputs' extents along the concat dim stay dynamic (run-time
      // sizes, not part of the cache key; the gradient slices at run-time
      // offsets). A result of extent 1 is restated as static 1, as every
      // dim of size 1 is.
      SmallVector<Value> inputs;
      for (unsigned i = 0; i < node.inputs.size(); ++i)
        inputs.push_back(operand(node, i));
      Value result = ConcatOp::create(b, loc, inputs, ints[0]);
      auto type = cast<RankedTensorType>(result.getType());
      if (node.shape[ints[0]] == 1 && type.isDynamicDim(ints[0])) {
        SmallVector<int64_t> dims(type.getShape());
        dims[ints[0]] = 1;
        result = tensor::CastOp::create(
            b, loc, RankedTensorType::get(dims, type.getElementType()), result);
      }
      return result;
    }
    case OpCode::Gather:
      return GatherOp::create(b, loc, operand(node, 0), operand(node, 1),
                              ints[0]);
    case OpCode::ScatterAdd:
      return ScatterAddOp::create(b, loc, operand(node, 0), operand(node, 1),
                                  operand(node, 2), ints[0]);
    case OpCode::Softmax:
      return SoftmaxOp::create(b, loc, operand(node, 0), ints[0]);
    case OpCode::LogSoftmax:
      return LogSoftmaxOp::create(b, loc, operand(node, 0), ints[0]);
    case OpCode::SoftmaxBackward:
      return SoftmaxBackwardOp::create(b, loc, operand(node, 0),
                                       operand(node, 1), ints[0]);
    case OpCode::LogSoftmaxBackward:
      return LogSoftmaxBackwardOp::create(b, loc, operand(node, 0),
                                          operand(node, 1), ints[0]);
    case OpCode::LayerNorm:
      return emitNorm<LayerNormOp>(b, loc, node);
    case OpCode::RmsNorm:
      return emitNorm<RmsNormOp>(b, loc, node);
    case OpCode::LayerNormBackward:
      return emitNormBackward<LayerNormBackwardOp>(b, loc, node);
    case OpCode::RmsNormBackward:
      return emitNormBackward<RmsNormBackwardOp>(b, loc, node);
    case OpCode::CrossEntropyRows:
      return CrossEntropyRowsOp::create(b, loc, type, operand(node, 0),
                                        operand(node, 1), ints[0]);
    case OpCode::CrossEntropyRowsBackward:
      return CrossEntropyRowsBackwardOp::create(
          b, loc, operand(node, 1).getType(), operand(node, 0),
          operand(node, 1), operand(node, 2), ints[0]);
    case OpCode::RecurrentSequence:
      return emitRecurrentSequence(b, loc, node, type);
    case OpCode::RecurrentSequenceBackward: {
      unsigned next = 3;
      Value weightHr = ints[1] ? operand(node, next++) : Value();
      Value mask = ints[2] ? operand(node, next++) : Value();
      return RecurrentSequenceBackwardOp::create(
          b, loc, type, operand(node, 0), operand(node, 1), operand(node, 2),
          weightHr, mask, ints[0]);
    }
    case OpCode::Attention:
      return emitAttention(b, loc, node, type);
    case OpCode::AttentionBackward:
      llvm_unreachable("attention_backward is built by the VJP, not traced");
    case OpCode::Conv:
    case OpCode::ConvBackwardData:
      return emitConv(b, loc, node, type);
    case OpCode::ConvBackwardWeight:
      llvm_unreachable("conv_backward_weight is built by the VJP, not traced");
    case OpCode::CustomCall:
      return emitCustomCall(b, loc, node, type);
    case OpCode::AllReduce: {
      // Its result type is its operand's (emitNode casts to the pattern).
      Value input = operand(node, 0);
      return AllReduceOp::create(b, loc, input.getType(), input,
                                 b.getI64IntegerAttr(node.ints[0]),
                                 b.getI64IntegerAttr(node.ints[1]));
    }
    case OpCode::Grad:
      return emitGrad(b, node);
    case OpCode::CustomVjp:
      return emitCustomVjp(b, loc, node);
    case OpCode::CustomVjpResult:
      return emitCustomVjpResult(node);
    case OpCode::Placeholder:
      // Sync refuses such graphs before they are emitted (a backward's
      // placeholders only live inside custom_vjp regions).
      break;
    }
    llvm_unreachable("unhandled op code");
  }

  MLIRContext *ctx;
  const GraphPlan &plan;
  /// Whether reshapes carry their dim groups (see emitGraph).
  bool reshapeGroups;
  /// Whether each node's location names the node (see emitGraph).
  bool tagNodes;
  /// The values of the function being emitted.
  llvm::DenseMap<const Node *, Value> *values = nullptr;
  Value sizes;
  RankedTensorType sizesType;
  /// Each reshape/broadcast_to node's first entry in the size vector.
  llvm::DenseMap<const Node *, int64_t> slotBase;
  std::vector<GradGroup> groups;
  std::map<std::pair<const void *, const void *>, SmallVector<Value>>
      clonedGroups;
};
} // namespace

OwningOpRef<ModuleOp> emitGraph(MLIRContext *ctx, const GraphPlan &plan,
                                std::string *error, bool reshapeGroups, bool tagNodes) {
  return Emitter(ctx, plan, reshapeGroups, tagNodes).emit(error);
}

std::optional<size_t> kernelNodeTag(Location loc) {
  std::optional<size_t> tag;
  loc->walk([&](Location inner) {
    auto name = dyn_cast<NameLoc>(inner);
    if (!name || !name.getName().getValue().starts_with(kNodeTagPrefix))
      return WalkResult::advance();
    tag = std::stoull(name.getName().getValue().substr(strlen(kNodeTagPrefix)).str());
    return WalkResult::interrupt();
  });
  return tag;
}

KernelNodes kernelNodesOf(ModuleOp module, KernelNameOf kernelOf,
                          KernelNameOf calleeOf) {
  std::map<std::string, std::set<size_t>> nodes;
  std::vector<std::string> order;
  auto add = [&](llvm::StringRef kernel, Location loc) {
    auto [it, inserted] = nodes.try_emplace(kernel.str());
    if (inserted)
      order.push_back(kernel.str());
    if (std::optional<size_t> tag = kernelNodeTag(loc))
      it->second.insert(*tag);
  };
  module->walk<WalkOrder::PreOrder>([&](Operation *op) {
    std::optional<llvm::StringRef> kernel = kernelOf(op);
    if (!kernel)
      return WalkResult::advance();
    op->walk([&](Operation *inner) { add(*kernel, inner->getLoc()); });
    return WalkResult::skip();
  });
  module.walk([&](Operation *op) {
    if (std::optional<llvm::StringRef> kernel = calleeOf(op))
      add(*kernel, op->getLoc());
  });
  KernelNodes result;
  for (const std::string &kernel : order)
    result.push_back({kernel, {nodes[kernel].begin(), nodes[kernel].end()}});
  return result;
}

OwningOpRef<ModuleOp> emitGraphForCompile(MLIRContext *ctx, const GraphPlan &plan,
                                          const DiagnosticCollector &diagnostics,
                                          std::string *error, bool reshapeGroups,
                                          bool tagNodes) {
  OwningOpRef<ModuleOp> module = emitGraph(ctx, plan, error, reshapeGroups, tagNodes);
  if (!module) {
    *error += "\n" + diagnostics.text();
    return nullptr;
  }
  if (failed(verify(*module))) {
    *error = "internal error: the traced graph does not verify:\n" + diagnostics.text();
    return nullptr;
  }
  if (debugEnabled(DebugTopic::Graphs))
    module->print(llvm::errs());
  return module;
}

OwningOpRef<ModuleOp> emitExportedGraph(MLIRContext *ctx, const GraphPlan &plan,
                                        const ExportSignature &signature,
                                        std::string *error) {
  return Emitter(ctx, plan).emitExport(signature, error);
}

} // namespace ember
