//===- KernelDescription.cpp - kernel descriptions to and from JSON --------===//
//
// The reader checks every field: model files are not trusted, and a wrong
// parameter list would launch a kernel on buffers it does not expect.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/Gpu/KernelDescription.h"

#include "ember/Runtime/ModelFile.h"

namespace ember {
namespace gpu {

namespace {

const char *kindName(KernelParameter::Kind kind) {
  switch (kind) {
  case KernelParameter::Kind::Buffer:
    return "buffer";
  case KernelParameter::Kind::Index:
    return "index";
  case KernelParameter::Kind::Int:
    return "int";
  case KernelParameter::Kind::Float:
    return "float";
  }
  return "unknown";
}

KernelParameter::Kind parseKind(const std::string &kind, const std::string &where) {
  for (KernelParameter::Kind candidate :
       {KernelParameter::Kind::Buffer, KernelParameter::Kind::Index,
        KernelParameter::Kind::Int, KernelParameter::Kind::Float})
    if (kind == kindName(candidate))
      return candidate;
  throw ModelError(where + ": unknown kernel parameter kind '" + kind + "'");
}

/// An integer field in [low, high].
int64_t boundedInt(const Json &json, const char *key, const char *what, int64_t low,
                   int64_t high, const std::string &where) {
  int64_t value = json.at(key, what).asInt(key);
  if (value < low || value > high)
    throw ModelError(where + ": " + what + "'s " + key + " " + std::to_string(value) +
                     " is outside [" + std::to_string(low) + ", " + std::to_string(high) +
                     "]");
  return value;
}

// Generous bounds that keep a crafted file from asking for huge argument
// lists or descriptor tables.
constexpr int64_t kMaxRank = 32;
constexpr int64_t kMaxBinding = 1 << 16;
constexpr int64_t kMaxScalarOffset = 1 << 20;
constexpr int64_t kMaxBlockExtent = 1 << 16;

Json bindingJson(const VulkanBinding &binding) {
  Json json = Json::object();
  json.set("set", int64_t(binding.set));
  json.set("binding", int64_t(binding.binding));
  return json;
}

VulkanBinding parseBinding(const Json &json, const char *what, const std::string &where) {
  VulkanBinding binding;
  binding.set = uint32_t(boundedInt(json, "set", what, 0, kMaxBinding, where));
  binding.binding = uint32_t(boundedInt(json, "binding", what, 0, kMaxBinding, where));
  return binding;
}

} // namespace

ModuleFormat parseModuleFormat(const std::string &name, const std::string &where) {
  // A cubin is only ever loaded straight from ptxas's output, never from a
  // file.
  for (ModuleFormat format : {ModuleFormat::Spirv, ModuleFormat::Ptx, ModuleFormat::Hsaco})
    if (name == moduleFormatName(format))
      return format;
  throw ModelError(where + ": unknown binary format '" + name + "'");
}

void KernelDescription::assignSequentialVulkanLayout() {
  size_t scalars = 0;
  uint32_t binding = 0;
  for (KernelParameter &param : params) {
    if (param.isBuffer())
      param.vulkanBinding = {0, binding++};
    else
      param.vulkanOffset = uint32_t(8 * scalars++);
  }
  scalarBuffer.reset();
  if (scalars > kMaxPushConstantWords)
    scalarBuffer = VulkanBinding{0, binding};
}

Json KernelDescription::toJson() const {
  Json json = Json::object();
  json.set("module", module);
  json.set("name", name);
  Json blockJson = Json::array();
  for (int64_t extent : block)
    blockJson.push(extent);
  json.set("block", std::move(blockJson));
  Json paramsJson = Json::array();
  for (const KernelParameter &param : params) {
    Json p = Json::object();
    p.set("kind", kindName(param.kind));
    p.set("bits", param.bits);
    p.set("rank", param.rank);
    if (!param.type.empty())
      p.set("type", param.type);
    if (param.bfloat)
      p.set("bfloat", true);
    if (backend == Backend::Vulkan) {
      if (param.isBuffer()) {
        p.set("set", int64_t(param.vulkanBinding.set));
        p.set("binding", int64_t(param.vulkanBinding.binding));
      } else {
        p.set("offset", int64_t(param.vulkanOffset));
      }
    }
    paramsJson.push(std::move(p));
  }
  json.set("params", std::move(paramsJson));
  if (backend == Backend::Vulkan && scalarBuffer)
    json.set("scalar_buffer", bindingJson(*scalarBuffer));
  return json;
}

KernelDescription KernelDescription::fromJson(const Json &json, Backend backend,
                                              ModuleFormat format, const std::string &where) {
  KernelDescription kernel;
  kernel.backend = backend;
  kernel.format = format;
  kernel.module = json.at("module", "a kernel").asString("module");
  kernel.name = json.at("name", "a kernel").asString("name");
  if (const Json *block = json.get("block")) {
    const std::vector<Json> &extents = block->asArray("block");
    if (extents.size() != 3)
      throw ModelError(where + ": kernel '" + kernel.module + "' has a block of " +
                       std::to_string(extents.size()) + " extents, not 3");
    for (size_t i = 0; i < 3; ++i) {
      kernel.block[i] = extents[i].asInt("a block extent");
      if (kernel.block[i] < 1 || kernel.block[i] > kMaxBlockExtent)
        throw ModelError(where + ": kernel '" + kernel.module + "' has a block extent of " +
                         std::to_string(kernel.block[i]));
    }
  }
  // Vulkan placement: recorded for every parameter, or (files written
  // before it was recorded) for none.
  size_t placed = 0;
  for (const Json &p : json.at("params", "a kernel").asArray("params")) {
    KernelParameter param;
    param.kind = parseKind(p.at("kind", "a parameter").asString("kind"), where);
    param.bits = static_cast<int>(boundedInt(p, "bits", "a parameter", 1, 64, where));
    param.rank = static_cast<int>(boundedInt(p, "rank", "a parameter", 0, kMaxRank, where));
    if (const Json *type = p.get("type"))
      param.type = type->asString("type");
    if (const Json *bfloat = p.get("bfloat"))
      param.bfloat = bfloat->asBool("bfloat");
    if (param.type == "bf16")
      param.bfloat = true;
    if (!param.isBuffer() && param.bits != 16 && param.bits != 32 && param.bits != 64)
      throw ModelError(where + ": kernel '" + kernel.module + "' has a " +
                       kindName(param.kind) + " parameter of " + std::to_string(param.bits) +
                       " bits (expected 16, 32 or 64)");
    if (backend == Backend::Vulkan) {
      if (param.isBuffer() && p.get("binding")) {
        param.vulkanBinding = parseBinding(p, "a parameter", where);
        ++placed;
      } else if (!param.isBuffer() && p.get("offset")) {
        int64_t offset = boundedInt(p, "offset", "a parameter", 0, kMaxScalarOffset, where);
        if (offset % 8)
          throw ModelError(where + ": kernel '" + kernel.module +
                           "' places a scalar at offset " + std::to_string(offset) +
                           ", not a multiple of 8");
        param.vulkanOffset = uint32_t(offset);
        ++placed;
      }
    }
    kernel.params.push_back(std::move(param));
  }
  if (backend != Backend::Vulkan)
    return kernel;
  if (placed == 0) {
    // Written before the placement was recorded: what the compiler chose
    // then (docs/model-format.md).
    kernel.assignSequentialVulkanLayout();
    return kernel;
  }
  if (placed != kernel.params.size())
    throw ModelError(where + ": kernel '" + kernel.module +
                     "' places some of its parameters and not others");
  if (const Json *scalarBuffer = json.get("scalar_buffer"))
    kernel.scalarBuffer = parseBinding(*scalarBuffer, "scalar_buffer", where);
  return kernel;
}

} // namespace gpu
} // namespace ember
