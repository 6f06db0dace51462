//===- FuseConvEpilogue.cpp - fold bias/activation/residual into the conv -===//
//
// After bufferization: a call ember_cpu_conv_f32(x, w, y) (from
// ember-conv-to-runtime) whose y is a temporary read by exactly one
// element-wise linalg.generic computing
//
//   D = act(y + bias) + residual   or   D = act(y + bias + residual)
//
// becomes one call to ember_cpu_conv_fused_f32 writing D directly: the
// runtime finishes each block of D right after the GEMM (or the direct
// depthwise kernel) wrote it, while it is in cache, instead of the generic
// reading y and writing D in another pass over memory; y's buffer goes.
// This is what makes an imported CNN's conv + bias + relu (BatchNorm folded
// into the conv at export) and a ResNet block's relu(conv + bias +
// shortcut) one call. The body is recognized by EpilogueMatch.h (shared
// with ember-fuse-matmul-epilogue). The generic reads y through the
// collapse that drops the 5-D call's unit dims; D, bias and residual reach
// the runtime as 5-D views of D's shape (stride 0 along broadcast dims,
// unit dims in front of the spatial ones).
//
// A y the generic reads through a broadcast (a squeeze-and-excitation
// block's hardsigmoid(y + bias) * x, y [N, C, 1, 1]) cannot become D; the
// part of the body that is act(y + bias) moves into the call instead,
// which writes it into y's buffer, and the generic only multiplies (the
// activation ran once per element of D before).
//
// A squeeze-and-excitation block's pool over a fused call's D (sum, then
// divide by the pixel count) becomes part of the call too (fuseMean): the
// depthwise kernel sums each plane in registers as it stores it.
//
// A squeeze-and-excitation block's end x * s (s per image and channel)
// that only a convolution reads becomes part of that call too
// (fuseInputScale, ember_cpu_conv_fused_scaled_f32): a 1x1 convolution
// scales x in registers while it packs it, so x * s is never written.
//
// A convolution whose result only the next convolution, a depthwise one,
// reads calls ember_cpu_conv_fused_then_f32 (deferIntoNext): the runtime
// may run the two image by image, the first one's output in a per-thread
// buffer instead of memory (mobilenet's stem and expanding 1x1 convs).
//
// And two more: a generic reading two convolutions' results
// (a downsampling ResNet block) lets one of them take its bias first
// (peelBias), so the other fuses the rest; and a result only copied into
// the caller's output buffer is written there directly (writeDirect).
//
//===----------------------------------------------------------------------===//

#include "EpilogueMatch.h"
#include "ember/Compiler/Passes.h"
#include "ember/Runtime/CpuGemm.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SetVector.h"

namespace ember {
#define GEN_PASS_DEF_EMBERFUSECONVEPILOGUE
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;
using namespace ember::epilogue;

namespace {

constexpr int64_t kRank = 5;
/// ember_cpu_conv_f32's operands: x, w, y, then stride, padding and
/// dilation per dim and groups.
constexpr unsigned kConvOperands = 3 + 10;

MemRefType anyStrided5(MLIRContext *ctx) {
  SmallVector<int64_t> shape(kRank, ShapedType::kDynamic);
  SmallVector<int64_t> strides(kRank, ShapedType::kDynamic);
  return MemRefType::get(
      shape, Float32Type::get(ctx),
      StridedLayoutAttr::get(ctx, ShapedType::kDynamic, strides));
}

/// `value`'s sizes as 5-D: unit dims in front of its spatial ones (dims 2
/// on), as the runtime's 5-D views take them.
SmallVector<OpFoldResult> sizes5(OpBuilder &b, Location loc, Value value) {
  int64_t rank = cast<MemRefType>(value.getType()).getRank();
  SmallVector<OpFoldResult> sizes;
  for (int64_t i = 0; i < rank; ++i) {
    if (i == 2)
      for (int64_t u = 0; u < kRank - rank; ++u)
        sizes.push_back(b.getIndexAttr(1));
    sizes.push_back(memref::getMixedSize(b, loc, value, i));
  }
  return sizes;
}

/// `operand` (read through `map` over the generic's `loops`-dim iteration
/// space, D's shape) as a 5-D view of D's 5-D shape `sizes`: loop dims 0
/// and 1 are dims 0 and 1, the spatial loops the last ones, the unit dims
/// between them and the dims the operand lacks have stride 0.
Value view5(OpBuilder &b, Location loc, Value operand, AffineMap map,
            ArrayRef<OpFoldResult> sizes) {
  int64_t loops = map.getNumDims();
  SmallVector<int> resultOf(loops, -1);
  for (auto [i, expr] : llvm::enumerate(map.getResults()))
    if (auto dim = dyn_cast<AffineDimExpr>(expr))
      resultOf[dim.getPosition()] = i;
  auto metadata = memref::ExtractStridedMetadataOp::create(b, loc, operand);
  SmallVector<OpFoldResult> strides;
  auto strideOf = [&](int64_t d) -> OpFoldResult {
    if (resultOf[d] < 0)
      return b.getIndexAttr(0);
    return metadata.getStrides()[resultOf[d]];
  };
  strides.push_back(strideOf(0));
  strides.push_back(strideOf(1));
  for (int64_t u = 0; u < kRank - loops; ++u)
    strides.push_back(b.getIndexAttr(0));
  for (int64_t d = 2; d < loops; ++d)
    strides.push_back(strideOf(d));
  return memref::ReinterpretCastOp::create(
      b, loc, anyStrided5(b.getContext()), metadata.getBaseBuffer(),
      OpFoldResult(metadata.getOffset()), sizes, strides);
}

/// The private declaration of a fused conv entry `name` taking `views`
/// 5-D views, then the conv's scalars and the flags (found if present).
func::FuncOp declareFusedEntry(ModuleOp module, StringRef name,
                               unsigned views) {
  if (auto existing = module.lookupSymbol<func::FuncOp>(name))
    return existing;
  OpBuilder builder(module.getBodyRegion());
  MemRefType type = anyStrided5(module.getContext());
  SmallVector<Type> inputs(views, type);
  inputs.append(11, builder.getI64Type()); // the conv's scalars, the flags
  auto func = func::FuncOp::create(builder, module.getLoc(), name,
                                   builder.getFunctionType(inputs, {}));
  func.setPrivate();
  return func;
}

func::FuncOp declareFused(ModuleOp module) {
  return declareFusedEntry(module, "ember_cpu_conv_fused_f32", 5);
}

/// The one user of `value` other than `except`, or null.
Operation *soleUser(Value value, Operation *except) {
  Operation *found = nullptr;
  for (Operation *user : value.getUsers()) {
    if (user == except || user == found)
      continue;
    if (found)
      return nullptr;
    found = user;
  }
  return found;
}

/// A convolution's temporary result and the one generic that reads it.
struct ConvResult {
  func::CallOp call;
  memref::CastOp yCast;   // the call's y operand
  Value yBuffer;          // its allocation
  SmallVector<Operation *> views; // collapse/casts from yBuffer to yRead
  Value yRead;            // what the reader reads
  Operation *reader;      // y's one reader, after the call
  linalg::GenericOp generic; // the reader when it is a generic
};

/// `call`'s y when it is a temporary that one op after the call reads
/// (directly for 3-D convolutions, else through the collapse of its unit
/// dims and casts, each view read once).
std::optional<ConvResult> convResultOf(func::CallOp call) {
  if (call.getNumOperands() != kConvOperands)
    return std::nullopt;
  auto yCast = call.getOperand(2).getDefiningOp<memref::CastOp>();
  if (!yCast || !yCast->hasOneUse())
    return std::nullopt;
  Value yBuffer = yCast.getSource();
  if (!yBuffer.getDefiningOp<memref::AllocOp>())
    return std::nullopt;
  Block *block = call->getBlock();
  ConvResult result{call, yCast, yBuffer, {}, yBuffer, nullptr, nullptr};
  Operation *reader = soleUser(yBuffer, yCast);
  while (reader && reader->getBlock() == block &&
         isa<memref::CollapseShapeOp, memref::CastOp>(reader)) {
    result.views.push_back(reader);
    result.yRead = reader->getResult(0);
    reader = soleUser(result.yRead, nullptr);
  }
  if (!reader || reader->getBlock() != block || !call->isBeforeInBlock(reader))
    return std::nullopt;
  result.reader = reader;
  result.generic = dyn_cast<linalg::GenericOp>(reader);
  return result;
}

/// A program that returns a convolution's result: y is only copied whole
/// into a function argument (the caller's output buffer, which overlaps
/// no input). The call writes that buffer through a 5-D view instead; the
/// copy and y's buffer go.
bool writeDirect(func::CallOp call) {
  std::optional<ConvResult> found = convResultOf(call);
  if (!found)
    return false;
  auto copy = dyn_cast<memref::CopyOp>(found->reader);
  if (!copy || copy.getSource() != found->yRead)
    return false;
  Value target = copy.getTarget();
  auto targetType = dyn_cast<MemRefType>(target.getType());
  if (!isa<BlockArgument>(target) || !targetType ||
      targetType.getRank() < 3 || targetType.getRank() > kRank)
    return false;
  Value x = stripCast(call.getOperand(0)), w = stripCast(call.getOperand(1));
  if (mayOverlap(target, x) || mayOverlap(target, w))
    return false;
  // The buffer is written earlier than before: nothing in between may use
  // it.
  for (Operation *op = call->getNextNode(); op != copy; op = op->getNextNode()) {
    if (isMemoryEffectFree(op)) // views, dims
      continue;
    for (Value operand : op->getOperands())
      if (isa<MemRefType>(operand.getType()) && mayOverlap(operand, target))
        return false;
  }
  OpBuilder b(call);
  Location loc = call.getLoc();
  int64_t rank = targetType.getRank();
  SmallVector<OpFoldResult> sizes = sizes5(b, loc, target);
  AffineMap identity = AffineMap::getMultiDimIdentityMap(rank, b.getContext());
  call->setOperand(2, view5(b, loc, target, identity, sizes));
  copy->erase();
  found->yCast->erase();
  for (Operation *view : llvm::reverse(found->views))
    if (view->use_empty())
      view->erase();
  if (found->yBuffer.use_empty())
    found->yBuffer.getDefiningOp()->erase();
  return true;
}

/// Fuses the generic reading `call`'s y into the call; false when it does
/// not apply.
bool fuseEpilogue(func::CallOp call) {
  std::optional<ConvResult> found = convResultOf(call);
  if (!found || !found->generic)
    return false;
  memref::CastOp yCast = found->yCast;
  Value yBuffer = found->yBuffer, yRead = found->yRead;
  SmallVector<Operation *> views = found->views;
  linalg::GenericOp generic = found->generic;
  int64_t loops = generic.getNumLoops();
  if (generic.getNumDpsInits() != 1 || generic.getNumResults() != 0 ||
      generic.getNumParallelLoops() != loops || loops < 3 || loops > kRank ||
      cast<MemRefType>(yRead.getType()).getRank() != loops)
    return false;
  Value d = generic.getDpsInits()[0];
  auto dType = dyn_cast<MemRefType>(d.getType());
  if (!dType || !dType.getElementType().isF32() || d == yRead ||
      !generic.getMatchingIndexingMap(generic.getDpsInitOperand(0))
           .isIdentity())
    return false;
  std::optional<MatchedEpilogue> matched = matchEpilogueOf(generic, yRead);
  if (!matched)
    return false;
  std::optional<Epilogue> epilogue = matched->epilogue;
  OpOperand *bias = matched->bias, *residual = matched->residual;
  for (OpOperand *operand : {bias, residual})
    if (operand && !isBroadcastMap(generic.getMatchingIndexingMap(operand)))
      return false;
  // The kernel writes D while it reads x and w and before it reads the
  // addends (a block's partial sums): none may overlap D.
  Value x = stripCast(call.getOperand(0)), w = stripCast(call.getOperand(1));
  if (mayOverlap(d, x) || mayOverlap(d, w) ||
      (bias && mayOverlap(d, bias->get())) ||
      (residual && mayOverlap(d, residual->get())))
    return false;
  // The call moves down to the generic: x and w must still hold the same
  // values there.
  if (!unwrittenBetween(call, generic, {x, w}))
    return false;

  OpBuilder b(generic);
  Location loc = generic.getLoc();
  SmallVector<OpFoldResult> sizes = sizes5(b, loc, d);
  AffineMap identity = AffineMap::getMultiDimIdentityMap(loops, b.getContext());
  Value dArg = view5(b, loc, d, identity, sizes);
  SmallVector<Value> addends;
  for (OpOperand *operand : {bias, residual})
    addends.push_back(operand ? view5(b, loc, operand->get(),
                                      generic.getMatchingIndexingMap(operand),
                                      sizes)
                              : dArg); // not read: the flags leave it out
  int64_t flags = epilogue->activation | (bias ? EMBER_GEMM_FUSED_BIAS : 0) |
                  (residual ? EMBER_GEMM_FUSED_RESIDUAL : 0) |
                  (residual && epilogue->residualFirst
                       ? EMBER_GEMM_FUSED_RESIDUAL_FIRST
                       : 0);
  SmallVector<Value> args = {call.getOperand(0), call.getOperand(1), dArg,
                             addends[0], addends[1]};
  for (unsigned i = 3; i < kConvOperands; ++i)
    args.push_back(call.getOperand(i));
  args.push_back(arith::ConstantIntOp::create(b, loc, flags, 64));
  func::CallOp::create(b, loc, declareFused(call->getParentOfType<ModuleOp>()),
                       args);
  generic->erase();
  call->erase();
  yCast->erase();
  for (Operation *view : llvm::reverse(views))
    if (view->use_empty())
      view->erase();
  if (yBuffer.use_empty())
    yBuffer.getDefiningOp()->erase();
  return true;
}

/// The ops of the generic's body that `value` is computed from (itself
/// included).
llvm::SetVector<Operation *> bodySlice(Value value) {
  llvm::SetVector<Operation *> slice;
  SmallVector<Value> work = {value};
  Block *body = value.getParentBlock();
  while (!work.empty()) {
    Operation *op = work.pop_back_val().getDefiningOp();
    if (!op || op->getBlock() != body || !slice.insert(op))
      continue;
    for (Value operand : op->getOperands())
      work.push_back(operand);
  }
  return slice;
}

/// The conv's y read by a generic through a broadcast: a squeeze-and-
/// excitation block's D = hardsigmoid(y + bias) * x, y [N, C, 1, 1] spread
/// over x's pixels. The part of the body that is act(y + bias) (y read
/// nowhere else) moves into the call, which writes it into y's buffer; the
/// generic reads that, instead of computing it again for every element of
/// D. False when it does not apply.
bool fuseBroadcastPrefix(func::CallOp call) {
  if (call.getNumOperands() != kConvOperands)
    return false;
  auto yCast = call.getOperand(2).getDefiningOp<memref::CastOp>();
  if (!yCast || !yCast->hasOneUse())
    return false;
  Value yBuffer = yCast.getSource();
  if (!yBuffer.getDefiningOp<memref::AllocOp>())
    return false;
  Block *block = call->getBlock();
  Value yRead = yBuffer;
  Operation *reader = soleUser(yBuffer, yCast);
  while (reader && reader->getBlock() == block &&
         isa<memref::CollapseShapeOp, memref::CastOp>(reader)) {
    yRead = reader->getResult(0);
    reader = soleUser(yRead, nullptr);
  }
  auto generic = dyn_cast_or_null<linalg::GenericOp>(reader);
  if (!generic || generic->getBlock() != block ||
      !call->isBeforeInBlock(generic) || generic.getNumResults() != 0 ||
      generic.getNumParallelLoops() != generic.getNumLoops())
    return false;
  auto yType = cast<MemRefType>(yRead.getType());
  int64_t yRank = yType.getRank();
  if (yRank < 3 || yRank > kRank || !yType.getElementType().isF32())
    return false;
  OpOperand *yOperand = nullptr;
  for (OpOperand *input : generic.getDpsInputOperands()) {
    if (input->get() != yRead)
      continue;
    if (yOperand)
      return false;
    yOperand = input;
  }
  if (!yOperand)
    return false;
  AffineMap yMap = generic.getMatchingIndexingMap(yOperand);
  if (yMap.isIdentity() || !isBroadcastMap(yMap))
    return false;
  // The last value of the body that is act(y + bias).
  Block &body = generic.getRegion().front();
  unsigned yInput = yOperand->getOperandNumber();
  Value prefix;
  std::optional<Epilogue> epilogue;
  for (Operation &op : llvm::reverse(body.without_terminator())) {
    if (op.getNumResults() != 1)
      continue;
    epilogue = matchEpilogueValue(generic, yInput, op.getResult(0));
    if (epilogue && epilogue->residualInput < 0) {
      prefix = op.getResult(0);
      break;
    }
  }
  if (!prefix)
    return false;
  // Nothing but the prefix may read y or the values it is made of.
  llvm::SetVector<Operation *> slice = bodySlice(prefix);
  for (Operation *op : slice)
    for (Operation *user : op->getUsers())
      if (op != prefix.getDefiningOp() && !slice.contains(user))
        return false;
  BlockArgument yArg = body.getArgument(yInput);
  for (Operation *user : yArg.getUsers())
    if (!slice.contains(user))
      return false;
  // The bias as a view over y's dims: each of its loop dims one of y's.
  MLIRContext *ctx = generic.getContext();
  OpOperand *bias = epilogue->biasInput >= 0
                        ? generic.getDpsInputOperand(epilogue->biasInput)
                        : nullptr;
  AffineMap biasOverY;
  if (bias) {
    auto biasType = dyn_cast<MemRefType>(bias->get().getType());
    AffineMap biasMap = generic.getMatchingIndexingMap(bias);
    if (!biasType || !biasType.getElementType().isF32() ||
        !isBroadcastMap(biasMap) || mayOverlap(yBuffer, bias->get()))
      return false;
    SmallVector<AffineExpr> exprs;
    for (AffineExpr expr : biasMap.getResults()) {
      if (isa<AffineConstantExpr>(expr)) {
        exprs.push_back(expr);
        continue;
      }
      std::optional<unsigned> yDim = yMap.getResultPosition(expr);
      if (!yDim)
        return false;
      exprs.push_back(getAffineDimExpr(*yDim, ctx));
    }
    biasOverY = AffineMap::get(yRank, 0, exprs, ctx);
  }
  // The call moves down to the generic: x and w must still hold the same
  // values there.
  Value x = stripCast(call.getOperand(0)), w = stripCast(call.getOperand(1));
  if (!unwrittenBetween(call, generic, {x, w}))
    return false;

  OpBuilder b(generic);
  Location loc = call.getLoc();
  SmallVector<OpFoldResult> sizes = sizes5(b, loc, yRead);
  AffineMap identity = AffineMap::getMultiDimIdentityMap(yRank, ctx);
  Value yArg5 = view5(b, loc, yRead, identity, sizes);
  Value biasArg = bias ? view5(b, loc, bias->get(), biasOverY, sizes) : yArg5;
  int64_t flags = epilogue->activation | (bias ? EMBER_GEMM_FUSED_BIAS : 0);
  SmallVector<Value> args = {call.getOperand(0), call.getOperand(1), yArg5,
                             biasArg, yArg5};
  for (unsigned i = 3; i < kConvOperands; ++i)
    args.push_back(call.getOperand(i));
  args.push_back(arith::ConstantIntOp::create(b, loc, flags, 64));
  func::CallOp::create(b, loc, declareFused(call->getParentOfType<ModuleOp>()),
                       args);
  // The body reads act(y + bias) from y's buffer now.
  prefix.replaceAllUsesWith(yArg);
  for (Operation &op : llvm::make_early_inc_range(llvm::reverse(body)))
    if (slice.contains(&op) && op.use_empty())
      op.erase();
  call->erase();
  yCast->erase();
  return true;
}

/// A downsampling ResNet block ends in relu(conv(a) + b1 + conv(x) + b2):
/// two convolutions' temporaries read by one generic, which no single
/// fused call takes. `conv` (one of them) takes its own bias: a fused call
/// right before the generic writes y + b2 into y's buffer, and the
/// generic's `y + b2` becomes y. The other convolution then fuses the rest
/// as usual, relu(y1 + b1 + y2') with y2' its residual. False when the
/// body does not add a broadcast f32 bias to y alone.
bool peelBias(ConvResult conv) {
  linalg::GenericOp generic = conv.generic;
  int64_t loops = generic.getNumLoops();
  if (generic.getNumParallelLoops() != loops || loops < 3 || loops > kRank)
    return false;
  OpOperand *yOperand = nullptr;
  for (OpOperand *input : generic.getDpsInputOperands()) {
    if (input->get() != conv.yRead)
      continue;
    if (yOperand)
      return false;
    yOperand = input;
  }
  if (!yOperand || !generic.getMatchingIndexingMap(yOperand).isIdentity())
    return false;
  Block &body = generic.getRegion().front();
  BlockArgument y = body.getArgument(yOperand->getOperandNumber());
  if (!y.hasOneUse())
    return false;
  auto add = dyn_cast<arith::AddFOp>(*y.getUsers().begin());
  if (!add)
    return false;
  auto biasArg =
      dyn_cast<BlockArgument>(add.getLhs() == y ? add.getRhs() : add.getLhs());
  if (!biasArg || biasArg == y || biasArg.getOwner() != &body ||
      biasArg.getArgNumber() >= generic.getNumDpsInputs())
    return false;
  OpOperand *bias = generic.getDpsInputOperand(biasArg.getArgNumber());
  auto biasType = dyn_cast<MemRefType>(bias->get().getType());
  if (!biasType || !biasType.getElementType().isF32() ||
      !isBroadcastMap(generic.getMatchingIndexingMap(bias)))
    return false;
  // The call moves down to the generic and writes y before it reads the
  // bias.
  Value x = stripCast(conv.call.getOperand(0)),
        w = stripCast(conv.call.getOperand(1));
  if (mayOverlap(conv.yBuffer, bias->get()) ||
      !unwrittenBetween(conv.call, generic, {x, w}))
    return false;

  OpBuilder b(generic);
  Location loc = generic.getLoc();
  SmallVector<OpFoldResult> sizes;
  for (int64_t i = 0; i < kRank; ++i)
    sizes.push_back(memref::getMixedSize(b, loc, conv.yBuffer, i));
  Value dArg = conv.yCast.getResult();
  SmallVector<Value> args = {
      conv.call.getOperand(0), conv.call.getOperand(1), dArg,
      view5(b, loc, bias->get(), generic.getMatchingIndexingMap(bias), sizes),
      dArg}; // no residual: the flags leave it out
  for (unsigned i = 3; i < kConvOperands; ++i)
    args.push_back(conv.call.getOperand(i));
  args.push_back(arith::ConstantIntOp::create(b, loc, EMBER_GEMM_FUSED_BIAS, 64));
  func::CallOp::create(
      b, loc, declareFused(conv.call->getParentOfType<ModuleOp>()), args);
  conv.call->erase();
  add.getResult().replaceAllUsesWith(y);
  add->erase();
  return true;
}

/// The fused entry `name` with a sixth view after the residual
/// (ember_cpu_conv_fused_mean_f32's mean, ember_cpu_conv_fused_scaled_f32's
/// scale).
func::FuncOp declareFusedWithView(ModuleOp module, StringRef name) {
  return declareFusedEntry(module, name, 6);
}

/// Whether `a` is `alloc`'s size along `dim`.
bool isSizeOf(OpFoldResult a, memref::AllocOp alloc, int64_t dim) {
  MemRefType type = alloc.getType();
  if (!type.isDynamicDim(dim))
    return getConstantIntValue(a) == type.getDimSize(dim);
  return dyn_cast<Value>(a) == alloc.getDynamicSizes()[type.getDynamicDimIndex(dim)];
}

/// Whether allocations `a` and `b` have the same size along `dim`.
bool sameSize(memref::AllocOp a, memref::AllocOp b, int64_t dim) {
  MemRefType ta = a.getType(), tb = b.getType();
  if (!ta.isDynamicDim(dim) || !tb.isDynamicDim(dim))
    return ta.getDimSize(dim) == tb.getDimSize(dim);
  return a.getDynamicSizes()[ta.getDynamicDimIndex(dim)] ==
         b.getDynamicSizes()[tb.getDynamicDimIndex(dim)];
}

/// The allocation whose every element the 5-D view `view` (view5 of it
/// with the identity map: unit dims after dims 0 and 1) shows, or null.
memref::AllocOp wholeAllocationOf(Value view) {
  auto cast = view.getDefiningOp<memref::ReinterpretCastOp>();
  if (!cast)
    return {};
  auto metadata =
      cast.getSource().getDefiningOp<memref::ExtractStridedMetadataOp>();
  if (!metadata || cast.getSource() != metadata.getBaseBuffer())
    return {};
  auto alloc = metadata.getSource().getDefiningOp<memref::AllocOp>();
  if (!alloc || !alloc.getType().getLayout().isIdentity())
    return {};
  int64_t rank = alloc.getType().getRank();
  SmallVector<OpFoldResult> offsets = cast.getMixedOffsets(),
                            sizes = cast.getMixedSizes(),
                            strides = cast.getMixedStrides();
  if (rank < 3 || rank > kRank || offsets.size() != 1 ||
      dyn_cast<Value>(offsets[0]) != metadata.getOffset())
    return {};
  // View dim v shows alloc dim a (or is a unit dim, stride 0).
  for (int64_t v = 0, a = 0; v < kRank; ++v) {
    bool unit = v >= 2 && v < 2 + kRank - rank;
    if (unit) {
      if (getConstantIntValue(sizes[v]) != 1 ||
          getConstantIntValue(strides[v]) != 0)
        return {};
      continue;
    }
    if (!isSizeOf(sizes[v], alloc, a) ||
        dyn_cast<Value>(strides[v]) != metadata.getStrides()[a])
      return {};
    ++a;
  }
  return alloc;
}

/// Whether `generic` sums its one input `input` ([N, C, ...]) over every
/// dim after the first two into its init ([N, C]): out += in.
bool isSumOverTrailingDims(linalg::GenericOp generic, Value input) {
  if (generic.getNumDpsInputs() != 1 || generic.getNumDpsInits() != 1 ||
      generic.getNumResults() != 0 ||
      generic.getDpsInputOperand(0)->get() != input)
    return false;
  int64_t loops = generic.getNumLoops();
  SmallVector<utils::IteratorType> iterators = generic.getIteratorTypesArray();
  if (loops < 3)
    return false;
  for (int64_t i = 0; i < loops; ++i)
    if ((iterators[i] == utils::IteratorType::parallel) != (i < 2))
      return false;
  MLIRContext *ctx = generic.getContext();
  AffineMap leading = AffineMap::get(
      loops, 0, {getAffineDimExpr(0, ctx), getAffineDimExpr(1, ctx)}, ctx);
  if (!generic.getMatchingIndexingMap(generic.getDpsInputOperand(0))
           .isIdentity() ||
      generic.getMatchingIndexingMap(generic.getDpsInitOperand(0)) != leading)
    return false;
  Block &body = generic.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto add = yield.getNumOperands() == 1
                 ? yield.getOperand(0).getDefiningOp<arith::AddFOp>()
                 : nullptr;
  if (!add || &body.front() != add.getOperation())
    return false;
  Value in = body.getArgument(0), out = body.getArgument(1);
  return (add.getLhs() == in && add.getRhs() == out) ||
         (add.getLhs() == out && add.getRhs() == in);
}

/// Whether `generic` is out = in / `divisor` over two parallel dims.
bool isDivisionBy(linalg::GenericOp generic, Value input, double divisor) {
  if (generic.getNumDpsInputs() != 1 || generic.getNumDpsInits() != 1 ||
      generic.getNumResults() != 0 || generic.getNumLoops() != 2 ||
      generic.getNumParallelLoops() != 2 ||
      generic.getDpsInputOperand(0)->get() != input ||
      !llvm::all_of(generic.getIndexingMapsArray(),
                    [](AffineMap map) { return map.isIdentity(); }))
    return false;
  Block &body = generic.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto div = yield.getOperand(0).getDefiningOp<arith::DivFOp>();
  if (!div || &body.front() != div.getOperation() ||
      div.getLhs() != body.getArgument(0))
    return false;
  auto constant = div.getRhs().getDefiningOp<arith::ConstantFloatOp>();
  return constant && constant.value().convertToDouble() == divisor;
}

/// A squeeze-and-excitation block's pool over a fused call's D (the
/// depthwise convolution's finished output): sum[n, c] = 0, then a generic
/// summing a view of D's buffer ([N, C, pixels]) into it, then mean = sum
/// / pixels. The call writes mean itself (ember_cpu_conv_fused_mean_f32:
/// the depthwise kernel sums each plane while it is in registers); the
/// fill, both generics and sum go, and with them a pass over D. False when
/// it does not apply.
bool fuseMean(func::CallOp call) {
  if (call.getCallee() != "ember_cpu_conv_fused_f32" ||
      call.getNumOperands() != kConvOperands + 3)
    return false;
  memref::AllocOp d = wholeAllocationOf(call.getOperand(2));
  if (!d)
    return false;
  MemRefType dType = d.getType();
  int64_t rank = dType.getRank();
  if (!dType.getElementType().isF32())
    return false;
  int64_t pixels = 1;
  for (int64_t i = 1; i < rank; ++i) {
    if (dType.isDynamicDim(i))
      return false;
    if (i >= 2)
      pixels *= dType.getDimSize(i);
  }
  // The sum: a generic after the call reading D through views that keep
  // its elements' order (its buffer is row-major).
  Block *block = call->getBlock();
  linalg::GenericOp reduction;
  SmallVector<Value> work = {d.getResult()};
  while (!work.empty()) {
    Value value = work.pop_back_val();
    for (Operation *user : value.getUsers()) {
      if (isa<memref::CastOp, memref::ReshapeOp, memref::CollapseShapeOp,
              memref::ExpandShapeOp>(user) &&
          user->getOperand(0) == value) {
        work.push_back(user->getResult(0));
        continue;
      }
      auto generic = dyn_cast<linalg::GenericOp>(user);
      if (!generic || generic->getBlock() != block ||
          !call->isBeforeInBlock(generic) ||
          !isSumOverTrailingDims(generic, value))
        continue;
      if (reduction)
        return false;
      reduction = generic;
    }
  }
  if (!reduction)
    return false;
  // Its [N, C] init: zeroed by one fill before it, then only divided.
  auto sum = reduction.getDpsInits()[0].getDefiningOp<memref::AllocOp>();
  if (!sum || sum.getType().getRank() != 2 ||
      !sum.getType().getElementType().isF32() ||
      !sameSize(sum, d, 0) ||
      sum.getType().isDynamicDim(1) ||
      sum.getType().getDimSize(1) != dType.getDimSize(1))
    return false;
  linalg::FillOp fill;
  linalg::GenericOp division;
  for (Operation *user : sum->getUsers()) {
    if (user == reduction)
      continue;
    if (auto f = dyn_cast<linalg::FillOp>(user)) {
      auto c = f.getInputs()[0].getDefiningOp<arith::ConstantFloatOp>();
      if (fill || !c || !c.value().isZero() || f.getDpsInits()[0] != sum ||
          f->getBlock() != block || !f->isBeforeInBlock(reduction))
        return false;
      fill = f;
      continue;
    }
    auto generic = dyn_cast<linalg::GenericOp>(user);
    if (division || !generic || generic->getBlock() != block ||
        !reduction->isBeforeInBlock(generic) ||
        !isDivisionBy(generic, sum.getResult(), double(pixels)))
      return false;
    division = generic;
  }
  if (!fill || !division)
    return false;
  auto mean = division.getDpsInits()[0].getDefiningOp<memref::AllocOp>();
  if (!mean || mean.getType() != sum.getType() || mean->getBlock() != block)
    return false;
  // mean is written at the call now: nothing may use it before the
  // division, and its allocation moves up to the call.
  for (Operation *user : mean->getUsers())
    if (user != division && (user->getBlock() != block ||
                             !division->isBeforeInBlock(user)))
      return false;
  for (Value size : mean.getDynamicSizes())
    if (auto *def = size.getDefiningOp();
        def && (def->getBlock() != block || !def->isBeforeInBlock(call)))
      return false;
  // Nothing between the call and the sum may write D.
  if (!unwrittenBetween(call, reduction, {d.getResult()}))
    return false;

  if (call->isBeforeInBlock(mean))
    mean->moveBefore(call);
  OpBuilder b(call);
  Location loc = call.getLoc();
  MLIRContext *ctx = b.getContext();
  AffineMap leading = AffineMap::get(
      rank, 0, {getAffineDimExpr(0, ctx), getAffineDimExpr(1, ctx)}, ctx);
  Value mean5 =
      view5(b, loc, mean.getResult(), leading, sizes5(b, loc, d.getResult()));
  SmallVector<Value> args(call.getOperands().take_front(5));
  args.push_back(mean5);
  llvm::append_range(args, call.getOperands().drop_front(5));
  func::CallOp::create(b, loc,
                       declareFusedWithView(call->getParentOfType<ModuleOp>(),
                                            "ember_cpu_conv_fused_mean_f32"),
                       args);
  Value pooled = reduction.getDpsInputOperand(0)->get();
  call->erase();
  division->erase();
  reduction->erase();
  fill->erase();
  if (sum->use_empty())
    sum->erase();
  // The views of D only the sum read.
  while (Operation *view = pooled.getDefiningOp()) {
    if (!view->use_empty() ||
        !isa<memref::CastOp, memref::ReshapeOp, memref::CollapseShapeOp,
             memref::ExpandShapeOp>(view))
      break;
    pooled = view->getOperand(0);
    view->erase();
  }
  return true;
}

/// Whether `expand` makes the runtime's 5-D view of an [N, C, spatial...]
/// buffer: unit dims inserted after dim 1, as ember-conv-to-runtime's
/// expand does ([[0], [1, 2], [3], [4]] for 2-D).
bool addsUnitDimsAfterChannels(memref::ExpandShapeOp expand) {
  SmallVector<ReassociationIndices> groups = expand.getReassociationIndices();
  MemRefType type = expand.getResultType();
  int64_t rank = expand.getSrcType().getRank(), units = kRank - rank;
  if (type.getRank() != kRank || rank < 3 ||
      groups[0] != ReassociationIndices{0} ||
      static_cast<int64_t>(groups[1].size()) != 1 + units)
    return false;
  for (int64_t i = 0; i < units; ++i)
    if (type.getDimSize(2 + i) != 1)
      return false;
  for (int64_t i = 2; i < rank; ++i)
    if (groups[i].size() != 1)
      return false;
  return true;
}

/// A squeeze-and-excitation block's end, D = x * s with s one value per
/// image and channel ([N, C, 1, 1] read through a broadcast), D a
/// temporary that only the convolution `call` reads (its input, through
/// the view that adds the unit dims): the call reads x and s instead,
/// ember_cpu_conv_fused_scaled_f32(x, w, y, bias, residual, s, ..., flags)
/// with its bias, residual and flags (none for a plain call). A 1x1
/// convolution scales x in registers while it packs it, so D, its generic
/// and their two passes over memory go. False when it does not apply.
bool fuseInputScale(func::CallOp call) {
  StringRef callee = call.getCallee();
  const bool plain =
      callee == "ember_cpu_conv_f32" && call.getNumOperands() == kConvOperands;
  const bool fused = callee == "ember_cpu_conv_fused_f32" &&
                     call.getNumOperands() == kConvOperands + 3;
  if (!plain && !fused)
    return false;
  // x's views back to D: casts and the expand that adds the unit dims.
  Block *block = call->getBlock();
  SmallVector<Operation *> views; // from the call's operand up
  int expands = 0;
  Value value = call.getOperand(0);
  while (Operation *def = value.getDefiningOp()) {
    if (!isa<memref::CastOp, memref::ExpandShapeOp>(def) ||
        def->getBlock() != block || !value.hasOneUse())
      break;
    if (auto expand = dyn_cast<memref::ExpandShapeOp>(def)) {
      if (!addsUnitDimsAfterChannels(expand))
        return false;
      ++expands;
    }
    views.push_back(def);
    value = def->getOperand(0);
  }
  auto d = value.getDefiningOp<memref::AllocOp>();
  if (!d || d->getBlock() != block || views.empty())
    return false;
  MemRefType dType = d.getType();
  const int64_t rank = dType.getRank();
  if (!dType.getElementType().isF32() || !dType.getLayout().isIdentity() ||
      rank < 3 || rank > kRank || expands != (rank < kRank ? 1 : 0))
    return false;
  // D's one writer: an all-parallel generic before the call, D = a * b.
  linalg::GenericOp generic;
  for (Operation *user : d->getUsers()) {
    if (user == views.back())
      continue;
    auto writer = dyn_cast<linalg::GenericOp>(user);
    if (generic || !writer)
      return false;
    generic = writer;
  }
  if (!generic || generic->getBlock() != block ||
      !generic->isBeforeInBlock(call) || generic.getNumDpsInits() != 1 ||
      generic.getNumResults() != 0 ||
      generic.getDpsInits()[0] != d.getResult() ||
      generic.getNumLoops() != rank || generic.getNumParallelLoops() != rank ||
      !generic.getMatchingIndexingMap(generic.getDpsInitOperand(0))
           .isIdentity())
    return false;
  // The body: one product of two inputs' elements (other inputs unread,
  // such as the bias whose activation fuseBroadcastPrefix moved out).
  Block &body = generic.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto mul = yield.getOperand(0).getDefiningOp<arith::MulFOp>();
  if (!mul || &body.front() != mul.getOperation() ||
      mul.getLhs() == mul.getRhs())
    return false;
  // x read whole (identity), s through a broadcast over the pixel dims.
  OpOperand *xOperand = nullptr, *sOperand = nullptr;
  for (Value factor : {mul.getLhs(), mul.getRhs()}) {
    auto arg = dyn_cast<BlockArgument>(factor);
    if (!arg || arg.getOwner() != &body ||
        arg.getArgNumber() >= generic.getNumDpsInputs())
      return false;
    OpOperand *input = generic.getDpsInputOperand(arg.getArgNumber());
    if (generic.getMatchingIndexingMap(input).isIdentity() && !xOperand)
      xOperand = input;
    else
      sOperand = input;
  }
  if (!xOperand || !sOperand)
    return false;
  AffineMap sMap = generic.getMatchingIndexingMap(sOperand);
  if (!isBroadcastMap(sMap) ||
      llvm::any_of(sMap.getResults(), [](AffineExpr expr) {
        auto dim = dyn_cast<AffineDimExpr>(expr);
        return dim && dim.getPosition() >= 2;
      }))
    return false;
  Value x = xOperand->get(), s = sOperand->get();
  for (Value operand : {x, s}) {
    auto type = dyn_cast<MemRefType>(operand.getType());
    if (!type || !type.getElementType().isF32())
      return false;
  }
  // The call reads x and s where it is (nothing in between may write
  // them), and writes y while it reads them.
  Value y = call.getOperand(2);
  if (!unwrittenBetween(generic, call, {x, s}) || mayOverlap(y, x) ||
      mayOverlap(y, s))
    return false;

  OpBuilder b(call);
  Location loc = call.getLoc();
  SmallVector<OpFoldResult> sizes = sizes5(b, loc, x);
  AffineMap identity = AffineMap::getMultiDimIdentityMap(rank, b.getContext());
  SmallVector<Value> args = {view5(b, loc, x, identity, sizes),
                             call.getOperand(1), y};
  if (fused) {
    args.push_back(call.getOperand(3));
    args.push_back(call.getOperand(4));
  } else {
    args.append(2, y); // not read: the flags leave them out
  }
  args.push_back(view5(b, loc, s, sMap, sizes));
  const unsigned scalarsAt = fused ? 5 : 3;
  for (unsigned i = 0; i < kConvOperands - 3; ++i)
    args.push_back(call.getOperand(scalarsAt + i));
  args.push_back(fused ? call.getOperands().back()
                       : arith::ConstantIntOp::create(b, loc, 0, 64));
  func::CallOp::create(b, loc,
                       declareFusedWithView(call->getParentOfType<ModuleOp>(),
                                            "ember_cpu_conv_fused_scaled_f32"),
                       args);
  call->erase();
  for (Operation *view : views)
    view->erase();
  generic->erase();
  d->erase();
  return true;
}

/// The memref `value` views (through casts, reinterpret casts of its base,
/// reshapes): an allocation, a global or an argument.
Value viewedMemref(Value value) {
  while (Operation *def = value.getDefiningOp()) {
    if (auto metadata = dyn_cast<memref::ExtractStridedMetadataOp>(def))
      value = metadata.getSource();
    else if (isa<memref::ReinterpretCastOp, memref::CastOp,
                 memref::CollapseShapeOp, memref::ExpandShapeOp>(def))
      value = def->getOperand(0);
    else
      break;
  }
  return value;
}

/// The allocation `value` views, or null.
memref::AllocOp allocationBehind(Value value) {
  return viewedMemref(value).getDefiningOp<memref::AllocOp>();
}

/// Whether every use of `value` (through the views allocationBehind walks
/// back) is `a`, operand 0 of `b`, a dealloc or a view's own use.
bool onlyReadByNext(Value value, func::CallOp a, func::CallOp b) {
  for (OpOperand &use : value.getUses()) {
    Operation *user = use.getOwner();
    if (user == a || isa<memref::DeallocOp>(user))
      continue;
    if (user == b) {
      if (use.getOperandNumber() != 0)
        return false;
      continue;
    }
    if (!isa<memref::ExtractStridedMetadataOp, memref::ReinterpretCastOp,
             memref::CastOp, memref::CollapseShapeOp, memref::ExpandShapeOp>(
            user))
      return false;
    for (Value result : user->getResults())
      if (isa<MemRefType>(result.getType()) && !onlyReadByNext(result, a, b))
        return false;
  }
  return true;
}

/// Whether `op` (after `call`) may run before `call` as far as memory
/// goes: it reads, allocates, or writes only buffers allocated after
/// `call` (a reshape's shape operand), so `call`'s inputs stay as they
/// were.
bool onlyTouchesNewBuffers(Operation *op, func::CallOp call) {
  if (isMemoryEffectFree(op))
    return true;
  auto effects = dyn_cast<MemoryEffectOpInterface>(op);
  if (!effects)
    return false;
  SmallVector<MemoryEffects::EffectInstance> found;
  effects.getEffects(found);
  for (const MemoryEffects::EffectInstance &effect : found) {
    if (isa<MemoryEffects::Read, MemoryEffects::Allocate>(effect.getEffect()))
      continue;
    Value value = effect.getValue();
    Operation *def = value ? viewedMemref(value).getDefiningOp() : nullptr;
    if (!def || def->getBlock() != call->getBlock() ||
        !call->isBeforeInBlock(def))
      return false;
  }
  return true;
}

/// A convolution whose result only the next convolution call reads, as
/// its x, with nothing in between that writes what it reads, when that
/// next one is grouped (a depthwise conv): the call becomes
/// ember_cpu_conv_fused_then_f32 (same operands), which lets the runtime
/// run the two image by image, the first one's output in a per-thread
/// buffer (L2) instead of memory. mobilenet_v3_small: its stem and every
/// expanding 1x1 conv, each before a depthwise conv.
bool deferIntoNext(func::CallOp call) {
  if (call.getCallee() != "ember_cpu_conv_fused_f32")
    return false;
  memref::AllocOp y = allocationBehind(call.getOperand(2));
  if (!y)
    return false;
  func::CallOp next;
  for (Operation *op = call->getNextNode(); op; op = op->getNextNode()) {
    // The forward entries, which run a held call first (runDeferred).
    if (auto reader = dyn_cast<func::CallOp>(op);
        reader && llvm::is_contained(
                      {"ember_cpu_conv_f32", "ember_cpu_conv_fused_f32",
                       "ember_cpu_conv_fused_mean_f32",
                       "ember_cpu_conv_fused_scaled_f32"},
                      reader.getCallee())) {
      next = reader;
      break;
    }
    if (!onlyTouchesNewBuffers(op, call))
      return false;
  }
  if (!next)
    return false;
  // The next convolution is grouped (a depthwise one: the runtime pairs
  // only those).
  const unsigned groups =
      next.getNumOperands() - (next.getCallee() == "ember_cpu_conv_f32" ? 1 : 2);
  std::optional<int64_t> groupCount =
      getConstantIntValue(next.getOperand(groups));
  if (!groupCount || *groupCount < 2 ||
      allocationBehind(next.getOperand(0)) != y ||
      !onlyReadByNext(y.getResult(), call, next))
    return false;
  ModuleOp module = call->getParentOfType<ModuleOp>();
  call.setCallee(
      declareFusedEntry(module, "ember_cpu_conv_fused_then_f32", 5).getName());
  return true;
}

struct EmberFuseConvEpiloguePass
    : ember::impl::EmberFuseConvEpilogueBase<EmberFuseConvEpiloguePass> {
  void runOnOperation() override {
    SmallVector<func::CallOp> calls;
    getOperation().walk([&](func::CallOp call) {
      if (call.getCallee() == "ember_cpu_conv_f32")
        calls.push_back(call);
    });
    // Two convolutions read by one generic (a downsampling block's end):
    // the later one takes its bias first, the earlier one the rest.
    DenseMap<Operation *, SmallVector<ConvResult>> byGeneric;
    for (func::CallOp call : calls)
      if (std::optional<ConvResult> result = convResultOf(call);
          result && result->generic)
        byGeneric[result->generic].push_back(*result);
    for (func::CallOp call : calls) {
      std::optional<ConvResult> result = convResultOf(call);
      if (!result || !result->generic)
        continue;
      SmallVector<ConvResult> &readers = byGeneric[result->generic];
      if (readers.size() != 2 || readers[1].call != call)
        continue;
      if (peelBias(readers[1]) || peelBias(readers[0]))
        ++numPeeled;
    }
    calls.clear();
    getOperation().walk([&](func::CallOp call) {
      if (call.getCallee() == "ember_cpu_conv_f32")
        calls.push_back(call);
    });
    for (func::CallOp call : calls) {
      if (fuseEpilogue(call) || fuseBroadcastPrefix(call))
        ++numFused;
      else if (writeDirect(call))
        ++numDirect;
    }
    // The pools over fused calls' results (squeeze-and-excitation).
    SmallVector<func::CallOp> fused;
    getOperation().walk([&](func::CallOp call) {
      if (call.getCallee() == "ember_cpu_conv_fused_f32")
        fused.push_back(call);
    });
    for (func::CallOp call : fused)
      if (fuseMean(call))
        ++numMeans;
    // The squeeze-and-excitation scales that convolutions read.
    SmallVector<func::CallOp> readers;
    getOperation().walk([&](func::CallOp call) {
      if (call.getCallee() == "ember_cpu_conv_f32" ||
          call.getCallee() == "ember_cpu_conv_fused_f32")
        readers.push_back(call);
    });
    for (func::CallOp call : readers)
      if (fuseInputScale(call))
        ++numScaled;
    // Convolutions that may run together with the depthwise one reading
    // them.
    SmallVector<func::CallOp> producers;
    getOperation().walk([&](func::CallOp call) {
      if (call.getCallee() == "ember_cpu_conv_fused_f32")
        producers.push_back(call);
    });
    for (func::CallOp call : producers)
      if (deferIntoNext(call))
        ++numDeferred;
  }
};

} // namespace
