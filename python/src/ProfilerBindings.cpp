//===- ProfilerBindings.cpp - the runtime recorder for ember.profiler -----===//
//
// `_profiler_start/_stop/_take` and the record_function hooks; the Python
// package (python/ember/profiler.py) turns events into tables and traces.
//
//===----------------------------------------------------------------------===//

#include "Conversions.h"

#include "ember/Runtime/Profiler.h"

#include <pybind11/stl.h>

namespace ember::python {

void bindProfiler(py::module_ &m) {
  namespace prof = ember::profiler;
  m.def("_profiler_start", &prof::start, py::arg("memory"), py::arg("kernels"),
        py::arg("shapes") = false, py::arg("stack") = false);
  m.def("_profiler_stop", &prof::stop);
  m.def("_profiler_enabled", &prof::enabled);
  m.def("_profiler_now_ns", &prof::nowNs);
  // Each event: (name, category, start ns, end ns, thread, bytes, detail).
  m.def("_profiler_take", [] {
    std::vector<prof::Event> events = prof::take();
    py::list out;
    for (prof::Event &event : events)
      out.append(py::make_tuple(event.name, prof::categoryName(event.category),
                                event.startNs, event.endNs, event.thread, event.bytes,
                                event.detail));
    return out;
  });
  // record_function: a user span that began at `start_ns` and ends now.
  m.def("_profiler_record_user", [](std::string name, uint64_t startNs) {
    if (prof::enabled())
      prof::recordSpan(prof::Category::User, std::move(name), startNs);
  });
}

} // namespace ember::python
