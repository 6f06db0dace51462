//===- CpuPipeline.cpp - the ember -> LLVM dialect pass pipeline -----------===//

#include "ember/Compiler/CpuCompiler.h"
#include "ember/Compiler/Passes.h"
#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MathToLibm/MathToLibm.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVMPass.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

#include <cstdio>
#include <cstdlib>

using namespace mlir;

void ember::buildTensorToBufferPipeline(OpPassManager &pm, bool softmaxRows,
                                        bool shapeFunctions) {
  // Attention on the CPU: the runtime's blocked kernels (no L x S scores);
  // elsewhere ember-decompose's primitives. CSE first: a gradient program
  // repeats the forward ops its VJPs read, and once attention is a runtime
  // call (which writes a buffer) the repeated attention and every op after
  // it would no longer merge: the whole forward past the first attention
  // would run twice.
  if (softmaxRows) {
    pm.nest<func::FuncOp>().addPass(createCSEPass());
    pm.addPass(createEmberAttentionToRuntime());
  }
  // Tensor level: primitives, linalg, fusion.
  OpPassManager *tensorFuncs = &pm.nest<func::FuncOp>();
  // Gradient programs are built by now: custom_vjp ops only forward values.
  tensorFuncs->addPass(createEmberStripCustomVjp());
  // Softmax and the normalisations over the last dim row by row, forward
  // and backward (one trip through memory, rows in parallel, on the CPU);
  // the remaining composites become primitives.
  if (softmaxRows) {
    tensorFuncs->addPass(createEmberSoftmaxRows());
    tensorFuncs->addPass(createEmberNormRows());
  }
  tensorFuncs->addPass(createEmberDecompose());
  // Gradient programs repeat forward ops (the VJP clones what it reads):
  // merge them while they are still whole ember ops.
  tensorFuncs->addPass(createCSEPass());
  // Convolutions on the CPU: the runtime's kernels (im2col panels packed
  // straight into the GEMM's layout). After CSE, so that a forward
  // convolution the gradient repeats runs once (a call is not merged).
  if (softmaxRows) {
    pm.addPass(createEmberConvToRuntime());
    // C++ custom ops: calls into the runtime's registry (the CPU kernel a
    // loaded library registered); fusion stops at them.
    pm.addPass(createEmberCustomCallToRuntime());
    // ember.distributed's collectives: calls of the group's engine, in
    // program order (the same on every rank).
    pm.addPass(createEmberCollectivesToRuntime());
    tensorFuncs = &pm.nest<func::FuncOp>();
  } else {
    // On a GPU: instructions of the launch plan that run the op's Vulkan or
    // CUDA kernel (a dispatch of its own; fusion stops there too).
    pm.addPass(createEmberCustomCallToRuntime(EmberCustomCallToRuntimeOptions{true}));
    tensorFuncs = &pm.nest<func::FuncOp>();
  }
  // The convolutions left (all of them on the GPU, other dtypes on the CPU;
  // an exported program keeps ember.conv for every target) as im2col.
  tensorFuncs->addPass(createEmberDecomposeConv());
  // Recurrent layers: a loop over the steps (a GEMM and a fused gate kernel
  // per step), the same code for every sequence length; after CSE, so that
  // a forward layer the gradient repeats runs once. On a GPU the loop stays
  // host code (a loop of the launch plan around the step's kernels).
  tensorFuncs->addPass(createEmberRecurrentLoops());
  // On a GPU the step's W_hh^T would be a transpose kernel per step (the
  // CPU's GEMM reads it as a view): made once, before the loop.
  if (!softmaxRows)
    tensorFuncs->addPass(createLoopInvariantCodeMotionPass());
  tensorFuncs->addPass(createConvertEmberToLinalg());
  tensorFuncs->addPass(createCanonicalizerPass());
  tensorFuncs->addPass(createEmberFuseElementwise());
  // Whole-tensor reductions as partials over fixed chunks, in parallel on
  // the CPU (the GPU splits them into workgroup trees of its own).
  if (softmaxRows)
    tensorFuncs->addPass(createEmberSplitFullReductions());
  tensorFuncs->addPass(createCSEPass());
  tensorFuncs->addPass(createCanonicalizerPass());

  if (shapeFunctions)
    pm.addPass(createEmberShapeFunctions());
  // Buffers: the caller owns inputs and outputs; the last op of each result
  // writes into the caller's buffer.
  pm.addPass(createEmberDestinationAbi());
  // A concat's operands made in place (no copies into a fresh buffer): a
  // max pool's padded input is the stem convolution's output.
  if (softmaxRows)
    pm.addNestedPass<func::FuncOp>(createEmberConcatInPlace());
  pm.addPass(bufferization::createEmptyTensorEliminationPass());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = false;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  // The concats made in place leave a copy of each operand's view onto an
  // identical view: CSE makes them one value and the canonicalizer drops
  // the self-copy.
  if (softmaxRows)
    pm.addPass(createCSEPass());
}

unsigned ember::streamingStoresThresholdMiB() {
  static const unsigned threshold = [] {
    const char *text = std::getenv("EMBER_STREAMING_STORES_MIB");
    if (!text || !*text)
      return 32u;
    char *end = nullptr;
    unsigned long value = std::strtoul(text, &end, 10);
    if (*end || value > (1ul << 20)) {
      std::fprintf(stderr,
                   "[ember] EMBER_STREAMING_STORES_MIB=%s is not a size in MiB; "
                   "using 32\n",
                   text);
      return 32u;
    }
    return static_cast<unsigned>(value);
  }();
  return threshold;
}

void ember::buildCpuLoweringPipeline(OpPassManager &pm, bool shapeFunctions) {
  buildTensorToBufferPipeline(pm, /*softmaxRows=*/true, shapeFunctions);
  pm.addPass(createEmberMatmulToBlas());
  // Bias, activation and residual applied by the GEMM to each block of C
  // while it is in cache, not by a pass over C of their own.
  pm.addPass(createEmberFuseMatmulEpilogue());
  // The same for the runtime's convolutions: conv + bias + activation (+
  // a ResNet block's shortcut) in one call.
  pm.addPass(createEmberFuseConvEpilogue());
  // A loop's GEMMs that all read one B (a recurrent weight) pack it once.
  pm.addPass(createEmberHoistGemmPacking());
  bufferization::buildBufferDeallocationPipeline(pm);

  // Loops and scalar code; LLVM's loop vectorizer widens the inner loops.
  // Parallel dims stay scf.parallel (reductions scf.for inside them), as do
  // the row loops written as scf.forall, for ember-chunk-parallel-loops.
  OpPassManager &bufferFuncs = pm.nest<func::FuncOp>();
  bufferFuncs.addPass(createForallToParallelLoopPass());
  bufferFuncs.addPass(createConvertLinalgToParallelLoopsPass());
  bufferFuncs.addPass(createEmberApproximateMath());
  // Element-wise nests that read a transposed view: register-transposed
  // tiles (vector ops; every other nest stays scalar for LLVM to widen).
  bufferFuncs.addPass(createEmberTransposeTiles());
  // Short trailing dims (14 x 14 planes) as one long dim the vectorizer
  // can widen.
  bufferFuncs.addPass(createEmberFlattenInnerDims());
  bufferFuncs.addPass(createCanonicalizerPass());
  // One function per loop nest: LLVM's back end is superlinear in function
  // size (a transformer step as one function took 15 s to generate).
  pm.addPass(createEmberOutlineLoops());
  // Each parallel kernel runs a chunk of its outer parallel dim; its calls
  // become ember_parallel_for over the runtime's pool (after func-to-llvm).
  pm.addPass(createEmberChunkParallelLoops());
  // Element-wise outputs larger than the last-level cache: non-temporal
  // vector stores (no read for ownership), behind a run-time size check.
  if (unsigned threshold = streamingStoresThresholdMiB())
    pm.addPass(createEmberStreamingStores(EmberStreamingStoresOptions{threshold}));
  // LLVM intrinsics first (fma, floor, sqrt, ... must not become libm
  // calls, which would stop vectorization); libm only for what is left
  // (f64 tanh, erf, ...).
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createSCFToControlFlowPass());
  // Reshapes that split a dim of a strided view: see the pass.
  pm.addPass(createEmberExpandShapeStrides());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createConvertVectorToLLVMPass());
  // Temporaries go through the runtime's caching host allocator
  // (`_mlir_memref_to_llvm_*`), not malloc: a fresh large buffer costs its
  // page faults on every call. Aligned allocation because bufferization
  // asks for 64-byte alignment, which hostAlloc gives anyway; the malloc
  // form would add 64 bytes of padding and push exact sizes (64 MiB) into
  // the next size class.
  FinalizeMemRefToLLVMConversionPassOptions memrefToLLVM;
  memrefToLLVM.useGenericFunctions = true;
  memrefToLLVM.useAlignedAlloc = true;
  pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefToLLVM));
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createEmberParallelLaunch());
}
