//===- Backend.cpp - backend names ----------------------------------------===//

#include "ember/Runtime/Backend.h"

namespace ember {

// The table is indexed by the enum's value.
static_assert(
    [] {
      for (int i = 0; i < kNumBackends; ++i)
        if (static_cast<int>(kBackends[i].backend) != i)
          return false;
      return true;
    }(),
    "kBackends must list the backends in enum order");

bool parseBackendName(const std::string &name, Backend *backend) {
  for (const BackendInfo &info : kBackends)
    if (name == info.name) {
      *backend = info.backend;
      return true;
    }
  return false;
}

bool parseDeviceType(const std::string &type, Backend *backend) {
  for (const BackendInfo &info : kBackends)
    if (type == info.deviceType) {
      *backend = info.backend;
      return true;
    }
  return false;
}

bool parseAnyBackendSpelling(const std::string &text, Backend *backend) {
  for (const BackendInfo &info : kBackends) {
    std::string target = info.targetPrefix;
    if (!target.empty() && target.back() == ':')
      target.pop_back();
    if (text == info.name || text == info.deviceType || text == target) {
      *backend = info.backend;
      return true;
    }
  }
  return false;
}

} // namespace ember
