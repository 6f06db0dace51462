//===- Kernelize.cpp - bufferized linalg ops to gpu.launch kernels ---------===//
//
// One gpu.launch per linalg op, with constant block sizes (ROCDL would turn
// a `gpu.block_dim` into a call into ROCm's device libraries) and every
// operand passed as a 1-D view of its base buffer plus offset and strides
// (SPIR-V has no dynamic multi-dimensional buffers; NVVM/ROCDL get one
// pointer per buffer). Three kernel shapes:
//
//   pointwise   one thread per output element, reduced dims looped inside
//   rowreduce   one block per row of a reduction over the innermost loop
//               dim, a tree in workgroup memory
//   matmul      16x16 output tiles, A/B tiles staged in workgroup memory
//
// Grid extents are computed on the host as `min(ceildiv(w, d), max)` from
// a value `w` the kernel also receives, so the launch metadata can state
// the grid as a rule over the kernel's arguments; kernels recompute the
// same extent instead of reading gpu.grid_dim.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Gpu/Passes.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Affine/Utils.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/TypeSwitch.h"

namespace ember::gpu {
#define GEN_PASS_DEF_EMBERGPUKERNELIZE
#define GEN_PASS_DEF_EMBERGPUSINKINTOLAUNCHES
#include "ember/Compiler/Gpu/Passes.h.inc"
} // namespace ember::gpu

using namespace mlir;
using namespace ember::gpu;

namespace {

Value cst(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}
Value mul(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::MulIOp::create(b, loc, x, y);
}
Value add(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::AddIOp::create(b, loc, x, y);
}
/// min(ceildiv(w, divisor), max): a grid extent (the metadata reads this
/// exact form back).
Value gridExtent(OpBuilder &b, Location loc, Value w, int64_t divisor,
                 int64_t max) {
  Value blocks = divisor == 1 ? w
                              : Value(arith::CeilDivUIOp::create(
                                    b, loc, w, cst(b, loc, divisor)));
  return arith::MinUIOp::create(b, loc, blocks, cst(b, loc, max));
}

/// A buffer as kernels see it: a 1-D, offset-0 view of its base buffer,
/// and its offset and strides in elements. Scalars (a fill's value) have
/// no view.
struct FlatOperand {
  Value data;
  Value offset;
  SmallVector<Value> strides;
  Value scalar;
};

FlatOperand flatten(OpBuilder &b, Location loc, Value value) {
  FlatOperand flat;
  auto type = dyn_cast<MemRefType>(value.getType());
  if (!type) {
    flat.scalar = value;
    return flat;
  }
  auto meta = memref::ExtractStridedMetadataOp::create(b, loc, value);
  flat.offset = meta.getOffset();
  flat.strides.assign(meta.getStrides().begin(), meta.getStrides().end());
  // One past the last element reached (strides are never negative here).
  Value extent = add(b, loc, flat.offset, cst(b, loc, 1));
  for (auto [size, stride] : llvm::zip(meta.getSizes(), meta.getStrides()))
    extent = add(b, loc, extent, mul(b, loc, size, stride));
  auto flatType = MemRefType::get({ShapedType::kDynamic}, type.getElementType());
  flat.data = memref::ReinterpretCastOp::create(
      b, loc, flatType, meta.getBaseBuffer(), OpFoldResult(b.getIndexAttr(0)),
      ArrayRef<OpFoldResult>{extent}, ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
  return flat;
}

/// The element index of `map(dims)` in `flat`.
Value elementIndex(OpBuilder &b, Location loc, AffineMap map, ValueRange dims,
                   const FlatOperand &flat) {
  Value index = flat.offset;
  for (auto [expr, stride] : llvm::zip(map.getResults(), flat.strides)) {
    Value coord;
    if (auto dim = dyn_cast<AffineDimExpr>(expr)) {
      coord = dims[dim.getPosition()];
    } else if (auto constant = dyn_cast<AffineConstantExpr>(expr)) {
      if (constant.getValue() == 0)
        continue;
      coord = cst(b, loc, constant.getValue());
    } else {
      coord = affine::expandAffineExpr(b, loc, expr, dims, {});
    }
    index = add(b, loc, index, mul(b, loc, coord, stride));
  }
  return index;
}

Value loadOperand(OpBuilder &b, Location loc, AffineMap map, ValueRange dims,
                  const FlatOperand &flat) {
  if (flat.scalar)
    return flat.scalar;
  return memref::LoadOp::create(b, loc, flat.data,
                                elementIndex(b, loc, map, dims, flat));
}

/// Row-major delinearization of `linear` over `sizes`.
SmallVector<Value> delinearize(OpBuilder &b, Location loc, Value linear,
                               ArrayRef<Value> sizes) {
  SmallVector<Value> coords(sizes.size());
  for (int64_t i = sizes.size() - 1; i >= 0; --i) {
    if (i == 0) {
      coords[i] = linear;
      break;
    }
    coords[i] = arith::RemUIOp::create(b, loc, linear, sizes[i]);
    linear = arith::DivUIOp::create(b, loc, linear, sizes[i]);
  }
  return coords;
}

Value product(OpBuilder &b, Location loc, ArrayRef<Value> values) {
  Value result = cst(b, loc, 1);
  for (Value v : values)
    result = mul(b, loc, result, v);
  return result;
}

/// A gpu.launch named `name` with constant block sizes; the insertion
/// point is left inside its body, before the terminator.
gpu::LaunchOp createLaunch(OpBuilder &b, Location loc,
                           std::array<Value, 3> grid,
                           std::array<int64_t, 3> block, TypeRange workgroup,
                           StringRef name) {
  auto symbol = FlatSymbolRefAttr::get(b.getContext(), name);
  auto launch = gpu::LaunchOp::create(
      b, loc, grid[0], grid[1], grid[2], cst(b, loc, block[0]),
      cst(b, loc, block[1]), cst(b, loc, block[2]),
      /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
      /*asyncDependencies=*/{}, workgroup, /*privateAttributions=*/{},
      /*clusterSizeX=*/nullptr, nullptr, nullptr, symbol, symbol);
  Block &body = launch.getBody().front();
  b.setInsertionPointToEnd(&body);
  gpu::TerminatorOp::create(b, loc);
  b.setInsertionPointToStart(&body);
  return launch;
}

/// Clones the body of `op` for one iteration point: `inputs` and `outputs`
/// are the block arguments' values (null for unused outputs); returns the
/// yielded values. `skip` is not cloned.
SmallVector<Value> cloneBody(OpBuilder &b, linalg::GenericOp op,
                             ValueRange dims, ValueRange inputs,
                             ValueRange outputs, IRMapping &map,
                             Operation *skip = nullptr) {
  Block &block = op.getRegion().front();
  for (auto [arg, value] : llvm::zip(block.getArguments(), llvm::concat<const Value>(inputs, outputs)))
    if (value)
      map.map(arg, value);
  for (Operation &inner : block.without_terminator()) {
    if (&inner == skip)
      continue;
    if (auto index = dyn_cast<linalg::IndexOp>(inner)) {
      map.map(index.getResult(), dims[index.getDim()]);
      continue;
    }
    b.clone(inner, map);
  }
  SmallVector<Value> results;
  for (Value yielded : block.getTerminator()->getOperands())
    results.push_back(map.lookupOrDefault(yielded));
  return results;
}

/// The loop extents of `op` as host index values.
SmallVector<Value> loopSizes(OpBuilder &b, linalg::GenericOp op) {
  SmallVector<Value> sizes;
  for (Range range : cast<linalg::LinalgOp>(op.getOperation())
                         .createLoopRanges(b, op.getLoc()))
    sizes.push_back(getValueOrCreateConstantIndexOp(b, op.getLoc(), range.size));
  return sizes;
}

/// The reduction's combiner: the yielded `op(x, out)`.
struct Combiner {
  Operation *op = nullptr;
  unsigned valuePos = 0;
  arith::AtomicRMWKind kind = arith::AtomicRMWKind::addf;
};

std::optional<Combiner> matchCombiner(linalg::GenericOp op) {
  if (op.getNumDpsInits() != 1)
    return std::nullopt;
  Block &block = op.getRegion().front();
  Value yielded = block.getTerminator()->getOperand(0);
  Operation *def = yielded.getDefiningOp();
  BlockArgument out = block.getArgument(op.getNumDpsInputs());
  if (!def || def->getBlock() != &block || def->getNumOperands() != 2 ||
      !out.hasOneUse() || *out.getUsers().begin() != def)
    return std::nullopt;
  Combiner combiner;
  combiner.op = def;
  combiner.valuePos = def->getOperand(0) == out ? 1 : 0;
  std::optional<arith::AtomicRMWKind> kind =
      llvm::TypeSwitch<Operation *, std::optional<arith::AtomicRMWKind>>(def)
          .Case([](arith::AddFOp) { return arith::AtomicRMWKind::addf; })
          .Case([](arith::MulFOp) { return arith::AtomicRMWKind::mulf; })
          .Case([](arith::MaximumFOp) { return arith::AtomicRMWKind::maximumf; })
          .Case([](arith::MinimumFOp) { return arith::AtomicRMWKind::minimumf; })
          .Case([](arith::MaxNumFOp) { return arith::AtomicRMWKind::maxnumf; })
          .Case([](arith::MinNumFOp) { return arith::AtomicRMWKind::minnumf; })
          .Case([](arith::AddIOp) { return arith::AtomicRMWKind::addi; })
          .Case([](arith::MulIOp) { return arith::AtomicRMWKind::muli; })
          .Case([](arith::MaxSIOp) { return arith::AtomicRMWKind::maxs; })
          .Case([](arith::MinSIOp) { return arith::AtomicRMWKind::mins; })
          .Case([](arith::MaxUIOp) { return arith::AtomicRMWKind::maxu; })
          .Case([](arith::MinUIOp) { return arith::AtomicRMWKind::minu; })
          .Case([](arith::OrIOp) { return arith::AtomicRMWKind::ori; })
          .Case([](arith::AndIOp) { return arith::AtomicRMWKind::andi; })
          .Default([](Operation *) { return std::nullopt; });
  if (!kind)
    return std::nullopt;
  combiner.kind = *kind;
  return combiner;
}

/// `combiner(value, acc)` as a clone of the combiner op.
Value combine(OpBuilder &b, const Combiner &combiner, Value value, Value acc) {
  IRMapping map;
  Operation *op = combiner.op;
  map.map(op->getOperand(combiner.valuePos), value);
  map.map(op->getOperand(1 - combiner.valuePos), acc);
  return b.clone(*op, map)->getResult(0);
}

/// The dims of a contraction C(batch, i, j) += A(.., i, k) * B(.., k, j).
struct Contraction {
  unsigned i = 0, j = 0, k = 0;
  SmallVector<unsigned> batch;
};

std::optional<Contraction> matchContraction(linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      op.getNumReductionLoops() != 1 || op.getNumParallelLoops() < 2)
    return std::nullopt;
  for (OpOperand &operand : op->getOpOperands())
    if (!isa<MemRefType>(operand.get().getType()) ||
        !op.getMatchingIndexingMap(&operand).isProjectedPermutation())
      return std::nullopt;
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  AffineMap out = maps[2];
  if (out.getNumResults() != op.getNumParallelLoops())
    return std::nullopt;
  Contraction c;
  SmallVector<unsigned> reductions;
  op.getReductionDims(reductions);
  c.k = reductions.front();
  c.i = out.getDimPosition(out.getNumResults() - 2);
  c.j = out.getDimPosition(out.getNumResults() - 1);
  auto uses = [](AffineMap map, unsigned dim) {
    return map.isFunctionOfDim(dim);
  };
  if (!uses(maps[0], c.i) || !uses(maps[0], c.k) || uses(maps[0], c.j) ||
      !uses(maps[1], c.k) || !uses(maps[1], c.j) || uses(maps[1], c.i))
    return std::nullopt;
  for (unsigned r = 0; r + 2 < out.getNumResults(); ++r)
    c.batch.push_back(out.getDimPosition(r));
  return c;
}

class Kernelizer {
public:
  Kernelizer(func::FuncOp func) : func(func) {}

  LogicalResult run(linalg::GenericOp op) {
    OpBuilder b(op);
    if (llvm::any_of(op->getOperands(), [](Value v) {
          return isa<RankedTensorType>(v.getType());
        }))
      return op.emitOpError("has tensor operands: bufferize before ember-gpu-kernelize");
    if (std::optional<Contraction> c = matchContraction(op))
      buildMatmul(b, op, *c);
    else if (std::optional<Combiner> combiner = rowReduction(op))
      buildRowReduce(b, op, *combiner);
    else
      buildPointwise(b, op);
    op.erase();
    return success();
  }

private:
  std::string nextName(StringRef kind) {
    return (func.getSymName() + "_" + kind + Twine(counter++)).str();
  }

  SmallVector<FlatOperand> flattenAll(OpBuilder &b, linalg::GenericOp op) {
    SmallVector<FlatOperand> flats;
    for (Value operand : op->getOperands())
      flats.push_back(flatten(b, op.getLoc(), operand));
    return flats;
  }

  /// A reduction over the innermost loop dim only, with a known combiner.
  std::optional<Combiner> rowReduction(linalg::GenericOp op) {
    SmallVector<unsigned> reductions;
    op.getReductionDims(reductions);
    if (reductions.size() != 1 || reductions.front() != op.getNumLoops() - 1)
      return std::nullopt;
    return matchCombiner(op);
  }

  void buildPointwise(OpBuilder &b, linalg::GenericOp op) {
    Location loc = op.getLoc();
    SmallVector<Value> sizes = loopSizes(b, op);
    SmallVector<FlatOperand> flats = flattenAll(b, op);
    SmallVector<unsigned> parallel, reduction;
    op.getParallelDims(parallel);
    op.getReductionDims(reduction);
    SmallVector<Value> parallelSizes;
    for (unsigned d : parallel)
      parallelSizes.push_back(sizes[d]);
    Value n = product(b, loc, parallelSizes);
    Value grid = gridExtent(b, loc, n, kBlockSize, kMaxGrid);
    Value one = cst(b, loc, 1);
    gpu::LaunchOp launch = createLaunch(b, loc, {grid, one, one},
                                        {kBlockSize, 1, 1}, {},
                                        nextName("pointwise"));
    Value blocks = gridExtent(b, loc, n, kBlockSize, kMaxGrid);
    Value first = add(b, loc, mul(b, loc, launch.getBlockIds().x, cst(b, loc, kBlockSize)),
                      launch.getThreadIds().x);
    Value step = mul(b, loc, blocks, cst(b, loc, kBlockSize));
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    unsigned numInputs = op.getNumDpsInputs();
    scf::ForOp::create(
        b, loc, first, n, step, ValueRange{},
        [&](OpBuilder &b, Location loc, Value linear, ValueRange) {
          SmallVector<Value> dims(op.getNumLoops());
          for (auto [d, coord] : llvm::zip(parallel, delinearize(b, loc, linear, parallelSizes)))
            dims[d] = coord;
          Block &block = op.getRegion().front();
          // Outputs read by the body (reductions, accumulations).
          SmallVector<Value> outputs;
          for (unsigned o = 0; o < op.getNumDpsInits(); ++o) {
            bool used = !block.getArgument(numInputs + o).use_empty();
            outputs.push_back(used ? loadOperand(b, loc, maps[numInputs + o], dims,
                                                 flats[numInputs + o])
                                   : Value());
          }
          std::function<SmallVector<Value>(OpBuilder &, unsigned, ValueRange)>
              loops = [&](OpBuilder &b, unsigned level,
                          ValueRange carried) -> SmallVector<Value> {
            if (level == reduction.size()) {
              SmallVector<Value> inputs;
              for (unsigned i = 0; i < numInputs; ++i)
                inputs.push_back(loadOperand(b, loc, maps[i], dims, flats[i]));
              IRMapping map;
              return cloneBody(b, op, dims, inputs, carried, map);
            }
            auto loop = scf::ForOp::create(
                b, loc, cst(b, loc, 0), sizes[reduction[level]], cst(b, loc, 1),
                carried,
                [&](OpBuilder &b, Location loc, Value iv, ValueRange args) {
                  dims[reduction[level]] = iv;
                  scf::YieldOp::create(b, loc, loops(b, level + 1, args));
                });
            return SmallVector<Value>(loop.getResults());
          };
          SmallVector<Value> results = loops(b, 0, outputs);
          for (auto [o, result] : llvm::enumerate(results)) {
            const FlatOperand &flat = flats[numInputs + o];
            memref::StoreOp::create(
                b, loc, result, flat.data,
                elementIndex(b, loc, maps[numInputs + o], dims, flat));
          }
          scf::YieldOp::create(b, loc);
        });
  }

  void buildRowReduce(OpBuilder &b, linalg::GenericOp op,
                      const Combiner &combiner) {
    Location loc = op.getLoc();
    SmallVector<Value> sizes = loopSizes(b, op);
    SmallVector<FlatOperand> flats = flattenAll(b, op);
    unsigned r = op.getNumLoops() - 1;
    SmallVector<Value> rowSizes(sizes.begin(), sizes.end() - 1);
    Value rows = product(b, loc, rowSizes);
    Value length = sizes[r];
    Value grid = gridExtent(b, loc, rows, 1, kMaxGrid);
    Value one = cst(b, loc, 1);
    Type type = combiner.op->getResult(0).getType();
    auto shared = MemRefType::get(
        {kBlockSize}, type, MemRefLayoutAttrInterface{},
        ::mlir::gpu::AddressSpaceAttr::get(b.getContext(),
                                           ::mlir::gpu::AddressSpace::Workgroup));
    gpu::LaunchOp launch =
        createLaunch(b, loc, {grid, one, one}, {kBlockSize, 1, 1},
                     TypeRange{shared}, nextName("rowreduce"));
    Value scratch = launch.getWorkgroupAttributions().front();
    Value tid = launch.getThreadIds().x;
    Value blocks = gridExtent(b, loc, rows, 1, kMaxGrid);
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    unsigned numInputs = op.getNumDpsInputs();
    Value identity = arith::getIdentityValue(combiner.kind, type, b, loc);
    scf::ForOp::create(
        b, loc, launch.getBlockIds().x, rows, blocks, ValueRange{},
        [&](OpBuilder &b, Location loc, Value row, ValueRange) {
          SmallVector<Value> dims = delinearize(b, loc, row, rowSizes);
          dims.push_back(Value());
          // Each thread folds every 256th element of the row.
          auto strided = scf::ForOp::create(
              b, loc, tid, length, cst(b, loc, kBlockSize), ValueRange{identity},
              [&](OpBuilder &b, Location loc, Value k, ValueRange acc) {
                dims[r] = k;
                SmallVector<Value> inputs;
                for (unsigned i = 0; i < numInputs; ++i)
                  inputs.push_back(loadOperand(b, loc, maps[i], dims, flats[i]));
                IRMapping map;
                cloneBody(b, op, dims, inputs, {Value()}, map, combiner.op);
                Value x = map.lookupOrDefault(
                    combiner.op->getOperand(combiner.valuePos));
                scf::YieldOp::create(b, loc, combine(b, combiner, x, acc[0]));
              });
          memref::StoreOp::create(b, loc, strided.getResult(0), scratch, tid);
          gpu::BarrierOp::create(b, loc);
          for (int64_t half = kBlockSize / 2; half >= 1; half /= 2) {
            Value active = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                                 tid, cst(b, loc, half));
            scf::IfOp::create(b, loc, active, [&](OpBuilder &b, Location loc) {
              Value mine = memref::LoadOp::create(b, loc, scratch, tid);
              Value other = memref::LoadOp::create(
                  b, loc, scratch, add(b, loc, tid, cst(b, loc, half)));
              memref::StoreOp::create(b, loc, combine(b, combiner, other, mine),
                                      scratch, tid);
              scf::YieldOp::create(b, loc);
            });
            gpu::BarrierOp::create(b, loc);
          }
          Value leader = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                               tid, cst(b, loc, 0));
          scf::IfOp::create(b, loc, leader, [&](OpBuilder &b, Location loc) {
            const FlatOperand &out = flats[numInputs];
            Value index = elementIndex(b, loc, maps[numInputs], dims, out);
            Value total = memref::LoadOp::create(b, loc, scratch, cst(b, loc, 0));
            Value init = memref::LoadOp::create(b, loc, out.data, index);
            memref::StoreOp::create(b, loc, combine(b, combiner, total, init),
                                    out.data, index);
            scf::YieldOp::create(b, loc);
          });
          // The next row reuses the scratch.
          gpu::BarrierOp::create(b, loc);
          scf::YieldOp::create(b, loc);
        });
  }

  void buildMatmul(OpBuilder &b, linalg::GenericOp op, const Contraction &c) {
    Location loc = op.getLoc();
    SmallVector<Value> sizes = loopSizes(b, op);
    SmallVector<FlatOperand> flats = flattenAll(b, op);
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    SmallVector<Value> batchSizes;
    for (unsigned d : c.batch)
      batchSizes.push_back(sizes[d]);
    Value m = sizes[c.i], n = sizes[c.j], kSize = sizes[c.k];
    Value batch = product(b, loc, batchSizes);
    Value gridX = gridExtent(b, loc, n, kTile, kMaxGrid);
    Value gridY = gridExtent(b, loc, m, kTile, kMaxGrid);
    Value gridZ = gridExtent(b, loc, batch, 1, kMaxGrid);
    auto workgroup = ::mlir::gpu::AddressSpaceAttr::get(
        b.getContext(), ::mlir::gpu::AddressSpace::Workgroup);
    auto tileType = [&](Value operand) {
      return MemRefType::get({kTile, kTile},
                             cast<MemRefType>(operand.getType()).getElementType(),
                             MemRefLayoutAttrInterface{}, workgroup);
    };
    Type aTile = tileType(op.getDpsInputs()[0]);
    Type bTile = tileType(op.getDpsInputs()[1]);
    gpu::LaunchOp launch =
        createLaunch(b, loc, {gridX, gridY, gridZ}, {kTile, kTile, 1},
                     TypeRange{aTile, bTile}, nextName("matmul"));
    Value aShared = launch.getWorkgroupAttributions()[0];
    Value bShared = launch.getWorkgroupAttributions()[1];
    Value tx = launch.getThreadIds().x, ty = launch.getThreadIds().y;
    Value tile = cst(b, loc, kTile);
    Value row = add(b, loc, mul(b, loc, launch.getBlockIds().y, tile), ty);
    Value col = add(b, loc, mul(b, loc, launch.getBlockIds().x, tile), tx);
    SmallVector<Value> dims(op.getNumLoops());
    // Clamped, which also makes `batch` a kernel argument, so the metadata
    // can state grid z over it.
    Value batchIndex = arith::MinUIOp::create(
        b, loc, launch.getBlockIds().z,
        arith::SubIOp::create(b, loc, batch, cst(b, loc, 1)));
    for (auto [d, coord] :
         llvm::zip(c.batch, delinearize(b, loc, batchIndex, batchSizes)))
      dims[d] = coord;
    auto less = [&](Value x, Value y) -> Value {
      return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, y);
    };
    Value inRow = less(row, m), inCol = less(col, n);
    Value one = cst(b, loc, 1);
    // Threads past the edge still stage tiles; they read a clamped element.
    dims[c.i] = arith::MinUIOp::create(b, loc, row, arith::SubIOp::create(b, loc, m, one));
    dims[c.j] = arith::MinUIOp::create(b, loc, col, arith::SubIOp::create(b, loc, n, one));
    dims[c.k] = cst(b, loc, 0);
    Value init = loadOperand(b, loc, maps[2], dims, flats[2]);
    auto guardedLoad = [&](OpBuilder &b, Location loc, Value inside,
                           unsigned operand) -> Value {
      Type type = cast<MemRefType>(op->getOperand(operand).getType()).getElementType();
      auto guarded = scf::IfOp::create(
          b, loc, inside,
          [&](OpBuilder &b, Location loc) {
            scf::YieldOp::create(
                b, loc, loadOperand(b, loc, maps[operand], dims, flats[operand]));
          },
          [&](OpBuilder &b, Location loc) {
            scf::YieldOp::create(
                b, loc, Value(arith::ConstantOp::create(
                            b, loc, cast<TypedAttr>(b.getZeroAttr(type)))));
          });
      return guarded.getResult(0);
    };
    auto steps = scf::ForOp::create(
        b, loc, cst(b, loc, 0), kSize, tile, ValueRange{init},
        [&](OpBuilder &b, Location loc, Value k0, ValueRange acc) {
          // A[row, k0 + tx] and B[k0 + ty, col] into the tiles.
          Value ka = add(b, loc, k0, tx), kb = add(b, loc, k0, ty);
          dims[c.k] = ka;
          Value aIn = arith::AndIOp::create(b, loc, inRow, less(ka, kSize));
          memref::StoreOp::create(b, loc, guardedLoad(b, loc, aIn, 0), aShared,
                                  ValueRange{ty, tx});
          dims[c.k] = kb;
          Value bIn = arith::AndIOp::create(b, loc, inCol, less(kb, kSize));
          memref::StoreOp::create(b, loc, guardedLoad(b, loc, bIn, 1), bShared,
                                  ValueRange{ty, tx});
          gpu::BarrierOp::create(b, loc);
          Value depth = arith::MinUIOp::create(b, loc, tile,
                                               arith::SubIOp::create(b, loc, kSize, k0));
          auto inner = scf::ForOp::create(
              b, loc, cst(b, loc, 0), depth, one, acc,
              [&](OpBuilder &b, Location loc, Value kk, ValueRange acc) {
                Value x = memref::LoadOp::create(b, loc, aShared, ValueRange{ty, kk});
                Value y = memref::LoadOp::create(b, loc, bShared, ValueRange{kk, tx});
                IRMapping map;
                scf::YieldOp::create(
                    b, loc, cloneBody(b, op, dims, {x, y}, acc, map));
              });
          gpu::BarrierOp::create(b, loc);
          scf::YieldOp::create(b, loc, inner.getResults());
        });
    Value inside = arith::AndIOp::create(b, loc, inRow, inCol);
    scf::IfOp::create(b, loc, inside, [&](OpBuilder &b, Location loc) {
      dims[c.i] = row;
      dims[c.j] = col;
      const FlatOperand &out = flats[2];
      memref::StoreOp::create(b, loc, steps.getResult(0), out.data,
                              elementIndex(b, loc, maps[2], dims, out));
      scf::YieldOp::create(b, loc);
    });
  }

  func::FuncOp func;
  unsigned counter = 0;
};

struct EmberGpuKernelize
    : ember::gpu::impl::EmberGpuKernelizeBase<EmberGpuKernelize> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    IRRewriter rewriter(func.getContext());
    // Copies are point-wise kernels too.
    SmallVector<memref::CopyOp> copies;
    func.walk([&](memref::CopyOp copy) { copies.push_back(copy); });
    for (memref::CopyOp copy : copies) {
      rewriter.setInsertionPoint(copy);
      linalg::CopyOp::create(rewriter, copy.getLoc(), copy.getSource(),
                             copy.getTarget());
      rewriter.eraseOp(copy);
    }
    SmallVector<linalg::LinalgOp> ops;
    func.walk([&](linalg::LinalgOp op) { ops.push_back(op); });
    Kernelizer kernelizer(func);
    for (linalg::LinalgOp op : ops) {
      auto generic = dyn_cast<linalg::GenericOp>(op.getOperation());
      if (!generic) {
        rewriter.setInsertionPoint(op);
        FailureOr<linalg::GenericOp> generalized =
            linalg::generalizeNamedOp(rewriter, op);
        if (failed(generalized)) {
          op.emitOpError("cannot be generalized for ember-gpu-kernelize");
          return signalPassFailure();
        }
        generic = *generalized;
      }
      if (failed(kernelizer.run(generic)))
        return signalPassFailure();
    }
  }
};

struct EmberGpuSinkIntoLaunches
    : ember::gpu::impl::EmberGpuSinkIntoLaunchesBase<EmberGpuSinkIntoLaunches> {
  void runOnOperation() override {
    getOperation().walk([](gpu::LaunchOp launch) {
      Region &body = launch.getBody();
      llvm::SetVector<Value> above;
      getUsedValuesDefinedAbove(body, above);
      OpBuilder inside = OpBuilder::atBlockBegin(&body.front());
      OpBuilder outside(launch);
      for (Value value : above) {
        Operation *def = value.getDefiningOp();
        if (def && def->hasTrait<OpTrait::ConstantLike>()) {
          Operation *copy = inside.clone(*def);
          replaceAllUsesInRegionWith(value, copy->getResult(0), body);
          continue;
        }
        auto type = dyn_cast<MemRefType>(value.getType());
        if (!type || type.getRank() != 1)
          continue;
        auto flat = MemRefType::get({ShapedType::kDynamic}, type.getElementType(),
                                    MemRefLayoutAttrInterface{},
                                    type.getMemorySpace());
        if (type == flat || !memref::CastOp::areCastCompatible(type, flat))
          continue;
        Value cast = memref::CastOp::create(outside, launch.getLoc(), flat, value);
        replaceAllUsesInRegionWith(value, cast, body);
      }
    });
  }
};

} // namespace
