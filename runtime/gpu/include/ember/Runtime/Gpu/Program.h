//===- Program.h - run a compiled GPU program on a device -------*- C++ -*-===//
//
// The compiler (compiler/include/ember/Compiler/GpuCompiler.h) turns an
// ember function into kernels plus a launch plan: the function's host side
// as JSON instructions over integers, floats and buffers (index arithmetic,
// device allocations, buffer views, kernel launches in order). A Program
// loads the kernels onto a Device and interprets the plan for each call, so
// the runtime needs no compiler: the same split as the CPU's native code.
//
// Kernel arguments are passed as each backend's lowering expects them:
// Vulkan binds the buffers as storage buffers 0, 1, ... and writes the
// scalars as 8-byte push-constant words in order, CUDA and ROCm take a buffer as its memref descriptor
// (pointer, pointer, offset, sizes, strides), Level Zero as one pointer.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_GPU_PROGRAM_H
#define EMBER_RUNTIME_GPU_PROGRAM_H

#include "ember/Runtime/Gpu/Device.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ember {
namespace gpu {

/// A kernel parameter in the compiler's launch metadata.
struct ProgramParam {
  enum class Kind { Buffer, Index, Int, Float };
  Kind kind = Kind::Buffer;
  /// Bits of a scalar (index: 64; 16-bit floats travel in the low bits of a
  /// 32-bit word); buffers: their rank.
  int bits = 64;
  int rank = 1;
  /// A 16-bit float scalar that is bfloat16 (not IEEE half).
  bool bfloat = false;
};

/// One compiled kernel: its binary and parameters.
struct ProgramKernel {
  /// The gpu.module the plan's launches name, and the entry point in it.
  std::string module;
  std::string name;
  ModuleFormat format = ModuleFormat::Spirv;
  std::string binary;
  std::vector<ProgramParam> params;
};

/// A buffer argument of a program call: dense row-major device memory.
struct ProgramBuffer {
  DeviceBuffer buffer;
  std::vector<int64_t> shape;
  size_t elementBytes = 4;
  /// Optional: the same contents in host memory, for plan instructions that
  /// read the buffer on the host (a size vector the launcher consults).
  const void *host = nullptr;
};

class Program {
public:
  /// Loads `kernels` onto `device` and parses `plan` (JSON); throws
  /// DeviceError on a malformed plan or a kernel the driver rejects.
  Program(Device &device, std::vector<ProgramKernel> kernels, const std::string &plan);
  ~Program();

  /// Runs entry `name` on `buffers` (inputs, then one output buffer per
  /// result: destination passing), enqueued on `stream`; returns once the
  /// work is enqueued and its temporaries are released to the allocator.
  void run(const std::string &name, const std::vector<ProgramBuffer> &buffers,
           Stream &stream);

  /// The public functions the plan holds.
  std::vector<std::string> entries() const;

  struct Instruction;
  struct Function;

private:
  Device &device;
  std::map<std::string, ProgramKernel> kernels;
  std::vector<std::unique_ptr<Module>> modules;
  std::map<std::string, Kernel *> loaded;
  std::map<std::string, std::shared_ptr<Function>> functions;
};

} // namespace gpu
} // namespace ember

#endif // EMBER_RUNTIME_GPU_PROGRAM_H
