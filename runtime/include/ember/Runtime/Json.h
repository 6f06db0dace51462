//===- Json.h - a small JSON value, parser and writer -----------*- C++ -*-===//
//
// Enough JSON for the model manifest: objects keep their key order, numbers
// are int64 when integral and double otherwise. The parser rejects
// malformed text, nesting deeper than 64, and non-UTF-8-safe escapes with a
// ModelError naming the byte offset; it never reads past the input.
//
//===----------------------------------------------------------------------===//

#ifndef EMBER_RUNTIME_JSON_H
#define EMBER_RUNTIME_JSON_H

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ember {

class Json {
public:
  enum class Kind { Null, Bool, Int, Double, String, Array, Object };

  Json() = default;
  Json(bool b) : kind_(Kind::Bool), int_(b) {}
  Json(int i) : kind_(Kind::Int), int_(i) {}
  Json(int64_t i) : kind_(Kind::Int), int_(i) {}
  Json(uint64_t i) : kind_(Kind::Int), int_(static_cast<int64_t>(i)) {}
  Json(double d) : kind_(Kind::Double), double_(d) {}
  Json(const char *s) : kind_(Kind::String), string_(s) {}
  Json(std::string s) : kind_(Kind::String), string_(std::move(s)) {}
  static Json array() { Json j; j.kind_ = Kind::Array; return j; }
  static Json object() { Json j; j.kind_ = Kind::Object; return j; }

  Kind kind() const { return kind_; }
  bool isNull() const { return kind_ == Kind::Null; }
  bool isInt() const { return kind_ == Kind::Int; }
  bool isString() const { return kind_ == Kind::String; }
  bool isArray() const { return kind_ == Kind::Array; }
  bool isObject() const { return kind_ == Kind::Object; }

  /// Typed access; a wrong kind throws ModelError naming `what`.
  bool asBool(const char *what) const;
  int64_t asInt(const char *what) const;
  double asDouble(const char *what) const; // ints convert
  const std::string &asString(const char *what) const;
  const std::vector<Json> &asArray(const char *what) const;

  /// Arrays.
  void push(Json value);
  size_t size() const;
  const Json &operator[](size_t i) const;

  /// Objects (insertion order kept).
  void set(const std::string &key, Json value);
  /// The member `key`, or null when absent (or not an object).
  const Json *get(const std::string &key) const;
  /// The member `key`; throws ModelError "missing '<key>' in <what>".
  const Json &at(const std::string &key, const char *what) const;
  const std::vector<std::pair<std::string, Json>> &members() const { return object_; }

  /// Compact text (or indented by 2 when `pretty`).
  std::string dump(bool pretty = false) const;
  /// Parses `text`; throws ModelError on malformed input.
  static Json parse(const std::string &text);

private:
  Kind kind_ = Kind::Null;
  int64_t int_ = 0;
  double double_ = 0;
  std::string string_;
  std::vector<Json> array_;
  std::vector<std::pair<std::string, Json>> object_;
};

} // namespace ember

#endif // EMBER_RUNTIME_JSON_H
