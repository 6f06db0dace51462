//===- FuseMatmulEpilogue.cpp - fold bias/activation/residual into the GEMM ===//
//
// After ember-matmul-to-blas: an f32 product C = A * B (a call to
// ember_cpu_sgemm[_batched]_into) whose C is a temporary read by exactly one
// element-wise linalg.generic computing
//
//   D = act(C + bias) + residual      (each part optional)
//   D = act(C + bias + residual)      (the residual before the activation)
//
// becomes one call to ember_cpu_sgemm[_batched]_fused writing D directly:
// the runtime's GEMM finishes each block of D while it is in cache
// (runtime/include/ember/Runtime/GemmEpilogue.h) instead of the generic
// reading C and writing D in another pass over memory, and C's buffer goes.
// Bias and residual are any f32 inputs of the generic whose indexing maps
// only drop or zero dims (broadcasts); they reach the runtime as views of
// D's shape with stride 0 along broadcast dims. The activations recognized
// are the bodies Ember's ops lower to: relu (maximumf), tanh, sigmoid
// (1 / (1 + exp(-x))), silu (x * sigmoid(x)), the erf form of gelu,
// hardswish (x * clamp(x + 3, 0, 6) / 6) and hardsigmoid. The recognizer
// and the memory checks are shared with ember-fuse-conv-epilogue
// (EpilogueMatch.h).
//
//===----------------------------------------------------------------------===//

#include "EpilogueMatch.h"
#include "ember/Compiler/Passes.h"
#include "ember/Runtime/CpuGemm.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#include <cmath>
#include <variant>

namespace ember {
#define GEN_PASS_DEF_EMBERFUSEMATMULEPILOGUE
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;
using namespace ember::epilogue;

namespace ember {
namespace epilogue {

//===----------------------------------------------------------------------===//
// Recognizing the generic's body
//===----------------------------------------------------------------------===//

/// True when `value` is an f32 constant within f32 rounding of `expected`.
bool isConstant(Value value, double expected) {
  auto constant = value.getDefiningOp<arith::ConstantOp>();
  auto attr = constant ? dyn_cast<FloatAttr>(constant.getValue()) : FloatAttr();
  if (!attr)
    return false;
  double actual = attr.getValueAsDouble();
  return std::fabs(actual - expected) <= 1e-6 * std::fabs(expected) ||
         (expected == 0 && actual == 0);
}

/// `value` as op(lhs, rhs) with the operands in either order: calls
/// `match(first, second)` for both orders until it returns true.
template <typename OpTy, typename Fn>
bool matchCommutative(Value value, Fn match) {
  auto op = value.getDefiningOp<OpTy>();
  if (!op)
    return false;
  return match(op.getLhs(), op.getRhs()) || match(op.getRhs(), op.getLhs());
}

/// The factors of a tree of arith.mulf: the non-mulf leaves, and the
/// product of the constant ones.
void mulFactors(Value value, SmallVectorImpl<Value> &leaves, double &scale) {
  if (auto mul = value.getDefiningOp<arith::MulFOp>()) {
    mulFactors(mul.getLhs(), leaves, scale);
    mulFactors(mul.getRhs(), leaves, scale);
    return;
  }
  auto constant = value.getDefiningOp<arith::ConstantOp>();
  if (auto attr = constant ? dyn_cast<FloatAttr>(constant.getValue())
                           : FloatAttr()) {
    scale *= attr.getValueAsDouble();
    return;
  }
  leaves.push_back(value);
}

bool isScale(double scale, double expected) {
  return std::fabs(scale - expected) <= 1e-6 * std::fabs(expected);
}

/// 1 / (1 + exp(-x)): sets `x`.
bool matchSigmoid(Value value, Value &x) {
  auto div = value.getDefiningOp<arith::DivFOp>();
  if (!div || !isConstant(div.getLhs(), 1.0))
    return false;
  return matchCommutative<arith::AddFOp>(div.getRhs(), [&](Value one, Value e) {
    auto exp = e.getDefiningOp<math::ExpOp>();
    auto neg = exp ? exp.getOperand().getDefiningOp<arith::NegFOp>()
                   : arith::NegFOp();
    if (!isConstant(one, 1.0) || !neg)
      return false;
    x = neg.getOperand();
    return true;
  });
}

/// 0.5 * x * (1 + erf(x * sqrt(1/2))) in any association: sets `x`.
bool matchGeluErf(Value value, Value &x) {
  SmallVector<Value> leaves;
  double scale = 1;
  mulFactors(value, leaves, scale);
  if (leaves.size() != 2 || !isScale(scale, 0.5))
    return false;
  for (int i = 0; i < 2; ++i) {
    Value candidate = leaves[i], other = leaves[1 - i];
    bool matched = matchCommutative<arith::AddFOp>(other, [&](Value one,
                                                              Value e) {
      auto erf = e.getDefiningOp<math::ErfOp>();
      if (!isConstant(one, 1.0) || !erf)
        return false;
      SmallVector<Value> inner;
      double innerScale = 1;
      mulFactors(erf.getOperand(), inner, innerScale);
      return inner.size() == 1 && inner[0] == candidate &&
             isScale(innerScale, M_SQRT1_2);
    });
    if (matched) {
      x = candidate;
      return true;
    }
  }
  return false;
}

/// min(max(inner, lo), hi) with constant bounds (ember.clamp's order):
/// sets `inner`.
bool matchClamp(Value value, double lo, double hi, Value &inner) {
  return matchCommutative<arith::MinimumFOp>(value, [&](Value max, Value top) {
    return isConstant(top, hi) &&
           matchCommutative<arith::MaximumFOp>(max, [&](Value in, Value bottom) {
             if (!isConstant(bottom, lo))
               return false;
             inner = in;
             return true;
           });
  });
}

/// value / 6 or value * (1/6): sets `value`.
bool matchSixth(Value value, Value &dividend) {
  if (auto div = value.getDefiningOp<arith::DivFOp>()) {
    if (!isConstant(div.getRhs(), 6.0))
      return false;
    dividend = div.getLhs();
    return true;
  }
  return matchCommutative<arith::MulFOp>(value, [&](Value lhs, Value rhs) {
    if (!isConstant(rhs, 1.0 / 6.0))
      return false;
    dividend = lhs;
    return true;
  });
}

/// clamp(x + 3, 0, 6): sets `x`.
bool matchRelu6OfXPlus3(Value value, Value &x) {
  Value inner;
  return matchClamp(value, 0.0, 6.0, inner) &&
         matchCommutative<arith::AddFOp>(inner, [&](Value lhs, Value rhs) {
           if (!isConstant(rhs, 3.0))
             return false;
           x = lhs;
           return true;
         });
}

/// hardsigmoid as clamp(x / 6 + 1/2, 0, 1) (Ember's) or clamp(x + 3, 0,
/// 6) / 6: sets `x`.
bool matchHardSigmoid(Value value, Value &x) {
  Value inner;
  if (matchClamp(value, 0.0, 1.0, inner))
    return matchCommutative<arith::AddFOp>(inner, [&](Value lhs, Value rhs) {
      return isConstant(rhs, 0.5) && matchSixth(lhs, x);
    });
  Value clamped;
  return matchSixth(value, clamped) && matchRelu6OfXPlus3(clamped, x);
}

/// hardswish as x * clamp(x + 3, 0, 6) / 6 (Ember's) or x * hardsigmoid(x):
/// sets `x`.
bool matchHardSwish(Value value, Value &x) {
  Value product;
  if (matchSixth(value, product) &&
      matchCommutative<arith::MulFOp>(product, [&](Value lhs, Value rhs) {
        Value inner;
        if (!matchRelu6OfXPlus3(rhs, inner) || inner != lhs)
          return false;
        x = lhs;
        return true;
      }))
    return true;
  return matchCommutative<arith::MulFOp>(value, [&](Value lhs, Value rhs) {
    Value inner;
    if (!matchHardSigmoid(rhs, inner) || inner != lhs)
      return false;
    x = lhs;
    return true;
  });
}

/// act(x) for one of the activations the runtime applies: sets `x` and
/// returns the ember_gemm_activation, or EMBER_GEMM_ACT_NONE.
int matchActivation(Value value, Value &x) {
  if (matchHardSwish(value, x))
    return EMBER_GEMM_ACT_HARDSWISH;
  if (matchHardSigmoid(value, x))
    return EMBER_GEMM_ACT_HARDSIGMOID;
  if (auto max = value.getDefiningOp<arith::MaximumFOp>()) {
    if (isConstant(max.getRhs(), 0.0)) {
      x = max.getLhs();
      return EMBER_GEMM_ACT_RELU;
    }
    if (isConstant(max.getLhs(), 0.0)) {
      x = max.getRhs();
      return EMBER_GEMM_ACT_RELU;
    }
  }
  if (auto tanh = value.getDefiningOp<math::TanhOp>()) {
    x = tanh.getOperand();
    return EMBER_GEMM_ACT_TANH;
  }
  if (matchSigmoid(value, x))
    return EMBER_GEMM_ACT_SIGMOID;
  if (matchCommutative<arith::MulFOp>(value, [&](Value lhs, Value rhs) {
        Value inner;
        if (!matchSigmoid(rhs, inner) || inner != lhs)
          return false;
        x = lhs;
        return true;
      }))
    return EMBER_GEMM_ACT_SILU;
  if (matchGeluErf(value, x))
    return EMBER_GEMM_ACT_GELU_ERF;
  return EMBER_GEMM_ACT_NONE;
}

/// The leaves of a tree of arith.addf.
void addTerms(Value value, SmallVectorImpl<Value> &terms) {
  if (auto add = value.getDefiningOp<arith::AddFOp>()) {
    addTerms(add.getLhs(), terms);
    addTerms(add.getRhs(), terms);
    return;
  }
  terms.push_back(value);
}

std::optional<Epilogue> matchBody(linalg::GenericOp generic, unsigned cInput) {
  auto yield = cast<linalg::YieldOp>(generic.getRegion().front().getTerminator());
  return matchEpilogueValue(generic, cInput, yield.getValues()[0]);
}

std::optional<Epilogue> matchEpilogueValue(linalg::GenericOp generic,
                                           unsigned cInput, Value result) {
  Block &body = generic.getRegion().front();
  unsigned inputs = generic.getNumDpsInputs();
  Value c = body.getArgument(cInput);
  auto addendInput = [&](Value value) -> int {
    auto arg = dyn_cast<BlockArgument>(value);
    if (!arg || arg.getOwner() != &body || arg.getArgNumber() >= inputs ||
        arg.getArgNumber() == cInput)
      return -1;
    return arg.getArgNumber();
  };
  // C plus at most `most` addends, in any association: sets bias (the
  // first) and residual (the second).
  auto matchSum = [&](Value value, unsigned most, Epilogue &epilogue) {
    SmallVector<Value> terms;
    addTerms(value, terms);
    if (terms.size() > most + 1 || llvm::count(terms, c) != 1)
      return false;
    SmallVector<int> addends;
    for (Value term : terms) {
      if (term == c)
        continue;
      int input = addendInput(term);
      if (input < 0)
        return false;
      addends.push_back(input);
    }
    epilogue.biasInput = addends.size() > 0 ? addends[0] : -1;
    epilogue.residualInput = addends.size() > 1 ? addends[1] : -1;
    return true;
  };
  // act(C + bias [+ residual]), or C + bias (+ residual, when `most` is 2).
  auto matchActivated = [&](Value value, unsigned most, Epilogue &epilogue) {
    Value x;
    int activation = matchActivation(value, x);
    if (activation != EMBER_GEMM_ACT_NONE && matchSum(x, most, epilogue)) {
      epilogue.activation = activation;
      epilogue.residualFirst = epilogue.residualInput >= 0;
      return true;
    }
    epilogue = Epilogue();
    return matchSum(value, most, epilogue);
  };
  Epilogue epilogue;
  // act(C + bias) + residual.
  if (matchCommutative<arith::AddFOp>(result, [&](Value lhs, Value rhs) {
        int residual = addendInput(rhs);
        if (residual < 0 || !matchActivated(lhs, 1, epilogue) ||
            epilogue.residualInput >= 0)
          return false;
        epilogue.residualInput = residual;
        return true;
      }))
    return epilogue;
  // act(C + bias + residual), act(C + bias), C + bias + residual...
  epilogue = Epilogue();
  if (matchActivated(result, 2, epilogue))
    return epilogue;
  return std::nullopt;
}

//===----------------------------------------------------------------------===//
// Memory safety
//===----------------------------------------------------------------------===//

/// The buffer a view was taken of (through subviews, casts, transposes).
Value rootOf(Value value) {
  while (Operation *op = value.getDefiningOp()) {
    if (auto view = dyn_cast<ViewLikeOpInterface>(op))
      value = view.getViewSource();
    else if (auto transpose = dyn_cast<memref::TransposeOp>(op))
      value = transpose.getIn();
    else
      break;
  }
  return value;
}

/// Distinct allocations and distinct function arguments are distinct
/// buffers (the caller's outputs never overlap its inputs: the GEMM already
/// writes outputs in place); anything else may overlap.
std::optional<MatchedEpilogue> matchEpilogueOf(linalg::GenericOp generic, Value c) {
  Block &body = generic.getRegion().front();
  if (!body.getArguments().back().use_empty())
    return std::nullopt;
  int cInput = -1;
  for (OpOperand *input : generic.getDpsInputOperands()) {
    if (input->get() != c)
      continue;
    if (cInput >= 0 || !generic.getMatchingIndexingMap(input).isIdentity())
      return std::nullopt;
    cInput = input->getOperandNumber();
  }
  if (cInput < 0)
    return std::nullopt;
  std::optional<Epilogue> epilogue = matchBody(generic, cInput);
  if (!epilogue)
    return std::nullopt;
  auto addend = [&](int input) -> OpOperand * {
    return input < 0 ? nullptr : generic.getDpsInputOperand(input);
  };
  MatchedEpilogue matched{*epilogue, addend(epilogue->biasInput),
                          addend(epilogue->residualInput)};
  for (OpOperand *operand : {matched.bias, matched.residual}) {
    if (!operand)
      continue;
    auto type = dyn_cast<MemRefType>(operand->get().getType());
    if (!type || !type.getElementType().isF32())
      return std::nullopt;
  }
  return matched;
}

Value stripCast(Value value) {
  auto cast = value.getDefiningOp<memref::CastOp>();
  return cast ? cast.getSource() : value;
}

bool mayOverlap(Value a, Value b) {
  Value rootA = rootOf(a), rootB = rootOf(b);
  if (rootA == rootB)
    return true;
  auto known = [](Value root) {
    return isa<BlockArgument>(root) ||
           isa_and_nonnull<memref::AllocOp, memref::AllocaOp>(
               root.getDefiningOp());
  };
  return !known(rootA) || !known(rootB);
}

/// True when no op strictly between `from` and `to` (same block) may write
/// a buffer overlapping one of `values`.
bool unwrittenBetween(Operation *from, Operation *to, ArrayRef<Value> values) {
  for (Operation *op = from->getNextNode(); op != to; op = op->getNextNode()) {
    if (isMemoryEffectFree(op) || isa<memref::AllocOp, memref::AllocaOp>(op))
      continue;
    SmallVector<Value> written;
    if (auto effects = dyn_cast<MemoryEffectOpInterface>(op)) {
      SmallVector<MemoryEffects::EffectInstance> instances;
      effects.getEffects(instances);
      for (const MemoryEffects::EffectInstance &effect : instances) {
        if (!isa<MemoryEffects::Write, MemoryEffects::Free>(effect.getEffect()))
          continue;
        if (!effect.getValue())
          return false;
        written.push_back(effect.getValue());
      }
    } else if (auto call = dyn_cast<func::CallOp>(op);
             call && call.getCallee().starts_with("ember_cpu_") &&
             call.getNumOperands() >= 3)
      written.push_back(call.getOperand(2)); // the runtime GEMMs write C
    else
      return false;
    for (Value target : written)
      for (Value value : values)
        if (mayOverlap(target, value))
          return false;
  }
  return true;
}

bool isBroadcastMap(AffineMap map) {
  llvm::SmallBitVector seen(map.getNumDims());
  for (AffineExpr expr : map.getResults()) {
    if (auto dim = dyn_cast<AffineDimExpr>(expr)) {
      if (seen.test(dim.getPosition()))
        return false;
      seen.set(dim.getPosition());
      continue;
    }
    auto constant = dyn_cast<AffineConstantExpr>(expr);
    if (!constant || constant.getValue() != 0)
      return false;
  }
  return true;
}

} // namespace epilogue
} // namespace ember

namespace {

//===----------------------------------------------------------------------===//
// The rewrite
//===----------------------------------------------------------------------===//

MemRefType anyStridedType(MLIRContext *ctx, int64_t rank) {
  SmallVector<int64_t> shape(rank, ShapedType::kDynamic);
  SmallVector<int64_t> strides(rank, ShapedType::kDynamic);
  auto layout = StridedLayoutAttr::get(ctx, ShapedType::kDynamic, strides);
  return MemRefType::get(shape, Float32Type::get(ctx), layout);
}

/// A size known at compile time: a constant or the SSA value it was
/// allocated or reshaped with.
using KnownSize = std::variant<std::monostate, int64_t, Value>;

KnownSize knownSize(Value memref, int64_t dim) {
  auto type = cast<MemRefType>(memref.getType());
  if (!type.isDynamicDim(dim))
    return type.getDimSize(dim);
  Operation *op = memref.getDefiningOp();
  if (auto alloc = dyn_cast_or_null<memref::AllocOp>(op))
    return Value(alloc.getDynamicSizes()[type.getDynamicDimIndex(dim)]);
  if (auto expand = dyn_cast_or_null<memref::ExpandShapeOp>(op)) {
    OpFoldResult size = expand.getMixedOutputShape()[dim];
    if (auto value = dyn_cast<Value>(size))
      return value;
    return KnownSize();
  }
  if (auto reshape = dyn_cast_or_null<memref::ReshapeOp>(op)) {
    // The shape buffer's one store at index `dim`.
    Value stored;
    for (Operation *user : reshape.getShape().getUsers()) {
      auto store = dyn_cast<memref::StoreOp>(user);
      if (!store || store.getMemRef() != reshape.getShape())
        continue;
      auto index = getConstantIntValue(store.getIndices()[0]);
      if (!index || *index != dim)
        continue;
      if (stored)
        return KnownSize();
      stored = store.getValueToStore();
    }
    if (!stored)
      return KnownSize();
    if (auto cast = stored.getDefiningOp<arith::IndexCastOp>())
      stored = cast.getIn();
    if (auto constant = getConstantIntValue(stored))
      return *constant;
    return stored;
  }
  return KnownSize();
}

bool sameKnownSize(const KnownSize &a, const KnownSize &b) {
  return !std::holds_alternative<std::monostate>(a) && a == b;
}

/// `operand`, read through `map` over the generic's iteration space, as a
/// view of C's shape `sizes`: the generic's first `lead` dims are C's
/// first dim (C read through a reshape that split it), the others C's
/// others one to one. Stride 0 along dims the operand does not have.
/// The operand must be viewable().
SmallVector<int> resultsOfDims(AffineMap map) {
  SmallVector<int> resultOf(map.getNumDims(), -1);
  for (auto [i, expr] : llvm::enumerate(map.getResults()))
    if (auto dim = dyn_cast<AffineDimExpr>(expr))
      resultOf[dim.getPosition()] = i;
  return resultOf;
}

/// Whether broadcastView can read an operand of `type` through `map`: the
/// leading dims are all absent from it (broadcast) or are its own leading
/// dims, contiguous (identity map and layout).
bool viewable(AffineMap map, int64_t lead, MemRefType type) {
  if (!isBroadcastMap(map))
    return false;
  if (lead == 1)
    return true;
  SmallVector<int> resultOf = resultsOfDims(map);
  bool leadAbsent = llvm::all_of(llvm::ArrayRef(resultOf).take_front(lead),
                                 [](int r) { return r < 0; });
  return leadAbsent || (map.isIdentity() && type.getLayout().isIdentity());
}

Value broadcastView(OpBuilder &b, Location loc, Value operand, AffineMap map,
                    int64_t lead, ArrayRef<OpFoldResult> sizes) {
  int64_t loops = map.getNumDims();
  SmallVector<int> resultOf = resultsOfDims(map);
  auto metadata = memref::ExtractStridedMetadataOp::create(b, loc, operand);
  SmallVector<OpFoldResult> strides;
  auto strideOf = [&](int64_t d) -> OpFoldResult {
    if (resultOf[d] < 0)
      return b.getIndexAttr(0);
    return metadata.getStrides()[resultOf[d]];
  };
  strides.push_back(strideOf(lead - 1));
  for (int64_t d = lead; d < loops; ++d)
    strides.push_back(strideOf(d));
  MemRefType viewType = anyStridedType(b.getContext(), sizes.size());
  return memref::ReinterpretCastOp::create(
      b, loc, viewType, metadata.getBaseBuffer(),
      OpFoldResult(metadata.getOffset()), sizes, strides);
}

func::FuncOp declareFused(ModuleOp module, StringRef name, int64_t rank) {
  if (auto existing = module.lookupSymbol<func::FuncOp>(name))
    return existing;
  OpBuilder builder(module.getBodyRegion());
  MemRefType type = anyStridedType(module.getContext(), rank);
  auto funcType = builder.getFunctionType(
      {type, type, type, type, type, builder.getI64Type()}, {});
  auto func = func::FuncOp::create(builder, module.getLoc(), name, funcType);
  func.setPrivate();
  return func;
}

/// The linalg.fill of 0 that is the only other user of `buffer` before
/// `call` in its block, or null.
linalg::FillOp zeroFillBefore(Value buffer, func::CallOp call) {
  linalg::FillOp found;
  for (Operation *user : buffer.getUsers()) {
    auto fill = dyn_cast<linalg::FillOp>(user);
    if (!fill || fill->getBlock() != call->getBlock() ||
        !fill->isBeforeInBlock(call))
      continue;
    if (found || !isConstant(fill.value(), 0.0))
      return {};
    found = fill;
  }
  return found;
}

/// Fuses the generic reading `call`'s C into the call; false when it does
/// not apply. An `accumulating` call (C += A * B) qualifies when C was only
/// zero-filled before it (a zero init the matmuls of one input share).
bool fuseEpilogue(func::CallOp call, bool batched, bool accumulating) {
  int64_t rank = batched ? 3 : 2;
  auto cCast = call.getOperand(2).getDefiningOp<memref::CastOp>();
  if (!cCast || !cCast->hasOneUse())
    return false;
  Value cBuffer = cCast.getSource();
  if (!cBuffer.getDefiningOp<memref::AllocOp>())
    return false;
  linalg::FillOp zeroFill;
  if (accumulating && !(zeroFill = zeroFillBefore(cBuffer, call)))
    return false;
  // C is a temporary read by one element-wise op after the call, directly
  // or through a reshape that splits its first dim (a matmul of 3-D
  // activations, a batched one over two batch dims), and casts around it
  // (dynamic shapes). Other readers may only come after that op, when it
  // writes C in place: they read its result.
  Block *block = call->getBlock();
  Value cRead = cBuffer;
  Operation *reshape = nullptr;
  SmallVector<Operation *> views; // cBuffer -> cRead, in order
  auto usersOf = [&](Value value) {
    SmallVector<Operation *> users;
    for (Operation *user : value.getUsers())
      if (user != cCast && user != zeroFill && !llvm::is_contained(users, user))
        users.push_back(user);
    return users;
  };
  SmallVector<Operation *> users = usersOf(cBuffer);
  while (users.size() == 1 && users[0]->getBlock() == block &&
         (isa<memref::CastOp>(users[0]) ||
          (!reshape &&
           isa<memref::ReshapeOp, memref::ExpandShapeOp>(users[0])))) {
    if (!isa<memref::CastOp>(users[0]))
      reshape = users[0];
    views.push_back(users[0]);
    cRead = users[0]->getResult(0);
    users = usersOf(cRead);
  }
  linalg::GenericOp generic;
  for (Operation *user : users) {
    auto candidate = dyn_cast<linalg::GenericOp>(user);
    if (candidate && candidate->getBlock() == block &&
        call->isBeforeInBlock(candidate) &&
        (!generic || candidate->isBeforeInBlock(generic)))
      generic = candidate;
  }
  if (!generic)
    return false;
  bool inPlace = generic.getNumDpsInits() == 1 &&
                 generic.getDpsInits()[0] == cRead;
  for (Operation *user : users) {
    if (user == generic)
      continue;
    Operation *ancestor = block->findAncestorOpInBlock(*user);
    if (!inPlace || !ancestor || !generic->isBeforeInBlock(ancestor))
      return false;
  }
  int64_t loops = generic.getNumLoops();
  if (generic.getNumDpsInits() != 1 ||
      generic.getNumParallelLoops() != loops || loops < rank ||
      (!reshape && loops != rank) ||
      cast<MemRefType>(cRead.getType()).getRank() != loops)
    return false;
  // The generic's first `lead` dims make C's first; its others must be
  // C's others (the reshape only split C's first dim).
  int64_t lead = loops - rank + 1;
  for (int64_t k = 1; k < rank; ++k)
    if (!sameKnownSize(knownSize(cRead, lead - 1 + k), knownSize(cBuffer, k)))
      return false;
  Value d = generic.getDpsInits()[0];
  auto dType = dyn_cast<MemRefType>(d.getType());
  if (!dType || !dType.getElementType().isF32() ||
      !generic.getMatchingIndexingMap(generic.getDpsInitOperand(0))
           .isIdentity())
    return false;
  if (lead > 1 && !inPlace && !dType.getLayout().isIdentity())
    return false;
  // The body reads D only when D is C (in place): its own argument unused.
  std::optional<MatchedEpilogue> matched = matchEpilogueOf(generic, cRead);
  if (!matched)
    return false;
  std::optional<Epilogue> epilogue = matched->epilogue;
  OpOperand *bias = matched->bias, *residual = matched->residual;
  for (OpOperand *operand : {bias, residual})
    if (operand && !viewable(generic.getMatchingIndexingMap(operand), lead,
                             cast<MemRefType>(operand->get().getType())))
      return false;
  // The GEMM writes D while it reads A and B, and before it reads the
  // bias: none may overlap D. A residual that is D itself (an in-place
  // add) becomes C += A * B when nothing comes after the add.
  Value a = stripCast(call.getOperand(0)), bMatrix = stripCast(call.getOperand(1));
  if ((!inPlace && (mayOverlap(d, a) || mayOverlap(d, bMatrix))) ||
      (bias && mayOverlap(d, bias->get())))
    return false;
  bool accumulate = false;
  if (residual && mayOverlap(d, residual->get())) {
    if (residual->get() != d || epilogue->activation != EMBER_GEMM_ACT_NONE ||
        !generic.getMatchingIndexingMap(residual).isIdentity())
      return false;
    accumulate = true;
    residual = nullptr;
  }
  // The call moves down to the generic: A and B must still hold the same
  // values there.
  if (!unwrittenBetween(call, generic, {a, bMatrix}))
    return false;

  OpBuilder b(generic);
  Location loc = generic.getLoc();
  // D as C's shape: C itself when written in place, else D with its
  // leading dims collapsed (an identity layout, so always possible).
  Value dMatrix = d;
  if (inPlace) {
    dMatrix = cBuffer;
  } else if (lead > 1) {
    SmallVector<ReassociationIndices> groups(1);
    for (int64_t i = 0; i < lead; ++i)
      groups[0].push_back(i);
    for (int64_t i = lead; i < loops; ++i)
      groups.push_back({i});
    dMatrix = memref::CollapseShapeOp::create(b, loc, d, groups);
  }
  // C's sizes read from D, so that nothing reads C's buffer any more.
  SmallVector<OpFoldResult> sizes;
  for (int64_t i = 0; i < rank; ++i)
    sizes.push_back(memref::getMixedSize(b, loc, dMatrix, i));
  MemRefType argType = anyStridedType(b.getContext(), rank);
  Value dArg = memref::CastOp::create(b, loc, argType, dMatrix);
  SmallVector<Value> addends;
  for (OpOperand *operand : {bias, residual}) {
    if (!operand) {
      addends.push_back(dArg); // not read: the flags leave it out
      continue;
    }
    Value view = broadcastView(b, loc, operand->get(),
                               generic.getMatchingIndexingMap(operand), lead,
                               sizes);
    addends.push_back(view);
  }
  int64_t flags = epilogue->activation | (bias ? EMBER_GEMM_FUSED_BIAS : 0) |
                  (residual ? EMBER_GEMM_FUSED_RESIDUAL : 0) |
                  (residual && epilogue->residualFirst
                       ? EMBER_GEMM_FUSED_RESIDUAL_FIRST
                       : 0) |
                  (accumulate ? EMBER_GEMM_FUSED_ACCUMULATE : 0);
  Value biasArg = addends[0], residualArg = addends[1];
  Value flagsArg = arith::ConstantIntOp::create(b, loc, flags, 64);
  StringRef name =
      batched ? "ember_cpu_sgemm_batched_fused" : "ember_cpu_sgemm_fused";
  func::FuncOp callee =
      declareFused(call->getParentOfType<ModuleOp>(), name, rank);
  func::CallOp::create(b, loc, callee,
                       ValueRange{call.getOperand(0), call.getOperand(1),
                                  dArg, biasArg, residualArg, flagsArg});
  generic->erase();
  call->erase();
  cCast->erase();
  for (Operation *view : llvm::reverse(views))
    if (view->use_empty())
      view->erase();
  if (zeroFill && cBuffer.hasOneUse())
    zeroFill->erase();
  if (cBuffer.use_empty())
    cBuffer.getDefiningOp()->erase();
  return true;
}

struct EmberFuseMatmulEpiloguePass
    : ember::impl::EmberFuseMatmulEpilogueBase<EmberFuseMatmulEpiloguePass> {
  void runOnOperation() override {
    SmallVector<std::tuple<func::CallOp, bool, bool>> calls;
    getOperation().walk([&](func::CallOp call) {
      StringRef callee = call.getCallee();
      if (callee == "ember_cpu_sgemm_into")
        calls.push_back({call, false, false});
      else if (callee == "ember_cpu_sgemm_batched_into")
        calls.push_back({call, true, false});
      else if (callee == "ember_cpu_sgemm")
        calls.push_back({call, false, true});
      else if (callee == "ember_cpu_sgemm_batched")
        calls.push_back({call, true, true});
    });
    for (auto [call, batched, accumulating] : calls)
      if (fuseEpilogue(call, batched, accumulating))
        ++numFused;
  }
};

} // namespace
