//===- Graph.h - the lazy graph behind eager tensors ------------*- C++ -*-===//
//
// Every eager op appends a `Node` whose result shape and dtype are known at
// once; nothing runs until a value is needed. A `Storage` is the memory a
// tensor and its views share: either a materialized `Buffer`, or a pending
// node whose result will become its new contents (in-place ops only replace
// that node, so they are functional in the graph).
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_FRONTEND_GRAPH_H
#define EMBER_FRONTEND_GRAPH_H

#include "ember/Frontend/DType.h"
#include "ember/Runtime/Backend.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ember {
namespace gpu {
class Device;
} // namespace gpu

using Shape = llvm::SmallVector<int64_t, 4>;

// Where a tensor's memory lives is the runtime's Backend, spelled in Python
// as backendDeviceType says ("cpu", "vulkan", "cuda", "rocm", "xpu"). GPU
// tensors' graphs compile for their device
// (compiler/include/ember/Compiler/GpuCompiler.h) and run through the
// runtime's device layer (runtime/gpu).

/// The opened device of a GPU kind (device 0, opened once); throws
/// RuntimeError "vulkan is not available: ..." otherwise.
gpu::Device &gpuDevice(Backend kind);

int64_t shapeNumel(llvm::ArrayRef<int64_t> shape);
/// Row-major strides of a dense tensor of `shape`.
Shape contiguousStrides(llvm::ArrayRef<int64_t> shape);

/// Where the user's code created a node: a Python file and line.
struct SourceLoc {
  /// Interned: the same file always has the same pointer. Null when unknown.
  const std::string *file = nullptr;
  int line = 0;
};

/// Supplies the location of the op being traced (the Python binding installs
/// one that reads the caller's frame).
using LocationProvider = SourceLoc (*)();
void setLocationProvider(LocationProvider provider);
SourceLoc currentLocation();

/// A block of host memory from the caching allocator.
struct Buffer {
  explicit Buffer(size_t bytes);
  /// Device memory of `bytes` bytes on the GPU of `kind` (data is null).
  Buffer(Backend kind, size_t bytes);
  /// Borrows memory owned elsewhere (a NumPy array); `release` runs when the
  /// buffer dies. Writes go into that memory.
  Buffer(void *external, size_t bytes, std::function<bool()> externallyVisible,
         std::function<void()> release);
  ~Buffer();
  Buffer(const Buffer &) = delete;
  Buffer &operator=(const Buffer &) = delete;

  void *data;
  size_t bytes;
  /// Whether someone outside ember reads this memory directly (a NumPy
  /// array from `.numpy()`, or the array `from_numpy` borrowed): updates must
  /// then be written into this block, at once, rather than replace it.
  bool isExported() const {
    return liveExports > 0 || (externallyVisible && externallyVisible());
  }

  /// Arrays handed out by `.numpy()` that are still alive.
  int liveExports = 0;
  /// For borrowed memory: whether its owner is still visible to others.
  std::function<bool()> externallyVisible;
  std::function<void()> release;
  /// GPU buffers: the device and its allocation (a gpu::DeviceBuffer's
  /// handle); `data` is null.
  Backend device = Backend::Cpu;
  uint64_t deviceHandle = 0;
  size_t deviceBytes = 0;
};

/// What a node computes: one code per ember dialect op, generated from its
/// ODS definition (ember/Dialect/EmberVocabulary.inc), plus the two that
/// only the tracer has. How each op uses a node's fields:
/// - Input: a materialized buffer; Constant: a 0-d constant (`f` or `i`).
/// - Element-wise ops: operands share the result dtype (Compare's are the
///   promoted operand dtype, ints[0] = predicate in Comparison order;
///   Select's inputs are {condition, true, false}).
/// - Sum, Mean, Max, Min: ints = dims, flag = keepdim. Argmax, Argmin:
///   ints[0] = dim, flag = keepdim.
/// - Reshape, BroadcastTo: the result shape is the node's shape.
///   Transpose: ints = permutation. Slice: ints = start..., stop...,
///   step...; InsertSlice: inputs = {dest, source}, ints as Slice.
///   Concat, Softmax, LogSoftmax: ints[0] = dim. Gather: inputs = {source,
///   indices}, ints[0] = dim. ScatterAdd: inputs = {dest, indices,
///   updates}, ints[0] = dim. LayerNorm, RmsNorm: inputs = {x, weight?,
///   bias?}, ints = {the f64 bits of eps, has weight, has bias}.
///   SoftmaxBackward, LogSoftmaxBackward: inputs = {grad, output}, ints[0]
///   = dim. LayerNormBackward, RmsNormBackward: inputs = {grad, x,
///   weight?}, ints = {the f64 bits of eps} (the VJPs build these).
///   CrossEntropyRows: inputs = {logits (N, C), target (N,) int64}, ints[0]
///   = ignore_index; CrossEntropyRowsBackward: inputs = {grad, logits,
///   target}, ints[0] = ignore_index.
///   RecurrentSequence: inputs = {input, h0, c0?, weight_hh, bias_hh?,
///   weight_hr?, mask?}, ints = {cell, has c0, has bias_hh, has weight_hr,
///   has mask}; RecurrentSequenceBackward (built by its VJP only): inputs =
///   {grad, workspace, weight_hh, weight_hr?, mask?}, ints = {cell, has
///   weight_hr, has mask}.
///   Attention: inputs = {query, key, value, mask?}, ints = {the f64 bits
///   of scale, causal, has mask}; AttentionBackward is built by the VJP
///   only (it has three results, which a node cannot stand for).
///   Conv: inputs = {input, weight}, ints = {stride..., padding_low...,
///   padding_high..., dilation..., groups}; ConvBackwardData (traced for
///   conv_transpose*d): inputs = {input, weight}, ints as Conv then
///   output_padding...; ConvBackwardWeight is built by the VJP only.
///   AllReduce: inputs = {input}, ints = {reduce op, process group
///   number} (a collective: compiled programs call the group's engine).
/// - Grad: the gradient of inputs[0] (seeded by the cotangent inputs[1])
///   with respect to the value of inputs[2]; expanded by the autodiff pass.
/// - CustomVjp (an autograd.Function): inputs = {primals..., forward
///   outputs..., captures...}, ints = {number of primals, number of
///   outputs}, `custom` = the traced backward; its value is output 0.
///   CustomVjpResult: output ints[0] of the CustomVjp inputs[0].
///   Placeholder: a cotangent inside a traced backward (never computed).
enum class OpCode : uint8_t {
  Input,
#define EMBER_OP(Name, Mnemonic) Name,
#include "ember/Dialect/EmberVocabulary.inc"
  Grad,
  CustomVjpResult,
  Placeholder,
};

const char *opName(OpCode op);

/// Comparison predicates in the order of the dialect's enum.
enum class Comparison : uint8_t { Eq, Ne, Lt, Le, Gt, Ge };

struct Node;
using NodeRef = std::shared_ptr<Node>;
struct TensorImpl;

/// The backward of an autograd.Function, traced on placeholder cotangents
/// (CustomVjp nodes; frontend/lib/CustomFunction.cpp).
struct CustomBackward {
  /// The nodes the backward made, inputs before users. They read each
  /// other, the placeholders and the CustomVjp node's inputs.
  std::vector<NodeRef> nodes;
  /// One Placeholder per forward output: its cotangent.
  std::vector<NodeRef> cotangents;
  /// One per primal: the gradient (a node of `nodes`, a placeholder or an
  /// input of the CustomVjp node).
  std::vector<NodeRef> gradients;
  /// The outputs' grad_fn name (torch's: the Function's class + "Backward").
  std::string name;
};

/// Whether new nodes record autograd history (torch.is_grad_enabled); per
/// thread, and on in a new thread, as in torch.
bool gradEnabled();
void setGradEnabled(bool enabled);

struct Node {
  OpCode op;
  DType dtype;
  bool flag = false;
  Shape shape;
  llvm::SmallVector<NodeRef, 2> inputs;
  llvm::SmallVector<int64_t, 4> ints;
  /// Constant value (floats in `f`, ints and bools in `i`).
  double f = 0;
  int64_t i = 0;
  /// Input nodes: the buffer they read.
  std::shared_ptr<Buffer> buffer;
  SourceLoc loc;
  /// Autograd: the value depends on a tensor that requires grad.
  bool requiresGrad = false;
  /// Autograd: a backward without retain_graph went through this node.
  bool freed = false;
  /// The device its value is computed on (constants adapt to their users).
  Backend device = Backend::Cpu;
  /// Autograd: set on the node that stands for a leaf's value in a graph.
  std::weak_ptr<TensorImpl> leaf;
  /// Scratch for graph walks.
  uint64_t visitEpoch = 0;
  uint32_t index = 0;
  /// Creation order on this thread (what a traced backward made).
  uint64_t serial = 0;
  /// CustomVjp nodes: the traced backward.
  std::shared_ptr<const CustomBackward> custom;
};

/// The serial of the last node this thread created (Node::serial).
uint64_t lastNodeSerial();

/// Creates a node at the current source location, counting it towards the
/// size that triggers an automatic sync.
NodeRef makeNode(OpCode op, DType dtype, llvm::ArrayRef<int64_t> shape,
                 llvm::ArrayRef<NodeRef> inputs = {});

/// The memory shared by a tensor and its views: a dense array of `shape`.
struct Storage {
  DType dtype;
  Shape shape;
  Backend device = Backend::Cpu;
  /// The contents, when `pending` is null.
  std::shared_ptr<Buffer> buffer;
  /// When set, the contents are this node's result (not yet computed).
  NodeRef pending;
  /// An Input node reading `buffer`, shared by all reads in one graph.
  NodeRef inputNode;
  /// Set when computing `pending` failed: reads report this again.
  std::shared_ptr<std::string> error;

  int64_t numel() const { return shapeNumel(shape); }
};
using StorageRef = std::shared_ptr<Storage>;

/// A storage with fresh, uninitialized memory.
StorageRef allocateStorage(DType dtype, llvm::ArrayRef<int64_t> shape);
/// A storage on `device` holding a copy of computed `source` (any device).
StorageRef copyStorageTo(Storage &source, Backend device);
/// A storage whose contents will be `node`'s result.
StorageRef pendingStorage(const NodeRef &node);
/// The node that yields `storage`'s current contents.
NodeRef storageValue(Storage &storage);
/// Makes `node` the new contents of `storage` (an in-place update).
void setPending(const StorageRef &storage, NodeRef node);

/// Whether this thread is tracing the backward of an autograd.Function: its
/// values are symbolic (they read placeholder cotangents), so syncs leave
/// them alone.
bool tracingCustomBackward();

/// Computes every pending storage that is still alive, in one compiled graph.
void sync();
/// Computes `storage` (and every other pending value with it) if pending.
void materialize(Storage &storage);

/// Compile-cache counters.
struct CompileStats {
  /// Graphs compiled (misses of both caches).
  uint64_t compiles = 0;
  /// Graphs found in the in-memory cache.
  uint64_t cacheHits = 0;
  /// Graphs loaded from the disk cache (EMBER_CACHE_DIR).
  uint64_t diskHits = 0;
  double compileMs = 0;
  double diskLoadMs = 0;
  uint64_t graphsRun = 0;
  uint64_t nodesTraced = 0;
  /// CPU kernels (fused loop nests) compiled, and reused from an earlier
  /// compile of this process or from disk instead of compiled again.
  uint64_t kernelsCompiled = 0;
  uint64_t kernelsReused = 0;
};
CompileStats compileStats();
void clearCompileCache();

} // namespace ember

#endif // EMBER_FRONTEND_GRAPH_H
