//===- Tensor.cpp - tensors, views and creation functions ------------------===//

#include "ember/Frontend/Tensor.h"

#include "ember/Dialect/Shapes.h"
#include "ember/Frontend/Export.h"
#include "ember/Runtime/ElementType.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>

namespace ember {

//===----------------------------------------------------------------------===//
// Tensor
//===----------------------------------------------------------------------===//

static bool stridesAreContiguous(llvm::ArrayRef<int64_t> shape,
                                 llvm::ArrayRef<int64_t> strides) {
  int64_t expected = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] == 0)
      return true;
    // Size-1 dims may have any stride, as in torch.
    if (shape[i] != 1 && strides[i] != expected)
      return false;
    expected *= shape[i];
  }
  return true;
}

bool Tensor::isContiguous() const {
  return stridesAreContiguous(impl->shape, impl->strides);
}

NodeRef applyViewStep(const NodeRef &node, const ViewStep &step) {
  NodeRef result;
  switch (step.kind) {
  case ViewStep::Kind::Reshape:
    result = makeNode(OpCode::Reshape, node->dtype, step.shape, {node});
    break;
  case ViewStep::Kind::Transpose:
    result = makeNode(OpCode::Transpose, node->dtype, step.shape, {node});
    break;
  case ViewStep::Kind::Slice:
    result = makeNode(OpCode::Slice, node->dtype, step.shape, {node});
    break;
  case ViewStep::Kind::Expand:
    result = makeNode(OpCode::BroadcastTo, node->dtype, step.shape, {node});
    break;
  }
  result->ints = step.ints;
  if (step.loc.file)
    result->loc = step.loc;
  return result;
}

/// The node standing for leaf `impl`'s current value in graphs: a no-op
/// reshape marked with the leaf, so that gradients find it, while a
/// detached alias of the same storage reads the storage and gets none.
static NodeRef leafValue(const std::shared_ptr<TensorImpl> &impl,
                         const NodeRef &plain) {
  if (impl->leafMarker && impl->leafSource == plain)
    return impl->leafMarker;
  NodeRef marker = makeNode(OpCode::Reshape, plain->dtype, plain->shape, {plain});
  marker->requiresGrad = true;
  marker->leaf = impl;
  impl->leafMarker = marker;
  impl->leafSource = plain;
  return marker;
}

NodeRef Tensor::value() const {
  if (impl->requiresGrad && gradEnabled())
    return gradValue();
  return plainValue();
}

NodeRef Tensor::gradValue() const {
  if (impl->history)
    return impl->history;
  // A leaf whose storage is pending was updated in place (an optimizer's
  // step, `w -= lr * w.grad` under no_grad): the update is computed now,
  // so that the new autograd history starts from a computed value. This
  // is the natural cut of a training loop: without it, step k's graph
  // would hold every step before it.
  Storage &storage = *impl->storage;
  if (storage.pending && !storage.error && !exporting())
    materialize(storage);
  return leafValue(impl, plainValue());
}

NodeRef Tensor::plainValue() const {
  NodeRef node = storageValue(*impl->storage);
  for (const ViewStep &step : impl->steps)
    node = applyViewStep(node, step);
  return node;
}

void *Tensor::data() const {
  Storage &s = *impl->storage;
  if (s.device != Backend::Cpu)
    typeError(std::string("can't use the memory of a ") + backendDeviceType(s.device) +
              " tensor on the host. Use Tensor.cpu() to copy the tensor to host memory "
              "first.");
  materialize(s);
  return static_cast<char *>(s.buffer->data) + impl->offset * elementSize(dtype());
}

Backend parseDeviceKind(const std::string &text) {
  std::string name = text;
  size_t colon = name.find(':');
  if (colon != std::string::npos) {
    std::string index = name.substr(colon + 1);
    name = name.substr(0, colon);
    if (index != "0")
      runtimeError("device '" + text + "': only device 0 of each kind is supported");
  }
  Backend kind;
  if (parseDeviceType(name, &kind))
    return kind;
  valueError("Expected one of cpu, vulkan, cuda, rocm, xpu device type at start of "
             "device string: " + text);
}

static Tensor baseTensor(StorageRef storage);

Tensor toDevice(const Tensor &x, Backend device) {
  if (deviceOf(x) == device)
    return x;
  Tensor dense = x.isBase() ? x : clone(x);
  return baseTensor(copyStorageTo(dense.storage(), device));
}

static Tensor baseTensor(StorageRef storage) {
  auto impl = std::make_shared<TensorImpl>();
  impl->dtype = storage->dtype;
  impl->shape = storage->shape;
  impl->strides = contiguousStrides(storage->shape);
  impl->storage = std::move(storage);
  return Tensor(std::move(impl));
}

Tensor fromNode(const NodeRef &node) {
  Tensor result = baseTensor(pendingStorage(node));
  if (node->requiresGrad) {
    result.impl->requiresGrad = true;
    result.impl->history = node;
  }
  return result;
}

/// A view of `x` one step further.
static Tensor derive(const Tensor &x, ViewStep step, Shape strides,
                     int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = x.impl->storage;
  impl->dtype = x.dtype();
  impl->shape = step.shape;
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->steps = x.impl->steps;
  step.loc = currentLocation();
  impl->steps.push_back(step);
  // A view of a tensor that requires grad is a non-leaf whose history is the
  // view op applied to the base's history.
  if (x.requiresGrad() && gradEnabled()) {
    impl->requiresGrad = true;
    impl->history = applyViewStep(x.value(), step);
  }
  return Tensor(std::move(impl));
}

//===----------------------------------------------------------------------===//
// Creation
//===----------------------------------------------------------------------===//

static void checkShape(llvm::ArrayRef<int64_t> shape) {
  for (int64_t d : shape)
    if (d < 0)
      runtimeError("Trying to create tensor with negative dimension " +
                   std::to_string(d) + ": " + shapeString(shape));
}

Tensor empty(llvm::ArrayRef<int64_t> shape, DType dtype) {
  checkShape(shape);
  return baseTensor(allocateStorage(dtype, shape));
}

/// Stores `value` as element `i` of a `dtype` array.
static inline void storeElement(void *data, int64_t i, DType dtype,
                                double value) {
  switch (dtype) {
  case DType::Bool:
    static_cast<uint8_t *>(data)[i] = value != 0;
    break;
  case DType::Int32:
    static_cast<int32_t *>(data)[i] = static_cast<int32_t>(value);
    break;
  case DType::Int64:
    static_cast<int64_t *>(data)[i] = static_cast<int64_t>(value);
    break;
  case DType::Float16:
    static_cast<uint16_t *>(data)[i] = floatToHalf(static_cast<float>(value));
    break;
  case DType::BFloat16:
    static_cast<uint16_t *>(data)[i] =
        floatToBFloat16(static_cast<float>(value));
    break;
  case DType::Float32:
    static_cast<float *>(data)[i] = static_cast<float>(value);
    break;
  case DType::Float64:
    static_cast<double *>(data)[i] = value;
    break;
  }
}

Tensor full(llvm::ArrayRef<int64_t> shape, Scalar value, DType dtype) {
  Tensor result = empty(shape, dtype);
  void *data = result.storage().buffer->data;
  int64_t n = result.numel();
  size_t size = elementSize(dtype);
  if (n == 0)
    return result;
  // Store one element (exactly for 64-bit ints), then replicate its bytes.
  if (dtype == DType::Int64)
    static_cast<int64_t *>(data)[0] = value.i;
  else
    storeElement(data, 0, dtype, value.kind == Scalar::Kind::Float ? value.f
                                                                   : double(value.i));
  char *bytes = static_cast<char *>(data);
  bool zero = true;
  for (size_t b = 0; b < size; ++b)
    zero &= bytes[b] == 0;
  if (zero) {
    memset(data, 0, n * size);
    return result;
  }
  int64_t filled = 1;
  while (filled < n) {
    int64_t chunk = std::min(filled, n - filled);
    memcpy(bytes + filled * size, bytes, chunk * size);
    filled += chunk;
  }
  return result;
}

Tensor fromData(const void *data, llvm::ArrayRef<int64_t> shape, DType dtype) {
  Tensor result = empty(shape, dtype);
  memcpy(result.storage().buffer->data, data, result.numel() * elementSize(dtype));
  return result;
}

Tensor arange(double start, double end, double step, DType dtype) {
  if (step == 0)
    runtimeError("arange: step must be nonzero");
  if ((step > 0 && end < start) || (step < 0 && end > start))
    runtimeError("arange: upper bound and larger bound inconsistent with step "
                 "sign");
  int64_t n = static_cast<int64_t>(std::ceil((end - start) / step));
  Tensor result = empty({n}, dtype);
  void *data = result.storage().buffer->data;
  for (int64_t i = 0; i < n; ++i)
    storeElement(data, i, dtype, start + i * step);
  return result;
}

Tensor linspace(double start, double end, int64_t steps, DType dtype) {
  if (steps < 0)
    runtimeError("linspace: number of steps must be non-negative");
  Tensor result = empty({steps}, dtype);
  void *data = result.storage().buffer->data;
  double delta = steps > 1 ? (end - start) / (steps - 1) : 0;
  // Fill from both ends, as torch does, so that the last value is exact.
  int64_t half = steps / 2;
  for (int64_t i = 0; i < steps; ++i)
    storeElement(data, i, dtype,
                 i < half ? start + delta * i : end - delta * (steps - 1 - i));
  return result;
}

//===----------------------------------------------------------------------===//
// Random numbers: xoshiro256+ seeded by splitmix64 (fast, good low bits
// are not needed since only the top 53 bits are used).
//===----------------------------------------------------------------------===//

namespace {
struct Random {
  uint64_t s[4];
  explicit Random(uint64_t seed) { reseed(seed); }
  void reseed(uint64_t seed) {
    for (uint64_t &word : s) {
      seed += 0x9e3779b97f4a7c15ULL;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      word = z ^ (z >> 31);
    }
  }
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t next() {
    uint64_t result = s[0] + s[3];
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
  /// Uniform in [0, 1).
  double uniform() { return (next() >> 11) * 0x1.0p-53; }
};

/// The global generator, process-wide as torch's default generator is;
/// callers hold `generatorMutex()` while they draw a tensor's numbers.
Random &generator() {
  static Random random(0x5eed);
  return random;
}
std::mutex &generatorMutex() {
  static std::mutex mutex;
  return mutex;
}
} // namespace

void manualSeed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(generatorMutex());
  generator().reseed(seed);
}

static void checkFloating(DType dtype, const char *function) {
  if (!isFloating(dtype))
    notImplemented(std::string(function) + " is not implemented for dtype " +
                   elementTypeName(dtype) + " (use a floating dtype)");
}

Tensor rand(llvm::ArrayRef<int64_t> shape, DType dtype) {
  checkFloating(dtype, "rand");
  Tensor result = empty(shape, dtype);
  void *data = result.storage().buffer->data;
  std::lock_guard<std::mutex> lock(generatorMutex());
  Random &random = generator();
  for (int64_t i = 0, n = result.numel(); i < n; ++i) {
    double u = random.uniform();
    // Rounding to a narrow dtype must not produce 1.0.
    if (dtype != DType::Float64 && u >= 0.99951171875 && dtype != DType::Float32)
      u = 0.99951171875 * u;
    storeElement(data, i, dtype, u);
  }
  return result;
}

Tensor randn(llvm::ArrayRef<int64_t> shape, DType dtype) {
  checkFloating(dtype, "randn");
  Tensor result = empty(shape, dtype);
  void *data = result.storage().buffer->data;
  std::lock_guard<std::mutex> lock(generatorMutex());
  Random &random = generator();
  int64_t n = result.numel();
  // Box-Muller, two normals per pair of uniforms.
  for (int64_t i = 0; i < n; i += 2) {
    double u1 = 1.0 - random.uniform(); // (0, 1]: log is finite
    double u2 = random.uniform();
    double radius = std::sqrt(-2.0 * std::log(u1));
    storeElement(data, i, dtype, radius * std::cos(2 * M_PI * u2));
    if (i + 1 < n)
      storeElement(data, i + 1, dtype, radius * std::sin(2 * M_PI * u2));
  }
  return result;
}

Tensor randint(int64_t low, int64_t high, llvm::ArrayRef<int64_t> shape,
               DType dtype) {
  if (high <= low)
    runtimeError("random_ expects 'from' to be less than 'to', but got from=" +
                 std::to_string(low) + " >= to=" + std::to_string(high));
  Tensor result = empty(shape, dtype);
  void *data = result.storage().buffer->data;
  std::lock_guard<std::mutex> lock(generatorMutex());
  Random &random = generator();
  uint64_t range = static_cast<uint64_t>(high - low);
  for (int64_t i = 0, n = result.numel(); i < n; ++i) {
    int64_t v = low + static_cast<int64_t>(random.next() % range);
    if (dtype == DType::Int64)
      static_cast<int64_t *>(data)[i] = v;
    else
      storeElement(data, i, dtype, static_cast<double>(v));
  }
  return result;
}

//===----------------------------------------------------------------------===//
// Views
//===----------------------------------------------------------------------===//

Tensor permute(const Tensor &x, llvm::ArrayRef<int64_t> perm) {
  int64_t rank = x.dim();
  if (static_cast<int64_t>(perm.size()) != rank)
    runtimeError("permute(sparse_coo): number of dimensions in the tensor "
                 "input does not match the length of the desired ordering of "
                 "dimensions i.e. input.dim() = " +
                 std::to_string(rank) + " is not equal to len(dims) = " +
                 std::to_string(perm.size()));
  ViewStep step{ViewStep::Kind::Transpose, {}, {}};
  Shape strides;
  std::vector<bool> seen(rank, false);
  bool identity = true;
  for (int64_t i = 0; i < rank; ++i) {
    int64_t d = wrapDim(perm[i], rank);
    if (seen[d])
      runtimeError("permute(): duplicate dims are not allowed.");
    seen[d] = true;
    identity &= d == i;
    step.ints.push_back(d);
    step.shape.push_back(x.shape()[d]);
    strides.push_back(x.strides()[d]);
  }
  if (identity)
    return x;
  return derive(x, std::move(step), std::move(strides), x.offset());
}

Tensor transpose(const Tensor &x, int64_t dim0, int64_t dim1) {
  int64_t rank = x.dim();
  if (rank == 0) {
    wrapDim(dim0, 0);
    wrapDim(dim1, 0);
    return x;
  }
  dim0 = wrapDim(dim0, rank);
  dim1 = wrapDim(dim1, rank);
  llvm::SmallVector<int64_t, 4> perm;
  for (int64_t i = 0; i < rank; ++i)
    perm.push_back(i);
  std::swap(perm[dim0], perm[dim1]);
  return permute(x, perm);
}

Tensor expand(const Tensor &x, llvm::ArrayRef<int64_t> sizes) {
  int64_t rank = sizes.size();
  if (rank < x.dim())
    runtimeError("expand: the number of sizes provided (" +
                 std::to_string(rank) +
                 ") must be greater or equal to the number of dimensions in "
                 "the tensor (" +
                 std::to_string(x.dim()) + ")");
  int64_t lead = rank - x.dim();
  ViewStep step{ViewStep::Kind::Expand, {}, {}};
  Shape strides;
  bool same = lead == 0;
  for (int64_t i = 0; i < rank; ++i) {
    int64_t target = sizes[i];
    if (i < lead) {
      if (target < 0)
        runtimeError("expand: -1 is not allowed in a leading, non-existing "
                     "dimension " +
                     std::to_string(i));
      step.shape.push_back(target);
      strides.push_back(0);
      continue;
    }
    int64_t size = x.shape()[i - lead];
    if (target == -1)
      target = size;
    if (size != target && size != 1)
      runtimeError("The expanded size of the tensor (" +
                   std::to_string(target) +
                   ") must match the existing size (" + std::to_string(size) +
                   ") at non-singleton dimension " + std::to_string(i) +
                   ".  Target sizes: " + shapeString(sizes) +
                   ".  Tensor sizes: " + shapeString(x.shape()));
    same &= size == target;
    step.shape.push_back(target);
    strides.push_back(size == target ? x.strides()[i - lead] : 0);
  }
  if (same)
    return x;
  return derive(x, std::move(step), std::move(strides), x.offset());
}

/// Resolves one -1 in `shape` against `numel` elements.
static Shape inferShape(llvm::ArrayRef<int64_t> shape, int64_t numel,
                        llvm::ArrayRef<int64_t> from) {
  Shape result(shape.begin(), shape.end());
  int64_t known = 1;
  int inferred = -1;
  for (size_t i = 0; i < result.size(); ++i) {
    if (result[i] == -1) {
      if (inferred >= 0)
        runtimeError("only one dimension can be inferred");
      inferred = i;
    } else if (result[i] < 0) {
      runtimeError("invalid shape dimension " + std::to_string(result[i]));
    } else {
      known *= result[i];
    }
  }
  if (inferred >= 0 && known != 0 && numel % known == 0)
    result[inferred] = numel / known;
  else if (inferred >= 0 && known == 0 && numel == 0)
    runtimeError("cannot reshape tensor of 0 elements into shape " +
                 shapeString(shape) +
                 " because the unspecified dimension size -1 can be any value "
                 "and is ambiguous");
  if (shapeNumel(result) != numel || (inferred >= 0 && result[inferred] < 0))
    runtimeError("shape '" + shapeString(shape) +
                 "' is invalid for input of size " + std::to_string(numel) +
                 " (input shape " + shapeString(from) + ")");
  return result;
}

/// The strides of viewing (shape, strides) as `target` without copying, when
/// possible: each run of target dims must cover whole runs of input dims that
/// are contiguous with each other.
static std::optional<Shape> viewStrides(llvm::ArrayRef<int64_t> shape,
                                        llvm::ArrayRef<int64_t> strides,
                                        llvm::ArrayRef<int64_t> target) {
  if (shapeNumel(shape) <= 1 || stridesAreContiguous(shape, strides))
    return contiguousStrides(target);
  Shape result(target.size());
  int64_t targetDim = static_cast<int64_t>(target.size()) - 1;
  int64_t chunkStride = strides.back();
  int64_t chunkNumel = 1, targetNumel = 1;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    chunkNumel *= shape[d];
    bool chunkEnds = d == 0 || (shape[d - 1] != 1 &&
                                strides[d - 1] != chunkNumel * chunkStride);
    if (!chunkEnds)
      continue;
    while (targetDim >= 0 &&
           (targetNumel < chunkNumel || target[targetDim] == 1)) {
      result[targetDim] = targetNumel * chunkStride;
      targetNumel *= target[targetDim];
      --targetDim;
    }
    if (targetNumel != chunkNumel)
      return std::nullopt;
    if (d > 0) {
      chunkStride = strides[d - 1];
      chunkNumel = 1;
      targetNumel = 1;
    }
  }
  if (targetDim != -1)
    return std::nullopt;
  return result;
}

static Tensor reshapeView(const Tensor &x, Shape target, Shape strides) {
  if (llvm::ArrayRef<int64_t>(target) == llvm::ArrayRef<int64_t>(x.shape()))
    return x;
  ViewStep step{ViewStep::Kind::Reshape, std::move(target), {}};
  return derive(x, std::move(step), std::move(strides), x.offset());
}

Tensor view(const Tensor &x, llvm::ArrayRef<int64_t> shape) {
  Shape target = inferShape(shape, x.numel(), x.shape());
  std::optional<Shape> strides = viewStrides(x.shape(), x.strides(), target);
  if (!strides)
    runtimeError("view size is not compatible with input tensor's size and "
                 "stride (at least one dimension spans across two contiguous "
                 "subspaces). Use .reshape(...) instead. (input shape " +
                 shapeString(x.shape()) + ", view shape " +
                 shapeString(target) + ")");
  return reshapeView(x, std::move(target), std::move(*strides));
}

Tensor reshape(const Tensor &x, llvm::ArrayRef<int64_t> shape) {
  Shape target = inferShape(shape, x.numel(), x.shape());
  if (std::optional<Shape> strides = viewStrides(x.shape(), x.strides(), target))
    return reshapeView(x, std::move(target), std::move(*strides));
  Tensor dense = contiguous(x);
  return reshapeView(dense, target, contiguousStrides(target));
}

Tensor unsqueeze(const Tensor &x, int64_t dim) {
  dim = wrapDim(dim, x.dim() + 1);
  Shape shape = x.shape();
  shape.insert(shape.begin() + dim, 1);
  return view(x, shape);
}

Tensor squeeze(const Tensor &x, std::optional<int64_t> dim) {
  Shape shape;
  if (dim) {
    int64_t d = wrapDim(*dim, x.dim());
    if (x.dim() == 0 || x.shape()[d] != 1)
      return x;
    shape = x.shape();
    shape.erase(shape.begin() + d);
  } else {
    for (int64_t size : x.shape())
      if (size != 1)
        shape.push_back(size);
  }
  return view(x, shape);
}

Tensor flatten(const Tensor &x, int64_t startDim, int64_t endDim) {
  if (x.dim() == 0)
    return reshape(x, {1});
  startDim = wrapDim(startDim, x.dim());
  endDim = wrapDim(endDim, x.dim());
  if (startDim > endDim)
    runtimeError("flatten() has invalid args: start_dim cannot come after "
                 "end_dim");
  Shape shape(x.shape().begin(), x.shape().begin() + startDim);
  int64_t merged = 1;
  for (int64_t d = startDim; d <= endDim; ++d)
    merged *= x.shape()[d];
  shape.push_back(merged);
  shape.append(x.shape().begin() + endDim + 1, x.shape().end());
  return reshape(x, shape);
}

Tensor slice(const Tensor &x, int64_t dim, int64_t start, int64_t stop,
             int64_t stepSize) {
  if (x.dim() == 0)
    indexError("slice() cannot be applied to a 0-dim tensor.");
  dim = wrapDim(dim, x.dim());
  if (stepSize <= 0)
    valueError("step must be greater than zero");
  int64_t size = x.shape()[dim];
  SliceExtent extent = computeSliceExtent(size, start, stop, stepSize);
  if (extent.count == size && stepSize == 1)
    return x;
  int64_t rank = x.dim();
  ViewStep step{ViewStep::Kind::Slice, x.shape(), {}};
  step.shape[dim] = extent.count;
  // Python-style start/stop (negative counts from the end) keep the graph
  // independent of the size being sliced.
  for (int64_t i = 0; i < rank; ++i)
    step.ints.push_back(i == dim ? start : 0);
  for (int64_t i = 0; i < rank; ++i)
    step.ints.push_back(i == dim ? stop : std::numeric_limits<int64_t>::max());
  for (int64_t i = 0; i < rank; ++i)
    step.ints.push_back(i == dim ? stepSize : 1);
  Shape strides = x.strides();
  strides[dim] *= stepSize;
  int64_t offset = x.offset() + (extent.count ? extent.offset * x.strides()[dim] : 0);
  return derive(x, std::move(step), std::move(strides), offset);
}

Tensor select(const Tensor &x, int64_t dim, int64_t index) {
  if (x.dim() == 0)
    indexError("select() cannot be applied to a 0-dim tensor.");
  dim = wrapDim(dim, x.dim());
  int64_t size = x.shape()[dim];
  if (index < -size || index >= size)
    indexError("index " + std::to_string(index) +
               " is out of bounds for dimension " + std::to_string(dim) +
               " with size " + std::to_string(size));
  int64_t stop = index == -1 ? std::numeric_limits<int64_t>::max() : index + 1;
  Tensor row = slice(x, dim, index, stop, 1);
  Shape shape = row.shape();
  shape.erase(shape.begin() + dim);
  return view(row, shape);
}

Tensor contiguous(const Tensor &x) {
  if (x.isContiguous())
    return x;
  return fromNode(x.value());
}

Tensor clone(const Tensor &x) { return fromNode(x.value()); }

} // namespace ember
