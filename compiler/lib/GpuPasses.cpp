//===- GpuPasses.cpp - the GPU pipeline's own passes -----------------------===//

#include "ember/Compiler/Passes.h"
#include "GpuBuffers.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/ParallelLoopMapper.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVAttributes.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVDialect.h"
#include "mlir/Dialect/SPIRV/IR/TargetAndABI.h"
#include "llvm/ADT/BitVector.h"

namespace ember {
#define GEN_PASS_DEF_EMBERTILEPARALLELLOOPS
#define GEN_PASS_DEF_EMBERSPIRVENTRYPOINTS
#define GEN_PASS_DEF_EMBERFLATTENBUFFERS
#define GEN_PASS_DEF_EMBERSINKLAUNCHCONSTANTS
#define GEN_PASS_DEF_EMBERGPUMATH
#define GEN_PASS_DEF_EMBERPARALLELDIMSFIRST
#define GEN_PASS_DEF_EMBERGPUGRIDSTRIDE
#define GEN_PASS_DEF_EMBERSPIRVPUSHCONSTANTS
#define GEN_PASS_DEF_EMBERGPUFILLCONSTANTS
#define GEN_PASS_DEF_EMBERGPUDEVICESCALARS
#define GEN_PASS_DEF_EMBERSPIRVBF16STORAGE
#include "ember/Compiler/Passes.h.inc"
} // namespace ember

using namespace mlir;

namespace {

struct EmberTileParallelLoopsPass
    : ember::impl::EmberTileParallelLoopsBase<EmberTileParallelLoopsPass> {
  void runOnOperation() override {
    // A loop nest without parallel dims (a reduction to one value) runs as
    // one thread: wrap it in a single-iteration parallel loop so that it
    // becomes a kernel instead of host code.
    SmallVector<scf::ForOp> sequential;
    for (Operation &op : getOperation().getBody().front())
      if (auto loop = dyn_cast<scf::ForOp>(op))
        sequential.push_back(loop);
    for (scf::ForOp loop : sequential) {
      OpBuilder b(loop);
      Location loc = loop.getLoc();
      Value zero = arith::ConstantIndexOp::create(b, loc, 0);
      Value one = arith::ConstantIndexOp::create(b, loc, 1);
      auto wrapper = scf::ParallelOp::create(b, loc, ValueRange{zero}, ValueRange{one},
                                             ValueRange{one});
      loop->moveBefore(wrapper.getBody()->getTerminator());
    }
    SmallVector<scf::ParallelOp> outermost;
    getOperation().walk([&](scf::ParallelOp loop) {
      if (!loop->getParentOfType<scf::ParallelOp>())
        outermost.push_back(loop);
    });
    for (scf::ParallelOp loop : outermost) {
      size_t rank = loop.getNumLoops();
      // Tile size 1 keeps a dim whole per block (it maps to the grid).
      SmallVector<int64_t> sizes(rank, 1);
      if (rank == 1) {
        sizes[0] = 256;
      } else {
        sizes[rank - 2] = 16;
        sizes[rank - 1] = 16;
      }
      auto [blocks, threads] = scf::tileParallelLoop(loop, sizes, /*noMinMaxBounds=*/true);
      mapInnermostFirst(blocks, gpu::Processor::BlockX);
      mapInnermostFirst(threads, gpu::Processor::ThreadX);
      // Parallel loops nested deeper run sequentially in a thread.
      threads.getBody()->walk([&](scf::ParallelOp nested) {
        mapInnermostFirst(nested, gpu::Processor::Sequential);
      });
    }
  }

  /// Maps the loop's last dim to x, the one before to y, then z, and any
  /// others to sequential loops: the last dim is the contiguous one, so
  /// consecutive threads (x) touch consecutive elements (coalesced), which
  /// gpu-map-parallel-loops' first-dim-to-x order does not give.
  void mapInnermostFirst(scf::ParallelOp loop, gpu::Processor first) {
    MLIRContext *context = loop.getContext();
    AffineMap identity = AffineMap::getMultiDimIdentityMap(1, context);
    unsigned rank = loop.getNumLoops();
    SmallVector<gpu::ParallelLoopDimMappingAttr> mapping;
    for (unsigned d = 0; d < rank; ++d) {
      unsigned fromLast = rank - 1 - d;
      gpu::Processor processor = gpu::Processor::Sequential;
      if (first != gpu::Processor::Sequential && fromLast < 3)
        processor = static_cast<gpu::Processor>(static_cast<uint64_t>(first) + fromLast);
      mapping.push_back(gpu::ParallelLoopDimMappingAttr::get(context, processor, identity,
                                                             identity));
    }
    (void)gpu::setMappingAttr(loop, mapping);
  }
};

struct EmberSpirvEntryPointsPass
    : ember::impl::EmberSpirvEntryPointsBase<EmberSpirvEntryPointsPass> {
  void runOnOperation() override {
    getOperation().walk([&](gpu::GPUFuncOp func) {
      if (!func.isKernel())
        return;
      SmallVector<int32_t, 3> size = {1, 1, 1};
      if (std::optional<ArrayRef<int32_t>> known = func.getKnownBlockSize())
        for (auto [i, extent] : llvm::enumerate(*known))
          if (i < 3)
            size[i] = extent;
      func->setAttr(spirv::getEntryPointABIAttrName(),
                    spirv::getEntryPointABIAttr(&getContext(), size));
      // convert-gpu-to-spirv takes workgroup memory as allocations in
      // memory space 3 (what its memref conversion maps to Workgroup
      // variables for both client APIs), not as attributions.
      unsigned count = func.getNumWorkgroupAttributions();
      if (count == 0)
        return;
      Block &entry = func.getBody().front();
      OpBuilder b = OpBuilder::atBlockBegin(&entry);
      unsigned first = func.getFirstWorkgroupAttributionIndex();
      for (unsigned i = 0; i < count; ++i) {
        BlockArgument arg = entry.getArgument(first + i);
        auto type = cast<MemRefType>(arg.getType());
        arg.replaceAllUsesWith(memref::AllocOp::create(
            b, func.getLoc(),
            MemRefType::get(type.getShape(), type.getElementType(), type.getLayout(),
                            b.getI64IntegerAttr(3))));
      }
      for (unsigned i = 0; i < count; ++i)
        entry.eraseArgument(first);
      func->setAttr(gpu::GPUFuncOp::getNumWorkgroupAttributionsAttrName(),
                    b.getI64IntegerAttr(0));
    });
    guardLoopsWithResults();
  }

  /// The SCF-to-SPIR-V lowering keeps a loop's results in a variable that
  /// only the loop body stores: a loop that runs zero times yields garbage
  /// instead of its initial values (a row shorter than the block's threads
  /// gave 0 for max). Each such loop runs inside `if (lb < ub)`, whose
  /// else branch yields the initial values.
  void guardLoopsWithResults() {
    SmallVector<scf::ForOp> loops;
    getOperation().walk([&](gpu::GPUModuleOp module) {
      module.walk([&](scf::ForOp loop) {
        if (loop.getNumResults() != 0)
          loops.push_back(loop);
      });
    });
    for (scf::ForOp loop : loops) {
      OpBuilder b(loop);
      Location loc = loop.getLoc();
      Value runs = arith::CmpIOp::create(
          b, loc, loop.getUnsignedCmp() ? arith::CmpIPredicate::ult : arith::CmpIPredicate::slt,
          loop.getLowerBound(), loop.getUpperBound());
      auto guard = scf::IfOp::create(
          b, loc, runs,
          [&](OpBuilder &b, Location loc) { scf::YieldOp::create(b, loc, loop.getResults()); },
          [&](OpBuilder &b, Location loc) { scf::YieldOp::create(b, loc, loop.getInitArgs()); });
      Operation *yield = guard.thenBlock()->getTerminator();
      loop->moveBefore(yield);
      loop->replaceUsesWithIf(guard.getResults(),
                              [&](OpOperand &use) { return use.getOwner() != yield; });
    }
  }
};

struct EmberFlattenBuffersPass
    : ember::impl::EmberFlattenBuffersBase<EmberFlattenBuffersPass> {
  void runOnOperation() override {
    // Every access, with the outermost loop around it (a parallel loop, or
    // a sequential nest that ember-tile-parallel-loops will make a kernel).
    SmallVector<std::pair<Operation *, Operation *>> accesses;
    getOperation().walk([&](Operation *op) {
      // Kernels built by ember-gpu-kernelize already index flat buffers.
      if (!isa<memref::LoadOp, memref::StoreOp>(op) || op->getParentOfType<gpu::LaunchOp>())
        return;
      Operation *outermost = nullptr;
      for (Operation *parent = op->getParentOp(); parent;
           parent = parent->getParentOp())
        if (isa<scf::ParallelOp, scf::ForOp>(parent))
          outermost = parent;
      if (outermost)
        accesses.push_back({op, outermost});
    });

    llvm::DenseMap<std::pair<Value, Operation *>, ember::FlatBuffer> views;
    for (auto [op, loop] : accesses) {
      Value buffer = isa<memref::LoadOp>(op) ? cast<memref::LoadOp>(op).getMemRef()
                                            : cast<memref::StoreOp>(op).getMemRef();
      // Defined inside the loop: not a buffer the host can pass.
      if (loop->isAncestor(buffer.getParentBlock()->getParentOp()))
        continue;
      auto key = std::make_pair(buffer, loop);
      auto it = views.find(key);
      if (it == views.end()) {
        OpBuilder b(loop);
        it = views.try_emplace(key, ember::flattenBuffer(b, loop->getLoc(), buffer)).first;
      }
      const ember::FlatBuffer &view = it->second;
      OpBuilder b(op);
      Location loc = op->getLoc();
      ValueRange indices = isa<memref::LoadOp>(op) ? cast<memref::LoadOp>(op).getIndices()
                                                  : cast<memref::StoreOp>(op).getIndices();
      Value index = ember::flatIndex(b, loc, view, indices);
      if (auto load = dyn_cast<memref::LoadOp>(op)) {
        Value value = memref::LoadOp::create(b, loc, view.flat, ValueRange{index});
        load.replaceAllUsesWith(value);
      } else {
        auto store = cast<memref::StoreOp>(op);
        memref::StoreOp::create(b, loc, store.getValueToStore(), view.flat,
                                ValueRange{index});
      }
      op->erase();
    }
  }
};

struct EmberSinkLaunchConstantsPass
    : ember::impl::EmberSinkLaunchConstantsBase<EmberSinkLaunchConstantsPass> {
  void runOnOperation() override {
    getOperation().walk([](gpu::LaunchOp launch) {
      Region &body = launch.getBody();
      llvm::DenseMap<Value, Value> copies;
      OpBuilder b = OpBuilder::atBlockBegin(&body.front());
      body.walk([&](Operation *op) {
        for (OpOperand &use : op->getOpOperands()) {
          auto constant = use.get().getDefiningOp<arith::ConstantOp>();
          if (!constant || launch->isAncestor(constant))
            continue;
          Value &copy = copies[use.get()];
          if (!copy)
            copy = b.clone(*constant)->getResult(0);
          use.set(copy);
        }
      });
    });
  }
};

struct EmberParallelDimsFirstPass
    : ember::impl::EmberParallelDimsFirstBase<EmberParallelDimsFirstPass> {
  void runOnOperation() override {
    // Copies between buffers become linalg copies, so that they run as
    // kernels (a strided copy cannot be one device-to-device transfer).
    SmallVector<memref::CopyOp> copies;
    getOperation().walk([&](memref::CopyOp op) { copies.push_back(op); });
    for (memref::CopyOp copy : copies) {
      OpBuilder b(copy);
      linalg::CopyOp::create(b, copy.getLoc(), copy.getSource(), copy.getTarget());
      copy.erase();
    }
    SmallVector<linalg::GenericOp> generics;
    getOperation().walk([&](linalg::GenericOp op) { generics.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : generics) {
      SmallVector<unsigned> parallel, reduction;
      for (auto [i, type] : llvm::enumerate(op.getIteratorTypesArray()))
        (type == utils::IteratorType::parallel ? parallel : reduction).push_back(i);
      SmallVector<unsigned> order(parallel);
      order.append(reduction);
      if (llvm::equal(order, llvm::seq<unsigned>(0, order.size())))
        continue;
      rewriter.setInsertionPoint(op);
      if (failed(linalg::interchangeGenericOp(rewriter, op, order)))
        op.emitWarning("could not move the parallel dims first");
    }
  }
};

struct EmberGpuGridStridePass
    : ember::impl::EmberGpuGridStrideBase<EmberGpuGridStridePass> {
  static constexpr int64_t kMaxGrid = 65535;

  void runOnOperation() override {
    SmallVector<gpu::LaunchOp> launches;
    getOperation().walk([&](gpu::LaunchOp launch) { launches.push_back(launch); });
    for (gpu::LaunchOp launch : launches) {
      Region &body = launch.getBody();
      if (!body.hasOneBlock() || body.walk([](gpu::BarrierOp) {
                                      return WalkResult::interrupt();
                                    }).wasInterrupted())
        continue;
      Value sizes[3] = {launch.getGridSizeX(), launch.getGridSizeY(), launch.getGridSizeZ()};
      gpu::KernelDim3 ids = launch.getBlockIds(), dims = launch.getGridSize();
      Value blockIds[3] = {ids.x, ids.y, ids.z}, gridDims[3] = {dims.x, dims.y, dims.z};
      for (unsigned d = 0; d < 3; ++d) {
        std::optional<int64_t> constant = getConstantIntValue(sizes[d]);
        if (constant && *constant <= kMaxGrid)
          continue;
        Value extent = sizes[d];
        OpBuilder host(launch);
        Location loc = launch.getLoc();
        Value clamped = arith::MinUIOp::create(
            host, loc, extent, arith::ConstantIndexOp::create(host, loc, kMaxGrid));
        OpOperand &operand = d == 0   ? launch.getGridSizeXMutable()
                             : d == 1 ? launch.getGridSizeYMutable()
                                      : launch.getGridSizeZMutable();
        operand.set(clamped);
        // The body, moved into a loop over this dim's virtual block ids.
        Block &block = body.front();
        OpBuilder b = OpBuilder::atBlockBegin(&block);
        auto loop = scf::ForOp::create(b, loc, blockIds[d], extent, clamped);
        Operation *loopYield = loop.getBody()->getTerminator();
        for (Operation &op : llvm::make_early_inc_range(
                 llvm::make_range(std::next(loop->getIterator()),
                                  block.getTerminator()->getIterator())))
          op.moveBefore(loopYield);
        Value virtualId = loop.getInductionVar();
        blockIds[d].replaceUsesWithIf(virtualId, [&](OpOperand &use) {
          return use.getOwner() != loop && loop->isAncestor(use.getOwner());
        });
        gridDims[d].replaceAllUsesWith(extent);
      }
    }
  }
};

struct EmberSpirvPushConstantsPass
    : ember::impl::EmberSpirvPushConstantsBase<EmberSpirvPushConstantsPass> {
  void runOnOperation() override {
    MLIRContext *context = &getContext();
    getOperation().walk([&](gpu::GPUFuncOp func) {
      if (!func.isKernel())
        return;
      Block &entry = func.getBody().front();
      unsigned numArgs = func.getNumArguments();
      SmallVector<unsigned> scalars;
      for (unsigned i = 0; i < numArgs; ++i)
        if (!isa<MemRefType>(func.getArgumentTypes()[i]))
          scalars.push_back(i);
      if (scalars.empty())
        return;
      Location loc = func.getLoc();
      auto wordType = IntegerType::get(context, 64);
      // Vulkan guarantees 128 bytes of push constants: a kernel with more
      // scalars reads them from a storage buffer the launcher fills
      // (Program.cpp applies the same rule).
      bool inBuffer = scalars.size() > ember::kMaxPushConstantWords;
      auto blockType = MemRefType::get(
          {int64_t(scalars.size())}, wordType, MemRefLayoutAttrInterface{},
          spirv::StorageClassAttr::get(context, inBuffer ? spirv::StorageClass::StorageBuffer
                                                         : spirv::StorageClass::PushConstant));
      unsigned buffers = numArgs - scalars.size();
      if (failed(func.insertArgument(numArgs, blockType, {}, loc)))
        return signalPassFailure();
      // Buffers keep bindings 0, 1, ... in order (once one argument has an
      // ABI attribute, convert-gpu-to-spirv wants all to have one). The
      // block's binding is dropped again after spirv-lower-abi-attrs
      // (compileForGpu).
      unsigned binding = 0;
      for (unsigned i = 0; i < numArgs; ++i)
        if (isa<MemRefType>(func.getArgumentTypes()[i]))
          func.setArgAttr(i, spirv::getInterfaceVarABIAttrName(),
                          spirv::getInterfaceVarABIAttr(0, binding++, std::nullopt, context));
      func.setArgAttr(numArgs, spirv::getInterfaceVarABIAttrName(),
                      spirv::getInterfaceVarABIAttr(0, buffers, std::nullopt, context));
      Value block = entry.getArgument(numArgs);
      OpBuilder b = OpBuilder::atBlockBegin(&entry);
      llvm::BitVector erase(numArgs + 1);
      for (auto [word, i] : llvm::enumerate(scalars)) {
        BlockArgument arg = entry.getArgument(i);
        Value bits = memref::LoadOp::create(
            b, loc, block, ValueRange{arith::ConstantIndexOp::create(b, loc, word)});
        Type type = arg.getType();
        Value value = bits;
        if (type.isIndex()) {
          value = arith::IndexCastOp::create(b, loc, type, bits);
        } else if (type.getIntOrFloatBitWidth() < 64) {
          Type narrow = IntegerType::get(context, type.getIntOrFloatBitWidth());
          value = arith::TruncIOp::create(b, loc, narrow, bits);
          if (type != narrow)
            value = arith::BitcastOp::create(b, loc, type, value);
        } else if (type != wordType) {
          value = arith::BitcastOp::create(b, loc, type, bits);
        }
        arg.replaceAllUsesWith(value);
        erase.set(i);
      }
      if (failed(func.eraseArguments(erase)))
        signalPassFailure();
    });
  }
};

struct EmberGpuFillConstantsPass
    : ember::impl::EmberGpuFillConstantsBase<EmberGpuFillConstantsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    SmallVector<memref::GetGlobalOp> uses;
    module.walk([&](memref::GetGlobalOp use) {
      if (use->getParentOfType<func::FuncOp>())
        uses.push_back(use);
    });
    for (memref::GetGlobalOp use : uses) {
      auto global = symbols.lookup<memref::GlobalOp>(use.getName());
      auto value = global ? dyn_cast_or_null<DenseElementsAttr>(
                                global.getInitialValue().value_or(Attribute()))
                          : DenseElementsAttr();
      // Small constants (a reshape's shape vector, which the launcher reads
      // on the host) are stored element by element from the host; larger
      // splats are filled by a kernel; larger others are left for the
      // launcher to reject with a message (the frontend makes none).
      constexpr int64_t kMaxStoredElements = 32;
      bool small = value && value.getNumElements() <= kMaxStoredElements;
      if (!value || (!value.isSplat() && !small))
        continue;
      OpBuilder b(use);
      Location loc = use.getLoc();
      Value buffer = memref::AllocOp::create(b, loc, use.getType());
      if (!small) {
        Value scalar = arith::ConstantOp::create(b, loc, value.getSplatValue<TypedAttr>());
        linalg::FillOp::create(b, loc, ValueRange{scalar}, ValueRange{buffer});
      } else {
        ArrayRef<int64_t> shape = use.getType().getShape();
        for (auto [linear, element] : llvm::enumerate(value.getValues<Attribute>())) {
          SmallVector<Value> indices(shape.size());
          int64_t rest = linear;
          for (int64_t d = shape.size() - 1; d >= 0; --d) {
            indices[d] = arith::ConstantIndexOp::create(b, loc, rest % shape[d]);
            rest /= shape[d];
          }
          Value scalar = arith::ConstantOp::create(b, loc, cast<TypedAttr>(element));
          memref::StoreOp::create(b, loc, scalar, buffer, indices);
        }
      }
      use.replaceAllUsesWith(buffer);
      use.erase();
      // Freed when the function returns (the buffer is never written again).
      auto func = buffer.getDefiningOp()->getParentOfType<func::FuncOp>();
      func.walk([&](func::ReturnOp ret) {
        OpBuilder end(ret);
        memref::DeallocOp::create(end, loc, buffer);
      });
    }
    for (auto global : llvm::make_early_inc_range(module.getOps<memref::GlobalOp>()))
      if (SymbolTable::symbolKnownUseEmpty(global, module))
        global.erase();
  }
};

struct EmberGpuDeviceScalarsPass
    : ember::impl::EmberGpuDeviceScalarsBase<EmberGpuDeviceScalarsPass> {
  void runOnOperation() override {
    forwardHostScalars();
    SmallVector<memref::LoadOp> loads;
    for (Operation &op : getOperation().getBody().front())
      if (auto load = dyn_cast<memref::LoadOp>(op))
        loads.push_back(load);
    IRRewriter rewriter(&getContext());
    for (memref::LoadOp load : loads) {
      bool onlyLinalgInputs = !load->use_empty();
      for (OpOperand &use : load->getUses()) {
        auto linalgOp = dyn_cast<linalg::LinalgOp>(use.getOwner());
        onlyLinalgInputs &= linalgOp && linalgOp.isDpsInput(&use);
      }
      if (!onlyLinalgInputs)
        continue;
      // The element as a 0-d view.
      rewriter.setInsertionPoint(load);
      Location loc = load.getLoc();
      Value element = load.getMemRef();
      auto type = cast<MemRefType>(element.getType());
      if (type.getRank() != 0) {
        SmallVector<OpFoldResult> offsets(load.getIndices().begin(), load.getIndices().end());
        SmallVector<OpFoldResult> ones(type.getRank(), rewriter.getIndexAttr(1));
        auto viewType = memref::SubViewOp::inferRankReducedResultType({}, type, offsets, ones,
                                                                      ones);
        element = memref::SubViewOp::create(rewriter, loc, cast<MemRefType>(viewType), element,
                                            offsets, ones, ones);
      }
      SmallVector<Operation *> users(load->getUsers().begin(), load->getUsers().end());
      for (Operation *user : users) {
        auto linalgOp = cast<linalg::LinalgOp>(user);
        rewriter.setInsertionPoint(user);
        auto generic = dyn_cast<linalg::GenericOp>(user);
        if (!generic) {
          FailureOr<linalg::GenericOp> generalized =
              linalg::generalizeNamedOp(rewriter, linalgOp);
          if (failed(generalized))
            continue; // left for the launcher to reject with a message
          generic = *generalized;
        }
        SmallVector<Attribute> maps(generic.getIndexingMaps().begin(),
                                    generic.getIndexingMaps().end());
        for (OpOperand &operand : generic->getOpOperands())
          if (operand.get() == load.getResult()) {
            operand.set(element);
            maps[operand.getOperandNumber()] = AffineMapAttr::get(
                AffineMap::get(generic.getNumLoops(), 0, rewriter.getContext()));
          }
        generic.setIndexingMapsAttr(rewriter.getArrayAttr(maps));
      }
      if (load->use_empty())
        load->erase();
    }
  }

  /// A 0-d buffer the host fills with one scalar (a run-time float made a
  /// tensor) and linalg ops only read: the ops take the scalar itself, which
  /// reaches the kernel as an argument instead of a buffer of its own (a
  /// chain with many such scalars would otherwise need a storage buffer
  /// binding for each, beyond what devices allow).
  void forwardHostScalars() {
    SmallVector<memref::AllocOp> allocs;
    for (Operation &op : getOperation().getBody().front())
      if (auto alloc = dyn_cast<memref::AllocOp>(op))
        if (alloc.getType().getRank() == 0)
          allocs.push_back(alloc);
    for (memref::AllocOp alloc : allocs) {
      memref::StoreOp store;
      SmallVector<std::pair<linalg::GenericOp, unsigned>> reads;
      SmallVector<Operation *> deallocs;
      bool simple = true;
      for (OpOperand &use : alloc->getUses()) {
        Operation *user = use.getOwner();
        if (auto s = dyn_cast<memref::StoreOp>(user)) {
          simple &= !store && s->getBlock() == alloc->getBlock() &&
                    s.getMemRef() == alloc.getResult();
          store = s;
        } else if (auto generic = dyn_cast<linalg::GenericOp>(user)) {
          simple &= generic.isDpsInput(&use);
          reads.push_back({generic, use.getOperandNumber()});
        } else if (isa<memref::DeallocOp>(user)) {
          deallocs.push_back(user);
        } else {
          simple = false;
        }
      }
      if (!simple || !store || reads.empty() ||
          llvm::any_of(reads, [&](auto &read) { return read.first->isBeforeInBlock(store); }))
        continue;
      Value scalar = store.getValueToStore();
      for (auto [generic, operand] : reads)
        generic->setOperand(operand, scalar);
      store->erase();
      for (Operation *dealloc : deallocs)
        dealloc->erase();
      alloc->erase();
    }
  }
};

struct EmberSpirvBf16StoragePass
    : ember::impl::EmberSpirvBf16StorageBase<EmberSpirvBf16StoragePass> {
  void runOnOperation() override {
    MLIRContext *context = &getContext();
    Type i16 = IntegerType::get(context, 16);
    auto asI16 = [&](Type type) -> Type {
      auto memref = dyn_cast<MemRefType>(type);
      if (!memref || !memref.getElementType().isBF16())
        return type;
      return MemRefType::get(memref.getShape(), i16, memref.getLayout(),
                             memref.getMemorySpace());
    };
    getOperation().walk([&](gpu::GPUFuncOp func) {
      // Every bf16 buffer value: arguments, then allocations.
      SmallVector<Value> buffers;
      for (BlockArgument arg : func.getArguments())
        if (asI16(arg.getType()) != arg.getType())
          buffers.push_back(arg);
      func.walk([&](memref::AllocOp alloc) {
        if (asI16(alloc.getType()) != alloc.getType())
          buffers.push_back(alloc.getResult());
      });
      if (buffers.empty())
        return;
      for (Value buffer : buffers) {
        buffer.setType(asI16(buffer.getType()));
        for (Operation *user : llvm::make_early_inc_range(buffer.getUsers())) {
          OpBuilder b(user);
          if (auto load = dyn_cast<memref::LoadOp>(user)) {
            load.getResult().setType(i16);
            b.setInsertionPointAfter(load);
            auto bits = arith::BitcastOp::create(b, load.getLoc(), b.getBF16Type(),
                                                 load.getResult());
            load.getResult().replaceAllUsesExcept(bits, bits);
          } else if (auto store = dyn_cast<memref::StoreOp>(user)) {
            Value bits = arith::BitcastOp::create(b, store.getLoc(), i16,
                                                  store.getValueToStore());
            store.getValueMutable().assign(bits);
          } else {
            user->emitOpError("uses a bfloat16 buffer in a way the SPIR-V "
                              "lowering cannot keep as i16");
            return signalPassFailure();
          }
        }
      }
      SmallVector<Type> inputs;
      for (Type type : func.getArgumentTypes())
        inputs.push_back(asI16(type));
      func.setFunctionType(FunctionType::get(context, inputs, func.getResultTypes()));
      // Conversions between bf16 and anything but f32 go through f32 (as
      // torch converts), which arith-expand can then do in integers.
      Type f32 = Float32Type::get(context);
      func.walk([&](Operation *op) {
        if (!isa<arith::ExtFOp, arith::TruncFOp, arith::SIToFPOp, arith::UIToFPOp,
                 arith::FPToSIOp, arith::FPToUIOp>(op))
          return;
        Type from = op->getOperand(0).getType(), to = op->getResult(0).getType();
        if ((!from.isBF16() && !to.isBF16()) || from.isF32() || to.isF32())
          return;
        OpBuilder b(op);
        Location loc = op->getLoc();
        Value input = op->getOperand(0), wide;
        if (from.isBF16()) {
          wide = arith::ExtFOp::create(b, loc, f32, input);
          OperationState state(loc, op->getName().getStringRef(), ValueRange{wide},
                               TypeRange{to}, op->getAttrs());
          op->getResult(0).replaceAllUsesWith(b.create(state)->getResult(0));
        } else {
          OperationState state(loc, op->getName().getStringRef(), ValueRange{input},
                               TypeRange{f32}, op->getAttrs());
          wide = b.create(state)->getResult(0);
          op->getResult(0).replaceAllUsesWith(
              arith::TruncFOp::create(b, loc, to, wide).getResult());
        }
        op->erase();
      });
      // Selects pick bits: done on i16, so that no bf16 value is left once
      // the bitcasts around them fold with the loads' and stores'.
      func.walk([&](arith::SelectOp select) {
        if (!select.getType().isBF16())
          return;
        OpBuilder b(select);
        Location loc = select.getLoc();
        Value a = arith::BitcastOp::create(b, loc, i16, select.getTrueValue());
        Value c = arith::BitcastOp::create(b, loc, i16, select.getFalseValue());
        Value picked = arith::SelectOp::create(b, loc, select.getCondition(), a, c);
        select.replaceAllUsesWith(
            arith::BitcastOp::create(b, loc, b.getBF16Type(), picked).getResult());
        select.erase();
      });
    });
  }
};

struct EmberGpuMathPass : ember::impl::EmberGpuMathBase<EmberGpuMathPass> {
  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation().walk([&](gpu::GPUModuleOp module) {
      module.walk([&](Operation *op) {
        if (isa<math::FloorOp, math::AbsFOp, math::SqrtOp, math::RsqrtOp>(op))
          ops.push_back(op);
      });
    });
    for (Operation *op : ops) {
      auto type = dyn_cast<FloatType>(op->getResult(0).getType());
      if (!type || (!type.isF32() && !type.isF64()))
        continue;
      OpBuilder b(op);
      Location loc = op->getLoc();
      Value x = op->getOperand(0);
      Type intType = b.getIntegerType(type.getWidth());
      Value result;
      if (isa<math::SqrtOp, math::RsqrtOp>(op)) {
        // The correctly rounded instruction instead of __nv_sqrtf or
        // __ocml_sqrt_*: PTX inline (convert-gpu-to-nvvm refuses the LLVM
        // intrinsic), the LLVM intrinsic for AMDGPU.
        auto module = op->getParentOfType<gpu::GPUModuleOp>();
        bool nvvm = module.getTargetsAttr() &&
                    llvm::any_of(module.getTargetsAttr(), [](Attribute target) {
                      return target.getDialect().getNamespace() == "nvvm";
                    });
        if (nvvm) {
          bool f32 = type.isF32();
          result = LLVM::InlineAsmOp::create(
                       b, loc, type, ValueRange{x},
                       f32 ? "sqrt.rn.f32 $0, $1;" : "sqrt.rn.f64 $0, $1;",
                       f32 ? "=f,f" : "=d,d", /*has_side_effects=*/false,
                       /*is_align_stack=*/false, LLVM::TailCallKind::None,
                       /*asm_dialect=*/LLVM::AsmDialectAttr(),
                       /*operand_attrs=*/ArrayAttr())
                       .getResult(0);
        } else {
          result = LLVM::SqrtOp::create(b, loc, x);
        }
        if (isa<math::RsqrtOp>(op))
          result = arith::DivFOp::create(
              b, loc, arith::ConstantOp::create(b, loc, b.getFloatAttr(type, 1.0)), result);
      } else if (isa<math::AbsFOp>(op)) {
        // Clear the sign bit.
        APInt mask = APInt::getSignedMaxValue(type.getWidth());
        Value bits = arith::BitcastOp::create(b, loc, intType, x);
        Value cleared = arith::AndIOp::create(
            b, loc, bits, arith::ConstantOp::create(b, loc, b.getIntegerAttr(intType, mask)));
        result = arith::BitcastOp::create(b, loc, type, cleared);
      } else {
        Value truncated = arith::SIToFPOp::create(
            b, loc, type, arith::FPToSIOp::create(b, loc, intType, x));
        Value above = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, truncated, x);
        Value one = arith::ConstantOp::create(b, loc, b.getFloatAttr(type, 1.0));
        Value zero = arith::ConstantOp::create(b, loc, b.getFloatAttr(type, 0.0));
        Value floor = arith::SubFOp::create(
            b, loc, truncated, arith::SelectOp::create(b, loc, above, one, zero));
        // Outside (-2^31, 2^31) (or inf/nan) x is already integral: keep it.
        Value high = arith::ConstantOp::create(b, loc, b.getFloatAttr(type, 2147483648.0));
        Value low = arith::ConstantOp::create(b, loc, b.getFloatAttr(type, -2147483648.0));
        Value small = arith::AndIOp::create(
            b, loc, arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x, high),
            arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x, low));
        result = arith::SelectOp::create(b, loc, small, floor, x);
      }
      op->getResult(0).replaceAllUsesWith(result);
      op->erase();
    }
  }
};

} // namespace

namespace ember {

FlatBuffer flattenBuffer(OpBuilder &b, Location loc, Value buffer) {
  auto type = cast<MemRefType>(buffer.getType());
  auto metadata = memref::ExtractStridedMetadataOp::create(b, loc, buffer);
  FlatBuffer view;
  view.offset = metadata.getOffset();
  for (Value stride : metadata.getStrides())
    view.strides.push_back(stride);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value extent = arith::AddIOp::create(b, loc, view.offset, one);
  for (auto [size, stride] : llvm::zip(metadata.getSizes(), metadata.getStrides())) {
    Value last = arith::SubIOp::create(b, loc, size, one);
    extent = arith::AddIOp::create(b, loc, extent, arith::MulIOp::create(b, loc, last, stride));
  }
  auto flatType = MemRefType::get({ShapedType::kDynamic}, type.getElementType(),
                                  MemRefLayoutAttrInterface{}, type.getMemorySpace());
  view.flat = memref::ReinterpretCastOp::create(
      b, loc, flatType, metadata.getBaseBuffer(), b.getIndexAttr(0),
      ArrayRef<OpFoldResult>{OpFoldResult(extent)},
      ArrayRef<OpFoldResult>{OpFoldResult(b.getIndexAttr(1))});
  return view;
}

Value flatIndex(OpBuilder &b, Location loc, const FlatBuffer &view, ValueRange indices) {
  Value index = view.offset;
  for (auto [i, stride] : llvm::zip(indices, view.strides))
    index = arith::AddIOp::create(b, loc, index, arith::MulIOp::create(b, loc, i, stride));
  return index;
}

} // namespace ember
