//===- GraphExport.cpp - lazy graphs as portable programs -------*- C++ -*-===//
//
// Export: a graph emitted as a standalone ember function (sizes computed
// from its arguments), folded and written as MLIR bytecode; and the text of
// such a program, for reading.
//
//===----------------------------------------------------------------------===//

#include "GraphEmitter.h"

#include "ember/Compiler/ProgramBytecode.h"
#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

#include <mutex>

using namespace mlir;

namespace ember {

std::string exportGraph(const GraphPlan &plan, const ExportSignature &signature,
                        std::string *error) {
  std::lock_guard<std::mutex> lock(contextMutex());
  MLIRContext &ctx = compilerContext();
  DiagnosticText diagnosticText(ctx);
  const std::string &diagnostics = diagnosticText.text;
  OwningOpRef<ModuleOp> module = emitExportedGraph(&ctx, plan, signature, error);
  if (!module) {
    *error += "\n" + diagnostics;
    return "";
  }
  // Fold the size arithmetic and the casts the emitter adds; the program
  // stays in the ember dialect (lowering happens where it is compiled).
  PassManager pm(&ctx);
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  if (failed(verify(*module)) || failed(pm.run(*module))) {
    *error = "internal error: the exported program does not verify:\n" + diagnostics;
    return "";
  }
  std::string bytes;
  llvm::raw_string_ostream out(bytes);
  if (failed(writeBytecodeToFile(*module, out))) {
    *error = "cannot write the program as MLIR bytecode";
    return "";
  }
  out.flush();
  return bytes;
}

std::string exportGraphText(const std::string &bytecode, std::string *error) {
  // The bytes come from Python (ember._ember._program_text): check them
  // before MLIR's reader does (ProgramBytecode.h). No context: the check
  // must not load dialects into the shared one.
  std::string problem = "bad magic";
  if (!isMlirBytecode(bytecode) ||
      !checkProgramBytecode(bytecode, /*context=*/nullptr, &problem)) {
    *error = "the program is not valid MLIR bytecode: " + problem;
    return "";
  }
  std::lock_guard<std::mutex> lock(contextMutex());
  MLIRContext &ctx = compilerContext();
  ParserConfig config(&ctx);
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(bytecode, config);
  if (!module) {
    *error = "the program is not valid MLIR bytecode";
    return "";
  }
  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os);
  return text;
}

} // namespace ember
