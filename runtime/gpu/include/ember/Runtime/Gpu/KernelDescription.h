//===- KernelDescription.h - a compiled kernel as the runtime sees it -*- C++ -*-===//
//
// What the GPU compiler says about each kernel it emits and what the
// runtime needs to launch it: the gpu.module and entry point, the binary
// and its format, the block size it was compiled for, and its parameters
// in the order of the kernel's arguments (a buffer with its rank and
// element type, or a scalar: index, integer or float, with the bits a
// launch passes), each with where it goes at launch, as the compiler's
// lowering placed it:
//
//   vulkan      a buffer is a storage buffer at (set, binding); a scalar is
//               an 8-byte word (its bytes, zero-extended) at byte `offset`
//               of the push constants, or of one more storage buffer (the
//               kernel's `scalarBuffer`) when it has more scalars than
//               push constants hold.
//   cuda, rocm  the parameters in order: a buffer as its memref descriptor
//               (allocated and aligned pointer, offset, sizes, strides), a
//               scalar as itself.
//   level_zero  the parameters in order: a buffer as one pointer.
//
// Only Vulkan's placement is more than the order, so only it is recorded.
//
// The compiler fills these directly (compiler/include/ember/Compiler/
// GpuCompiler.h); toJson writes one into a model file's manifest and into
// `ember-compile --emit-kernels`' kernels.json; fromJson reads it back (DeviceModel),
// also from files written before the placement was recorded; gpu::Program
// launches from it. The JSON form is documented in docs/model-format.md.
//
// No LLVM: C++17 and the runtime's Json.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_GPU_KERNELDESCRIPTION_H
#define EMBER_RUNTIME_GPU_KERNELDESCRIPTION_H

#include "ember/Runtime/Gpu/Device.h"
#include "ember/Runtime/Json.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ember {
namespace gpu {

/// The module format `name` spells (moduleFormatName's spelling) among those
/// a model file's GPU artifact carries ("spirv", "ptx", "hsaco"); throws
/// ModelError "<where>: unknown binary format '<name>'" otherwise.
ModuleFormat parseModuleFormat(const std::string &name, const std::string &where);

/// A Vulkan descriptor: set and binding of a storage buffer.
struct VulkanBinding {
  uint32_t set = 0;
  uint32_t binding = 0;
  bool operator==(const VulkanBinding &other) const {
    return set == other.set && binding == other.binding;
  }
};

/// One parameter of a kernel.
struct KernelParameter {
  enum class Kind { Buffer, Index, Int, Float };
  Kind kind = Kind::Buffer;
  /// Buffers: the rank; scalars: 0.
  int rank = 0;
  /// The buffer's element type or the scalar's type as MLIR spells it
  /// ("f32", "bf16", "i64", "index"); empty when the file does not say
  /// (written before it was recorded).
  std::string type;
  /// Scalars: the bits a launch passes (index: 64; 16-bit floats travel in
  /// the low bits of a 32-bit word). Buffers: 64.
  int bits = 64;
  /// The type is bfloat16: a 16-bit float scalar is bfloat16, not IEEE half.
  bool bfloat = false;

  /// Vulkan only. Buffers: their descriptor.
  VulkanBinding vulkanBinding;
  /// Vulkan only. Scalars: the byte offset of their 8-byte word in the push
  /// constants, or in the kernel's scalar buffer when it has one.
  uint32_t vulkanOffset = 0;

  bool isBuffer() const { return kind == Kind::Buffer; }
};

/// One compiled kernel.
struct KernelDescription {
  /// The gpu.module the launch plan names, and the entry point in it.
  std::string module;
  std::string name;
  /// The backend whose calling convention the parameters follow.
  Backend backend = Backend::Vulkan;
  ModuleFormat format = ModuleFormat::Spirv;
  /// PTX text, an HSACO ELF image, or SPIR-V words (little-endian bytes).
  /// Not part of the JSON (model files keep it in the artifact section).
  std::string binary;
  /// The block (workgroup) size the kernel was compiled for.
  std::array<int64_t, 3> block = {1, 1, 1};
  std::vector<KernelParameter> params;
  /// Vulkan: the storage buffer that holds the scalars' words when they are
  /// not push constants.
  std::optional<VulkanBinding> scalarBuffer;

  /// Vulkan's layout before it was recorded, which is what the compiler
  /// has always chosen: buffers at set 0, bindings 0, 1, ... in order;
  /// scalar k's word at byte 8 k of the push constants, or, with more than
  /// kMaxPushConstantWords scalars, of a storage buffer at the next binding.
  /// Only for kernels read from such files (fromJson); the compiler records
  /// what its lowering did.
  void assignSequentialVulkanLayout();

  /// The JSON object: "module", "name", "block", "params" (and Vulkan's
  /// "scalar_buffer"). Callers add keys of their own around it (a model
  /// file's section offset and size).
  Json toJson() const;
  /// Reads toJson's object for a kernel of `backend` in `format`; the binary
  /// is left empty. Throws ModelError naming `where` on a missing or bad
  /// field. A Vulkan kernel whose parameters carry no placement (files
  /// written before it was recorded) gets assignSequentialVulkanLayout's.
  static KernelDescription fromJson(const Json &json, Backend backend, ModuleFormat format,
                                    const std::string &where);
};

/// Push constants Vulkan guarantees: 128 bytes, sixteen 8-byte words.
inline constexpr size_t kMaxPushConstantWords = 16;

} // namespace gpu
} // namespace ember

#endif // EMBER_RUNTIME_GPU_KERNELDESCRIPTION_H
