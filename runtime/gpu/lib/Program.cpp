//===- Program.cpp - interpreting a GPU program's launch plan --------------===//
//
// The plan is small and runs once per call: each instruction reads value
// ids and writes value ids. Values are integers (index arithmetic), floats
// (scalar kernel arguments) and buffer views (an allocation plus offset,
// sizes and strides in elements). Device allocations made by the plan are
// released when the call ends (the caching allocator makes that cheap).
// One instruction nests others: "for", a recurrent layer's time loop, runs
// its body once per step with the step index as a run-time integer.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/Gpu/Program.h"

#include "CustomOpDispatch.h"

#include "ember/Runtime/ElementType.h"
#include "ember/Runtime/Json.h"
#include "ember/Runtime/ModelFile.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <set>

namespace ember {
namespace gpu {

struct Program::Instruction {
  std::string op;
  std::vector<int64_t> results;
  std::vector<int64_t> operands;
  int64_t intValue = 0;
  double floatValue = 0;
  int bits = 64;
  std::string predicate;
  std::vector<int64_t> shape, offsets, sizes, strides;
  std::vector<std::vector<int64_t>> groups;
  std::vector<int64_t> dropped;
  int64_t elementBytes = 4;
  std::string kernel; // module name for launches
  /// load/store/conversions: the scalar's kind ("int", "float") and bits.
  std::string scalarKind;
  /// for: the induction variable and carried values' ids, the values each
  /// iteration yields to them, and the body.
  std::vector<int64_t> arguments, yields;
  std::vector<Instruction> body;
  /// custom_shapes/custom_call: the op, its attributes, the compiled
  /// dtypes and output ranks; custom_call's operands are the inputs, then
  /// the outputs (`inputs` of them inputs).
  std::shared_ptr<CustomCallSite> custom;
  int64_t inputs = 0;
};

struct Program::Function {
  int64_t arguments = 0;
  int64_t values = 0;
  std::vector<Instruction> body;
};

namespace {

struct BufferValue {
  DeviceBuffer allocation;
  /// The same memory on the host, when the caller provided it.
  const char *host = nullptr;
  /// Small allocations (shape vectors the plan builds and reads back) keep
  /// a host copy that stores update too.
  std::shared_ptr<std::vector<char>> shadow;
  size_t elementBytes = 4;
  int64_t offset = 0;
  std::vector<int64_t> sizes, strides;
};

struct Value {
  enum class Kind { None, Int, Float, Buffer } kind = Kind::None;
  int64_t i = 0;
  double f = 0;
  int bits = 64;
  BufferValue buffer;
};

std::vector<int64_t> intList(const Json *value) {
  std::vector<int64_t> list;
  if (value)
    for (const Json &item : value->asArray("a plan list"))
      list.push_back(item.asInt("a plan integer"));
  return list;
}

std::vector<int64_t> denseStrides(const std::vector<int64_t> &shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

/// A scalar value from its bits: "float" (16, 32 or 64 bits), "bfloat"
/// (16) or "int".
Value fromBits(uint64_t raw, const std::string &kind, int bits) {
  Value v;
  if (kind == "bfloat" || (kind == "float" && bits == 16)) {
    v.kind = Value::Kind::Float;
    v.bits = bits;
    v.f = kind == "bfloat" ? bfloat16ToFloat(uint16_t(raw)) : halfToFloat(uint16_t(raw));
    return v;
  }
  if (kind == "float") {
    v.kind = Value::Kind::Float;
    v.bits = bits;
    if (bits == 32) {
      float f;
      std::memcpy(&f, &raw, 4);
      v.f = f;
    } else {
      std::memcpy(&v.f, &raw, 8);
    }
  } else {
    v.kind = Value::Kind::Int;
    v.i = bits == 32 ? static_cast<int32_t>(raw) : static_cast<int64_t>(raw);
  }
  return v;
}

/// The bits of `v` as a `kind` scalar of `bits` (converting between int and
/// float values when the kinds differ).
uint64_t toBits(const Value &v, const std::string &kind, int bits) {
  uint64_t raw = 0;
  if (kind == "bfloat" || (kind == "float" && bits == 16)) {
    float f = static_cast<float>(v.kind == Value::Kind::Float ? v.f : static_cast<double>(v.i));
    raw = kind == "bfloat" ? floatToBFloat16(f) : floatToHalf(f);
  } else if (kind == "float") {
    double f = v.kind == Value::Kind::Float ? v.f : static_cast<double>(v.i);
    if (bits == 32) {
      float narrow = static_cast<float>(f);
      std::memcpy(&raw, &narrow, 4);
    } else {
      std::memcpy(&raw, &f, 8);
    }
  } else {
    raw = static_cast<uint64_t>(v.kind == Value::Kind::Int ? v.i : int64_t(v.f));
  }
  return raw;
}

/// `value` rounded to a `kind` float of `bits` (as a kernel would hold it).
double roundToWidth(double value, const std::string &kind, int bits) {
  if (kind == "bfloat")
    return bfloat16ToFloat(floatToBFloat16(static_cast<float>(value)));
  if (bits == 16)
    return halfToFloat(floatToHalf(static_cast<float>(value)));
  return bits == 32 ? static_cast<double>(static_cast<float>(value)) : value;
}

/// A driver argument kind for a scalar of `param`'s kind and width.
ArgKind scalarKind(const KernelParameter &param) {
  if (param.kind == KernelParameter::Kind::Float)
    return param.bits == 32 ? ArgKind::F32 : ArgKind::F64;
  return param.bits == 32 ? ArgKind::I32 : ArgKind::I64;
}

/// The driver's view of `kernel`'s parameters: on Vulkan at the bindings
/// and push-constant offsets its description records, elsewhere in order
/// as the backend's lowering passes them.
KernelLayout layoutOf(const KernelDescription &kernel, Backend backend) {
  KernelLayout layout;
  for (const KernelParameter &param : kernel.params) {
    KernelParam driverParam;
    switch (backend) {
    case Backend::Vulkan:
      // Scalars are 8-byte words: push constants, or the scalar buffer's.
      if (param.isBuffer()) {
        driverParam.set = param.vulkanBinding.set;
        driverParam.binding = param.vulkanBinding.binding;
      } else if (kernel.scalarBuffer) {
        continue;
      } else {
        driverParam.kind = ArgKind::I64;
        driverParam.offset = param.vulkanOffset;
      }
      layout.params.push_back(driverParam);
      break;
    case Backend::LevelZero:
      driverParam.kind = param.isBuffer() ? ArgKind::Buffer : scalarKind(param);
      layout.params.push_back(driverParam);
      break;
    case Backend::Cuda:
    case Backend::Rocm:
      if (param.isBuffer()) {
        // The memref descriptor: allocated, aligned, offset, sizes, strides.
        layout.params.push_back(driverParam);
        layout.params.push_back(driverParam);
        driverParam.kind = ArgKind::I64;
        for (int i = 0; i < 1 + 2 * param.rank; ++i)
          layout.params.push_back(driverParam);
      } else {
        driverParam.kind = scalarKind(param);
        layout.params.push_back(driverParam);
      }
      break;
    case Backend::Cpu: // no Device is the CPU
      break;
    }
  }
  if (backend == Backend::Vulkan && kernel.scalarBuffer) {
    KernelParam words;
    words.set = kernel.scalarBuffer->set;
    words.binding = kernel.scalarBuffer->binding;
    layout.params.push_back(words);
  }
  return layout;
}

int64_t floorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

} // namespace

Program::Program(Device &device, std::vector<KernelDescription> kernelList,
                 const std::string &plan)
    : device(device) {
  for (KernelDescription &kernel : kernelList)
    kernels[kernel.module] = std::move(kernel);
  try {
    Json root = Json::parse(plan);
    for (const Json &fn : root.at("functions", "the plan").asArray("functions")) {
      auto function = std::make_shared<Function>();
      function->arguments = fn.at("arguments", "a function").asInt("arguments");
      int64_t maxId = function->arguments - 1;
      std::function<Instruction(const Json &)> parse = [&](const Json &item) {
        Instruction in;
        in.op = item.at("op", "an instruction").asString("op");
        in.results = intList(item.get("results"));
        in.operands = intList(item.get("operands"));
        in.arguments = intList(item.get("arguments"));
        in.yields = intList(item.get("yield"));
        if (const Json *v = item.get("value"))
          in.intValue = v->asInt("value");
        if (const Json *raw = item.get("raw")) {
          int64_t bits = raw->asInt("raw");
          std::memcpy(&in.floatValue, &bits, sizeof(bits));
        }
        if (const Json *b = item.get("bits"))
          in.bits = static_cast<int>(b->asInt("bits"));
        if (const Json *p = item.get("predicate"))
          in.predicate = p->asString("predicate");
        in.shape = intList(item.get("shape"));
        in.offsets = intList(item.get("offsets"));
        in.sizes = intList(item.get("sizes"));
        in.strides = intList(item.get("strides"));
        in.dropped = intList(item.get("dropped"));
        if (const Json *e = item.get("element_bytes"))
          in.elementBytes = e->asInt("element_bytes");
        if (const Json *g = item.get("groups"))
          for (const Json &group : g->asArray("groups"))
            in.groups.push_back(intList(&group));
        if (const Json *m = item.get("module"))
          in.kernel = m->asString("module");
        if (const Json *k = item.get("kind"))
          in.scalarKind = k->asString("kind");
        for (const std::vector<int64_t> *ids : {&in.results, &in.arguments})
          for (int64_t id : *ids)
            maxId = std::max(maxId, id);
        for (const std::vector<int64_t> *ids : {&in.results, &in.operands, &in.arguments, &in.yields})
          for (int64_t id : *ids)
            if (id < 0 || id > 1 << 20)
              throw DeviceError(device.backend(), "malformed launch plan: bad value id");
        if (in.op == "custom_shapes" || in.op == "custom_call") {
          auto site = std::make_shared<CustomCallSite>();
          site->name = item.at("name", "a custom call").asString("name");
          for (const Json &n : item.at("attr_names", "a custom call").asArray("attr_names"))
            site->attrNames.push_back(n.asString("an attribute name"));
          for (int64_t bits : intList(item.get("attr_raw"))) {
            double value;
            std::memcpy(&value, &bits, sizeof(value));
            site->attrValues.push_back(value);
          }
          for (int64_t code : intList(item.get("dtypes")))
            site->dtypes.push_back(static_cast<int32_t>(code));
          for (int64_t rank : intList(item.get("output_ranks")))
            site->outputRanks.push_back(static_cast<int32_t>(rank));
          in.inputs = item.at("inputs", "a custom call").asInt("inputs");
          if (site->attrNames.size() != site->attrValues.size() || in.inputs < 0 ||
              in.inputs > static_cast<int64_t>(in.operands.size()) ||
              site->dtypes.size() != in.inputs + site->outputRanks.size())
            throw DeviceError(device.backend(), "malformed launch plan: a custom call's "
                                                "fields do not agree");
          in.custom = std::move(site);
        }
        if (in.op == "launch" && !kernels.count(in.kernel))
          throw DeviceError(device.backend(),
                            "launch plan names kernel module '" + in.kernel +
                                "', which the program does not have");
        if (in.op == "for") {
          if (in.operands.size() < 3 || in.arguments.size() != in.operands.size() - 2 ||
              in.yields.size() != in.arguments.size() - 1 ||
              in.results.size() != in.yields.size())
            throw DeviceError(device.backend(), "malformed launch plan: a loop's values do not agree");
          for (const Json &inner : item.at("body", "a loop").asArray("body"))
            in.body.push_back(parse(inner));
        }
        return in;
      };
      for (const Json &item : fn.at("body", "a function").asArray("body"))
        function->body.push_back(parse(item));
      function->values = maxId + 1;
      functions[fn.at("name", "a function").asString("name")] = function;
    }
  } catch (const ModelError &error) {
    throw DeviceError(device.backend(), std::string("malformed launch plan: ") + error.what());
  }

  // Load every kernel with the parameter layout its description records.
  for (auto &[name, kernel] : kernels) {
    if (kernel.backend != device.backend())
      throw DeviceError(device.backend(), "kernel '" + kernel.name + "' is described for " +
                                              backendName(kernel.backend) + ", not " +
                                              backendName(device.backend()));
    modules.push_back(device.loadModule(kernel.format, kernel.binary.data(),
                                        kernel.binary.size()));
    loaded[name] = &modules.back()->getKernel(kernel.name, layoutOf(kernel, device.backend()));
  }
}

Program::~Program() = default;

std::vector<std::string> Program::entries() const {
  std::vector<std::string> names;
  for (const auto &entry : functions)
    names.push_back(entry.first);
  return names;
}

void Program::run(const std::string &name, const std::vector<ProgramBuffer> &buffers,
                  Stream &stream) {
  auto found = functions.find(name);
  if (found == functions.end())
    throw DeviceError(device.backend(), "the program has no entry '" + name + "'");
  const Function &function = *found->second;
  if (static_cast<int64_t>(buffers.size()) != function.arguments)
    throw DeviceError(device.backend(), "entry '" + name + "' takes " +
                                            std::to_string(function.arguments) +
                                            " buffers, got " + std::to_string(buffers.size()));
  std::vector<Value> values(function.values);
  for (size_t i = 0; i < buffers.size(); ++i) {
    Value &v = values[i];
    v.kind = Value::Kind::Buffer;
    v.buffer.allocation = buffers[i].buffer;
    v.buffer.host = static_cast<const char *>(buffers[i].host);
    v.buffer.elementBytes = buffers[i].elementBytes;
    v.buffer.sizes = buffers[i].shape;
    v.buffer.strides = denseStrides(buffers[i].shape);
  }
  std::vector<DeviceBuffer> temporaries;
  // Host copies of small temporaries stop being valid once a kernel has
  // had the buffer: a later host load of one would read old data.
  std::set<const void *> staleShadows;
  // Every host copy lives until the call ends: a loop's next iteration
  // replaces the value that held one, and a new copy at the freed address
  // must not look stale.
  std::vector<std::shared_ptr<std::vector<char>>> shadows;
  // Loops that carry no values (a recurrent layer's steps): nothing an
  // iteration allocates is alive after it, so each of the body's "alloc"s
  // hands the next iteration the same block (the launches run in stream
  // order), and a long sequence does not hold one set of step temporaries
  // per step until the call ends. Innermost loop last; null where a loop
  // carries values.
  using LoopPool = std::map<const Instruction *, DeviceBuffer>;
  std::vector<LoopPool *> loopPools;
  auto fail = [&](const std::string &what) {
    throw DeviceError(device.backend(), "launch plan of '" + name + "': " + what);
  };
  auto get = [&](const Instruction &in, size_t i) -> Value & {
    if (i >= in.operands.size())
      fail("'" + in.op + "' is missing an operand");
    return values.at(in.operands[i]);
  };
  auto integer = [&](const Instruction &in, size_t i) {
    Value &v = get(in, i);
    if (v.kind != Value::Kind::Int)
      fail("'" + in.op + "' needs an integer operand");
    return v.i;
  };
  auto buffer = [&](const Instruction &in, size_t i) -> BufferValue & {
    Value &v = get(in, i);
    if (v.kind != Value::Kind::Buffer)
      fail("'" + in.op + "' needs a buffer operand");
    return v.buffer;
  };
  auto setInt = [&](const Instruction &in, size_t r, int64_t x) {
    Value &v = values.at(in.results.at(r));
    v.kind = Value::Kind::Int;
    v.i = x;
  };
  auto setBuffer = [&](const Instruction &in, BufferValue b) {
    Value &v = values.at(in.results.at(0));
    v.kind = Value::Kind::Buffer;
    v.buffer = std::move(b);
  };
  // Static entries of a list, with the dynamic ones (-1) taken in order from
  // the operands starting at `next`.
  auto mixed = [&](const Instruction &in, const std::vector<int64_t> &list, size_t &next) {
    std::vector<int64_t> out;
    for (int64_t x : list)
      out.push_back(x >= 0 ? x : integer(in, next++));
    return out;
  };

  std::function<void(const std::vector<Instruction> &)> execute =
      [&](const std::vector<Instruction> &body) {
  for (const Instruction &in : body) {
    const std::string &op = in.op;
    if (op == "for") {
      // A host loop: the body runs once per step with the induction
      // variable and the carried values bound to its arguments (the kernels
      // it launches are the program's; nothing is compiled per step).
      int64_t lower = integer(in, 0), upper = integer(in, 1), step = integer(in, 2);
      if (step <= 0)
        fail("a loop with a step that is not positive");
      for (size_t k = 1; k < in.arguments.size(); ++k)
        values.at(in.arguments[k]) = get(in, 2 + k);
      std::vector<Value> next(in.yields.size());
      LoopPool pool;
      loopPools.push_back(in.yields.empty() ? &pool : nullptr);
      for (int64_t i = lower; i < upper; i += step) {
        Value &iv = values.at(in.arguments[0]);
        iv.kind = Value::Kind::Int;
        iv.i = i;
        execute(in.body);
        // Read every yielded value before writing any carried one.
        for (size_t k = 0; k < in.yields.size(); ++k)
          next[k] = values.at(in.yields[k]);
        for (size_t k = 0; k < next.size(); ++k)
          values.at(in.arguments[k + 1]) = next[k];
      }
      loopPools.pop_back();
      for (size_t k = 0; k < in.results.size(); ++k)
        values.at(in.results[k]) = values.at(in.arguments[k + 1]);
    } else if (op == "int") {
      setInt(in, 0, in.intValue);
    } else if (op == "float") {
      Value &v = values.at(in.results.at(0));
      v.kind = Value::Kind::Float;
      v.f = in.floatValue;
      v.bits = in.bits;
    } else if (op == "copy") {
      values.at(in.results.at(0)) = get(in, 0);
    } else if (op == "select") {
      values.at(in.results.at(0)) = integer(in, 0) ? get(in, 1) : get(in, 2);
    } else if (op == "cmpi") {
      int64_t a = integer(in, 0), b = integer(in, 1);
      uint64_t ua = a, ub = b;
      const std::string &p = in.predicate;
      bool r = p == "eq" ? a == b : p == "ne" ? a != b : p == "slt" ? a < b
             : p == "sle" ? a <= b : p == "sgt" ? a > b : p == "sge" ? a >= b
             : p == "ult" ? ua < ub : p == "ule" ? ua <= ub : p == "ugt" ? ua > ub
             : p == "uge" ? ua >= ub : (fail("unknown predicate '" + p + "'"), false);
      setInt(in, 0, r);
    } else if (op == "add" || op == "sub" || op == "mul" || op == "divs" || op == "divu" ||
               op == "rems" || op == "remu" || op == "ceildivs" || op == "ceildivu" ||
               op == "floordivs" || op == "mins" || op == "maxs" || op == "minu" ||
               op == "maxu" || op == "and" || op == "or" || op == "xor") {
      int64_t a = integer(in, 0), b = integer(in, 1);
      uint64_t ua = a, ub = b;
      bool divides = op.find("div") != std::string::npos || op.rfind("rem", 0) == 0;
      if (divides && b == 0)
        fail("division by zero");
      int64_t r = op == "add" ? a + b : op == "sub" ? a - b : op == "mul" ? a * b
                : op == "divs" ? a / b : op == "divu" ? int64_t(ua / ub)
                : op == "rems" ? a % b : op == "remu" ? int64_t(ua % ub)
                : op == "ceildivs" ? -floorDiv(-a, b) : op == "ceildivu" ? int64_t((ua + ub - 1) / ub)
                : op == "floordivs" ? floorDiv(a, b) : op == "mins" ? std::min(a, b)
                : op == "maxs" ? std::max(a, b) : op == "minu" ? int64_t(std::min(ua, ub))
                : op == "maxu" ? int64_t(std::max(ua, ub)) : op == "and" ? (a & b)
                : op == "or" ? (a | b) : (a ^ b);
      setInt(in, 0, r);
    } else if (op == "fadd" || op == "fsub" || op == "fmul" || op == "fdiv" ||
               op == "fmax" || op == "fmin" || op == "fmaxnum" || op == "fminnum" ||
               op == "fneg") {
      // Host-side float arithmetic (a mean's 1 / n), rounded to the result's
      // width as the kernel would compute it.
      auto real = [&](size_t i) {
        const Value &v = get(in, i);
        return v.kind == Value::Kind::Float ? v.f : static_cast<double>(v.i);
      };
      double a = real(0), r;
      if (op == "fneg") {
        r = -a;
      } else {
        double b = real(1);
        r = op == "fadd" ? a + b : op == "fsub" ? a - b : op == "fmul" ? a * b
          : op == "fdiv" ? a / b
          // maximumf/minimumf propagate NaN; maxnumf/minnumf ignore it.
          : op == "fmax" ? (a != a || b != b ? NAN : std::max(a, b))
          : op == "fmin" ? (a != a || b != b ? NAN : std::min(a, b))
          : op == "fmaxnum" ? std::fmax(a, b) : std::fmin(a, b);
      }
      Value &v = values.at(in.results.at(0));
      v.kind = Value::Kind::Float;
      v.bits = in.bits;
      v.f = roundToWidth(r, in.scalarKind, in.bits);
    } else if (op == "load" || op == "store") {
      bool isLoad = op == "load";
      BufferValue &b = buffer(in, isLoad ? 0 : 1);
      int64_t index = b.offset;
      for (size_t d = 0; d < b.sizes.size(); ++d)
        index += integer(in, (isLoad ? 1 : 2) + d) * b.strides.at(d);
      size_t bytes = in.bits / 8;
      if (isLoad) {
        if (!b.host)
          fail("a load on the host from a buffer that only lives on the device (value " +
               std::to_string(in.operands.at(0)) + ")");
        if (b.shadow && staleShadows.count(b.shadow.get()))
          fail("a load on the host from a buffer a kernel may have written (value " +
               std::to_string(in.operands.at(0)) + "); its host copy is stale");
        uint64_t raw = 0;
        std::memcpy(&raw, b.host + index * b.elementBytes, bytes);
        values.at(in.results.at(0)) = fromBits(raw, in.scalarKind, in.bits);
      } else {
        uint64_t raw = toBits(get(in, 0), in.scalarKind, in.bits);
        device.copyToDevice(b.allocation, index * b.elementBytes, &raw, bytes, stream);
        if (b.shadow)
          std::memcpy(b.shadow->data() + index * b.elementBytes, &raw, bytes);
      }
    } else if (op == "bitcast" || op == "convertf" || op == "sitofp" || op == "fptosi") {
      Value source = get(in, 0);
      Value &v = values.at(in.results.at(0));
      if (op == "bitcast") {
        // Reinterpret the source's own bits as the result's kind.
        std::string sourceKind = source.kind == Value::Kind::Float ? "float" : "int";
        v = fromBits(toBits(source, sourceKind, source.kind == Value::Kind::Float ? source.bits : in.bits),
                     in.scalarKind, in.bits);
      } else if (op == "fptosi") {
        v.kind = Value::Kind::Int;
        v.i = static_cast<int64_t>(source.f);
      } else {
        v.kind = Value::Kind::Float;
        v.bits = in.bits;
        double f = source.kind == Value::Kind::Float ? source.f : static_cast<double>(source.i);
        v.f = roundToWidth(f, in.scalarKind, in.bits);
      }
    } else if (op == "dim") {
      BufferValue &b = buffer(in, 0);
      int64_t d = integer(in, 1);
      if (d < 0 || d >= static_cast<int64_t>(b.sizes.size()))
        fail("dim out of range");
      setInt(in, 0, b.sizes[d]);
    } else if (op == "alloc") {
      size_t next = 0;
      BufferValue b;
      b.sizes = mixed(in, in.shape, next);
      b.strides = denseStrides(b.sizes);
      b.elementBytes = in.elementBytes;
      int64_t count = 1;
      for (int64_t s : b.sizes)
        count *= s;
      size_t bytes = std::max<int64_t>(1, count) * b.elementBytes;
      LoopPool *pool = loopPools.empty() ? nullptr : loopPools.back();
      auto reused = pool ? pool->find(&in) : LoopPool::iterator();
      if (pool && reused != pool->end() && reused->second.size == bytes) {
        b.allocation = reused->second;
      } else {
        b.allocation = device.allocate(bytes);
        temporaries.push_back(b.allocation);
        if (pool)
          (*pool)[&in] = b.allocation;
      }
      if (count * b.elementBytes <= 256) {
        // At least one byte: an empty shape vector still has a host copy.
        b.shadow = std::make_shared<std::vector<char>>(
            std::max<size_t>(1, count * b.elementBytes));
        b.host = b.shadow->data();
        shadows.push_back(b.shadow);
      }
      setBuffer(in, std::move(b));
    } else if (op == "dealloc") {
      // Freed with the other temporaries once the call's work is enqueued.
    } else if (op == "metadata") {
      BufferValue b = buffer(in, 0);
      size_t rank = b.sizes.size();
      if (in.results.size() != 2 + 2 * rank)
        fail("metadata results do not match the rank");
      BufferValue base = b;
      base.offset = 0;
      base.sizes.clear();
      base.strides.clear();
      setBuffer(in, base);
      setInt(in, 1, b.offset);
      for (size_t d = 0; d < rank; ++d) {
        setInt(in, 2 + d, b.sizes[d]);
        setInt(in, 2 + rank + d, b.strides[d]);
      }
    } else if (op == "reinterpret") {
      BufferValue b = buffer(in, 0);
      size_t next = 1;
      std::vector<int64_t> offsets = mixed(in, in.offsets, next);
      b.offset = offsets.empty() ? 0 : offsets[0];
      b.sizes = mixed(in, in.sizes, next);
      b.strides = mixed(in, in.strides, next);
      setBuffer(in, std::move(b));
    } else if (op == "subview") {
      BufferValue b = buffer(in, 0);
      size_t next = 1;
      std::vector<int64_t> offsets = mixed(in, in.offsets, next);
      std::vector<int64_t> sizes = mixed(in, in.sizes, next);
      std::vector<int64_t> steps = mixed(in, in.strides, next);
      if (offsets.size() != b.sizes.size() || sizes.size() != b.sizes.size() ||
          steps.size() != b.sizes.size())
        fail("subview rank mismatch");
      BufferValue view = b;
      view.sizes.clear();
      view.strides.clear();
      for (size_t d = 0; d < offsets.size(); ++d) {
        view.offset += offsets[d] * b.strides[d];
        if (std::find(in.dropped.begin(), in.dropped.end(), int64_t(d)) != in.dropped.end())
          continue;
        view.sizes.push_back(sizes[d]);
        view.strides.push_back(b.strides[d] * steps[d]);
      }
      if (view.host && !view.shadow)
        view.host = b.host; // offsets apply through view.offset
      setBuffer(in, std::move(view));
    } else if (op == "reshape") {
      BufferValue b = buffer(in, 0);
      BufferValue &shape = buffer(in, 1);
      if (!shape.host)
        fail("a reshape whose shape is not known on the host");
      std::vector<int64_t> sizes;
      for (size_t d = 0; d < in.shape.size(); ++d) {
        int64_t value = 0;
        std::memcpy(&value, shape.host + (shape.offset + d * (shape.strides.empty() ? 1 : shape.strides[0])) * shape.elementBytes,
                    std::min<size_t>(8, shape.elementBytes));
        sizes.push_back(in.shape[d] >= 0 ? in.shape[d] : value);
      }
      if (b.strides != denseStrides(b.sizes))
        fail("a reshape of a strided buffer");
      b.sizes = sizes;
      b.strides = denseStrides(sizes);
      setBuffer(in, std::move(b));
    } else if (op == "expand") {
      BufferValue b = buffer(in, 0);
      size_t next = 1;
      std::vector<int64_t> shape = mixed(in, in.shape, next);
      std::vector<int64_t> strides(shape.size(), 1);
      if (in.groups.size() != b.sizes.size())
        fail("expand groups do not match the source rank");
      for (size_t g = 0; g < in.groups.size(); ++g) {
        int64_t stride = b.strides[g];
        for (auto it = in.groups[g].rbegin(); it != in.groups[g].rend(); ++it) {
          strides.at(*it) = stride;
          stride *= shape.at(*it);
        }
      }
      b.sizes = shape;
      b.strides = strides;
      setBuffer(in, std::move(b));
    } else if (op == "collapse") {
      BufferValue b = buffer(in, 0);
      std::vector<int64_t> sizes, strides;
      for (const std::vector<int64_t> &group : in.groups) {
        int64_t size = 1;
        for (int64_t d : group)
          size *= b.sizes.at(d);
        sizes.push_back(size);
        strides.push_back(group.empty() ? 1 : b.strides.at(group.back()));
      }
      b.sizes = sizes;
      b.strides = strides;
      setBuffer(in, std::move(b));
    } else if (op == "copy_buffer") {
      BufferValue &src = buffer(in, 0), &dst = buffer(in, 1);
      int64_t count = 1;
      for (int64_t s : src.sizes)
        count *= s;
      if (src.strides != denseStrides(src.sizes) || dst.strides != denseStrides(dst.sizes))
        fail("copies of strided buffers are not supported");
      device.copyOnDevice(dst.allocation, dst.offset * dst.elementBytes, src.allocation,
                          src.offset * src.elementBytes, count * src.elementBytes, stream);
    } else if (op == "custom_shapes" || op == "custom_call") {
      // A C++ custom op (CustomOpDispatch.h): its shape function on the
      // inputs' run-time sizes, or its kernel for this device.
      auto tensor = [&](size_t i) {
        const BufferValue &b = buffer(in, i);
        CustomCallTensor t;
        t.allocation = b.allocation;
        t.elementBytes = b.elementBytes;
        t.offset = b.offset;
        t.sizes = b.sizes;
        t.strides = b.strides;
        return t;
      };
      std::vector<CustomCallTensor> inputs, outputs;
      for (int64_t i = 0; i < in.inputs; ++i)
        inputs.push_back(tensor(i));
      if (op == "custom_shapes") {
        std::vector<int64_t> sizes = customCallOutputSizes(device.backend(), *in.custom, inputs);
        if (sizes.size() != in.results.size())
          fail(in.custom->name + ": the shape function gave another number of sizes "
                                 "than the program has");
        for (size_t r = 0; r < sizes.size(); ++r)
          setInt(in, r, sizes[r]);
        continue;
      }
      for (size_t i = in.inputs; i < in.operands.size(); ++i) {
        outputs.push_back(tensor(i));
        if (buffer(in, i).shadow)
          staleShadows.insert(buffer(in, i).shadow.get());
      }
      dispatchCustomCall(device, stream, *in.custom, inputs, outputs, temporaries);
    } else if (op == "launch") {
      const KernelDescription &kernel = kernels.at(in.kernel);
      LaunchParams params;
      auto extent = [&](size_t i) {
        int64_t v = integer(in, i);
        if (v < 0 || v > 0xffffffffLL)
          fail("launch extent out of range");
        return static_cast<uint32_t>(v);
      };
      std::vector<uint64_t> scalarWords;
      params.grid = {extent(0), extent(1), extent(2)};
      params.block = {extent(3), extent(4), extent(5)};
      if (in.operands.size() != 6 + kernel.params.size())
        fail("launch of '" + in.kernel + "' has the wrong number of arguments");
      if (params.grid.x == 0 || params.grid.y == 0 || params.grid.z == 0)
        continue; // nothing to do for empty tensors
      for (size_t p = 0; p < kernel.params.size(); ++p) {
        const KernelParameter &param = kernel.params[p];
        Value &v = get(in, 6 + p);
        auto scalar = [&]() -> KernelArg {
          if (v.kind == Value::Kind::Float && param.bits == 16)
            return KernelArg::ofI32(static_cast<int32_t>(
                toBits(v, param.bfloat ? "bfloat" : "float", 16)));
          if (v.kind == Value::Kind::Float)
            return param.bits == 32 ? KernelArg::ofF32(static_cast<float>(v.f))
                                    : KernelArg::ofF64(v.f);
          if (v.kind != Value::Kind::Int)
            fail("a scalar argument of '" + in.kernel + "' is not a number");
          return param.bits == 32 ? KernelArg::ofI32(static_cast<int32_t>(v.i))
                                  : KernelArg::ofI64(v.i);
        };
        if (param.isBuffer()) {
          if (v.kind != Value::Kind::Buffer)
            fail("a buffer argument of '" + in.kernel + "' is not a buffer");
          const BufferValue &b = v.buffer;
          if (b.shadow)
            staleShadows.insert(b.shadow.get());
          switch (device.backend()) {
          case Backend::Vulkan:
          case Backend::LevelZero:
            params.args.push_back(KernelArg::ofBuffer(b.allocation, b.offset * b.elementBytes));
            break;
          case Backend::Cuda:
          case Backend::Rocm:
            params.args.push_back(KernelArg::ofBuffer(b.allocation));
            params.args.push_back(KernelArg::ofBuffer(b.allocation));
            params.args.push_back(KernelArg::ofI64(b.offset));
            for (int64_t s : b.sizes)
              params.args.push_back(KernelArg::ofI64(s));
            for (int64_t s : b.strides)
              params.args.push_back(KernelArg::ofI64(s));
            break;
          case Backend::Cpu: // no Device is the CPU
            break;
          }
          continue;
        }
        KernelArg arg = scalar();
        if (device.backend() == Backend::Vulkan) {
          // A push-constant word: the scalar's bytes, zero-extended; or
          // the same word at its offset in the scalar buffer.
          uint64_t word = arg.scalarBytes() == 4 ? (arg.bits & 0xffffffffu) : arg.bits;
          if (kernel.scalarBuffer) {
            size_t index = param.vulkanOffset / 8;
            if (scalarWords.size() <= index)
              scalarWords.resize(index + 1, 0);
            scalarWords[index] = word;
          } else
            params.args.push_back(KernelArg::ofI64(static_cast<int64_t>(word)));
        } else {
          params.args.push_back(arg);
        }
      }
      if (device.backend() == Backend::Vulkan && kernel.scalarBuffer) {
        scalarWords.resize(std::max<size_t>(1, scalarWords.size()), 0);
        DeviceBuffer words = device.allocate(scalarWords.size() * 8);
        temporaries.push_back(words);
        device.copyToDevice(words, 0, scalarWords.data(), scalarWords.size() * 8, stream);
        params.args.push_back(KernelArg::ofBuffer(words));
      }
      device.launch(*loaded.at(in.kernel), params, stream);
    } else {
      fail("unknown instruction '" + op + "'");
    }
  }
      };
  execute(function.body);
  // Temporaries go back to the cache once the enqueued work is done.
  stream.synchronize();
  for (DeviceBuffer &temporary : temporaries)
    device.free(temporary);
}

} // namespace gpu
} // namespace ember
