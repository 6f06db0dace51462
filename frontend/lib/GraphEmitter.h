//===- GraphEmitter.h - graph emission and the shared context -*- C++ -*-===//
//
// What the graph compilers (CpuGraph.cpp, GpuGraph.cpp, GraphExport.cpp)
// share: the one MLIR context every compile of the process uses, the
// collector of a compile's diagnostics, and the emitter that turns a
// GraphPlan into an `ember` dialect function. Internal to the frontend.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_FRONTEND_LIB_GRAPHEMITTER_H
#define EMBER_FRONTEND_LIB_GRAPHEMITTER_H

#include "GraphCompiler.h"

#include "ember/Compiler/CpuCompiler.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/raw_ostream.h"

#include <mutex>
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

/// Collects a compile's diagnostics as "file:line: message" lines (remarks,
/// which the GPU conversions emit in numbers, left out).
class DiagnosticText {
public:
  explicit DiagnosticText(mlir::MLIRContext &ctx)
      : handler(&ctx, [this](mlir::Diagnostic &diag) {
          if (diag.getSeverity() != mlir::DiagnosticSeverity::Remark) {
            llvm::raw_string_ostream os(text);
            os << formatLocation(diag.getLocation()) << ": " << diag << "\n";
          }
          return mlir::success();
        }) {}
  std::string text;

private:
  mlir::ScopedDiagnosticHandler handler;
};

/// `plan` as a module holding the function `kGraphName` (see GraphPlan for
/// its arguments), or null with `error` set.
mlir::OwningOpRef<mlir::ModuleOp> emitGraph(mlir::MLIRContext *ctx, const GraphPlan &plan,
                                            std::string *error);
/// `plan` as a function with `signature`'s arguments: the size vector is
/// computed from the arguments' dims, so the function stands alone. Null
/// with `error` set on failure.
mlir::OwningOpRef<mlir::ModuleOp> emitExportedGraph(mlir::MLIRContext *ctx,
                                                    const GraphPlan &plan,
                                                    const ExportSignature &signature,
                                                    std::string *error);

} // namespace ember

#endif // EMBER_FRONTEND_LIB_GRAPHEMITTER_H
