//===- Model.h - load and run a .ember model from C++ -----------*- C++ -*-===//
//
//   auto model = ember::Model::load("mlp.ember");
//   std::vector<ember::HostTensor> ys = model.forward({x});
//
// Loading maps and validates the file (ModelFile.h, Manifest.h) and picks
// how to run it:
//   1. a native artifact for this host ("cpu" whose CPU features this
//      machine has), used only when its checksum matches the manifest, the
//      file is signed by a trusted key (Signature.h) or the options allow
//      unsigned native code, and the object passes inspection before it is
//      loaded (ElfImage.h: no initialisers, only libc/libm; ArtifactAbi.h:
//      the code's own ABI record agrees with the manifest); it is loaded
//      from memory (memfd + dlopen) and its runtime-function slots are
//      filled from cpuRuntimeSymbols();
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
  /// The entry's shape function (`<entry>.shapes`): takes the entry's
  /// inputs and weights and one int64 buffer, which it fills with every
  /// dim of every output. Never null.
  virtual PackedEntry shapeEntry(const std::string &entry) const = 0;
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
  /// Run native code from the file when it is trusted (false: never; the
  /// portable program is compiled instead).
  bool allowNative = true;
  /// Also run native code that is not signed by a trusted key. Native code
  /// can do anything this process can: allow it only for files you built
  /// or obtained from someone you trust by other means.
  bool allowUnsignedNative = false;
  /// Public key files (or folders of `*.pub` files) to trust, besides
  /// EMBER_TRUSTED_KEYS and ~/.config/ember/trusted-keys (Signature.h).
  std::vector<std::string> trustedKeys;
  /// Fall back to (or, without allowNative, insist on) JIT compilation of
  /// the portable program when a compiler is linked in.
  bool allowJit = true;
  /// Where to find the custom op libraries a model names (files, or
  /// folders holding them), before the model file's own folder. Loading
  /// one follows the native code rule: a trusted signature or
  /// allowUnsignedNative (docs/custom-ops.md).
  std::vector<std::string> customOpPaths;
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
  /// ModelError naming the input and both shapes. The outputs are fresh
  /// tensors (from the caching host allocator: a call whose earlier
  /// outputs were released reuses their memory, and outputs still held
  /// are never written by a later call). The code's own output shapes are
  /// checked against the manifest's once per distinct input shapes.
  std::vector<HostTensor> run(const std::string &entry,
                              const std::vector<HostTensor> &inputs) const;

  const Manifest &manifest() const { return *spec; }
  const ModelFile &file() const { return *image; }
  /// How the model runs: "cpu-native" or "jit".
  std::string executableKind() const { return code->kind(); }
  /// Why the native code was not used ("" when it was, or for "jit" when
  /// the file had none to use).
  const std::string &nativeNote() const { return whyNotNative; }
  /// A weight as a tensor viewing the mapped file (read-only use).
  HostTensor weight(const std::string &name) const;

  /// How many times run() has asked the code for its output shapes (once
  /// per entry and distinct input shapes; for tests).
  int64_t shapeChecks() const;

private:
  struct CheckedShapes;
  struct EntryWeights;

  std::shared_ptr<ModelFile> image;
  std::shared_ptr<Manifest> spec;
  std::shared_ptr<Executable> code;
  std::string whyNotNative;
  /// The input shapes each entry's shape function has agreed with the
  /// manifest for, shared by copies of this Model.
  std::shared_ptr<CheckedShapes> checked;
  /// Each entry's weights as they sit in the mapped file, in the entry's
  /// calling order: resolved once at load, not per call by name.
  std::shared_ptr<const EntryWeights> entryWeights;
};

/// Checks `inputs` against `entry` (count, dtypes, ranks, static dims, one
/// size per symbol) and returns each output's shape; throws ModelError
/// naming the input and both shapes. Every executor (CPU, GPU) calls it.
std::vector<std::vector<int64_t>> checkEntryInputs(const EntrySpec &entry,
                                                   const std::vector<HostTensor> &inputs);

/// Loads the "cpu" artifact of `file` if it fits this host and is trusted;
/// null (with `*why` set) when there is none, the host lacks a feature, or
/// it is not signed by a trusted key and `options` do not allow unsigned
/// native code; throws ModelError when the artifact is present but broken
/// or refused (checksum, a signature that does not match, inspection, ABI
/// record, dlopen, missing symbols).
std::unique_ptr<Executable> loadCpuArtifact(const ModelFile &file,
                                            const Manifest &manifest,
                                            const LoadOptions &options,
                                            std::string *why);

/// Why code from `file` must not run under `options`, completing "the code
/// is ..." ("not signed, and ..."; "" when it may run: the file is signed by
/// a trusted key, or unsigned code is allowed). Throws ModelError for a
/// signature that does not match the file. CPU and GPU artifacts alike go
/// through it.
std::string untrustedCodeReason(const ModelFile &file, const LoadOptions &options);

/// Loads the custom op libraries `manifest` names whose ops this process
/// has not registered (ModelCustomOps.cpp); throws ModelError when one is
/// untrusted, missing, not the exported one or fails to load.
void loadModelCustomOps(const ModelFile &file, const Manifest &manifest,
                        const LoadOptions &options);

/// Runs `entry`'s shape function on `buffers` (inputs then weights) and
/// throws ModelError unless it computes `shapes` (what the manifest says):
/// a program writes what it computes, so a manifest that disagrees would
/// make it write past the buffers allocated from it.
void checkOutputShapes(const Executable &code, const EntrySpec &entry,
                       std::vector<BufferView> buffers,
                       const std::vector<std::vector<int64_t>> &shapes);

} // namespace ember

#endif // EMBER_RUNTIME_MODEL_H
