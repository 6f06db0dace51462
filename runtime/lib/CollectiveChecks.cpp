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

CollectiveError RankedChecks::error(const std::string &message) const {
  return CollectiveError(std::string(engine_) + " (rank " +
                         std::to_string(rank_) + " of " +
                         std::to_string(size_) + "): " + message);
}

void RankedChecks::checkRank(int peer, const char *what) const {
  std::string message = rankOutsideGroupMessage(peer, size_, what);
  if (!message.empty())
    throw error(message);
}

void RankedChecks::expectSizes(const Buffer &buffer, size_t expected,
                               const char *what, const char *which) const {
  std::string message = sizeMismatchMessage(buffer, expected, what, which);
  if (!message.empty())
    throw error(message);
}

} // namespace ember::dist
