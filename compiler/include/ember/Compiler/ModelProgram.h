//===- ModelProgram.h - a model file's program as an MLIR module -*- C++ -*-===//
//
// The `program` section of a .ember file is MLIR bytecode of ember functions:
// one public function per manifest entry, taking the entry's inputs, then its
// weights, and returning its outputs (docs/model-format.md). The JIT
// (ModelJit.cpp) and ember-compile both parse it here and check it against
// the manifest first, so that a file whose program and manifest disagree is
// rejected with a message naming the entry instead of running compiled code
// on buffers of the wrong shape.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_COMPILER_MODELPROGRAM_H
#define EMBER_COMPILER_MODELPROGRAM_H

#include "ember/Runtime/Manifest.h"
#include "ember/Runtime/ModelFile.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringRef.h"

#include <string>

namespace ember {

/// The MLIR element type of a manifest dtype (bool is i1).
mlir::Type toMlirType(ElementType type, mlir::MLIRContext *context);

/// Parses `program` (MLIR bytecode) into `context`, which needs the
/// compiler's dialects (registerCompilerDialects), after checking it with
/// checkProgramBytecode: untrusted bytes cannot crash or hang the reader.
/// Returns null with `error` set ("the program section is malformed ...")
/// on failure.
mlir::OwningOpRef<mlir::ModuleOp> parseModelProgram(llvm::StringRef program,
                                                    mlir::MLIRContext *context,
                                                    std::string *error);

/// Checks that every entry of `manifest` has a public function in `module`
/// whose arguments are the entry's inputs then weights and whose results are
/// its outputs, with matching dtypes, ranks and static dims.
mlir::LogicalResult checkModelEntries(mlir::ModuleOp module,
                                      const Manifest &manifest,
                                      std::string *error);

/// Parses the `program` section of `file` and checks it against `manifest`.
/// Errors do not name the file; callers prefix `file.label()`.
mlir::OwningOpRef<mlir::ModuleOp> loadModelProgram(const ModelFile &file,
                                                   const Manifest &manifest,
                                                   mlir::MLIRContext *context,
                                                   std::string *error);

} // namespace ember

#endif // EMBER_COMPILER_MODELPROGRAM_H
