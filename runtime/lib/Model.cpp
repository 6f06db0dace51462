//===- Model.cpp - choosing how a model runs, and running it ---------------===//

#include "ember/Runtime/Model.h"
#include "ember/Runtime/CustomOpRegistry.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

namespace ember {
namespace {

std::atomic<ProgramCompiler> &compilerSlot() {
  static std::atomic<ProgramCompiler> slot{nullptr};
  return slot;
}

std::string entryNames(const Manifest &manifest) {
  std::string names;
  for (const EntrySpec &entry : manifest.entries)
    names += (names.empty() ? "" : ", ") + entry.name;
  return names;
}

} // namespace

/// What the shape function computes depends on the input shapes alone (the
/// weights are the file's), so an answer that agreed with the manifest
/// holds for every later call with those shapes. Bounded: a model run with
/// ever new sizes forgets and asks again.
struct Model::CheckedShapes {
  static constexpr size_t kLimit = 256;
  std::mutex mutex;
  std::set<std::pair<std::string, std::vector<std::vector<int64_t>>>> agreed;
  int64_t checks = 0;
};

/// A batch-1 forward of a small CNN takes about a millisecond, and finding
/// each of its ~150 weights by name (a linear search of the manifest)
/// took several microseconds of it.
struct Model::EntryWeights {
  struct Weight {
    const void *data;
    const std::vector<int64_t> *shape;
  };
  std::map<std::string, std::vector<Weight>> byEntry;
};

void registerProgramCompiler(ProgramCompiler compiler) { compilerSlot() = compiler; }

ProgramCompiler registeredProgramCompiler() { return compilerSlot(); }

Model Model::load(const std::string &path, const LoadOptions &options) {
  return fromFile(ModelFile::open(path), options);
}

Model Model::fromFile(std::shared_ptr<ModelFile> file, const LoadOptions &options) {
  Model model;
  model.checked = std::make_shared<CheckedShapes>();
  model.image = std::move(file);
  const SectionView *weights = model.image->find("weights");
  try {
    model.spec = std::make_shared<Manifest>(
        parseManifest(model.image->manifestText(), weights ? weights->size : 0));
  } catch (const ModelError &error) {
    throw ModelError(model.image->label() + ": " + error.what());
  }
  // Without a weights section every weight is empty (parseManifest checked).
  auto entryWeights = std::make_shared<EntryWeights>();
  for (const EntrySpec &entry : model.spec->entries) {
    std::vector<EntryWeights::Weight> &resolved = entryWeights->byEntry[entry.name];
    for (const std::string &weightName : entry.weights) {
      const WeightSpec *weight = model.spec->findWeight(weightName);
      resolved.push_back({weights ? weights->data + weight->offset : nullptr,
                          &weight->shape});
    }
  }
  model.entryWeights = std::move(entryWeights);
  loadModelCustomOps(*model.image, *model.spec, options);
  std::string why = "native code was not allowed";
  if (options.allowNative)
    model.code = loadCpuArtifact(*model.image, *model.spec, options, &why);
  if (!model.code && model.spec->findArtifact("cpu"))
    model.whyNotNative = why;
  if (!model.code) {
    ProgramCompiler compiler = registeredProgramCompiler();
    if (!options.allowJit)
      throw ModelError(model.image->label() + ": cannot run this model: " + why +
                       ", and JIT compilation was not allowed");
    if (!compiler)
      throw ModelError(model.image->label() + ": cannot run this model: " + why +
                       ", and no compiler is linked into this program. Run "
                       "`ember-compile " + model.image->label() +
                       " --target cpu -o OUT.ember` to add native code for this "
                       "CPU, or link //compiler:model_jit to JIT-compile the "
                       "portable program");
    model.code = compiler(*model.image, *model.spec);
  }
  return model;
}

std::vector<HostTensor> Model::forward(const std::vector<HostTensor> &inputs) const {
  return run("forward", inputs);
}

HostTensor Model::weight(const std::string &name) const {
  const WeightSpec *spec = this->spec->findWeight(name);
  if (!spec)
    throw ModelError(image->label() + ": no weight named '" + name + "'");
  // Without a weights section every weight is empty (parseManifest checked
  // them against a zero-byte section); keep the pointer non-null anyway.
  static int64_t empty[1];
  const SectionView *section = image->find("weights");
  // The mapping is read-only; callers must not write through the pointer.
  void *data = section ? const_cast<uint8_t *>(section->data + spec->offset)
                       : static_cast<void *>(empty);
  return HostTensor::borrow(spec->dtype, spec->shape, data,
                            std::shared_ptr<void>(image, nullptr));
}

std::vector<std::vector<int64_t>> checkEntryInputs(const EntrySpec &entry,
                                                   const std::vector<HostTensor> &inputs) {
  if (inputs.size() != entry.inputs.size())
    throw ModelError("entry '" + entry.name + "' takes " +
                     std::to_string(entry.inputs.size()) + " input(s), got " +
                     std::to_string(inputs.size()));

  // Bind each symbol from the first input dim that names it; check the rest.
  std::map<std::string, int64_t> bindings;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorSpec &expected = entry.inputs[i];
    const HostTensor &input = inputs[i];
    auto mismatch = [&](const std::string &why) {
      throw ModelError("entry '" + entry.name + "': input '" + expected.name +
                       "': expected " + expected.str() + ", got " +
                       input.describe() + (why.empty() ? "" : " (" + why + ")"));
    };
    if (input.dtype() != expected.dtype || input.rank() != expected.shape.size())
      mismatch("");
    if (input.numel() > 0 && !input.data())
      mismatch("no data");
    for (size_t d = 0; d < expected.shape.size(); ++d) {
      const DimExpr &dim = expected.shape[d];
      int64_t size = input.dim(d);
      if (dim.isStatic()) {
        if (size != dim.constant)
          mismatch("");
        continue;
      }
      std::string symbol = dim.symbolName();
      auto [it, inserted] = bindings.emplace(symbol, size);
      if (!inserted && it->second != size)
        mismatch(symbol + " is " + std::to_string(it->second) +
                 " from an earlier dim");
    }
  }

  std::vector<std::vector<int64_t>> outputs;
  for (const TensorSpec &output : entry.outputs) {
    std::vector<int64_t> shape;
    for (const DimExpr &dim : output.shape) {
      int64_t size = dim.evaluate(bindings);
      if (size < 0)
        throw ModelError("entry '" + entry.name + "': output '" + output.name + "' dim " +
                         dim.str() + " is negative (" + std::to_string(size) +
                         ") for these inputs");
      shape.push_back(size);
    }
    outputs.push_back(std::move(shape));
  }

  return outputs;
}

void checkOutputShapes(const Executable &code, const EntrySpec &entry,
                       std::vector<BufferView> buffers,
                       const std::vector<std::vector<int64_t>> &shapes) {
  size_t total = 0;
  for (const std::vector<int64_t> &shape : shapes)
    total += shape.size();
  std::vector<int64_t> computed(std::max<size_t>(total, 1), -1);
  int64_t length = static_cast<int64_t>(computed.size());
  buffers.push_back({computed.data(), &length, 1});
  invokePacked(code.shapeEntry(entry.name), buffers.data(), buffers.size());
  size_t next = 0;
  for (size_t i = 0; i < shapes.size(); ++i) {
    std::vector<int64_t> actual(computed.begin() + next,
                                computed.begin() + next + shapes[i].size());
    next += shapes[i].size();
    if (actual == shapes[i])
      continue;
    auto print = [](const std::vector<int64_t> &shape) {
      std::string text = "[";
      for (size_t d = 0; d < shape.size(); ++d)
        text += (d ? ", " : "") + std::to_string(shape[d]);
      return text + "]";
    };
    throw ModelError("entry '" + entry.name + "': output '" + entry.outputs[i].name +
                     "': the manifest says " + print(shapes[i]) +
                     " for these inputs but the program computes " + print(actual) +
                     " (the file is inconsistent; re-export the model)");
  }
}

std::vector<HostTensor> Model::run(const std::string &name,
                                   const std::vector<HostTensor> &inputs) const {
  const EntrySpec *entry = spec->findEntry(name);
  if (!entry)
    throw ModelError(image->label() + ": no entry named '" + name +
                     "' (entries: " + entryNames(*spec) + ")");
  std::vector<HostTensor> outputs;
  std::vector<std::vector<int64_t>> outputShapes = checkEntryInputs(*entry, inputs);
  for (size_t i = 0; i < outputShapes.size(); ++i)
    outputs.emplace_back(entry->outputs[i].dtype, outputShapes[i]);

  // Inputs, weights, outputs: the entry's calling convention.
  std::vector<BufferView> buffers;
  buffers.reserve(inputs.size() + entry->weights.size() + outputs.size());
  static int64_t empty[1];
  auto view = [&](const void *data, const std::vector<int64_t> &shape) {
    // Compiled code may touch the base pointer of an empty buffer.
    void *pointer = data ? const_cast<void *>(data) : static_cast<void *>(empty);
    buffers.push_back({pointer, shape.data(), static_cast<int64_t>(shape.size())});
  };
  for (const HostTensor &input : inputs)
    view(input.data(), input.shape());
  for (const EntryWeights::Weight &weight : entryWeights->byEntry.at(name))
    view(weight.data, *weight.shape);
  std::pair<std::string, std::vector<std::vector<int64_t>>> key;
  key.first = name;
  for (const HostTensor &input : inputs)
    key.second.push_back(input.shape());
  bool known;
  {
    std::lock_guard<std::mutex> lock(checked->mutex);
    known = checked->agreed.count(key) != 0;
  }
  std::string customError;
  if (!known) {
    checkOutputShapes(*code, *entry, buffers, outputShapes);
    // A custom op's shape function may fail inside the shape function too.
    customError = takeCustomCallError();
    std::lock_guard<std::mutex> lock(checked->mutex);
    ++checked->checks;
    if (customError.empty()) {
      if (checked->agreed.size() >= CheckedShapes::kLimit)
        checked->agreed.clear();
      checked->agreed.insert(std::move(key));
    }
  }
  for (HostTensor &output : outputs)
    view(output.data(), output.shape());
  if (customError.empty()) {
    invokePacked(code->entry(name), buffers.data(), buffers.size());
    // Custom op kernels cannot unwind through compiled code: they record.
    customError = takeCustomCallError();
  }
  if (!customError.empty())
    throw ModelError("entry '" + name + "': " + customError);
  return outputs;
}

int64_t Model::shapeChecks() const {
  std::lock_guard<std::mutex> lock(checked->mutex);
  return checked->checks;
}

} // namespace ember
