//===- ArtifactInspectFuzz.cpp - libFuzzer target for native-code checks ----===//
//
// What the loader reads from a native artifact before it decides to load it:
// the ELF inspection (ElfImage.h), the ABI record parser and its check
// against a manifest (ArtifactAbi.h), and a model image's signature section
// (Signature.h). Each may throw ModelError; anything else (a crash, a
// sanitizer report, another exception) is a bug. The first byte picks the
// parser so one corpus feeds all three.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/ArtifactAbi.h"
#include "ember/Runtime/ElfImage.h"
#include "ember/Runtime/Manifest.h"
#include "ember/Runtime/ModelFile.h"
#include "ember/Runtime/Signature.h"

#include <cstdint>
#include <string>

using namespace ember;

namespace {

/// A manifest shaped like ModelRuntimeTest's (x: [batch, 4]; w, b: [4]).
const Manifest &testManifest() {
  static const Manifest manifest = parseManifest(R"({
    "format_version": 1, "entries": [{"name": "forward",
      "inputs": [{"name": "x", "dtype": "float32", "shape": ["batch", 4]}],
      "outputs": [{"name": "y", "dtype": "float32", "shape": ["batch", 4]}],
      "weights": ["w", "b"]}],
    "weights": [{"name": "w", "dtype": "float32", "shape": [4], "offset": 0, "size": 16},
                {"name": "b", "dtype": "float32", "shape": [4], "offset": 64, "size": 16}],
    "artifacts": [{"target": "cpu", "format": "elf-shared-object",
      "section": "artifact.cpu", "checksum": "0000000000000000",
      "entry_symbols": {"forward": "_mlir__mlir_ciface_ember_entry_forward"},
      "runtime_slots": ["_mlir_memref_to_llvm_alloc"]}]})",
                                                 128);
  return manifest;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  const uint8_t *body = data + 1;
  size_t length = size - 1;
  try {
    switch (data[0] % 3) {
    case 0: {
      ElfInspection elf = inspectSharedObject(body, length);
      if (!elf.abiRecord.empty()) {
        ArtifactAbi abi = ArtifactAbi::parse(elf.abiRecord);
        checkArtifactAbi(abi, testManifest(), testManifest().artifacts[0], 0);
      }
      break;
    }
    case 1: {
      std::string text(reinterpret_cast<const char *>(body), length);
      ArtifactAbi abi = ArtifactAbi::parse(text);
      checkArtifactAbi(abi, testManifest(), testManifest().artifacts[0], 0);
      ArtifactAbi::parse(abi.serialize());
      break;
    }
    default: {
      auto file = ModelFile::fromBytes(body, length, "fuzz.ember");
      checkSignature(*file, {});
      break;
    }
    }
  } catch (const ModelError &) {
  }
  return 0;
}
