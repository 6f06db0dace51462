//===- GraphCompiler.h - lazy graph -> compiled function --------*- C++ -*-===//
//
// Emits a lazy graph as one `ember` dialect function with dynamic dims
// (GraphEmitter.cpp) and compiles it with the CPU JIT (CpuGraph.cpp) or for
// a GPU (GpuGraph.cpp), or exports it (GraphExport.cpp). Internal to the
// frontend.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_FRONTEND_LIB_GRAPHCOMPILER_H
#define EMBER_FRONTEND_LIB_GRAPHCOMPILER_H

#include "ember/Compiler/CpuCompiler.h"
#include "ember/Dialect/Shapes.h"
#include "ember/Frontend/Graph.h"

#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ember {

/// A dense row-major buffer passed to a compiled graph.
struct GraphBuffer {
  void *data;
  const int64_t *shape;
  int64_t rank;
  /// GPU graphs: the buffer holding the device memory (null for the size
  /// vector, which stays on the host), and the element size.
  const Buffer *owner = nullptr;
  size_t elementBytes = 0;
};

/// A graph in the order the compiled function sees it. Function arguments:
/// the input buffers, then one i64 vector holding the sizes of every reshape
/// and broadcast_to result dim that is not 1 (in node order), then one buffer
/// per output.
struct GraphPlan {
  /// Topologically sorted; `Node::index` is the position here.
  std::vector<Node *> nodes;
  std::vector<Node *> inputs;
  std::vector<Node *> outputs;
};

class CompiledGraph {
public:
  virtual ~CompiledGraph() = default;
  /// Runs the graph on inputs, the size vector, then outputs.
  virtual void run(llvm::ArrayRef<GraphBuffer> buffers) const = 0;
};

/// Per kernel of a compiled graph: its name (the name of its profiler
/// spans) and the plan indices of the nodes whose ops it computes.
using KernelNodes = std::vector<std::pair<std::string, std::vector<size_t>>>;

/// A compiled CPU graph's machine code: the glue's object and its kernels'
/// symbols (`ember_kernel_<hash of the code>`), whose objects are kept by
/// symbol, in memory and in `KernelDisk`.
struct GraphObjects {
  std::string entry;
  std::vector<std::string> kernels;
  /// With `recordKernelNodes` set before the compile (not kept on disk):
  /// each kernel's symbol and the plan indices of the nodes whose ops it
  /// computes, read back from the lowered code. A node may be in several
  /// kernels (a producer recomputed in each consumer); nodes that became
  /// views or runtime calls are in none.
  bool recordKernelNodes = false;
  std::vector<std::pair<std::string, std::vector<size_t>>> kernelNodes;
};

/// Where kernel objects persist across processes (the disk cache), by symbol.
struct KernelDisk {
  std::function<std::optional<std::string>(const std::string &symbol)> find;
  std::function<void(const std::string &symbol, const std::string &object)> store;
};

/// Compiles `plan`; null with `error` set (diagnostics carry the Python
/// file:line of the failing op) on failure. Each fused kernel is compiled
/// once per process (once per cache folder with `disk`), whatever graph it
/// appears in; `objects`, when given, receives the graph's parts.
std::unique_ptr<CompiledGraph> compileGraph(const GraphPlan &plan, std::string *error,
                                            const KernelDisk *disk = nullptr,
                                            GraphObjects *objects = nullptr);
/// A graph compiled before (by this build, on this CPU) from its parts;
/// null with `error` set when a kernel is unknown or the code does not load.
std::unique_ptr<CompiledGraph> loadCompiledGraph(const GraphObjects &objects,
                                                 const KernelDisk *disk,
                                                 std::string *error);
/// The process's kernel objects (kernelCounts counts them), backed by
/// `disk` when given: what compileGraph and compiled models
/// (setModelKernelCache) compile through.
CpuKernelCache sharedKernelCache(const KernelDisk *disk);
/// Kernels compiled, and kernels reused (in memory or from disk), so far.
void kernelCounts(uint64_t *compiled, uint64_t *reused);
/// Forgets the kernel objects kept in memory (ember.clear_compile_cache).
void clearKernelObjects();
/// What CPU code depends on besides the graph (LLVM version, CPU, features).
const std::string &cpuCodeFingerprint();
/// The same for a GPU: kernels for `device` (target vulkan, level-zero,
/// cuda:<the GPU's sm_XY, or sm_$EMBER_CUDA_ARCH> or rocm:$EMBER_ROCM_ARCH
/// (gfx942)) and a
/// launch plan run by the runtime's gpu::Program. With `kernelNodes`, the
/// ops are tagged and it receives each kernel (`ember_gpu_kernel_<hash>`,
/// the name of its dispatches' spans) with the nodes it computes, read back
/// from the outlined kernels and their launches.
std::unique_ptr<CompiledGraph> compileGraphForGpu(const GraphPlan &plan, Backend device,
                                                  std::string *error,
                                                  KernelNodes *kernelNodes = nullptr);

/// How an exported program's function is called (see exportGraph).
struct ExportSignature {
  /// The function's name.
  std::string name = "forward";
  /// Per argument: dtype and dims, -1 for a symbolic (dynamic) dim.
  std::vector<std::pair<DType, Shape>> arguments;
  /// Per plan input (in GraphPlan::inputs order): its argument.
  std::vector<int> argumentOfInput;
  /// Per size-vector slot: `constant + sum(coefficient * dim(argument))`.
  struct Term {
    int argument;
    int dim;
    int64_t coefficient;
  };
  struct SizeExpr {
    int64_t constant = 0;
    std::vector<Term> terms;
  };
  std::vector<SizeExpr> sizes;
  /// Per plan output: dims, -1 for a symbolic (dynamic) dim.
  std::vector<Shape> outputs;
};

/// Emits `plan` as a portable program: MLIR bytecode of a module with one
/// public ember function `signature.name` whose arguments are
/// `signature.arguments` (no size vector: sizes are computed from the
/// arguments' dims). Empty with `error` set on failure.
std::string exportGraph(const GraphPlan &plan, const ExportSignature &signature,
                        std::string *error);
/// The same program as text, for reading.
std::string exportGraphText(const std::string &bytecode, std::string *error);

/// EMBER_DUMP_GRAPHS when it names a folder (GraphDump.cpp), else empty.
const std::string &graphDumpDir();
/// `plan` as Graphviz dot text: ops, dtypes and shapes on edges, inputs
/// computed before, element-wise fusion chains as clusters.
std::string graphToDot(const GraphPlan &plan,
                       const std::vector<std::pair<std::string, std::vector<size_t>>> &kernels);
/// Writes graph-<pid>-<n>.dot (and .svg with Graphviz) to graphDumpDir().
/// Why the graph that computed `buffer` was cut ("a value was read ...",
/// "ember.sync()", the size limit) and the user's file:line there, when a
/// graph cut computed it and the buffer is alive; false otherwise (the
/// user's data). The frontend remembers this per computed buffer so that
/// pictures of later graphs (ember.debug.draw, EMBER_DUMP_GRAPHS) can draw
/// each cut with its reason.
bool graphCutOf(const Buffer *buffer, std::string *reason, std::string *where);

/// The kernels the graph behind `roots` compiles to on `device`, each named
/// as its profiler spans are (CPU: `ember_kernel_<hash>`; GPU:
/// `ember_gpu_kernel_<hash>`, its dispatches) with the graph's nodes whose
/// ops it computes, read back from the lowered code. Compiles the graph now
/// (CPU kernels come from and go to the kernel cache) and runs nothing; the
/// graph stays pending.
std::vector<std::pair<std::string, std::vector<const Node *>>>
compiledKernelsOf(const std::vector<Node *> &roots, Backend device);

void dumpGraphPicture(const GraphPlan &plan, uint64_t graphNumber,
                      const std::vector<std::pair<std::string, std::vector<size_t>>> &kernels);

/// Orders the graph behind `outputs` into `plan` (inputs before users).
void collectGraph(const std::vector<Node *> &outputs, GraphPlan &plan);
/// Which node each part of a graph's description comes from, so that export
/// can name the op whose structure or size changed between traces.
struct GraphDescriptionMap {
  /// Per node (plan order): a hash of that node's part of the key.
  std::vector<uint64_t> nodeHashes;
  /// Per size-vector slot: the node that reads it.
  std::vector<const Node *> slotOwners;
};

/// The compile-cache key and size vector of `plan` (what a compile depends
/// on, and what it reads at run time); `map`, when given, says which node
/// each part comes from.
void describeGraph(const GraphPlan &plan, std::vector<int64_t> &key,
                   std::vector<int64_t> &sizes,
                   GraphDescriptionMap *map = nullptr);

/// The dims a graph's size vector holds for `node` (see GraphPlan).
inline bool takesSizeSlots(const Node &node) {
  return node.op == OpCode::Reshape || node.op == OpCode::BroadcastTo;
}

/// One dim of a Slice or InsertSlice window, normalized against the sliced
/// size: `whole` windows (the entire dim, step 1) are static in the program;
/// any other window's start and stop reach it at run time (two slots of the
/// size vector), so a new window position or length reuses the program.
/// The step stays part of the program: a unit step is a contiguous copy.
struct SliceDim {
  bool whole;
  int64_t start, stop, step;
};
inline SliceDim sliceDim(const Node &node, size_t d) {
  size_t rank = node.inputs[0]->shape.size();
  int64_t size = node.inputs[0]->shape[d];
  int64_t step = node.ints[2 * rank + d];
  SliceExtent extent = computeSliceExtent(size, node.ints[d], node.ints[rank + d], step);
  int64_t stop = extent.count ? extent.offset + (extent.count - 1) * step + 1 : extent.offset;
  return {step == 1 && extent.offset == 0 && extent.count == size, extent.offset, stop,
          step};
}
inline bool isSliceOp(const Node &node) {
  return node.op == OpCode::Slice || node.op == OpCode::InsertSlice;
}

/// How a reshape node's dims correspond, from its sizes: (input dims, result
/// dims) pairs of consecutive dims with equal element counts, finest first,
/// size-1 dims at either end joining the group next to them (the form of
/// ember.reshape's `groups`). Empty where a side has rank 0 or a dim of size
/// 0. Part of the cache key: the compiled program depends on it.
inline llvm::SmallVector<int64_t, 8> reshapeGroups(const Node &node) {
  llvm::ArrayRef<int64_t> from = node.inputs[0]->shape, to = node.shape;
  llvm::SmallVector<int64_t, 8> groups;
  auto hasZero = [](llvm::ArrayRef<int64_t> dims) {
    return llvm::is_contained(dims, 0);
  };
  if (from.empty() || to.empty() || hasZero(from) || hasZero(to))
    return groups;
  size_t i = 0, j = 0;
  while (i < from.size() && j < to.size()) {
    size_t inputBegin = i, resultBegin = j;
    int64_t inputElements = from[i++], resultElements = to[j++];
    while (inputElements != resultElements) {
      if (inputElements < resultElements) {
        if (i == from.size())
          return {};
        inputElements *= from[i++];
      } else {
        if (j == to.size())
          return {};
        resultElements *= to[j++];
      }
    }
    groups.append({int64_t(i - inputBegin), int64_t(j - resultBegin)});
  }
  // Trailing size-1 dims join the last group.
  for (; i < from.size(); ++i, ++groups[groups.size() - 2])
    if (from[i] != 1)
      return {};
  for (; j < to.size(); ++j, ++groups.back())
    if (to[j] != 1)
      return {};
  return groups;
}

/// Appends what `node` reads from the size vector, in slot order: a run-time
/// scalar's f64 bits, a reshape/broadcast's result dims that are not 1, a
/// slice window's starts and stops.
inline void appendRuntimeSlots(const Node &node, std::vector<int64_t> &slots);

/// Whether `node` is a constant whose value the graph reads from the size
/// vector (one slot: f64 bits for floats, the value for integers) instead of
/// baking it into the program, so that a per-step Python number (a learning
/// rate, a step count, an offset) reuses the compiled graph. What folds and
/// rewrites need stays in the program: 0, +-1, +-2 and +-0.5 (`x * 1`,
/// `x + 0`, `x * 2`), NaN, bools, and constants the tracer marked with
/// `flag` (a pow's exponent, which chooses the code).
inline bool isRuntimeScalar(const Node &node) {
  if (node.op != OpCode::Constant || node.flag || node.dtype == DType::Bool)
    return false;
  double v = isFloating(node.dtype) ? node.f : static_cast<double>(node.i);
  return v == v && v != 0 && v != 1 && v != -1 && v != 2 && v != -2 && v != 0.5 &&
         v != -0.5;
}

inline void appendRuntimeSlots(const Node &node, std::vector<int64_t> &slots) {
  if (isRuntimeScalar(node)) {
    int64_t bits = node.i;
    static_assert(sizeof(bits) == sizeof(node.f));
    if (isFloating(node.dtype))
      memcpy(&bits, &node.f, sizeof(bits));
    slots.push_back(bits);
  }
  if (takesSizeSlots(node))
    for (int64_t d : node.shape)
      if (d != 1)
        slots.push_back(d);
  if (isSliceOp(node))
    for (size_t d = 0; d < node.inputs[0]->shape.size(); ++d)
      if (SliceDim dim = sliceDim(node, d); !dim.whole)
        slots.insert(slots.end(), {dim.start, dim.stop});
}

} // namespace ember

#endif // EMBER_FRONTEND_LIB_GRAPHCOMPILER_H
