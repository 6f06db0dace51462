//===- Collectives.cpp - engine registry and the async work queue --------===//
//
// The one table engines register in, and the worker threads that run a
// communicator's collectives in issue order (torch's ProcessGroup queue):
// every rank must issue collectives in the same order, so blocking and
// asynchronous calls share one queue per communicator.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/Collectives.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

namespace ember::dist {
namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, CommunicatorFactory> factories;
};

Registry &registry() {
  // Never destroyed: engines register from static initializers.
  static Registry *instance = new Registry;
  return *instance;
}

/// A Work whose result a worker sets once.
class QueuedWork : public Work {
public:
  void finish(std::exception_ptr error) {
    std::lock_guard<std::mutex> lock(mutex);
    this->error = error;
    done = true;
    changed.notify_all();
  }
  void wait() override {
    std::unique_lock<std::mutex> lock(mutex);
    changed.wait(lock, [&] { return done; });
    if (error)
      std::rethrow_exception(error);
  }
  bool isCompleted() override {
    std::lock_guard<std::mutex> lock(mutex);
    return done;
  }

private:
  std::mutex mutex;
  std::condition_variable changed;
  bool done = false;
  std::exception_ptr error;
};

/// Runs `operation` and records its outcome in `work`.
void runInto(QueuedWork &work, const std::function<void()> &operation) {
  try {
    operation();
    work.finish(nullptr);
  } catch (...) {
    work.finish(std::current_exception());
  }
}

/// One communicator's ordered queue and the thread that drains it.
class Worker {
public:
  Worker() : thread([this] { loop(); }) {}
  ~Worker() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
      changed.notify_all();
    }
    thread.join();
  }

  std::shared_ptr<Work> push(std::function<void()> operation) {
    auto work = std::make_shared<QueuedWork>();
    std::lock_guard<std::mutex> lock(mutex);
    queue.emplace_back(work, std::move(operation));
    changed.notify_all();
    return work;
  }

  /// Runs `operation` on the calling thread when nothing is queued or
  /// running (two thread switches per call saved), else queues it and waits.
  void runInOrder(const std::function<void()> &operation) {
    std::shared_ptr<Work> queued;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (busy || !queue.empty()) {
        auto work = std::make_shared<QueuedWork>();
        queue.emplace_back(work, operation);
        changed.notify_all();
        queued = work;
      } else {
        busy = true;
      }
    }
    if (queued)
      return queued->wait();
    struct Done {
      Worker &w;
      ~Done() {
        std::lock_guard<std::mutex> lock(w.mutex);
        w.busy = false;
        w.changed.notify_all();
      }
    } done{*this};
    operation();
  }

private:
  void loop() {
    for (;;) {
      std::pair<std::shared_ptr<QueuedWork>, std::function<void()>> next;
      {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] { return (stopping || !queue.empty()) && !busy; });
        // Drain what was issued before stopping: its handles are waited on.
        if (queue.empty())
          return;
        next = std::move(queue.front());
        queue.pop_front();
        busy = true;
      }
      runInto(*next.first, next.second);
      std::lock_guard<std::mutex> lock(mutex);
      busy = false;
      changed.notify_all();
    }
  }

  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::pair<std::shared_ptr<QueuedWork>, std::function<void()>>> queue;
  bool stopping = false;
  /// An operation runs (on the worker or inline on a caller).
  bool busy = false;
  std::thread thread;
};

struct Workers {
  std::mutex mutex;
  std::map<const Communicator *, std::unique_ptr<Worker>> byCommunicator;
};

Workers &workers() {
  static Workers *instance = new Workers;
  return *instance;
}

} // namespace

void registerBackend(const std::string &name, CommunicatorFactory factory) {
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.factories[name] = std::move(factory);
}

std::vector<std::string> availableBackends() {
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> names;
  for (const auto &entry : r.factories)
    names.push_back(entry.first);
  return names;
}

std::unique_ptr<Communicator> createCommunicator(const CommunicatorOptions &options) {
  CommunicatorFactory factory;
  {
    Registry &r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    auto it = r.factories.find(options.backend);
    if (it != r.factories.end())
      factory = it->second;
  }
  if (!factory) {
    std::string known;
    for (const std::string &name : availableBackends())
      known += (known.empty() ? "" : ", ") + name;
    throw CollectiveError("Invalid backend: '" + options.backend +
                          "' is not available in this build (available: " +
                          (known.empty() ? "none" : known) + ")");
  }
  return factory(options);
}

/// The communicator's worker, started on first use.
static Worker &workerOf(Communicator &communicator) {
  Workers &w = workers();
  std::lock_guard<std::mutex> lock(w.mutex);
  std::unique_ptr<Worker> &slot = w.byCommunicator[&communicator];
  if (!slot)
    slot = std::make_unique<Worker>();
  return *slot;
}

std::shared_ptr<Work> runAsync(Communicator &communicator,
                               std::function<void()> collective) {
  return workerOf(communicator).push(std::move(collective));
}

void runInOrder(Communicator &communicator, const std::function<void()> &collective) {
  workerOf(communicator).runInOrder(collective);
}

std::shared_ptr<Work> runDetached(std::function<void()> operation) {
  auto work = std::make_shared<QueuedWork>();
  std::thread([work, operation = std::move(operation)] {
    runInto(*work, operation);
  }).detach();
  return work;
}

void finishAsync(Communicator &communicator) {
  std::unique_ptr<Worker> worker;
  {
    Workers &w = workers();
    std::lock_guard<std::mutex> lock(w.mutex);
    auto it = w.byCommunicator.find(&communicator);
    if (it == w.byCommunicator.end())
      return;
    worker = std::move(it->second);
    w.byCommunicator.erase(it);
  }
  worker.reset(); // drains the queue and joins the thread
}

} // namespace ember::dist
