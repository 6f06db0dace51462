//===- ModelBindings.cpp - export tracing and .ember models for Python -----===//
//
// The pieces python/ember/export.py builds `ember.export` and
// `ember.load_model` from: the export flag and trace descriptions, the
// portable program's bytecode, the file image, and the runtime's
// ember::Model (JIT-compiled through //compiler:model_jit when the file has
// no native code for this CPU).
//
//===----------------------------------------------------------------------===//

#include "Conversions.h"

#include "ember/Frontend/Export.h"
#include "ember/Runtime/Backend.h"
#include "ember/Runtime/Gpu/Device.h"
#include "ember/Runtime/Model.h"
#include "ember/Runtime/ModelFile.h"

#include <pybind11/stl.h>

namespace py = pybind11;

namespace ember::python {
namespace {

/// The GPU backend of a Python device type ("cuda", "rocm", "xpu",
/// "vulkan").
Backend gpuBackendOf(const std::string &deviceType) {
  Backend backend;
  if (!parseDeviceType(deviceType, &backend) || !isGpuBackend(backend))
    throw std::invalid_argument("not a GPU device type: '" + deviceType + "'");
  return backend;
}

/// A computed, dense view of `tensor` for the runtime (no copy when the
/// tensor is already contiguous); the tensor's storage stays alive with it.
HostTensor toHostTensor(const Tensor &tensor) {
  Tensor dense = tensor.isContiguous() ? tensor : contiguous(tensor);
  void *data = dense.data();
  std::shared_ptr<Buffer> buffer = dense.storage().buffer;
  std::vector<int64_t> shape(dense.shape().begin(), dense.shape().end());
  return HostTensor::borrow(dense.dtype(), std::move(shape), data,
                            std::shared_ptr<void>(buffer, buffer.get()));
}

/// An ember tensor owning `host`'s memory (no copy).
Tensor fromHostTensor(const HostTensor &host) {
  auto holder = std::make_shared<HostTensor>(host);
  auto buffer = std::make_shared<Buffer>(
      holder->data(), holder->bytes(), std::function<bool()>(),
      [holder]() mutable { holder.reset(); });
  Shape shape(host.shape().begin(), host.shape().end());
  auto storage = std::make_shared<Storage>();
  storage->dtype = host.dtype();
  storage->shape = shape;
  storage->buffer = std::move(buffer);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->dtype = host.dtype();
  impl->shape = shape;
  impl->strides = contiguousStrides(shape);
  return Tensor(std::move(impl));
}

std::vector<Shape> toShapes(const std::vector<std::vector<int64_t>> &dims) {
  std::vector<Shape> shapes;
  for (const auto &d : dims)
    shapes.emplace_back(d.begin(), d.end());
  return shapes;
}

/// ModelError from the runtime as a Python exception of `type` (the GIL
/// must be held).
template <typename Body> auto translated(PyObject *type, Body body) -> decltype(body()) {
  try {
    return body();
  } catch (const ModelError &error) {
    PyErr_SetString(type, error.what());
    throw py::error_already_set();
  }
}

} // namespace

void bindModel(py::module_ &m) {
  // Devices: (kind, name) of every GPU the drivers report; the reason a
  // kind is unavailable.
  m.def("_gpu_devices", [](const std::string &kind) {
    std::vector<std::string> names;
    Backend backend = gpuBackendOf(kind);
    try {
      for (const gpu::DeviceInfo &info : gpu::enumerateDevices(backend))
        names.push_back(info.name);
    } catch (const gpu::DeviceError &) {
    }
    return names;
  });
  m.def("_gpu_unavailable_reason", [](const std::string &kind) {
    Backend backend = gpuBackendOf(kind);
    return gpu::backendUnavailableReason(backend);
  });
  m.def("_set_exporting", [](bool on) { setExporting(on); });
  m.def("_export_trace", [](const std::vector<Tensor> &outputs,
                            const std::vector<Tensor> &inputs,
                            const std::vector<Tensor> &weights) {
    ExportTrace trace = describeExportTrace(outputs, inputs, weights);
    py::dict result;
    result["key"] = py::bytes(reinterpret_cast<const char *>(trace.key.data()),
                              trace.key.size() * sizeof(int64_t));
    result["sizes"] = trace.sizes;
    std::vector<std::vector<int64_t>> shapes;
    for (const Shape &shape : trace.outputShapes)
      shapes.emplace_back(shape.begin(), shape.end());
    result["output_shapes"] = shapes;
    py::list dtypes;
    for (DType dtype : trace.outputDTypes)
      dtypes.append(dtypeObject(dtype));
    result["output_dtypes"] = dtypes;
    result["constants"] = trace.constants;
    result["node_hashes"] = trace.nodeHashes;
    result["node_names"] = trace.nodeNames;
    result["slot_owners"] = trace.slotOwners;
    result["slot_is_scalar"] = trace.slotIsScalar;
    return result;
  });
  m.def("_export_program",
        [](const std::vector<Tensor> &outputs, const std::vector<Tensor> &inputs,
           const std::vector<Tensor> &weights,
           const std::vector<std::vector<int64_t>> &inputDims,
           const std::vector<std::pair<int64_t, std::vector<std::tuple<int, int, int64_t>>>>
               &sizes,
           const std::vector<std::vector<int64_t>> &outputDims, const std::string &name) {
          std::vector<ExportSizeExpr> exprs;
          for (const auto &[constant, terms] : sizes) {
            ExportSizeExpr expr;
            expr.constant = constant;
            for (const auto &[input, dim, coefficient] : terms)
              expr.terms.push_back({input, dim, coefficient});
            exprs.push_back(std::move(expr));
          }
          return py::bytes(exportProgram(outputs, inputs, weights, toShapes(inputDims),
                                         exprs, toShapes(outputDims), name));
        });
  m.def("_program_text", [](py::bytes bytecode) {
    return programText(std::string(bytecode));
  });
  m.def("_build_model_image",
        [](const std::vector<std::tuple<int, std::string, py::bytes>> &sections) {
          std::vector<SectionData> data;
          for (const auto &[kind, name, bytes] : sections) {
            std::string text(bytes);
            data.push_back({static_cast<SectionKind>(kind), name,
                            std::vector<uint8_t>(text.begin(), text.end())});
          }
          std::vector<uint8_t> image = translated(PyExc_ValueError, [&] {
            return buildModelImage(data);
          });
          return py::bytes(reinterpret_cast<const char *>(image.data()), image.size());
        });
  // The manifest of a model image, without compiling it (ExportedProgram
  // compiles at its first call).
  m.def("_model_manifest_of", [](py::bytes image) {
    std::string bytes(image);
    return translated(PyExc_RuntimeError, [&] {
      return ModelFile::fromBytes(bytes.data(), bytes.size(), "<exported program>")
          ->manifestText();
    });
  });
  m.def("_write_file_atomically", [](const std::string &path, py::bytes bytes) {
    std::string text(bytes);
    translated(PyExc_OSError, [&] {
      writeFileAtomically(path, text.data(), text.size());
      return 0;
    });
  });

  py::class_<Model>(m, "_Model")
      .def_static(
          "load",
          [](const std::string &path, bool allowNative, bool allowJit,
             bool allowUnsignedNative, std::vector<std::string> trustedKeys) {
            LoadOptions options;
            options.allowNative = allowNative;
            options.allowJit = allowJit;
            options.allowUnsignedNative = allowUnsignedNative;
            options.trustedKeys = std::move(trustedKeys);
            return translated(PyExc_RuntimeError, [&] { return Model::load(path, options); });
          },
          py::arg("path"), py::arg("allow_native") = true, py::arg("allow_jit") = true,
          py::arg("allow_unsigned_native") = false,
          py::arg("trusted_keys") = std::vector<std::string>())
      .def_static(
          "from_bytes",
          [](py::bytes image, const std::string &label, bool allowNative, bool allowJit) {
            std::string bytes(image);
            LoadOptions options;
            options.allowNative = allowNative;
            options.allowJit = allowJit;
            return translated(PyExc_RuntimeError, [&] {
              return Model::fromFile(ModelFile::fromBytes(bytes.data(), bytes.size(), label),
                                     options);
            });
          },
          py::arg("image"), py::arg("label"), py::arg("allow_native") = true,
          py::arg("allow_jit") = true)
      .def("run",
           [](const Model &model, const std::string &entry,
              const std::vector<Tensor> &inputs) {
             std::vector<HostTensor> hosts;
             for (const Tensor &input : inputs)
               hosts.push_back(toHostTensor(input));
             std::vector<HostTensor> outputs;
             std::string failure;
             {
               // Compiled code does not touch Python objects.
               py::gil_scoped_release release;
               try {
                 outputs = model.run(entry, hosts);
               } catch (const ModelError &error) {
                 failure = error.what();
               }
             }
             if (!failure.empty())
               throw py::value_error(failure);
             std::vector<Tensor> results;
             for (const HostTensor &output : outputs)
               results.push_back(fromHostTensor(output));
             return results;
           })
      .def_property_readonly("executable_kind", &Model::executableKind)
      .def_property_readonly("native_note", &Model::nativeNote)
      .def_property_readonly("manifest", [](const Model &model) {
        return model.file().manifestText();
      })
      .def_property_readonly("label", [](const Model &model) { return model.file().label(); });
}

} // namespace ember::python
