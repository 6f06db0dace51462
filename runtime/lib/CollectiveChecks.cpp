//===- CollectiveChecks.cpp - the engines' argument checks ----------------===//

#include "ember/Runtime/CollectiveChecks.h"

namespace ember::dist {

std::string rankOutsideGroupMessage(int rank, int groupSize, const char *what) {
  if (rank >= 0 && rank < groupSize)
    return {};
  return std::string(what) + ": rank " + std::to_string(rank) +
         " is outside the group of " + std::to_string(groupSize) + " ranks";
}

std::string sizeMismatchMessage(const Buffer &buffer, size_t expected, const char *what,
                                const char *which) {
  if (buffer.numElements == expected)
    return {};
  return std::string(what) + ": the " + which + " has " +
         std::to_string(buffer.numElements) + " elements, expected " +
         std::to_string(expected);
}

} // namespace ember::dist
