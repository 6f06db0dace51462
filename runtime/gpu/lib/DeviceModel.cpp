//===- DeviceModel.cpp - a model file's GPU artifact on a device -----------===//

#include "ember/Runtime/Gpu/DeviceModel.h"

#include "ember/Runtime/Model.h"

namespace ember {
namespace gpu {

namespace {

/// "cuda:sm_90" -> 90; -1 for anything else ("cuda:sm_90a" included:
/// arch-specific code runs on that architecture only).
int cudaArchNumber(const std::string &text) {
  size_t start = text.rfind("sm_");
  if (start == std::string::npos || start + 3 >= text.size())
    return -1;
  int value = 0;
  for (size_t i = start + 3; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9' || value > 10000)
      return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

std::string suggestedTarget(Backend backend, const std::string &arch) {
  const BackendInfo &info = backendInfo(backend);
  if (!*info.defaultChip)
    return info.targetPrefix;
  return info.targetPrefix + (arch.empty() ? std::string(info.defaultChip) : arch);
}

} // namespace

const ArtifactSpec *selectGpuArtifact(const Manifest &manifest, Backend backend,
                                      const std::string &arch, std::string *why) {
  std::string prefix = artifactTargetPrefix(backend);
  std::vector<const ArtifactSpec *> candidates;
  for (const ArtifactSpec &candidate : manifest.artifacts)
    if (candidate.target.rfind(prefix, 0) == 0 && candidate.format == "gpu-kernels")
      candidates.push_back(&candidate);
  std::string kinds;
  for (const ArtifactSpec *candidate : candidates)
    kinds += (kinds.empty() ? "" : ", ") + candidate->target;
  if (candidates.empty()) {
    *why = std::string("no ") + backendName(backend) + " code in this file";
    return nullptr;
  }
  if (arch.empty() || (backend != Backend::Cuda && backend != Backend::Rocm))
    return candidates.back();
  for (const ArtifactSpec *candidate : candidates)
    if (candidate->target == prefix + arch)
      return candidate;
  if (backend == Backend::Cuda) {
    // PTX for an older architecture is compiled by the driver for this one.
    int device = cudaArchNumber(arch);
    const ArtifactSpec *best = nullptr;
    for (const ArtifactSpec *candidate : candidates) {
      int number = cudaArchNumber(candidate->target);
      if (number >= 0 && number <= device && (!best || number > cudaArchNumber(best->target)))
        best = candidate;
    }
    if (best)
      return best;
  }
  *why = "this file's " + std::string(backendName(backend)) + " code (" + kinds +
         ") does not run on this " + arch + " device";
  return nullptr;
}

std::string artifactTargetPrefix(Backend backend) { return backendTargetPrefix(backend); }

DeviceModel::DeviceModel(std::shared_ptr<ModelFile> modelFile, Device &device,
                         const LoadOptions &options)
    : file(std::move(modelFile)), device(device) {
  const SectionView *weightSection = file->find("weights");
  spec = parseManifest(file->manifestText(), weightSection ? weightSection->size : 0);
  std::string label = file->label();
  std::string why;
  const ArtifactSpec *artifact =
      selectGpuArtifact(spec, device.backend(), device.info().arch, &why);
  if (!artifact)
    throw ModelError(label + ": " + why + "; add it with `ember-compile " + label +
                     " --target " + suggestedTarget(device.backend(), device.info().arch) +
                     " -o OUT.ember`");
  artifactTarget = artifact->target;
  std::string where = label + ": artifact '" + artifact->section + "'";
  const SectionView *section = file->find(artifact->section);
  if (!section || section->kind != SectionKind::Artifact)
    throw ModelError(where + ": the section is missing");
  if (artifact->checksum != checksumHex(section->checksum))
    throw ModelError(where + ": checksum " + checksumHex(section->checksum) +
                     " does not match the manifest's " + artifact->checksum +
                     "; refusing to run this code");
  std::string untrusted = untrustedCodeReason(*file, options);
  if (!untrusted.empty())
    throw ModelError(where + ": cannot run the GPU kernels: they are " + untrusted +
                     " (kernels are code: they run from a trusted file only)");
  // The C++ custom ops the plan dispatches (their libraries' GPU kernels),
  // under the same rule as on the CPU.
  loadModelCustomOps(*file, spec, options);

  const Json &extra = artifact->extra;
  ModuleFormat moduleFormat = parseModuleFormat(
      extra.at("binary_format", where.c_str()).asString("binary_format"), where);
  std::vector<KernelDescription> kernels;
  for (const Json &k : extra.at("kernels", where.c_str()).asArray("kernels")) {
    KernelDescription kernel =
        KernelDescription::fromJson(k, device.backend(), moduleFormat, where);
    // The binary lies in the artifact section, at the offset the packer
    // added beside the description.
    int64_t offset = k.at("offset", "a kernel").asInt("offset");
    int64_t size = k.at("size", "a kernel").asInt("size");
    if (offset < 0 || size < 0 || static_cast<uint64_t>(offset) > section->size ||
        static_cast<uint64_t>(size) > section->size - offset)
      throw ModelError(where + ": kernel '" + kernel.module + "' lies outside the section");
    kernel.binary.assign(reinterpret_cast<const char *>(section->data) + offset, size);
    kernels.push_back(std::move(kernel));
  }
  program = std::make_unique<Program>(device, std::move(kernels),
                                      extra.at("plan", where.c_str()).dump());

  // Weights go to the device once.
  Stream &stream = device.defaultStream();
  for (const WeightSpec &weight : spec.weights) {
    ProgramBuffer buffer;
    buffer.shape = weight.shape;
    buffer.elementBytes = elementSize(weight.dtype);
    buffer.buffer = device.allocate(std::max<uint64_t>(1, weight.size));
    if (weight.size)
      device.copyToDevice(buffer.buffer, 0, weightSection->data + weight.offset,
                          weight.size, stream);
    weights[weight.name] = buffer;
  }
  stream.synchronize();
}

DeviceModel::~DeviceModel() {
  for (auto &[name, buffer] : weights)
    device.free(buffer.buffer);
}

std::vector<HostTensor> DeviceModel::forward(const std::vector<HostTensor> &inputs) {
  return run("forward", inputs);
}

std::vector<HostTensor> DeviceModel::run(const std::string &name,
                                         const std::vector<HostTensor> &inputs) {
  const EntrySpec *entry = spec.findEntry(name);
  if (!entry)
    throw ModelError(file->label() + ": no entry named '" + name + "'");
  std::vector<std::vector<int64_t>> shapes = checkEntryInputs(*entry, inputs);
  Stream &stream = device.defaultStream();
  std::vector<ProgramBuffer> buffers;
  std::vector<DeviceBuffer> owned;
  auto upload = [&](const HostTensor &tensor) {
    ProgramBuffer buffer;
    buffer.shape = tensor.shape();
    buffer.elementBytes = elementSize(tensor.dtype());
    buffer.buffer = device.allocate(std::max<size_t>(1, tensor.bytes()));
    owned.push_back(buffer.buffer);
    if (tensor.bytes())
      device.copyToDevice(buffer.buffer, 0, tensor.data(), tensor.bytes(), stream);
    return buffer;
  };
  for (const HostTensor &input : inputs)
    buffers.push_back(upload(input));
  std::vector<HostTensor> outputs;
  std::vector<ProgramBuffer> outputBuffers;
  for (size_t i = 0; i < shapes.size(); ++i) {
    outputs.emplace_back(entry->outputs[i].dtype, shapes[i]);
    ProgramBuffer buffer;
    buffer.shape = shapes[i];
    buffer.elementBytes = elementSize(entry->outputs[i].dtype);
    buffer.buffer = device.allocate(std::max<size_t>(1, outputs.back().bytes()));
    owned.push_back(buffer.buffer);
    outputBuffers.push_back(buffer);
  }
  try {
    runOnDevice(name, buffers, outputBuffers);
    for (size_t i = 0; i < outputs.size(); ++i)
      if (outputs[i].bytes())
        device.copyToHost(outputs[i].data(), outputBuffers[i].buffer, 0, outputs[i].bytes(),
                          stream);
  } catch (...) {
    for (DeviceBuffer &buffer : owned)
      device.free(buffer);
    throw;
  }
  for (DeviceBuffer &buffer : owned)
    device.free(buffer);
  return outputs;
}

void DeviceModel::runOnDevice(const std::string &name, const std::vector<ProgramBuffer> &inputs,
                              const std::vector<ProgramBuffer> &outputs) {
  const EntrySpec *entry = spec.findEntry(name);
  if (!entry)
    throw ModelError(file->label() + ": no entry named '" + name + "'");
  if (inputs.size() != entry->inputs.size() || outputs.size() != entry->outputs.size())
    throw ModelError("entry '" + name + "' takes " + std::to_string(entry->inputs.size()) +
                     " input(s) and " + std::to_string(entry->outputs.size()) +
                     " output buffer(s), got " + std::to_string(inputs.size()) + " and " +
                     std::to_string(outputs.size()));
  std::vector<ProgramBuffer> buffers(inputs);
  for (const std::string &weight : entry->weights)
    buffers.push_back(weights.at(weight));
  buffers.insert(buffers.end(), outputs.begin(), outputs.end());
  Stream &stream = device.defaultStream();
  // The program's function is the entry's compiled (prefixed) name.
  program->run("ember_entry_" + name, buffers, stream);
  stream.synchronize();
}

} // namespace gpu
} // namespace ember
