//===- SpirvReflect.h - entry points of a SPIR-V binary ---------*- C++ -*-===//
//
// Just enough of SPIR-V's binary form to name a module's entry points and
// their fixed workgroup sizes, so that a wrong kernel name or block size is
// a clear error before the driver sees it (drivers tend to crash or return
// VK_ERROR_UNKNOWN instead).
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_GPU_SPIRVREFLECT_H
#define EMBER_RUNTIME_GPU_SPIRVREFLECT_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ember {
namespace gpu {

/// One OpEntryPoint.
struct SpirvEntryPoint {
  std::string name;
  /// SPIR-V's ExecutionModel: 5 = GLCompute (Vulkan), 6 = Kernel (OpenCL).
  uint32_t executionModel = 0;
  /// The LocalSize execution mode's x, y, z; all 0 when the module has none
  /// (LocalSizeId or the WorkgroupSize built-in, set by spec constants).
  uint32_t localSize[3] = {0, 0, 0};
};

/// The entry points of a SPIR-V module of `bytes` bytes. Returns false
/// with `error` set when it is not a SPIR-V binary.
bool reflectSpirv(const void *data, size_t bytes,
                  std::vector<SpirvEntryPoint> &entryPoints,
                  std::string &error);

} // namespace gpu
} // namespace ember

#endif // EMBER_RUNTIME_GPU_SPIRVREFLECT_H
