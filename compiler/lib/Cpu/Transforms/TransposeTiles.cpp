//===- TransposeTiles.cpp - transposed reads in register tiles -------------===//
//
// An element-wise loop nest that reads a transposed view (`x.t() + y`,
// `x.transpose(2, 3) * 1.5`) walks its innermost loop along the output's
// contiguous dim, which is the input's strided one: every element is a new
// cache line, and LLVM's loop vectorizer can only gather. This pass cuts
// such a nest into T x T tiles over the two dims involved (I: the dim that
// is the transposed input's contiguous one; J: the innermost), and writes
// each full tile with vectors: the transposed input is read as T contiguous
// vectors along I and transposed in registers (T log2 T two-input
// shuffles, one vpermt2ps each on AVX-512), the other inputs as vectors
// along J (or broadcast scalars), and the body's element-wise ops run on
// vector<T>. Partial tiles at the edges run the original scalar body.
//
// Applies to an scf.parallel of two or more dims whose body is only
// memref loads and stores and element-wise (Vectorizable) ops on scalars,
// with every load/store index an induction variable or a value from outside
// the loop. Stores must be contiguous along J; so must every read except
// the transposed ones, which are contiguous along I. Anything else is left
// to the loop vectorizer, as before.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace ember {
#define GEN_PASS_DEF_EMBERTRANSPOSETILES
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

/// How a memory access of the body is written in a vector tile.
enum class AccessKind {
  /// Last index is J: one contiguous vector per row of the tile.
  Row,
  /// Last index is I, J elsewhere: T vectors along I, transposed.
  Transposed,
  /// J absent: a scalar per row (or per tile, without I), broadcast.
  Scalar,
};

struct Access {
  Operation *op;
  AccessKind kind;
};

struct TilePlan {
  scf::ParallelOp loop;
  unsigned dimI = 0, dimJ = 0;
  int64_t tile = 16;
  SmallVector<Access> accesses;
};

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

/// Whether the innermost dim of `type` has a static unit stride (a vector
/// load or store along it is contiguous).
bool hasUnitInnerStride(MemRefType type) {
  if (type.getRank() == 0)
    return false;
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)))
    return false;
  return strides.back() == 1;
}

/// Which induction variable (by dim) each index is, -1 for a value from
/// outside the loop; nullopt when an index is anything else or an
/// induction variable appears twice.
std::optional<SmallVector<int>> indexDims(scf::ParallelOp loop, ValueRange indices) {
  SmallVector<int> dims;
  SmallVector<Value> ivs = loop.getInductionVars();
  for (Value index : indices) {
    auto it = llvm::find(ivs, index);
    if (it != ivs.end()) {
      int dim = static_cast<int>(it - ivs.begin());
      if (llvm::is_contained(dims, dim))
        return std::nullopt;
      dims.push_back(dim);
    } else if (loop.isDefinedOutsideOfLoop(index)) {
      dims.push_back(-1);
    } else {
      return std::nullopt;
    }
  }
  return dims;
}

std::optional<TilePlan> planTiles(scf::ParallelOp loop) {
  unsigned dims = loop.getNumLoops();
  if (dims < 2 || loop.getNumResults() != 0)
    return std::nullopt;
  TilePlan plan;
  plan.loop = loop;
  plan.dimJ = dims - 1;
  SmallVector<Value> ivs = loop.getInductionVars();
  Block *body = loop.getBody();

  // The transposed dim: the last index of a load that has J elsewhere.
  std::optional<unsigned> dimI;
  unsigned widest = 0;
  for (Operation &op : body->without_terminator()) {
    if (op.getNumRegions() != 0)
      return std::nullopt;
    if (isa<memref::LoadOp, memref::StoreOp>(op)) {
      std::optional<SmallVector<int>> at = indexDims(loop, indicesOf(&op));
      if (!at || (at->empty() && isa<memref::StoreOp>(op)))
        return std::nullopt;
      if (at->empty())
        continue; // a rank-0 read (a scalar operand): broadcast
      int last = at->back();
      if (isa<memref::LoadOp>(op) && last >= 0 && last != int(plan.dimJ) &&
          llvm::is_contained(*at, int(plan.dimJ))) {
        if (dimI && *dimI != unsigned(last))
          return std::nullopt;
        dimI = last;
        Type element = cast<MemRefType>(memrefOf(&op).getType()).getElementType();
        if (!element.isIntOrFloat())
          return std::nullopt;
        widest = std::max(widest, element.getIntOrFloatBitWidth());
      }
      continue;
    }
    // Element-wise scalar ops, which never read an induction variable.
    bool constant = op.hasTrait<OpTrait::ConstantLike>();
    if (!constant && (!op.hasTrait<OpTrait::Vectorizable>() || !isMemoryEffectFree(&op)))
      return std::nullopt;
    for (Value operand : op.getOperands())
      if (llvm::is_contained(ivs, operand) || !operand.getType().isIntOrFloat())
        return std::nullopt;
    for (Type type : op.getResultTypes())
      if (!type.isIntOrFloat() || isa<IndexType>(type))
        return std::nullopt;
  }
  if (!dimI || widest > 64)
    return std::nullopt;
  plan.dimI = *dimI;
  plan.tile = widest > 32 ? 8 : 16;

  // I and J must be unit-step dims.
  for (unsigned d : {plan.dimI, plan.dimJ})
    if (getConstantIntValue(loop.getStep()[d]) != 1)
      return std::nullopt;

  for (Operation &op : body->without_terminator()) {
    if (!isa<memref::LoadOp, memref::StoreOp>(op))
      continue;
    SmallVector<int> at = *indexDims(loop, indicesOf(&op));
    auto type = cast<MemRefType>(memrefOf(&op).getType());
    bool hasI = llvm::is_contained(at, int(plan.dimI));
    bool hasJ = llvm::is_contained(at, int(plan.dimJ));
    int last = at.empty() ? -1 : at.back();
    AccessKind kind;
    if (isa<memref::StoreOp>(op)) {
      // Each row of the tile writes its own contiguous vector.
      if (last != int(plan.dimJ) || !hasI)
        return std::nullopt;
      kind = AccessKind::Row;
    } else if (last == int(plan.dimJ)) {
      kind = AccessKind::Row;
    } else if (!hasJ) {
      kind = AccessKind::Scalar;
    } else if (last == int(plan.dimI)) {
      kind = AccessKind::Transposed;
    } else {
      // Strided along J with no transposed partner.
      return std::nullopt;
    }
    if (kind != AccessKind::Scalar && !hasUnitInnerStride(type))
      return std::nullopt;
    plan.accesses.push_back({&op, kind});
  }
  return plan;
}

/// The rows `rows` (vector c holds elements (I = lane, J = c)) transposed in
/// place (vector r then holds (I = r, J = lane)): log2(T) stages; stage h
/// swaps the h x h off-diagonal blocks of every 2h x 2h block.
void transposeInRegisters(OpBuilder &b, Location loc, MutableArrayRef<Value> rows) {
  int64_t t = rows.size();
  for (int64_t h = t / 2; h >= 1; h /= 2) {
    SmallVector<int64_t> lowMask(t), highMask(t);
    for (int64_t lane = 0; lane < t; ++lane) {
      bool upper = lane & h;
      lowMask[lane] = upper ? t + lane - h : lane;
      highMask[lane] = upper ? t + lane : lane + h;
    }
    for (int64_t a = 0; a < t; ++a) {
      if (a & h)
        continue;
      Value low = rows[a], high = rows[a + h];
      rows[a] = vector::ShuffleOp::create(b, loc, low, high, lowMask);
      rows[a + h] = vector::ShuffleOp::create(b, loc, low, high, highMask);
    }
  }
}

/// Writes one full tile at (i0, j0) with vectors: each body value becomes T
/// values, one per row of the tile (the same Value in every row where it
/// does not depend on I).
void emitVectorTile(OpBuilder &b, const TilePlan &plan, ValueRange ivs, Value i0,
                    Value j0) {
  scf::ParallelOp loop = plan.loop;
  Location loc = loop.getLoc();
  int64_t t = plan.tile;
  SmallVector<Value> oldIvs = loop.getInductionVars();
  DenseMap<Value, SmallVector<Value>> rows;
  DenseMap<Operation *, AccessKind> kinds;
  for (const Access &access : plan.accesses)
    kinds[access.op] = access.kind;

  // base + k for k in [0, T): the rows' and columns' indices of the tile.
  auto offsetsFrom = [&](Value base) {
    SmallVector<Value> offsets = {base};
    for (int64_t k = 1; k < t; ++k) {
      Value step = arith::ConstantIndexOp::create(b, loc, k);
      offsets.push_back(arith::AddIOp::create(b, loc, base, step));
    }
    return offsets;
  };
  SmallVector<Value> rowIndices = offsetsFrom(i0), columnIndices = offsetsFrom(j0);
  // The indices of an access with I = i and J = j.
  auto indicesAt = [&](Operation *op, Value i, Value j) {
    SmallVector<Value> indices;
    for (Value index : indicesOf(op)) {
      if (index == oldIvs[plan.dimI])
        indices.push_back(i);
      else if (index == oldIvs[plan.dimJ])
        indices.push_back(j);
      else if (auto it = llvm::find(oldIvs, index); it != oldIvs.end())
        indices.push_back(ivs[it - oldIvs.begin()]);
      else
        indices.push_back(index);
    }
    return indices;
  };
  auto uniform = [&](Value value) { return SmallVector<Value>(t, value); };
  auto isUniform = [](ArrayRef<Value> values) {
    return llvm::all_equal(values);
  };
  // Operand rows: values from outside the loop broadcast once.
  auto operandRows = [&](Value operand) -> SmallVector<Value> {
    auto it = rows.find(operand);
    if (it != rows.end())
      return it->second;
    auto type = VectorType::get({t}, operand.getType());
    Value splat = vector::BroadcastOp::create(b, loc, type, operand);
    rows[operand] = uniform(splat);
    return rows[operand];
  };

  for (Operation &op : loop.getBody()->without_terminator()) {
    if (auto load = dyn_cast<memref::LoadOp>(op)) {
      Type element = load.getType();
      auto vectorType = VectorType::get({t}, element);
      bool hasI = llvm::is_contained(load.getIndices(), oldIvs[plan.dimI]);
      SmallVector<Value> values;
      switch (kinds[&op]) {
      case AccessKind::Row:
        for (int64_t r = 0; r < t; ++r) {
          if (!hasI && r > 0) {
            values.push_back(values.front());
            continue;
          }
          SmallVector<Value> indices = indicesAt(&op, rowIndices[r], j0);
          values.push_back(
              vector::LoadOp::create(b, loc, vectorType, load.getMemRef(), indices));
        }
        break;
      case AccessKind::Transposed:
        for (int64_t c = 0; c < t; ++c) {
          SmallVector<Value> indices = indicesAt(&op, i0, columnIndices[c]);
          values.push_back(
              vector::LoadOp::create(b, loc, vectorType, load.getMemRef(), indices));
        }
        transposeInRegisters(b, loc, values);
        break;
      case AccessKind::Scalar:
        for (int64_t r = 0; r < t; ++r) {
          if (!hasI && r > 0) {
            values.push_back(values.front());
            continue;
          }
          SmallVector<Value> indices = indicesAt(&op, rowIndices[r], j0);
          Value scalar = memref::LoadOp::create(b, loc, load.getMemRef(), indices);
          values.push_back(vector::BroadcastOp::create(b, loc, vectorType, scalar));
        }
        break;
      }
      rows[load.getResult()] = values;
      continue;
    }
    if (auto store = dyn_cast<memref::StoreOp>(op)) {
      SmallVector<Value> values = operandRows(store.getValueToStore());
      for (int64_t r = 0; r < t; ++r) {
        SmallVector<Value> indices = indicesAt(&op, rowIndices[r], j0);
        vector::StoreOp::create(b, loc, values[r], store.getMemRef(), indices);
      }
      continue;
    }
    if (op.hasTrait<OpTrait::ConstantLike>()) {
      Operation *constant = b.clone(op);
      auto type = VectorType::get({t}, constant->getResult(0).getType());
      rows[op.getResult(0)] =
          uniform(vector::BroadcastOp::create(b, loc, type, constant->getResult(0)));
      continue;
    }
    // An element-wise op, once per row (once per tile where its operands
    // are the same in every row).
    SmallVector<SmallVector<Value>> operands;
    bool sameInEveryRow = true;
    for (Value operand : op.getOperands()) {
      operands.push_back(operandRows(operand));
      sameInEveryRow &= isUniform(operands.back());
    }
    SmallVector<Type> types;
    for (Type type : op.getResultTypes())
      types.push_back(VectorType::get({t}, type));
    SmallVector<SmallVector<Value>> results(op.getNumResults());
    for (int64_t r = 0; r < t; ++r) {
      if (sameInEveryRow && r > 0) {
        for (auto &result : results)
          result.push_back(result.front());
        continue;
      }
      // A clone keeps the op's properties (fast-math flags, predicates);
      // only its operands and result types change.
      IRMapping mapping;
      for (auto [operand, values] : llvm::zip(op.getOperands(), operands))
        mapping.map(operand, values[r]);
      Operation *vectorOp = b.clone(op, mapping);
      for (auto [result, type] : llvm::zip(vectorOp->getResults(), types))
        result.setType(type);
      for (auto [result, value] : llvm::zip(results, vectorOp->getResults()))
        result.push_back(value);
    }
    for (auto [old, values] : llvm::zip(op.getResults(), results))
      rows[old] = values;
  }
}

void tile(const TilePlan &plan) {
  scf::ParallelOp old = plan.loop;
  Location loc = old.getLoc();
  OpBuilder b(old);
  Value tileSize = arith::ConstantIndexOp::create(b, loc, plan.tile);
  SmallVector<Value> steps(old.getStep());
  steps[plan.dimI] = tileSize;
  steps[plan.dimJ] = tileSize;
  auto tiled = scf::ParallelOp::create(b, loc, old.getLowerBound(), old.getUpperBound(), steps);
  OpBuilder inner = OpBuilder::atBlockBegin(tiled.getBody());
  SmallVector<Value> ivs = tiled.getInductionVars();
  Value i0 = ivs[plan.dimI], j0 = ivs[plan.dimJ];
  Value ubI = old.getUpperBound()[plan.dimI], ubJ = old.getUpperBound()[plan.dimJ];
  Value iEnd = inner.createOrFold<arith::AddIOp>(loc, i0, tileSize);
  Value jEnd = inner.createOrFold<arith::AddIOp>(loc, j0, tileSize);
  Value fullI = arith::CmpIOp::create(inner, loc, arith::CmpIPredicate::sle, iEnd, ubI);
  Value fullJ = arith::CmpIOp::create(inner, loc, arith::CmpIPredicate::sle, jEnd, ubJ);
  Value full = arith::AndIOp::create(inner, loc, fullI, fullJ);
  auto branch = scf::IfOp::create(inner, loc, full, /*withElseRegion=*/true);

  OpBuilder then = branch.getThenBodyBuilder();
  emitVectorTile(then, plan, ivs, i0, j0);

  // Edge tiles: the original body over the part of the tile in bounds.
  OpBuilder edge = branch.getElseBodyBuilder();
  Value one = arith::ConstantIndexOp::create(edge, loc, 1);
  Value iStop = edge.createOrFold<arith::MinSIOp>(loc, iEnd, ubI);
  Value jStop = edge.createOrFold<arith::MinSIOp>(loc, jEnd, ubJ);
  auto rowLoop = scf::ForOp::create(edge, loc, i0, iStop, one);
  OpBuilder rowBody = OpBuilder::atBlockBegin(rowLoop.getBody());
  auto columnLoop = scf::ForOp::create(rowBody, loc, j0, jStop, one);
  OpBuilder columnBody = OpBuilder::atBlockBegin(columnLoop.getBody());
  IRMapping mapping;
  SmallVector<Value> oldIvs = old.getInductionVars();
  for (auto [d, iv] : llvm::enumerate(oldIvs))
    mapping.map(iv, d == plan.dimI   ? rowLoop.getInductionVar()
                    : d == plan.dimJ ? columnLoop.getInductionVar()
                                     : ivs[d]);
  for (Operation &op : old.getBody()->without_terminator())
    columnBody.clone(op, mapping);
  old.erase();
}

struct TransposeTiles : ember::impl::EmberTransposeTilesBase<TransposeTiles> {
  void runOnOperation() override {
    SmallVector<TilePlan> plans;
    getOperation().walk([&](scf::ParallelOp loop) {
      if (std::optional<TilePlan> plan = planTiles(loop))
        plans.push_back(std::move(*plan));
    });
    for (const TilePlan &plan : plans)
      tile(plan);
  }
};

} // namespace
