//===- DynamicLibrary.h - dlopen'd driver libraries -------------*- C++ -*-===//
//
// Each backend opens its driver library at run time and resolves only the
// entry points it calls, listed once in an X-macro table (IREE's
// dynamic_symbol_tables.h idea), so Ember builds and runs on machines
// without any GPU library and reports a missing one by name.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_GPU_DYNAMICLIBRARY_H
#define EMBER_RUNTIME_GPU_DYNAMICLIBRARY_H

#include "ember/Runtime/Gpu/Device.h"

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ember {
namespace gpu {

/// A dlopen'd library, closed when the last reference goes.
class DynamicLibrary {
public:
  /// Opens the library named by the environment variable `envOverride` when
  /// set, else the first of `names` that loads. Throws
  /// DeviceUnavailableError "<backend> is not available: <name> not found
  /// (<installHint>)" when none does.
  static std::shared_ptr<DynamicLibrary>
  open(Backend backend, const char *envOverride,
       const std::vector<std::string> &names, const char *installHint);
  ~DynamicLibrary();

  /// The address of `name`; throws DeviceUnavailableError naming the
  /// library and the symbol when it is missing.
  void *symbol(const char *name) const;
  const std::string &name() const { return libraryName; }

private:
  DynamicLibrary(Backend backend, void *handle, std::string name)
      : backend(backend), handle(handle), libraryName(std::move(name)) {}
  Backend backend;
  void *handle;
  std::string libraryName;
};

/// Runs `load` (returning std::unique_ptr<Api>) once per process. Later
/// calls return the same tables or throw the same DeviceUnavailableError,
/// so a missing driver costs one dlopen, not one per call.
template <typename Api, typename Load>
const Api &loadApiOnce(Backend backend, Load load) {
  static std::once_flag once;
  static std::unique_ptr<Api> api;
  static std::string reason;
  std::call_once(once, [&] {
    try {
      api = load();
    } catch (const DeviceUnavailableError &error) {
      reason = error.reason();
    } catch (const std::exception &error) {
      reason = error.what();
    }
  });
  if (!api)
    throw DeviceUnavailableError(backend, reason);
  return *api;
}

/// Declares one function-pointer member per X-macro entry
/// `X(name, returnType, parameterTypes...)`.
#define EMBER_GPU_DECLARE_SYMBOL(name, ret, ...) ret (*name)(__VA_ARGS__) = nullptr;
/// Resolves one X-macro entry into `api.name` from `library`.
#define EMBER_GPU_RESOLVE_SYMBOL(name, ret, ...)                               \
  api->name = reinterpret_cast<decltype(api->name)>(library->symbol(#name));

} // namespace gpu
} // namespace ember

#endif // EMBER_RUNTIME_GPU_DYNAMICLIBRARY_H
