//===- ProgramFuzzDeps.cpp - what the program fuzz target links -----------===//
//
// libprogram_fuzz_deps.so is the uninstrumented part of the program-loader
// fuzz target, built by Bazel. A shared object links only the archive members
// something refers to, so this file refers to the entry points the target
// uses; the rest of the dialects and the runtime come in with them.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/CpuCompiler.h"
#include "ember/Runtime/Manifest.h"
#include "ember/Runtime/ModelFile.h"

namespace ember {
extern "C" const void *const emberProgramFuzzDeps[] = {
    reinterpret_cast<const void *>(&registerCompilerDialects),
    reinterpret_cast<const void *>(&compileForCpu),
    reinterpret_cast<const void *>(&parseManifest),
    reinterpret_cast<const void *>(&serializeManifest),
    reinterpret_cast<const void *>(&ModelFile::fromBytes),
};
} // namespace ember
