//===- GraphCompiler.h - lazy graph -> compiled CPU function ----*- C++ -*-===//
//
// Emits a lazy graph as one `ember` dialect function with dynamic dims and
// compiles it with the CPU JIT. Internal to the frontend.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_FRONTEND_LIB_GRAPHCOMPILER_H
#define EMBER_FRONTEND_LIB_GRAPHCOMPILER_H

#include "ember/Frontend/Graph.h"

#include <memory>
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

/// Compiles `plan`; null with `error` set (diagnostics carry the Python
/// file:line of the failing op) on failure.
std::unique_ptr<CompiledGraph> compileGraph(const GraphPlan &plan,
                                            std::string *error);
/// The same for a GPU: kernels for `device` (target vulkan, level-zero,
/// cuda:<the GPU's sm_XY, or sm_$EMBER_CUDA_ARCH> or rocm:$EMBER_ROCM_ARCH
/// (gfx942)) and a
/// launch plan run by the runtime's gpu::Program.
std::unique_ptr<CompiledGraph> compileGraphForGpu(const GraphPlan &plan, DeviceKind device,
                                                  std::string *error);

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

/// Whether `node` is a float constant whose value the graph reads from the
/// size vector (as f64 bits, one slot) instead of baking it into the program,
/// so that a per-step Python number (a learning rate) reuses the compiled
/// graph. Integral values and +-0.5 stay compile-time constants: they are
/// what folds like `x * 1` and `x ** 2` need, and are rarely varied per step.
inline bool isRuntimeScalar(const Node &node) {
  if (node.op != OpCode::Constant || !isFloating(node.dtype))
    return false;
  double f = node.f;
  return f == f && f != static_cast<double>(static_cast<int64_t>(f)) &&
         f != 0.5 && f != -0.5;
}

} // namespace ember

#endif // EMBER_FRONTEND_LIB_GRAPHCOMPILER_H
