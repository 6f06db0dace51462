"""ember.profiler: torch.profiler's API over Ember's runtime recorder.

``profile`` records spans while it is active: each traced op (``trace``),
compile-cache lookups (``cache``: memory and disk, hit or miss), each graph
compile (``compile``) with its phases and MLIR passes (``pass``), each
compiled program run (``run``) and, inside it, each CPU kernel (``kernel``),
GPU dispatches timed on the device (``device``), host<->device copies
(``copy``), allocations (``memory``, with ``profile_memory=True``) and
``record_function`` spans (``user``). The recorder lives in the C++ runtime
(runtime/lib/Profiler.cpp): a buffer per thread, and one relaxed atomic load
per hook when no profiler is active. docs/profiling.md shows a trace.
"""

import contextlib
import enum
import json
import os
import time

from ember import _ember

__all__ = ["ProfilerActivity", "ProfilerAction", "profile", "record_function",
           "schedule", "tensorboard_trace_handler", "FunctionEvent",
           "FunctionEventAvg", "EventList"]


class ProfilerActivity(enum.Enum):
    """What a profile records: CPU work (always), and the GPU devices'
    dispatch times where a device reports them."""
    CPU = 0
    CUDA = 1
    XPU = 2
    DEVICE = 3


class ProfilerAction(enum.Enum):
    """What a ``schedule`` asks of the profiler at a step."""
    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def schedule(*, wait, warmup, active, repeat=0, skip_first=0):
    """torch.profiler.schedule: skip ``skip_first`` steps, then cycles of
    ``wait`` idle steps, ``warmup`` steps recorded and thrown away (compiles
    of the profiled programs happen here), and ``active`` recorded steps, the
    last of which hands the trace to ``on_trace_ready``; ``repeat`` cycles
    (0: for ever)."""
    if wait < 0 or warmup < 0 or active <= 0 or repeat < 0 or skip_first < 0:
        raise ValueError("schedule: wait, warmup, repeat and skip_first must be >= 0 "
                         "and active > 0")

    def schedule_fn(step):
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        cycle = wait + warmup + active
        if repeat > 0 and step // cycle >= repeat:
            return ProfilerAction.NONE
        at = step % cycle
        if at < wait:
            return ProfilerAction.NONE
        if at < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if at < cycle - 1 else ProfilerAction.RECORD_AND_SAVE

    return schedule_fn


def tensorboard_trace_handler(dir_name, worker_name=None, use_gzip=False):
    """An ``on_trace_ready`` that writes each trace to ``dir_name`` as
    ``<worker>.<ms>.pt.trace.json`` (``.gz`` with ``use_gzip``), the names
    TensorBoard's profiler plugin and Perfetto open."""

    def handler(prof):
        import socket
        os.makedirs(dir_name, exist_ok=True)
        worker = worker_name or f"{socket.gethostname()}_{os.getpid()}"
        path = os.path.join(dir_name, f"{worker}.{time.time_ns() // 1000000}.pt.trace.json")
        if use_gzip:
            path += ".gz"
        prof.export_chrome_trace(path)

    return handler


class record_function(contextlib.ContextDecorator):
    """A named span around a block (``with record_function("x"):``) or a
    function (``@record_function("x")``); free when no profiler records."""

    def __init__(self, name, args=None):
        self.name = name
        self.args = args
        self._start = 0

    def __enter__(self):
        self._start = _ember._profiler_now_ns() if _ember._profiler_enabled() else 0
        return self

    def __exit__(self, *exc):
        if self._start:
            _ember._profiler_record_user(self.name, self._start)
        return False


class FunctionEvent:
    """One span: times in microseconds, as torch's FunctionEvent."""

    __slots__ = ("name", "category", "start_us", "end_us", "thread", "detail",
                 "self_cpu_time_total", "cpu_memory_usage", "self_cpu_memory_usage",
                 "input_shapes", "children", "parent", "id")

    def __init__(self, name, category, start_us, end_us, thread, detail):
        self.name = name
        self.category = category
        self.start_us = start_us
        self.end_us = end_us
        self.thread = thread
        self.detail = detail
        self.self_cpu_time_total = end_us - start_us
        self.cpu_memory_usage = 0
        self.self_cpu_memory_usage = 0
        self.input_shapes = _shapes_of(detail) if category == "trace" else ""
        self.children = []
        self.parent = None
        self.id = 0

    @property
    def device_type(self):
        return "device" if self.category == "device" else "cpu"

    @property
    def is_device(self):
        return self.category == "device"

    @property
    def cpu_time_total(self):
        return 0.0 if self.is_device else self.end_us - self.start_us

    @property
    def device_time_total(self):
        return self.end_us - self.start_us if self.is_device else 0.0

    @property
    def self_device_time_total(self):
        return self.device_time_total

    cuda_time_total = device_time_total
    self_cuda_time_total = self_device_time_total

    @property
    def time_range(self):
        return (self.start_us, self.end_us)

    def __repr__(self):
        return (f"<FunctionEvent {self.name!r} cat={self.category} "
                f"start={self.start_us:.1f}us dur={self.end_us - self.start_us:.1f}us "
                f"thread={self.thread}>")


def _shapes_of(detail):
    # The tracer's detail with record_shapes: "shapes [[2, 3], [3]]".
    if detail.startswith("shapes "):
        return detail[len("shapes "):].split(" at ")[0]
    return ""


class FunctionEventAvg:
    """The events of one name (and input shapes) together."""

    def __init__(self, key, input_shapes=""):
        self.key = key
        self.input_shapes = input_shapes
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.device_time_total = 0.0
        self.self_device_time_total = 0.0
        self.cpu_memory_usage = 0
        self.self_cpu_memory_usage = 0
        self.category = ""

    def add(self, event):
        self.count += 1
        self.category = event.category
        self.cpu_time_total += event.cpu_time_total
        self.self_cpu_time_total += 0.0 if event.is_device else event.self_cpu_time_total
        self.device_time_total += event.device_time_total
        self.self_device_time_total += event.self_device_time_total
        self.cpu_memory_usage += event.cpu_memory_usage
        self.self_cpu_memory_usage += event.self_cpu_memory_usage

    @property
    def cpu_time(self):
        return self.cpu_time_total / self.count if self.count else 0.0

    @property
    def device_time(self):
        return self.device_time_total / self.count if self.count else 0.0

    cuda_time_total = property(lambda self: self.device_time_total)
    self_cuda_time_total = property(lambda self: self.self_device_time_total)

    def __repr__(self):
        return (f"<FunctionEventAvg {self.key!r} count={self.count} "
                f"cpu_total={self.cpu_time_total:.1f}us self={self.self_cpu_time_total:.1f}us>")


def _format_time(us):
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


def _format_bytes(n):
    sign = "-" if n < 0 else ""
    n = abs(n)
    for unit, size in (("Gb", 1 << 30), ("Mb", 1 << 20), ("Kb", 1 << 10)):
        if n >= size:
            return f"{sign}{n / size:.2f} {unit}"
    return f"{sign}{n} b"


_SORT_KEYS = {
    "cpu_time_total", "self_cpu_time_total", "cpu_time", "count", "cpu_memory_usage",
    "self_cpu_memory_usage", "device_time_total", "self_device_time_total",
    "cuda_time_total", "self_cuda_time_total", "device_time",
}


class EventList(list):
    """A list of events (or of averages, from key_averages) with torch's
    ``table``."""

    def __init__(self, items=(), profile_memory=False, with_shapes=False):
        super().__init__(items)
        self._profile_memory = profile_memory
        self._with_shapes = with_shapes

    def key_averages(self, group_by_input_shape=False):
        groups = {}
        for event in self:
            key = (event.name, event.input_shapes if group_by_input_shape else "")
            if key not in groups:
                groups[key] = FunctionEventAvg(*key)
            groups[key].add(event)
        return EventList(groups.values(), self._profile_memory,
                         group_by_input_shape)

    def table(self, sort_by=None, row_limit=100, max_name_column_width=55, header=None,
              top_level_events_only=False):
        """torch's table: one row per entry, sorted by ``sort_by`` (largest
        first), at most ``row_limit`` rows."""
        rows = list(self)
        if sort_by is not None:
            if sort_by not in _SORT_KEYS:
                raise ValueError(f"sort_by: unknown key {sort_by!r}; one of "
                                 f"{', '.join(sorted(_SORT_KEYS))}")
            rows.sort(key=lambda r: getattr(r, sort_by), reverse=True)
        if row_limit is not None and row_limit > 0:
            rows = rows[:row_limit]
        has_device = any(r.device_time_total > 0 for r in self)
        self_cpu_total = sum(r.self_cpu_time_total for r in self)
        cpu_total = self_cpu_total or 1.0
        device_total = sum(r.self_device_time_total for r in self) or 1.0
        names = [r.key if hasattr(r, "key") else r.name for r in rows]
        width = min(max([len("Name")] + [len(n) for n in names]), max_name_column_width)
        columns = [("Name", width, "<")]
        numbers = ["Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg"]
        if self._profile_memory:
            numbers += ["CPU Mem", "Self CPU Mem"]
        if has_device:
            numbers += ["Self Device", "Self Device %", "Device total", "Device time avg"]
        numbers += ["# of Calls"]
        columns += [(c, max(12, len(c)), ">") for c in numbers]
        if self._with_shapes:
            columns += [("Input Shapes", 40, "<")]

        def line(cells):
            return "  ".join(f"{str(c)[:w]:{a}{w}}" for c, (_, w, a) in zip(cells, columns))

        rule = "  ".join("-" * w for _, w, _ in columns)
        out = []
        if header:
            out.append("-" * len(rule))
            out.append(header)
        out += [rule, line([c for c, _, _ in columns]), rule]
        for name, r in zip(names, rows):
            count = r.count if hasattr(r, "count") else 1
            cpu_time_total = r.cpu_time_total
            cells = [name if len(name) <= width else name[:width - 3] + "...",
                     f"{100 * r.self_cpu_time_total / cpu_total:.2f}%",
                     _format_time(r.self_cpu_time_total),
                     f"{100 * cpu_time_total / cpu_total:.2f}%",
                     _format_time(cpu_time_total),
                     _format_time(cpu_time_total / count if count else 0)]
            if self._profile_memory:
                cells += [_format_bytes(r.cpu_memory_usage),
                          _format_bytes(r.self_cpu_memory_usage)]
            if has_device:
                cells += [_format_time(r.self_device_time_total),
                          f"{100 * r.self_device_time_total / device_total:.2f}%",
                          _format_time(r.device_time_total),
                          _format_time(r.device_time_total / count if count else 0)]
            cells.append(count)
            if self._with_shapes:
                cells.append(r.input_shapes)
            out.append(line(cells))
        out.append(rule)
        out.append(f"Self CPU time total: {_format_time(self_cpu_total)}")
        if has_device:
            out.append(f"Self Device time total: "
                       f"{_format_time(sum(r.self_device_time_total for r in self))}")
        return "\n".join(out) + "\n"

    def total_average(self):
        total = FunctionEventAvg("Total")
        for event in self:
            if isinstance(event, FunctionEventAvg):
                total.count += event.count
                total.cpu_time_total += event.cpu_time_total
                total.self_cpu_time_total += event.self_cpu_time_total
                total.device_time_total += event.device_time_total
                total.self_device_time_total += event.self_device_time_total
            else:
                total.add(event)
        return total

    def __str__(self):
        return self.table()


def _build_events(raw, base_ns):
    """FunctionEvents from the runtime's tuples, with parents, children,
    self times and memory attributed to the innermost enclosing span."""
    spans, memory = [], []
    for name, category, start, end, thread, size, detail in raw:
        if category == "memory":
            # name: "[memory]" (tensor buffers), "[device memory]" or
            # "[temporary]" (compiled code's own buffers).
            memory.append(((start - base_ns) / 1e3, thread, size, name))
            continue
        spans.append(FunctionEvent(name, category, (start - base_ns) / 1e3,
                                   (end - base_ns) / 1e3, thread, detail))
    spans.sort(key=lambda e: (e.start_us, -e.end_us))
    for i, event in enumerate(spans):
        event.id = i
    # Nest per thread (device spans on their own track).
    by_track = {}
    for event in spans:
        by_track.setdefault((event.thread, event.is_device), []).append(event)
    for events in by_track.values():
        stack = []
        for event in events:
            # Pop what ended before it, and what it outlasts (spans timed
            # by different clocks reads can overlap by a few nanoseconds):
            # its parent is the innermost span that holds all of it.
            while stack and (stack[-1].end_us <= event.start_us or
                             stack[-1].end_us < event.end_us):
                stack.pop()
            if stack:
                parent = stack[-1]
                event.parent = parent
                parent.children.append(event)
                parent.self_cpu_time_total -= event.end_us - event.start_us
            stack.append(event)
    # Allocations: self for the innermost span, total for each enclosing one.
    if memory:
        memory.sort()
        for thread_key, events in by_track.items():
            if thread_key[1]:
                continue
            thread_memory = [m for m in memory if m[1] == thread_key[0]]
            for at, _, size, _ in thread_memory:
                inner = None
                for event in events:
                    if event.start_us > at:
                        break
                    if event.end_us >= at:
                        inner = event
                if inner is None:
                    continue
                inner.self_cpu_memory_usage += size
                while inner is not None:
                    inner.cpu_memory_usage += size
                    inner = inner.parent
    return spans, memory


class profile:
    """torch.profiler.profile: records while active (as a context manager, or
    between ``start()`` and ``stop()``); with a ``schedule``, ``step()``
    moves through its steps and each finished cycle goes to
    ``on_trace_ready``."""

    def __init__(self, activities=None, schedule=None, on_trace_ready=None,
                 record_shapes=False, profile_memory=False, with_stack=False,
                 with_flops=False, with_modules=False, experimental_config=None,
                 use_cuda=None):
        self.activities = set(activities or [ProfilerActivity.CPU])
        self.schedule = schedule
        self.on_trace_ready = on_trace_ready
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.step_num = 0
        self._current = ProfilerAction.NONE
        self._events = None
        self._memory = []
        self._recording = False
        self._base_ns = 0
        self._step_start = 0

    # -- recording ---------------------------------------------------------
    def _begin(self):
        _ember._profiler_start(self.profile_memory, True, self.record_shapes,
                               self.with_stack)
        self._recording = True
        self._base_ns = _ember._profiler_now_ns()
        self._step_start = self._base_ns

    def _end(self, close_step=True):
        if not self._recording:
            return
        if close_step:
            self._close_step_span()
        _ember._profiler_stop()
        self._recording = False
        self._events, self._memory = _build_events(_ember._profiler_take(), self._base_ns)

    def _close_step_span(self):
        if self.schedule is not None and self._recording:
            _ember._profiler_record_user(f"ProfilerStep#{self.step_num}", self._step_start)

    def _action(self, step):
        return self.schedule(step) if self.schedule else ProfilerAction.RECORD

    def start(self):
        self.step_num = 0
        action = self._action(0)
        if action != ProfilerAction.NONE:
            self._begin()
        self._current = action
        return self

    def stop(self):
        was = self._current
        self._end()
        if self.on_trace_ready is not None and was in (ProfilerAction.RECORD,
                                                       ProfilerAction.RECORD_AND_SAVE):
            self.on_trace_ready(self)
        self._current = ProfilerAction.NONE

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def step(self):
        """The next step of the schedule (a training loop calls it once per
        iteration)."""
        if self.schedule is None:
            self.step_num += 1
            return
        previous = self._current
        self._close_step_span()
        self.step_num += 1
        action = self._action(self.step_num)
        self._step_start = _ember._profiler_now_ns()
        if previous == ProfilerAction.RECORD_AND_SAVE:
            self._end(close_step=False)
            if self.on_trace_ready is not None:
                self.on_trace_ready(self)
        if action == ProfilerAction.NONE:
            if self._recording:
                self._end(close_step=False)
        elif not self._recording:
            self._begin()
        elif previous == ProfilerAction.WARMUP and action != ProfilerAction.WARMUP:
            # Warm-up spans (the profiled programs' compiles) are dropped.
            _ember._profiler_take()
            self._base_ns = self._step_start
        self._current = action

    # -- results -----------------------------------------------------------
    def _need_events(self):
        if self._events is None:
            raise RuntimeError("ember.profiler: no trace yet (results are read after "
                               "the profiler stops, or in on_trace_ready)")
        return self._events

    def events(self):
        """Every recorded span as FunctionEvents (microseconds from the
        start of the recording)."""
        return EventList(self._need_events(), self.profile_memory, self.record_shapes)

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0):
        """The spans grouped by name (and input shapes): torch's table."""
        return self.events().key_averages(group_by_input_shape)

    def export_chrome_trace(self, path):
        """Writes the Chrome trace-event JSON that chrome://tracing, Perfetto
        (ui.perfetto.dev) and TensorBoard open."""
        events = self._need_events()
        pid = os.getpid()
        trace = [{"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
                  "args": {"name": "ember"}}]
        threads = sorted({e.thread for e in events} | {m[1] for m in self._memory})
        for thread in threads:
            trace.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": thread,
                          "args": {"name": f"thread {thread}"}})
        device_tid = 1000
        if any(e.is_device for e in events):
            trace.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": device_tid,
                          "args": {"name": "device"}})
        for e in events:
            item = {"ph": "X", "cat": e.category, "name": e.name, "pid": pid,
                    "tid": device_tid if e.is_device else e.thread,
                    "ts": round(e.start_us, 3), "dur": round(e.end_us - e.start_us, 3)}
            args = {}
            if e.detail:
                args["detail"] = e.detail
            if e.input_shapes:
                args["Input Dims"] = e.input_shapes
            if args:
                item["args"] = args
            trace.append(item)
        allocated = 0
        for at, thread, size, name in self._memory:
            allocated += size
            trace.append({"ph": "i", "s": "t", "cat": "memory", "name": name,
                          "pid": pid, "tid": thread, "ts": round(at, 3),
                          "args": {"Bytes": size, "Total Allocated": allocated}})
            trace.append({"ph": "C", "name": "host memory", "pid": pid,
                          "ts": round(at, 3), "args": {"allocated": allocated}})
        document = {"traceEvents": trace, "displayTimeUnit": "ms",
                    "otherData": {"producer": "ember.profiler"}}
        text = json.dumps(document)
        if str(path).endswith(".gz"):
            import gzip
            with gzip.open(path, "wt") as f:
                f.write(text)
        else:
            with open(path, "w") as f:
                f.write(text)
        return path

    @property
    def profiler(self):
        return self
