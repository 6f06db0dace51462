//===- GpuKernelize.cpp - cooperative GPU kernels for matmul and rows -----===//
//
// The generic GPU path runs each linalg op one thread per output element.
// That is fine for element-wise work but wastes a GPU on contractions (every
// thread re-reads a row of A and a column of B from global memory) and on
// long reductions (one thread walks the whole row). This pass builds those
// two kinds of ops as explicit gpu.launch kernels whose threads cooperate
// through workgroup memory:
//
//   matmul    16x16 output tiles per block; per K step the block stages a
//             16x16 tile of A and of B in workgroup memory between barriers
//   rowreduce 256 threads per row of a reduction over the innermost dim;
//             each thread folds a strided part of the row, then a tree in
//             workgroup memory combines the 256 partial values
//
// Grids are clamped to 65535 blocks per dim (Vulkan's guaranteed minimum)
// and kernels stride over the rest, so every size runs. Buffers reach the
// kernels flat (GpuBuffers.h), as for the generic path.
//
//===----------------------------------------------------------------------===//

#include "GpuBuffers.h"
#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Affine/Utils.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/TypeSwitch.h"

namespace ember {
#define GEN_PASS_DEF_EMBERGPUKERNELIZE
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

constexpr int64_t kRowThreads = 256;
constexpr int64_t kMaxParts = 1024;
constexpr int64_t kTile = 16;
constexpr int64_t kOutTile = 64;
constexpr int64_t kMaxGrid = 65535;

/// Index arithmetic, spelled short.
struct IndexMath {
  OpBuilder &b;
  Location loc;
  Value c(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value min(Value x, Value y) { return arith::MinUIOp::create(b, loc, x, y); }
  Value ceilDiv(Value x, int64_t d) { return arith::CeilDivUIOp::create(b, loc, x, c(d)); }
  Value less(Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, y);
  }
  Value product(ArrayRef<Value> values) {
    Value result = c(1);
    for (Value v : values)
      result = mul(result, v);
    return result;
  }
  /// Row-major coordinates of `linear` over `sizes`.
  SmallVector<Value> delinearize(Value linear, ArrayRef<Value> sizes) {
    SmallVector<Value> coords(sizes.size());
    for (int64_t i = static_cast<int64_t>(sizes.size()) - 1; i > 0; --i) {
      coords[i] = arith::RemUIOp::create(b, loc, linear, sizes[i]);
      linear = arith::DivUIOp::create(b, loc, linear, sizes[i]);
    }
    if (!sizes.empty())
      coords[0] = linear;
    return coords;
  }
};

/// An operand of the kernelized op: a flat buffer, or a scalar (a fill value).
struct Operand {
  ember::FlatBuffer buffer;
  Value scalar;
  AffineMap map;

  /// The element index of `map(dims)`.
  Value index(OpBuilder &b, Location loc, ValueRange dims) const {
    SmallVector<Value> indices;
    for (AffineExpr expr : map.getResults()) {
      if (auto dim = dyn_cast<AffineDimExpr>(expr))
        indices.push_back(dims[dim.getPosition()]);
      else
        indices.push_back(affine::expandAffineExpr(b, loc, expr, dims, {}));
    }
    return ember::flatIndex(b, loc, buffer, indices);
  }
  Value load(OpBuilder &b, Location loc, ValueRange dims) const {
    if (scalar)
      return scalar;
    return memref::LoadOp::create(b, loc, buffer.flat, index(b, loc, dims));
  }
  void store(OpBuilder &b, Location loc, Value value, ValueRange dims) const {
    memref::StoreOp::create(b, loc, value, buffer.flat, index(b, loc, dims));
  }
};

/// The combiner of a reduction: the yielded `op(value, out)`.
struct Combiner {
  Operation *op = nullptr;
  unsigned valuePos = 0;
  arith::AtomicRMWKind kind = arith::AtomicRMWKind::addf;

  Value combine(OpBuilder &b, Value value, Value acc) const {
    IRMapping map;
    map.map(op->getOperand(valuePos), value);
    map.map(op->getOperand(1 - valuePos), acc);
    return b.clone(*op, map)->getResult(0);
  }
};

std::optional<Combiner> matchCombiner(linalg::GenericOp op) {
  if (op.getNumDpsInits() != 1)
    return std::nullopt;
  Block &block = op.getRegion().front();
  Operation *def = block.getTerminator()->getOperand(0).getDefiningOp();
  BlockArgument out = block.getArgument(op.getNumDpsInputs());
  if (!def || def->getBlock() != &block || def->getNumOperands() != 2 ||
      !out.hasOneUse() || *out.getUsers().begin() != def ||
      def->getOperand(0) == def->getOperand(1))
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

/// A reduction over trailing loop dims (parallel dims first, as
/// ember-parallel-dims-first orders them) whose inputs walk those dims as
/// their own last dims, in order: the reduced elements of one output are
/// contiguous when the input is, so consecutive threads read consecutive
/// elements. Returns the first reduced loop dim. A column reduction stays
/// one thread per output, which reads coalesced across threads instead.
std::optional<std::pair<Combiner, unsigned>> matchRowReduction(linalg::GenericOp op) {
  SmallVector<unsigned> reductions;
  op.getReductionDims(reductions);
  unsigned loops = op.getNumLoops();
  if (reductions.empty() || reductions.back() != loops - 1 ||
      reductions.front() + reductions.size() != loops)
    return std::nullopt;
  unsigned first = reductions.front();
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(input);
    if (llvm::none_of(reductions, [&](unsigned d) { return map.isFunctionOfDim(d); }))
      continue;
    if (map.getNumResults() < reductions.size())
      return std::nullopt;
    unsigned tail = map.getNumResults() - reductions.size();
    for (auto [i, d] : llvm::enumerate(reductions))
      if (map.getResult(tail + i) != getAffineDimExpr(d, op.getContext()))
        return std::nullopt;
  }
  std::optional<Combiner> combiner = matchCombiner(op);
  if (!combiner)
    return std::nullopt;
  return std::make_pair(*combiner, first);
}

/// The dims of a contraction C(batch.., i, j) += A(.., i, k) * B(.., k, j).
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
  // The body must be acc + a * b (any element type).
  Block &block = op.getRegion().front();
  Operation *sum = block.getTerminator()->getOperand(0).getDefiningOp();
  if (!sum || !isa<arith::AddFOp, arith::AddIOp>(sum) || block.getOperations().size() != 3)
    return std::nullopt;
  Contraction c;
  SmallVector<unsigned> reductions;
  op.getReductionDims(reductions);
  c.k = reductions.front();
  c.i = out.getDimPosition(out.getNumResults() - 2);
  c.j = out.getDimPosition(out.getNumResults() - 1);
  if (!maps[0].isFunctionOfDim(c.i) || !maps[0].isFunctionOfDim(c.k) ||
      maps[0].isFunctionOfDim(c.j) || !maps[1].isFunctionOfDim(c.k) ||
      !maps[1].isFunctionOfDim(c.j) || maps[1].isFunctionOfDim(c.i))
    return std::nullopt;
  for (unsigned r = 0; r + 2 < out.getNumResults(); ++r)
    c.batch.push_back(out.getDimPosition(r));
  return c;
}

/// A gpu.launch with constant block sizes and the given workgroup buffers,
/// outlined later as `name`; the builder is left inside its body.
gpu::LaunchOp createLaunch(OpBuilder &b, Location loc, std::array<Value, 3> grid,
                           std::array<int64_t, 3> block, TypeRange workgroup,
                           StringRef name) {
  IndexMath m{b, loc};
  auto symbol = FlatSymbolRefAttr::get(b.getContext(), name);
  auto launch = gpu::LaunchOp::create(
      b, loc, grid[0], grid[1], grid[2], m.c(block[0]), m.c(block[1]), m.c(block[2]),
      /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
      /*asyncDependencies=*/{}, workgroup, /*privateAttributions=*/{},
      /*clusterSizeX=*/nullptr, nullptr, nullptr, symbol, symbol);
  Block &body = launch.getBody().front();
  b.setInsertionPointToEnd(&body);
  gpu::TerminatorOp::create(b, loc);
  b.setInsertionPointToStart(&body);
  return launch;
}

/// `for (i = first; i < bound; i += step) body(i)`: blocks striding over
/// more work than the grid has blocks.
void strideLoop(OpBuilder &b, Location loc, Value first, Value bound, Value step,
                function_ref<void(OpBuilder &, Location, Value)> body) {
  scf::ForOp::create(b, loc, first, bound, step, ValueRange{},
                     [&](OpBuilder &b, Location loc, Value iv, ValueRange) {
                       body(b, loc, iv);
                       scf::YieldOp::create(b, loc);
                     });
}

/// Clones the body of `op` for one iteration point; `inputs`/`outputs` are
/// the block arguments' values (null where unused). `skip` is not cloned.
/// Returns the yielded values.
SmallVector<Value> cloneBody(OpBuilder &b, linalg::GenericOp op, ValueRange dims,
                             ValueRange inputs, ValueRange outputs, IRMapping &map,
                             Operation *skip = nullptr) {
  Block &block = op.getRegion().front();
  for (auto [arg, value] :
       llvm::zip(block.getArguments(), llvm::concat<const Value>(inputs, outputs)))
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

class Kernelizer {
public:
  explicit Kernelizer(func::FuncOp func) : func(func) {}

  /// Builds `op` as a cooperative kernel when it is a contraction or a row
  /// reduction; returns false (and leaves it) otherwise.
  bool run(linalg::GenericOp op) {
    if (llvm::all_of(op.getStaticLoopRanges(), [](int64_t extent) { return extent == 1; })) {
      OpBuilder b(op);
      buildSingleThread(b, op);
    } else if (std::optional<Contraction> c = matchContraction(op)) {
      OpBuilder b(op);
      buildMatmul(b, op, *c);
    } else if (auto reduction = matchRowReduction(op)) {
      OpBuilder b(op);
      buildRowReduce(b, op, reduction->first, reduction->second);
    } else {
      return false;
    }
    op.erase();
    return true;
  }

private:
  std::string nextName(StringRef kind) {
    return (func.getSymName() + "_" + kind + Twine(counter++)).str();
  }

  SmallVector<Operand> operands(OpBuilder &b, linalg::GenericOp op) {
    SmallVector<Operand> result;
    for (OpOperand &operand : op->getOpOperands()) {
      Operand entry;
      entry.map = op.getMatchingIndexingMap(&operand);
      if (isa<MemRefType>(operand.get().getType()))
        entry.buffer = ember::flattenBuffer(b, op.getLoc(), operand.get());
      else
        entry.scalar = operand.get();
      result.push_back(std::move(entry));
    }
    return result;
  }

  static SmallVector<Value> loopSizes(OpBuilder &b, linalg::GenericOp op) {
    SmallVector<Value> sizes;
    for (Range range :
         cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, op.getLoc()))
      sizes.push_back(getValueOrCreateConstantIndexOp(b, op.getLoc(), range.size));
    return sizes;
  }

  /// An op with a single iteration (no loops, or only static unit ones: a
  /// loss divided by a count, a 1x1x1 copy) would lower to straight-line
  /// code on the host, which cannot read device memory: it is a one-thread
  /// kernel.
  void buildSingleThread(OpBuilder &b, linalg::GenericOp op) {
    Location loc = op.getLoc();
    IndexMath host{b, loc};
    SmallVector<Operand> args = operands(b, op);
    createLaunch(b, loc, {host.c(1), host.c(1), host.c(1)}, {1, 1, 1}, TypeRange{},
                 nextName("scalar"));
    IndexMath m{b, loc};
    SmallVector<Value> dims(op.getNumLoops(), m.c(0));
    unsigned numInputs = op.getNumDpsInputs();
    Block &block = op.getRegion().front();
    SmallVector<Value> inputs, outputs;
    for (unsigned i = 0; i < op->getNumOperands(); ++i) {
      bool read = i < numInputs || !block.getArgument(i).use_empty();
      Value value = read ? args[i].load(b, loc, dims) : Value();
      (i < numInputs ? inputs : outputs).push_back(value);
    }
    IRMapping map;
    SmallVector<Value> results = cloneBody(b, op, dims, inputs, outputs, map);
    for (auto [o, result] : llvm::enumerate(results))
      args[numInputs + o].store(b, loc, result, dims);
  }

  /// Two kernels. The first splits each row into `parts` interleaved
  /// parts, one 256-thread block per (row, part): each thread folds a
  /// strided share from the combiner's identity, a tree in workgroup memory
  /// combines the block's 256 values, and thread 0 writes the part's result
  /// to a temporary. The second combines each row's parts with the output's
  /// initial value, one thread per row. `parts` is chosen on the host so
  /// that a long row (a full reduction: one row) keeps many blocks busy.
  void buildRowReduce(OpBuilder &b, linalg::GenericOp op, const Combiner &combiner,
                      unsigned firstReduced) {
    Location loc = op.getLoc();
    IndexMath host{b, loc};
    SmallVector<Value> sizes = loopSizes(b, op);
    SmallVector<Operand> args = operands(b, op);
    unsigned numInputs = op.getNumDpsInputs();
    SmallVector<Value> rowSizes(sizes.begin(), sizes.begin() + firstReduced);
    SmallVector<Value> reducedSizes(sizes.begin() + firstReduced, sizes.end());
    Value rows = host.product(rowSizes);
    Value length = host.product(reducedSizes);
    // parts = min(ceildiv(length, 256 * 64), 1024), at least 1: each block
    // folds at least ~64 elements per thread before its tree.
    Value parts = arith::MaxUIOp::create(
        b, loc, host.min(host.ceilDiv(length, kRowThreads * 64), host.c(kMaxParts)), host.c(1));
    Value tasks = host.mul(rows, parts);
    Type type = combiner.op->getResult(0).getType();
    auto partialType = MemRefType::get({ShapedType::kDynamic}, type);
    Value partials = memref::AllocOp::create(b, loc, partialType, ValueRange{tasks});
    Value stride = host.mul(parts, host.c(kRowThreads));

    Value grid = host.min(tasks, host.c(kMaxGrid));
    auto scratchType =
        MemRefType::get({kRowThreads}, type, MemRefLayoutAttrInterface{},
                        gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup));
    {
      OpBuilder::InsertionGuard guard(b);
      gpu::LaunchOp launch = createLaunch(b, loc, {grid, host.c(1), host.c(1)},
                                          {kRowThreads, 1, 1}, TypeRange{scratchType},
                                          nextName("rowreduce"));
      Value scratch = launch.getWorkgroupAttributions().front();
      Value tid = launch.getThreadIds().x;
      Value identity = arith::getIdentityValue(combiner.kind, type, b, loc);
      strideLoop(b, loc, launch.getBlockIds().x, tasks, grid, [&](OpBuilder &b, Location loc,
                                                                  Value task) {
        IndexMath m{b, loc};
        Value row = arith::DivUIOp::create(b, loc, task, parts);
        Value part = arith::RemUIOp::create(b, loc, task, parts);
        SmallVector<Value> dims = m.delinearize(row, rowSizes);
        // This thread's elements: part * 256 + tid, then every 256 * parts.
        Value start = m.add(m.mul(part, m.c(kRowThreads)), tid);
        auto partial = scf::ForOp::create(
            b, loc, start, length, stride, ValueRange{identity},
            [&](OpBuilder &b, Location loc, Value k, ValueRange acc) {
              IndexMath m{b, loc};
              SmallVector<Value> point(dims);
              point.append(m.delinearize(k, reducedSizes));
              SmallVector<Value> inputs;
              for (unsigned i = 0; i < numInputs; ++i)
                inputs.push_back(args[i].load(b, loc, point));
              IRMapping map;
              cloneBody(b, op, point, inputs, {Value()}, map, combiner.op);
              Value x = map.lookupOrDefault(combiner.op->getOperand(combiner.valuePos));
              scf::YieldOp::create(b, loc, combiner.combine(b, x, acc[0]));
            });
        memref::StoreOp::create(b, loc, partial.getResult(0), scratch, tid);
        gpu::BarrierOp::create(b, loc);
        for (int64_t half = kRowThreads / 2; half >= 1; half /= 2) {
          scf::IfOp::create(b, loc, m.less(tid, m.c(half)), [&](OpBuilder &b, Location loc) {
            IndexMath m{b, loc};
            Value mine = memref::LoadOp::create(b, loc, scratch, tid);
            Value other = memref::LoadOp::create(b, loc, scratch, m.add(tid, m.c(half)));
            memref::StoreOp::create(b, loc, combiner.combine(b, other, mine), scratch, tid);
            scf::YieldOp::create(b, loc);
          });
          gpu::BarrierOp::create(b, loc);
        }
        Value leader = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, tid, m.c(0));
        scf::IfOp::create(b, loc, leader, [&](OpBuilder &b, Location loc) {
          Value total = memref::LoadOp::create(b, loc, scratch, IndexMath{b, loc}.c(0));
          memref::StoreOp::create(b, loc, total, partials, task);
          scf::YieldOp::create(b, loc);
        });
        // The next task of this block reuses the scratch.
        gpu::BarrierOp::create(b, loc);
      });
    }

    // Stage two: out[row] = combine(parts of row..., out[row]).
    Value rowGrid = host.min(host.ceilDiv(rows, kRowThreads), host.c(kMaxGrid));
    {
      OpBuilder::InsertionGuard guard(b);
      gpu::LaunchOp launch = createLaunch(b, loc, {rowGrid, host.c(1), host.c(1)},
                                          {kRowThreads, 1, 1}, TypeRange{},
                                          nextName("rowcombine"));
      IndexMath m{b, loc};
      Value first = m.add(m.mul(launch.getBlockIds().x, m.c(kRowThreads)),
                          launch.getThreadIds().x);
      strideLoop(b, loc, first, rows, m.mul(rowGrid, m.c(kRowThreads)),
                 [&](OpBuilder &b, Location loc, Value row) {
                   IndexMath m{b, loc};
                   SmallVector<Value> dims = m.delinearize(row, rowSizes);
                   dims.resize(op.getNumLoops());
                   const Operand &out = args[numInputs];
                   Value init = out.load(b, loc, dims);
                   Value base = m.mul(row, parts);
                   auto total = scf::ForOp::create(
                       b, loc, m.c(0), parts, m.c(1), ValueRange{init},
                       [&](OpBuilder &b, Location loc, Value p, ValueRange acc) {
                         Value x = memref::LoadOp::create(b, loc, partials,
                                                          IndexMath{b, loc}.add(base, p));
                         scf::YieldOp::create(b, loc, combiner.combine(b, x, acc[0]));
                       });
                   out.store(b, loc, total.getResult(0), dims);
                 });
    }
    memref::DeallocOp::create(b, loc, partials);
  }

  /// A 64x64 output tile per block of 16x16 threads, each thread owning a
  /// 4x4 register block (rows ty + 16i, columns tx + 16j, so that a warp's
  /// workgroup-memory reads are broadcasts or consecutive). Per K step of
  /// 16 the block stages a 64x16 tile of A and a 16x64 tile of B in
  /// workgroup memory (4 elements per thread each, zero past the edges)
  /// between two barriers; every staged element then feeds 4 multiply-adds.
  void buildMatmul(OpBuilder &b, linalg::GenericOp op, const Contraction &c) {
    Location loc = op.getLoc();
    IndexMath host{b, loc};
    SmallVector<Value> sizes = loopSizes(b, op);
    SmallVector<Operand> args = operands(b, op);
    SmallVector<Value> batchSizes;
    for (unsigned d : c.batch)
      batchSizes.push_back(sizes[d]);
    Value mSize = sizes[c.i], nSize = sizes[c.j], kSize = sizes[c.k];
    Value batch = host.product(batchSizes);
    Value tilesX = host.ceilDiv(nSize, kOutTile), tilesY = host.ceilDiv(mSize, kOutTile);
    Value gridX = host.min(tilesX, host.c(kMaxGrid));
    Value gridY = host.min(tilesY, host.c(kMaxGrid));
    Value gridZ = host.min(batch, host.c(kMaxGrid));
    auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
    auto elementOf = [](Value v) { return cast<MemRefType>(v.getType()).getElementType(); };
    Type aType = elementOf(op.getDpsInputs()[0]), bType = elementOf(op.getDpsInputs()[1]);
    Type cType = elementOf(op.getDpsInits()[0]);
    auto aTileType = MemRefType::get({kOutTile, kTile}, aType, MemRefLayoutAttrInterface{}, workgroup);
    auto bTileType = MemRefType::get({kTile, kOutTile}, bType, MemRefLayoutAttrInterface{}, workgroup);
    gpu::LaunchOp launch =
        createLaunch(b, loc, {gridX, gridY, gridZ}, {kTile, kTile, 1},
                     TypeRange{aTileType, bTileType}, nextName("matmul"));
    Value aTile = launch.getWorkgroupAttributions()[0];
    Value bTile = launch.getWorkgroupAttributions()[1];
    Value tx = launch.getThreadIds().x, ty = launch.getThreadIds().y;
    constexpr int64_t kRegs = kOutTile / kTile; // 4 rows and columns per thread
    auto zeroOf = [&](OpBuilder &b, Location loc, Type type) -> Value {
      return arith::ConstantOp::create(b, loc, cast<TypedAttr>(b.getZeroAttr(type)));
    };
    // Blocks stride over batch, then row tiles, then column tiles; the loop
    // bounds are the same for every thread of a block, so the barriers
    // inside are reached by all of them.
    strideLoop(b, loc, launch.getBlockIds().z, batch, gridZ, [&](OpBuilder &b, Location loc,
                                                                 Value z) {
      strideLoop(b, loc, launch.getBlockIds().y, tilesY, gridY, [&](OpBuilder &b, Location loc,
                                                                    Value tileRow) {
        strideLoop(b, loc, launch.getBlockIds().x, tilesX, gridX, [&](OpBuilder &b, Location loc,
                                                                      Value tileCol) {
          IndexMath m{b, loc};
          SmallVector<Value> dims(op.getNumLoops());
          for (auto [d, coord] : llvm::zip(c.batch, m.delinearize(z, batchSizes)))
            dims[d] = coord;
          Value row0 = m.mul(tileRow, m.c(kOutTile)), col0 = m.mul(tileCol, m.c(kOutTile));
          SmallVector<Value> rows, cols, inRow, inCol;
          for (int64_t r = 0; r < kRegs; ++r) {
            rows.push_back(m.add(row0, m.add(ty, m.c(kTile * r))));
            cols.push_back(m.add(col0, m.add(tx, m.c(kTile * r))));
            inRow.push_back(m.less(rows.back(), mSize));
            inCol.push_back(m.less(cols.back(), nSize));
          }
          // `value` where `inside`, else zero.
          auto guarded = [&](OpBuilder &b, Location loc, Value inside, Type type,
                             function_ref<Value(OpBuilder &, Location)> value) -> Value {
            auto select = scf::IfOp::create(
                b, loc, inside,
                [&](OpBuilder &b, Location loc) { scf::YieldOp::create(b, loc, value(b, loc)); },
                [&](OpBuilder &b, Location loc) {
                  scf::YieldOp::create(b, loc, zeroOf(b, loc, type));
                });
            return select.getResult(0);
          };
          SmallVector<Value> init;
          for (int64_t i = 0; i < kRegs; ++i)
            for (int64_t j = 0; j < kRegs; ++j) {
              Value inside = arith::AndIOp::create(b, loc, inRow[i], inCol[j]);
              init.push_back(guarded(b, loc, inside, cType, [&](OpBuilder &b, Location loc) {
                dims[c.i] = rows[i];
                dims[c.j] = cols[j];
                return args[2].load(b, loc, dims);
              }));
            }
          // This thread's share of the staging: A rows ty + 16r at column
          // tx; B rows ty / 4 + 4r at column (ty % 4) * 16 + tx.
          Value bRow = arith::DivUIOp::create(b, loc, ty, m.c(kRegs));
          Value bCol = m.add(m.mul(arith::RemUIOp::create(b, loc, ty, m.c(kRegs)), m.c(kTile)), tx);
          auto steps = scf::ForOp::create(
              b, loc, m.c(0), kSize, m.c(kTile), init,
              [&](OpBuilder &b, Location loc, Value k0, ValueRange acc) {
                IndexMath m{b, loc};
                Value ka = m.add(k0, tx);
                Value kaIn = m.less(ka, kSize);
                for (int64_t r = 0; r < kRegs; ++r) {
                  Value tileRowIndex = m.add(ty, m.c(kTile * r));
                  Value rowIndex = m.add(row0, tileRowIndex);
                  Value inside = arith::AndIOp::create(b, loc, m.less(rowIndex, mSize), kaIn);
                  Value x = guarded(b, loc, inside, aType, [&](OpBuilder &b, Location loc) {
                    dims[c.i] = rowIndex;
                    dims[c.k] = ka;
                    return args[0].load(b, loc, dims);
                  });
                  memref::StoreOp::create(b, loc, x, aTile, ValueRange{tileRowIndex, tx});
                }
                for (int64_t r = 0; r < kRegs; ++r) {
                  Value tileRowIndex = m.add(bRow, m.c(kRegs * r));
                  Value kb = m.add(k0, tileRowIndex);
                  Value colIndex = m.add(col0, bCol);
                  Value inside =
                      arith::AndIOp::create(b, loc, m.less(kb, kSize), m.less(colIndex, nSize));
                  Value y = guarded(b, loc, inside, bType, [&](OpBuilder &b, Location loc) {
                    dims[c.k] = kb;
                    dims[c.j] = colIndex;
                    return args[1].load(b, loc, dims);
                  });
                  memref::StoreOp::create(b, loc, y, bTile, ValueRange{tileRowIndex, bCol});
                }
                gpu::BarrierOp::create(b, loc);
                // All 16 steps, also in the last tile: past K both tiles
                // hold zeros (0 * 0 adds nothing), and a constant trip
                // count lets the back end unroll the loop.
                auto inner = scf::ForOp::create(
                    b, loc, m.c(0), m.c(kTile), m.c(1), acc,
                    [&](OpBuilder &b, Location loc, Value kk, ValueRange acc) {
                      IndexMath m{b, loc};
                      SmallVector<Value> xs, ys, next;
                      for (int64_t r = 0; r < kRegs; ++r) {
                        xs.push_back(memref::LoadOp::create(
                            b, loc, aTile, ValueRange{m.add(ty, m.c(kTile * r)), kk}));
                        ys.push_back(memref::LoadOp::create(
                            b, loc, bTile, ValueRange{kk, m.add(tx, m.c(kTile * r))}));
                      }
                      for (int64_t i = 0; i < kRegs; ++i)
                        for (int64_t j = 0; j < kRegs; ++j) {
                          IRMapping map;
                          next.push_back(cloneBody(b, op, dims, {xs[i], ys[j]},
                                                   {acc[i * kRegs + j]}, map)[0]);
                        }
                      scf::YieldOp::create(b, loc, next);
                    });
                // The tiles are overwritten by the next step.
                gpu::BarrierOp::create(b, loc);
                scf::YieldOp::create(b, loc, inner.getResults());
              });
          for (int64_t i = 0; i < kRegs; ++i)
            for (int64_t j = 0; j < kRegs; ++j) {
              Value inside = arith::AndIOp::create(b, loc, inRow[i], inCol[j]);
              scf::IfOp::create(b, loc, inside, [&](OpBuilder &b, Location loc) {
                dims[c.i] = rows[i];
                dims[c.j] = cols[j];
                args[2].store(b, loc, steps.getResult(i * kRegs + j), dims);
                scf::YieldOp::create(b, loc);
              });
            }
        });
      });
    });
  }

  func::FuncOp func;
  unsigned counter = 0;
};

struct EmberGpuKernelizePass : ember::impl::EmberGpuKernelizeBase<EmberGpuKernelizePass> {
  void runOnOperation() override {
    SmallVector<linalg::LinalgOp> ops;
    getOperation().walk([&](linalg::LinalgOp op) {
      if (op.hasPureBufferSemantics() &&
          (isa<linalg::GenericOp>(op) || isa<linalg::ContractionOpInterface>(*op) ||
           llvm::all_of(op.getStaticLoopRanges(), [](int64_t e) { return e == 1; })))
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    Kernelizer kernelizer(getOperation());
    for (linalg::LinalgOp op : ops) {
      auto generic = dyn_cast<linalg::GenericOp>(op.getOperation());
      if (!generic) {
        rewriter.setInsertionPoint(op);
        FailureOr<linalg::GenericOp> generalized = linalg::generalizeNamedOp(rewriter, op);
        if (failed(generalized))
          continue; // the generic path runs it
        generic = *generalized;
      }
      kernelizer.run(generic);
    }
  }
};

} // namespace
