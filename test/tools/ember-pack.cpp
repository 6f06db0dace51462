//===- ember-pack.cpp - make .ember files from MLIR text (tests only) ------===//
//
// Lets lit tests build model files without Python:
//
//   ember-pack program.mlir -o model.ember --entry forward \
//       --input x:float32:batch,8 --output y:float32:batch,4 \
//       --weight w:float32:8,4 [--weight b:float32:4 ...]
//
// Weights are filled deterministically (a sine of the element index, so
// runs can be compared) in the listed order. The program is stored as MLIR
// bytecode, as the Python exporter stores it.
//
//   ember-pack --from model.ember --artifact-checksum 0123456789abcdef -o bad.ember
//
// rewrites the manifest of an existing file (every section checksum stays
// valid), to test that the runtime refuses native code whose manifest
// checksum does not match.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/CpuCompiler.h"
#include "ember/Runtime/Manifest.h"
#include "ember/Runtime/ModelFile.h"
#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstring>

namespace cl = llvm::cl;

static cl::opt<std::string> programPath(cl::Positional, cl::init(""),
                                        cl::desc("<program.mlir>"));
static cl::opt<std::string> outputPath("o", cl::Required,
                                       cl::desc("Output .ember file"));
static cl::opt<std::string> entryName("entry", cl::init("forward"),
                                      cl::desc("Entry (public function)"));
static cl::list<std::string> inputSpecs("input",
                                        cl::desc("name:dtype:dim,dim,..."));
static cl::list<std::string> outputSpecs("output",
                                         cl::desc("name:dtype:dim,dim,..."));
static cl::list<std::string> weightSpecs("weight",
                                         cl::desc("name:dtype:dim,dim,..."));
static cl::opt<std::string> fromPath("from",
                                     cl::desc("Edit this .ember file instead"));
static cl::opt<std::string>
    artifactChecksum("artifact-checksum",
                     cl::desc("With --from: the manifest checksum to give "
                              "every artifact"));

namespace {

[[noreturn]] void die(const std::string &message) {
  llvm::errs() << "ember-pack: error: " << message << "\n";
  std::exit(1);
}

struct Spec {
  std::string name;
  ember::ElementType dtype;
  std::vector<ember::DimExpr> dims;
};

/// "x:float32:batch,8"; a scalar is "s:float32:".
Spec parseSpec(llvm::StringRef text) {
  llvm::SmallVector<llvm::StringRef> parts;
  text.split(parts, ':');
  Spec spec;
  if (parts.size() != 3 || parts[0].empty() ||
      !ember::parseElementType(parts[1].str(), &spec.dtype))
    die("bad tensor spec '" + text.str() + "' (want name:dtype:dim,dim)");
  spec.name = parts[0].str();
  llvm::SmallVector<llvm::StringRef> dims;
  parts[2].split(dims, ',', -1, /*KeepEmpty=*/false);
  for (llvm::StringRef dim : dims) {
    int64_t value;
    if (!dim.getAsInteger(10, value))
      spec.dims.push_back(ember::DimExpr::fixed(value));
    else
      spec.dims.push_back(ember::DimExpr::symbol(dim.str()));
  }
  return spec;
}

/// Deterministic contents: small values, different for each weight.
void fill(uint8_t *data, ember::ElementType dtype, int64_t count, int seed) {
  for (int64_t i = 0; i < count; ++i) {
    double value = 0.5 * std::sin(0.7 * i + 1.3 * seed + 0.1);
    switch (dtype) {
    case ember::ElementType::Float32:
      reinterpret_cast<float *>(data)[i] = static_cast<float>(value);
      break;
    case ember::ElementType::Float64:
      reinterpret_cast<double *>(data)[i] = value;
      break;
    case ember::ElementType::Int32:
      reinterpret_cast<int32_t *>(data)[i] = static_cast<int32_t>((i * 7 + seed) % 11) - 5;
      break;
    case ember::ElementType::Int64:
      reinterpret_cast<int64_t *>(data)[i] = (i * 7 + seed) % 11 - 5;
      break;
    case ember::ElementType::Bool:
      data[i] = (i + seed) % 3 == 0;
      break;
    default:
      die("ember-pack fills only float32, float64, int32, int64 and bool "
          "weights");
    }
  }
}

std::vector<uint8_t> toBytes(const std::string &text) {
  return std::vector<uint8_t>(text.begin(), text.end());
}

/// --from: rewrite the manifest, keep every other section.
void editModel() {
  std::shared_ptr<ember::ModelFile> file = ember::ModelFile::open(fromPath);
  const ember::SectionView *weights = file->find("weights");
  ember::Manifest manifest =
      ember::parseManifest(file->manifestText(), weights ? weights->size : 0);
  if (!artifactChecksum.empty())
    for (ember::ArtifactSpec &artifact : manifest.artifacts)
      artifact.checksum = artifactChecksum;
  std::vector<ember::SectionData> sections;
  for (const ember::SectionView &section : file->sections())
    sections.push_back(
        {section.kind, section.name,
         section.kind == ember::SectionKind::Manifest
             ? toBytes(ember::serializeManifest(manifest))
             : std::vector<uint8_t>(section.data, section.data + section.size)});
  std::vector<uint8_t> image = ember::buildModelImage(sections);
  ember::writeFileAtomically(outputPath, image.data(), image.size());
}

void packModel() {
  if (programPath.empty())
    die("no program given");
  mlir::DialectRegistry registry;
  ember::registerCompilerDialects(registry);
  mlir::MLIRContext context(registry);
  llvm::SourceMgr sourceMgr;
  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(programPath);
  if (!buffer)
    die("cannot read " + programPath);
  sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr, &context);
  if (!module)
    die("cannot parse " + programPath);
  std::string program;
  llvm::raw_string_ostream os(program);
  if (mlir::failed(mlir::writeBytecodeToFile(*module, os)))
    die("cannot write bytecode");

  ember::Manifest manifest;
  manifest.producer = "ember-pack";
  ember::EntrySpec entry;
  entry.name = entryName;
  for (const std::string &text : inputSpecs) {
    Spec spec = parseSpec(text);
    entry.inputs.push_back({spec.name, spec.dtype, spec.dims});
  }
  for (const std::string &text : outputSpecs) {
    Spec spec = parseSpec(text);
    entry.outputs.push_back({spec.name, spec.dtype, spec.dims});
  }
  std::vector<uint8_t> weightBytes;
  int seed = 0;
  for (const std::string &text : weightSpecs) {
    Spec spec = parseSpec(text);
    ember::WeightSpec weight;
    weight.name = spec.name;
    weight.dtype = spec.dtype;
    int64_t count = 1;
    for (const ember::DimExpr &dim : spec.dims) {
      if (!dim.isStatic())
        die("weight '" + spec.name + "' needs static dims");
      weight.shape.push_back(dim.constant);
      count *= dim.constant;
    }
    weight.offset = (weightBytes.size() + ember::kModelWeightAlignment - 1) /
                    ember::kModelWeightAlignment * ember::kModelWeightAlignment;
    weight.size = count * ember::elementSize(spec.dtype);
    weightBytes.resize(weight.offset + weight.size);
    fill(weightBytes.data() + weight.offset, spec.dtype, count, seed++);
    entry.weights.push_back(weight.name);
    manifest.weights.push_back(weight);
  }
  manifest.entries.push_back(entry);

  std::vector<ember::SectionData> sections;
  sections.push_back({ember::SectionKind::Manifest, "manifest",
                      toBytes(ember::serializeManifest(manifest))});
  sections.push_back({ember::SectionKind::Program, "program", toBytes(program)});
  if (!weightBytes.empty())
    sections.push_back(
        {ember::SectionKind::Weights, "weights", std::move(weightBytes)});
  std::vector<uint8_t> image = ember::buildModelImage(sections);
  ember::writeFileAtomically(outputPath, image.data(), image.size());
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv, "ember-pack: test models from MLIR\n");
  try {
    if (!fromPath.empty())
      editModel();
    else
      packModel();
  } catch (const ember::ModelError &e) {
    die(e.what());
  }
  return 0;
}
