//===- ModelProgram.cpp - parse a model's program, check it against its manifest

#include "ember/Compiler/ModelProgram.h"
#include "ember/Compiler/Diagnostics.h"
#include "ember/Compiler/ProgramBytecode.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace ember {

Type toMlirType(ElementType type, MLIRContext *context) {
  Builder b(context);
  switch (type) {
  case ElementType::Bool:
    return b.getI1Type();
  case ElementType::Int32:
    return b.getI32Type();
  case ElementType::Int64:
    return b.getI64Type();
  case ElementType::Float16:
    return b.getF16Type();
  case ElementType::BFloat16:
    return b.getBF16Type();
  case ElementType::Float32:
    return b.getF32Type();
  case ElementType::Float64:
    return b.getF64Type();
  }
  return {};
}

namespace {

/// `text` with bytes outside printable ASCII escaped (\xNN): messages quote
/// names from the file, which need not be UTF-8 (Python would refuse them).
std::string printable(llvm::StringRef text) {
  std::string result;
  for (unsigned char c : text) {
    if (c == '\n' || (c >= 0x20 && c < 0x7f)) {
      result += char(c);
      continue;
    }
    static const char kHex[] = "0123456789abcdef";
    result += "\\x";
    result += kHex[c >> 4];
    result += kHex[c & 15];
  }
  return result;
}

} // namespace

OwningOpRef<ModuleOp> parseModelProgram(llvm::StringRef program,
                                        MLIRContext *context,
                                        std::string *error) {
  // A model file comes from anywhere and MLIR's bytecode reader trusts its
  // input (ProgramBytecode.h): only bytecode that passes the check reaches it.
  std::string problem;
  if (!isMlirBytecode(program)) {
    if (error)
      *error = "the program section is malformed: it is not MLIR bytecode";
    return nullptr;
  }
  if (!checkProgramBytecode(program, context, &problem)) {
    if (error)
      *error = "the program section is malformed (MLIR bytecode): " +
               printable(problem);
    return nullptr;
  }
  DiagnosticCollector collector(context, {/*remarks=*/true, /*notes=*/false,
                                          /*mlirLocations=*/true});
  const std::string &diagnostics = collector.text();
  ParserConfig config(context);
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(program, config, "program");
  if (!module && error)
    *error = "the program section is malformed (MLIR bytecode): " +
             (diagnostics.empty() ? std::string("unknown error")
                                  : printable(diagnostics));
  return module;
}

namespace {

/// "[batch, 8]" for a manifest shape, to print next to MLIR's type.
std::string describe(const std::vector<DimExpr> &shape, ElementType dtype) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + shape[i].str();
  return text + "] " + elementTypeName(dtype);
}

std::string printType(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << type;
  return text;
}

/// Whether `type` can hold every tensor of `shape` x `dtype`: same element
/// type and rank; a static manifest dim matches an equal or dynamic program
/// dim, a symbolic one only a dynamic program dim.
bool fits(Type type, const std::vector<DimExpr> &shape, ElementType dtype) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || tensor.getElementType() != toMlirType(dtype, type.getContext()) ||
      tensor.getRank() != static_cast<int64_t>(shape.size()))
    return false;
  for (size_t i = 0; i < shape.size(); ++i) {
    int64_t dim = tensor.getDimSize(i);
    if (ShapedType::isDynamic(dim))
      continue;
    if (!shape[i].isStatic() || shape[i].constant != dim)
      return false;
  }
  return true;
}

LogicalResult checkEntry(ModuleOp module, const EntrySpec &entry,
                         const Manifest &manifest, std::string *error) {
  auto fail = [&](const std::string &message) {
    if (error)
      *error = "entry '" + entry.name + "': " + message;
    return failure();
  };
  auto func = module.lookupSymbol<func::FuncOp>(entry.name);
  if (!func || !func.isPublic() || func.isExternal())
    return fail("the program has no public function '" + entry.name + "'");
  FunctionType type = func.getFunctionType();
  size_t expected = entry.inputs.size() + entry.weights.size();
  if (type.getNumInputs() != expected)
    return fail("the program's function takes " +
                std::to_string(type.getNumInputs()) +
                " arguments, the manifest lists " +
                std::to_string(entry.inputs.size()) + " inputs and " +
                std::to_string(entry.weights.size()) + " weights");
  if (type.getNumResults() != entry.outputs.size())
    return fail("the program's function returns " +
                std::to_string(type.getNumResults()) +
                " results, the manifest lists " +
                std::to_string(entry.outputs.size()) + " outputs");
  auto mismatch = [&](const std::string &what, const std::string &name,
                      const std::string &spec, Type actual) {
    return fail(what + " '" + name + "' is " + spec + " in the manifest but " +
                printType(actual) + " in the program");
  };
  for (size_t i = 0; i < entry.inputs.size(); ++i) {
    const TensorSpec &input = entry.inputs[i];
    if (!fits(type.getInput(i), input.shape, input.dtype))
      return mismatch("input", input.name, describe(input.shape, input.dtype),
                      type.getInput(i));
  }
  for (size_t i = 0; i < entry.weights.size(); ++i) {
    const WeightSpec *weight = manifest.findWeight(entry.weights[i]);
    if (!weight)
      return fail("weight '" + entry.weights[i] + "' is not in the manifest");
    std::vector<DimExpr> shape;
    for (int64_t dim : weight->shape)
      shape.push_back(DimExpr::fixed(dim));
    Type actual = type.getInput(entry.inputs.size() + i);
    if (!fits(actual, shape, weight->dtype))
      return mismatch("weight", weight->name, describe(shape, weight->dtype),
                      actual);
  }
  for (size_t i = 0; i < entry.outputs.size(); ++i) {
    // An output dim may be an affine expression of symbols: only its
    // dtype, rank and static dims can be checked here.
    const TensorSpec &output = entry.outputs[i];
    if (!fits(type.getResult(i), output.shape, output.dtype))
      return mismatch("output", output.name,
                      describe(output.shape, output.dtype), type.getResult(i));
  }
  return success();
}

} // namespace

LogicalResult checkModelEntries(ModuleOp module, const Manifest &manifest,
                                std::string *error) {
  if (manifest.entries.empty()) {
    if (error)
      *error = "the manifest lists no entries";
    return failure();
  }
  for (const EntrySpec &entry : manifest.entries)
    if (failed(checkEntry(module, entry, manifest, error)))
      return failure();
  return success();
}

OwningOpRef<ModuleOp> loadModelProgram(const ModelFile &file,
                                       const Manifest &manifest,
                                       MLIRContext *context,
                                       std::string *error) {
  const SectionView *program = file.find("program");
  if (!program) {
    if (error)
      *error = "the file has no program section";
    return nullptr;
  }
  OwningOpRef<ModuleOp> module = parseModelProgram(
      llvm::StringRef(reinterpret_cast<const char *>(program->data),
                      program->size),
      context, error);
  if (!module || failed(checkModelEntries(*module, manifest, error)))
    return nullptr;
  return module;
}

} // namespace ember
