//===- CollectiveChecks.h - the engines' argument checks --------*- C++ -*-===//
//
// The argument checks every ember.distributed engine (MPI, NCCL, Gloo) makes
// before a collective, as messages: empty when the argument is valid, else
// what is wrong ("broadcast: rank 3 is outside the group of 2 ranks"). Each
// engine throws them with its own prefix (MPI's and NCCL's name the engine
// and the rank), so one wording serves all three. A library of its own:
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

} // namespace ember::dist

#endif // EMBER_RUNTIME_COLLECTIVECHECKS_H
