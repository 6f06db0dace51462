/*===- CustomOp.h - the stable ABI of C++ custom ops -------------*- C++ -*-===//
 *
 * A custom op library is a shared object that exports one C function,
 * `ember_custom_op_library_init_v1`, which hands Ember one `EmberOpDef` per
 * op through the registrar it is given. Everything that crosses the
 * boundary is plain C (no C++ types, no LLVM, no Ember internals), so a
 * library built against this header keeps working with later Ember builds
 * of the same ABI version. The header depends on nothing but the C
 * standard headers; the C++ part at the end (`EMBER_CUSTOM_OP_LIBRARY`,
 * `ember::custom::Op`) is sugar over the C structs, header-only.
 *
 * An op has:
 * - a name "namespace::op" (`ember.ops.namespace.op` in Python);
 * - a fixed number of tensor inputs and outputs, and named numeric
 *   attributes with defaults (all carried as doubles);
 * - a shape function: input dtypes/shapes + attributes -> output
 *   dtypes/shapes (called when the op is traced and again, inside compiled
 *   code, before each run, so outputs can be allocated);
 * - a CPU kernel on strided buffers (required);
 * - optionally GPU kernels: a Vulkan compute shader (SPIR-V), a CUDA
 *   module (PTX or cubin) or a CUDA host function; Ember dispatches them
 *   on tensors of those devices, eagerly and inside compiled GPU programs
 *   (the GPU contract is below, at EmberSpirvKernel);
 * - optionally the name of another registered op that computes its
 *   gradients: inputs (inputs..., outputs..., output gradients...), one
 *   output per input (its gradient, the input's dtype and shape).
 *
 * Kernels and shape functions report failure by returning nonzero after
 * writing a message into `status->message`; Ember raises it (Python:
 * RuntimeError; C++: ember::ModelError) naming the op.
 *
 * See docs/custom-ops.md.
 *
 *===----------------------------------------------------------------------===*/

#ifndef EMBER_RUNTIME_CUSTOMOP_H
#define EMBER_RUNTIME_CUSTOMOP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 2 added EmberOpDef::cudaModule; a library built for 1 is refused with a
 * message (rebuild it against this header). */
#define EMBER_CUSTOM_OP_ABI_VERSION 2
#define EMBER_CUSTOM_OP_MAX_RANK 8
#define EMBER_CUSTOM_OP_INIT_SYMBOL "ember_custom_op_library_init_v1"

/* Element types, in the order of ember::ElementType (ElementType.h). */
typedef enum EmberDType {
  EMBER_BOOL = 0,
  EMBER_INT32 = 1,
  EMBER_INT64 = 2,
  EMBER_FLOAT16 = 3,
  EMBER_BFLOAT16 = 4,
  EMBER_FLOAT32 = 5,
  EMBER_FLOAT64 = 6
} EmberDType;

/* A tensor's dtype and shape (shape functions). */
typedef struct EmberTensorType {
  int32_t dtype;
  int32_t rank;
  int64_t sizes[EMBER_CUSTOM_OP_MAX_RANK];
} EmberTensorType;

/* A strided view: `data` points at element [0, ..., 0]; element
 * [i0, i1, ...] is at data + sum(ik * strides[k]) elements. Inputs may be
 * any view (transposed, broadcast with stride 0); outputs are fresh dense
 * row-major buffers the kernel must fill completely. */
typedef struct EmberBuffer {
  void *data;
  int32_t dtype;
  int32_t rank;
  const int64_t *sizes;
  const int64_t *strides;
} EmberBuffer;

/* The op's attributes, every declared one, in declaration order. */
typedef struct EmberAttrs {
  int32_t count;
  const char *const *names;
  const double *values;
} EmberAttrs;

typedef struct EmberStatus {
  char message[512];
} EmberStatus;

typedef int (*EmberShapeFn)(const EmberTensorType *inputs, int32_t numInputs,
                            const EmberAttrs *attrs, EmberTensorType *outputs,
                            int32_t numOutputs, EmberStatus *status);
typedef int (*EmberCpuKernelFn)(const EmberBuffer *inputs, int32_t numInputs,
                                const EmberBuffer *outputs, int32_t numOutputs,
                                const EmberAttrs *attrs, EmberStatus *status);
/* A CUDA kernel as a host function: the buffers hold device pointers
 * (CUdeviceptr values, already advanced to element [0, ...]; inputs
 * strided, outputs dense), `stream` is the CUstream the program runs on;
 * the function enqueues its work there and returns. */
typedef int (*EmberCudaKernelFn)(const EmberBuffer *inputs, int32_t numInputs,
                                 const EmberBuffer *outputs, int32_t numOutputs,
                                 const EmberAttrs *attrs, void *stream,
                                 EmberStatus *status);

/* The GPU kernel contract (Vulkan shaders and CUDA modules alike; see
 * docs/custom-ops.md, "GPU kernels"). Ember dispatches one kernel per
 * call, after the op's shape function sized and allocated the outputs:
 *
 * - buffers: each input, then each output, then one metadata buffer;
 *   Vulkan: storage buffers at set 0, bindings 0, 1, ...; CUDA: the first
 *   parameters, as device pointers. Each tensor's buffer is bound from the
 *   start of its allocation; its elements are found through the metadata.
 * - metadata: int32 words, EMBER_GPU_META_WORDS per tensor (inputs then
 *   outputs): offset (elements from the buffer's start to element
 *   [0, ...]), rank, EMBER_CUSTOM_OP_MAX_RANK sizes, then
 *   EMBER_CUSTOM_OP_MAX_RANK strides (elements; unused dims size 1,
 *   stride 0). Inputs may be any view (stride 0 for broadcast dims);
 *   outputs are dense row-major, offset 0, to be filled completely.
 * - scalars: a uint32 count, numel(output 0), then each attribute as a
 *   float32, in declaration order: Vulkan's push constants at bytes 0, 4,
 *   8, ...; CUDA's parameters after the buffers.
 * - grid: ceil(count / block.x) workgroups (blocks) along x, at most
 *   65535; y and z 1. Kernels loop with a grid stride:
 *   for (i = global id x; i < count; i += workgroups x * block x).
 */
#define EMBER_GPU_META_WORDS (2 + 2 * EMBER_CUSTOM_OP_MAX_RANK)

/* A Vulkan compute shader: SPIR-V words, its entry point and LocalSize
 * (the workgroup size the shader declares). */
typedef struct EmberSpirvKernel {
  const uint32_t *words;
  size_t wordCount;
  const char *entryPoint;
  uint32_t localSize[3];
} EmberSpirvKernel;

/* A CUDA module: PTX text (EMBER_CUDA_PTX, NUL-terminated or not) or a
 * cubin image (EMBER_CUDA_CUBIN), the kernel's name (extern "C") and the
 * block size to launch it with. */
typedef enum EmberCudaFormat { EMBER_CUDA_PTX = 0, EMBER_CUDA_CUBIN = 1 } EmberCudaFormat;
typedef struct EmberCudaModule {
  int32_t format;
  const void *image;
  size_t bytes;
  const char *entryPoint;
  uint32_t blockSize[3];
} EmberCudaModule;

typedef struct EmberOpDef {
  uint32_t abiVersion; /* EMBER_CUSTOM_OP_ABI_VERSION */
  const char *name;    /* "namespace::op" */
  int32_t numInputs;
  int32_t numOutputs;
  int32_t numAttrs;
  const char *const *attrNames;
  const double *attrDefaults;
  EmberShapeFn shape;              /* required */
  EmberCpuKernelFn cpu;            /* required */
  const EmberSpirvKernel *vulkan;  /* optional */
  EmberCudaKernelFn cuda;          /* optional */
  const char *backward;            /* optional: a registered op's name */
  /* ABI 2 */
  const EmberCudaModule *cudaModule; /* optional */
} EmberOpDef;

/* What the init function is given: `add` copies the definition (the
 * pointers need only live through the call). */
typedef struct EmberOpRegistrar {
  uint32_t abiVersion;
  void *context;
  int (*add)(void *context, const EmberOpDef *def, EmberStatus *status);
} EmberOpRegistrar;

typedef int (*EmberCustomOpInitFn)(const EmberOpRegistrar *registrar,
                                   EmberStatus *status);

#ifdef __cplusplus
} /* extern "C" */

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace ember {
namespace custom {

/// The element offset of the `linear`-th element (row-major order over
/// `buffer.sizes`) in a strided buffer.
inline int64_t offsetOf(const EmberBuffer &buffer, int64_t linear) {
  int64_t offset = 0;
  for (int32_t d = buffer.rank - 1; d >= 0; --d) {
    int64_t size = buffer.sizes[d];
    offset += (linear % size) * buffer.strides[d];
    linear /= size;
  }
  return offset;
}

inline int64_t numel(const EmberBuffer &buffer) {
  int64_t n = 1;
  for (int32_t d = 0; d < buffer.rank; ++d)
    n *= buffer.sizes[d];
  return n;
}

/// The value of attribute `name` (every declared attribute is present).
inline double attr(const EmberAttrs *attrs, const char *name) {
  for (int32_t i = 0; i < attrs->count; ++i)
    if (std::strcmp(attrs->names[i], name) == 0)
      return attrs->values[i];
  return 0;
}

/// Formats an error into `status` and returns 1 (a failing result).
template <typename... Args>
int fail(EmberStatus *status, const char *format, Args... args) {
  std::snprintf(status->message, sizeof(status->message), format, args...);
  return 1;
}

/// A shape function for ops whose every output is like input 0.
inline int sameAsFirstInput(const EmberTensorType *inputs, int32_t,
                            const EmberAttrs *, EmberTensorType *outputs,
                            int32_t numOutputs, EmberStatus *) {
  for (int32_t i = 0; i < numOutputs; ++i)
    outputs[i] = inputs[0];
  return 0;
}

/// One op's definition, built fluently:
///   Op("mylib::swish").inputs(1).attr("beta", 1.0).shape(fn).cpu(kernel)
class Op {
public:
  explicit Op(std::string name) : name_(std::move(name)) {}
  Op &inputs(int32_t n) { numInputs_ = n; return *this; }
  Op &outputs(int32_t n) { numOutputs_ = n; return *this; }
  Op &attr(std::string name, double defaultValue) {
    attrNames_.push_back(std::move(name));
    attrDefaults_.push_back(defaultValue);
    return *this;
  }
  Op &shape(EmberShapeFn fn) { shape_ = fn; return *this; }
  Op &cpu(EmberCpuKernelFn fn) { cpu_ = fn; return *this; }
  Op &vulkan(const EmberSpirvKernel *kernel) { vulkan_ = kernel; return *this; }
  Op &cuda(EmberCudaKernelFn fn) { cuda_ = fn; return *this; }
  Op &cuda(const EmberCudaModule *module) { cudaModule_ = module; return *this; }
  Op &backward(std::string op) { backward_ = std::move(op); return *this; }

  int registerWith(const EmberOpRegistrar *registrar, EmberStatus *status) const {
    std::vector<const char *> names;
    for (const std::string &n : attrNames_)
      names.push_back(n.c_str());
    EmberOpDef def;
    def.abiVersion = EMBER_CUSTOM_OP_ABI_VERSION;
    def.name = name_.c_str();
    def.numInputs = numInputs_;
    def.numOutputs = numOutputs_;
    def.numAttrs = static_cast<int32_t>(names.size());
    def.attrNames = names.data();
    def.attrDefaults = attrDefaults_.data();
    def.shape = shape_;
    def.cpu = cpu_;
    def.vulkan = vulkan_;
    def.cuda = cuda_;
    def.backward = backward_.empty() ? nullptr : backward_.c_str();
    def.cudaModule = cudaModule_;
    return registrar->add(registrar->context, &def, status);
  }

private:
  std::string name_;
  int32_t numInputs_ = 1, numOutputs_ = 1;
  std::vector<std::string> attrNames_;
  std::vector<double> attrDefaults_;
  EmberShapeFn shape_ = nullptr;
  EmberCpuKernelFn cpu_ = nullptr;
  const EmberSpirvKernel *vulkan_ = nullptr;
  EmberCudaKernelFn cuda_ = nullptr;
  const EmberCudaModule *cudaModule_ = nullptr;
  std::string backward_;
};

/// What an EMBER_CUSTOM_OP_LIBRARY body registers ops with.
class Library {
public:
  Library(const EmberOpRegistrar *registrar, EmberStatus *status)
      : registrar_(registrar), status_(status) {}
  /// Registers `op`; after a failure the rest are skipped and the library
  /// fails to load with the first message.
  Library &def(const Op &op) {
    if (!failed_)
      failed_ = op.registerWith(registrar_, status_) != 0;
    return *this;
  }
  bool failed() const { return failed_; }

private:
  const EmberOpRegistrar *registrar_;
  EmberStatus *status_;
  bool failed_ = false;
};

} // namespace custom
} // namespace ember

/// Defines the library's init function (once per shared object):
///   EMBER_CUSTOM_OP_LIBRARY(m) { m.def(ember::custom::Op("ns::op")...); }
#define EMBER_CUSTOM_OP_LIBRARY(lib)                                           \
  static void emberCustomOpLibraryBody(::ember::custom::Library &lib);         \
  extern "C" __attribute__((visibility("default"))) int                        \
  ember_custom_op_library_init_v1(const EmberOpRegistrar *registrar,           \
                                  EmberStatus *status) {                       \
    if (registrar->abiVersion < EMBER_CUSTOM_OP_ABI_VERSION)                   \
      return ::ember::custom::fail(status, "built for custom op ABI %d, "      \
                                   "Ember offers %u",                          \
                                   EMBER_CUSTOM_OP_ABI_VERSION,                \
                                   registrar->abiVersion);                     \
    ::ember::custom::Library library(registrar, status);                       \
    emberCustomOpLibraryBody(library);                                         \
    return library.failed() ? 1 : 0;                                           \
  }                                                                            \
  static void emberCustomOpLibraryBody(::ember::custom::Library &lib)

#endif /* __cplusplus */

#endif /* EMBER_RUNTIME_CUSTOMOP_H */
