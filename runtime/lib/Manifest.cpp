//===- Manifest.cpp - the manifest as data: parse, check, write ------------===//
//
// Schema: docs/model-format.md. Every field is checked here, so the loader
// and the executor can trust a parsed Manifest: symbols are bound, weights lie
// inside the weights section with the size their shape needs, names are
// unique.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/Manifest.h"
#include "ember/Runtime/ModelFile.h"

#include <limits>
#include <set>

namespace ember {

std::string DimExpr::symbolName() const {
  if (constant == 0 && terms.size() == 1 && terms[0].second == 1)
    return terms[0].first;
  return "";
}

int64_t DimExpr::evaluate(const std::map<std::string, int64_t> &bindings) const {
  // Checked arithmetic: a hostile manifest must not overflow into a small
  // allocation.
  int64_t value = constant;
  for (const auto &[name, coefficient] : terms) {
    auto it = bindings.find(name);
    if (it == bindings.end())
      throw ModelError("dim '" + str() + "': symbol '" + name + "' has no value");
    int64_t product;
    if (__builtin_mul_overflow(coefficient, it->second, &product) ||
        __builtin_add_overflow(value, product, &value))
      throw ModelError("dim '" + str() + "' overflows");
  }
  return value;
}

std::string DimExpr::str() const {
  if (terms.empty())
    return std::to_string(constant);
  std::string text;
  for (const auto &[name, coefficient] : terms) {
    if (!text.empty())
      text += coefficient < 0 ? "-" : "+";
    else if (coefficient < 0)
      text += "-";
    int64_t magnitude = coefficient < 0 ? -coefficient : coefficient;
    if (magnitude != 1)
      text += std::to_string(magnitude) + "*";
    text += name;
  }
  if (constant > 0)
    text += "+" + std::to_string(constant);
  else if (constant < 0)
    text += std::to_string(constant);
  return text;
}

std::string TensorSpec::str() const {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + shape[i].str();
  return text + "] " + elementTypeName(dtype);
}

const EntrySpec *Manifest::findEntry(const std::string &name) const {
  for (const EntrySpec &entry : entries)
    if (entry.name == name)
      return &entry;
  return nullptr;
}

const WeightSpec *Manifest::findWeight(const std::string &name) const {
  for (const WeightSpec &weight : weights)
    if (weight.name == name)
      return &weight;
  return nullptr;
}

const ArtifactSpec *Manifest::findArtifact(const std::string &target) const {
  for (const ArtifactSpec &artifact : artifacts)
    if (artifact.target == target)
      return &artifact;
  return nullptr;
}

namespace {

[[noreturn]] void fail(const std::string &what) {
  throw ModelError("manifest: " + what);
}

bool isIdentifier(const std::string &name) {
  if (name.empty() || name.size() > 64)
    return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok)
      return false;
  }
  return true;
}

ElementType parseDtype(const Json &value, const std::string &where) {
  ElementType type;
  const std::string &name = value.asString("a dtype");
  if (!parseElementType(name, &type))
    fail(where + ": unknown dtype '" + name +
         "' (known: bool int32 int64 float16 bfloat16 float32 float64)");
  return type;
}

DimExpr parseDim(const Json &value, const std::string &where, bool allowAffine) {
  if (value.isInt()) {
    int64_t d = value.asInt("a dim");
    if (d < 0)
      fail(where + ": negative dim " + std::to_string(d));
    return DimExpr::fixed(d);
  }
  if (value.isString()) {
    const std::string &name = value.asString("a dim");
    if (!isIdentifier(name))
      fail(where + ": '" + name + "' is not a valid symbol name");
    return DimExpr::symbol(name);
  }
  if (value.isObject() && allowAffine) {
    DimExpr expr;
    if (const Json *add = value.get("add"))
      expr.constant = add->asInt("a dim's \"add\"");
    const Json &terms = value.at("terms", "an affine dim");
    if (!terms.isObject())
      fail(where + ": an affine dim's \"terms\" must be an object");
    for (const auto &[name, coefficient] : terms.members()) {
      if (!isIdentifier(name))
        fail(where + ": '" + name + "' is not a valid symbol name");
      expr.terms.push_back({name, coefficient.asInt("a dim coefficient")});
    }
    return expr;
  }
  fail(where + (allowAffine ? ": a dim must be an integer, a symbol name or "
                              "{\"add\": c, \"terms\": {...}}"
                            : ": an input dim must be an integer or a symbol name"));
}

TensorSpec parseTensor(const Json &value, const std::string &where, bool isOutput) {
  TensorSpec spec;
  spec.name = value.at("name", where.c_str()).asString("a tensor name");
  std::string here = where + " '" + spec.name + "'";
  spec.dtype = parseDtype(value.at("dtype", here.c_str()), here);
  const auto &dims = value.at("shape", here.c_str()).asArray("a shape");
  if (dims.size() > 16)
    fail(here + ": rank " + std::to_string(dims.size()) + " is above 16");
  for (const Json &dim : dims)
    spec.shape.push_back(parseDim(dim, here, isOutput));
  return spec;
}

uint64_t checkedWeightBytes(const WeightSpec &weight) {
  uint64_t count = 1;
  for (int64_t d : weight.shape) {
    if (d < 0)
      fail("weight '" + weight.name + "': negative dim");
    if (d != 0 && count > (uint64_t(1) << 56) / static_cast<uint64_t>(d))
      fail("weight '" + weight.name + "': shape too large");
    count *= static_cast<uint64_t>(d);
  }
  return count * elementSize(weight.dtype);
}

Json dimJson(const DimExpr &dim) {
  if (dim.isStatic())
    return Json(dim.constant);
  std::string symbol = dim.symbolName();
  if (!symbol.empty())
    return Json(symbol);
  Json object = Json::object();
  object.set("add", Json(dim.constant));
  Json terms = Json::object();
  for (const auto &[name, coefficient] : dim.terms)
    terms.set(name, Json(coefficient));
  object.set("terms", terms);
  return object;
}

Json tensorJson(const TensorSpec &spec) {
  Json object = Json::object();
  object.set("name", Json(spec.name));
  object.set("dtype", Json(elementTypeName(spec.dtype)));
  Json shape = Json::array();
  for (const DimExpr &dim : spec.shape)
    shape.push(dimJson(dim));
  object.set("shape", shape);
  return object;
}

std::vector<std::string> stringList(const Json &value, const char *what) {
  std::vector<std::string> out;
  for (const Json &item : value.asArray(what))
    out.push_back(item.asString(what));
  return out;
}

} // namespace

Manifest parseManifest(const std::string &json, uint64_t weightsSectionSize) {
  Json root = Json::parse(json);
  if (!root.isObject())
    fail("the top level must be an object");
  Manifest manifest;
  int64_t version = root.at("format_version", "the manifest").asInt("format_version");
  if (version < kMinModelFormatVersion || version > kModelFormatVersion)
    fail("format_version " + std::to_string(version) + " is not supported");
  manifest.formatVersion = static_cast<uint32_t>(version);
  if (const Json *producer = root.get("producer"))
    manifest.producer = producer->asString("producer");

  if (const Json *weights = root.get("weights")) {
    std::set<std::string> names;
    for (const Json &value : weights->asArray("weights")) {
      WeightSpec weight;
      weight.name = value.at("name", "a weight").asString("a weight name");
      std::string where = "weight '" + weight.name + "'";
      if (weight.name.empty() || !names.insert(weight.name).second)
        fail(where + ": empty or duplicate name");
      weight.dtype = parseDtype(value.at("dtype", where.c_str()), where);
      for (const Json &dim : value.at("shape", where.c_str()).asArray("a shape"))
        weight.shape.push_back(dim.asInt("a weight dim"));
      if (weight.shape.size() > 16)
        fail(where + ": rank above 16");
      int64_t offset = value.at("offset", where.c_str()).asInt("a weight offset");
      int64_t size = value.at("size", where.c_str()).asInt("a weight size");
      if (offset < 0 || size < 0)
        fail(where + ": negative offset or size");
      weight.offset = static_cast<uint64_t>(offset);
      weight.size = static_cast<uint64_t>(size);
      if (weight.offset % kModelWeightAlignment != 0)
        fail(where + ": offset " + std::to_string(offset) + " is not a multiple of " +
             std::to_string(kModelWeightAlignment));
      if (weight.size != checkedWeightBytes(weight))
        fail(where + ": size " + std::to_string(size) + " does not match its shape");
      if (weight.offset > weightsSectionSize ||
          weight.size > weightsSectionSize - weight.offset)
        fail(where + " lies outside the weights section (" +
             std::to_string(weightsSectionSize) + " bytes)");
      manifest.weights.push_back(std::move(weight));
    }
  }

  const auto &entries = root.at("entries", "the manifest").asArray("entries");
  if (entries.empty())
    fail("no entries");
  std::set<std::string> entryNames;
  for (const Json &value : entries) {
    EntrySpec entry;
    entry.name = value.at("name", "an entry").asString("an entry name");
    if (!isIdentifier(entry.name) || !entryNames.insert(entry.name).second)
      fail("entry '" + entry.name + "': invalid or duplicate name");
    std::string where = "entry '" + entry.name + "'";
    std::map<std::string, int> bound;
    std::set<std::string> tensorNames;
    for (const Json &input : value.at("inputs", where.c_str()).asArray("inputs")) {
      entry.inputs.push_back(parseTensor(input, where + " input", false));
      for (const DimExpr &dim : entry.inputs.back().shape)
        if (!dim.isStatic())
          bound[dim.symbolName()] = 1;
    }
    for (const Json &output : value.at("outputs", where.c_str()).asArray("outputs")) {
      entry.outputs.push_back(parseTensor(output, where + " output", true));
      for (const DimExpr &dim : entry.outputs.back().shape)
        for (const auto &term : dim.terms)
          if (!bound.count(term.first))
            fail(where + " output '" + entry.outputs.back().name + "': symbol '" +
                 term.first + "' is not bound by any input");
    }
    if (entry.outputs.empty())
      fail(where + ": no outputs");
    for (const TensorSpec &spec : entry.inputs)
      if (!tensorNames.insert(spec.name).second)
        fail(where + ": duplicate input name '" + spec.name + "'");
    if (const Json *weights = value.get("weights"))
      entry.weights = stringList(*weights, "an entry's weights");
    for (const std::string &name : entry.weights)
      if (!manifest.findWeight(name))
        fail(where + ": unknown weight '" + name + "'");
    manifest.entries.push_back(std::move(entry));
  }

  if (const Json *artifacts = root.get("artifacts")) {
    std::set<std::string> targets;
    for (const Json &value : artifacts->asArray("artifacts")) {
      ArtifactSpec artifact;
      artifact.target = value.at("target", "an artifact").asString("an artifact target");
      std::string where = "artifact '" + artifact.target + "'";
      if (artifact.target.empty() || !targets.insert(artifact.target).second)
        fail(where + ": empty or duplicate target");
      artifact.format = value.at("format", where.c_str()).asString("format");
      artifact.section = value.at("section", where.c_str()).asString("section");
      artifact.checksum = value.at("checksum", where.c_str()).asString("checksum");
      if (const Json *triple = value.get("triple"))
        artifact.triple = triple->asString("triple");
      if (const Json *cpu = value.get("cpu"))
        artifact.cpu = cpu->asString("cpu");
      if (const Json *features = value.get("features"))
        artifact.features = stringList(*features, "features");
      if (const Json *symbols = value.get("entry_symbols")) {
        if (!symbols->isObject())
          fail(where + ": entry_symbols must be an object");
        for (const auto &[entry, symbol] : symbols->members())
          artifact.entrySymbols[entry] = symbol.asString("an entry symbol");
      }
      if (const Json *slots = value.get("runtime_slots"))
        artifact.runtimeSlots = stringList(*slots, "runtime_slots");
      artifact.extra = value;
      manifest.artifacts.push_back(std::move(artifact));
    }
  }
  if (const Json *libraries = root.get("custom_op_libraries")) {
    if (manifest.formatVersion < 3)
      fail("custom_op_libraries needs format_version 3");
    std::set<std::string> names;
    for (const Json &value : libraries->asArray("custom_op_libraries")) {
      CustomOpLibrarySpec library;
      library.name = value.at("name", "a custom op library").asString("a library name");
      std::string where = "custom op library '" + library.name + "'";
      if (library.name.empty() || library.name.size() > 255 ||
          library.name.find('/') != std::string::npos || library.name[0] == '.' ||
          !names.insert(library.name).second)
        fail(where + ": the name must be a unique file name (no '/', not "
                     "starting with '.')");
      library.blake2b = value.at("blake2b", where.c_str()).asString("blake2b");
      if (library.blake2b.size() != 64 ||
          library.blake2b.find_first_not_of("0123456789abcdef") != std::string::npos)
        fail(where + ": blake2b must be 64 lowercase hex digits");
      library.ops = stringList(value.at("ops", where.c_str()), "ops");
      manifest.customOpLibraries.push_back(std::move(library));
    }
  }
  return manifest;
}

std::string serializeManifest(const Manifest &manifest) {
  Json root = Json::object();
  root.set("format_version", Json(static_cast<int64_t>(manifest.formatVersion)));
  root.set("producer", Json(manifest.producer));
  Json entries = Json::array();
  for (const EntrySpec &entry : manifest.entries) {
    Json object = Json::object();
    object.set("name", Json(entry.name));
    Json inputs = Json::array(), outputs = Json::array(), weights = Json::array();
    for (const TensorSpec &spec : entry.inputs)
      inputs.push(tensorJson(spec));
    for (const TensorSpec &spec : entry.outputs)
      outputs.push(tensorJson(spec));
    for (const std::string &name : entry.weights)
      weights.push(Json(name));
    object.set("inputs", inputs);
    object.set("outputs", outputs);
    object.set("weights", weights);
    entries.push(object);
  }
  root.set("entries", entries);
  Json weights = Json::array();
  for (const WeightSpec &weight : manifest.weights) {
    Json object = Json::object();
    object.set("name", Json(weight.name));
    object.set("dtype", Json(elementTypeName(weight.dtype)));
    Json shape = Json::array();
    for (int64_t d : weight.shape)
      shape.push(Json(d));
    object.set("shape", shape);
    object.set("offset", Json(weight.offset));
    object.set("size", Json(weight.size));
    weights.push(object);
  }
  root.set("weights", weights);
  Json artifacts = Json::array();
  for (const ArtifactSpec &artifact : manifest.artifacts) {
    // Start from what was read (keeps keys this build does not know, such
    // as GPU launch metadata), then write the known fields over it.
    Json object = artifact.extra.isObject() ? artifact.extra : Json::object();
    object.set("target", Json(artifact.target));
    object.set("format", Json(artifact.format));
    object.set("section", Json(artifact.section));
    object.set("checksum", Json(artifact.checksum));
    object.set("triple", Json(artifact.triple));
    object.set("cpu", Json(artifact.cpu));
    Json features = Json::array();
    for (const std::string &feature : artifact.features)
      features.push(Json(feature));
    object.set("features", features);
    Json symbols = Json::object();
    for (const auto &[entry, symbol] : artifact.entrySymbols)
      symbols.set(entry, Json(symbol));
    object.set("entry_symbols", symbols);
    Json slots = Json::array();
    for (const std::string &slot : artifact.runtimeSlots)
      slots.push(Json(slot));
    object.set("runtime_slots", slots);
    artifacts.push(object);
  }
  root.set("artifacts", artifacts);
  if (!manifest.customOpLibraries.empty()) {
    Json libraries = Json::array();
    for (const CustomOpLibrarySpec &library : manifest.customOpLibraries) {
      Json object = Json::object();
      object.set("name", Json(library.name));
      object.set("blake2b", Json(library.blake2b));
      Json ops = Json::array();
      for (const std::string &op : library.ops)
        ops.push(Json(op));
      object.set("ops", ops);
      libraries.push(object);
    }
    root.set("custom_op_libraries", libraries);
  }
  return root.dump(true) + "\n";
}

bool hostSupportsCpuFeature(const std::string &name) {
  // __builtin_cpu_supports needs a literal per feature.
#define EMBER_FEATURE(llvmName, gccName)                                       \
  if (name == llvmName)                                                        \
    return __builtin_cpu_supports(gccName);
  __builtin_cpu_init();
  EMBER_FEATURE("sse4.2", "sse4.2")
  EMBER_FEATURE("avx", "avx")
  EMBER_FEATURE("avx2", "avx2")
  EMBER_FEATURE("fma", "fma")
  EMBER_FEATURE("f16c", "f16c")
  EMBER_FEATURE("bmi", "bmi")
  EMBER_FEATURE("bmi2", "bmi2")
  EMBER_FEATURE("avx512f", "avx512f")
  EMBER_FEATURE("avx512bw", "avx512bw")
  EMBER_FEATURE("avx512cd", "avx512cd")
  EMBER_FEATURE("avx512dq", "avx512dq")
  EMBER_FEATURE("avx512vl", "avx512vl")
  EMBER_FEATURE("avx512vnni", "avx512vnni")
  EMBER_FEATURE("avx512bf16", "avx512bf16")
#undef EMBER_FEATURE
  return false;
}

} // namespace ember
