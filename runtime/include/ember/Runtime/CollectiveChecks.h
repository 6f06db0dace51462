//===- CollectiveChecks.h - the engines' argument checks --------*- C++ -*-===//
//
// The argument checks every ember.distributed engine (MPI, NCCL, Gloo) makes
// before a collective, as messages: empty when the argument is valid, else
// what is wrong ("broadcast: rank 3 is outside the group of 2 ranks"). Each
// engine throws them with its own prefix (MPI's and NCCL's name the engine
// and the rank, through RankedChecks), so one wording serves all three. A library of its own:
// only the engines depend on it.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_COLLECTIVECHECKS_H
#define EMBER_RUNTIME_COLLECTIVECHECKS_H

#include "ember/Runtime/Collectives.h"

#include <cstddef>
#include <string>

namespace ember::dist {

/// Empty when 0 <= rank < groupSize; `what` names the call.
std::string rankOutsideGroupMessage(int rank, int groupSize, const char *what);

/// Empty when `buffer` holds `expected` elements; `which` names the buffer
/// of call `what` ("output").
std::string sizeMismatchMessage(const Buffer &buffer, size_t expected, const char *what,
                                const char *which);

/// The base of the engines whose errors name the engine and the caller's
/// rank ("mpi (rank 1 of 4): ...": MPI's and NCCL's communicators): that
/// error, and the checks above thrown as it.
class RankedChecks {
protected:
  RankedChecks(const char *engine, int rank, int size)
      : engine_(engine), rank_(rank), size_(size) {}

  CollectiveError error(const std::string &message) const;
  void checkRank(int peer, const char *what) const;
  void expectSizes(const Buffer &buffer, size_t expected, const char *what,
                   const char *which) const;

  /// A static string ("mpi").
  const char *engine_;
  int rank_, size_;
};

} // namespace ember::dist

#endif // EMBER_RUNTIME_COLLECTIVECHECKS_H
