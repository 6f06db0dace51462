//===- Program.h - run a compiled GPU program on a device -------*- C++ -*-===//
//
// The compiler (compiler/include/ember/Compiler/GpuCompiler.h) turns an
// ember function into kernels plus a launch plan: the function's host side
// as JSON instructions over integers, floats and buffers (index arithmetic,
// device allocations, buffer views, kernel launches in order). A Program
// loads the kernels onto a Device and interprets the plan for each call, so
// the runtime needs no compiler: the same split as the CPU's native code.
//
// Kernel arguments are passed where each kernel's description says
// (KernelDescription.h): on Vulkan at the bindings and push-constant
// offsets the compiler recorded, elsewhere in order, CUDA and ROCm taking a
// buffer as its memref descriptor (pointer, pointer, offset, sizes,
// strides), Level Zero as one pointer.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_GPU_PROGRAM_H
#define EMBER_RUNTIME_GPU_PROGRAM_H

#include "ember/Runtime/Gpu/Device.h"
#include "ember/Runtime/Gpu/KernelDescription.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ember {
namespace gpu {

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
  /// DeviceError on a malformed plan, a kernel described for another
  /// backend, or a kernel the driver rejects.
  Program(Device &device, std::vector<KernelDescription> kernels, const std::string &plan);
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
  std::map<std::string, KernelDescription> kernels;
  std::vector<std::unique_ptr<Module>> modules;
  std::map<std::string, Kernel *> loaded;
  std::map<std::string, std::shared_ptr<Function>> functions;
};

} // namespace gpu
} // namespace ember

#endif // EMBER_RUNTIME_GPU_PROGRAM_H
