//===- CustomOpRegistry.cpp - the process's custom ops, and their calls ---===//
//
// Libraries are opened RTLD_LOCAL: they need nothing from Ember's own
// symbols (the registrar is handed to them as a table of function
// pointers), so one library works the same from Python, ember-run and an
// app that links the runtime statically.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/CustomOpRegistry.h"

#include <dlfcn.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>

namespace ember {
namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, std::unique_ptr<CustomOpInfo>> ops;
  std::set<std::string> libraries;
  std::string firstError;
};

Registry &registry() {
  static Registry *r = new Registry; // never destroyed: kernels may outlive exit
  return *r;
}

struct PendingLibrary {
  std::string path;
  std::vector<CustomOpInfo> ops;
};

int addOp(void *context, const EmberOpDef *def, EmberStatus *status) {
  auto *library = static_cast<PendingLibrary *>(context);
  auto fail = [&](const std::string &what) {
    std::snprintf(status->message, sizeof(status->message), "%s", what.c_str());
    return 1;
  };
  if (!def || def->abiVersion != EMBER_CUSTOM_OP_ABI_VERSION)
    return fail("an op definition of another ABI version (rebuild the "
                "library against this Ember's ember/Runtime/CustomOp.h)");
  std::string name = def->name ? def->name : "";
  size_t sep = name.find("::");
  if (sep == std::string::npos || sep == 0 || sep + 2 >= name.size() ||
      name.find("::", sep + 2) != std::string::npos)
    return fail("op name '" + name + "' is not \"namespace::op\"");
  for (char c : name)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':'))
      return fail("op name '" + name + "' has a character other than "
                  "letters, digits and '_'");
  if (def->numInputs < 0 || def->numOutputs < 1 || def->numAttrs < 0)
    return fail(name + ": needs at least one output and no negative counts");
  if (!def->shape || !def->cpu)
    return fail(name + ": a shape function and a CPU kernel are required");
  CustomOpInfo info;
  info.name = name;
  info.library = library->path;
  info.numInputs = def->numInputs;
  info.numOutputs = def->numOutputs;
  for (int32_t i = 0; i < def->numAttrs; ++i) {
    info.attrNames.push_back(def->attrNames[i]);
    info.attrDefaults.push_back(def->attrDefaults[i]);
  }
  info.shape = def->shape;
  info.cpu = def->cpu;
  if (const EmberSpirvKernel *k = def->vulkan) {
    if (!k->words || k->wordCount == 0 || k->words[0] != 0x07230203u)
      return fail(name + ": the Vulkan kernel is not SPIR-V (no words, or "
                  "no SPIR-V magic number)");
    CustomOpInfo::GpuCode code;
    code.image.assign(reinterpret_cast<const char *>(k->words),
                      k->wordCount * sizeof(uint32_t));
    code.entryPoint = k->entryPoint ? k->entryPoint : "main";
    for (int i = 0; i < 3; ++i)
      code.block[i] = k->localSize[i] ? k->localSize[i] : 1;
    info.vulkan = std::move(code);
  }
  if (const EmberCudaModule *m = def->cudaModule) {
    if (!m->image || m->bytes == 0 || !m->entryPoint ||
        (m->format != EMBER_CUDA_PTX && m->format != EMBER_CUDA_CUBIN))
      return fail(name + ": the CUDA module needs an image, its size, a "
                  "format (EMBER_CUDA_PTX or EMBER_CUDA_CUBIN) and an entry "
                  "point");
    CustomOpInfo::GpuCode code;
    code.image.assign(static_cast<const char *>(m->image), m->bytes);
    code.format = m->format;
    code.entryPoint = m->entryPoint;
    for (int i = 0; i < 3; ++i)
      code.block[i] = m->blockSize[i] ? m->blockSize[i] : 1;
    info.cudaModule = std::move(code);
  }
  info.cudaFn = def->cuda;
  info.hasVulkan = info.vulkan.has_value();
  info.hasCuda = info.cudaModule.has_value() || info.cudaFn;
  static std::atomic<uint64_t> generations{0};
  info.generation = ++generations;
  info.backward = def->backward ? def->backward : "";
  library->ops.push_back(std::move(info));
  return 0;
}

void recordError(const std::string &message) {
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (r.firstError.empty())
    r.firstError = message;
}

/// Reads a call descriptor (see the header).
class DescriptorReader {
public:
  explicit DescriptorReader(int64_t *words) : words(words) {}
  int64_t next() { return words[pos++]; }
  int64_t *here() { return words + pos; }
  std::string string() {
    int64_t length = next();
    std::string s(reinterpret_cast<const char *>(here()), length);
    pos += (length + 7) / 8;
    return s;
  }

private:
  int64_t *words;
  size_t pos = 0;
};

/// One tensor of a descriptor: where its fields are.
struct DescriptorTensor {
  int64_t *fields; // dtype, rank, pointer, offset, sizes..., strides...
  int32_t dtype() const { return static_cast<int32_t>(fields[0]); }
  int32_t rank() const { return static_cast<int32_t>(fields[1]); }
  int64_t *sizes() const { return fields + 4; }
  int64_t *strides() const { return fields + 4 + rank(); }
};

struct ParsedCall {
  const CustomOpInfo *op = nullptr;
  std::string name;
  std::vector<double> attrs;
  std::vector<DescriptorTensor> inputs, outputs;
};

size_t elementBytes(int32_t dtype) {
  static const size_t sizes[] = {1, 4, 8, 2, 2, 4, 8};
  return dtype >= 0 && dtype < 7 ? sizes[dtype] : 1;
}

/// Parses `desc`; returns false (after recording why) on a bad one. The
/// tensors are always read (their layout does not depend on the op), so
/// that the shapes call can zero the outputs' sizes whatever fails.
bool parse(int64_t *desc, ParsedCall &call) {
  DescriptorReader reader(desc);
  if (reader.next() != kCustomCallMagic) {
    recordError("custom call: a malformed call descriptor");
    return false;
  }
  call.name = reader.string();
  std::vector<std::pair<std::string, double>> given;
  int64_t numAttrs = reader.next();
  for (int64_t i = 0; i < numAttrs; ++i) {
    std::string name = reader.string();
    int64_t bits = reader.next();
    double value;
    std::memcpy(&value, &bits, sizeof(value));
    given.emplace_back(std::move(name), value);
  }
  for (auto *list : {&call.inputs, &call.outputs}) {
    int64_t count = reader.next();
    for (int64_t i = 0; i < count; ++i) {
      DescriptorTensor tensor{reader.here()};
      for (int64_t w = 0; w < 4 + 2 * tensor.rank(); ++w)
        reader.next();
      list->push_back(tensor);
    }
  }
  call.op = findCustomOp(call.name);
  if (!call.op) {
    recordError("custom op '" + call.name + "' is not registered in this "
                "process (load its library first: "
                "ember.utils.cpp_extension.load or ember.ops.load_library in "
                "Python, the model's custom_op_libraries in C++)");
    return false;
  }
  call.attrs = call.op->attrDefaults;
  for (auto &[name, value] : given) {
    size_t k = 0;
    while (k < call.op->attrNames.size() && call.op->attrNames[k] != name)
      ++k;
    if (k == call.op->attrNames.size()) {
      recordError(call.name + ": no attribute named '" + name + "'");
      return false;
    }
    call.attrs[k] = value;
  }
  if (static_cast<int32_t>(call.inputs.size()) != call.op->numInputs ||
      static_cast<int32_t>(call.outputs.size()) != call.op->numOutputs) {
    recordError(call.name + ": the program was compiled for another "
                "number of inputs or outputs than the registered op has");
    return false;
  }
  return true;
}

EmberAttrs attrsOf(const CustomOpInfo &op, const std::vector<double> &values,
                   std::vector<const char *> &names) {
  names.clear();
  for (const std::string &n : op.attrNames)
    names.push_back(n.c_str());
  return EmberAttrs{static_cast<int32_t>(names.size()), names.data(),
                    values.data()};
}

} // namespace

std::vector<std::string> loadCustomOpLibrary(const std::string &path) {
  char resolved[PATH_MAX];
  if (!realpath(path.c_str(), resolved))
    throw std::runtime_error("custom op library '" + path + "': " +
                             std::strerror(errno));
  std::string real = resolved;
  Registry &r = registry();
  {
    std::lock_guard<std::mutex> lock(r.mutex);
    if (r.libraries.count(real)) {
      std::vector<std::string> names;
      for (auto &[name, op] : r.ops)
        if (op->library == real)
          names.push_back(name);
      return names;
    }
  }
  void *handle = dlopen(real.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    throw std::runtime_error("custom op library '" + path +
                             "': dlopen failed: " + dlerror());
  auto init = reinterpret_cast<EmberCustomOpInitFn>(
      dlsym(handle, EMBER_CUSTOM_OP_INIT_SYMBOL));
  if (!init) {
    dlclose(handle);
    throw std::runtime_error("custom op library '" + path + "' has no " +
                             EMBER_CUSTOM_OP_INIT_SYMBOL +
                             " (define its ops in EMBER_CUSTOM_OP_LIBRARY)");
  }
  PendingLibrary pending{real, {}};
  EmberOpRegistrar registrar{EMBER_CUSTOM_OP_ABI_VERSION, &pending, addOp};
  EmberStatus status;
  status.message[0] = 0;
  if (init(&registrar, &status) != 0)
    throw std::runtime_error("custom op library '" + path +
                             "' failed to register its ops: " + status.message);
  // The library stays loaded: compiled programs may call its kernels for
  // as long as the process lives. A newer library's op replaces an older
  // one of the same name (rebuilding an extension in one session).
  std::vector<std::string> names;
  std::lock_guard<std::mutex> lock(r.mutex);
  r.libraries.insert(real);
  for (CustomOpInfo &op : pending.ops) {
    names.push_back(op.name);
    // (The name first: `r.ops[k] = f(std::move(op))` moves before it reads k.)
    std::string name = op.name;
    r.ops[name] = std::make_unique<CustomOpInfo>(std::move(op));
  }
  return names;
}

const CustomOpInfo *findCustomOp(const std::string &name) {
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.ops.find(name);
  return it == r.ops.end() ? nullptr : it->second.get();
}

std::vector<std::string> customOpNames() {
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> names;
  for (auto &entry : r.ops)
    names.push_back(entry.first);
  return names;
}

std::vector<EmberTensorType>
inferCustomOpTypes(const CustomOpInfo &op,
                   const std::vector<EmberTensorType> &inputs,
                   const std::vector<double> &attrs) {
  if (static_cast<int32_t>(inputs.size()) != op.numInputs)
    throw std::runtime_error(op.name + ": expected " +
                             std::to_string(op.numInputs) + " tensor input(s), got " +
                             std::to_string(inputs.size()));
  std::vector<const char *> names;
  EmberAttrs view = attrsOf(op, attrs, names);
  std::vector<EmberTensorType> outputs(op.numOutputs);
  for (EmberTensorType &output : outputs)
    output = EmberTensorType{-1, -1, {}};
  EmberStatus status;
  status.message[0] = 0;
  if (op.shape(inputs.data(), op.numInputs, &view, outputs.data(),
               op.numOutputs, &status) != 0)
    throw std::runtime_error(op.name + ": " +
                             (status.message[0] ? status.message
                                                : "the shape function failed"));
  for (const EmberTensorType &output : outputs) {
    if (output.dtype < 0 || output.dtype > EMBER_FLOAT64 || output.rank < 0 ||
        output.rank > EMBER_CUSTOM_OP_MAX_RANK)
      throw std::runtime_error(op.name + ": the shape function returned an "
                               "output without a valid dtype and rank");
    for (int32_t d = 0; d < output.rank; ++d)
      if (output.sizes[d] < 0)
        throw std::runtime_error(op.name + ": the shape function returned a "
                                 "negative size");
  }
  return outputs;
}

std::string takeCustomCallError() {
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::string error;
  error.swap(r.firstError);
  return error;
}

} // namespace ember

using namespace ember;

extern "C" void ember_custom_call_shapes(int64_t *, int64_t *aligned,
                                         int64_t offset, int64_t, int64_t) {
  int64_t *desc = aligned + offset;
  ParsedCall call;
  bool ok = parse(desc, call);
  for (DescriptorTensor &out : call.outputs) // safe sizes even on failure
    for (int32_t d = 0; d < out.rank(); ++d) {
      out.sizes()[d] = 0;
      out.strides()[d] = 0;
    }
  if (!ok)
    return;
  std::vector<EmberTensorType> inputs;
  for (const DescriptorTensor &in : call.inputs) {
    EmberTensorType type{in.dtype(), in.rank(), {}};
    for (int32_t d = 0; d < in.rank(); ++d)
      type.sizes[d] = in.sizes()[d];
    inputs.push_back(type);
  }
  std::vector<EmberTensorType> outputs;
  try {
    outputs = inferCustomOpTypes(*call.op, inputs, call.attrs);
  } catch (const std::exception &error) {
    recordError(error.what());
    return;
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    DescriptorTensor &out = call.outputs[i];
    if (outputs[i].dtype != out.dtype() || outputs[i].rank != out.rank()) {
      recordError(call.name + ": output " + std::to_string(i) +
                  " has another dtype or rank than when the program was "
                  "compiled");
      return;
    }
    int64_t stride = 1;
    for (int32_t d = out.rank() - 1; d >= 0; --d) {
      out.sizes()[d] = outputs[i].sizes[d];
      out.strides()[d] = stride;
      stride *= outputs[i].sizes[d];
    }
  }
}

extern "C" void ember_custom_call(int64_t *, int64_t *aligned, int64_t offset,
                                  int64_t, int64_t) {
  int64_t *desc = aligned + offset;
  ParsedCall call;
  if (!parse(desc, call))
    return;
  // The kernel trusts its outputs' sizes: run it only when the shape
  // function agrees with them now (a failed shapes call left them 0).
  {
    Registry &r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    if (!r.firstError.empty())
      return;
  }
  std::vector<EmberTensorType> types;
  for (const DescriptorTensor &in : call.inputs) {
    EmberTensorType type{in.dtype(), in.rank(), {}};
    for (int32_t d = 0; d < in.rank(); ++d)
      type.sizes[d] = in.sizes()[d];
    types.push_back(type);
  }
  try {
    std::vector<EmberTensorType> expected =
        inferCustomOpTypes(*call.op, types, call.attrs);
    for (size_t i = 0; i < expected.size(); ++i) {
      const DescriptorTensor &out = call.outputs[i];
      bool same = expected[i].dtype == out.dtype() && expected[i].rank == out.rank();
      for (int32_t d = 0; same && d < out.rank(); ++d)
        same = expected[i].sizes[d] == out.sizes()[d];
      if (!same)
        throw std::runtime_error(call.name + ": output " + std::to_string(i) +
                                 " does not have the shape the shape function "
                                 "gives");
    }
  } catch (const std::exception &error) {
    recordError(error.what());
    return;
  }
  auto buffers = [](const std::vector<DescriptorTensor> &list) {
    std::vector<EmberBuffer> result;
    for (const DescriptorTensor &t : list) {
      char *base = reinterpret_cast<char *>(static_cast<intptr_t>(t.fields[2]));
      result.push_back(EmberBuffer{base + t.fields[3] * elementBytes(t.dtype()),
                                   t.dtype(), t.rank(), t.sizes(), t.strides()});
    }
    return result;
  };
  std::vector<EmberBuffer> inputs = buffers(call.inputs);
  std::vector<EmberBuffer> outputs = buffers(call.outputs);
  std::vector<const char *> names;
  EmberAttrs attrs = attrsOf(*call.op, call.attrs, names);
  EmberStatus status;
  status.message[0] = 0;
  if (call.op->cpu(inputs.data(), static_cast<int32_t>(inputs.size()),
                   outputs.data(), static_cast<int32_t>(outputs.size()), &attrs,
                   &status) != 0)
    recordError(call.name + ": " +
                (status.message[0] ? status.message : "the CPU kernel failed"));
}
