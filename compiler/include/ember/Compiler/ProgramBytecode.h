//===- ProgramBytecode.h - check a model program's bytecode first -*- C++ -*-===//
//
// MLIR's bytecode reader trusts its input: counts become allocations before
// any byte backs them, a zero-length string table entry becomes a string of
// SIZE_MAX bytes, a group of attribute offsets longer than the table writes
// past it, a cycle of attribute references loops forever, and the builtin
// dialect builds types and attributes without verifying them (assertions are
// off in release builds). A model file comes from anywhere, so its program is
// checked here, structurally and against what Ember writes, before the reader
// sees it (docs/model-format.md, "Program").
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_COMPILER_PROGRAMBYTECODE_H
#define EMBER_COMPILER_PROGRAMBYTECODE_H

#include "llvm/ADT/StringRef.h"

#include <string>

namespace mlir {
class MLIRContext;
} // namespace mlir

namespace ember {

/// Whether `bytes` starts with MLIR bytecode's magic ("ML\xefR").
bool isMlirBytecode(llvm::StringRef bytes);

/// Checks that `bytes` is MLIR bytecode that MLIR's reader can read without
/// crashing, hanging or allocating more than a small multiple of its size:
/// every count is bounded by the bytes left, every index by its table; the
/// dialects are the ones Ember writes (builtin, func, arith, tensor, ember)
/// and every operation name is registered in `context` (which loads those
/// dialects); attributes and types are builtin ones with their invariants
/// (widths, shapes, element types, data sizes) and reference each other
/// without cycles; no resources, alignment or dialect versions. Linear in the
/// size. On failure returns false with `error` set to what is wrong.
bool checkProgramBytecode(llvm::StringRef bytes, mlir::MLIRContext *context,
                          std::string *error);

} // namespace ember

#endif // EMBER_COMPILER_PROGRAMBYTECODE_H
