//===- CpuArtifact.cpp - loading a model's native CPU code -----------------===//
//
// The artifact is an ELF shared object inside the model file. It is used only
// when its section's checksum equals the one the manifest records, on a host
// with every CPU feature it was compiled for, when the file is signed by a
// trusted key (or the caller allows unsigned native code), and when the
// object passes inspection (ElfImage.h) and its ABI record agrees with the
// manifest (ArtifactAbi.h) — all before dlopen. It is loaded from an
// anonymous memory file (memfd), so nothing is written to disk, and it calls
// the runtime only through data slots `__ember_rt_<name>` that are filled
// here from cpuRuntimeSymbols() — the object has no undefined ember symbols,
// so it loads the same into any process (Python's extension included).
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/ArtifactAbi.h"
#include "ember/Runtime/CpuRuntime.h"
#include "ember/Runtime/ElfImage.h"
#include "ember/Runtime/Model.h"
#include "ember/Runtime/Signature.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dlfcn.h>
#include <map>
#include <sys/mman.h>
#include <unistd.h>

namespace ember {
namespace {

class CpuNativeExecutable : public Executable {
public:
  CpuNativeExecutable(void *handle, int fd) : handle(handle), fd(fd) {}
  ~CpuNativeExecutable() override {
    if (handle)
      dlclose(handle);
    if (fd >= 0)
      close(fd);
  }

  PackedEntry entry(const std::string &name) const override {
    return find(name).first;
  }
  PackedEntry shapeEntry(const std::string &name) const override {
    return find(name).second;
  }
  std::string kind() const override { return "cpu-native"; }

  /// Entry name -> its packed entry and its shape function.
  std::map<std::string, std::pair<PackedEntry, PackedEntry>> entries;

private:
  const std::pair<PackedEntry, PackedEntry> &find(const std::string &name) const {
    auto it = entries.find(name);
    if (it == entries.end())
      throw ModelError("the native code has no entry '" + name + "'");
    return it->second;
  }
  void *handle;
  int fd;
};

bool isX86Host() {
#if defined(__x86_64__)
  return true;
#else
  return false;
#endif
}

} // namespace

std::string untrustedCodeReason(const ModelFile &file, const LoadOptions &options) {
  SignatureCheck signature;
  if (file.find("signature"))
    signature = checkSignature(file, loadTrustedKeys(options.trustedKeys));
  if (signature.state == SignatureState::Trusted || options.allowUnsignedNative)
    return "";
  return (signature.state == SignatureState::Unsigned
              ? "not signed"
              : "signed by key " + signature.signer + ", which is not trusted") +
         ", and unsigned native code was not allowed (sign the file with "
         "`ember-compile FILE --sign KEY.key` and trust KEY.pub through "
         "EMBER_TRUSTED_KEYS or LoadOptions::trustedKeys, or allow it: "
         "ember-run --trust-native, ember.load_model(..., allow_native=True), "
         "LoadOptions::allowUnsignedNative)";
}

std::unique_ptr<Executable> loadCpuArtifact(const ModelFile &file,
                                            const Manifest &manifest,
                                            const LoadOptions &options,
                                            std::string *why) {
  const ArtifactSpec *artifact = manifest.findArtifact("cpu");
  if (!artifact) {
    *why = "the file has no native code (no \"cpu\" artifact)";
    return nullptr;
  }
  const std::string &label = file.label();
  auto fail = [&](const std::string &what) -> void {
    throw ModelError(label + ": native artifact '" + artifact->section + "': " + what);
  };
  if (artifact->format != "elf-shared-object")
    fail("unknown format '" + artifact->format + "'");
  const SectionView *section = file.find(artifact->section);
  if (!section || section->kind != SectionKind::Artifact)
    fail("the section is missing");
  // The section passed its own checksum when the file was opened; the
  // manifest's copy must agree too, or the code is not what was compiled.
  if (artifact->checksum != checksumHex(section->checksum))
    fail("checksum " + checksumHex(section->checksum) +
         " does not match the manifest's " + artifact->checksum +
         "; refusing to run native code from this file (run with the "
         "portable program instead: ember-run --no-native, or "
         "LoadOptions::allowNative = false)");
  if (!isX86Host() || artifact->triple.rfind("x86_64", 0) != 0) {
    *why = "the native code is for " + artifact->triple + ", not this host";
    return nullptr;
  }
  for (const std::string &feature : artifact->features)
    if (!hostSupportsCpuFeature(feature)) {
      *why = "the native code was compiled for " + artifact->cpu +
             " and this CPU lacks " + feature;
      return nullptr;
    }

  // Trust: a checksum anyone can recompute says nothing about who wrote
  // the code. A signature that does not match the contents throws here.
  std::string untrusted = untrustedCodeReason(file, options);
  if (!untrusted.empty()) {
    *why = "the native code is " + untrusted;
    return nullptr;
  }

  // Nothing from the object runs before it is inspected and its ABI checked
  // against the manifest.
  ElfInspection elf;
  ArtifactAbi abi;
  try {
    elf = inspectSharedObject(section->data, section->size);
    if (elf.abiRecord.empty())
      throw ModelError("it carries no ABI record (compiled by an older Ember? run "
                       "ember-compile on the file again)");
    abi = ArtifactAbi::parse(elf.abiRecord);
    checkArtifactAbi(abi, manifest, *artifact, file.find("program")->checksum);
  } catch (const ModelError &error) {
    fail(std::string("refusing to load it: ") + error.what());
  }
  auto definedFunction = [&](const std::string &name) {
    auto it = elf.symbols.find(name);
    return it != elf.symbols.end() && it->second.defined && it->second.function;
  };
  for (const EntrySpec &entry : manifest.entries) {
    const AbiEntry *code = abi.findEntry(entry.name);
    if (!definedFunction(code->symbol) || !definedFunction(code->shapeSymbol))
      fail("entry '" + entry.name + "': the object does not define '" + code->symbol +
           "' and its shape function");
  }
  int count = 0;
  const RuntimeSymbol *symbols = cpuRuntimeSymbols(&count);
  auto runtimeAddress = [&](const std::string &name) -> void * {
    for (int i = 0; i < count; ++i)
      if (name == symbols[i].name)
        return symbols[i].address;
    return nullptr;
  };
  // Every slot the object defines is filled: an empty one would be called.
  for (const auto &[name, symbol] : elf.symbols)
    if (symbol.defined && name.rfind("__ember_rt_", 0) == 0 &&
        std::find(abi.runtimeSlots.begin(), abi.runtimeSlots.end(),
                  name.substr(11)) == abi.runtimeSlots.end())
      fail("the slot " + name + " is not in the code's runtime_slots");
  for (const std::string &name : abi.runtimeSlots) {
    if (!runtimeAddress(name))
      fail("it calls the runtime function '" + name +
           "', which this runtime does not have (compiled by a newer Ember?)");
    auto it = elf.symbols.find("__ember_rt_" + name);
    if (it == elf.symbols.end() || !it->second.defined || it->second.function ||
        it->second.size != sizeof(void *))
      fail("the slot __ember_rt_" + name + " is missing");
  }

  int fd = memfd_create("ember-artifact", MFD_CLOEXEC);
  if (fd < 0)
    fail(std::string("memfd_create failed: ") + std::strerror(errno));
  const uint8_t *cursor = section->data;
  uint64_t left = section->size;
  while (left > 0) {
    ssize_t written = write(fd, cursor, left);
    if (written < 0 && errno == EINTR)
      continue;
    if (written <= 0) {
      close(fd);
      fail(std::string("cannot stage the code: ") + std::strerror(errno));
    }
    cursor += written;
    left -= static_cast<uint64_t>(written);
  }
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *message = dlerror();
    close(fd);
    fail(std::string("dlopen failed: ") + (message ? message : "unknown error"));
  }
  auto executable = std::make_unique<CpuNativeExecutable>(handle, fd);

  for (const std::string &name : abi.runtimeSlots) {
    void **slot = static_cast<void **>(dlsym(handle, ("__ember_rt_" + name).c_str()));
    if (!slot)
      fail("the slot __ember_rt_" + name + " is missing");
    *slot = runtimeAddress(name);
  }
  for (const EntrySpec &entry : manifest.entries) {
    const AbiEntry *code = abi.findEntry(entry.name);
    void *address = dlsym(handle, code->symbol.c_str());
    void *shapes = dlsym(handle, code->shapeSymbol.c_str());
    if (!address || !shapes)
      fail("entry '" + entry.name + "': symbol '" + code->symbol + "' is missing");
    executable->entries[entry.name] = {reinterpret_cast<PackedEntry>(address),
                                       reinterpret_cast<PackedEntry>(shapes)};
  }
  return executable;
}

} // namespace ember
