//===- LaunchTimer.h - device times of one stream's launches -----*- C++ -*-===//
//
// CUDA and HIP time a launch with a pair of timing events recorded around
// it on its stream. While ember.profiler records, a stream's LaunchTimer
// brackets each launch with such a pair and keeps the pairs until their
// work has completed: at the stream's (or device's) next synchronize, at
// the latest, they become profiler spans of category Device, like
// Vulkan's timestamp queries. Reading an event pair never waits for the
// device. When the profiler is off a launch costs one flag load; events
// are made on first use and reused.
//
// Device clocks are not the host's. The first launch timed after the timer
// ran dry anchors the spans that follow it: each launch starts at the
// latest of (anchor's enqueue + its device offset from the anchor, its own
// enqueue on the host, the previous launch's end), all lower bounds of the
// true start, and lasts what the events measured.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_GPU_LAUNCHTIMER_H
#define EMBER_RUNTIME_GPU_LAUNCHTIMER_H

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ember {
namespace gpu {

/// The timing events of one backend on one stream; each call first makes
/// the stream's device current. Events are opaque handles.
class TimingEvents {
public:
  virtual ~TimingEvents();
  /// A new event that records timing; throws DeviceError on failure.
  virtual void *create() = 0;
  virtual void destroy(void *event) = 0;
  /// Records `event` on the stream.
  virtual void record(void *event) = 0;
  /// Whether the work before `event` has completed (never waits).
  virtual bool isComplete(void *event) = 0;
  /// The device time from `from` to `to` in milliseconds; false when the
  /// driver cannot say (then the launch is left out).
  virtual bool elapsedMs(void *from, void *to, float *ms) = 0;
};

class LaunchTimer {
public:
  /// `detail` is every span's argument ("cuda launch").
  LaunchTimer(std::unique_ptr<TimingEvents> events, const char *detail);
  ~LaunchTimer();

  /// A launch's start event and host enqueue time; empty when not timed.
  struct Start {
    void *event = nullptr;
    uint64_t enqueuedNs = 0;
    explicit operator bool() const { return event != nullptr; }
  };
  /// Before a launch: when the profiler is on, records a start event
  /// (after turning completed launches into spans).
  Start begin();
  /// After the launch `start` was begun for: records its end event when
  /// `kernel` names a launch that was enqueued; null (the launch failed)
  /// gives the start event back.
  void end(const Start &start, const std::string *kernel);
  /// Turns the completed launches into profiler spans; `synchronized`: the
  /// stream is idle, so every launch has completed.
  void collect(bool synchronized = false);

  LaunchTimer(const LaunchTimer &) = delete;
  LaunchTimer &operator=(const LaunchTimer &) = delete;

private:
  struct Launch {
    void *start, *end;
    std::string kernel;
    uint64_t enqueuedNs;
  };
  /// Callers of these hold `mutex`.
  void *takeEvent();
  void giveBack(void *event);
  void recordSpan(const Launch &launch);

  std::unique_ptr<TimingEvents> events;
  const char *detail;
  std::mutex mutex;
  std::deque<Launch> pending;
  std::atomic<size_t> pendingCount{0};
  std::vector<void *> spare;
  /// The anchor launch's start event and its enqueue time (null: none).
  void *anchor = nullptr;
  uint64_t anchorNs = 0, lastEndNs = 0;
};

} // namespace gpu
} // namespace ember

#endif // EMBER_RUNTIME_GPU_LAUNCHTIMER_H
