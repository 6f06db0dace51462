//===- ModelErrorOf.h - the message a ModelError carries, for tests -*- C++ -*-===//
//
// The runtime suites (model_runtime_test, file_safety_test, and their ASan
// build) assert on what a ModelError says; this is the one helper that
// catches it.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_TEST_UNIT_MODELERROROF_H
#define EMBER_TEST_UNIT_MODELERROROF_H

#include "ember/Runtime/ModelFile.h"

#include <functional>
#include <string>

namespace ember {
namespace test {

/// Runs `body` and returns the ModelError message it throws ("" if none).
inline std::string errorOf(const std::function<void()> &body) {
  try {
    body();
  } catch (const ModelError &error) {
    return error.what();
  }
  return "";
}

} // namespace test
} // namespace ember

#endif // EMBER_TEST_UNIT_MODELERROROF_H
