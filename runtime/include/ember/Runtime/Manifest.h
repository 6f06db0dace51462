//===- Manifest.h - what a model file holds, as data ------------*- C++ -*-===//
//
// The manifest (a JSON section) describes a model's entry points, their
// input and output tensors with symbolic dims, its weights, and its native
// artifacts. JSON schema: docs/model-format.md. `parseManifest` checks every
// field and cross-reference (symbols bound by an input, weights inside the
// weights section, artifact sections present) and throws ModelError naming
// the offending field.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_MANIFEST_H
#define EMBER_RUNTIME_MANIFEST_H

#include "ember/Runtime/HostTensor.h"
#include "ember/Runtime/Json.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ember {

/// One dim of a tensor spec: `constant + sum(coefficient * symbol)`.
/// A static dim has no terms; an input dim is either static or exactly one
/// symbol with coefficient 1 and constant 0 (the symbol is bound there).
struct DimExpr {
  int64_t constant = 0;
  std::vector<std::pair<std::string, int64_t>> terms;

  static DimExpr fixed(int64_t value) { return {value, {}}; }
  static DimExpr symbol(std::string name) { return {0, {{std::move(name), 1}}}; }
  bool isStatic() const { return terms.empty(); }
  /// The single symbol of a plain symbolic dim, or empty.
  std::string symbolName() const;
  /// Evaluates with `bindings`; throws ModelError for an unbound symbol.
  int64_t evaluate(const std::map<std::string, int64_t> &bindings) const;
  /// "784", "batch", "2*batch+1".
  std::string str() const;
};

struct TensorSpec {
  std::string name;
  ElementType dtype;
  std::vector<DimExpr> shape;
  /// "[batch, 784] float32".
  std::string str() const;
};

struct WeightSpec {
  std::string name;
  ElementType dtype;
  std::vector<int64_t> shape;
  /// Byte offset in the weights section (a multiple of 64) and byte size.
  uint64_t offset = 0;
  uint64_t size = 0;
};

/// A public function of the program. Its arguments are the inputs, then the
/// weights named in `weights` (in that order); then one caller-allocated
/// buffer per output (destination passing, see docs/compiler.md).
struct EntrySpec {
  std::string name;
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  std::vector<std::string> weights;
};

/// Native code for one target, in an artifact section.
struct ArtifactSpec {
  /// "cpu" (and later "cuda:sm_90", "rocm:gfx942", "vulkan", ...).
  std::string target;
  /// "elf-shared-object" for cpu.
  std::string format;
  std::string section;
  /// XXH64 of the section, as 16 hex digits; must match the section's
  /// checksum before the code is used.
  std::string checksum;
  /// cpu: LLVM target triple, CPU name and the x86 features the code needs
  /// (each must be present on the host: see hostSupportsCpuFeature).
  std::string triple;
  std::string cpu;
  std::vector<std::string> features;
  /// Entry name -> symbol of its packed entry (`void (void **args)`).
  std::map<std::string, std::string> entrySymbols;
  /// Runtime functions the code calls through pointer slots: for each name
  /// in cpuRuntimeSymbols(), the data symbol `__ember_rt_<name>` holds the
  /// function's address once the loader fills it.
  std::vector<std::string> runtimeSlots;
  /// Anything else the target needs (kernel launch metadata for GPUs).
  Json extra;
};

/// A C++ custom op library the program calls (format version 3): the
/// shared object's file name, the BLAKE2b-256 of its bytes (64 hex digits;
/// a signed manifest pins the library through it) and the ops it provides.
struct CustomOpLibrarySpec {
  std::string name;
  std::string blake2b;
  std::vector<std::string> ops;
};

struct Manifest {
  uint32_t formatVersion = 1;
  /// "ember <version>" of the writer.
  std::string producer;
  std::vector<EntrySpec> entries;
  std::vector<WeightSpec> weights;
  std::vector<ArtifactSpec> artifacts;
  std::vector<CustomOpLibrarySpec> customOpLibraries;

  const EntrySpec *findEntry(const std::string &name) const;
  const WeightSpec *findWeight(const std::string &name) const;
  const ArtifactSpec *findArtifact(const std::string &target) const;
};

/// Parses and checks a manifest; `weightsSectionSize` bounds the weight
/// offsets. Throws ModelError.
Manifest parseManifest(const std::string &json, uint64_t weightsSectionSize);
/// The manifest as JSON text (what parseManifest reads back).
std::string serializeManifest(const Manifest &manifest);

/// Whether this CPU has the x86 feature `name` as LLVM spells it ("avx2",
/// "fma", "avx512f", ...). Unknown names are reported as absent.
bool hostSupportsCpuFeature(const std::string &name);

} // namespace ember

#endif // EMBER_RUNTIME_MANIFEST_H
