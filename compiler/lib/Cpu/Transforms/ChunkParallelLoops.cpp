//===- ChunkParallelLoops.cpp - kernels that run a chunk of their loop -----===//
//
// After ember-outline-loops each kernel is one loop nest. A kernel whose nest
// is an `scf.parallel` (or an `scf.for` wrapping one, as a reduction over the
// first dim lowers) is rewritten to run only the iterations [lo, hi) of one
// parallel dim, taken as three trailing index arguments (lo, hi, grain), and
// is marked `ember.chunk_kernel`. Each call site passes the whole range
// [0, N) and a grain (the iterations a chunk needs to carry ~32K
// element-iterations of work, computed from the trip counts of everything
// inside, dynamic sizes included); ember-parallel-launch then turns the call
// into `ember_parallel_for` over the runtime's thread pool. Until then the
// call is the same single-threaded work as before.
//
// A chunk of the innermost (contiguous) dim is at least 64 iterations wide.
// The split dim is the outermost parallel dim, except when it has a tiny
// static trip count (batch 1-3): then the first two parallel dims are
// flattened into one range when a third dim remains to run inside (so the
// innermost loop, which LLVM vectorizes, keeps its form), and with only two
// dims the second one is split. A dynamic outer dim (a symbolic batch) is
// flattened with a static second dim of 8 or more when a third dim or an
// inner loop remains inside: batch 1 then splits too.
//
// A store whose address moves by a cache line or more per iteration of the
// innermost parallel dim (the column of a padded image that a max pool's
// -inf border fills: one float every 113) writes a line of its own each
// iteration, so such an iteration counts as a line's worth of elements
// (16 floats) of work: resnet18's 64x113 border column otherwise ran on
// one thread for ~75 us, a read-for-ownership miss per element.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/LoopLikeInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace ember {
#define GEN_PASS_DEF_EMBERCHUNKPARALLELLOOPS
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

/// The work a chunk must carry (innermost iterations) before a kernel
/// splits: below ~2x this a kernel runs on the calling thread, since waking
/// a worker costs microseconds.
constexpr int64_t kMinChunkWork = 32768;

/// An outer parallel dim with fewer static iterations than this is not
/// split alone (it could not feed the threads evenly).
constexpr int64_t kTinyDim = 8;

/// The fewest iterations of a chunk of the innermost (contiguous) dim:
/// narrower column blocks would have the threads share cache lines (a
/// column sum over many rows asks for chunks of a few columns).
constexpr int64_t kMinInnermostChunk = 64;

/// Bytes of a cache line: a store that strides this far per iteration
/// costs a line per iteration.
constexpr int64_t kCacheLineBytes = 64;

constexpr llvm::StringLiteral kChunkKernelAttr = "ember.chunk_kernel";

/// Bounds of one loop dim.
struct Dim {
  Value lb, ub, step;
};

/// What a kernel splits, found before it is rewritten.
struct Plan {
  scf::ParallelOp parallel;
  /// The top-level op of the nest (`parallel` or the scf.for around it).
  Operation *top;
  /// The first split dim; with `flatten`, it and the next one as one range.
  unsigned dim = 0;
  bool flatten = false;
  /// The split dim is the innermost loop of the nest.
  bool innermost = false;
};

bool isKernel(func::FuncOp func) {
  auto passthrough = func->getAttrOfType<ArrayAttr>("passthrough");
  if (!passthrough || func.isExternal())
    return false;
  return llvm::any_of(passthrough, [](Attribute attr) {
    auto name = dyn_cast<StringAttr>(attr);
    return name && name.getValue() == "ember-kernel";
  });
}

std::optional<int64_t> staticTripCount(scf::ParallelOp parallel, unsigned d) {
  std::optional<int64_t> lb = getConstantIntValue(parallel.getLowerBound()[d]);
  std::optional<int64_t> ub = getConstantIntValue(parallel.getUpperBound()[d]);
  std::optional<int64_t> step = getConstantIntValue(parallel.getStep()[d]);
  if (!lb || !ub || !step || *step <= 0)
    return std::nullopt;
  return std::max<int64_t>(0, (*ub - *lb + *step - 1) / *step);
}

/// Whether a call site can recompute `value` from the kernel's arguments
/// (constants and pure ops on arguments).
bool isRecomputable(Value value) {
  if (isa<BlockArgument>(value))
    return isa<func::FuncOp>(value.getParentBlock()->getParentOp());
  Operation *def = value.getDefiningOp();
  return def->getNumRegions() == 0 && isMemoryEffectFree(def) &&
         llvm::all_of(def->getOperands(), isRecomputable);
}

/// The kernel's nest when it is one this pass splits.
std::optional<Plan> planSplit(func::FuncOp kernel) {
  if (kernel.getNumResults() != 0 || kernel->hasAttr(kChunkKernelAttr))
    return std::nullopt;
  Operation *top = nullptr;
  for (Operation &op : kernel.getBody().front().without_terminator()) {
    if (op.hasTrait<OpTrait::ConstantLike>())
      continue;
    if (top)
      return std::nullopt;
    top = &op;
  }
  if (!top)
    return std::nullopt;
  Plan plan;
  plan.top = top;
  if (auto loop = dyn_cast<scf::ForOp>(top)) {
    // `for i { parallel j }` (a reduction over an outer dim): j's
    // iterations are independent across every i (they are a linalg op's
    // parallel dims), so each chunk of j runs the whole i loop.
    Block *body = loop.getBody();
    if (loop.getNumRegionIterArgs() != 0 || body->getOperations().size() != 2)
      return std::nullopt;
    plan.parallel = dyn_cast<scf::ParallelOp>(body->front());
    if (!plan.parallel ||
        !llvm::all_of(plan.parallel->getOperands(),
                      [&](Value v) { return loop.isDefinedOutsideOfLoop(v); }))
      return std::nullopt;
  } else {
    plan.parallel = dyn_cast<scf::ParallelOp>(top);
  }
  if (!plan.parallel || plan.parallel.getNumResults() != 0 ||
      plan.parallel.getNumLoops() == 0)
    return std::nullopt;
  // The call site computes the range from the parallel op's bounds.
  if (!llvm::all_of(plan.parallel->getOperands(), isRecomputable))
    return std::nullopt;
  unsigned dims = plan.parallel.getNumLoops();
  std::optional<int64_t> outer = staticTripCount(plan.parallel, 0);
  bool hasInnerLoops = false;
  plan.parallel.getBody()->walk([&](LoopLikeOpInterface) { hasInnerLoops = true; });
  if (dims >= 2 && outer && *outer < kTinyDim) {
    if (dims >= 3)
      plan.flatten = true;
    else
      plan.dim = 1;
  } else if (dims >= 2 && !outer && (dims >= 3 || hasInnerLoops)) {
    // A dynamic outer dim is most often a symbolic batch, 1 at inference:
    // split alone it leaves a whole transformer layer norm or head
    // transpose on one thread. With a static second dim of some size, the
    // two are one range (the div/rem per outer iteration is noise next to
    // the loop or dims inside, which keep their form).
    std::optional<int64_t> second = staticTripCount(plan.parallel, 1);
    plan.flatten = second && *second >= kTinyDim;
  }
  plan.innermost = !plan.flatten && plan.dim == dims - 1 && !hasInnerLoops;
  return plan;
}

/// The work of one iteration of `parallel`'s loop-free body in elements of
/// memory traffic: a cache line's worth when a store strides a line or more
/// per iteration of the innermost parallel dim, otherwise 1.
int64_t strideWeight(scf::ParallelOp parallel) {
  Value innermost = parallel.getInductionVars().back();
  int64_t weight = 1;
  parallel.getBody()->walk([&](memref::StoreOp store) {
    MemRefType type = store.getMemRefType();
    if (!type.getElementType().isIntOrFloat())
      return;
    int64_t bytes = std::max<int64_t>(1, type.getElementTypeBitWidth() / 8);
    SmallVector<int64_t> strides;
    int64_t offset;
    if (failed(type.getStridesAndOffset(strides, offset)))
      return;
    for (auto [index, stride] : llvm::zip(store.getIndices(), strides))
      if (index == innermost && !ShapedType::isDynamic(stride) &&
          std::abs(stride) * bytes >= kCacheLineBytes)
        weight = std::max(weight, kCacheLineBytes / bytes);
  });
  return weight;
}

Value tripCount(OpBuilder &b, Location loc, const Dim &dim) {
  Value extent = b.createOrFold<arith::SubIOp>(loc, dim.ub, dim.lb);
  return b.createOrFold<arith::CeilDivSIOp>(loc, extent, dim.step);
}

Value product(OpBuilder &b, Location loc, Value a, Value c) {
  if (!a)
    return c;
  if (!c)
    return a;
  return b.createOrFold<arith::MulIOp>(loc, a, c);
}

/// Rewrites `plan.parallel` to run [lo, hi) of the split range. Returns the
/// split dims' bounds and those of every other dim that each split
/// iteration runs in full (the rest of the parallel dims, the scf.for
/// around it), as the kernel sees them.
void splitKernel(const Plan &plan, Value lo, Value hi,
                 SmallVectorImpl<Dim> &splitDims,
                 SmallVectorImpl<Dim> &fullDims) {
  scf::ParallelOp old = plan.parallel;
  Location loc = old.getLoc();
  unsigned dims = old.getNumLoops();
  unsigned splitCount = plan.flatten ? 2 : 1;
  auto dimAt = [&](unsigned d) {
    return Dim{old.getLowerBound()[d], old.getUpperBound()[d], old.getStep()[d]};
  };
  for (unsigned d = 0; d < dims; ++d) {
    if (d >= plan.dim && d < plan.dim + splitCount)
      splitDims.push_back(dimAt(d));
    else
      fullDims.push_back(dimAt(d));
  }
  if (auto loop = dyn_cast<scf::ForOp>(plan.top))
    fullDims.push_back({loop.getLowerBound(), loop.getUpperBound(), loop.getStep()});

  // The flattened range needs the inner split dim's trip count; computed
  // before the nest (its bounds are defined outside it).
  OpBuilder b(plan.top);
  Value innerTrips = plan.flatten ? tripCount(b, loc, splitDims[1]) : Value();
  Value one = arith::ConstantIndexOp::create(b, loc, 1);

  SmallVector<Value> lbs, ubs, steps;
  for (unsigned d = 0; d < dims; ++d) {
    if (d == plan.dim) {
      lbs.push_back(lo);
      ubs.push_back(hi);
      steps.push_back(one);
    } else if (!(plan.flatten && d == plan.dim + 1)) {
      lbs.push_back(old.getLowerBound()[d]);
      ubs.push_back(old.getUpperBound()[d]);
      steps.push_back(old.getStep()[d]);
    }
  }
  b.setInsertionPoint(old);
  auto chunk = scf::ParallelOp::create(b, loc, lbs, ubs, steps);
  Block *body = chunk.getBody();
  OpBuilder inner = OpBuilder::atBlockBegin(body);
  // Old induction variables in terms of the new ones.
  auto scaled = [&](Value index, const Dim &dim) {
    Value offset = inner.createOrFold<arith::MulIOp>(loc, index, dim.step);
    return inner.createOrFold<arith::AddIOp>(loc, dim.lb, offset);
  };
  SmallVector<Value> oldIvs;
  unsigned next = 0;
  for (unsigned d = 0; d < dims; ++d) {
    if (d == plan.dim && plan.flatten) {
      Value flat = body->getArgument(next++);
      Value outer = inner.createOrFold<arith::DivUIOp>(loc, flat, innerTrips);
      Value rest = inner.createOrFold<arith::RemUIOp>(loc, flat, innerTrips);
      oldIvs.push_back(scaled(outer, splitDims[0]));
      oldIvs.push_back(scaled(rest, splitDims[1]));
      ++d;
    } else if (d == plan.dim) {
      oldIvs.push_back(scaled(body->getArgument(next++), splitDims[0]));
    } else {
      oldIvs.push_back(body->getArgument(next++));
    }
  }
  Block *oldBody = old.getBody();
  for (auto [arg, value] : llvm::zip(oldBody->getArguments(), oldIvs))
    arg.replaceAllUsesWith(value);
  body->getOperations().splice(Block::iterator(body->getTerminator()),
                               oldBody->getOperations(), oldBody->begin(),
                               std::prev(oldBody->end()));
  old.erase();
}

/// Kernel values recomputed at a call site from the call's operands.
class CallSiteValues {
public:
  CallSiteValues(func::CallOp call, func::FuncOp kernel, unsigned argCount)
      : builder(call), loc(call.getLoc()) {
    for (unsigned i = 0; i < argCount; ++i)
      mapping.map(kernel.getArgument(i), call.getOperand(i));
  }

  /// `value` at the call site, or null when it depends on more than the
  /// kernel's arguments and pure ops on them.
  Value get(Value value) {
    if (Value known = mapping.lookupOrNull(value))
      return known;
    Operation *def = value.getDefiningOp();
    if (!def || def->getNumRegions() != 0 || def->getNumResults() != 1 ||
        !isMemoryEffectFree(def))
      return {};
    for (Value operand : def->getOperands())
      if (!get(operand))
        return {};
    return builder.clone(*def, mapping)->getResult(0);
  }

  Value tripCount(const Dim &dim) {
    Value lb = get(dim.lb), ub = get(dim.ub), step = get(dim.step);
    if (!lb || !ub || !step)
      return {};
    return ::tripCount(builder, loc, {lb, ub, step});
  }

  /// Innermost iterations one pass through `block` runs (null: one).
  Value work(Block &block) {
    Value total;
    for (Operation &op : block) {
      Value opWork;
      if (auto loop = dyn_cast<scf::ForOp>(op)) {
        Value trips = tripCount({loop.getLowerBound(), loop.getUpperBound(), loop.getStep()});
        opWork = product(builder, loc, trips, work(*loop.getBody()));
        if (!opWork)
          continue;
      } else if (auto loop = dyn_cast<scf::ParallelOp>(op)) {
        for (unsigned d = 0; d < loop.getNumLoops(); ++d)
          opWork = product(builder, loc, opWork,
                           tripCount({loop.getLowerBound()[d], loop.getUpperBound()[d],
                                      loop.getStep()[d]}));
        opWork = product(builder, loc, opWork, work(*loop.getBody()));
      } else {
        for (Region &region : op.getRegions())
          for (Block &nested : region)
            if (Value w = work(nested))
              opWork = opWork ? builder.createOrFold<arith::AddIOp>(loc, opWork, w) : w;
      }
      if (opWork)
        total = total ? builder.createOrFold<arith::AddIOp>(loc, total, opWork) : opWork;
    }
    return total;
  }

  OpBuilder builder;
  Location loc;

private:
  IRMapping mapping;
};

struct ChunkParallelLoops
    : ember::impl::EmberChunkParallelLoopsBase<ChunkParallelLoops> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (func::FuncOp kernel : llvm::to_vector(module.getOps<func::FuncOp>())) {
      if (!isKernel(kernel))
        continue;
      std::optional<Plan> plan = planSplit(kernel);
      if (!plan)
        continue;
      std::optional<SymbolTable::UseRange> uses = kernel.getSymbolUses(module);
      if (!uses || !llvm::all_of(*uses, [](const SymbolTable::SymbolUse &use) {
            return isa<func::CallOp>(use.getUser());
          }))
        continue;
      SmallVector<func::CallOp> calls;
      for (const SymbolTable::SymbolUse &use : *uses)
        calls.push_back(cast<func::CallOp>(use.getUser()));

      unsigned argCount = kernel.getNumArguments();
      Block &entry = kernel.front();
      Location loc = kernel.getLoc();
      Type index = IndexType::get(&getContext());
      Value lo = entry.addArgument(index, loc);
      Value hi = entry.addArgument(index, loc);
      entry.addArgument(index, loc); // the grain: ember-parallel-launch's
      kernel.setFunctionType(FunctionType::get(&getContext(), entry.getArgumentTypes(), {}));
      kernel->setAttr(kChunkKernelAttr, UnitAttr::get(&getContext()));

      bool hasInnerLoops = false;
      plan->parallel.getBody()->walk([&](LoopLikeOpInterface) { hasInnerLoops = true; });
      int64_t lineWeight = hasInnerLoops ? 1 : strideWeight(plan->parallel);
      SmallVector<Dim> splitDims, fullDims;
      Block *parallelBody = nullptr;
      splitKernel(*plan, lo, hi, splitDims, fullDims);
      // The chunk's parallel op (where the old one was).
      for (Operation &op : entry)
        if (auto loop = dyn_cast<scf::ForOp>(op))
          parallelBody = cast<scf::ParallelOp>(loop.getBody()->front()).getBody();
        else if (auto loop = dyn_cast<scf::ParallelOp>(op))
          parallelBody = loop.getBody();

      for (func::CallOp call : calls) {
        CallSiteValues site(call, kernel, argCount);
        OpBuilder &b = site.builder;
        Value range;
        for (const Dim &dim : splitDims)
          range = product(b, loc, range, site.tripCount(dim));
        Value work = site.work(*parallelBody);
        if (int64_t weight = lineWeight; weight > 1)
          work = product(b, loc, work, arith::ConstantIndexOp::create(b, loc, weight));
        for (const Dim &dim : fullDims)
          work = product(b, loc, work, site.tripCount(dim));
        Value minWork = arith::ConstantIndexOp::create(b, loc, kMinChunkWork);
        Value grain = minWork;
        if (work) {
          Value one = arith::ConstantIndexOp::create(b, loc, 1);
          work = b.createOrFold<arith::MaxSIOp>(loc, work, one);
          grain = b.createOrFold<arith::CeilDivSIOp>(loc, minWork, work);
        }
        if (plan->innermost)
          grain = b.createOrFold<arith::MaxSIOp>(
              loc, grain, arith::ConstantIndexOp::create(b, loc, kMinInnermostChunk));
        SmallVector<Value> operands(call.getOperands());
        operands.push_back(arith::ConstantIndexOp::create(b, loc, 0));
        operands.push_back(range);
        operands.push_back(grain);
        func::CallOp::create(b, call.getLoc(), kernel, operands);
        call.erase();
      }
    }
  }
};

} // namespace
