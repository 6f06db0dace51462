//===- ProcessGroups.h - the runtime's table of process groups --*- C++ -*-===//
//
// ember.distributed's process groups by number. The Python API registers
// every communicator it creates (init_process_group, new_group) and keeps
// the number; compiled programs name a group by that number in their
// collective ops (ember.all_reduce's `group`), and the runtime function they
// call (ember_collective_all_reduce_*, CpuCollectives.h) looks it up here.
// One table for both, so that a compiled step and an eager call use the same
// engine handle, in the same queue (runAsync).
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_PROCESSGROUPS_H
#define EMBER_RUNTIME_PROCESSGROUPS_H

#include "ember/Runtime/Collectives.h"

#include <memory>
#include <string>

namespace ember::dist {

/// Adds `communicator` and returns its number (the first is 0, then 1, ...;
/// numbers are never reused within a process, so a stale number in a cached
/// program fails rather than reaching another group).
int registerGroup(std::shared_ptr<Communicator> communicator);
/// The group numbered `id`, or null when it was never registered or was
/// unregistered (destroy_process_group).
std::shared_ptr<Communicator> lookupGroup(int id);
void unregisterGroup(int id);

/// A collective that compiled code ran failed (it cannot throw through
/// generated frames): the first error since the last call, or "" if none.
/// Later collectives of the same program skip while one is pending, so that
/// no rank waits on a peer that already gave up. The frontend calls this
/// after every program and raises the message.
std::string takeCollectiveError();
/// Records `message` as the pending error (the first one wins).
void setCollectiveError(const std::string &message);
bool collectiveErrorPending();

} // namespace ember::dist

#endif // EMBER_RUNTIME_PROCESSGROUPS_H
