//===- Module.cpp - the `_ember` extension module -------------------------===//
//
// Module-level functions (creation, stats, sync), dtype and device objects,
// error translation, and the source-location hook that tags each traced op
// with the user's Python file:line.
//
//===----------------------------------------------------------------------===//

#include "Conversions.h"

#include "ember/Runtime/CpuConv.h"
#include "ember/Runtime/CpuGemm.h"
#include "ember/Runtime/HostAllocator.h"
#include "ember/Runtime/Threads.h"

#include <frameobject.h>
#include <pybind11/stl.h>

#include <string>
#include <unordered_map>

namespace ember::python {
namespace {

//===----------------------------------------------------------------------===//
// Source locations
//===----------------------------------------------------------------------===//

/// Files inside the ember package are skipped: the location is the user's.
[[noreturn]] void throwWithoutPackageFrames(py::error_already_set &error);

std::string &packageDir() {
  static std::string dir;
  return dir;
}

/// Re-raises `error` with the traceback entries of frames inside the ember
/// package removed (the caller's frames stay).
[[noreturn]] void throwWithoutPackageFrames(py::error_already_set &error) {
  static py::handle tracebackType =
      py::object(py::module_::import("types").attr("TracebackType")).release();
  std::vector<py::object> kept;
  for (py::object tb = py::reinterpret_borrow<py::object>(error.trace());
       !tb.is_none(); tb = tb.attr("tb_next")) {
    std::string file =
        py::str(tb.attr("tb_frame").attr("f_code").attr("co_filename"));
    bool inside = !packageDir().empty() &&
                  file.compare(0, packageDir().size(), packageDir()) == 0;
    if (!inside)
      kept.push_back(tb);
  }
  py::object trimmed = py::none();
  for (auto it = kept.rbegin(); it != kept.rend(); ++it)
    trimmed = tracebackType(trimmed, (*it).attr("tb_frame"), (*it).attr("tb_lasti"),
                            (*it).attr("tb_lineno"));
  error.restore();
  PyObject *type, *value, *trace;
  PyErr_Fetch(&type, &value, &trace);
  Py_XDECREF(trace);
  PyObject *newTrace = trimmed.is_none() ? nullptr : trimmed.release().ptr();
  if (value && newTrace)
    PyException_SetTraceback(value, newTrace);
  PyErr_Restore(type, value, newTrace);
  throw py::error_already_set();
}

/// Interned file names, keyed by the code object's filename string (kept
/// alive so that its address is never reused).
const std::string *internFile(PyObject *filename) {
  static std::unordered_map<PyObject *, std::string> files;
  auto it = files.find(filename);
  if (it != files.end())
    return &it->second;
  Py_INCREF(filename);
  const char *text = PyUnicode_AsUTF8(filename);
  return &files.emplace(filename, text ? text : "<unknown>").first->second;
}

/// The line `frame` is at. PyFrame_GetLineNumber decodes the code object's
/// line table from its start on every call (3% of a transformer step's
/// time, one call per traced op), so lines are kept by (code object,
/// instruction offset); the cache holds its code objects alive, so their
/// addresses are never reused while cached.
int lineOf(PyFrameObject *frame) {
  struct KeyHash {
    size_t operator()(const std::pair<PyCodeObject *, int> &key) const {
      return std::hash<void *>()(key.first) * 31 + std::hash<int>()(key.second);
    }
  };
  static std::unordered_map<std::pair<PyCodeObject *, int>, int, KeyHash> lines;
  if (lines.size() > 16384) {
    for (auto &[key, line] : lines)
      Py_DECREF(key.first);
    lines.clear();
  }
  PyCodeObject *code = PyFrame_GetCode(frame); // a new reference
  auto [it, inserted] = lines.try_emplace({code, PyFrame_GetLasti(frame)}, 0);
  if (inserted)
    it->second = PyFrame_GetLineNumber(frame); // the cache keeps the reference
  else
    Py_DECREF(code);
  return it->second;
}

SourceLoc pythonLocation() {
  PyFrameObject *frame = PyEval_GetFrame();
  if (!frame)
    return {};
  Py_INCREF(frame);
  SourceLoc loc;
  while (frame) {
    PyCodeObject *code = PyFrame_GetCode(frame);
    const std::string *file = internFile(code->co_filename);
    Py_DECREF(code);
    bool inside = !packageDir().empty() &&
                  file->compare(0, packageDir().size(), packageDir()) == 0;
    if (!inside) {
      loc = {file, lineOf(frame)};
      Py_DECREF(frame);
      break;
    }
    PyFrameObject *back = PyFrame_GetBack(frame);
    Py_DECREF(frame);
    frame = back;
  }
  return loc;
}

//===----------------------------------------------------------------------===//
// Creation functions
//===----------------------------------------------------------------------===//

DType dtypeOr(py::handle dtype, DType fallback) {
  return parseDType(dtype).value_or(fallback);
}

Scalar scalarArg(py::handle value, const char *what) {
  std::optional<Scalar> scalar = toScalar(value);
  if (!scalar) {
    if (py::isinstance<Tensor>(value) &&
        value.cast<const Tensor &>().numel() == 1)
      return toScalar(value.attr("item")()).value();
    throwError(Error::Kind::Type, std::string(what) + " must be a number, not " +
                                      Py_TYPE(value.ptr())->tp_name);
  }
  return *scalar;
}

/// The dtype torch gives `full(size, value)` without a dtype argument.
DType dtypeOfFill(const Scalar &value) {
  return value.kind == Scalar::Kind::Float ? defaultFloat()
                                           : value.wrappedDType();
}

/// A factory's `device=` (None: the cpu).
Backend deviceArg(py::handle device) {
  return device.is_none() ? Backend::Cpu : parseDeviceKind(py::str(device));
}

/// A new tensor on `device` with requires_grad set as asked (torch's factory
/// flags). Made on the cpu, then copied: factories are not hot paths.
Tensor withGrad(Tensor t, bool requiresGrad, Backend device = Backend::Cpu) {
  t = toDevice(t, device);
  if (requiresGrad)
    setRequiresGrad(t, true);
  return t;
}

Tensor arangeImpl(py::handle a, py::handle b, py::handle c, py::handle dtype) {
  Scalar start = Scalar::fromInt(0), end, step = Scalar::fromInt(1);
  if (b.is_none()) {
    end = scalarArg(a, "end");
  } else {
    start = scalarArg(a, "start");
    end = scalarArg(b, "end");
  }
  if (!c.is_none())
    step = scalarArg(c, "step");
  bool anyFloat = start.kind == Scalar::Kind::Float ||
                  end.kind == Scalar::Kind::Float ||
                  step.kind == Scalar::Kind::Float;
  DType type = dtypeOr(dtype, anyFloat ? defaultFloat() : DType::Int64);
  return arange(start.f, end.f, step.f, type);
}

} // namespace
} // namespace ember::python

using namespace ember;
using namespace ember::python;

PYBIND11_MODULE(_ember, m) {
  m.doc() = "Ember: eager tensors traced into MLIR and JIT-compiled";

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p)
        std::rethrow_exception(p);
    } catch (const Error &e) {
      PyObject *type = PyExc_RuntimeError;
      switch (e.kind) {
      case Error::Kind::Runtime:
        break;
      case Error::Kind::Value:
        type = PyExc_ValueError;
        break;
      case Error::Kind::Index:
        type = PyExc_IndexError;
        break;
      case Error::Kind::Type:
        type = PyExc_TypeError;
        break;
      case Error::Kind::NotImplemented:
        type = PyExc_NotImplementedError;
        break;
      }
      PyErr_SetString(type, e.what());
    }
  });

  setLocationProvider(pythonLocation);
  m.def("_set_package_dir", [](std::string dir) { packageDir() = dir; });
  m.def("get_default_dtype", [] { return dtypeObject(defaultFloat()); });
  // torch's dtype rules, from the tracer's own functions.
  m.def("promote_types", [](const PyDType &a, const PyDType &b) {
    return dtypeObject(promoteTypes(a.dtype, b.dtype));
  }, py::arg("type1"), py::arg("type2"));
  m.def("can_cast", [](const PyDType &from, const PyDType &to) {
    return canCast(from.dtype, to.dtype);
  }, py::arg("from_"), py::arg("to"));
  m.def("result_type", [](py::handle a, py::handle b) {
    std::optional<PyOperand> x = toOperand(a), y = toOperand(b);
    if (!x || !y)
      throwError(Error::Kind::Type,
                 "result_type(): arguments must be tensors or numbers");
    return dtypeObject(resultType(x->get(), y->get()));
  }, py::arg("tensor1"), py::arg("tensor2"));
  m.def("set_default_dtype", [](const PyDType &d) { setDefaultFloat(d.dtype); },
        py::arg("d"));
  // torch.get_num_threads / set_num_threads, with torch's errors.
  m.def("get_num_threads", [] { return numThreads(); });
  m.def("set_num_threads", [](py::handle threads) {
    if (!py::isinstance<py::int_>(threads) || py::isinstance<py::bool_>(threads))
      throwError(Error::Kind::Runtime,
                 std::string("set_num_threads expects an int, but got ") +
                     Py_TYPE(threads.ptr())->tp_name);
    long long count = threads.cast<long long>();
    if (count < 1 || count > 1 << 20)
      throwError(Error::Kind::Runtime, "set_num_threads expects a positive integer");
    setNumThreads(static_cast<int>(count));
  }, py::arg("int"));
  // Python-level ops (the decomposition table) go through this trampoline:
  // an error they raise loses its frames inside the ember package, so that
  // its traceback ends at the user's line, as for ops bound from C++.
  m.def("_surface", [](py::function fn, py::str name, py::handle cls) {
    auto call = [fn](py::args args, py::kwargs kwargs) -> py::object {
      try {
        return fn(*args, **kwargs);
      } catch (py::error_already_set &error) {
        throwWithoutPackageFrames(error);
      }
    };
    py::object doc = fn.attr("__doc__");
    if (cls.is_none())
      return py::cpp_function(call, py::name(name.cast<std::string>().c_str()),
                              py::doc(doc.is_none() ? "" : doc.cast<std::string>().c_str()));
    return py::cpp_function(call, py::name(name.cast<std::string>().c_str()),
                            py::is_method(cls),
                            py::doc(doc.is_none() ? "" : doc.cast<std::string>().c_str()));
  }, py::arg("fn"), py::arg("name"), py::arg("cls") = py::none());
  // The op vocabulary (generated from ODS) for docs/ops.md: one
  // (mnemonic, kind, operand types, torch names) tuple per dialect op.
  m.def("_vocabulary", [] {
    py::list ops;
#define EMBER_UNARY_OP(Name, Mnemonic, Types, TorchNames)                      \
  ops.append(py::make_tuple(Mnemonic, "unary", #Types, TorchNames));
#define EMBER_BINARY_OP(Name, Mnemonic, Types, TorchNames)                     \
  ops.append(py::make_tuple(Mnemonic, "binary", #Types, TorchNames));
#define EMBER_OTHER_OP(Name, Mnemonic)                                         \
  ops.append(py::make_tuple(Mnemonic, "other", "", ""));
#include "ember/Dialect/EmberVocabulary.inc"
    return ops;
  });

  py::class_<PyDType>(m, "dtype")
      .def("__repr__",
           [](const PyDType &d) {
             return std::string("ember.") + elementTypeName(d.dtype);
           })
      .def("__eq__",
           [](const PyDType &a, py::handle b) {
             return py::isinstance<PyDType>(b) &&
                    a.dtype == b.cast<PyDType>().dtype;
           })
      .def("__hash__", [](const PyDType &d) { return int(d.dtype); })
      .def_property_readonly("is_floating_point",
                             [](const PyDType &d) { return isFloating(d.dtype); })
      .def_property_readonly("itemsize",
                             [](const PyDType &d) { return elementSize(d.dtype); })
      .def("__reduce__", [](const PyDType &d) {
        return py::make_tuple(py::module_::import("ember").attr("_dtype_by_name"),
                              py::make_tuple(elementTypeName(d.dtype)));
      });
  for (DType d : {DType::Bool, DType::Int32, DType::Int64, DType::Float16,
                  DType::BFloat16, DType::Float32, DType::Float64})
    m.attr(elementTypeName(d)) = dtypeObject(d);

  bindTensor(m);
  bindModel(m);
  bindDistributed(m);
  bindProfiler(m);
  bindDebug(m);

  // Creation.
  m.def("tensor",
        [](py::handle data, py::handle dtype, py::handle device,
           bool requiresGrad) {
          Backend kind = deviceArg(device);
          return withGrad(tensorFromData(data, parseDType(dtype)), requiresGrad, kind);
        },
        py::arg("data"), py::kw_only(), py::arg("dtype") = py::none(),
        py::arg("device") = py::none(), py::arg("requires_grad") = false);
  m.def("from_numpy", [](py::array a) { return tensorFromNumpy(a); });
  m.def("as_tensor", [](py::handle data, py::handle dtype) {
    if (py::isinstance<Tensor>(data)) {
      const Tensor &t = data.cast<const Tensor &>();
      std::optional<DType> d = parseDType(dtype);
      return d ? cast(t, *d) : t;
    }
    if (py::isinstance<py::array>(data) && dtype.is_none())
      return tensorFromNumpy(py::reinterpret_borrow<py::array>(data));
    return tensorFromData(data, parseDType(dtype));
  }, py::arg("data"), py::arg("dtype") = py::none());

  auto sizedFactory = [&m](const char *name, auto make) {
    m.def(
        name,
        [make](py::args args, py::handle dtype, py::handle device,
               bool requiresGrad) {
          Backend kind = deviceArg(device);
          return withGrad(make(shapeFromArgs(args), dtype), requiresGrad, kind);
        },
        py::kw_only(), py::arg("dtype") = py::none(),
        py::arg("device") = py::none(), py::arg("requires_grad") = false);
  };
  sizedFactory("zeros", [](Shape shape, py::handle dtype) {
    return full(shape, Scalar::fromInt(0), dtypeOr(dtype, defaultFloat()));
  });
  sizedFactory("ones", [](Shape shape, py::handle dtype) {
    return full(shape, Scalar::fromInt(1), dtypeOr(dtype, defaultFloat()));
  });
  sizedFactory("empty", [](Shape shape, py::handle dtype) {
    return empty(shape, dtypeOr(dtype, defaultFloat()));
  });
  sizedFactory("rand", [](Shape shape, py::handle dtype) {
    return rand(shape, dtypeOr(dtype, defaultFloat()));
  });
  sizedFactory("randn", [](Shape shape, py::handle dtype) {
    return randn(shape, dtypeOr(dtype, defaultFloat()));
  });
  m.def("full",
        [](py::handle size, py::handle value, py::handle dtype,
           py::handle device, bool requiresGrad) {
          Backend kind = deviceArg(device);
          Scalar v = scalarArg(value, "fill_value");
          return withGrad(
              full(shapeFromObject(size), v, dtypeOr(dtype, dtypeOfFill(v))),
              requiresGrad, kind);
        },
        py::arg("size"), py::arg("fill_value"), py::kw_only(),
        py::arg("dtype") = py::none(), py::arg("device") = py::none(),
        py::arg("requires_grad") = false);
  m.def("arange",
        [](py::handle a, py::handle b, py::handle c, py::handle dtype,
           py::handle device, bool requiresGrad) {
          Backend kind = deviceArg(device);
          return withGrad(arangeImpl(a, b, c, dtype), requiresGrad, kind);
        },
        py::arg("start"), py::arg("end") = py::none(),
        py::arg("step") = py::none(), py::kw_only(),
        py::arg("dtype") = py::none(), py::arg("device") = py::none(),
        py::arg("requires_grad") = false);
  m.def("linspace",
        [](py::handle start, py::handle end, int64_t steps, py::handle dtype,
           py::handle device, bool requiresGrad) {
          Backend kind = deviceArg(device);
          return withGrad(linspace(scalarArg(start, "start").f,
                                   scalarArg(end, "end").f, steps,
                                   dtypeOr(dtype, defaultFloat())),
                          requiresGrad, kind);
        },
        py::arg("start"), py::arg("end"), py::arg("steps"), py::kw_only(),
        py::arg("dtype") = py::none(), py::arg("device") = py::none(),
        py::arg("requires_grad") = false);
  m.def("randint",
        [](py::args args, py::handle dtype, py::handle device,
           bool requiresGrad) {
          // randint(high, size) or randint(low, high, size).
          Backend kind = deviceArg(device);
          if (args.size() != 2 && args.size() != 3)
            throwError(Error::Kind::Type,
                       "randint() expects (high, size) or (low, high, size)");
          int64_t low = 0, high;
          if (args.size() == 3) {
            low = args[0].cast<int64_t>();
            high = args[1].cast<int64_t>();
          } else {
            high = args[0].cast<int64_t>();
          }
          return withGrad(randint(low, high,
                                  shapeFromObject(args[args.size() - 1]),
                                  dtypeOr(dtype, DType::Int64)),
                          requiresGrad, kind);
        },
        py::kw_only(), py::arg("dtype") = py::none(),
        py::arg("device") = py::none(), py::arg("requires_grad") = false);
  m.def("manual_seed", [](uint64_t seed) { manualSeed(seed); });

  // Like-forms take the dtype and device of their argument (dtype unless
  // given).
  auto like = [](const Tensor &x, py::handle dtype) {
    return std::make_pair(Shape(x.shape()), dtypeOr(dtype, x.dtype()));
  };
  m.def("zeros_like", [like](const Tensor &x, py::handle dtype) {
    auto [shape, d] = like(x, dtype);
    return toDevice(full(shape, Scalar::fromInt(0), d), deviceOf(x));
  }, py::arg("input"), py::kw_only(), py::arg("dtype") = py::none());
  m.def("ones_like", [like](const Tensor &x, py::handle dtype) {
    auto [shape, d] = like(x, dtype);
    return toDevice(full(shape, Scalar::fromInt(1), d), deviceOf(x));
  }, py::arg("input"), py::kw_only(), py::arg("dtype") = py::none());
  m.def("empty_like", [like](const Tensor &x, py::handle dtype) {
    auto [shape, d] = like(x, dtype);
    return toDevice(empty(shape, d), deviceOf(x));
  }, py::arg("input"), py::kw_only(), py::arg("dtype") = py::none());
  m.def("full_like", [like](const Tensor &x, py::handle value, py::handle dtype) {
    auto [shape, d] = like(x, dtype);
    return toDevice(full(shape, scalarArg(value, "fill_value"), d), deviceOf(x));
  }, py::arg("input"), py::arg("fill_value"), py::kw_only(),
        py::arg("dtype") = py::none());
  m.def("rand_like", [like](const Tensor &x, py::handle dtype) {
    auto [shape, d] = like(x, dtype);
    return toDevice(rand(shape, d), deviceOf(x));
  }, py::arg("input"), py::kw_only(), py::arg("dtype") = py::none());
  m.def("randn_like", [like](const Tensor &x, py::handle dtype) {
    auto [shape, d] = like(x, dtype);
    return toDevice(randn(shape, d), deviceOf(x));
  }, py::arg("input"), py::kw_only(), py::arg("dtype") = py::none());
  m.def("randint_like",
        [like](const Tensor &x, py::handle a, py::handle b, py::handle dtype) {
          auto [shape, d] = like(x, dtype);
          if (b.is_none())
            return toDevice(randint(0, a.cast<int64_t>(), shape, d), deviceOf(x));
          return toDevice(randint(a.cast<int64_t>(), b.cast<int64_t>(), shape, d), deviceOf(x));
        },
        py::arg("input"), py::arg("low"), py::arg("high") = py::none(),
        py::kw_only(), py::arg("dtype") = py::none());

  // Graph execution and caches.
  m.def("sync", [] { ember::sync(); });
  m.def("compile_stats", [] {
    CompileStats s = compileStats();
    py::dict d;
    d["compiles"] = s.compiles;
    d["cache_hits"] = s.cacheHits;
    d["disk_hits"] = s.diskHits;
    d["compile_ms"] = s.compileMs;
    d["disk_load_ms"] = s.diskLoadMs;
    d["graphs_run"] = s.graphsRun;
    d["nodes_traced"] = s.nodesTraced;
    d["kernels_compiled"] = s.kernelsCompiled;
    d["kernels_reused"] = s.kernelsReused;
    // GEMM calls that applied a fused epilogue (ember-fuse-matmul-epilogue).
    d["fused_gemm_calls"] = ember_cpu_fused_gemm_calls();
    d["fused_conv_calls"] = ember_cpu_fused_conv_calls();
    // Those that also wrote a squeeze-and-excitation pool's plane means.
    d["fused_conv_means"] = ember_cpu_fused_conv_means();
    // Those that read x * s (a squeeze-and-excitation scale) as they packed x.
    d["fused_conv_scales"] = ember_cpu_fused_conv_scales();
    // B operands a loop packed once for all its GEMMs (ember-hoist-gemm-packing).
    d["packed_b_calls"] = ember_cpu_packed_b_calls();
    // Max pools run by the runtime's kernel (ember-conv-to-runtime).
    d["max_pool_calls"] = ember_cpu_max_pool_calls();
    return d;
  });
  m.def("clear_compile_cache", [] { clearCompileCache(); });
  m.def("memory_stats", [] {
    HostAllocatorStats s = hostAllocatorStats();
    py::dict d;
    d["allocated_bytes"] = s.allocatedBytes;
    d["peak_allocated_bytes"] = s.peakAllocatedBytes;
    d["cached_bytes"] = s.cachedBytes;
    d["system_bytes"] = s.systemBytes;
    d["allocations"] = s.allocations;
    d["cache_hits"] = s.cacheHits;
    d["system_allocations"] = s.systemAllocations;
    d["frees"] = s.frees;
    return d;
  });
  m.def("empty_cache", [] { hostEmptyCache(); });
  m.def("reset_peak_memory_stats", [] { hostResetPeakStats(); });
}
