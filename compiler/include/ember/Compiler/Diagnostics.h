//===- Diagnostics.h - MLIR diagnostics as text for error messages -*- C++ -*-===//
//
// Every compile entry point (the CPU JIT, the GPU compiler, the frontend's
// graph compiler, the model-program reader) reports MLIR's diagnostics to its
// caller as text in the error string: one collector captures them while a
// compile runs, and one function spells a location as users read it.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_COMPILER_DIAGNOSTICS_H
#define EMBER_COMPILER_DIAGNOSTICS_H

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Location.h"

#include <string>

namespace mlir {
class MLIRContext;
} // namespace mlir

namespace ember {

/// A location as users read it: `file:line` (and `:column` when known) for
/// source locations, also inside fused or named ones; MLIR's form otherwise.
std::string formatLocation(mlir::Location loc);

/// Which diagnostics a DiagnosticCollector keeps, and how it spells them.
struct DiagnosticFormat {
  /// Keep remarks (the GPU conversions emit them in numbers: noise there).
  bool remarks = false;
  /// Follow each diagnostic with its notes, as "<location>: note: ..." lines.
  bool notes = false;
  /// Print locations as MLIR does (`loc("program":1:2)`) rather than with
  /// formatLocation.
  bool mlirLocations = false;
};

/// Captures the diagnostics emitted on a context while it lives (instead of
/// printing them to stderr) as "<location>: message" lines, for an error
/// message. Handlers nest: the innermost collector sees them.
class DiagnosticCollector {
public:
  explicit DiagnosticCollector(mlir::MLIRContext *context, DiagnosticFormat format = {});

  /// Everything collected so far, one diagnostic per line, each ending in a
  /// newline; empty when there was none.
  const std::string &text() const { return collected; }
  /// text(), leaving the collector empty.
  std::string take() { return std::move(collected); }

private:
  void collect(mlir::Diagnostic &diag);

  DiagnosticFormat format;
  std::string collected;
  mlir::ScopedDiagnosticHandler handler;
};

} // namespace ember

#endif // EMBER_COMPILER_DIAGNOSTICS_H
