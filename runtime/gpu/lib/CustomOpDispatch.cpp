//===- CustomOpDispatch.cpp - custom ops' GPU kernels in a launch plan ----===//
//
// A custom op's kernel is the library's code, not the compiler's: it is
// loaded onto the device once per (device, registration) and launched
// with the layout the custom op contract fixes, not one a description
// records (CustomOp.h, "The GPU kernel contract").
//
//===----------------------------------------------------------------------===//

#include "CustomOpDispatch.h"

#include "ember/Runtime/CustomOpRegistry.h"

#include <algorithm>
#include <climits>
#include <map>
#include <memory>
#include <mutex>

namespace ember {
namespace gpu {

namespace {

const CustomOpInfo &opOf(Backend backend, const CustomCallSite &site) {
  const CustomOpInfo *op = findCustomOp(site.name);
  if (!op)
    throw DeviceError(backend, "custom op '" + site.name +
                                   "' is not registered in this process (load its "
                                   "library first: ember.utils.cpp_extension.load or "
                                   "ember.ops.load_library in Python, the model's "
                                   "custom_op_libraries in C++)");
  if (op->numInputs + op->numOutputs !=
          static_cast<int32_t>(site.dtypes.size()) ||
      op->numOutputs != static_cast<int32_t>(site.outputRanks.size()))
    throw DeviceError(backend, site.name + ": the program was compiled for another "
                                           "number of inputs or outputs than the "
                                           "registered op has");
  return *op;
}

/// One value per declared attribute: the site's by name, else the default.
std::vector<double> attrValues(Backend backend, const CustomOpInfo &op,
                               const CustomCallSite &site) {
  std::vector<double> values = op.attrDefaults;
  for (size_t i = 0; i < site.attrNames.size(); ++i) {
    auto it = std::find(op.attrNames.begin(), op.attrNames.end(), site.attrNames[i]);
    if (it == op.attrNames.end())
      throw DeviceError(backend, site.name + ": no attribute named '" +
                                     site.attrNames[i] + "'");
    values[it - op.attrNames.begin()] = site.attrValues[i];
  }
  return values;
}

std::vector<EmberTensorType> outputTypes(Backend backend, const CustomOpInfo &op,
                                         const CustomCallSite &site,
                                         const std::vector<CustomCallTensor> &inputs) {
  std::vector<EmberTensorType> types;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].sizes.size() > EMBER_CUSTOM_OP_MAX_RANK)
      throw DeviceError(backend, site.name + ": an input of rank above " +
                                     std::to_string(EMBER_CUSTOM_OP_MAX_RANK));
    EmberTensorType type{site.dtypes[i], static_cast<int32_t>(inputs[i].sizes.size()), {}};
    std::copy(inputs[i].sizes.begin(), inputs[i].sizes.end(), type.sizes);
    types.push_back(type);
  }
  std::vector<EmberTensorType> outputs;
  try {
    outputs = inferCustomOpTypes(op, types, attrValues(backend, op, site));
  } catch (const std::runtime_error &error) {
    if (dynamic_cast<const DeviceError *>(&error))
      throw;
    throw DeviceError(backend, error.what());
  }
  for (size_t k = 0; k < outputs.size(); ++k)
    if (outputs[k].dtype != site.dtypes[op.numInputs + k] ||
        outputs[k].rank != site.outputRanks[k])
      throw DeviceError(backend, site.name + ": output " + std::to_string(k) +
                                     " has another dtype or rank than when the "
                                     "program was compiled");
  return outputs;
}

/// A module loaded for one registration of an op on one device.
struct LoadedKernel {
  std::unique_ptr<Module> module;
  Kernel *kernel = nullptr;
};

Kernel &kernelFor(Device &device, const CustomOpInfo &op,
                  const CustomOpInfo::GpuCode &code, ModuleFormat format,
                  int32_t numTensors, int32_t numAttrs) {
  static std::mutex mutex;
  static auto *cache = new std::map<std::pair<Device *, uint64_t>, LoadedKernel>;
  std::lock_guard<std::mutex> lock(mutex);
  LoadedKernel &entry = (*cache)[{&device, op.generation}];
  if (!entry.kernel) {
    // Tensors and the metadata as buffers, then the count and attributes
    // (sequential: bindings 0, 1, ... and push constants at 0, 4, 8, ...;
    // CUDA's parameters in that order).
    std::vector<ArgKind> kinds(numTensors + 1, ArgKind::Buffer);
    kinds.push_back(ArgKind::I32);
    kinds.insert(kinds.end(), numAttrs, ArgKind::F32);
    try {
      std::unique_ptr<Module> module =
          device.loadModule(format, code.image.data(), code.image.size());
      entry.kernel = &module->getKernel(code.entryPoint, KernelLayout::sequential(kinds));
      entry.module = std::move(module);
    } catch (const DeviceError &error) {
      cache->erase({&device, op.generation});
      throw DeviceError(device.backend(), op.name + ": its " +
                                              backendName(device.backend()) +
                                              " kernel: " + error.what());
    }
  }
  return *entry.kernel;
}

int32_t narrow(Backend backend, const std::string &op, int64_t value) {
  if (value < INT32_MIN || value > INT32_MAX)
    throw DeviceError(backend, op + ": a size, stride or offset of " +
                                   std::to_string(value) +
                                   " does not fit the kernel's int32 metadata");
  return static_cast<int32_t>(value);
}

} // namespace

std::vector<int64_t> customCallOutputSizes(Backend backend, const CustomCallSite &site,
                                           const std::vector<CustomCallTensor> &inputs) {
  const CustomOpInfo &op = opOf(backend, site);
  std::vector<int64_t> sizes;
  for (const EmberTensorType &type : outputTypes(backend, op, site, inputs))
    sizes.insert(sizes.end(), type.sizes, type.sizes + type.rank);
  return sizes;
}

void dispatchCustomCall(Device &device, Stream &stream, const CustomCallSite &site,
                        const std::vector<CustomCallTensor> &inputs,
                        const std::vector<CustomCallTensor> &outputs,
                        std::vector<DeviceBuffer> &temporaries) {
  Backend backend = device.backend();
  const CustomOpInfo &op = opOf(backend, site);
  // The kernel trusts the outputs' sizes: they must be the shape function's.
  std::vector<EmberTensorType> expected = outputTypes(backend, op, site, inputs);
  for (size_t k = 0; k < outputs.size(); ++k)
    if (!std::equal(outputs[k].sizes.begin(), outputs[k].sizes.end(),
                    expected[k].sizes, expected[k].sizes + expected[k].rank))
      throw DeviceError(backend, site.name + ": output " + std::to_string(k) +
                                     " does not have the shape the shape function gives");
  std::vector<double> attrs = attrValues(backend, op, site);

  if (backend == Backend::Cuda && !op.cudaModule && op.cudaFn) {
    // The library's host function enqueues the work itself.
    void *native = stream.nativeHandle();
    if (!native)
      throw DeviceError(backend, site.name + ": the stream has no CUDA handle");
    auto buffers = [&](const std::vector<CustomCallTensor> &list, size_t firstDtype) {
      std::vector<EmberBuffer> result;
      for (size_t i = 0; i < list.size(); ++i) {
        const CustomCallTensor &t = list[i];
        uintptr_t address = t.allocation.handle + t.offset * t.elementBytes;
        result.push_back(EmberBuffer{reinterpret_cast<void *>(address),
                                     site.dtypes[firstDtype + i],
                                     static_cast<int32_t>(t.sizes.size()), t.sizes.data(),
                                     t.strides.data()});
      }
      return result;
    };
    std::vector<EmberBuffer> in = buffers(inputs, 0), out = buffers(outputs, inputs.size());
    std::vector<const char *> names;
    for (const std::string &n : op.attrNames)
      names.push_back(n.c_str());
    EmberAttrs view{static_cast<int32_t>(names.size()), names.data(), attrs.data()};
    EmberStatus status;
    status.message[0] = 0;
    if (op.cudaFn(in.data(), static_cast<int32_t>(in.size()), out.data(),
                  static_cast<int32_t>(out.size()), &view, native, &status) != 0)
      throw DeviceError(backend, site.name + ": " +
                                     (status.message[0] ? status.message
                                                        : "the CUDA kernel failed"));
    return;
  }

  const CustomOpInfo::GpuCode *code = nullptr;
  ModuleFormat format = ModuleFormat::Spirv;
  if (backend == Backend::Vulkan && op.vulkan) {
    code = &*op.vulkan;
  } else if (backend == Backend::Cuda && op.cudaModule) {
    code = &*op.cudaModule;
    format = code->format == EMBER_CUDA_CUBIN ? ModuleFormat::Cubin : ModuleFormat::Ptx;
  }
  if (!code)
    throw DeviceError(backend, site.name + ": has no kernel for " + backendName(backend) +
                                   " (register one with Op(...).vulkan(...) or "
                                   ".cuda(...), or move the inputs with .cpu())");
  // Module kernels index every binding in 32-bit elements and are not told
  // the dtypes: a float64 tensor would be read as pairs of floats. Refuse
  // it here rather than compute garbage.
  auto check32 = [&](const std::vector<CustomCallTensor> &list, const char *what) {
    for (size_t i = 0; i < list.size(); ++i)
      if (list[i].elementBytes != 4)
        throw DeviceError(backend, site.name + ": " + what + " " + std::to_string(i) +
                                       " has " + std::to_string(8 * list[i].elementBytes) +
                                       "-bit elements; GPU custom-op kernels take 32-bit "
                                       "ones (float32, int32): convert it, or run the op "
                                       "on the CPU");
  };
  check32(inputs, "input");
  check32(outputs, "output");

  int64_t count = 1;
  for (int64_t s : outputs.at(0).sizes)
    count *= s;
  if (count == 0)
    return; // nothing to compute for empty outputs
  std::vector<int32_t> meta;
  for (const std::vector<CustomCallTensor> *list : {&inputs, &outputs})
    for (const CustomCallTensor &t : *list) {
      size_t rank = t.sizes.size();
      meta.push_back(narrow(backend, site.name, t.offset));
      meta.push_back(static_cast<int32_t>(rank));
      for (size_t d = 0; d < EMBER_CUSTOM_OP_MAX_RANK; ++d)
        meta.push_back(d < rank ? narrow(backend, site.name, t.sizes[d]) : 1);
      for (size_t d = 0; d < EMBER_CUSTOM_OP_MAX_RANK; ++d)
        meta.push_back(d < rank ? narrow(backend, site.name, t.strides[d]) : 0);
    }
  Kernel &kernel = kernelFor(device, op, *code, format,
                             static_cast<int32_t>(inputs.size() + outputs.size()),
                             static_cast<int32_t>(attrs.size()));
  DeviceBuffer metaBuffer = device.allocate(meta.size() * sizeof(int32_t));
  temporaries.push_back(metaBuffer);
  device.copyToDevice(metaBuffer, 0, meta.data(), meta.size() * sizeof(int32_t), stream);

  LaunchParams params;
  int64_t groups = (count + code->block[0] - 1) / code->block[0];
  params.grid = {static_cast<uint32_t>(std::min<int64_t>(groups, 65535)), 1, 1};
  params.block = {code->block[0], code->block[1], code->block[2]};
  for (const std::vector<CustomCallTensor> *list : {&inputs, &outputs})
    for (const CustomCallTensor &t : *list)
      params.args.push_back(KernelArg::ofBuffer(t.allocation));
  params.args.push_back(KernelArg::ofBuffer(metaBuffer));
  params.args.push_back(KernelArg::ofI32(narrow(backend, site.name, count)));
  for (double value : attrs)
    params.args.push_back(KernelArg::ofF32(static_cast<float>(value)));
  device.launch(kernel, params, stream);
}

} // namespace gpu
} // namespace ember
