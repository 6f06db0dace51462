//===- ArtifactAbi.cpp - a native artifact's ABI record, and checking it ----===//

#include "ember/Runtime/ArtifactAbi.h"
#include "ember/Runtime/ModelFile.h"

#include <algorithm>
#include <set>

namespace ember {
namespace {

constexpr char kPackedPrefix[] = "_mlir__mlir_ciface_ember_entry_";

Json tensorJson(const AbiTensor &tensor) {
  Json object = Json::object();
  object.set("dtype", elementTypeName(tensor.dtype));
  Json shape = Json::array();
  for (int64_t dim : tensor.shape)
    shape.push(dim);
  object.set("shape", std::move(shape));
  return object;
}

AbiTensor parseTensor(const Json &json) {
  AbiTensor tensor;
  if (!parseElementType(json.at("dtype", "an ABI tensor").asString("dtype"),
                        &tensor.dtype))
    throw ModelError("the ABI record names an unknown dtype");
  const std::vector<Json> &shape = json.at("shape", "an ABI tensor").asArray("shape");
  if (shape.size() > 16)
    throw ModelError("the ABI record has a tensor of rank over 16");
  for (const Json &dim : shape) {
    int64_t size = dim.asInt("a dim");
    if (size < -1)
      throw ModelError("the ABI record has a negative dim");
    tensor.shape.push_back(size);
  }
  return tensor;
}

std::string describe(const AbiTensor &tensor) {
  std::string text = "[";
  for (size_t i = 0; i < tensor.shape.size(); ++i)
    text += (i ? ", " : "") +
            (tensor.shape[i] < 0 ? std::string("?") : std::to_string(tensor.shape[i]));
  return text + "] " + elementTypeName(tensor.dtype);
}

/// Whether every tensor `dims` describes fits the code's `tensor`: same
/// dtype and rank, and each static dim of the code equal to a static dim
/// of the manifest (a symbolic manifest dim needs a dynamic code dim).
bool fits(const AbiTensor &tensor, ElementType dtype, const std::vector<DimExpr> &dims) {
  if (tensor.dtype != dtype || tensor.shape.size() != dims.size())
    return false;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (tensor.shape[i] < 0)
      continue;
    if (!dims[i].isStatic() || dims[i].constant != tensor.shape[i])
      return false;
  }
  return true;
}

} // namespace

std::string packedEntrySymbol(const std::string &entry) { return kPackedPrefix + entry; }

std::string packedShapeSymbol(const std::string &entry) {
  return kPackedPrefix + entry + ".shapes";
}

std::string ArtifactAbi::serialize() const {
  Json root = Json::object();
  root.set("abi_version", kVersion);
  root.set("program", program);
  Json slots = Json::array();
  for (const std::string &slot : runtimeSlots)
    slots.push(slot);
  root.set("runtime_slots", std::move(slots));
  Json list = Json::array();
  for (const AbiEntry &entry : entries) {
    Json object = Json::object();
    object.set("name", entry.name);
    object.set("symbol", entry.symbol);
    object.set("shape_symbol", entry.shapeSymbol);
    Json weights = Json::array(), arguments = Json::array(), outputs = Json::array();
    for (const std::string &weight : entry.weights)
      weights.push(weight);
    object.set("weights", std::move(weights));
    for (const AbiTensor &tensor : entry.arguments)
      arguments.push(tensorJson(tensor));
    for (const AbiTensor &tensor : entry.outputs)
      outputs.push(tensorJson(tensor));
    object.set("arguments", std::move(arguments));
    object.set("outputs", std::move(outputs));
    list.push(std::move(object));
  }
  root.set("entries", std::move(list));
  return root.dump();
}

ArtifactAbi ArtifactAbi::parse(const std::string &text) {
  Json root = Json::parse(text);
  if (root.at("abi_version", "the ABI record").asInt("abi_version") != kVersion)
    throw ModelError("the ABI record has an unknown version (compiled by another "
                     "Ember? run ember-compile again)");
  ArtifactAbi abi;
  abi.program = root.at("program", "the ABI record").asString("program");
  for (const Json &slot : root.at("runtime_slots", "the ABI record").asArray("runtime_slots"))
    abi.runtimeSlots.push_back(slot.asString("a runtime slot"));
  for (const Json &json : root.at("entries", "the ABI record").asArray("entries")) {
    AbiEntry entry;
    entry.name = json.at("name", "an ABI entry").asString("name");
    entry.symbol = json.at("symbol", "an ABI entry").asString("symbol");
    entry.shapeSymbol = json.at("shape_symbol", "an ABI entry").asString("shape_symbol");
    for (const Json &weight : json.at("weights", "an ABI entry").asArray("weights"))
      entry.weights.push_back(weight.asString("a weight name"));
    for (const Json &tensor : json.at("arguments", "an ABI entry").asArray("arguments"))
      entry.arguments.push_back(parseTensor(tensor));
    for (const Json &tensor : json.at("outputs", "an ABI entry").asArray("outputs"))
      entry.outputs.push_back(parseTensor(tensor));
    abi.entries.push_back(std::move(entry));
  }
  return abi;
}

const AbiEntry *ArtifactAbi::findEntry(const std::string &name) const {
  for (const AbiEntry &entry : entries)
    if (entry.name == name)
      return &entry;
  return nullptr;
}

void checkArtifactAbi(const ArtifactAbi &abi, const Manifest &manifest,
                      const ArtifactSpec &artifact, uint64_t programChecksum) {
  auto fail = [](const std::string &what) -> void { throw ModelError(what); };
  if (abi.program != checksumHex(programChecksum))
    fail("the code was compiled from another program (its record names program " +
         abi.program + ", the file's is " + checksumHex(programChecksum) + ")");
  for (const EntrySpec &entry : manifest.entries) {
    const AbiEntry *code = abi.findEntry(entry.name);
    if (!code)
      fail("the code has no entry '" + entry.name + "'");
    auto where = [&](const std::string &what) { return "entry '" + entry.name + "': " + what; };
    auto symbol = artifact.entrySymbols.find(entry.name);
    if (symbol == artifact.entrySymbols.end() || symbol->second != code->symbol ||
        code->symbol != packedEntrySymbol(entry.name) ||
        code->shapeSymbol != packedShapeSymbol(entry.name))
      fail(where("the entry symbol is not the code's (" + packedEntrySymbol(entry.name) + ")"));
    size_t arguments = entry.inputs.size() + entry.weights.size();
    if (code->arguments.size() != arguments)
      fail(where("the code takes " + std::to_string(code->arguments.size()) +
                 " arguments, the manifest lists " + std::to_string(entry.inputs.size()) +
                 " inputs and " + std::to_string(entry.weights.size()) + " weights"));
    if (code->weights != entry.weights)
      fail(where("the manifest lists other weights, or in another order, than the "
                 "code was compiled with"));
    for (size_t i = 0; i < entry.inputs.size(); ++i)
      if (!fits(code->arguments[i], entry.inputs[i].dtype, entry.inputs[i].shape))
        fail(where("input '" + entry.inputs[i].name + "' is " + entry.inputs[i].str() +
                   " in the manifest but " + describe(code->arguments[i]) + " in the code"));
    for (size_t i = 0; i < entry.weights.size(); ++i) {
      const WeightSpec *weight = manifest.findWeight(entry.weights[i]);
      const AbiTensor &expected = code->arguments[entry.inputs.size() + i];
      bool same = weight && weight->dtype == expected.dtype &&
                  weight->shape == expected.shape;
      if (!same)
        fail(where("weight " + std::to_string(i) + " ('" + entry.weights[i] +
                   "') does not have the code's " + describe(expected)));
    }
    if (code->outputs.size() != entry.outputs.size())
      fail(where("the code returns " + std::to_string(code->outputs.size()) +
                 " outputs, the manifest lists " + std::to_string(entry.outputs.size())));
    for (size_t i = 0; i < entry.outputs.size(); ++i)
      if (!fits(code->outputs[i], entry.outputs[i].dtype, entry.outputs[i].shape))
        fail(where("output '" + entry.outputs[i].name + "' is " + entry.outputs[i].str() +
                   " in the manifest but " + describe(code->outputs[i]) + " in the code"));
  }
  std::set<std::string> declared(artifact.runtimeSlots.begin(), artifact.runtimeSlots.end());
  std::set<std::string> used(abi.runtimeSlots.begin(), abi.runtimeSlots.end());
  if (declared != used)
    fail("the manifest's runtime_slots differ from the code's");
}

} // namespace ember
