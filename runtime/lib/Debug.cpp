//===- Debug.cpp - EMBER_DEBUG and the diagnostic-output switches ---------===//
//
// Reads EMBER_DEBUG and the finer knobs once, at the first question.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/Debug.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ember {
namespace {

int parseDebugLevel() {
  const char *text = std::getenv("EMBER_DEBUG");
  if (!text || !*text)
    return 0;
  int level = 0;
  for (const char *c = text; *c; ++c) {
    if (*c < '0' || *c > '9') {
      std::fprintf(stderr,
                   "ember: ignoring EMBER_DEBUG=%s (expected a level from 0 to %d)\n",
                   text, kMaxDebugLevel);
      return 0;
    }
    level = level * 10 + (*c - '0');
    if (level > kMaxDebugLevel)
      level = kMaxDebugLevel;
  }
  return level;
}

/// EMBER_LOG_COMPILES and EMBER_COMPILE_TIMING: set, and not "" or "0".
bool flagKnob(const char *name) {
  const char *value = std::getenv(name);
  return value && *value && std::strcmp(value, "0") != 0;
}

/// EMBER_DUMP_GRAPHS and EMBER_DUMP_GPU: set, to anything.
bool presenceKnob(const char *name) { return std::getenv(name) != nullptr; }

/// EMBER_DUMP_GRAPHS prints IR unless it names a folder (a value with a
/// '/', or a folder that exists), where the frontend writes a picture per
/// graph instead (frontend/lib/GraphDump.cpp).
bool dumpGraphsKnob() {
  const char *value = std::getenv("EMBER_DUMP_GRAPHS");
  if (!value)
    return false;
  struct stat info;
  return !std::strchr(value, '/') && !(stat(value, &info) == 0 && S_ISDIR(info.st_mode));
}

struct DebugSettings {
  int level;
  bool logCompiles, compileTiming, dumpGraphs, dumpGpu;
};

const DebugSettings &settings() {
  static const DebugSettings settings{parseDebugLevel(), flagKnob("EMBER_LOG_COMPILES"),
                                      flagKnob("EMBER_COMPILE_TIMING"),
                                      dumpGraphsKnob(),
                                      presenceKnob("EMBER_DUMP_GPU")};
  return settings;
}

} // namespace

int debugLevel() { return settings().level; }

bool debugEnabled(DebugTopic topic) {
  const DebugSettings &s = settings();
  switch (topic) {
  case DebugTopic::Compiles:
    return s.level >= 1 || s.logCompiles;
  case DebugTopic::CacheHits:
    return s.level >= 2;
  case DebugTopic::CompilePhases:
    return s.level >= 2 || s.compileTiming;
  case DebugTopic::CompileDetails:
    return s.level >= 3 || s.compileTiming;
  case DebugTopic::KernelReuse:
    return s.level >= 3;
  case DebugTopic::Graphs:
    return s.level >= 4 || s.dumpGraphs;
  case DebugTopic::GpuModules:
    return s.level >= 4 || s.dumpGpu;
  }
  return false;
}

} // namespace ember
