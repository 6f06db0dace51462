//===- CustomOpRegistry.h - the process's custom ops ------------*- C++ -*-===//
//
// The ops that loaded custom op libraries (CustomOp.h) registered, by name;
// the loader of such libraries; and the two runtime functions compiled code
// calls for an `ember.custom_call` (ember-custom-call-to-runtime):
// `ember_custom_call_shapes` (the op's shape function on the inputs'
// shapes, filling in the outputs' sizes) and `ember_custom_call` (the CPU
// kernel). Both take one call descriptor, a vector of int64 words the
// compiled code fills (layout below); a failure is recorded (the first
// one wins) and raised by whoever ran the program (takeCustomCallError),
// since compiled code has no way to unwind.
//
// Descriptor layout (int64 words):
//   kCustomCallMagic
//   name length L, then ceil(L / 8) words of its bytes
//   attribute count A, then per attribute: name length, its words, the
//     value's f64 bits
//   input count I, then per input: dtype, rank R, aligned pointer, offset
//     (elements), R sizes, R strides (elements)
//   output count O, then per output: the same; the shapes call fills the
//     sizes and dense strides, the compiled code the pointer (offset 0).
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_CUSTOMOPREGISTRY_H
#define EMBER_RUNTIME_CUSTOMOPREGISTRY_H

#include "ember/Runtime/CustomOp.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ember {

constexpr int64_t kCustomCallMagic = 0x454d424343414c31; // "EMBCCAL1"

/// A registered op (the library's EmberOpDef, copied).
struct CustomOpInfo {
  std::string name;
  /// The shared object it came from (as given to loadCustomOpLibrary).
  std::string library;
  int32_t numInputs = 0, numOutputs = 0;
  std::vector<std::string> attrNames;
  std::vector<double> attrDefaults;
  EmberShapeFn shape = nullptr;
  EmberCpuKernelFn cpu = nullptr;
  bool hasVulkan = false, hasCuda = false;
  std::string backward;
  /// A GPU kernel's code, copied from the library's definition.
  struct GpuCode {
    /// SPIR-V words (little-endian), PTX text or a cubin image.
    std::string image;
    /// Vulkan: EMBER_CUDA_* unused; CUDA: EMBER_CUDA_PTX or EMBER_CUDA_CUBIN.
    int32_t format = 0;
    std::string entryPoint;
    uint32_t block[3] = {1, 1, 1};
  };
  std::optional<GpuCode> vulkan, cudaModule;
  EmberCudaKernelFn cudaFn = nullptr;
  /// Distinct for every registration in the process (a rebuilt library's
  /// op is new): what the GPU dispatcher caches loaded modules by.
  uint64_t generation = 0;
};

/// Loads the shared object at `path` (once per real path) and registers
/// its ops; returns their names. Throws std::runtime_error with the
/// dlopen error, or the library's message when its init fails or an op is
/// malformed or already registered by another library.
std::vector<std::string> loadCustomOpLibrary(const std::string &path);

/// The op named `name`, or null.
const CustomOpInfo *findCustomOp(const std::string &name);
/// Every registered op's name.
std::vector<std::string> customOpNames();

/// The op's output types for `inputs` and `attrs` (one value per declared
/// attribute, in order). Throws std::runtime_error "OP: ..." with the
/// shape function's message, or for a wrong number of inputs.
std::vector<EmberTensorType>
inferCustomOpTypes(const CustomOpInfo &op,
                   const std::vector<EmberTensorType> &inputs,
                   const std::vector<double> &attrs);

/// The first error a custom call reported since the last take ("" if
/// none), and clears it.
std::string takeCustomCallError();

} // namespace ember

extern "C" {
/// Compiled code's entry points; `desc` is a memref<?xi64> as MLIR passes it.
void ember_custom_call_shapes(int64_t *allocated, int64_t *aligned,
                              int64_t offset, int64_t size, int64_t stride);
void ember_custom_call(int64_t *allocated, int64_t *aligned, int64_t offset,
                       int64_t size, int64_t stride);
}

#endif // EMBER_RUNTIME_CUSTOMOPREGISTRY_H
