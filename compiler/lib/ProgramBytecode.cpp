//===- ProgramBytecode.cpp - check a model program's bytecode first -------===//
//
// Walks MLIR bytecode (mlir/lib/Bytecode/Reader/BytecodeReader.cpp and the
// builtin dialect's encoding, mlir/IR/BuiltinDialectBytecode.td, of LLVM 22)
// the way MLIR's reader does, without building anything, and rejects what
// could make the reader or the IR it builds misbehave. Each check below says
// which failure of the reader it keeps away.
//
//===----------------------------------------------------------------------===//

#include "ember/Compiler/ProgramBytecode.h"
#include "mlir/Bytecode/Encoding.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OperationSupport.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <vector>

namespace ember {
namespace {

namespace bc = mlir::bytecode;
using llvm::ArrayRef;
using llvm::StringRef;
using llvm::Twine;

/// The dialects an exported program uses (docs/model-format.md). Any other
/// dialect registered in the compiler's context (llvm, linalg, gpu, ...)
/// would widen what a file can make the reader build.
constexpr StringRef kDialects[] = {"builtin", "func", "arith", "tensor", "ember"};

/// Deeper nesting of attributes, types or regions than this is refused: the
/// reader copes, but the printer, the verifier and hashing recurse.
constexpr unsigned kMaxNesting = 64;
constexpr unsigned kMaxRank = 32;
constexpr size_t kMaxFusedLocations = 256;
/// Elements of a static tensor type: more cannot be a real tensor, and
/// element counts times element sizes must not overflow downstream.
constexpr uint64_t kMaxElements = uint64_t(1) << 48;
constexpr int64_t kDynamic = std::numeric_limits<int64_t>::min();

//===----------------------------------------------------------------------===//
// Bytes
//===----------------------------------------------------------------------===//

/// Reads the encoding's primitives (EncodingReader in BytecodeReader.cpp);
/// every read checks the bytes left. `base` is the offset of `data` in the
/// whole program, for messages.
class Reader {
public:
  Reader(ArrayRef<uint8_t> data, size_t base)
      : start(data.begin()), it(data.begin()), end(data.end()), base(base) {}

  size_t size() const { return end - it; }
  bool empty() const { return it == end; }
  size_t offset() const { return base + (it - start); }

  bool byte(uint8_t &value) {
    if (empty())
      return false;
    value = *it++;
    return true;
  }

  bool bytes(uint64_t length, ArrayRef<uint8_t> &result) {
    if (length > size())
      return false;
    result = ArrayRef<uint8_t>(it, length);
    it += length;
    return true;
  }

  /// A prefix-varint: the trailing zeros of the first byte count the
  /// additional bytes (all eight when it is zero).
  bool varint(uint64_t &value) {
    uint8_t first;
    if (!byte(first))
      return false;
    if (first & 1) {
      value = first >> 1;
      return true;
    }
    unsigned extra = first == 0 ? 8 : llvm::countr_zero<uint32_t>(first);
    if (size() < extra)
      return false;
    uint64_t result = 0;
    for (unsigned i = 0; i < extra; ++i)
      result |= uint64_t(it[i]) << (8 * i);
    it += extra;
    if (first == 0) {
      value = result;
      return true;
    }
    value = ((result << 8) | first) >> (extra + 1);
    return true;
  }

  bool varintWithFlag(uint64_t &value, bool &flag) {
    if (!varint(value))
      return false;
    flag = value & 1;
    value >>= 1;
    return true;
  }

  bool signedVarint(uint64_t &value) {
    if (!varint(value))
      return false;
    value = (value >> 1) ^ (~(value & 1) + 1);
    return true;
  }

  bool nulTerminated(StringRef &result) {
    const uint8_t *nul = std::find(it, end, 0);
    if (nul == end)
      return false;
    result = StringRef(reinterpret_cast<const char *>(it), nul - it);
    it = nul + 1;
    return true;
  }

private:
  const uint8_t *start, *it, *end;
  size_t base;
};

//===----------------------------------------------------------------------===//
// Attributes and types
//===----------------------------------------------------------------------===//

// Builtin type codes (BuiltinDialectTypes' order) Ember writes.
enum TypeCode : uint64_t {
  kInteger = 0,
  kIndex = 1,
  kFunction = 2,
  kBFloat16 = 3,
  kFloat16 = 4,
  kFloat32 = 5,
  kFloat64 = 6,
  kRankedTensor = 13,
};

// Builtin attribute codes (BuiltinDialectAttributes' order) Ember writes.
enum AttrCode : uint64_t {
  kArray = 0,
  kDictionary = 1,
  kString = 2,
  kFlatSymbolRef = 4,
  kSymbolRef = 5,
  kTypeAttr = 6,
  kUnit = 7,
  kIntegerAttr = 8,
  kFloatAttr = 9,
  kCallSiteLoc = 10,
  kFileLineColLoc = 11,
  kFusedLoc = 12,
  kNameLoc = 14,
  kUnknownLoc = 15,
  kDenseArray = 17,
  kDenseIntOrFPElements = 18,
  // Not a builtin code: an arith flags attribute in textual form (below).
  kArithFlags = 1000,
};

/// Whether `text` is one of the arith dialect's flag attributes, which the
/// arith dialect writes in textual form (`#arith.overflow<nsw, nuw>`,
/// `#arith.fastmath<nnan,ninf>`): only these reach MLIR's asm parser.
bool isArithFlags(StringRef text) {
  if (!text.consume_front("#arith.overflow<") &&
      !text.consume_front("#arith.fastmath<"))
    return false;
  if (!text.consume_back(">") || text.empty())
    return false;
  static constexpr StringRef kFlags[] = {"none", "nsw",  "nuw",      "reassoc",
                                         "nnan", "ninf", "nsz",      "arcp",
                                         "contract", "afn", "fast"};
  llvm::SmallVector<StringRef> flags;
  text.split(flags, ',', /*MaxSplit=*/-1, /*KeepEmpty=*/true);
  for (StringRef flag : flags)
    if (!llvm::is_contained(kFlags, flag.ltrim(' ')))
      return false;
  return true;
}

/// One attribute or type entry: its code, what it refers to and, for the
/// checks that compare entries, a key that equal attributes share (MLIR
/// uniques them, so two entries may be one attribute).
struct Entry {
  uint64_t code = 0;
  ArrayRef<uint8_t> data;
  std::vector<uint64_t> children; // same table (types: types, attrs: attrs)
  std::vector<uint64_t> types;    // attributes only: the types they use
  // Types: integer/float width; tensors: shape.
  unsigned width = 0;
  std::vector<int64_t> shape;
  std::string payload; // what the identity adds to the code and children
  /// Equal for entries MLIR uniques to one attribute or type: numbered by
  /// (code, payload, children's identities), so its size is the entry's.
  uint64_t identity = 0;
  /// Fused locations: the identities of what FusedLoc::get keeps.
  std::vector<uint64_t> fusedParts;
  unsigned depth = 0;
};

bool isFloatCode(uint64_t code) {
  return code == kBFloat16 || code == kFloat16 || code == kFloat32 ||
         code == kFloat64;
}

/// Whether a type entry can be a tensor element (TensorType's valid element
/// types, less those Ember never writes).
bool isScalar(const Entry &type) {
  return type.code == kInteger || type.code == kIndex || isFloatCode(type.code);
}

bool isLocation(uint64_t code) {
  return code == kCallSiteLoc || code == kFileLineColLoc || code == kFusedLoc ||
         code == kNameLoc || code == kUnknownLoc;
}

class Checker {
public:
  Checker(StringRef bytes, mlir::MLIRContext *context, std::string *error)
      : all(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size()),
        context(context), error(error) {}

  bool run();

private:
  static constexpr size_t kNowhere = SIZE_MAX;
  bool fail(const Twine &message, size_t at) {
    if (error)
      *error = at == kNowhere ? message.str()
                              : (message + " (at byte " + Twine(at) + ")").str();
    return false;
  }
  bool truncated(const Reader &r, StringRef what) {
    return fail(Twine("truncated ") + what, r.offset());
  }
  /// A count of items that each take at least one byte of `r`: larger counts
  /// are what makes the reader reserve or loop without bound.
  bool count(Reader &r, uint64_t &n, StringRef what) {
    size_t at = r.offset();
    if (!r.varint(n))
      return truncated(r, what);
    if (n > r.size())
      return fail(Twine(what) + " " + Twine(n) + " exceeds the " +
                      Twine(r.size()) + " bytes left",
                  at);
    return true;
  }
  bool index(Reader &r, uint64_t limit, uint64_t &value, StringRef what) {
    size_t at = r.offset();
    if (!r.varint(value))
      return truncated(r, what);
    if (value >= limit)
      return fail(Twine(what) + " index " + Twine(value) + " out of range (" +
                      Twine(limit) + " entries)",
                  at);
    return true;
  }

  bool parseSections();
  bool parseStrings();
  bool parseDialects();
  bool parseProperties();
  bool parseResources();
  bool parseAttrTypeOffsets();
  bool decodeType(Entry &entry, size_t at);
  bool decodeAttr(Entry &entry, size_t at);
  bool order(std::vector<Entry> &entries, StringRef what,
             std::vector<uint64_t> &postOrder);
  bool checkType(Entry &type, uint64_t index);
  bool checkAttr(Entry &attr, uint64_t index);
  bool parseIR();

  // IR walk state (see parseIR).
  struct Slot {
    int64_t serial = -1;      // the value defined here, or -1
    uint64_t pendingUses = 0; // forward references to it so far
  };
  struct Scope {
    std::vector<Slot> slots;
    std::vector<uint64_t> nextIds; // per open region of this scope
  };
  bool parseRegions(Reader &r, uint64_t numRegions, unsigned depth);
  bool parseBlockHeader(Reader &r, bool topLevel, uint64_t &numOps);
  bool parseOp(Reader &r, uint64_t numBlocks, uint64_t numValues,
               unsigned depth);
  bool defineValues(Reader &r, uint64_t n, std::vector<int64_t> &serials);
  /// Use-list orders of a range of `size` values: for each order given as
  /// (old, new) index pairs, the value's position and the largest old index.
  bool parseUseListOrders(Reader &r, uint64_t size,
                          std::vector<std::pair<uint64_t, uint64_t>> &pairs);
  void boundPairOrders(ArrayRef<int64_t> serials,
                       ArrayRef<std::pair<uint64_t, uint64_t>> pairs);

  ArrayRef<uint8_t> all;
  mlir::MLIRContext *context;
  std::string *error;

  uint64_t version = 0;
  ArrayRef<uint8_t> sections[bc::Section::kNumSections];
  size_t sectionOffsets[bc::Section::kNumSections] = {};
  bool present[bc::Section::kNumSections] = {};

  std::vector<StringRef> strings;
  std::vector<StringRef> dialects;
  uint64_t numOpNames = 0;
  uint64_t numProperties = 0;
  std::vector<Entry> attrs, types;
  std::map<std::string, uint64_t> identities;
  uint64_t identify(std::string key) {
    return identities.emplace(std::move(key), identities.size()).first->second;
  }

  std::vector<Scope> scopes;
  uint64_t declaredValues = 0;
  int64_t nextSerial = 0;
  std::vector<uint64_t> uses; // per value serial
  /// Use-list orders given as (old, new) index pairs: MLIR indexes a vector
  /// of the value's use count with the old index unchecked.
  std::vector<std::pair<int64_t, uint64_t>> pairOrderBounds;
};

bool Checker::run() {
  // The reader keeps some counts in 32-bit ints.
  if (all.size() > (uint64_t(1) << 30))
    return fail("the program is larger than 1 GiB", 0);
  Reader r(all, 0);
  ArrayRef<uint8_t> magic;
  if (!r.bytes(4, magic) || StringRef(reinterpret_cast<const char *>(magic.data()), 4) != "ML\xefR")
    return fail("not MLIR bytecode (bad magic)", 0);
  size_t at = r.offset();
  if (!r.varint(version))
    return truncated(r, "version");
  // From version 5 on, operation names say whether they were registered and
  // properties have their own section; Ember's LLVM writes version 6.
  if (version < bc::kNativePropertiesEncoding || version > bc::kVersion)
    return fail("bytecode version " + Twine(version) + " is not supported (" +
                    Twine(unsigned(bc::kNativePropertiesEncoding)) + " to " +
                    Twine(unsigned(bc::kVersion)) + ")",
                at);
  StringRef producer;
  if (!r.nulTerminated(producer))
    return truncated(r, "producer");
  while (!r.empty()) {
    at = r.offset();
    uint8_t id;
    uint64_t length;
    ArrayRef<uint8_t> data;
    if (!r.byte(id) || !r.varint(length))
      return truncated(r, "section header");
    // Alignment only serves resource blobs, which Ember does not write.
    if (id & 0x80)
      return fail("aligned section", at);
    if (id >= bc::Section::kNumSections)
      return fail("unknown section " + Twine(unsigned(id)), at);
    if (present[id])
      return fail("duplicate section " + Twine(unsigned(id)), at);
    if (!r.bytes(length, data))
      return fail("section " + Twine(unsigned(id)) + " of " + Twine(length) +
                      " bytes exceeds the " + Twine(r.size()) + " bytes left",
                  at);
    present[id] = true;
    sections[id] = data;
    sectionOffsets[id] = r.offset() - data.size();
  }
  for (unsigned id : {bc::Section::kString, bc::Section::kDialect,
                      bc::Section::kAttrType, bc::Section::kAttrTypeOffset,
                      bc::Section::kIR, bc::Section::kProperties})
    if (!present[id])
      return fail("missing section " + Twine(id), all.size());
  return parseStrings() && parseProperties() && parseDialects() &&
         parseResources() && parseAttrTypeOffsets() && parseIR();
}

//===----------------------------------------------------------------------===//
// Tables
//===----------------------------------------------------------------------===//

bool Checker::parseStrings() {
  ArrayRef<uint8_t> data = sections[bc::Section::kString];
  Reader r(data, sectionOffsets[bc::Section::kString]);
  uint64_t n;
  if (!count(r, n, "string count"))
    return false;
  // Sizes come first, in reverse order; the strings, NUL-terminated, fill
  // the section's end.
  std::vector<uint64_t> sizes(n);
  for (uint64_t i = 0; i < n; ++i)
    if (!r.varint(sizes[n - 1 - i]))
      return truncated(r, "string sizes");
  size_t headerEnd = data.size() - r.size();
  uint64_t offset = headerEnd;
  strings.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    // A size of zero would make the reader's string SIZE_MAX bytes long.
    if (sizes[i] == 0 || sizes[i] > data.size() - offset)
      return fail("string " + Twine(i) + " has a bad size " + Twine(sizes[i]),
                  sectionOffsets[bc::Section::kString]);
    if (data[offset + sizes[i] - 1] != 0)
      return fail("string " + Twine(i) + " is not NUL-terminated",
                  sectionOffsets[bc::Section::kString] + offset);
    strings[i] = StringRef(reinterpret_cast<const char *>(data.data() + offset),
                           sizes[i] - 1);
    offset += sizes[i];
  }
  if (offset != data.size())
    return fail("trailing bytes in the string section",
                sectionOffsets[bc::Section::kString] + offset);
  return true;
}

bool Checker::parseProperties() {
  ArrayRef<uint8_t> data = sections[bc::Section::kProperties];
  if (data.empty())
    return true;
  Reader r(data, sectionOffsets[bc::Section::kProperties]);
  if (!count(r, numProperties, "property count"))
    return false;
  for (uint64_t i = 0; i < numProperties; ++i) {
    uint64_t size;
    ArrayRef<uint8_t> blob;
    if (!r.varint(size) || !r.bytes(size, blob))
      return truncated(r, "properties");
  }
  if (!r.empty())
    return fail("trailing bytes in the properties section", r.offset());
  return true;
}

bool Checker::parseDialects() {
  Reader r(sections[bc::Section::kDialect],
           sectionOffsets[bc::Section::kDialect]);
  uint64_t n;
  if (!count(r, n, "dialect count"))
    return false;
  for (uint64_t i = 0; i < n; ++i) {
    size_t at = r.offset();
    uint64_t name;
    bool hasVersion;
    if (!r.varintWithFlag(name, hasVersion))
      return truncated(r, "dialect");
    if (name >= strings.size())
      return fail("dialect name index " + Twine(name) + " out of range", at);
    // Versions are for upgrading old IR; none of Ember's dialects has one.
    if (hasVersion)
      return fail("dialect '" + strings[name].take_front(64) + "' has a version", at);
    if (!llvm::is_contained(kDialects, strings[name]))
      return fail("dialect '" + strings[name].take_front(64) + "' is not one Ember writes", at);
    if (llvm::is_contained(dialects, strings[name]))
      return fail("dialect '" + strings[name].take_front(64) + "' is listed twice", at);
    dialects.push_back(strings[name]);
  }
  uint64_t expected; // the reader reserves this many operation names
  if (!count(r, expected, "operation name count"))
    return false;
  while (!r.empty()) {
    uint64_t dialect, entries;
    if (!index(r, dialects.size(), dialect, "dialect") ||
        !count(r, entries, "operation name count"))
      return false;
    if (context && !context->getOrLoadDialect(dialects[dialect]))
      return fail("dialect '" + dialects[dialect] + "' is not registered",
                  r.offset());
    for (uint64_t i = 0; i < entries; ++i) {
      size_t at = r.offset();
      uint64_t name;
      bool registered;
      if (!r.varintWithFlag(name, registered))
        return truncated(r, "operation name");
      if (name >= strings.size())
        return fail("operation name index " + Twine(name) + " out of range",
                    at);
      std::string full = (dialects[dialect] + "." + strings[name]).str();
      // Unregistered operations keep their properties as an attribute that
      // MLIR converts without checking; Ember's operations are registered.
      if (!registered || strings[name].empty() ||
          (context &&
           !mlir::RegisteredOperationName::lookup(full, context).has_value()))
        return fail("operation '" + StringRef(full).take_front(64) +
                        "' is not registered",
                    at);
      ++numOpNames;
    }
  }
  return true;
}

bool Checker::parseResources() {
  bool data = present[bc::Section::kResource];
  bool offsets = present[bc::Section::kResourceOffset];
  if (!data && !offsets)
    return true;
  // MLIR's writer emits both, empty, when there are no resources; Ember's
  // programs have none (weights live in their own section).
  ArrayRef<uint8_t> table = sections[bc::Section::kResourceOffset];
  if (!data || !offsets || !sections[bc::Section::kResource].empty() ||
      table.size() != 1 || table[0] != 1)
    return fail("the program has resources",
                sectionOffsets[bc::Section::kResourceOffset]);
  return true;
}

bool Checker::parseAttrTypeOffsets() {
  ArrayRef<uint8_t> data = sections[bc::Section::kAttrType];
  size_t dataOffset = sectionOffsets[bc::Section::kAttrType];
  Reader r(sections[bc::Section::kAttrTypeOffset],
           sectionOffsets[bc::Section::kAttrTypeOffset]);
  uint64_t numAttrs, numTypes;
  if (!count(r, numAttrs, "attribute count") ||
      !count(r, numTypes, "type count"))
    return false;
  if (numAttrs + numTypes > r.size())
    return fail("attribute and type counts exceed the offset table",
                r.offset());
  attrs.resize(numAttrs);
  types.resize(numTypes);
  uint64_t offset = 0;
  for (std::vector<Entry> *table : {&attrs, &types}) {
    size_t next = 0;
    while (next < table->size()) {
      uint64_t dialect, entries;
      size_t at = r.offset();
      if (!index(r, dialects.size(), dialect, "dialect") ||
          !r.varint(entries))
        return truncated(r, "attribute/type group");
      // A group longer than the entries left makes the reader write past
      // its table.
      if (entries > table->size() - next)
        return fail("attribute/type group of " + Twine(entries) +
                        " entries overruns the table",
                    at);
      // Ember's attributes and types are builtin ones in the builtin
      // dialect's binary encoding, but for arith's flags (isArithFlags): no
      // other text reaches MLIR's asm parser.
      bool arith = dialects[dialect] == "arith" && table == &attrs;
      if (dialects[dialect] != "builtin" && !arith)
        return fail("attributes or types of dialect '" + dialects[dialect] +
                        "'",
                    at);
      for (uint64_t i = 0; i < entries; ++i) {
        uint64_t size;
        bool custom;
        at = r.offset();
        if (!r.varintWithFlag(size, custom))
          return truncated(r, "attribute/type offsets");
        if (custom == arith)
          return fail(arith ? "arith attribute in binary form"
                            : "attribute or type in textual form",
                      at);
        if (offset > data.size() || size > data.size() - offset)
          return fail("attribute/type entry past the end of its section", at);
        Entry &entry = (*table)[next++];
        entry.data = data.slice(offset, size);
        if (arith) {
          StringRef text(reinterpret_cast<const char *>(entry.data.data()),
                         entry.data.size());
          if (!text.consume_back(StringRef("\0", 1)) || !isArithFlags(text))
            return fail("arith attribute '" + text.take_front(64) +
                            "' is not one Ember writes",
                        at);
          entry.code = kArithFlags;
          entry.payload = text.str();
        }
        offset += size;
      }
    }
  }
  if (!r.empty())
    return fail("trailing bytes in the attribute/type offsets", r.offset());
  // Types first: attributes need their types' widths to be decoded.
  std::vector<uint64_t> typeOrder, attrOrder;
  for (uint64_t i = 0; i < types.size(); ++i)
    if (!decodeType(types[i], dataOffset + (types[i].data.data() - data.data())))
      return false;
  if (!order(types, "type", typeOrder))
    return false;
  for (uint64_t i : typeOrder)
    if (!checkType(types[i], i))
      return false;
  for (uint64_t i = 0; i < attrs.size(); ++i)
    if (attrs[i].code != kArithFlags &&
        !decodeAttr(attrs[i], dataOffset + (attrs[i].data.data() - data.data())))
      return false;
  if (!order(attrs, "attribute", attrOrder))
    return false;
  for (uint64_t i : attrOrder)
    if (!checkAttr(attrs[i], i))
      return false;
  return true;
}

bool Checker::decodeType(Entry &type, size_t at) {
  Reader r(type.data, at);
  if (!r.varint(type.code))
    return truncated(r, "type");
  auto typeList = [&](StringRef what) {
    uint64_t n;
    if (!count(r, n, what))
      return false;
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t ref;
      if (!index(r, types.size(), ref, "type"))
        return false;
      type.children.push_back(ref);
    }
    return true;
  };
  switch (type.code) {
  case kInteger: {
    uint64_t widthAndSignedness;
    if (!r.varint(widthAndSignedness))
      return truncated(r, "integer type");
    // Wider integers make APInts of any size; signedness 3 is no enum value.
    type.width = unsigned(std::min<uint64_t>(widthAndSignedness >> 2, 65));
    if (type.width == 0 || type.width > 64 || (widthAndSignedness & 3) == 3)
      return fail("bad integer type", at);
    type.payload = std::to_string(widthAndSignedness);
    break;
  }
  case kIndex:
    type.width = 64;
    break;
  case kBFloat16:
  case kFloat16:
    type.width = 16;
    break;
  case kFloat32:
    type.width = 32;
    break;
  case kFloat64:
    type.width = 64;
    break;
  case kFunction: {
    if (!typeList("function inputs"))
      return false;
    type.width = unsigned(type.children.size()); // the number of inputs
    if (!typeList("function results"))
      return false;
    type.payload = std::to_string(type.width);
    break;
  }
  case kRankedTensor: {
    uint64_t rank, element;
    if (!count(r, rank, "tensor rank"))
      return false;
    if (rank > kMaxRank)
      return fail("tensor rank " + Twine(rank) + " is too large", at);
    uint64_t elements = 1;
    for (uint64_t i = 0; i < rank; ++i) {
      uint64_t raw;
      if (!r.signedVarint(raw))
        return truncated(r, "tensor shape");
      int64_t dim = int64_t(raw);
      if (dim != kDynamic && dim < 0)
        return fail("negative tensor dim", at);
      if (dim != kDynamic) {
        if (dim != 0 && elements > kMaxElements / uint64_t(dim))
          return fail("tensor type has too many elements", at);
        elements *= uint64_t(dim);
      }
      type.shape.push_back(dim);
      type.payload += std::to_string(dim) + "x";
    }
    if (!index(r, types.size(), element, "type"))
      return false;
    type.children.push_back(element);
    break;
  }
  default:
    return fail("builtin type code " + Twine(type.code) +
                    " is not one Ember writes",
                at);
  }
  if (!r.empty())
    return fail("trailing bytes after a type", r.offset());
  return true;
}

/// Orders `entries` so that each comes after what it refers to, refusing
/// cycles (MLIR's deferred-parse worklist loops forever on one) and deep
/// nesting.
bool Checker::order(std::vector<Entry> &entries, StringRef what,
                    std::vector<uint64_t> &postOrder) {
  enum : uint8_t { kNew, kOpen, kDone };
  std::vector<uint8_t> state(entries.size(), kNew);
  std::vector<std::pair<uint64_t, size_t>> stack;
  for (uint64_t root = 0; root < entries.size(); ++root) {
    if (state[root] != kNew)
      continue;
    state[root] = kOpen;
    stack.push_back({root, 0});
    while (!stack.empty()) {
      auto &[node, next] = stack.back();
      const std::vector<uint64_t> &children = entries[node].children;
      if (next < children.size()) {
        uint64_t child = children[next++];
        if (state[child] == kOpen)
          return fail(Twine(what) + " " + Twine(child) + " refers to itself",
                      kNowhere);
        if (state[child] == kNew) {
          state[child] = kOpen;
          stack.push_back({child, 0});
        }
        continue;
      }
      unsigned depth = 0;
      for (uint64_t child : children)
        depth = std::max(depth, entries[child].depth);
      entries[node].depth = depth + 1;
      if (entries[node].depth > kMaxNesting)
        return fail(Twine(what) + " " + Twine(node) + " is nested too deeply",
                    kNowhere);
      state[node] = kDone;
      postOrder.push_back(node);
      stack.pop_back();
    }
  }
  return true;
}

/// Sets the key; children are keyed already (post-order).
bool Checker::checkType(Entry &type, uint64_t index) {
  if (type.code == kRankedTensor && !isScalar(types[type.children[0]]))
    return fail("type " + Twine(index) + ": tensor of a non-scalar element",
                kNowhere);
  std::string key = "t" + std::to_string(type.code) + ":" + type.payload + "(";
  for (uint64_t child : type.children)
    key += std::to_string(types[child].identity) + ",";
  type.identity = identify(key + ")");
  return true;
}

bool Checker::decodeAttr(Entry &attr, size_t at) {
  Reader r(attr.data, at);
  if (!r.varint(attr.code))
    return truncated(r, "attribute");
  auto attrRef = [&]() {
    uint64_t ref;
    if (!index(r, attrs.size(), ref, "attribute"))
      return false;
    attr.children.push_back(ref);
    return true;
  };
  auto typeRef = [&]() {
    uint64_t ref;
    if (!index(r, types.size(), ref, "type"))
      return false;
    attr.types.push_back(ref);
    return true;
  };
  auto attrList = [&](StringRef what, unsigned each) {
    uint64_t n;
    if (!count(r, n, what))
      return false;
    attr.payload += std::to_string(n) + ";";
    for (uint64_t i = 0; i < n * each; ++i)
      if (!attrRef())
        return false;
    return true;
  };
  /// An APInt of `width` bits (readAPIntWithKnownWidth, up to 64 bits).
  auto value = [&](unsigned width) {
    uint64_t v;
    if (width <= 8) {
      uint8_t b;
      if (!r.byte(b))
        return truncated(r, "attribute value");
      v = b;
    } else if (!r.signedVarint(v)) {
      return truncated(r, "attribute value");
    }
    attr.payload += std::to_string(width >= 64 ? v : v & ((uint64_t(1) << width) - 1));
    return true;
  };
  switch (attr.code) {
  case kArray:
    if (!attrList("array size", 1))
      return false;
    break;
  case kDictionary:
    if (!attrList("dictionary size", 2))
      return false;
    break;
  case kString: {
    uint64_t string;
    if (!index(r, strings.size(), string, "string"))
      return false;
    attr.payload = strings[string].str();
    break;
  }
  case kFlatSymbolRef:
    if (!attrRef())
      return false;
    break;
  case kSymbolRef:
    if (!attrRef() || !attrList("nested symbol references", 1))
      return false;
    break;
  case kTypeAttr:
    if (!typeRef())
      return false;
    break;
  case kUnit:
  case kUnknownLoc:
    break;
  case kIntegerAttr: {
    if (!typeRef())
      return false;
    const Entry &type = types[attr.types[0]];
    if (type.code != kInteger && type.code != kIndex)
      return fail("integer attribute of a non-integer type", at);
    if (!value(type.width))
      return false;
    break;
  }
  case kFloatAttr: {
    if (!typeRef())
      return false;
    const Entry &type = types[attr.types[0]];
    if (!isFloatCode(type.code))
      return fail("float attribute of a non-float type", at);
    if (!value(type.width))
      return false;
    break;
  }
  case kCallSiteLoc:
    if (!attrRef() || !attrRef())
      return false;
    break;
  case kFileLineColLoc: {
    uint64_t line, column;
    if (!attrRef())
      return false;
    if (!r.varint(line) || !r.varint(column))
      return truncated(r, "location");
    // FileLineColRange keeps 32-bit line and column numbers.
    attr.payload = std::to_string(uint32_t(line)) + ":" +
                   std::to_string(uint32_t(column));
    break;
  }
  case kFusedLoc:
    if (!attrList("fused locations", 1))
      return false;
    break;
  case kNameLoc:
    if (!attrRef() || !attrRef())
      return false;
    break;
  case kDenseArray: {
    uint64_t size, bytes;
    ArrayRef<uint8_t> raw;
    if (!typeRef() || !r.varint(size) || !r.varint(bytes) ||
        !r.bytes(bytes, raw))
      return truncated(r, "dense array");
    // DenseArrayAttr::verify, which the reader does not call: byte-sized
    // integer or float elements (bool as a byte) and data of that size.
    const Entry &type = types[attr.types[0]];
    unsigned width = type.width == 1 ? 8 : type.width;
    if (!(type.code == kInteger || isFloatCode(type.code)) || width % 8 ||
        size > raw.size() || size * (width / 8) != raw.size())
      return fail("dense array of " + Twine(size) + " elements has " +
                      Twine(raw.size()) + " bytes of data",
                  at);
    attr.payload = std::to_string(size) + ":" +
                   std::string(reinterpret_cast<const char *>(raw.data()), raw.size());
    break;
  }
  case kDenseIntOrFPElements: {
    uint64_t bytes;
    ArrayRef<uint8_t> raw;
    if (!typeRef() || !r.varint(bytes) || !r.bytes(bytes, raw))
      return truncated(r, "dense elements");
    // DenseElementsAttr::isValidRawBuffer, which the reader does not call:
    // a statically shaped tensor and one element (a splat) or all of them.
    const Entry &type = types[attr.types[0]];
    if (type.code != kRankedTensor ||
        llvm::is_contained(type.shape, kDynamic))
      return fail("dense elements of a type that is not a static tensor", at);
    uint64_t elements = 1;
    for (int64_t dim : type.shape)
      elements *= uint64_t(dim); // bounded by kMaxElements
    const Entry &element = types[type.children[0]];
    uint64_t bits = raw.size() * 8;
    bool valid;
    if (element.width == 1)
      valid = (raw.size() == 1 && (raw[0] == 0 || raw[0] == 0xff)) ||
              bits == llvm::alignTo(elements, 8);
    else
      valid = bits == llvm::alignTo(element.width, 8) ||
              bits == llvm::alignTo(element.width, 8) * elements;
    if (!valid)
      return fail("dense elements have " + Twine(raw.size()) +
                      " bytes of data for " + Twine(elements) + " elements",
                  at);
    attr.payload = std::string(reinterpret_cast<const char *>(raw.data()), raw.size());
    break;
  }
  default:
    return fail("builtin attribute code " + Twine(attr.code) +
                    " is not one Ember writes",
                at);
  }
  if (!r.empty())
    return fail("trailing bytes after an attribute", r.offset());
  return true;
}

bool Checker::checkAttr(Entry &attr, uint64_t index) {
  auto bad = [&](const Twine &what) {
    return fail("attribute " + Twine(index) + ": " + what, kNowhere);
  };
  auto code = [&](size_t child) { return attrs[attr.children[child]].code; };
  switch (attr.code) {
  case kDictionary: {
    std::set<StringRef> names;
    for (size_t i = 0; i < attr.children.size(); i += 2) {
      if (code(i) != kString)
        return bad("dictionary key is not a string");
      if (!names.insert(attrs[attr.children[i]].payload).second)
        return bad("dictionary key '" +
                   StringRef(attrs[attr.children[i]].payload).take_front(64) +
                   "' repeats");
    }
    break;
  }
  case kFlatSymbolRef:
  case kFileLineColLoc:
    if (code(0) != kString)
      return bad("expected a string");
    break;
  case kSymbolRef:
    if (code(0) != kString)
      return bad("expected a string");
    for (size_t i = 1; i < attr.children.size(); ++i)
      if (code(i) != kFlatSymbolRef)
        return bad("expected a flat symbol reference");
    break;
  case kNameLoc:
    if (code(0) != kString || !isLocation(code(1)))
      return bad("bad name location");
    break;
  case kCallSiteLoc:
    if (!isLocation(code(0)) || !isLocation(code(1)))
      return bad("bad call site location");
    break;
  case kFusedLoc: {
    // FusedLoc::get flattens nested fused locations, drops unknown ones and
    // repeats, and returns what is left when fewer than two remain; the
    // reader then casts that to FusedLoc unchecked.
    std::vector<uint64_t> parts;
    std::set<uint64_t> seen;
    for (uint64_t child : attr.children) {
      const Entry &loc = attrs[child];
      if (!isLocation(loc.code))
        return bad("fused location of a non-location");
      if (loc.code == kUnknownLoc)
        continue;
      std::vector<uint64_t> nested;
      if (loc.code == kFusedLoc)
        nested = loc.fusedParts;
      else
        nested.push_back(loc.identity);
      for (uint64_t part : nested)
        if (seen.insert(part).second)
          parts.push_back(part);
      // Nested fused locations are flattened into each one that uses them:
      // bound their size so that a chain of them stays linear.
      if (parts.size() > kMaxFusedLocations)
        return bad("fused location of too many locations");
    }
    if (parts.size() < 2)
      return bad("fused location of fewer than two locations");
    // The key of what FusedLoc::get makes: its flattened parts.
    std::string key = "a12:(";
    for (uint64_t part : parts)
      key += std::to_string(part) + ",";
    attr.identity = identify(key + ")");
    attr.fusedParts = std::move(parts);
    return true;
  }
  default:
    break;
  }
  // A flat symbol reference is a symbol reference without nested ones.
  uint64_t keyCode = attr.code == kSymbolRef && attr.children.size() == 1
                         ? uint64_t(kFlatSymbolRef)
                         : attr.code;
  std::string key = "a" + std::to_string(keyCode) + ":" + attr.payload + "(";
  for (uint64_t type : attr.types)
    key += std::to_string(types[type].identity) + ",";
  key += "|";
  for (uint64_t child : attr.children)
    key += std::to_string(attrs[child].identity) + ",";
  attr.identity = identify(key + ")");
  return true;
}

//===----------------------------------------------------------------------===//
// Operations
//===----------------------------------------------------------------------===//

// The IR section as BytecodeReader::Impl::parseIRSection reads it: the
// top-level block's header (no argument: the reader has no value scope for
// one yet), then its operations; an operation's regions follow it, inline or
// (isolated from above) in a nested IR section with a value scope of its own.
// A region declares its block count and the number of values its blocks
// define; operands index the values of the current scope.
bool Checker::parseIR() {
  Reader r(sections[bc::Section::kIR], sectionOffsets[bc::Section::kIR]);
  uint64_t numOps;
  if (!parseBlockHeader(r, /*topLevel=*/true, numOps))
    return false;
  scopes.emplace_back();
  scopes.back().nextIds.push_back(0);
  for (uint64_t i = 0; i < numOps; ++i)
    if (!parseOp(r, /*numBlocks=*/1, /*numValues=*/0, 0))
      return false;
  for (auto [serial, bound] : pairOrderBounds)
    if (bound >= uses[serial])
      return fail("use-list order index " + Twine(bound) +
                      " out of range for a value with " + Twine(uses[serial]) +
                      " uses",
                  kNowhere);
  return true;
}

bool Checker::parseBlockHeader(Reader &r, bool topLevel, uint64_t &numOps) {
  size_t at = r.offset();
  bool hasArgs;
  if (!r.varintWithFlag(numOps, hasArgs))
    return truncated(r, "block header");
  if (numOps > r.size())
    return fail("block of " + Twine(numOps) + " operations exceeds the bytes left",
                at);
  if (!hasArgs)
    return true;
  if (topLevel)
    return fail("the top-level block has arguments", at);
  uint64_t numArgs;
  if (!count(r, numArgs, "block argument count"))
    return false;
  for (uint64_t i = 0; i < numArgs; ++i) {
    uint64_t type, loc;
    bool hasLoc;
    at = r.offset();
    if (!r.varintWithFlag(type, hasLoc))
      return truncated(r, "block argument");
    if (type >= types.size())
      return fail("type index " + Twine(type) + " out of range", at);
    if (hasLoc) {
      if (!index(r, attrs.size(), loc, "attribute"))
        return false;
      if (!isLocation(attrs[loc].code))
        return fail("block argument location is not a location", at);
    }
  }
  std::vector<int64_t> serials;
  if (!defineValues(r, numArgs, serials))
    return false;
  uint8_t hasOrders;
  if (!r.byte(hasOrders))
    return truncated(r, "block header");
  if (!hasOrders)
    return true;
  std::vector<std::pair<uint64_t, uint64_t>> pairs;
  if (!parseUseListOrders(r, numArgs, pairs))
    return false;
  boundPairOrders(serials, pairs);
  return true;
}

bool Checker::defineValues(Reader &r, uint64_t n,
                           std::vector<int64_t> &serials) {
  Scope &scope = scopes.back();
  uint64_t &next = scope.nextIds.back();
  if (n > scope.slots.size() - std::min<uint64_t>(next, scope.slots.size()))
    return fail("more values defined than the region declares", r.offset());
  for (uint64_t i = 0; i < n; ++i, ++next) {
    Slot &slot = scope.slots[next];
    if (slot.serial >= 0)
      return fail("value defined twice", r.offset());
    slot.serial = nextSerial++;
    uses.push_back(slot.pendingUses);
    slot.pendingUses = 0;
    serials.push_back(slot.serial);
  }
  return true;
}

bool Checker::parseUseListOrders(
    Reader &r, uint64_t size,
    std::vector<std::pair<uint64_t, uint64_t>> &pairs) {
  uint64_t numValues = 1;
  if (size > 1 && !count(r, numValues, "use-list order count"))
    return false;
  for (uint64_t v = 0; v < numValues; ++v) {
    uint64_t which = 0, n;
    bool pairEncoding;
    if (size > 1 && !r.varint(which))
      return truncated(r, "use-list order");
    if (!r.varintWithFlag(n, pairEncoding))
      return truncated(r, "use-list order");
    if (n > r.size())
      return fail("use-list order longer than the bytes left", r.offset());
    uint64_t bound = 0;
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t index;
      if (!r.varint(index))
        return truncated(r, "use-list order");
      if (i % 2 == 0)
        bound = std::max(bound, index);
    }
    // The order of a value the range does not have is ignored.
    if (pairEncoding && n > 0 && which < size)
      pairs.push_back({which, bound});
  }
  return true;
}

void Checker::boundPairOrders(ArrayRef<int64_t> serials,
                              ArrayRef<std::pair<uint64_t, uint64_t>> pairs) {
  for (auto [which, bound] : pairs)
    if (which < serials.size() && serials[which] >= 0)
      pairOrderBounds.push_back({serials[which], bound});
}

bool Checker::parseOp(Reader &r, uint64_t numBlocks, uint64_t numValues,
                      unsigned depth) {
  size_t at = r.offset();
  uint64_t name, loc, dict, property;
  uint8_t mask;
  if (!index(r, numOpNames, name, "operation name"))
    return false;
  if (!r.byte(mask))
    return truncated(r, "operation");
  if (mask & 0x80)
    return fail("unknown operation encoding bits", at);
  if (!index(r, attrs.size(), loc, "attribute"))
    return false;
  if (!isLocation(attrs[loc].code))
    return fail("operation location is not a location", at);
  if (mask & bc::OpEncodingMask::kHasAttrs) {
    if (!index(r, attrs.size(), dict, "attribute"))
      return false;
    if (attrs[dict].code != kDictionary)
      return fail("operation attributes are not a dictionary", at);
  }
  if ((mask & bc::OpEncodingMask::kHasProperties) &&
      !index(r, numProperties, property, "properties"))
    return false;
  uint64_t numResults = 0;
  if (mask & bc::OpEncodingMask::kHasResults) {
    if (!count(r, numResults, "result count"))
      return false;
    for (uint64_t i = 0; i < numResults; ++i) {
      uint64_t type;
      if (!index(r, types.size(), type, "type"))
        return false;
    }
  }
  if (mask & bc::OpEncodingMask::kHasOperands) {
    uint64_t numOperands;
    if (!count(r, numOperands, "operand count"))
      return false;
    Scope &scope = scopes.back();
    for (uint64_t i = 0; i < numOperands; ++i) {
      uint64_t value;
      if (!index(r, scope.slots.size(), value, "value"))
        return false;
      // A forward reference counts once the value is defined; one never
      // defined fails in the reader.
      Slot &slot = scope.slots[value];
      if (slot.serial >= 0)
        ++uses[slot.serial];
      else
        ++slot.pendingUses;
    }
  }
  if (mask & bc::OpEncodingMask::kHasSuccessors) {
    uint64_t numSuccessors;
    if (!count(r, numSuccessors, "successor count"))
      return false;
    for (uint64_t i = 0; i < numSuccessors; ++i) {
      uint64_t block;
      if (!index(r, numBlocks, block, "successor"))
        return false;
    }
  }
  std::vector<std::pair<uint64_t, uint64_t>> pairs;
  if ((mask & bc::OpEncodingMask::kHasUseListOrders) &&
      !parseUseListOrders(r, numResults, pairs))
    return false;
  uint64_t numRegions = 0;
  bool isolated = false;
  if (mask & bc::OpEncodingMask::kHasInlineRegions) {
    at = r.offset();
    if (!r.varintWithFlag(numRegions, isolated))
      return truncated(r, "region count");
    if (numRegions > r.size())
      return fail(Twine(numRegions) + " regions exceed the bytes left", at);
  }
  // Results are values only where the region declares values (the reader
  // skips them otherwise).
  std::vector<int64_t> serials;
  if (numValues && numResults && !defineValues(r, numResults, serials))
    return false;
  boundPairOrders(serials, pairs);
  if (!numRegions)
    return true;
  if (depth + 1 > kMaxNesting)
    return fail("regions nested too deeply", at);
  if (!isolated)
    return parseRegions(r, numRegions, depth + 1);
  // An isolated operation's regions are a nested IR section.
  at = r.offset();
  uint8_t id;
  uint64_t length;
  ArrayRef<uint8_t> data;
  if (!r.byte(id) || !r.varint(length))
    return truncated(r, "region section");
  if (id != bc::Section::kIR)
    return fail("expected an IR section for regions", at);
  if (!r.bytes(length, data))
    return fail("region section exceeds the bytes left", at);
  Reader nested(data, r.offset() - data.size());
  scopes.emplace_back();
  bool ok = parseRegions(nested, numRegions, depth + 1);
  scopes.pop_back();
  return ok;
}

bool Checker::parseRegions(Reader &r, uint64_t numRegions, unsigned depth) {
  for (uint64_t region = 0; region < numRegions; ++region) {
    uint64_t numBlocks, numValues;
    if (!count(r, numBlocks, "block count"))
      return false;
    if (numBlocks == 0)
      continue;
    // Each value is defined by a block argument or a result, at least a
    // byte each; the reader reserves them all up front.
    if (!count(r, numValues, "value count"))
      return false;
    // Both readers reserve the values of each region in turn, defined or
    // not: bound their sum so that many regions cannot make that quadratic.
    declaredValues += numValues;
    if (declaredValues > sections[bc::Section::kIR].size())
      return fail("regions declare more values than the IR section holds",
                  r.offset());
    // scopes.back() is re-read after each operation: nested isolated
    // regions push scopes and may move it.
    size_t base = scopes.back().slots.size();
    scopes.back().nextIds.push_back(base);
    scopes.back().slots.resize(base + numValues);
    for (uint64_t block = 0; block < numBlocks; ++block) {
      uint64_t numOps;
      if (!parseBlockHeader(r, /*topLevel=*/false, numOps))
        return false;
      for (uint64_t i = 0; i < numOps; ++i)
        if (!parseOp(r, numBlocks, numValues, depth))
          return false;
    }
    // Values of a region are out of scope after it; forward references to
    // them that were never defined fail in the reader.
    scopes.back().slots.resize(base);
    scopes.back().nextIds.pop_back();
  }
  return true;
}

} // namespace

bool isMlirBytecode(StringRef bytes) { return bytes.starts_with("ML\xefR"); }

bool checkProgramBytecode(StringRef bytes, mlir::MLIRContext *context,
                          std::string *error) {
  return Checker(bytes, context, error).run();
}

} // namespace ember
