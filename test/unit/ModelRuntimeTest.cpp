//===- ModelRuntimeTest.cpp - the LLVM-free model runtime ------------------===//
//
// The .ember reader and writer, the manifest, JSON, host tensors, .npy files
// and ember::Model's checks. This binary links only //runtime:model (see
// runtime_link_deps_test); a fake ProgramCompiler written in C++ stands in for
// compiled code, so Model::run's calling convention is checked without LLVM.
//
//===----------------------------------------------------------------------===//

#include "ModelErrorOf.h"
#include "ember/Runtime/HostAllocator.h"
#include "ember/Runtime/Json.h"
#include "ember/Runtime/Manifest.h"
#include "ember/Runtime/Model.h"
#include "ember/Runtime/ModelFile.h"
#include "ember/Runtime/Npy.h"
#include "ember/Runtime/Signature.h"

#include <elf.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

using namespace ember;
using ember::test::errorOf;

namespace {

std::vector<uint8_t> bytesOf(const std::string &text) {
  return std::vector<uint8_t>(text.begin(), text.end());
}

/// A model y = x * w + b with x: [batch, 4], w: [4], b: [4] (float32).
const char *kManifest = R"({
  "format_version": 1, "producer": "test",
  "entries": [{"name": "forward",
    "inputs": [{"name": "x", "dtype": "float32", "shape": ["batch", 4]}],
    "outputs": [{"name": "y", "dtype": "float32", "shape": ["batch", 4]},
                {"name": "z", "dtype": "float32", "shape": [{"add": 1, "terms": {"batch": 2}}]}],
    "weights": ["w", "b"]}],
  "weights": [{"name": "w", "dtype": "float32", "shape": [4], "offset": 0, "size": 16},
              {"name": "b", "dtype": "float32", "shape": [4], "offset": 64, "size": 16}]
})";

std::vector<uint8_t> weightBytes() {
  std::vector<uint8_t> bytes(80, 0);
  float w[4] = {1, 2, 3, 4}, b[4] = {0.5f, -1, 0, 2};
  std::memcpy(bytes.data(), w, sizeof(w));
  std::memcpy(bytes.data() + 64, b, sizeof(b));
  return bytes;
}

std::vector<SectionData> sections(const std::string &manifest = kManifest) {
  return {{SectionKind::Manifest, "manifest", bytesOf(manifest)},
          {SectionKind::Program, "program", bytesOf("not parsed by the runtime")},
          {SectionKind::Weights, "weights", weightBytes()}};
}

std::vector<uint8_t> image(const std::string &manifest = kManifest) {
  return buildModelImage(sections(manifest));
}

uint64_t read64(const std::vector<uint8_t> &bytes, size_t offset) {
  uint64_t value;
  std::memcpy(&value, bytes.data() + offset, 8);
  return value;
}

void write64(std::vector<uint8_t> &bytes, size_t offset, uint64_t value) {
  std::memcpy(bytes.data() + offset, &value, 8);
}

/// Recomputes the table and header checksums after editing the table, so
/// that the check under test is the one that fails.
void resign(std::vector<uint8_t> &bytes) {
  uint32_t count;
  std::memcpy(&count, bytes.data() + 12, 4);
  uint64_t table = read64(bytes, 16);
  write64(bytes, 32, xxhash64(bytes.data() + table, count * 64));
  write64(bytes, 56, xxhash64(bytes.data(), 56));
}

size_t tableEntry(const std::vector<uint8_t> &bytes, int index) {
  return read64(bytes, 16) + 64 * index;
}

std::string openError(const std::vector<uint8_t> &bytes) {
  return errorOf([&] { ModelFile::fromBytes(bytes.data(), bytes.size(), "m.ember"); });
}

// --- the fake compiled program: y = x * w + b, z = zeros(2*batch+1) -------

/// A ranked memref descriptor as compiled code sees it.
struct Descriptor {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[2];
};

Descriptor *descriptor(void **args, int i) {
  return *static_cast<Descriptor **>(args[i]);
}

void fakeForward(void **args) {
  Descriptor *x = descriptor(args, 0), *w = descriptor(args, 1),
             *b = descriptor(args, 2), *y = descriptor(args, 3),
             *z = descriptor(args, 4);
  int64_t batch = x->sizes[0];
  for (int64_t i = 0; i < batch; ++i)
    for (int64_t j = 0; j < 4; ++j)
      y->aligned[i * 4 + j] = x->aligned[i * 4 + j] * w->aligned[j] + b->aligned[j];
  for (int64_t i = 0; i < z->sizes[0]; ++i)
    z->aligned[i] = static_cast<float>(batch);
}

/// The shape function: y is [batch, 4], z is [2*batch+1] (what the
/// manifest says; a test edits the manifest to disagree).
std::atomic<int> fakeShapeCalls{0};

void fakeShapes(void **args) {
  ++fakeShapeCalls;
  int64_t batch = descriptor(args, 0)->sizes[0];
  auto *out = reinterpret_cast<int64_t *>(descriptor(args, 3)->aligned);
  out[0] = batch;
  out[1] = 4;
  out[2] = 2 * batch + 1;
}

class FakeExecutable : public Executable {
public:
  PackedEntry entry(const std::string &) const override { return fakeForward; }
  PackedEntry shapeEntry(const std::string &) const override { return fakeShapes; }
  std::string kind() const override { return "fake"; }
};

std::unique_ptr<Executable> fakeCompiler(const ModelFile &, const Manifest &) {
  return std::make_unique<FakeExecutable>();
}

/// The bytes of FakeCpuArtifact.c built as a shared object (Bazel and
/// run_asan.sh set EMBER_TEST_CPU_ARTIFACT), or empty.
std::vector<uint8_t> fakeArtifactBytes() {
  const char *path = std::getenv("EMBER_TEST_CPU_ARTIFACT");
  if (!path)
    return {};
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in),
                              std::istreambuf_iterator<char>());
}

/// kManifest plus a "cpu" artifact for `code` (FakeCpuArtifact.c); `fields`
/// replace the default members (key -> raw JSON value).
std::string withCpuArtifact(const std::vector<uint8_t> &code,
                            std::map<std::string, std::string> fields = {}) {
  std::map<std::string, std::string> defaults = {
      {"target", "\"cpu\""},
      {"format", "\"elf-shared-object\""},
      {"section", "\"artifact.cpu\""},
      {"checksum", "\"" + checksumHex(xxhash64(code.data(), code.size())) + "\""},
      {"triple", "\"x86_64-unknown-linux-gnu\""},
      {"cpu", "\"x86-64\""},
      {"features", "[]"},
      {"entry_symbols", "{\"forward\": \"_mlir__mlir_ciface_ember_entry_forward\"}"},
      {"runtime_slots",
       "[\"_mlir_memref_to_llvm_alloc\", \"_mlir_memref_to_llvm_free\"]"}};
  for (const auto &[key, value] : fields)
    defaults[key] = value;
  std::string artifact;
  for (const auto &[key, value] : defaults)
    artifact += (artifact.empty() ? "" : ", ") + ("\"" + key + "\": " + value);
  std::string manifest = kManifest;
  manifest.insert(manifest.rfind('}'), ", \"artifacts\": [{" + artifact + "}]");
  return manifest;
}

/// The sections of a model with `code` in section "artifact.cpu".
std::vector<SectionData> nativeSections(const std::vector<uint8_t> &code,
                                        std::map<std::string, std::string> fields = {},
                                        const std::string &base = kManifest) {
  std::string manifest = withCpuArtifact(code, std::move(fields));
  if (base != kManifest) {
    std::string artifacts = manifest.substr(manifest.find(", \"artifacts\""));
    manifest = base;
    manifest.insert(manifest.rfind('}'), artifacts.substr(0, artifacts.rfind('}')));
  }
  std::vector<SectionData> parts = sections(manifest);
  parts.push_back({SectionKind::Artifact, "artifact.cpu", code});
  return parts;
}

std::shared_ptr<ModelFile> fileOf(const std::vector<SectionData> &parts,
                                  const std::string &label = "native.ember") {
  std::vector<uint8_t> bytes = buildModelImage(parts);
  return ModelFile::fromBytes(bytes.data(), bytes.size(), label);
}

/// A model image with `code` in section "artifact.cpu".
std::shared_ptr<ModelFile> nativeModel(const std::vector<uint8_t> &code,
                                       std::map<std::string, std::string> fields = {}) {
  return fileOf(nativeSections(code, std::move(fields)));
}

/// Options that run unsigned native code (the tests' artifacts are unsigned).
LoadOptions unsignedNative() {
  LoadOptions options;
  options.allowUnsignedNative = true;
  return options;
}

/// Checks forward({x}) of the test model for a random x of `batch` rows.
void expectForward(const Model &model, int64_t batch, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1, 1);
  HostTensor x(ElementType::Float32, {batch, 4});
  for (int64_t i = 0; i < x.numel(); ++i)
    x.data<float>()[i] = uniform(rng);
  std::vector<HostTensor> out = model.forward({x});
  ASSERT_EQ(out.size(), 2u);
  ASSERT_EQ(out[0].describe(), "[" + std::to_string(batch) + ", 4] float32");
  ASSERT_EQ(out[1].shape(), std::vector<int64_t>{2 * batch + 1});
  const float w[4] = {1, 2, 3, 4}, b[4] = {0.5f, -1, 0, 2};
  for (int64_t i = 0; i < batch; ++i)
    for (int j = 0; j < 4; ++j)
      ASSERT_FLOAT_EQ(out[0].data<float>()[i * 4 + j], x.data<float>()[i * 4 + j] * w[j] + b[j]);
  for (int64_t i = 0; i < 2 * batch + 1; ++i)
    ASSERT_EQ(out[1].data<float>()[i], static_cast<float>(batch));
}

/// Registers the fake compiler for one test.
class WithFakeCompiler {
public:
  WithFakeCompiler() { registerProgramCompiler(fakeCompiler); }
  ~WithFakeCompiler() { registerProgramCompiler(nullptr); }
};

} // namespace

TEST(XxHash, MatchesPublishedValues) {
  // Reference values from the xxhash Python package.
  EXPECT_EQ(xxhash64("", 0), 0xef46db3751d8e999ULL);
  EXPECT_EQ(xxhash64("a", 1), 0xd24ec4f1a98c6e5bULL);
  EXPECT_EQ(xxhash64("abc", 3), 0x44bc2cf5ad770999ULL);
  EXPECT_EQ(xxhash64("abc", 3, 42), 0x13c1d910702770e6ULL);
  const char *text = "Nobody inspects the spammish repetition";
  EXPECT_EQ(xxhash64(text, strlen(text)), 0xfbcea83c8a378bf1ULL);
  std::vector<uint8_t> bytes;
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < 256; ++i)
      bytes.push_back(static_cast<uint8_t>(i));
  EXPECT_EQ(xxhash64(bytes.data(), bytes.size()), 0x8e03c838c596036fULL);
  EXPECT_EQ(xxhash64(bytes.data(), bytes.size(), 42), 0x5a08dead05df1080ULL);
  EXPECT_EQ(checksumHex(0xef46db3751d8e999ULL), "ef46db3751d8e999");
}

TEST(ModelFile, RoundTripsSections) {
  std::vector<uint8_t> bytes = image();
  auto file = ModelFile::fromBytes(bytes.data(), bytes.size());
  // Unsigned files are written as version 1, which older readers read.
  EXPECT_EQ(file->formatVersion(), 1u);
  ASSERT_EQ(file->sections().size(), 3u);
  EXPECT_EQ(file->manifestText(), kManifest);
  const SectionView *weights = file->find("weights");
  ASSERT_NE(weights, nullptr);
  EXPECT_EQ(weights->kind, SectionKind::Weights);
  EXPECT_EQ(weights->size, 80u);
  for (const SectionView &section : file->sections())
    EXPECT_EQ((section.data - file->data()) % kModelSectionAlignment, 0u) << section.name;
  EXPECT_EQ(std::memcmp(weights->data, weightBytes().data(), 80), 0);
  EXPECT_EQ(file->find("nothing"), nullptr);
}

TEST(ModelFile, OpensFromDiskAndWritesAtomically) {
  std::string folder = ::testing::TempDir();
  std::string path = folder + "/model_file_test.ember";
  std::vector<uint8_t> bytes = image();
  writeFileAtomically(path, bytes.data(), bytes.size());
  auto file = ModelFile::open(path);
  EXPECT_EQ(file->label(), path);
  EXPECT_EQ(file->size(), bytes.size());
  EXPECT_NE(errorOf([&] { ModelFile::open(path + ".missing"); }).find("cannot open"),
            std::string::npos);

  // A failed write leaves the existing file as it was: here the target is a
  // folder, so the final rename fails.
  std::string dir = folder + "/a_folder.ember";
  mkdir(dir.c_str(), 0755);
  std::string message = errorOf([&] { writeFileAtomically(dir, "x", 1); });
  EXPECT_NE(message.find("cannot write"), std::string::npos) << message;
  struct stat info;
  ASSERT_EQ(stat(dir.c_str(), &info), 0);
  EXPECT_TRUE(S_ISDIR(info.st_mode));
  message = errorOf([&] { writeFileAtomically(folder + "/no/such/dir/f", "x", 1); });
  EXPECT_NE(message.find("no/such/dir/f"), std::string::npos) << message;
  // The original file is intact after all that.
  EXPECT_EQ(ModelFile::open(path)->size(), bytes.size());
}

TEST(ModelFile, RejectsBadMagicVersionAndTruncation) {
  std::vector<uint8_t> bytes = image();
  std::vector<uint8_t> bad = bytes;
  bad[0] = 'X';
  EXPECT_NE(openError(bad).find("m.ember: not an ember model file"), std::string::npos);
  EXPECT_NE(openError({}).find("not an ember model file"), std::string::npos);

  for (uint32_t version : {0u, 4u, 99u}) {
    bad = bytes;
    std::memcpy(bad.data() + 8, &version, 4);
    std::string message = openError(bad);
    EXPECT_NE(message.find("format version " + std::to_string(version) +
                           " is not supported; this build reads versions 1 to 3"),
              std::string::npos)
        << message;
  }
  for (size_t length : {size_t(8), size_t(40), size_t(100), bytes.size() - 1}) {
    bad.assign(bytes.begin(), bytes.begin() + length);
    EXPECT_NE(openError(bad).find("truncated"), std::string::npos) << length;
  }
  bad = bytes;
  bad.push_back(0);
  EXPECT_NE(openError(bad).find("trailing data"), std::string::npos);
}

TEST(ModelFile, RejectsEveryCorruptedSection) {
  std::vector<uint8_t> bytes = image();
  auto file = ModelFile::fromBytes(bytes.data(), bytes.size());
  for (const SectionView &section : file->sections()) {
    std::vector<uint8_t> bad = bytes;
    bad[(section.data - file->data()) + section.size / 2] ^= 0x40;
    std::string message = openError(bad);
    EXPECT_NE(message.find("section '" + section.name + "' fails its checksum"),
              std::string::npos)
        << message;
  }
  std::vector<uint8_t> bad = bytes;
  bad[20] ^= 1; // table offset
  EXPECT_NE(openError(bad).find("header fails its checksum"), std::string::npos);
  bad = bytes;
  bad[tableEntry(bad, 1) + 48] ^= 1; // a size inside the table
  EXPECT_NE(openError(bad).find("section table fails its checksum"), std::string::npos);
}

TEST(ModelFile, RejectsBadTables) {
  std::vector<uint8_t> bytes = image();
  std::vector<uint8_t> bad = bytes;
  write64(bad, tableEntry(bad, 1) + 40, read64(bad, tableEntry(bad, 1) + 40) + 8);
  resign(bad);
  EXPECT_NE(openError(bad).find("not aligned"), std::string::npos);

  bad = bytes;
  write64(bad, tableEntry(bad, 2) + 48, 1ULL << 62); // a huge size
  resign(bad);
  EXPECT_NE(openError(bad).find("lies outside the file"), std::string::npos);

  bad = bytes;
  std::memcpy(bad.data() + tableEntry(bad, 2) + 8, "program\0\0", 9);
  resign(bad);
  EXPECT_NE(openError(bad).find("two sections are named 'program'"), std::string::npos);

  bad = bytes;
  std::memset(bad.data() + tableEntry(bad, 2) + 8, 'n', 32); // no terminator
  resign(bad);
  EXPECT_NE(openError(bad).find("unterminated name"), std::string::npos);

  bad = bytes; // section 2 claims section 1's bytes
  std::memcpy(bad.data() + tableEntry(bad, 2) + 40, bad.data() + tableEntry(bad, 1) + 40, 8);
  std::memcpy(bad.data() + tableEntry(bad, 2) + 48, bad.data() + tableEntry(bad, 1) + 48, 16);
  resign(bad);
  EXPECT_NE(openError(bad).find("sections overlap"), std::string::npos);

  bad = bytes;
  uint32_t kind = 77;
  std::memcpy(bad.data() + tableEntry(bad, 2), &kind, 4);
  resign(bad);
  EXPECT_NE(openError(bad).find("unknown kind 77"), std::string::npos);

  std::vector<SectionData> noProgram = sections();
  noProgram.erase(noProgram.begin() + 1);
  EXPECT_NE(errorOf([&] { buildModelImage(noProgram); }).find("manifest and a program"),
            std::string::npos);
  std::vector<SectionData> longName = sections();
  longName[2].name = std::string(40, 'w');
  EXPECT_NE(errorOf([&] { buildModelImage(longName); }).find("1 to 31 bytes"),
            std::string::npos);
}

TEST(ModelFile, RejectsNonZeroReservedTableBytes) {
  std::vector<uint8_t> bytes = image();
  std::vector<uint8_t> bad = bytes;
  bad[tableEntry(bad, 0) + 5] = 1; // the entry's reserved word
  resign(bad);
  EXPECT_NE(openError(bad).find("section 'manifest' has non-zero reserved or padding bytes"),
            std::string::npos)
      << openError(bad);
  bad = bytes;
  bad[tableEntry(bad, 1) + 8 + 30] = 'x'; // after "program"'s terminator
  resign(bad);
  EXPECT_NE(openError(bad).find("section 'program' has non-zero reserved"), std::string::npos);
}

TEST(ModelFile, RejectsBytesHiddenInPadding) {
  // Between the header and the first section, between sections, and before
  // the table: no checksum or signature covers those bytes, so they must be
  // zero. (The header and table checksums do not cover them either.)
  std::vector<uint8_t> bytes = image();
  uint64_t firstSection = read64(bytes, tableEntry(bytes, 0) + 40);
  uint64_t manifestEnd = firstSection + read64(bytes, tableEntry(bytes, 0) + 48);
  uint64_t table = read64(bytes, 16);
  for (uint64_t offset : {uint64_t(64), firstSection - 1, manifestEnd, table - 1}) {
    std::vector<uint8_t> bad = bytes;
    bad[offset] = 0x5a;
    EXPECT_NE(openError(bad).find("non-zero bytes in the padding"), std::string::npos)
        << offset << ": " << openError(bad);
  }
  // Data after the table (the size in the header updated to match).
  std::vector<uint8_t> longer = bytes;
  longer.resize(bytes.size() + 8, 0);
  write64(longer, 24, longer.size());
  resign(longer);
  EXPECT_NE(openError(longer).find("8 bytes follow the section table"), std::string::npos)
      << openError(longer);
}

TEST(Json, ParsesAndWrites) {
  Json value = Json::parse(R"({"a": [1, -2, 3.5, true, null], "s": "q\"\\\n\u00e9\ud83d\ude00", "e": {}})");
  EXPECT_EQ(value.at("a", "x").size(), 5u);
  EXPECT_EQ(value.at("a", "x")[1].asInt("i"), -2);
  EXPECT_DOUBLE_EQ(value.at("a", "x")[2].asDouble("d"), 3.5);
  EXPECT_EQ(value.at("s", "x").asString("s"), "q\"\\\n\xc3\xa9\xf0\x9f\x98\x80");
  Json again = Json::parse(value.dump());
  EXPECT_EQ(again.dump(), value.dump());
  EXPECT_EQ(Json::parse(value.dump(true)).dump(), value.dump());
  EXPECT_NE(errorOf([] { Json::parse("{\"a\": }"); }).find("malformed JSON at byte 6"),
            std::string::npos);
  for (const char *bad : {"", "{", "[1,]", "{\"a\":1,\"a\":2}", "\"\\ud800\"", "01x",
                          "{\"a\" 1}", "tru", "\"\x01\""})
    EXPECT_NE(errorOf([&] { Json::parse(bad); }).find("malformed JSON"), std::string::npos)
        << bad;
  std::string deep(100, '[');
  EXPECT_NE(errorOf([&] { Json::parse(deep); }).find("deeper than 64"), std::string::npos);
  EXPECT_NE(errorOf([] { Json::parse("1").asString("the name"); })
                .find("the name must be a string, not an integer"),
            std::string::npos);
}

TEST(Manifest, ParsesSerializesAndEvaluates) {
  Manifest manifest = parseManifest(kManifest, 80);
  ASSERT_EQ(manifest.entries.size(), 1u);
  const EntrySpec &entry = manifest.entries[0];
  EXPECT_EQ(entry.inputs[0].str(), "[batch, 4] float32");
  EXPECT_EQ(entry.outputs[1].str(), "[2*batch+1] float32");
  EXPECT_EQ(entry.outputs[1].shape[0].evaluate({{"batch", 5}}), 11);
  EXPECT_NE(errorOf([&] { entry.outputs[1].shape[0].evaluate({}); }).find("no value"),
            std::string::npos);
  EXPECT_EQ(entry.weights, (std::vector<std::string>{"w", "b"}));
  EXPECT_EQ(manifest.findWeight("b")->offset, 64u);

  manifest.artifacts.push_back({"cpu", "elf-shared-object", "artifact.cpu",
                                "0123456789abcdef", "x86_64-unknown-linux-gnu", "znver4",
                                {"avx2"}, {{"forward", "sym"}}, {"memrefCopy"}, Json()});
  Manifest again = parseManifest(serializeManifest(manifest), 80);
  EXPECT_EQ(serializeManifest(again), serializeManifest(manifest));
  EXPECT_EQ(again.findArtifact("cpu")->entrySymbols.at("forward"), "sym");
  EXPECT_EQ(again.entries[0].outputs[1].str(), "[2*batch+1] float32");
}

TEST(Manifest, RejectsBadFields) {
  auto errorFor = [](const std::string &from, const std::string &to, uint64_t size = 80) {
    std::string text = kManifest;
    size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    return errorOf([&] { parseManifest(text, size); });
  };
  EXPECT_NE(errorFor("\"float32\", \"shape\": [\"batch\", 4]", "\"float8\", \"shape\": [4]")
                .find("unknown dtype 'float8'"),
            std::string::npos);
  EXPECT_NE(errorFor("[\"batch\", 4]}]", "[\"n\", 4]}]").find("symbol 'batch' is not bound"),
            std::string::npos);
  EXPECT_NE(errorFor("\"offset\": 64", "\"offset\": 32").find("not a multiple of 64"),
            std::string::npos);
  EXPECT_NE(errorFor("\"offset\": 64", "\"offset\": 128").find("lies outside the weights"),
            std::string::npos);
  EXPECT_NE(errorFor("\"size\": 16}]", "\"size\": 12}]").find("does not match its shape"),
            std::string::npos);
  EXPECT_NE(errorFor("[\"w\", \"b\"]", "[\"w\", \"c\"]").find("unknown weight 'c'"),
            std::string::npos);
  EXPECT_NE(errorFor("\"shape\": [\"batch\", 4]}]", "\"shape\": [{\"terms\": {\"batch\": 1}}, 4]}]")
                .find("an input dim must be an integer or a symbol name"),
            std::string::npos);
  EXPECT_NE(errorFor("\"format_version\": 1", "\"format_version\": 7").find("not supported"),
            std::string::npos);
  EXPECT_NE(errorFor("\"entries\"", "\"entrees\"").find("missing 'entries'"),
            std::string::npos);
  EXPECT_NE(errorFor("[\"batch\", 4]}]", "[\"batch\", -4]}]").find("negative dim"),
            std::string::npos);
  EXPECT_NE(errorFor("\"producer\": \"test\"", "\"producer\": 3").find("must be a string"),
            std::string::npos);
}

TEST(HostTensor, AllocatesAndDescribes) {
  HostTensor t = HostTensor::zeros(ElementType::Float64, {2, 3});
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.bytes(), 48u);
  EXPECT_EQ(t.describe(), "[2, 3] float64");
  EXPECT_EQ(t.data<double>()[5], 0.0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u);
  float values[2] = {1.5f, -2};
  HostTensor copy = HostTensor::fromData(ElementType::Float32, {2}, values);
  values[0] = 0;
  EXPECT_EQ(copy.data<float>()[0], 1.5f);
  EXPECT_NE(errorOf([] { HostTensor(ElementType::Int32, {2, -1}); }).find("negative dim"),
            std::string::npos);
  EXPECT_NE(errorOf([] { HostTensor(ElementType::Int64, {1LL << 40, 1LL << 40}); })
                .find("too large"),
            std::string::npos);
  HostTensor empty(ElementType::Bool, {0, 4});
  EXPECT_EQ(empty.numel(), 0);
  ElementType type;
  EXPECT_TRUE(parseElementType("bfloat16", &type));
  EXPECT_EQ(type, ElementType::BFloat16);
  EXPECT_FALSE(parseElementType("float", &type));
}

TEST(Model, WithoutNativeCodeOrCompilerSaysWhatToDo) {
  std::vector<uint8_t> bytes = image();
  auto file = ModelFile::fromBytes(bytes.data(), bytes.size(), "mlp.ember");
  std::string message = errorOf([&] { Model::fromFile(file); });
  EXPECT_NE(message.find("mlp.ember: cannot run this model: the file has no native code"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("ember-compile mlp.ember --target cpu"), std::string::npos);
  EXPECT_NE(message.find("//compiler:model_jit"), std::string::npos);
}

TEST(Model, RunsEntriesWithWeightsAndSymbolicDims) {
  WithFakeCompiler fake;
  std::vector<uint8_t> bytes = image();
  Model model = Model::fromFile(ModelFile::fromBytes(bytes.data(), bytes.size()));
  EXPECT_EQ(model.executableKind(), "fake");
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(-1, 1);
  for (int64_t batch : {0, 1, 3, 9}) {
    HostTensor x(ElementType::Float32, {batch, 4});
    for (int64_t i = 0; i < x.numel(); ++i)
      x.data<float>()[i] = uniform(rng);
    std::vector<HostTensor> out = model.forward({x});
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].describe(), "[" + std::to_string(batch) + ", 4] float32");
    EXPECT_EQ(out[1].shape(), std::vector<int64_t>{2 * batch + 1});
    const float w[4] = {1, 2, 3, 4}, b[4] = {0.5f, -1, 0, 2};
    for (int64_t i = 0; i < batch; ++i)
      for (int j = 0; j < 4; ++j)
        EXPECT_FLOAT_EQ(out[0].data<float>()[i * 4 + j], x.data<float>()[i * 4 + j] * w[j] + b[j]);
    EXPECT_EQ(out[1].data<float>()[0], static_cast<float>(batch));
  }
  HostTensor w = model.weight("w");
  EXPECT_EQ(w.describe(), "[4] float32");
  EXPECT_EQ(w.data<float>()[3], 4.0f);
}

TEST(Model, OutputsAreFreshTensorsWhoseMemoryIsReused) {
  WithFakeCompiler fake;
  std::vector<uint8_t> bytes = image();
  Model model = Model::fromFile(ModelFile::fromBytes(bytes.data(), bytes.size()));
  HostTensor x(ElementType::Float32, {64, 4}), x2(ElementType::Float32, {64, 4});
  for (int64_t i = 0; i < x.numel(); ++i) {
    x.data<float>()[i] = static_cast<float>(i);
    x2.data<float>()[i] = -1.0f;
  }
  // Outputs the caller still holds are never written by a later call.
  std::vector<HostTensor> first = model.forward({x});
  std::vector<HostTensor> second = model.forward({x2});
  EXPECT_NE(first[0].data(), second[0].data());
  EXPECT_NE(first[1].data(), second[1].data());
  for (int64_t i = 0; i < 64; ++i)
    EXPECT_EQ(first[0].data<float>()[i * 4 + 1], static_cast<float>(i * 4 + 1) * 2 - 1);
  EXPECT_EQ(second[0].data<float>()[1], -3.0f);
  // Released outputs are reused: in a loop that drops each call's
  // outputs, every call allocates only its two outputs, from the cache.
  first.clear();
  second.clear();
  model.forward({x});
  HostAllocatorStats before = hostAllocatorStats();
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(model.forward({x})[0].data<float>()[4], 4.5f);
  HostAllocatorStats after = hostAllocatorStats();
  EXPECT_EQ(after.systemAllocations, before.systemAllocations);
  EXPECT_EQ(after.allocations - before.allocations, 20u);
  EXPECT_EQ(after.cacheHits - before.cacheHits, 20u);
  EXPECT_EQ(after.allocatedBytes, before.allocatedBytes);
}

TEST(Model, AsksForOutputShapesOncePerInputShapes) {
  WithFakeCompiler fake;
  std::vector<uint8_t> bytes = image();
  Model model = Model::fromFile(ModelFile::fromBytes(bytes.data(), bytes.size()));
  int before = fakeShapeCalls;
  for (int64_t batch : {3, 3, 5, 3, 5, 0, 0})
    model.forward({HostTensor(ElementType::Float32, {batch, 4})});
  EXPECT_EQ(fakeShapeCalls - before, 3);
  EXPECT_EQ(model.shapeChecks(), 3);
  // A copy shares what was checked; another load of the file starts over.
  Model copy = model;
  copy.forward({HostTensor(ElementType::Float32, {3, 4})});
  EXPECT_EQ(copy.shapeChecks(), 3);
  Model other = Model::fromFile(ModelFile::fromBytes(bytes.data(), bytes.size()));
  other.forward({HostTensor(ElementType::Float32, {3, 4})});
  EXPECT_EQ(other.shapeChecks(), 1);
  EXPECT_EQ(fakeShapeCalls - before, 4);
}

TEST(Model, ChecksInputsAgainstTheManifest) {
  WithFakeCompiler fake;
  std::vector<uint8_t> bytes = image();
  Model model = Model::fromFile(ModelFile::fromBytes(bytes.data(), bytes.size(), "m.ember"));
  HostTensor good(ElementType::Float32, {2, 4});
  EXPECT_EQ(errorOf([&] { model.forward({}); }),
            "entry 'forward' takes 1 input(s), got 0");
  EXPECT_EQ(errorOf([&] { model.forward({good, good}); }),
            "entry 'forward' takes 1 input(s), got 2");
  EXPECT_EQ(errorOf([&] { model.forward({HostTensor(ElementType::Float32, {2, 5})}); }),
            "entry 'forward': input 'x': expected [batch, 4] float32, got [2, 5] float32");
  EXPECT_EQ(errorOf([&] { model.forward({HostTensor(ElementType::Float64, {2, 4})}); }),
            "entry 'forward': input 'x': expected [batch, 4] float32, got [2, 4] float64");
  EXPECT_EQ(errorOf([&] { model.forward({HostTensor(ElementType::Float32, {8})}); }),
            "entry 'forward': input 'x': expected [batch, 4] float32, got [8] float32");
  EXPECT_EQ(errorOf([&] { model.run("backward", {good}); }),
            "m.ember: no entry named 'backward' (entries: forward)");
  EXPECT_NE(errorOf([&] { model.weight("v"); }).find("no weight named 'v'"), std::string::npos);
}

TEST(Model, SharedSymbolsMustAgree) {
  WithFakeCompiler fake;
  std::string manifest = R"({"format_version": 1, "entries": [{"name": "forward",
    "inputs": [{"name": "a", "dtype": "int64", "shape": ["n"]},
               {"name": "b", "dtype": "int64", "shape": ["n", 2]}],
    "outputs": [{"name": "y", "dtype": "int64", "shape": ["n"]}]}]})";
  std::vector<uint8_t> bytes = buildModelImage(
      {{SectionKind::Manifest, "manifest", bytesOf(manifest)},
       {SectionKind::Program, "program", bytesOf("p")}});
  Model model = Model::fromFile(ModelFile::fromBytes(bytes.data(), bytes.size()));
  std::string message = errorOf([&] {
    model.forward({HostTensor(ElementType::Int64, {3}), HostTensor(ElementType::Int64, {4, 2})});
  });
  EXPECT_EQ(message, "entry 'forward': input 'b': expected [n, 2] int64, got [4, 2] int64 "
                     "(n is 3 from an earlier dim)");
}

TEST(Model, RefusesNativeCodeThatDoesNotMatchTheManifest) {
  std::string manifest = std::string(kManifest);
  manifest.insert(manifest.rfind('}'),
                  R"(, "artifacts": [{"target": "cpu", "format": "elf-shared-object",
    "section": "artifact.cpu", "checksum": "0123456789abcdef",
    "triple": "x86_64-unknown-linux-gnu", "cpu": "test", "features": [],
    "entry_symbols": {"forward": "f"}, "runtime_slots": []}])");
  std::vector<SectionData> parts = sections(manifest);
  parts.push_back({SectionKind::Artifact, "artifact.cpu", bytesOf("\x7f" "ELF not really")});
  std::vector<uint8_t> bytes = buildModelImage(parts);
  auto file = ModelFile::fromBytes(bytes.data(), bytes.size(), "m.ember");
  std::string message = errorOf([&] { Model::fromFile(file); });
  EXPECT_NE(message.find("m.ember: native artifact 'artifact.cpu': checksum"), std::string::npos)
      << message;
  EXPECT_NE(message.find("does not match the manifest's 0123456789abcdef"), std::string::npos);

  // With native code disallowed, the portable program runs instead.
  WithFakeCompiler fake;
  LoadOptions options;
  options.allowNative = false;
  EXPECT_EQ(Model::fromFile(file, options).executableKind(), "fake");

  // A matching checksum, but a feature this CPU does not have: not used.
  uint64_t sum = xxhash64(parts.back().bytes.data(), parts.back().bytes.size());
  std::string wanting = manifest;
  wanting.replace(wanting.find("0123456789abcdef"), 16, checksumHex(sum));
  wanting.replace(wanting.find("\"features\": []"), 14, "\"features\": [\"avx9000\"]");
  parts = sections(wanting);
  parts.push_back({SectionKind::Artifact, "artifact.cpu", bytesOf("\x7f" "ELF not really")});
  bytes = buildModelImage(parts);
  Model fallback = Model::fromFile(ModelFile::fromBytes(bytes.data(), bytes.size()));
  EXPECT_EQ(fallback.executableKind(), "fake");
  registerProgramCompiler(nullptr);
  message = errorOf([&] { Model::fromFile(ModelFile::fromBytes(bytes.data(), bytes.size())); });
  EXPECT_NE(message.find("compiled for test and this CPU lacks avx9000"), std::string::npos)
      << message;

  // Matching checksum and features, but not a shared object: refused
  // before dlopen with a message, no crash.
  wanting.replace(wanting.find("[\"avx9000\"]"), 11, "[]");
  parts = sections(wanting);
  parts.push_back({SectionKind::Artifact, "artifact.cpu", bytesOf("\x7f" "ELF not really")});
  bytes = buildModelImage(parts);
  message = errorOf([&] {
    Model::fromFile(ModelFile::fromBytes(bytes.data(), bytes.size()), unsignedNative());
  });
  EXPECT_NE(message.find("refusing to load it: truncated ELF"), std::string::npos) << message;
}

TEST(Model, RunsNativeArtifactThroughItsSlots) {
  std::vector<uint8_t> code = fakeArtifactBytes();
  if (code.empty())
    GTEST_SKIP() << "EMBER_TEST_CPU_ARTIFACT is not set (run under Bazel)";
  Model model = Model::fromFile(nativeModel(code), unsignedNative());
  EXPECT_EQ(model.executableKind(), "cpu-native");
  for (int64_t batch : {0, 1, 3, 17})
    expectForward(model, batch, static_cast<unsigned>(batch));

  // Unsigned native code is not run unless the caller allows it; here
  // nothing else can run the model, and the message says how to go on.
  std::string unsignedMessage = errorOf([&] { Model::fromFile(nativeModel(code)); });
  EXPECT_NE(unsignedMessage.find("native.ember: cannot run this model: the native code is "
                                 "not signed, and unsigned native code was not allowed "
                                 "(sign the file with `ember-compile FILE --sign KEY.key`"),
            std::string::npos)
      << unsignedMessage;

  // Native code present but not allowed, and nothing else to run it with.
  LoadOptions options;
  options.allowNative = false;
  std::string message = errorOf([&] { Model::fromFile(nativeModel(code), options); });
  EXPECT_NE(message.find("native.ember: cannot run this model: native code was not "
                         "allowed, and no compiler is linked into this program"),
            std::string::npos)
      << message;
  options.allowJit = false;
  message = errorOf([&] { Model::fromFile(nativeModel(code), options); });
  EXPECT_NE(message.find("JIT compilation was not allowed"), std::string::npos) << message;
}

TEST(Model, NativeArtifactNeedsItsSlotsAndSymbols) {
  std::vector<uint8_t> code = fakeArtifactBytes();
  if (code.empty())
    GTEST_SKIP() << "EMBER_TEST_CPU_ARTIFACT is not set (run under Bazel)";
  auto errorFor = [&](std::map<std::string, std::string> fields) {
    return errorOf([&] { Model::fromFile(nativeModel(code, std::move(fields)), unsignedNative()); });
  };
  const std::string prefix = "native.ember: native artifact 'artifact.cpu': ";
  const std::string refused = prefix + "refusing to load it: ";
  // The manifest's slots must be the code's own (ArtifactAbi.h): a missing
  // one would leave a null pointer for the code to call.
  for (const char *slots : {"[\"_mlir_memref_to_llvm_alloc\", \"memrefCopy\"]",
                            "[\"ember_cpu_hgemm\"]", "[]"})
    EXPECT_EQ(errorFor({{"runtime_slots", slots}}),
              refused + "the manifest's runtime_slots differ from the code's")
        << slots;
  const std::string wrongSymbol =
      refused + "entry 'forward': the entry symbol is not the code's "
                "(_mlir__mlir_ciface_ember_entry_forward)";
  EXPECT_EQ(errorFor({{"entry_symbols", "{\"forward\": \"ember_missing_forward\"}"}}), wrongSymbol);
  EXPECT_EQ(errorFor({{"entry_symbols", "{\"forward\": \"memcpy\"}"}}), wrongSymbol);
  EXPECT_EQ(errorFor({{"entry_symbols", "{}"}}), wrongSymbol);
  EXPECT_EQ(errorFor({{"format", "\"mach-o\""}}), prefix + "unknown format 'mach-o'");
  EXPECT_NE(errorFor({{"section", "\"artifact.cpu2\""}}).find("the section is missing"),
            std::string::npos);

  // Code for another machine is not used; the portable program is the way.
  std::string message = errorFor({{"triple", "\"aarch64-unknown-linux-gnu\""}});
  EXPECT_NE(message.find("cannot run this model: the native code is for "
                         "aarch64-unknown-linux-gnu, not this host"),
            std::string::npos)
      << message;
  WithFakeCompiler fake;
  EXPECT_EQ(Model::fromFile(nativeModel(code, {{"features", "[\"avx9000\"]"}}))
                .executableKind(),
            "fake");
}

TEST(Model, RunsConcurrently) {
  // run() is const and shares the model: several threads at once, each with
  // its own batch size, must all see their own results.
  std::vector<uint8_t> code = fakeArtifactBytes();
  WithFakeCompiler fake; // used when no native artifact was built
  std::vector<uint8_t> portable = image();
  Model model = code.empty()
                    ? Model::fromFile(ModelFile::fromBytes(portable.data(), portable.size()))
                    : Model::fromFile(nativeModel(code), unsignedNative());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&model, t] {
      for (int i = 0; i < 50; ++i)
        expectForward(model, 1 + (t * 7 + i) % 13, static_cast<unsigned>(t * 1000 + i));
    });
  for (std::thread &thread : threads)
    thread.join();
}

TEST(Model, WeightsWithoutAWeightsSection) {
  // Empty weights need no weights section; they still get a non-null pointer.
  WithFakeCompiler fake;
  std::string manifest = R"({"format_version": 1, "entries": [{"name": "forward",
    "inputs": [{"name": "a", "dtype": "int64", "shape": ["n"]}],
    "outputs": [{"name": "y", "dtype": "int64", "shape": ["n"]}], "weights": ["e"]}],
    "weights": [{"name": "e", "dtype": "float32", "shape": [0, 3], "offset": 0, "size": 0}]})";
  std::vector<uint8_t> bytes = buildModelImage(
      {{SectionKind::Manifest, "manifest", bytesOf(manifest)},
       {SectionKind::Program, "program", bytesOf("p")}});
  Model model = Model::fromFile(ModelFile::fromBytes(bytes.data(), bytes.size()));
  HostTensor e = model.weight("e");
  EXPECT_EQ(e.describe(), "[0, 3] float32");
  EXPECT_NE(e.data(), nullptr);
  // A weight that needs bytes cannot live in a missing section.
  std::string big = manifest;
  const std::string empty = "[0, 3], \"offset\": 0, \"size\": 0";
  big.replace(big.find(empty), empty.size(), "[1, 3], \"offset\": 0, \"size\": 12");
  bytes = buildModelImage({{SectionKind::Manifest, "manifest", bytesOf(big)},
                           {SectionKind::Program, "program", bytesOf("p")}});
  std::string message =
      errorOf([&] { Model::fromFile(ModelFile::fromBytes(bytes.data(), bytes.size(), "m.ember")); });
  EXPECT_EQ(message, "m.ember: manifest: weight 'e' lies outside the weights section (0 bytes)");
}

// --- issue 17: trust, inspection before dlopen, the manifest against the code

/// A fresh key pair under the test's temporary folder.
std::string makeKeys(const std::string &name) {
  std::string prefix = ::testing::TempDir() + "/" + name + std::to_string(getpid());
  ::unlink((prefix + ".key").c_str());
  ::unlink((prefix + ".pub").c_str());
  generateKeyPair(prefix);
  return prefix;
}

TEST(Signature, TrustedSignatureRunsNativeCodeOthersDoNot) {
  std::vector<uint8_t> code = fakeArtifactBytes();
  if (code.empty())
    GTEST_SKIP() << "EMBER_TEST_CPU_ARTIFACT is not set (run under Bazel)";
  std::string alice = makeKeys("alice"), mallory = makeKeys("mallory");
  std::vector<SectionData> parts = nativeSections(code);
  parts.push_back({SectionKind::Signature, "signature",
                   signSections(parts, readSecretKey(alice + ".key"))});
  auto file = fileOf(parts, "signed.ember");
  EXPECT_EQ(file->formatVersion(), 2u);

  LoadOptions trusting;
  trusting.trustedKeys = {alice + ".pub"};
  Model model = Model::fromFile(file, trusting);
  EXPECT_EQ(model.executableKind(), "cpu-native");
  EXPECT_EQ(model.nativeNote(), "");
  expectForward(model, 5, 1);

  // Signed, but by a key this caller does not trust: the portable program.
  WithFakeCompiler fake;
  LoadOptions other;
  other.trustedKeys = {mallory + ".pub"};
  Model fallback = Model::fromFile(file, other);
  EXPECT_EQ(fallback.executableKind(), "fake");
  EXPECT_NE(fallback.nativeNote().find("signed by key " +
                                       readPublicKey(alice + ".pub").id() +
                                       ", which is not trusted"),
            std::string::npos)
      << fallback.nativeNote();

  // EMBER_TRUSTED_KEYS is the user's trust store (a key file or a folder).
  ::setenv("EMBER_TRUSTED_KEYS", (mallory + ".pub:" + alice + ".pub").c_str(), 1);
  EXPECT_EQ(Model::fromFile(file).executableKind(), "cpu-native");
  ::setenv("EMBER_TRUSTED_KEYS", (::testing::TempDir() + "/no-such-key.pub").c_str(), 1);
  EXPECT_NE(errorOf([&] { Model::fromFile(file); }).find("cannot read key file"),
            std::string::npos);
  ::unsetenv("EMBER_TRUSTED_KEYS");

  // Any section changed after signing (checksums recomputed, as an attacker
  // would): the signature no longer matches, and the file is refused.
  for (size_t changed : {size_t(0), size_t(1), size_t(2), size_t(3)}) {
    std::vector<SectionData> tampered = parts;
    if (changed == 0) // the manifest: still the same JSON value
      tampered[0].bytes.insert(tampered[0].bytes.end() - 1, ' ');
    else if (changed == 3) // the code
      tampered[3].bytes.back() ^= 1;
    else
      tampered[changed].bytes[0] ^= 1;
    if (changed == 3) { // keep the manifest's checksum in step with the code
      std::string manifest(tampered[0].bytes.begin(), tampered[0].bytes.end());
      std::string old = checksumHex(xxhash64(code.data(), code.size()));
      manifest.replace(manifest.find(old), 16,
                       checksumHex(xxhash64(tampered[3].bytes.data(), tampered[3].bytes.size())));
      tampered[0].bytes = bytesOf(manifest);
    }
    std::string message = errorOf([&] { Model::fromFile(fileOf(tampered, "t.ember"), trusting); });
    EXPECT_NE(message.find("t.ember: signature: does not match the contents (the file was "
                           "changed after it was signed"),
              std::string::npos)
        << "section " << changed << ": " << message;
  }
  // A signature section in a version-1 file is an unknown kind there.
  std::vector<uint8_t> bytes = buildModelImage(parts);
  bytes[8] = 1;
  write64(bytes, 56, xxhash64(bytes.data(), 56));
  EXPECT_NE(openError(bytes).find("unknown kind 5 for format version 1"), std::string::npos);
}

TEST(Signature, KeyFilesAreCheckedAndNeverOverwritten) {
  std::string prefix = makeKeys("bob");
  struct stat info;
  ASSERT_EQ(stat((prefix + ".key").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  EXPECT_NE(errorOf([&] { generateKeyPair(prefix); }).find("never overwritten"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { readSecretKey(prefix + ".pub"); }).find("is not an ember key file"),
            std::string::npos);
  std::string bad = ::testing::TempDir() + "/bad.pub";
  std::ofstream(bad) << "ember-ed25519-public-key 12zz\n";
  EXPECT_NE(errorOf([&] { readPublicKey(bad); }).find("must be 64 hex digits"),
            std::string::npos);
}

/// The fake artifact with its dynamic entry `tag` rewritten to `replacement`
/// (or a program header's flags or'ed with PF_X when `tag` is PT_GNU_STACK).
std::vector<uint8_t> patchedElf(std::vector<uint8_t> code, int64_t tag, int64_t replacement,
                                std::optional<uint64_t> value = std::nullopt) {
  Elf64_Ehdr header;
  std::memcpy(&header, code.data(), sizeof(header));
  for (unsigned i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr phdr;
    size_t at = header.e_phoff + i * sizeof(phdr);
    std::memcpy(&phdr, code.data() + at, sizeof(phdr));
    if (tag == PT_GNU_STACK && phdr.p_type == PT_GNU_STACK) {
      phdr.p_flags |= PF_X;
      std::memcpy(code.data() + at, &phdr, sizeof(phdr));
      return code;
    }
    if (phdr.p_type != PT_DYNAMIC)
      continue;
    for (size_t off = phdr.p_offset; off + sizeof(Elf64_Dyn) <= phdr.p_offset + phdr.p_filesz;
         off += sizeof(Elf64_Dyn)) {
      Elf64_Dyn entry;
      std::memcpy(&entry, code.data() + off, sizeof(entry));
      if (entry.d_tag == tag) {
        entry.d_tag = replacement;
        if (value)
          entry.d_un.d_val = *value;
        std::memcpy(code.data() + off, &entry, sizeof(entry));
        return code;
      }
    }
  }
  ADD_FAILURE() << "tag " << tag << " not found";
  return code;
}

TEST(Model, NothingFromTheArtifactRunsBeforeItIsInspected) {
  std::vector<uint8_t> code = fakeArtifactBytes();
  if (code.empty())
    GTEST_SKIP() << "EMBER_TEST_CPU_ARTIFACT is not set (run under Bazel)";
  auto errorFor = [&](const std::vector<uint8_t> &object) {
    return errorOf([&] { Model::fromFile(nativeModel(object), unsignedNative()); });
  };
  const std::string refused = "native.ember: native artifact 'artifact.cpu': refusing to load it: ";
  EXPECT_EQ(errorFor(patchedElf(code, DT_HASH, DT_INIT)).substr(0, refused.size() + 27),
            refused + "it has an initialiser (code");
  EXPECT_NE(errorFor(patchedElf(code, DT_HASH, DT_PREINIT_ARRAY)).find("initialiser"),
            std::string::npos);
  EXPECT_NE(errorFor(patchedElf(code, DT_HASH, DT_FINI_ARRAY)).find("finaliser"),
            std::string::npos);
  EXPECT_NE(errorFor(patchedElf(code, DT_HASH, DT_RUNPATH)).find("a library search path"),
            std::string::npos);
  EXPECT_NE(errorFor(patchedElf(code, PT_GNU_STACK, 0)).find("executable stack"),
            std::string::npos);
  // Another dependency than libc and libm (DT_NEEDED naming the string at
  // offset 1 of the string table, a symbol's name).
  std::vector<uint8_t> needing = patchedElf(code, DT_GNU_HASH, DT_NEEDED, 1);
  EXPECT_NE(errorFor(needing).find("refusing to load it: it depends on '"), std::string::npos)
      << errorFor(needing);
  // Truncated before its end of data: a clean error, never a crash. (The
  // section headers at the very end are not used to load it.)
  for (size_t keep : {size_t(10), size_t(64), code.size() / 2})
    EXPECT_NE(errorFor(std::vector<uint8_t>(code.begin(), code.begin() + keep)).find(refused),
              std::string::npos)
        << keep;
}

TEST(Model, ManifestThatDisagreesWithTheCodeIsRefused) {
  std::vector<uint8_t> code = fakeArtifactBytes();
  if (code.empty())
    GTEST_SKIP() << "EMBER_TEST_CPU_ARTIFACT is not set (run under Bazel)";
  const std::string refused = "native.ember: native artifact 'artifact.cpu': refusing to load it: ";
  auto errorWith = [&](const std::string &from, const std::string &to) {
    std::string manifest = kManifest;
    manifest.replace(manifest.find(from), from.size(), to);
    return errorOf(
        [&] { Model::fromFile(fileOf(nativeSections(code, {}, manifest)), unsignedNative()); });
  };
  EXPECT_EQ(errorWith(R"("weights": ["w", "b"])", R"("weights": ["b", "w"])"),
            refused + "entry 'forward': the manifest lists other weights, or in another "
                      "order, than the code was compiled with");
  EXPECT_NE(errorWith(R"("weights": ["w", "b"])", R"("weights": ["w"])").find(refused + "entry 'forward': the code takes 3 arguments"),
            std::string::npos);
  EXPECT_EQ(errorWith(R"("name": "y", "dtype": "float32")", R"("name": "y", "dtype": "float64")"),
            refused + "entry 'forward': output 'y' is [batch, 4] float64 in the manifest but "
                      "[?, 4] float32 in the code");
  EXPECT_EQ(errorWith(R"("shape": ["batch", 4]},)", R"("shape": ["batch", 11]},)"),
            refused + "entry 'forward': output 'y' is [batch, 11] float32 in the manifest but "
                      "[?, 4] float32 in the code");
  EXPECT_EQ(errorWith(R"("dtype": "float32", "shape": [4], "offset": 0)",
                      R"("dtype": "float32", "shape": [2, 2], "offset": 0)"),
            refused + "entry 'forward': weight 0 ('w') does not have the code's [4] float32");
  // Another program section than the one the code was compiled from.
  std::vector<SectionData> parts = nativeSections(code);
  parts[1].bytes = bytesOf("another program");
  EXPECT_NE(errorOf([&] { Model::fromFile(fileOf(parts), unsignedNative()); })
                .find(refused + "the code was compiled from another program"),
            std::string::npos);
}

TEST(Model, OutputShapesAreComputedNotTrusted) {
  // The manifest says z is [2*batch - 5]; the code computes [2*batch+1]:
  // the run stops before the code writes past the smaller buffer.
  WithFakeCompiler fake;
  std::string manifest = kManifest;
  const std::string z = R"({"add": 1, "terms": {"batch": 2}})";
  manifest.replace(manifest.find(z), z.size(), R"({"add": -5, "terms": {"batch": 2}})");
  std::vector<uint8_t> bytes = image(manifest);
  Model model = Model::fromFile(ModelFile::fromBytes(bytes.data(), bytes.size(), "m.ember"));
  HostTensor x(ElementType::Float32, {8, 4});
  // Every time: a disagreement is never remembered as checked.
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(errorOf([&] { model.forward({x}); }),
              "entry 'forward': output 'z': the manifest says [11] for these inputs but the "
              "program computes [17] (the file is inconsistent; re-export the model)");
  std::vector<uint8_t> code = fakeArtifactBytes();
  if (code.empty())
    return;
  // The same through native code.
  std::string native = withCpuArtifact(code);
  native.replace(native.find(z), z.size(), R"({"add": -5, "terms": {"batch": 2}})");
  std::vector<SectionData> parts = sections(native);
  parts.push_back({SectionKind::Artifact, "artifact.cpu", code});
  Model loaded = Model::fromFile(fileOf(parts), unsignedNative());
  EXPECT_EQ(loaded.executableKind(), "cpu-native");
  EXPECT_NE(errorOf([&] { loaded.forward({x}); }).find("the manifest says [11]"),
            std::string::npos);
}

TEST(Npy, RoundTripsEveryDtype) {
  std::string path = ::testing::TempDir() + "/t.npy";
  for (ElementType type : {ElementType::Bool, ElementType::Int32, ElementType::Int64,
                           ElementType::Float16, ElementType::Float32, ElementType::Float64}) {
    for (std::vector<int64_t> shape : {std::vector<int64_t>{}, {5}, {2, 3}, {0, 2}}) {
      HostTensor t(type, shape);
      for (size_t i = 0; i < t.bytes(); ++i)
        static_cast<uint8_t *>(t.data())[i] = type == ElementType::Bool ? i % 2 : i * 7;
      writeNpy(path, t);
      HostTensor back = readNpy(path);
      EXPECT_EQ(back.describe(), t.describe());
      EXPECT_EQ(std::memcmp(back.data(), t.data(), t.bytes()), 0);
    }
  }
  EXPECT_NE(errorOf([&] { writeNpy(path, HostTensor(ElementType::BFloat16, {2})); })
                .find("no bfloat16 dtype"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { writeNpy(path, HostTensor(ElementType::Int32, std::vector<int64_t>(33, 1))); })
                .find("at most 32 dims"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { writeNpy(path, HostTensor()); }).find("has no data"), std::string::npos);
}

TEST(Npy, ReadsVersions2And3AndNormalizesBools) {
  std::string header = "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }\n";
  for (char version : {'\x02', '\x03'}) {
    std::string bytes("\x93NUMPY", 6);
    bytes += version;
    bytes += '\0';
    bytes += static_cast<char>(header.size());
    bytes += std::string(3, '\0');
    bytes += header + std::string("\x00\x01\x07", 3);
    HostTensor t = readNpyBytes(bytes.data(), bytes.size(), "v.npy");
    ASSERT_EQ(t.describe(), "[3] bool");
    EXPECT_EQ(t.data<uint8_t>()[0], 0);
    EXPECT_EQ(t.data<uint8_t>()[1], 1);
    EXPECT_EQ(t.data<uint8_t>()[2], 1); // any non-zero byte is true
  }
}

TEST(Npy, RejectsMalformedFiles) {
  auto npy = [](const std::string &header, size_t dataBytes) {
    std::string bytes("\x93NUMPY\x01\x00", 8);
    bytes += static_cast<char>(header.size());
    bytes += '\0';
    return bytes + header + std::string(dataBytes, '\0');
  };
  auto error = [](const std::string &bytes) {
    return errorOf([&] { readNpyBytes(bytes.data(), bytes.size(), "x.npy"); });
  };
  EXPECT_EQ(error(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", 8)), "");
  EXPECT_NE(error("GARBAGE!!!!").find("x.npy: not a .npy file"), std::string::npos);
  EXPECT_NE(error(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", 4))
                .find("truncated .npy data"),
            std::string::npos);
  EXPECT_NE(error(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }\n", 8))
                .find("Fortran-order"),
            std::string::npos);
  EXPECT_NE(error(npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n", 8))
                .find("unsupported .npy dtype '>f4'"),
            std::string::npos);
  EXPECT_NE(error(npy("{'descr': '<f4', 'shape': (2,), }\n", 8)).find("malformed .npy header"),
            std::string::npos);
  EXPECT_NE(error(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,", 8))
                .find("malformed .npy header"),
            std::string::npos);
  std::string longHeader = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", 8);
  longHeader[8] = '\x7f'; // header length beyond the file
  EXPECT_NE(error(longHeader).find("truncated .npy header"), std::string::npos);
}
