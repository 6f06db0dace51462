//===- ModelLoaderFuzz.cpp - libFuzzer target for the model loader ---------===//
//
// Feeds arbitrary bytes to every parser a model file or its inputs reach:
// the .ember image reader (header, section table, checksums), the manifest
// (as text too, since the fuzzer rarely gets past the checksums), JSON, and
// .npy. Each may throw ModelError; anything else (a crash, a sanitizer
// report, another exception) is a bug.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/Json.h"
#include "ember/Runtime/Manifest.h"
#include "ember/Runtime/ModelFile.h"
#include "ember/Runtime/Npy.h"

#include <algorithm>
#include <cstdint>
#include <string>

using namespace ember;

namespace {

/// Whether `body` throws ModelError (anything else escapes and is a bug).
template <typename F> bool errorIsThrown(F body) {
  try {
    body();
  } catch (const ModelError &) {
    return true;
  }
  return false;
}

/// Exercises a parsed manifest the way the loader and executor do.
void useManifest(const Manifest &manifest) {
  for (const EntrySpec &entry : manifest.entries) {
    std::map<std::string, int64_t> bindings;
    for (const TensorSpec &input : entry.inputs)
      for (const DimExpr &dim : input.shape)
        if (!dim.isStatic())
          bindings[dim.symbolName()] = 3;
    for (const TensorSpec &output : entry.outputs) {
      (void)output.str();
      std::vector<int64_t> shape;
      for (const DimExpr &dim : output.shape)
        shape.push_back(dim.evaluate(bindings));
      // Allocate the output as Model::run does, when it is small: a valid
      // manifest may ask for gigabytes, which is not a bug.
      uint64_t bytes = elementSize(output.dtype);
      for (int64_t d : shape)
        bytes = d < 0 || (d > 0 && bytes > (1u << 20) / uint64_t(d)) ? UINT64_MAX
                                                                     : bytes * uint64_t(d);
      if (bytes <= (1u << 20))
        (void)HostTensor::zeros(output.dtype, shape);
      else if (std::any_of(shape.begin(), shape.end(), [](int64_t d) { return d < 0; }))
        (void)errorIsThrown([&] { HostTensor(output.dtype, shape); });
    }
  }
  Manifest again = parseManifest(serializeManifest(manifest), UINT64_MAX);
  if (again.entries.size() != manifest.entries.size())
    __builtin_trap(); // the writer and the reader disagree
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  try {
    auto file = ModelFile::fromBytes(data, size, "fuzz.ember");
    const SectionView *weights = file->find("weights");
    useManifest(parseManifest(file->manifestText(), weights ? weights->size : 0));
  } catch (const ModelError &) {
  }
  std::string text(reinterpret_cast<const char *>(data), size);
  try {
    useManifest(parseManifest(text, 1 << 20));
  } catch (const ModelError &) {
  }
  try {
    (void)Json::parse(text).dump(true);
  } catch (const ModelError &) {
  }
  try {
    (void)readNpyBytes(data, size, "fuzz.npy");
  } catch (const ModelError &) {
  }
  return 0;
}
