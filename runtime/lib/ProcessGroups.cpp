//===- ProcessGroups.cpp - the runtime's table of process groups ----------===//

#include "ember/Runtime/ProcessGroups.h"

#include <atomic>
#include <map>
#include <mutex>

namespace ember::dist {
namespace {

struct Table {
  std::mutex mutex;
  std::map<int, std::shared_ptr<Communicator>> groups;
  int next = 0;
  std::string error;
  std::atomic<bool> pending{false};
};

Table &table() {
  // Never destroyed: communicators may outlive static destruction order.
  static Table *instance = new Table;
  return *instance;
}

} // namespace

int registerGroup(std::shared_ptr<Communicator> communicator) {
  Table &t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  int id = t.next++;
  t.groups[id] = std::move(communicator);
  return id;
}

std::shared_ptr<Communicator> lookupGroup(int id) {
  Table &t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  auto it = t.groups.find(id);
  return it == t.groups.end() ? nullptr : it->second;
}

void unregisterGroup(int id) {
  Table &t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  t.groups.erase(id);
}

std::string takeCollectiveError() {
  Table &t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  std::string error;
  error.swap(t.error);
  t.pending = false;
  return error;
}

void setCollectiveError(const std::string &message) {
  Table &t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  if (!t.pending) {
    t.error = message;
    t.pending = true;
  }
}

bool collectiveErrorPending() { return table().pending; }

} // namespace ember::dist
