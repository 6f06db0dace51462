//===- Npy.cpp - NumPy .npy reader and writer ------------------------------===//
//
// The header is a Python dict literal; this parser accepts the three keys
// NumPy writes ('descr', 'fortran_order', 'shape') in any order, each once,
// and nothing else. The NPY format pads the header with spaces and ends it in
// a newline, and the data is exactly what the header describes: anything
// after the dict, or after the data, is rejected (NumPy 1.24 ignores bytes
// after the data; here they mean a damaged or mis-written input).
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/Npy.h"
#include "ember/Runtime/ModelFile.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

namespace ember {
namespace {

constexpr char kNpyMagic[] = "\x93NUMPY";
/// NumPy's limit on dims (NPY_MAXDIMS), for reading and writing.
constexpr size_t kMaxDims = 32;

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

const char *descrOf(ElementType type) {
  switch (type) {
  case ElementType::Bool:
    return "|b1";
  case ElementType::Int32:
    return "<i4";
  case ElementType::Int64:
    return "<i8";
  case ElementType::Float16:
    return "<f2";
  case ElementType::Float32:
    return "<f4";
  case ElementType::Float64:
    return "<f8";
  case ElementType::BFloat16:
    return nullptr;
  }
  return nullptr;
}

/// A cursor over the header text.
class HeaderParser {
public:
  HeaderParser(const std::string &text, const std::string &label)
      : text(text), label(label) {}

  [[noreturn]] void fail(const std::string &what) {
    throw ModelError(label + ": malformed .npy header: " + what);
  }
  void skipSpace() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\n'))
      ++pos;
  }
  bool accept(char c) {
    skipSpace();
    if (pos < text.size() && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  }
  /// Only the padding (spaces) and the final newline may follow the dict.
  void expectEnd() {
    size_t end = text.find_first_not_of(' ', pos);
    if (end == std::string::npos || text[end] != '\n')
      fail(end == std::string::npos ? "the header does not end in a newline"
                                    : "unexpected text after the dict: '" +
                                          text.substr(end, 20) + "'");
    if (end + 1 != text.size())
      fail("unexpected text after the header's newline");
  }
  void expect(char c) {
    if (!accept(c))
      fail(std::string("expected '") + c + "'");
  }
  std::string quoted() {
    skipSpace();
    if (pos >= text.size() || (text[pos] != '\'' && text[pos] != '"'))
      fail("expected a string");
    char quote = text[pos++];
    size_t end = text.find(quote, pos);
    if (end == std::string::npos)
      fail("unterminated string");
    std::string value = text.substr(pos, end - pos);
    pos = end + 1;
    return value;
  }
  bool boolean() {
    skipSpace();
    if (text.compare(pos, 4, "True") == 0) {
      pos += 4;
      return true;
    }
    if (text.compare(pos, 5, "False") == 0) {
      pos += 5;
      return false;
    }
    fail("expected True or False");
  }
  std::vector<int64_t> shape() {
    expect('(');
    std::vector<int64_t> dims;
    while (!accept(')')) {
      skipSpace();
      int64_t value = 0;
      size_t digits = 0;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        if (value > (int64_t(1) << 48))
          fail("dim too large");
        value = value * 10 + (text[pos++] - '0');
        ++digits;
      }
      if (digits == 0)
        fail("expected a dim");
      if (digits > 1 && text[pos - digits] == '0' && value != 0) // "01" is no literal
        fail("a dim with a leading zero");
      dims.push_back(value);
      if (dims.size() > kMaxDims)
        fail("too many dims");
      if (!accept(',')) {
        // Python reads "(3)" as the int 3, not a tuple.
        if (dims.size() == 1)
          fail("the shape (" + std::to_string(value) + ") is not a tuple; write (" +
               std::to_string(value) + ",)");
        expect(')');
        break;
      }
    }
    return dims;
  }

  const std::string &text;
  std::string label;
  size_t pos = 0;
};

} // namespace

HostTensor readNpyBytes(const void *data, size_t size, const std::string &label) {
  const uint8_t *bytes = static_cast<const uint8_t *>(data);
  if (size < 10 || std::memcmp(bytes, kNpyMagic, 6) != 0)
    throw ModelError(label + ": not a .npy file (bad magic)");
  uint8_t major = bytes[6];
  size_t headerLength, headerStart;
  if (major == 1) {
    headerLength = bytes[8] | (size_t(bytes[9]) << 8);
    headerStart = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12)
      throw ModelError(label + ": truncated .npy file");
    headerLength = bytes[8] | (size_t(bytes[9]) << 8) | (size_t(bytes[10]) << 16) |
                   (size_t(bytes[11]) << 24);
    headerStart = 12;
  } else {
    throw ModelError(label + ": unsupported .npy version " + std::to_string(major));
  }
  if (headerLength > size - headerStart)
    throw ModelError(label + ": truncated .npy header");
  std::string header(reinterpret_cast<const char *>(bytes + headerStart), headerLength);

  HeaderParser parser(header, label);
  std::string descr;
  bool fortran = false, haveDescr = false, haveOrder = false, haveShape = false;
  std::vector<int64_t> shape;
  parser.expect('{');
  while (!parser.accept('}')) {
    std::string key = parser.quoted();
    parser.expect(':');
    if ((key == "descr" && haveDescr) || (key == "fortran_order" && haveOrder) ||
        (key == "shape" && haveShape))
      parser.fail("the key '" + key + "' appears twice");
    if (key == "descr") {
      descr = parser.quoted();
      haveDescr = true;
    } else if (key == "fortran_order") {
      fortran = parser.boolean();
      haveOrder = true;
    } else if (key == "shape") {
      shape = parser.shape();
      haveShape = true;
    } else {
      parser.fail("unknown key '" + key + "'");
    }
    if (!parser.accept(',')) {
      parser.expect('}');
      break;
    }
  }
  parser.expectEnd();
  if (!haveDescr || !haveOrder || !haveShape)
    parser.fail("needs 'descr', 'fortran_order' and 'shape'");
  if (fortran)
    throw ModelError(label + ": Fortran-order arrays are not supported; save a "
                             "C-order copy (numpy.ascontiguousarray)");
  ElementType type;
  if (descr == "|b1" || descr == "<b1" || descr == "|?")
    type = ElementType::Bool;
  else if (descr == "<i4")
    type = ElementType::Int32;
  else if (descr == "<i8")
    type = ElementType::Int64;
  else if (descr == "<f2")
    type = ElementType::Float16;
  else if (descr == "<f4")
    type = ElementType::Float32;
  else if (descr == "<f8")
    type = ElementType::Float64;
  else
    throw ModelError(label + ": unsupported .npy dtype '" + descr +
                     "' (supported: bool, int32, int64, float16, float32, float64, "
                     "little-endian)");

  // Check the size against the file before allocating: a hostile header
  // must not make us allocate more than the file could fill.
  size_t dataStart = headerStart + headerLength;
  uint64_t needed = elementSize(type);
  for (int64_t d : shape)
    if (d != 0 && needed > (uint64_t(size) + 1) / static_cast<uint64_t>(d))
      needed = UINT64_MAX; // more than the file holds, without overflowing
    else
      needed *= static_cast<uint64_t>(d);
  if (needed > size - dataStart)
    throw ModelError(label + ": truncated .npy data (" +
                     std::to_string(size - dataStart) + " bytes for " + shapeText(shape) + " " +
                     elementTypeName(type) + ")");
  if (needed < size - dataStart) {
    size_t extra = size - dataStart - needed;
    throw ModelError(label + ": " + std::to_string(extra) + " unexpected byte" +
                     (extra == 1 ? "" : "s") + " after the .npy data (" + shapeText(shape) +
                     " " + elementTypeName(type) + " needs " + std::to_string(needed) +
                     " bytes, the file has " + std::to_string(size - dataStart) +
                     " after the header)");
  }
  HostTensor tensor(type, shape);
  if (tensor.bytes())
    std::memcpy(tensor.data(), bytes + dataStart, tensor.bytes());
  // A bool is 0 or 1 to compiled code and to C++; any other byte is read as
  // true, as NumPy does when it converts.
  if (type == ElementType::Bool)
    for (int64_t i = 0; i < tensor.numel(); ++i)
      tensor.data<uint8_t>()[i] = tensor.data<uint8_t>()[i] != 0;
  return tensor;
}

HostTensor readNpy(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw ModelError("cannot open '" + path + "'");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return readNpyBytes(bytes.data(), bytes.size(), path);
}

void writeNpy(const std::string &path, const HostTensor &tensor) {
  const char *descr = descrOf(tensor.dtype());
  if (!descr)
    throw ModelError("cannot write '" + path + "': .npy has no " +
                     elementTypeName(tensor.dtype()) + " dtype");
  if (tensor.rank() > kMaxDims)
    throw ModelError("cannot write '" + path + "': .npy files have at most " +
                     std::to_string(kMaxDims) + " dims, the tensor has " +
                     std::to_string(tensor.rank()));
  if (tensor.bytes() > 0 && !tensor.data())
    throw ModelError("cannot write '" + path + "': the tensor has no data");
  std::string shape = "(";
  for (size_t i = 0; i < tensor.rank(); ++i)
    shape += std::to_string(tensor.dim(i)) + (tensor.rank() == 1 || i + 1 < tensor.rank() ? "," : "");
  shape += ")";
  std::string header = std::string("{'descr': '") + descr +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad with spaces so the data starts on a 64-byte boundary; the header
  // ends in a newline. Version 1.0: with at most 32 dims the header is far
  // below its 64 KiB limit.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string bytes(kNpyMagic, 6);
  bytes += '\x01';
  bytes += '\x00';
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header;
  bytes.append(static_cast<const char *>(tensor.data()), tensor.bytes());
  writeFileAtomically(path, bytes.data(), bytes.size());
}

} // namespace ember
