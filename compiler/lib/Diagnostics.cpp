//===- Diagnostics.cpp - MLIR diagnostics as text for error messages ------===//

#include "ember/Compiler/Diagnostics.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace ember {

std::string formatLocation(Location loc) {
  std::string text;
  llvm::raw_string_ostream os(text);
  if (auto file = loc->findInstanceOf<FileLineColLoc>()) {
    os << file.getFilename().getValue() << ":" << file.getLine();
    if (file.getColumn())
      os << ":" << file.getColumn();
  } else {
    os << loc;
  }
  return text;
}

DiagnosticCollector::DiagnosticCollector(MLIRContext *context, DiagnosticFormat format)
    : format(format), handler(context, [this](Diagnostic &diag) {
        collect(diag);
        return success();
      }) {}

void DiagnosticCollector::collect(Diagnostic &diag) {
  if (diag.getSeverity() == DiagnosticSeverity::Remark && !format.remarks)
    return;
  llvm::raw_string_ostream os(collected);
  auto printLocation = [&](Location loc) {
    if (format.mlirLocations)
      os << loc;
    else
      os << formatLocation(loc);
  };
  printLocation(diag.getLocation());
  os << ": " << diag << "\n";
  if (!format.notes)
    return;
  for (Diagnostic &note : diag.getNotes()) {
    printLocation(note.getLocation());
    os << ": note: " << note << "\n";
  }
}

} // namespace ember
