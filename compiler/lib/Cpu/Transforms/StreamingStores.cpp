//===- StreamingStores.cpp - non-temporal stores for large outputs ---------===//
//
// An element-wise kernel whose output is much larger than the last-level
// cache writes every line once and never reads it back before it has left
// the cache. Ordinary stores first read each line into the cache (read for
// ownership) and later write it back: a write costs two trips through
// memory. Non-temporal stores write whole lines straight to memory (the
// bandwidth probe here: a triad with streaming stores 56.5 GB/s on two
// threads, 41 GB/s without).
//
// Runs after ember-chunk-parallel-loops, on each innermost `scf.parallel`
// (flat body: memref loads and stores and element-wise scalar ops; every
// load and store index an induction variable of that loop or a value from
// outside it, the innermost one, J, unit-step and only ever the last index
// of a unit-stride memref; no induction variable used as a value). Such a
// loop becomes
//
//   scf.if (bytes of the first store's memref >= threshold) {
//     for each row (the other dims, still scf.parallel):
//       scalar body up to the first J whose output address is aligned to
//       one vector, then vector<W> bodies (W = 16 lanes, 8 with 64-bit
//       values) whose first store is `vector.store {nontemporal, alignment}`,
//       then the scalar body for the rest of the row;
//     sfence (non-temporal stores are weakly ordered: they must be visible
//     before the thread pool tells another thread the chunk is done)
//   } else { the loop as it was (LLVM's loop vectorizer widens it) }
//
// The threshold is on the output alone and is a whole-buffer property, so
// every chunk of one call takes the same branch; small tensors run the code
// they ran before.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace ember {
#define GEN_PASS_DEF_EMBERSTREAMINGSTORES
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

Value memrefOf(Operation *op) {
  if (auto load = dyn_cast<memref::LoadOp>(op))
    return load.getMemRef();
  return cast<memref::StoreOp>(op).getMemRef();
}

ValueRange indicesOf(Operation *op) {
  if (auto load = dyn_cast<memref::LoadOp>(op))
    return load.getIndices();
  return cast<memref::StoreOp>(op).getIndices();
}

bool hasUnitInnerStride(MemRefType type) {
  if (type.getRank() == 0)
    return false;
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)))
    return false;
  return strides.back() == 1;
}

struct StreamPlan {
  scf::ParallelOp loop;
  /// The store whose memref decides the branch and gets non-temporal,
  /// aligned vector stores.
  memref::StoreOp streamed;
  int64_t lanes = 16;
};

std::optional<StreamPlan> planStreaming(scf::ParallelOp loop) {
  if (loop.getNumResults() != 0)
    return std::nullopt;
  unsigned dims = loop.getNumLoops();
  SmallVector<Value> ivs = loop.getInductionVars();
  Value j = ivs.back();
  if (getConstantIntValue(loop.getStep().back()) != 1)
    return std::nullopt;
  StreamPlan plan;
  plan.loop = loop;
  unsigned widest = 0;
  auto note = [&](Type type) {
    if (!type.isIntOrFloat() || isa<IndexType>(type))
      return false;
    widest = std::max(widest, type.getIntOrFloatBitWidth());
    return true;
  };
  for (Operation &op : loop.getBody()->without_terminator()) {
    if (op.getNumRegions() != 0)
      return std::nullopt;
    if (isa<memref::LoadOp, memref::StoreOp>(op)) {
      ValueRange indices = indicesOf(&op);
      auto type = cast<MemRefType>(memrefOf(&op).getType());
      if (!note(type.getElementType()))
        return std::nullopt;
      for (auto [k, index] : llvm::enumerate(indices)) {
        bool isIv = llvm::is_contained(ivs, index);
        if (!isIv && !loop.isDefinedOutsideOfLoop(index))
          return std::nullopt;
        // J only as the last index (contiguous), never elsewhere.
        if (index == j && k + 1 != indices.size())
          return std::nullopt;
      }
      bool alongJ = !indices.empty() && indices.back() == j;
      if (alongJ && !hasUnitInnerStride(type))
        return std::nullopt;
      if (auto store = dyn_cast<memref::StoreOp>(op)) {
        if (!alongJ)
          return std::nullopt;
        if (!plan.streamed)
          plan.streamed = store;
      }
      continue;
    }
    bool constant = op.hasTrait<OpTrait::ConstantLike>();
    if (!constant && (!op.hasTrait<OpTrait::Vectorizable>() || !isMemoryEffectFree(&op)))
      return std::nullopt;
    for (Value operand : op.getOperands())
      if (llvm::is_contained(ivs, operand) || !operand.getType().isIntOrFloat())
        return std::nullopt;
    for (Type type : op.getResultTypes())
      if (!note(type))
        return std::nullopt;
  }
  if (!plan.streamed || widest > 64 || dims == 0)
    return std::nullopt;
  // Written once per call: not read back by the body (an accumulator) nor
  // rewritten by an enclosing sequential loop.
  for (Operation &op : loop.getBody()->without_terminator())
    if (auto load = dyn_cast<memref::LoadOp>(op))
      if (load.getMemRef() == plan.streamed.getMemRef())
        return std::nullopt;
  for (Operation *parent = loop->getParentOp(); !isa<func::FuncOp>(parent);
       parent = parent->getParentOp())
    if (!isa<scf::ParallelOp>(parent))
      return std::nullopt;
  unsigned outBits =
      plan.streamed.getMemRefType().getElementType().getIntOrFloatBitWidth();
  if (outBits != 32 && outBits != 64)
    return std::nullopt;
  plan.lanes = widest > 32 ? 8 : 16;
  return plan;
}

/// Emits the loop's body once at `j` (scalar) with the other dims at `ivs`.
void emitScalarBody(OpBuilder &b, scf::ParallelOp loop, ValueRange ivs, Value j) {
  IRMapping mapping;
  SmallVector<Value> oldIvs = loop.getInductionVars();
  for (unsigned d = 0; d + 1 < oldIvs.size(); ++d)
    mapping.map(oldIvs[d], ivs[d]);
  mapping.map(oldIvs.back(), j);
  for (Operation &op : loop.getBody()->without_terminator())
    b.clone(op, mapping);
}

/// Emits the loop's body on vector<lanes> at [j0, j0 + lanes).
void emitVectorBody(OpBuilder &b, StreamPlan plan, ValueRange ivs, Value j0,
                    int64_t alignment) {
  scf::ParallelOp loop = plan.loop;
  Location loc = loop.getLoc();
  int64_t lanes = plan.lanes;
  SmallVector<Value> oldIvs = loop.getInductionVars();
  DenseMap<Value, Value> vectors;
  auto indicesAt = [&](Operation *op) {
    SmallVector<Value> indices;
    for (Value index : indicesOf(op)) {
      if (index == oldIvs.back())
        indices.push_back(j0);
      else if (auto it = llvm::find(oldIvs, index); it != oldIvs.end())
        indices.push_back(ivs[it - oldIvs.begin()]);
      else
        indices.push_back(index);
    }
    return indices;
  };
  auto vectorOf = [&](Value value) {
    auto it = vectors.find(value);
    if (it != vectors.end())
      return it->second;
    // Defined outside the loop: broadcast once.
    auto type = VectorType::get({lanes}, value.getType());
    Value splat = vector::BroadcastOp::create(b, loc, type, value);
    vectors[value] = splat;
    return splat;
  };
  for (Operation &op : loop.getBody()->without_terminator()) {
    if (auto load = dyn_cast<memref::LoadOp>(op)) {
      SmallVector<Value> indices = indicesAt(&op);
      auto type = VectorType::get({lanes}, load.getType());
      bool alongJ = !load.getIndices().empty() && load.getIndices().back() == oldIvs.back();
      if (alongJ) {
        vectors[load.getResult()] =
            vector::LoadOp::create(b, loc, type, load.getMemRef(), indices);
      } else {
        Value scalar = memref::LoadOp::create(b, loc, load.getMemRef(), indices);
        vectors[load.getResult()] = vector::BroadcastOp::create(b, loc, type, scalar);
      }
      continue;
    }
    if (auto store = dyn_cast<memref::StoreOp>(op)) {
      SmallVector<Value> indices = indicesAt(&op);
      Value value = vectorOf(store.getValueToStore());
      if (store == plan.streamed)
        vector::StoreOp::create(b, loc, value, store.getMemRef(), indices,
                                /*nontemporal=*/true, llvm::MaybeAlign(alignment));
      else
        vector::StoreOp::create(b, loc, value, store.getMemRef(), indices);
      continue;
    }
    if (op.hasTrait<OpTrait::ConstantLike>()) {
      Operation *constant = b.clone(op);
      vectors[op.getResult(0)] = vectorOf(constant->getResult(0));
      continue;
    }
    // An element-wise op: a clone keeps its properties (fast-math flags,
    // predicates); only operands and result types change.
    IRMapping mapping;
    for (Value operand : op.getOperands())
      mapping.map(operand, vectorOf(operand));
    Operation *vectorOp = b.clone(op, mapping);
    for (Value result : vectorOp->getResults())
      result.setType(VectorType::get({lanes}, result.getType()));
    for (auto [old, result] : llvm::zip(op.getResults(), vectorOp->getResults()))
      vectors[old] = result;
  }
}

/// The byte address of `memref[indices]` (indices of a strided memref).
Value addressOf(OpBuilder &b, Location loc, Value memref, ValueRange indices,
                int64_t elementBytes) {
  auto metadata = memref::ExtractStridedMetadataOp::create(b, loc, memref);
  Value linear = metadata.getOffset();
  for (auto [index, stride] : llvm::zip(indices, metadata.getStrides())) {
    Value term = arith::MulIOp::create(b, loc, index, stride);
    linear = arith::AddIOp::create(b, loc, linear, term);
  }
  Value base = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, memref);
  Value bytes = arith::ConstantIndexOp::create(b, loc, elementBytes);
  Value offset = arith::MulIOp::create(b, loc, linear, bytes);
  return arith::AddIOp::create(b, loc, base, offset);
}

void stream(StreamPlan plan, int64_t thresholdBytes) {
  scf::ParallelOp old = plan.loop;
  Location loc = old.getLoc();
  OpBuilder b(old);
  Value out = plan.streamed.getMemRef();
  auto outType = plan.streamed.getMemRefType();
  int64_t elementBytes = outType.getElementType().getIntOrFloatBitWidth() / 8;
  int64_t alignment = plan.lanes * elementBytes;

  // The whole output's bytes (every chunk of a call sees the same buffer),
  // and an element-aligned base (always, in practice; checked because an
  // aligned non-temporal store to a misaligned address faults).
  Value size = arith::ConstantIndexOp::create(b, loc, elementBytes);
  for (int64_t d = 0; d < outType.getRank(); ++d)
    size = arith::MulIOp::create(b, loc, size, b.createOrFold<memref::DimOp>(loc, out, d));
  Value threshold = arith::ConstantIndexOp::create(b, loc, thresholdBytes);
  Value large = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, size, threshold);
  Value base = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, out);
  Value elementMask = arith::ConstantIndexOp::create(b, loc, elementBytes - 1);
  Value misaligned = arith::AndIOp::create(b, loc, base, elementMask);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value aligned = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, misaligned, zero);
  Value streaming = arith::AndIOp::create(b, loc, large, aligned);
  auto branch = scf::IfOp::create(b, loc, streaming, /*withElseRegion=*/true);

  // The old loop, as it was, when the output is small.
  old->moveBefore(branch.elseBlock()->getTerminator());

  OpBuilder then = branch.getThenBodyBuilder();
  unsigned dims = old.getNumLoops();
  Value lbJ = old.getLowerBound().back(), ubJ = old.getUpperBound().back();
  auto emitRow = [&](OpBuilder &rb, ValueRange rowIvs) {
    Value one = arith::ConstantIndexOp::create(rb, loc, 1);
    Value lanes = arith::ConstantIndexOp::create(rb, loc, plan.lanes);
    // Indices of the streamed store at J = lbJ.
    SmallVector<Value> indices;
    SmallVector<Value> oldIvs = old.getInductionVars();
    for (Value index : plan.streamed.getIndices()) {
      if (index == oldIvs.back())
        indices.push_back(lbJ);
      else if (auto it = llvm::find(oldIvs, index); it != oldIvs.end())
        indices.push_back(rowIvs[it - oldIvs.begin()]);
      else
        indices.push_back(index);
    }
    Value address = addressOf(rb, loc, out, indices, elementBytes);
    // Elements before the first vector-aligned address.
    Value alignMask = arith::ConstantIndexOp::create(rb, loc, alignment - 1);
    Value negated = arith::SubIOp::create(rb, loc, arith::ConstantIndexOp::create(rb, loc, 0), address);
    Value padBytes = arith::AndIOp::create(rb, loc, negated, alignMask);
    Value pad = arith::DivUIOp::create(
        rb, loc, padBytes, arith::ConstantIndexOp::create(rb, loc, elementBytes));
    Value headEnd = arith::MinSIOp::create(rb, loc, arith::AddIOp::create(rb, loc, lbJ, pad), ubJ);
    Value vectorCount = arith::DivUIOp::create(rb, loc, arith::SubIOp::create(rb, loc, ubJ, headEnd), lanes);
    Value vectorEnd = arith::AddIOp::create(rb, loc, headEnd, arith::MulIOp::create(rb, loc, vectorCount, lanes));

    auto scalarLoop = [&](Value from, Value to) {
      auto loop = scf::ForOp::create(rb, loc, from, to, one);
      OpBuilder body = OpBuilder::atBlockBegin(loop.getBody());
      emitScalarBody(body, old, rowIvs, loop.getInductionVar());
    };
    scalarLoop(lbJ, headEnd);
    auto vectorLoop = scf::ForOp::create(rb, loc, headEnd, vectorEnd, lanes);
    OpBuilder body = OpBuilder::atBlockBegin(vectorLoop.getBody());
    emitVectorBody(body, plan, rowIvs, vectorLoop.getInductionVar(), alignment);
    scalarLoop(vectorEnd, ubJ);
  };
  if (dims == 1) {
    emitRow(then, ValueRange());
  } else {
    auto rows = scf::ParallelOp::create(then, loc, old.getLowerBound().drop_back(),
                                        old.getUpperBound().drop_back(),
                                        old.getStep().drop_back());
    OpBuilder rb = OpBuilder::atBlockBegin(rows.getBody());
    emitRow(rb, rows.getInductionVars());
  }
  // Non-temporal stores are weakly ordered: drain them before the kernel
  // returns (and the pool reports the chunk done to another thread).
  LLVM::CallIntrinsicOp::create(then, loc, then.getStringAttr("llvm.x86.sse.sfence"),
                                ValueRange());
}

struct StreamingStores : ember::impl::EmberStreamingStoresBase<StreamingStores> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<StreamPlan> plans;
    getOperation().walk([&](scf::ParallelOp loop) {
      if (std::optional<StreamPlan> plan = planStreaming(loop))
        plans.push_back(*plan);
    });
    for (StreamPlan plan : plans)
      stream(plan, static_cast<int64_t>(thresholdMiB) << 20);
  }
};

} // namespace
