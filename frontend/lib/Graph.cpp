//===- Graph.cpp - lazy graph nodes, buffers and storages -----------------===//

#include "ember/Frontend/Graph.h"

#include "ember/Frontend/Error.h"
#include "ember/Runtime/Gpu/Device.h"
#include "ember/Runtime/HostAllocator.h"
#include "ember/Runtime/Profiler.h"

#include <cstring>
#include <map>
#include <mutex>

namespace ember {

gpu::Device &gpuDevice(Backend kind) {
  // Opened once and kept for the process: device memory of live tensors
  // refers to it.
  static std::mutex mutex;
  static auto *devices = new std::map<Backend, std::unique_ptr<gpu::Device>>;
  std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<gpu::Device> &device = (*devices)[kind];
  if (!device) {
    try {
      device = gpu::openDevice(kind);
    } catch (const gpu::DeviceError &error) {
      runtimeError(error.what());
    }
  }
  return *device;
}

int64_t shapeNumel(llvm::ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

Shape contiguousStrides(llvm::ArrayRef<int64_t> shape) {
  Shape strides(shape.size());
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= std::max<int64_t>(shape[i], 1);
  }
  return strides;
}

static SourceLoc noLocation() { return {}; }
static LocationProvider locationProvider = noLocation;

void setLocationProvider(LocationProvider provider) {
  locationProvider = provider ? provider : noLocation;
}

SourceLoc currentLocation() { return locationProvider(); }

Buffer::Buffer(size_t bytes) : data(hostAlloc(bytes)), bytes(bytes) {
  if (!data)
    runtimeError("out of memory allocating " + std::to_string(bytes) +
                 " bytes");
  // profile_memory: one relaxed load when off.
  if (profiler::memoryEnabled())
    profiler::recordMemory(static_cast<int64_t>(bytes), "[memory]");
}

Buffer::Buffer(void *external, size_t bytes,
               std::function<bool()> externallyVisible,
               std::function<void()> release)
    : data(external), bytes(bytes),
      externallyVisible(std::move(externallyVisible)),
      release(std::move(release)) {}

Buffer::Buffer(Backend kind, size_t bytes)
    : data(nullptr), bytes(bytes), device(kind), deviceBytes(bytes) {
  try {
    deviceHandle = gpuDevice(kind).allocate(std::max<size_t>(bytes, 1)).handle;
  } catch (const gpu::DeviceError &error) {
    runtimeError(error.what());
  }
  if (profiler::memoryEnabled())
    profiler::recordMemory(static_cast<int64_t>(bytes), "[device memory]");
}

Buffer::~Buffer() {
  if (profiler::memoryEnabled() && !release)
    profiler::recordMemory(-static_cast<int64_t>(bytes),
                           device == Backend::Cpu ? "[memory]" : "[device memory]");
  if (device != Backend::Cpu) {
    // Device memory borrowed from another library (ember.from_dlpack) goes
    // back through it.
    if (release) {
      release();
      return;
    }
    gpu::DeviceBuffer buffer{deviceHandle, std::max<size_t>(deviceBytes, 1)};
    gpuDevice(device).free(buffer);
    return;
  }
  if (release)
    release();
  else
    hostFree(data);
}

const char *opName(OpCode op) {
  static const char *names[] = {
      "input",
#define EMBER_OP(Name, Mnemonic) Mnemonic,
#include "ember/Dialect/EmberVocabulary.inc"
      "grad", "custom_vjp_result", "placeholder"};
  return names[static_cast<int>(op)];
}

// Defined with sync (Sync.cpp): counts nodes and syncs when a graph grows
// past its limit.
void noteNodeCreated();

/// The value of a 0-dim CPU node, copied to `device` (computing it first
/// when it is pending).
static NodeRef scalarOnDevice(const NodeRef &value, Backend device) {
  StorageRef source;
  if (value->op == OpCode::Input) {
    source = std::make_shared<Storage>();
    source->dtype = value->dtype;
    source->shape = value->shape;
    source->buffer = value->buffer;
  } else {
    source = pendingStorage(value);
  }
  StorageRef moved = copyStorageTo(*source, device);
  return storageValue(*moved);
}

/// A node computed from constants alone: it can run on any device.
static bool deviceFree(const NodeRef &node) {
  if (node->op == OpCode::Constant)
    return true;
  if (node->op == OpCode::Input || node->inputs.empty() || node->requiresGrad)
    return false;
  return llvm::all_of(node->inputs, deviceFree);
}

/// A copy of deviceFree `node` computed on `device`.
static NodeRef cloneOnDevice(const NodeRef &node, Backend device) {
  if (node->op == OpCode::Constant)
    return node;
  auto copy = std::make_shared<Node>(*node);
  copy->device = device;
  copy->visitEpoch = 0;
  for (NodeRef &input : copy->inputs)
    input = cloneOnDevice(input, device);
  return copy;
}

static bool isCpuScalar(const NodeRef &node) {
  return node->device == Backend::Cpu && node->shape.empty() && !node->requiresGrad;
}

/// Puts the inputs of `node` (which are on several devices) on one: the
/// device of the first input that holds tensor data; CPU scalars and
/// constant-only values move there, anything else is the user's error.
static void placeOnOneDevice(Node &node, OpCode op) {
  const NodeRef *anchor = nullptr;
  for (const NodeRef &input : node.inputs)
    if (input->op != OpCode::Constant && !isCpuScalar(input) && !deviceFree(input)) {
      anchor = &input;
      break;
    }
  node.device = anchor ? (*anchor)->device : Backend::Cpu;
  for (NodeRef &input : node.inputs) {
    if (input->op == OpCode::Constant || input->device == node.device)
      continue;
    if (isCpuScalar(input) && node.device != Backend::Cpu)
      input = scalarOnDevice(input, node.device);
    else if (deviceFree(input))
      input = cloneOnDevice(input, node.device);
    else
      runtimeError(std::string("Expected all tensors to be on the same device, but found "
                               "at least two devices, ") +
                   backendDeviceType(node.device) + " and " + backendDeviceType(input->device) +
                   "! (in " + opName(op) + ")");
  }
}

static void recordTraceSpan(const Node &node, llvm::ArrayRef<NodeRef> inputs,
                            uint64_t start);

static thread_local uint64_t lastSerial = 0;
uint64_t lastNodeSerial() { return lastSerial; }

NodeRef makeNode(OpCode op, DType dtype, llvm::ArrayRef<int64_t> shape,
                 llvm::ArrayRef<NodeRef> inputs) {
  // The op's trace span: a plain time stamp, not a Scope, on this hottest
  // path (one relaxed load when no profiler records).
  uint64_t traceStart = profiler::enabled() ? profiler::nowNs() : 0;
  auto node = std::make_shared<Node>();
  node->op = op;
  node->dtype = dtype;
  node->shape.assign(shape.begin(), shape.end());
  node->inputs.assign(inputs.begin(), inputs.end());
  node->loc = currentLocation();
  node->serial = ++lastSerial;
  // The device of the tensor operands, which must agree. A scalar constant
  // goes wherever it is used, and so does a value computed from constants
  // alone (a broadcast 0.0 written into a slice); as in torch, a 0-dim CPU
  // tensor may stand for a scalar next to GPU tensors (a learning rate, a
  // loss's seed): its value is copied to their device.
  bool placed = false, mixed = false;
  for (const NodeRef &input : inputs) {
    if (input->op == OpCode::Constant)
      continue;
    if (!placed) {
      node->device = input->device;
      placed = true;
    } else {
      mixed |= input->device != node->device;
    }
  }
  if (mixed)
    placeOnOneDevice(*node, op);
  if (gradEnabled())
    for (const NodeRef &input : inputs)
      node->requiresGrad |= input->requiresGrad;
  noteNodeCreated();
  if (traceStart)
    recordTraceSpan(*node, inputs, traceStart);
  return node;
}

/// makeNode's span: the op, with record_shapes its input shapes, with
/// with_stack the user's line.
static void recordTraceSpan(const Node &node, llvm::ArrayRef<NodeRef> inputs,
                            uint64_t start) {
  std::string detail;
  if (profiler::shapesEnabled() || profiler::stackEnabled()) {
    if (profiler::shapesEnabled()) {
      detail = "shapes [";
      for (size_t i = 0; i < inputs.size(); ++i) {
        detail += i ? ", [" : "[";
        for (size_t d = 0; d < inputs[i]->shape.size(); ++d)
          detail += (d ? ", " : "") + std::to_string(inputs[i]->shape[d]);
        detail += "]";
      }
      detail += "]";
    }
    if (profiler::stackEnabled() && node.loc.file)
      detail += (detail.empty() ? "at " : " at ") + *node.loc.file + ":" +
                std::to_string(node.loc.line);
  }
  profiler::recordSpan(profiler::Category::Trace, opName(node.op), start, std::move(detail));
}

// Per thread, as in torch: one thread's no_grad must not switch off
// recording in another, and a new thread starts with grad enabled.
static thread_local bool gradMode = true;
bool gradEnabled() { return gradMode; }
void setGradEnabled(bool enabled) { gradMode = enabled; }

StorageRef allocateStorage(DType dtype, llvm::ArrayRef<int64_t> shape) {
  auto storage = std::make_shared<Storage>();
  storage->dtype = dtype;
  storage->shape.assign(shape.begin(), shape.end());
  storage->buffer =
      std::make_shared<Buffer>(shapeNumel(shape) * elementSize(dtype));
  return storage;
}

StorageRef copyStorageTo(Storage &source, Backend kind) {
  materialize(source);
  auto storage = std::make_shared<Storage>();
  storage->dtype = source.dtype;
  storage->shape = source.shape;
  storage->device = kind;
  size_t bytes = shapeNumel(source.shape) * elementSize(source.dtype);
  const Buffer &from = *source.buffer;
  profiler::Scope copySpan(profiler::Category::Copy);
  if (copySpan.active()) {
    copySpan.setName(std::string("copy ") + backendDeviceType(from.device) + " to " +
                     backendDeviceType(kind));
    copySpan.setDetail(std::to_string(bytes) + " bytes");
  }
  try {
    if (kind == Backend::Cpu) {
      storage->buffer = std::make_shared<Buffer>(bytes);
      if (from.device == Backend::Cpu) {
        memcpy(storage->buffer->data, from.data, bytes);
      } else if (bytes) {
        gpu::Device &device = gpuDevice(from.device);
        device.copyToHost(storage->buffer->data, {from.deviceHandle, from.deviceBytes}, 0,
                          bytes, device.defaultStream());
      }
      return storage;
    }
    storage->buffer = std::make_shared<Buffer>(kind, bytes);
    gpu::Device &device = gpuDevice(kind);
    gpu::DeviceBuffer to{storage->buffer->deviceHandle, storage->buffer->deviceBytes};
    if (!bytes)
      return storage;
    if (from.device == Backend::Cpu)
      device.copyToDevice(to, 0, from.data, bytes, device.defaultStream());
    else if (from.device == kind)
      device.copyOnDevice(to, 0, {from.deviceHandle, from.deviceBytes}, 0, bytes,
                          device.defaultStream());
    else
      runtimeError(std::string("copies between ") + backendDeviceType(from.device) + " and " +
                   backendDeviceType(kind) + " go through the cpu: use .cpu() first");
  } catch (const gpu::DeviceError &error) {
    runtimeError(error.what());
  }
  return storage;
}

// Defined with sync: remembers a storage that now has a pending value.
void registerPending(const StorageRef &storage);

StorageRef pendingStorage(const NodeRef &node) {
  auto storage = std::make_shared<Storage>();
  storage->dtype = node->dtype;
  storage->shape = node->shape;
  storage->pending = node;
  storage->device = node->device;
  registerPending(storage);
  return storage;
}

NodeRef storageValue(Storage &storage) {
  if (storage.pending)
    return storage.pending;
  if (!storage.inputNode) {
    auto node = std::make_shared<Node>();
    node->op = OpCode::Input;
    node->dtype = storage.dtype;
    node->shape = storage.shape;
    node->buffer = storage.buffer;
    node->device = storage.device;
    storage.inputNode = std::move(node);
  }
  return storage.inputNode;
}

void setPending(const StorageRef &storage, NodeRef node) {
  // A value computed from constants alone (fill_, zero_, a module's
  // initialization) is placed nowhere yet: it belongs on the storage's
  // device, or computing it would leave the tensor's value on the CPU.
  if (node->device != storage->device && deviceFree(node))
    node = cloneOnDevice(node, storage->device);
  // A value whose computation failed is no longer registered: a new one
  // (which may not need the failed part) is computed by the next sync.
  bool wasPending = storage->pending != nullptr && !storage->error;
  storage->error.reset();
  storage->pending = std::move(node);
  if (!wasPending)
    registerPending(storage);
  // NumPy arrays (and from_numpy sources) read the memory directly and
  // cannot ask for pending values: their updates are computed at once.
  if (storage->buffer && storage->buffer->isExported())
    sync();
}

} // namespace ember
