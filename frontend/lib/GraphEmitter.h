//===- GraphEmitter.h - graph emission and the shared context -*- C++ -*-===//
//
// What the graph compilers (CpuGraph.cpp, GpuGraph.cpp, GraphExport.cpp)
// share: the one MLIR context every compile of the process uses and the
// emitter that turns a GraphPlan into an `ember` dialect function (a
// compile's diagnostics are collected by ember/Compiler/Diagnostics.h).
// Internal to the frontend.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_FRONTEND_LIB_GRAPHEMITTER_H
#define EMBER_FRONTEND_LIB_GRAPHEMITTER_H

#include "GraphCompiler.h"

#include "ember/Compiler/CpuCompiler.h"
#include "ember/Compiler/Diagnostics.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/raw_ostream.h"

#include <mutex>
#include <optional>
#include <string>

namespace ember {

/// The name of the function a compiled graph is emitted as.
inline constexpr char kGraphName[] = "graph";

/// The context every compile of the process uses, one compile at a time:
/// with multithreading disabled its uniquing tables take no locks, and its
/// diagnostic handlers would catch other threads' messages. Callers hold
/// `contextMutex()` while they use it or anything made in it.
std::mutex &contextMutex();
mlir::MLIRContext &compilerContext();

/// `plan` as a module holding the function `kGraphName` (see GraphPlan for
/// its arguments), or null with `error` set. With `reshapeGroups`, reshapes
/// say how their dims correspond (reshapeGroups in GraphCompiler.h), so that
/// a reshape of a strided view lowers to a view (the CPU pipeline; the GPU
/// ones make the input dense first).
/// With `tagNodes`, each node's ops are located in a NameLoc naming the
/// node ("ember.node<index>"), read back by kernelNodeTag after lowering.
mlir::OwningOpRef<mlir::ModuleOp> emitGraph(mlir::MLIRContext *ctx, const GraphPlan &plan,
                                            std::string *error,
                                            bool reshapeGroups = false,
                                            bool tagNodes = false);
/// emitGraph for a compile: the module, verified and printed to stderr at
/// EMBER_DEBUG=4 (EMBER_DUMP_GRAPHS); or null with `error` set, followed by
/// what `diagnostics` (collecting on `ctx`) caught.
mlir::OwningOpRef<mlir::ModuleOp> emitGraphForCompile(mlir::MLIRContext *ctx,
                                                      const GraphPlan &plan,
                                                      const DiagnosticCollector &diagnostics,
                                                      std::string *error,
                                                      bool reshapeGroups = false,
                                                      bool tagNodes = false);
/// The plan index a tagged location (emitGraph's tagNodes) names, if any;
/// fused locations are searched.
constexpr const char kNodeTagPrefix[] = "ember.node";
std::optional<size_t> kernelNodeTag(mlir::Location loc);
/// What names a kernel in a lowered module: `op`'s kernel name, if any.
using KernelNameOf =
    llvm::function_ref<std::optional<llvm::StringRef>(mlir::Operation *op)>;
/// Which nodes each kernel of a lowered `module` computes, in the order the
/// kernels are met: the node tags (kernelNodeTag) in the locations of each
/// kernel's code and of the ops that launch or call it. `kernelOf` names
/// the kernel an op is the code of (its function); `calleeOf` the kernel an
/// op launches or calls. Equal kernels (one name, two functions) are one
/// entry. Serves the CPU's kernels and the GPU's alike.
KernelNodes kernelNodesOf(mlir::ModuleOp module, KernelNameOf kernelOf,
                          KernelNameOf calleeOf);
/// `plan` as a function with `signature`'s arguments: the size vector is
/// computed from the arguments' dims, so the function stands alone. Null
/// with `error` set on failure.
mlir::OwningOpRef<mlir::ModuleOp> emitExportedGraph(mlir::MLIRContext *ctx,
                                                    const GraphPlan &plan,
                                                    const ExportSignature &signature,
                                                    std::string *error);

} // namespace ember

#endif // EMBER_FRONTEND_LIB_GRAPHEMITTER_H
