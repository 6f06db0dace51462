//===- CpuArtifact.cpp - loading a model's native CPU code -----------------===//
//
// The artifact is an ELF shared object inside the model file. It is used only
// when its section's checksum equals the one the manifest records, and only
// on a host with every CPU feature it was compiled for. It is loaded from an
// anonymous memory file (memfd), so nothing is written to disk, and it calls
// the runtime only through data slots `__ember_rt_<name>` that are filled
// here from cpuRuntimeSymbols() — the object has no undefined ember symbols,
// so it loads the same into any process (Python's extension included).
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/CpuRuntime.h"
#include "ember/Runtime/Model.h"

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
    auto it = entries.find(name);
    if (it == entries.end())
      throw ModelError("the native code has no entry '" + name + "'");
    return it->second;
  }
  std::string kind() const override { return "cpu-native"; }

  std::map<std::string, PackedEntry> entries;

private:
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

std::unique_ptr<Executable> loadCpuArtifact(const ModelFile &file,
                                            const Manifest &manifest,
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
  for (const EntrySpec &entry : manifest.entries)
    if (!artifact->entrySymbols.count(entry.name))
      fail("no symbol for entry '" + entry.name + "'");

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

  int count = 0;
  const RuntimeSymbol *symbols = cpuRuntimeSymbols(&count);
  for (const std::string &name : artifact->runtimeSlots) {
    const RuntimeSymbol *symbol = nullptr;
    for (int i = 0; i < count; ++i)
      if (name == symbols[i].name)
        symbol = &symbols[i];
    if (!symbol)
      fail("it calls the runtime function '" + name +
           "', which this runtime does not have (compiled by a newer Ember?)");
    void **slot = static_cast<void **>(dlsym(handle, ("__ember_rt_" + name).c_str()));
    if (!slot)
      fail("the slot __ember_rt_" + name + " is missing");
    *slot = symbol->address;
  }
  for (const EntrySpec &entry : manifest.entries) {
    const std::string &symbolName = artifact->entrySymbols.at(entry.name);
    void *address = dlsym(handle, symbolName.c_str());
    if (!address)
      fail("entry '" + entry.name + "': symbol '" + symbolName + "' is missing");
    executable->entries[entry.name] = reinterpret_cast<PackedEntry>(address);
  }
  return executable;
}

} // namespace ember
