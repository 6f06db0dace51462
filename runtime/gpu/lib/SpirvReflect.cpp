//===- SpirvReflect.cpp - entry points of a SPIR-V binary ------------------===//

#include "SpirvReflect.h"

#include <cstring>
#include <map>

namespace ember {
namespace gpu {

namespace {
constexpr uint32_t kMagic = 0x07230203;
constexpr uint32_t kOpEntryPoint = 15;
constexpr uint32_t kOpExecutionMode = 16;
constexpr uint32_t kOpFunction = 54;
constexpr uint32_t kExecutionModeLocalSize = 17;
} // namespace

bool reflectSpirv(const void *data, size_t bytes,
                  std::vector<SpirvEntryPoint> &entryPoints,
                  std::string &error) {
  entryPoints.clear();
  if (bytes % 4 != 0 || bytes < 20) {
    error = "not a SPIR-V binary (" + std::to_string(bytes) +
            " bytes, not a multiple of 4 of at least 20)";
    return false;
  }
  std::vector<uint32_t> words(bytes / 4);
  std::memcpy(words.data(), data, bytes);
  if (words[0] != kMagic) {
    error = "not a SPIR-V binary (bad magic number; byte-swapped or text?)";
    return false;
  }
  std::map<uint32_t, size_t> indexById;
  for (size_t at = 5; at < words.size();) {
    uint32_t count = words[at] >> 16, opcode = words[at] & 0xffff;
    if (count == 0 || at + count > words.size()) {
      error = "truncated SPIR-V instruction at word " + std::to_string(at);
      return false;
    }
    // Entry points and execution modes precede every function.
    if (opcode == kOpFunction)
      break;
    if (opcode == kOpEntryPoint && count >= 4) {
      SpirvEntryPoint entry;
      entry.executionModel = words[at + 1];
      const char *name = reinterpret_cast<const char *>(&words[at + 3]);
      entry.name.assign(name, strnlen(name, (count - 3) * 4));
      indexById[words[at + 2]] = entryPoints.size();
      entryPoints.push_back(entry);
    } else if (opcode == kOpExecutionMode && count >= 6 &&
               words[at + 2] == kExecutionModeLocalSize) {
      auto it = indexById.find(words[at + 1]);
      if (it != indexById.end())
        for (int i = 0; i < 3; ++i)
          entryPoints[it->second].localSize[i] = words[at + 3 + i];
    }
    at += count;
  }
  return true;
}

} // namespace gpu
} // namespace ember
