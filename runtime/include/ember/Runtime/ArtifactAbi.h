//===- ArtifactAbi.h - what a native artifact's code takes and returns -*- C++ -*-===//
//
// ember-compile embeds this record in every CPU artifact (the data symbol
// `__ember_abi`, JSON) from the program it compiled, not from the manifest:
//
//   {"abi_version": 1, "program": "<XXH64 of the program section>",
//    "runtime_slots": ["ember_cpu_sgemm_into", ...],
//    "entries": [{"name": "forward",
//                 "symbol": "_mlir__mlir_ciface_ember_entry_forward",
//                 "shape_symbol": "_mlir__mlir_ciface_ember_entry_forward.shapes",
//                 "weights": ["0.weight", "0.bias", ...],
//                 "arguments": [{"dtype": "float32", "shape": [-1, 64]}, ...],
//                 "outputs": [{"dtype": "float32", "shape": [-1, 10]}]}]}
//
// (arguments are the inputs then the weights, whose names are those the
// code was compiled with; -1 is a dynamic dim). The
// loader reads it before dlopen and checks the manifest against it, so a
// manifest edited after compilation (reordered weights, another dtype or
// shape, another entry symbol, fewer runtime slots) is refused instead of
// running code on buffers it does not expect.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_ARTIFACTABI_H
#define EMBER_RUNTIME_ARTIFACTABI_H

#include "ember/Runtime/HostTensor.h"
#include "ember/Runtime/Manifest.h"

#include <string>
#include <vector>

namespace ember {

struct AbiTensor {
  ElementType dtype = ElementType::Float32;
  /// Static sizes; -1 for a dynamic dim.
  std::vector<int64_t> shape;
};

struct AbiEntry {
  std::string name;
  std::string symbol;
  std::string shapeSymbol;
  /// The weights' names in argument order (weights of one shape could
  /// otherwise be swapped unnoticed).
  std::vector<std::string> weights;
  std::vector<AbiTensor> arguments;
  std::vector<AbiTensor> outputs;
};

struct ArtifactAbi {
  static constexpr int64_t kVersion = 1;
  /// checksumHex of the program section the code was compiled from.
  std::string program;
  std::vector<std::string> runtimeSlots;
  std::vector<AbiEntry> entries;

  std::string serialize() const;
  /// Throws ModelError on a malformed record.
  static ArtifactAbi parse(const std::string &text);
  const AbiEntry *findEntry(const std::string &name) const;
};

/// The packed symbols ember-compile gives an entry and its shape function.
std::string packedEntrySymbol(const std::string &entry);
std::string packedShapeSymbol(const std::string &entry);

/// Checks `manifest` (and `artifact`, its description of the code) against
/// `abi` and the file's program checksum: same entries and symbols, every
/// input's dtype, rank and static dims, every weight's dtype and shape, every
/// output's dtype, rank and static dims, the same runtime slots. Throws
/// ModelError saying what disagrees (without a file label).
void checkArtifactAbi(const ArtifactAbi &abi, const Manifest &manifest,
                      const ArtifactSpec &artifact, uint64_t programChecksum);

} // namespace ember

#endif // EMBER_RUNTIME_ARTIFACTABI_H
