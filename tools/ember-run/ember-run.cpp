//===- ember-run.cpp - run a .ember model on .npy inputs -------------------===//
//
//   ember-run model.ember --input x.npy [--output y.npy] [--entry forward]
//
// Loads a model the way an application does (ember::Model: native code when
// the file has some for this host, else the JIT linked in from
// //compiler:model_jit), runs one entry and prints each output's shape and a
// summary; --output writes the outputs as .npy. --info prints the manifest.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/Manifest.h"
#include "ember/Runtime/Model.h"
#include "ember/Runtime/ModelFile.h"
#include "ember/Runtime/Gpu/DeviceModel.h"
#include "ember/Runtime/Npy.h"
#include "ember/Runtime/Signature.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

namespace cl = llvm::cl;

static cl::OptionCategory category("ember-run options");

static cl::opt<std::string> modelPath(cl::Positional, cl::Required,
                                      cl::desc("<model.ember>"),
                                      cl::cat(category));
static cl::list<std::string>
    inputs("input", cl::value_desc("x.npy"),
           cl::desc("An input as .npy, in the entry's input order (repeat)"),
           cl::cat(category));
static cl::list<std::string>
    outputs("output", cl::value_desc("y.npy"),
            cl::desc("Write the outputs as .npy, one per output in order "
                     "(repeat)"),
            cl::cat(category));
static cl::opt<std::string> entryName("entry", cl::init("forward"),
                                      cl::value_desc("name"),
                                      cl::desc("Entry to run (default "
                                               "forward)"),
                                      cl::cat(category));
static cl::opt<bool> noNative("no-native",
                              cl::desc("Ignore native code in the file (JIT "
                                       "the portable program)"),
                              cl::cat(category));
static cl::opt<bool> trustNative(
    "trust-native",
    cl::desc("Run the file's native code even when it is not signed by a "
             "trusted key (native code can do anything this process can: "
             "only for files you trust)"),
    cl::cat(category));
static cl::list<std::string> trustedKeys(
    "trusted-key", cl::value_desc("KEY.pub"),
    cl::desc("Trust native code signed by this public key (a key file or a "
             "folder of *.pub files; repeat), besides EMBER_TRUSTED_KEYS and "
             "~/.config/ember/trusted-keys"),
    cl::cat(category));
static cl::list<std::string> customOpPaths(
    "custom-op-path", cl::value_desc("PATH"),
    cl::desc("Where the custom op libraries the model names are (a library "
             "file or a folder; repeat), before the model's folder; loading "
             "one needs a trusted signature or --trust-native"),
    cl::cat(category));
static cl::opt<bool> noJit("no-jit",
                           cl::desc("Never JIT: fail unless the file has "
                                    "native code for this host"),
                           cl::cat(category));
static cl::opt<std::string>
    deviceName("device", cl::init("cpu"), cl::value_desc("kind"),
               cl::desc("Where to run: cpu (default), vulkan, cuda, rocm or "
                        "level-zero (the file needs that GPU artifact: "
                        "ember-compile --target ...)"),
               cl::cat(category));
static cl::opt<bool> info("info",
                          cl::desc("Print the manifest (entries, shapes, "
                                   "weights, artifacts) and exit"),
                          cl::cat(category));

namespace {

int fail(const std::string &message) {
  std::fprintf(stderr, "ember-run: error: %s\n", message.c_str());
  return 1;
}

std::string bytesText(uint64_t bytes) {
  char text[32];
  if (bytes < 10000)
    std::snprintf(text, sizeof(text), "%" PRIu64 " B", bytes);
  else if (bytes < 10000000)
    std::snprintf(text, sizeof(text), "%.1f KB", bytes / 1e3);
  else
    std::snprintf(text, sizeof(text), "%.1f MB", bytes / 1e6);
  return text;
}

std::string joined(const std::vector<std::string> &items) {
  std::string text;
  for (const std::string &item : items)
    text += (text.empty() ? "" : " ") + item;
  return text.empty() ? "none" : text;
}

void printInfo(const ember::ModelFile &file, const ember::Manifest &manifest) {
  std::printf("%s: format version %u, producer %s\n", file.label().c_str(),
              manifest.formatVersion, manifest.producer.c_str());
  for (const ember::EntrySpec &entry : manifest.entries) {
    std::printf("entry %s\n", entry.name.c_str());
    for (const ember::TensorSpec &input : entry.inputs)
      std::printf("  input  %s: %s\n", input.name.c_str(), input.str().c_str());
    for (const ember::TensorSpec &output : entry.outputs)
      std::printf("  output %s: %s\n", output.name.c_str(),
                  output.str().c_str());
    uint64_t size = 0;
    for (const std::string &name : entry.weights)
      if (const ember::WeightSpec *weight = manifest.findWeight(name))
        size += weight->size;
    std::printf("  weights: %zu (%s)\n", entry.weights.size(),
                bytesText(size).c_str());
  }
  uint64_t total = 0;
  for (const ember::WeightSpec &weight : manifest.weights)
    total += weight.size;
  std::printf("weights: %zu (%s)\n", manifest.weights.size(),
              bytesText(total).c_str());
  if (manifest.artifacts.empty())
    std::printf("artifacts: none (portable program only)\n");
  if (!file.find("signature")) {
    std::printf("signature: none\n");
  } else {
    std::vector<std::string> keys(trustedKeys.begin(), trustedKeys.end());
    ember::SignatureCheck check =
        ember::checkSignature(file, ember::loadTrustedKeys(keys));
    std::printf("signature: valid, by key %s (%s)\n", check.signer.c_str(),
                check.state == ember::SignatureState::Trusted ? "trusted"
                                                             : "not trusted here");
  }
  for (const ember::ArtifactSpec &artifact : manifest.artifacts) {
    const ember::SectionView *section = file.find(artifact.section);
    std::printf("artifact %s: %s in section %s (%s), checksum %s\n",
                artifact.target.c_str(), artifact.format.c_str(),
                artifact.section.c_str(),
                bytesText(section ? section->size : 0).c_str(),
                artifact.checksum.c_str());
    if (!artifact.triple.empty())
      std::printf("  triple %s, cpu %s\n", artifact.triple.c_str(),
                  artifact.cpu.c_str());
    std::printf("  features: %s\n", joined(artifact.features).c_str());
    for (const auto &[entry, symbol] : artifact.entrySymbols)
      std::printf("  entry %s -> %s\n", entry.c_str(), symbol.c_str());
    std::printf("  runtime slots: %s\n", joined(artifact.runtimeSlots).c_str());
  }
}

/// IEEE half and bfloat16 to float, for the summary only.
float halfToFloat(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exponent = (h >> 10) & 0x1f,
           mantissa = h & 0x3ff;
  if (exponent == 0x1f)
    exponent = 0xff;
  else if (exponent == 0 && mantissa == 0)
    exponent = 0;
  else if (exponent == 0) {
    float value = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -value : value;
  } else
    exponent += 127 - 15;
  uint32_t bits = sign | (exponent << 23) | (mantissa << 13);
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

double elementAt(const ember::HostTensor &tensor, int64_t i) {
  switch (tensor.dtype()) {
  case ember::ElementType::Bool:
    return tensor.data<uint8_t>()[i] != 0;
  case ember::ElementType::Int32:
    return tensor.data<int32_t>()[i];
  case ember::ElementType::Int64:
    return static_cast<double>(tensor.data<int64_t>()[i]);
  case ember::ElementType::Float16:
    return halfToFloat(tensor.data<uint16_t>()[i]);
  case ember::ElementType::BFloat16: {
    uint32_t bits = static_cast<uint32_t>(tensor.data<uint16_t>()[i]) << 16;
    float value;
    std::memcpy(&value, &bits, 4);
    return value;
  }
  case ember::ElementType::Float32:
    return tensor.data<float>()[i];
  case ember::ElementType::Float64:
    return tensor.data<double>()[i];
  }
  return 0;
}

void printSummary(const std::string &name, const ember::HostTensor &tensor) {
  std::printf("%s: %s\n", name.c_str(), tensor.describe().c_str());
  int64_t count = tensor.numel();
  if (count == 0) {
    std::printf("  (empty)\n");
    return;
  }
  double low = std::numeric_limits<double>::infinity(), high = -low, sum = 0;
  for (int64_t i = 0; i < count; ++i) {
    double value = elementAt(tensor, i);
    low = std::min(low, value);
    high = std::max(high, value);
    sum += value;
  }
  std::printf("  min %.6g max %.6g mean %.6g\n", low, high, sum / count);
  std::printf("  first:");
  for (int64_t i = 0; i < std::min<int64_t>(count, 6); ++i)
    std::printf(" %.6g", elementAt(tensor, i));
  std::printf("%s\n", count > 6 ? " ..." : "");
}

/// Reads the inputs, runs `entry` with `runEntry` (announced as `what`),
/// prints each output and writes the --output files.
template <typename RunEntry>
int runEntryAndReport(const ember::Manifest &manifest, const std::string &what,
                      RunEntry runEntry) {
  const ember::EntrySpec *entry = manifest.findEntry(entryName);
  if (!entry)
    return fail(modelPath + ": no entry named '" + entryName + "'");
  std::vector<ember::HostTensor> values;
  for (const std::string &path : inputs)
    values.push_back(ember::readNpy(path));
  if (!outputs.empty() && outputs.size() != entry->outputs.size())
    return fail("entry '" + entryName + "' has " +
                std::to_string(entry->outputs.size()) + " outputs but " +
                std::to_string(outputs.size()) + " --output files were given");
  std::printf("running %s (%s)\n", entryName.c_str(), what.c_str());
  std::vector<ember::HostTensor> results = runEntry(values);
  for (size_t i = 0; i < results.size(); ++i) {
    printSummary(i < entry->outputs.size() ? entry->outputs[i].name
                                           : "output" + std::to_string(i),
                 results[i]);
    if (i < outputs.size())
      ember::writeNpy(outputs[i], results[i]);
  }
  return 0;
}

/// --device: the file's GPU artifact for that kind of device.
int runOnDevice() {
  ember::Backend backend;
  if (!ember::parseAnyBackendSpelling(deviceName, &backend) || !ember::isGpuBackend(backend))
    return fail("unknown device '" + deviceName +
                "' (cpu, vulkan, cuda, rocm or level-zero)");
  std::unique_ptr<ember::gpu::Device> device = ember::gpu::openDevice(backend);
  ember::LoadOptions options;
  options.allowUnsignedNative = trustNative;
  options.trustedKeys.assign(trustedKeys.begin(), trustedKeys.end());
  options.customOpPaths.assign(customOpPaths.begin(), customOpPaths.end());
  ember::gpu::DeviceModel model(ember::ModelFile::open(modelPath), *device, options);
  return runEntryAndReport(model.manifest(), model.target() + " on " + device->info().name,
                           [&](const std::vector<ember::HostTensor> &values) {
                             return model.run(entryName, values);
                           });
}

int run() {
  if (info) {
    std::shared_ptr<ember::ModelFile> file = ember::ModelFile::open(modelPath);
    const ember::SectionView *weights = file->find("weights");
    ember::Manifest manifest =
        ember::parseManifest(file->manifestText(), weights ? weights->size : 0);
    printInfo(*file, manifest);
    return 0;
  }
  if (noNative && noJit)
    return fail("--no-native and --no-jit leave no way to run the model");
  if (deviceName != "cpu")
    return runOnDevice();
  ember::LoadOptions options;
  options.allowNative = !noNative;
  options.allowJit = !noJit;
  options.allowUnsignedNative = trustNative;
  options.trustedKeys.assign(trustedKeys.begin(), trustedKeys.end());
  options.customOpPaths.assign(customOpPaths.begin(), customOpPaths.end());
  ember::Model model = ember::Model::load(modelPath, options);
  if (!model.nativeNote().empty() && !noNative)
    std::fprintf(stderr, "ember-run: note: running the portable program: %s\n",
                 model.nativeNote().c_str());
  return runEntryAndReport(model.manifest(), model.executableKind(),
                           [&](const std::vector<ember::HostTensor> &values) {
                             return model.run(entryName, values);
                           });
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "ember-run: run a .ember model on .npy inputs\n\n"
      "  ember-run model.ember --input x.npy [--output y.npy] [--entry name]\n"
      "  ember-run model.ember --info\n"
      "  ember-run model.ember --device vulkan --input x.npy\n\n"
      "Runs the file's native code when it has some for this CPU and the\n"
      "file is signed by a trusted key (ember-compile --sign; trust keys with\n"
      "--trusted-key or EMBER_TRUSTED_KEYS) or --trust-native is given, and\n"
      "otherwise JIT-compiles its portable program. With --device, runs the\n"
      "file's GPU artifact for that kind of device (ember-compile --target).\n");
  try {
    return run();
  } catch (const ember::ModelError &e) {
    return fail(e.what());
  } catch (const ember::gpu::DeviceError &e) {
    return fail(e.what());
  }
}
