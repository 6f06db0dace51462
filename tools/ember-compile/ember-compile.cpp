//===- ember-compile.cpp - add native code to a .ember model file ----------===//
//
//   ember-compile model.ember --target cpu -o model.cpu.ember [--cpu NAME]
//                 [--sign KEY.key]
//   ember-compile --generate-key NAME       (writes NAME.key and NAME.pub)
//   ember-compile program.mlir --target cuda:sm_90 --emit-kernels DIR
//
// Reads a model file, compiles its portable program for each target, and
// writes a new file with every section kept and one artifact section per
// target (replacing an older one), the manifest's artifact list updated.
// The output is written atomically, so the input may be the output.
//
// --emit-kernels compiles an ember program (.mlir) for one GPU target and
// writes what a GPU artifact packs as loose files, for inspection and
// validation (ptxas, llvm-readelf, spirv-val): one binary per kernel
// (<kernel>.ptx [+ .cubin], .hsaco or .spv), kernels.json (launch metadata:
// block size and arguments per kernel), host.mlir (the host side:
// allocations and launches in order) and plan.json (the same host side as
// the runtime's launch plan), printing a line per kernel.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/AotCompiler.h"
#include "ember/Compiler/CpuCompiler.h"
#include "ember/Compiler/GpuCompiler.h"
#include "ember/Compiler/ModelProgram.h"
#include "ember/Runtime/Manifest.h"
#include "ember/Runtime/ModelFile.h"
#include "ember/Runtime/Signature.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstdio>
#include <optional>

using namespace mlir;

namespace cl = llvm::cl;

static cl::OptionCategory category("ember-compile options");

static cl::opt<std::string> inputPath(cl::Positional, cl::Optional,
                                      cl::desc("<model.ember | program.mlir>"),
                                      cl::cat(category));
static cl::opt<std::string>
    targets("target", cl::init("cpu"), cl::value_desc("list"),
            cl::desc("Comma-separated targets to compile for: cpu (the "
                     "default), cuda:sm_XX, rocm:gfxNNN, level-zero, vulkan; "
                     "or none (keep the file's code, e.g. to sign it); one "
                     "GPU target with --emit-kernels"),
            cl::cat(category));
static cl::opt<std::string> outputPath("o", cl::Optional,
                                       cl::value_desc("out.ember"),
                                       cl::desc("Output model file (may be "
                                                "the input; written "
                                                "atomically)"),
                                       cl::cat(category));
static cl::opt<std::string>
    cpuName("cpu", cl::init("host"), cl::value_desc("name"),
            cl::desc("CPU to generate code for: 'host' (this machine, the "
                     "default) or an LLVM CPU name such as x86-64-v3 or "
                     "skylake-avx512; the runtime uses the code only on "
                     "hosts with every CPU feature it needs"),
            cl::cat(category));
static cl::opt<std::string>
    signKey("sign", cl::value_desc("KEY.key"),
            cl::desc("Sign the output with this secret key (Ed25519), so that "
                     "loaders that trust KEY.pub run its native code"),
            cl::cat(category));
static cl::opt<std::string>
    generateKey("generate-key", cl::value_desc("NAME"),
                cl::desc("Make a signing key pair: NAME.key (secret, mode "
                         "0600) and NAME.pub (give it to those who load your "
                         "models), then exit"),
                cl::cat(category));
static cl::opt<std::string>
    kernelsDir("emit-kernels", cl::value_desc("folder"),
               cl::desc("Compile an ember program (.mlir) for one GPU target "
                        "and write its kernel binaries, kernels.json, "
                        "host.mlir and plan.json into this folder (created) "
                        "instead of a model file"),
               cl::cat(category));
static cl::opt<bool> quiet("quiet", cl::desc("Print nothing but errors"),
                           cl::cat(category));

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// "812 B", "52.3 KB", "1.2 MB".
std::string megabytes(uint64_t bytes) {
  char text[32];
  if (bytes < 1000)
    std::snprintf(text, sizeof(text), "%llu B", static_cast<unsigned long long>(bytes));
  else if (bytes < 1000000)
    std::snprintf(text, sizeof(text), "%.1f KB", bytes / 1e3);
  else
    std::snprintf(text, sizeof(text), "%.1f MB", bytes / 1e6);
  return text;
}

std::string plural(size_t count, const char *one, const char *many) {
  return std::to_string(count) + " " + (count == 1 ? one : many);
}

int fail(const std::string &message) {
  llvm::errs() << "ember-compile: error: " << message << "\n";
  return 1;
}

void progress(const std::string &line) {
  if (!quiet)
    llvm::errs() << line << "\n";
}

/// Every target is checked before any work starts.
bool checkTarget(llvm::StringRef target, std::string *error) {
  if (target == "cpu")
    return true;
  ember::GpuTarget gpu;
  if (ember::GpuTarget::parse(target, &gpu, error))
    return true;
  *error = "unknown target '" + target.str() +
           "' (supported: cpu, cuda:sm_XX, rocm:gfxNNN, level-zero, vulkan)";
  return false;
}

bool writeFile(const llvm::Twine &path, llvm::StringRef bytes) {
  std::error_code ec;
  llvm::raw_fd_ostream out(path.str(), ec, llvm::sys::fs::OF_None);
  if (ec)
    return false;
  out << bytes;
  return true;
}

/// --emit-kernels: the kernels of one GPU target as loose files. Kernel lines
/// go to stdout, as they are the result rather than progress.
int emitKernels() {
  if (inputPath.empty())
    return fail("expected a program .mlir before --emit-kernels (see --help)");
  if (!outputPath.empty() || !signKey.empty())
    return fail("--emit-kernels writes a folder: -o and --sign are for model "
                "files");
  ember::GpuTarget target;
  std::string error;
  if (!ember::GpuTarget::parse(targets, &target, &error))
    return fail(error);

  DialectRegistry registry;
  ember::registerGpuCompilerDialects(registry);
  MLIRContext context(registry, MLIRContext::Threading::DISABLED);
  llvm::SourceMgr sources;
  OwningOpRef<ModuleOp> module =
      parseSourceFile<ModuleOp>(inputPath, sources, &context);
  if (!module)
    return fail("cannot parse '" + inputPath + "'");

  ember::GpuProgram program;
  if (!ember::compileForGpu(*module, target, &program, &error))
    return fail(inputPath + ": cannot compile for " + target.str() + ":\n" + error);

  if (std::error_code ec = llvm::sys::fs::create_directories(kernelsDir))
    return fail("cannot create '" + kernelsDir + "': " + ec.message());
  std::string extension = target.binaryFormat() == llvm::StringRef("spirv")
                              ? "spv"
                              : target.binaryFormat();
  for (size_t i = 0; i < program.kernels.size(); ++i) {
    const ember::gpu::KernelDescription &kernel = program.kernels[i];
    const std::string &cubin = program.cubins[i];
    llvm::SmallString<128> path(kernelsDir);
    llvm::sys::path::append(path, kernel.module + "." + extension);
    if (!writeFile(path, kernel.binary))
      return fail("cannot write '" + path.str().str() + "'");
    if (!cubin.empty()) {
      llvm::sys::path::replace_extension(path, "cubin");
      if (!writeFile(path, cubin))
        return fail("cannot write '" + path.str().str() + "'");
    }
    if (!quiet)
      llvm::outs() << kernel.module << ": " << kernel.name << ", block "
                   << kernel.block[0] << "x" << kernel.block[1] << "x"
                   << kernel.block[2] << ", " << kernel.params.size()
                   << " args, " << kernel.binary.size() << " bytes of "
                   << target.binaryFormat()
                   << (cubin.empty() ? "" : " + cubin") << "\n";
  }
  llvm::SmallString<128> metadata(kernelsDir), host(kernelsDir), plan(kernelsDir);
  llvm::sys::path::append(metadata, "kernels.json");
  llvm::sys::path::append(host, "host.mlir");
  llvm::sys::path::append(plan, "plan.json");
  if (!writeFile(metadata, ember::gpuProgramMetadata(program)) ||
      !writeFile(host, program.host) || !writeFile(plan, program.plan))
    return fail("cannot write into '" + kernelsDir + "'");
  if (!quiet)
    llvm::outs() << program.kernels.size() << " kernels for " << target.str()
                 << " in " << kernelsDir << "\n";
  return 0;
}

int run() {
  if (!kernelsDir.empty())
    return emitKernels();
  if (!generateKey.empty()) {
    ember::PublicKey key = ember::generateKeyPair(generateKey);
    progress("wrote " + generateKey + ".key (secret: keep it private) and " +
             generateKey + ".pub (key " + key.id() + ": trust it with "
             "EMBER_TRUSTED_KEYS=" + generateKey + ".pub)");
    return 0;
  }
  if (inputPath.empty() || outputPath.empty())
    return fail("expected a model file and -o OUT.ember (see --help)");
  // Read the key first: a bad key fails before minutes of compiling.
  std::optional<ember::SecretKey> secret;
  if (!signKey.empty())
    secret = ember::readSecretKey(signKey);
  llvm::SmallVector<llvm::StringRef> targetList;
  llvm::StringRef(targets).split(targetList, ',', -1, /*KeepEmpty=*/false);
  if (targetList.size() == 1 && targetList[0].trim() == "none")
    targetList.clear();
  else if (targetList.empty())
    return fail("--target is empty (supported: cpu, cuda:sm_XX, rocm:gfxNNN, "
                "level-zero, vulkan)");
  for (llvm::StringRef target : targetList) {
    std::string error;
    if (!checkTarget(target.trim(), &error))
      return fail(error);
  }
  const size_t stages = 2 + targetList.size() + 1;
  size_t stage = 0;
  auto step = [&] {
    return "[" + std::to_string(++stage) + "/" + std::to_string(stages) + "] ";
  };
  Clock::time_point start = Clock::now();

  // ModelErrors from the runtime already name the file.
  std::shared_ptr<ember::ModelFile> file = ember::ModelFile::open(inputPath);
  const ember::SectionView *weights = file->find("weights");
  ember::Manifest manifest =
      ember::parseManifest(file->manifestText(), weights ? weights->size : 0);
  progress(step() + "read " + inputPath + ": " +
           plural(manifest.entries.size(), "entry", "entries") +
           ", " + plural(manifest.weights.size(), "weight", "weights") + " (" +
           megabytes(weights ? weights->size : 0) + ")");

  Clock::time_point stageStart = Clock::now();
  DialectRegistry registry;
  ember::registerGpuCompilerDialects(registry);
  MLIRContext context(registry, MLIRContext::Threading::DISABLED);
  std::string error;
  OwningOpRef<ModuleOp> module =
      ember::loadModelProgram(*file, manifest, &context, &error);
  if (!module)
    return fail(inputPath + ": " + error);
  std::vector<std::string> entries;
  for (const ember::EntrySpec &entry : manifest.entries)
    entries.push_back(entry.name);
  progress(step() + "parsed the program and checked it against the manifest " +
           "in " + llvm::formatv("{0:f2}", secondsSince(stageStart)).str() +
           " s");

  std::vector<ember::SectionData> artifacts;
  for (llvm::StringRef targetName : targetList) {
    targetName = targetName.trim();
    stageStart = Clock::now();
    if (targetName != "cpu") {
      ember::GpuTarget target;
      ember::GpuTarget::parse(targetName, &target, &error);
      ember::GpuProgram program;
      OwningOpRef<ModuleOp> copy = module->clone();
      if (!ember::compileForGpu(*copy, target, &program, &error))
        return fail(inputPath + ": cannot compile for " + target.str() + ": " + error);
      ember::GpuArtifact gpu = ember::packGpuArtifact(program);
      ember::ArtifactSpec spec;
      spec.extra = ember::Json::parse(gpu.manifestJson);
      spec.target = gpu.target;
      spec.format = "gpu-kernels";
      spec.section = gpu.section;
      spec.checksum = ember::checksumHex(ember::xxhash64(gpu.bytes.data(), gpu.bytes.size()));
      progress(step() + "compiled for " + target.str() + ": " +
               std::to_string(program.kernels.size()) + " kernels (" +
               target.binaryFormat() + "), " + megabytes(gpu.bytes.size()) + " in " +
               llvm::formatv("{0:f2}", secondsSince(stageStart)).str() + " s");
      llvm::erase_if(manifest.artifacts, [&](const ember::ArtifactSpec &old) {
        return old.target == spec.target;
      });
      manifest.artifacts.push_back(spec);
      artifacts.push_back({ember::SectionKind::Artifact, gpu.section, std::move(gpu.bytes)});
      continue;
    }
    ember::AotOptions options;
    options.cpu = cpuName;
    options.programChecksum = file->find("program")->checksum;
    for (const ember::EntrySpec &entry : manifest.entries)
      options.entryWeights[entry.name] = entry.weights;
    ember::AotArtifact artifact;
    // The lowering rewrites the module in place: compile a copy per target.
    OwningOpRef<ModuleOp> copy = module->clone();
    if (!ember::compileCpuArtifact(*copy, entries, options, &artifact, &error))
      return fail(inputPath + ": cannot compile for cpu: " + error);
    progress(step() + "compiled for cpu (" + artifact.spec.cpu +
             (artifact.spec.features.empty()
                  ? std::string()
                  : ": " + llvm::join(artifact.spec.features, " ")) +
             "): " + megabytes(artifact.bytes.size()) + " in " +
             llvm::formatv("{0:f2}", secondsSince(stageStart)).str() + " s");
    // A new artifact replaces one for the same target.
    llvm::erase_if(manifest.artifacts, [&](const ember::ArtifactSpec &old) {
      return old.target == artifact.spec.target;
    });
    manifest.artifacts.push_back(artifact.spec);
    artifacts.push_back({ember::SectionKind::Artifact, artifact.spec.section,
                         std::move(artifact.bytes)});
  }

  // Every section is kept except the manifest (rewritten), the artifacts
  // being replaced and the signature (it would no longer match).
  std::vector<ember::SectionData> sections;
  bool wasSigned = file->find("signature") != nullptr;
  for (const ember::SectionView &section : file->sections()) {
    if (section.kind == ember::SectionKind::Signature)
      continue;
    if (section.kind == ember::SectionKind::Manifest) {
      std::string json = ember::serializeManifest(manifest);
      sections.push_back({section.kind, section.name,
                          std::vector<uint8_t>(json.begin(), json.end())});
      continue;
    }
    bool replaced = llvm::any_of(artifacts, [&](const ember::SectionData &a) {
      return a.name == section.name;
    });
    if (!replaced)
      sections.push_back({section.kind, section.name,
                          std::vector<uint8_t>(section.data,
                                               section.data + section.size)});
  }
  for (ember::SectionData &artifact : artifacts)
    sections.push_back(std::move(artifact));
  if (secret) {
    std::vector<uint8_t> signature = ember::signSections(sections, *secret);
    sections.push_back({ember::SectionKind::Signature, "signature", std::move(signature)});
  } else if (wasSigned) {
    progress("note: the input was signed; the output is not (add --sign KEY.key)");
  }
  std::vector<uint8_t> image = ember::buildModelImage(sections);
  file.reset();
  ember::writeFileAtomically(outputPath, image.data(), image.size());
  progress(step() + "wrote " + outputPath + " (" + megabytes(image.size()) +
           ") in " + llvm::formatv("{0:f1}", secondsSince(start)).str() +
           " s");
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "ember-compile: add native code to a .ember model file\n\n"
      "  ember-compile model.ember --target cpu -o model.cpu.ember\n"
      "  ember-compile model.ember --target cpu,cuda:sm_90,rocm:gfx942,level-zero,vulkan -o all.ember\n"
      "  ember-compile --generate-key me && ember-compile model.ember --sign me.key -o model.cpu.ember\n"
      "  ember-compile program.mlir --target vulkan --emit-kernels kernels/\n\n"
      "Compiles the model's portable program for each target and writes a\n"
      "file with the same entries and weights plus one artifact section per\n"
      "target (an older artifact for a target is replaced). ember::Model and\n"
      "ember-run use the cpu artifact on hosts that have its CPU features, and\n"
      "fall back to the portable program elsewhere; a GPU artifact holds the\n"
      "kernels (PTX, HSACO or SPIR-V) and their launch plan, which\n"
      "ember::gpu::DeviceModel and `ember-run --device` run on a device of\n"
      "that kind. No GPU is needed to compile.\n\n"
      "Native code runs only from files signed by a key the loader trusts\n"
      "(EMBER_TRUSTED_KEYS=me.pub, ember-run --trusted-key, LoadOptions::\n"
      "trustedKeys) unless the loader allows unsigned code (--trust-native);\n"
      "otherwise the portable program is compiled at load.\n\n"
      "--emit-kernels compiles an ember program (.mlir) for one GPU target\n"
      "and writes the kernel binaries, their launch metadata (kernels.json),\n"
      "the host side (host.mlir) and the launch plan (plan.json) into a folder.\n");
  try {
    return run();
  } catch (const ember::ModelError &e) {
    return fail(e.what());
  }
}
