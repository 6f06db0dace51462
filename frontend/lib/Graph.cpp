//===- Graph.cpp - lazy graph nodes, buffers and storages -----------------===//

#include "ember/Frontend/Graph.h"

#include "ember/Frontend/Error.h"
#include "ember/Runtime/HostAllocator.h"

namespace ember {

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
}

Buffer::Buffer(void *external, size_t bytes,
               std::function<bool()> externallyVisible,
               std::function<void()> release)
    : data(external), bytes(bytes),
      externallyVisible(std::move(externallyVisible)),
      release(std::move(release)) {}

Buffer::~Buffer() {
  if (release)
    release();
  else
    hostFree(data);
}

const char *opName(OpCode op) {
  static const char *names[] = {
      "input",   "constant",   "neg",          "abs",       "relu",
      "exp",     "log",        "sqrt",         "rsqrt",     "tanh",
      "sigmoid", "gelu",       "not",          "cast",      "add",
      "sub",     "mul",        "div",          "pow",       "maximum",
      "minimum", "and",        "or",           "xor",       "compare",
      "select",  "sum",        "mean",         "max",       "min",
      "argmax",  "argmin",     "matmul",       "reshape",   "broadcast_to",
      "transpose", "slice",    "insert_slice", "concat",    "gather",
      "softmax", "log_softmax", "grad"};
  return names[static_cast<int>(op)];
}

// Defined with sync (Sync.cpp): counts nodes and syncs when a graph grows
// past its limit.
void noteNodeCreated();

NodeRef makeNode(OpCode op, DType dtype, llvm::ArrayRef<int64_t> shape,
                 llvm::ArrayRef<NodeRef> inputs) {
  auto node = std::make_shared<Node>();
  node->op = op;
  node->dtype = dtype;
  node->shape.assign(shape.begin(), shape.end());
  node->inputs.assign(inputs.begin(), inputs.end());
  node->loc = currentLocation();
  if (gradEnabled())
    for (const NodeRef &input : inputs)
      node->requiresGrad |= input->requiresGrad;
  noteNodeCreated();
  return node;
}

static bool gradMode = true;
bool gradEnabled() { return gradMode; }
void setGradEnabled(bool enabled) { gradMode = enabled; }

StorageRef allocateStorage(DType dtype, llvm::ArrayRef<int64_t> shape) {
  auto storage = std::make_shared<Storage>();
  storage->dtype = dtype;
  storage->shape.assign(shape.begin(), shape.end());
  storage->buffer =
      std::make_shared<Buffer>(shapeNumel(shape) * dtypeSize(dtype));
  return storage;
}

// Defined with sync: remembers a storage that now has a pending value.
void registerPending(const StorageRef &storage);

StorageRef pendingStorage(const NodeRef &node) {
  auto storage = std::make_shared<Storage>();
  storage->dtype = node->dtype;
  storage->shape = node->shape;
  storage->pending = node;
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
    storage.inputNode = std::move(node);
  }
  return storage.inputNode;
}

void setPending(const StorageRef &storage, NodeRef node) {
  bool wasPending = storage->pending != nullptr;
  storage->pending = std::move(node);
  if (!wasPending)
    registerPending(storage);
  // NumPy arrays (and from_numpy sources) read the memory directly and
  // cannot ask for pending values: their updates are computed at once.
  if (storage->buffer && storage->buffer->isExported())
    sync();
}

} // namespace ember
