//===- Model.h - load and run a .ember model from C++ -----------*- C++ -*-===//
//
//   auto model = ember::Model::load("mlp.ember");
//   std::vector<ember::HostTensor> ys = model.forward({x});
//
// Loading maps and validates the file (ModelFile.h, Manifest.h) and picks
// how to run it:
//   1. a native artifact for this host ("cpu" whose CPU features this
//      machine has), used only when its checksum matches the manifest and
//      the options allow native code; it is loaded from memory (memfd +
//      dlopen) and its runtime-function slots are filled from
//      cpuRuntimeSymbols();
//   2. otherwise the portable program, when a ProgramCompiler is registered
//      (an app that links `//compiler:model_jit` JIT-compiles it);
//   3. otherwise ModelError: "no native code for this host and no compiler
//      linked in: run `ember-compile --target cpu` on the file, or link
//      //compiler:model_jit".
// Runtime only: no LLVM or MLIR dependency.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_MODEL_H
#define EMBER_RUNTIME_MODEL_H

#include "ember/Runtime/HostTensor.h"
#include "ember/Runtime/Manifest.h"
#include "ember/Runtime/ModelFile.h"
#include "ember/Runtime/PackedCall.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ember {

/// Compiled code for a model's entries: a native artifact or a JIT module.
class Executable {
public:
  virtual ~Executable() = default;
  /// The packed entry of `entry` (never null: loaders resolve every entry up
  /// front and throw ModelError when one is missing).
  virtual PackedEntry entry(const std::string &entry) const = 0;
  /// "cpu-native" or "jit".
  virtual std::string kind() const = 0;
};

/// Compiles the portable program (MLIR bytecode) of a model; registered by
/// //compiler:model_jit. Throws ModelError on failure.
using ProgramCompiler = std::unique_ptr<Executable> (*)(const ModelFile &file,
                                                       const Manifest &manifest);
void registerProgramCompiler(ProgramCompiler compiler);
ProgramCompiler registeredProgramCompiler();

struct LoadOptions {
  /// Run native code from the file (when its checksum matches).
  bool allowNative = true;
  /// Fall back to (or, without allowNative, insist on) JIT compilation of
  /// the portable program when a compiler is linked in.
  bool allowJit = true;
};

class Model {
public:
  /// Throws ModelError.
  static Model load(const std::string &path, const LoadOptions &options = {});
  static Model fromFile(std::shared_ptr<ModelFile> file,
                        const LoadOptions &options = {});

  /// Runs the entry "forward".
  std::vector<HostTensor> forward(const std::vector<HostTensor> &inputs) const;
  /// Runs `entry`. Inputs are checked against the manifest (count, dtype,
  /// rank, static dims, one value per symbol) and a mismatch throws
  /// ModelError naming the input and both shapes.
  std::vector<HostTensor> run(const std::string &entry,
                              const std::vector<HostTensor> &inputs) const;

  const Manifest &manifest() const { return *spec; }
  const ModelFile &file() const { return *image; }
  /// How the model runs: "cpu-native" or "jit".
  std::string executableKind() const { return code->kind(); }
  /// A weight as a tensor viewing the mapped file (read-only use).
  HostTensor weight(const std::string &name) const;

private:
  std::shared_ptr<ModelFile> image;
  std::shared_ptr<Manifest> spec;
  std::shared_ptr<Executable> code;
};

/// Checks `inputs` against `entry` (count, dtypes, ranks, static dims, one
/// size per symbol) and returns each output's shape; throws ModelError
/// naming the input and both shapes. Every executor (CPU, GPU) calls it.
std::vector<std::vector<int64_t>> checkEntryInputs(const EntrySpec &entry,
                                                   const std::vector<HostTensor> &inputs);

/// Loads the "cpu" artifact of `file` if it fits this host; null (with
/// `*why` set) when there is none or the host lacks a feature; throws
/// ModelError when the artifact is present but broken (checksum, dlopen,
/// missing symbols).
std::unique_ptr<Executable> loadCpuArtifact(const ModelFile &file,
                                            const Manifest &manifest,
                                            std::string *why);

} // namespace ember

#endif // EMBER_RUNTIME_MODEL_H
