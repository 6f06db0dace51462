//===- ExternalTools.cpp - running the assemblers and linkers -------------===//

#include "GpuCompilerInternal.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"

namespace ember {

/// Runs `program` with `args`; its stdout+stderr in `output`.
bool runTool(llvm::StringRef program, llvm::ArrayRef<llvm::StringRef> args,
             std::string *output) {
  llvm::SmallString<128> log;
  llvm::sys::fs::createTemporaryFile("ember-tool", "log", log);
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, llvm::StringRef(log),
                                                llvm::StringRef(log)};
  llvm::SmallVector<llvm::StringRef> argv = {program};
  argv.append(args.begin(), args.end());
  std::string message;
  int status = llvm::sys::ExecuteAndWait(program, argv, std::nullopt, redirects, 0, 0,
                                         &message);
  if (auto buffer = llvm::MemoryBuffer::getFile(log))
    *output = (*buffer)->getBuffer().str();
  llvm::sys::fs::remove(log);
  if (status != 0 && output->empty())
    *output = message;
  return status == 0;
}

std::string readFile(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false);
  return buffer ? (*buffer)->getBuffer().str() : std::string();
}

} // namespace ember
