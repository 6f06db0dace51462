//===- LaunchTimer.cpp - device times of one stream's launches ------------===//

#include "LaunchTimer.h"

#include "ember/Runtime/Profiler.h"

#include <algorithm>
#include <set>

namespace ember {
namespace gpu {

namespace {
/// Launches waiting for their device times, at most: past it (a host far
/// ahead of the device), launches go untimed rather than grow the list.
constexpr size_t kMaxPending = 4096;

uint64_t msToNs(float ms) { return ms <= 0 ? 0 : uint64_t(double(ms) * 1e6 + 0.5); }
} // namespace

TimingEvents::~TimingEvents() = default;

LaunchTimer::LaunchTimer(std::unique_ptr<TimingEvents> events, const char *detail)
    : events(std::move(events)), detail(detail) {}

LaunchTimer::~LaunchTimer() {
  std::set<void *> all(spare.begin(), spare.end());
  for (const Launch &launch : pending) {
    all.insert(launch.start);
    all.insert(launch.end);
  }
  if (anchor)
    all.insert(anchor);
  for (void *event : all)
    events->destroy(event);
}

void *LaunchTimer::takeEvent() {
  if (spare.empty())
    return events->create();
  void *event = spare.back();
  spare.pop_back();
  return event;
}

void LaunchTimer::giveBack(void *event) { spare.push_back(event); }

LaunchTimer::Start LaunchTimer::begin() {
  if (!profiler::enabled())
    return {};
  collect();
  std::lock_guard<std::mutex> lock(mutex);
  if (pending.size() >= kMaxPending)
    return {};
  Start start;
  start.enqueuedNs = profiler::nowNs();
  start.event = takeEvent();
  try {
    events->record(start.event);
  } catch (...) {
    giveBack(start.event);
    throw;
  }
  if (!anchor && pending.empty()) {
    anchor = start.event;
    anchorNs = start.enqueuedNs;
  }
  return start;
}

void LaunchTimer::end(const Start &start, const std::string *kernel) {
  if (!start)
    return;
  std::lock_guard<std::mutex> lock(mutex);
  void *endEvent = nullptr;
  if (kernel) {
    try {
      endEvent = takeEvent();
      events->record(endEvent);
    } catch (...) {
      // The launch was enqueued; only its time is lost.
      if (endEvent)
        giveBack(endEvent);
      endEvent = nullptr;
    }
  }
  if (!endEvent) {
    if (start.event != anchor) {
      giveBack(start.event);
    } else if (pending.empty()) {
      anchor = nullptr;
      giveBack(start.event);
    }
    return;
  }
  pending.push_back({start.event, endEvent, *kernel, start.enqueuedNs});
  pendingCount.store(pending.size(), std::memory_order_relaxed);
}

void LaunchTimer::collect(bool synchronized) {
  if (!pendingCount.load(std::memory_order_relaxed))
    return;
  std::lock_guard<std::mutex> lock(mutex);
  // Spans are kept only while the profiler records; after it stopped the
  // pairs are just given back.
  bool recording = profiler::enabled();
  while (!pending.empty()) {
    Launch &launch = pending.front();
    // One stream runs in order: the first incomplete launch ends the scan.
    if (!synchronized && !events->isComplete(launch.end))
      break;
    if (recording)
      recordSpan(launch);
    if (launch.start != anchor)
      giveBack(launch.start);
    giveBack(launch.end);
    pending.pop_front();
  }
  pendingCount.store(pending.size(), std::memory_order_relaxed);
  if (pending.empty() && anchor) {
    giveBack(anchor);
    anchor = nullptr;
  }
}

void LaunchTimer::recordSpan(const Launch &launch) {
  float durationMs = 0, offsetMs = 0;
  if (!events->elapsedMs(launch.start, launch.end, &durationMs))
    return;
  uint64_t startNs = std::max(launch.enqueuedNs, lastEndNs);
  if (anchor && anchor != launch.start && events->elapsedMs(anchor, launch.start, &offsetMs))
    startNs = std::max(startNs, anchorNs + msToNs(offsetMs));
  profiler::Event event;
  event.name = launch.kernel;
  event.category = profiler::Category::Device;
  event.startNs = startNs;
  event.endNs = startNs + msToNs(durationMs);
  event.detail = detail;
  lastEndNs = event.endNs;
  profiler::record(std::move(event));
}

} // namespace gpu
} // namespace ember
