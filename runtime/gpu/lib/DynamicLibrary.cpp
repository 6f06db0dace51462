//===- DynamicLibrary.cpp - dlopen'd driver libraries ----------------------===//

#include "DynamicLibrary.h"

#include <dlfcn.h>

#include <cstdlib>

namespace ember {
namespace gpu {

std::shared_ptr<DynamicLibrary>
DynamicLibrary::open(Backend backend, const char *envOverride,
                     const std::vector<std::string> &names,
                     const char *installHint) {
  std::vector<std::string> candidates = names;
  const char *override = envOverride ? std::getenv(envOverride) : nullptr;
  if (override && *override)
    candidates = {override};
  std::string lastError;
  for (const std::string &name : candidates) {
    // RTLD_LOCAL: the vendor's symbols must not satisfy anyone else's.
    if (void *handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL))
      return std::shared_ptr<DynamicLibrary>(
          new DynamicLibrary(backend, handle, name));
    const char *error = dlerror();
    lastError = error ? error : "";
  }
  std::string reason = candidates.front() + " not found (" + installHint + ")";
  // A library that exists but does not load (wrong architecture, missing
  // dependency) says why; "cannot open shared object file" is just absence.
  if (!lastError.empty() &&
      lastError.find("No such file or directory") == std::string::npos)
    reason += "; dlopen: " + lastError;
  throw DeviceUnavailableError(backend, reason);
}

DynamicLibrary::~DynamicLibrary() { dlclose(handle); }

void *DynamicLibrary::symbol(const char *name) const {
  if (void *address = dlsym(handle, name))
    return address;
  throw DeviceUnavailableError(backend, libraryName + " has no entry point " +
                                            name + " (driver too old?)");
}

} // namespace gpu
} // namespace ember
