//===- Json.cpp - the manifest's JSON: parser and writer -------------------===//

#include "ember/Runtime/Json.h"
#include "ember/Runtime/ModelFile.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace ember {

namespace {

const char *kindName(Json::Kind kind) {
  switch (kind) {
  case Json::Kind::Null:
    return "null";
  case Json::Kind::Bool:
    return "a boolean";
  case Json::Kind::Int:
    return "an integer";
  case Json::Kind::Double:
    return "a number";
  case Json::Kind::String:
    return "a string";
  case Json::Kind::Array:
    return "an array";
  case Json::Kind::Object:
    return "an object";
  }
  return "?";
}

[[noreturn]] void wrongKind(const char *what, const char *expected, Json::Kind got) {
  throw ModelError(std::string("manifest: ") + what + " must be " + expected +
                   ", not " + kindName(got));
}

class Parser {
public:
  explicit Parser(const std::string &text) : text(text) {}

  Json parseDocument() {
    Json value = parseValue(0);
    skipSpace();
    if (pos != text.size())
      fail("unexpected text after the JSON value");
    return value;
  }

private:
  [[noreturn]] void fail(const std::string &what) {
    throw ModelError("manifest: malformed JSON at byte " + std::to_string(pos) +
                     ": " + what);
  }

  void skipSpace() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\n' ||
                                 text[pos] == '\r' || text[pos] == '\t'))
      ++pos;
  }

  bool consume(const char *literal) {
    size_t n = std::char_traits<char>::length(literal);
    if (text.compare(pos, n, literal) == 0) {
      pos += n;
      return true;
    }
    return false;
  }

  Json parseValue(int depth) {
    if (depth > 64)
      fail("nested deeper than 64 levels");
    skipSpace();
    if (pos >= text.size())
      fail("unexpected end of text");
    char c = text[pos];
    if (c == '{')
      return parseObject(depth);
    if (c == '[')
      return parseArray(depth);
    if (c == '"')
      return Json(parseString());
    if (consume("true"))
      return Json(true);
    if (consume("false"))
      return Json(false);
    if (consume("null"))
      return Json();
    if (c == '-' || (c >= '0' && c <= '9'))
      return parseNumber();
    fail(std::string("unexpected character '") + c + "'");
  }

  Json parseObject(int depth) {
    ++pos; // {
    Json object = Json::object();
    skipSpace();
    if (pos < text.size() && text[pos] == '}') {
      ++pos;
      return object;
    }
    while (true) {
      skipSpace();
      if (pos >= text.size() || text[pos] != '"')
        fail("expected a string key");
      std::string key = parseString();
      if (object.get(key))
        fail("duplicate key \"" + key + "\"");
      skipSpace();
      if (pos >= text.size() || text[pos] != ':')
        fail("expected ':'");
      ++pos;
      object.set(key, parseValue(depth + 1));
      skipSpace();
      if (pos < text.size() && text[pos] == ',') {
        ++pos;
        continue;
      }
      if (pos < text.size() && text[pos] == '}') {
        ++pos;
        return object;
      }
      fail("expected ',' or '}'");
    }
  }

  Json parseArray(int depth) {
    ++pos; // [
    Json array = Json::array();
    skipSpace();
    if (pos < text.size() && text[pos] == ']') {
      ++pos;
      return array;
    }
    while (true) {
      array.push(parseValue(depth + 1));
      skipSpace();
      if (pos < text.size() && text[pos] == ',') {
        ++pos;
        continue;
      }
      if (pos < text.size() && text[pos] == ']') {
        ++pos;
        return array;
      }
      fail("expected ',' or ']'");
    }
  }

  unsigned parseHex4() {
    if (text.size() - pos < 4)
      fail("truncated \\u escape");
    unsigned value = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text[pos++];
      value <<= 4;
      if (c >= '0' && c <= '9')
        value |= c - '0';
      else if (c >= 'a' && c <= 'f')
        value |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        value |= c - 'A' + 10;
      else
        fail("bad hex digit in \\u escape");
    }
    return value;
  }

  static void appendUtf8(std::string &out, unsigned code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  std::string parseString() {
    ++pos; // "
    std::string out;
    while (true) {
      if (pos >= text.size())
        fail("unterminated string");
      char c = text[pos++];
      if (c == '"')
        return out;
      if (static_cast<unsigned char>(c) < 0x20)
        fail("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos >= text.size())
        fail("unterminated escape");
      char e = text[pos++];
      switch (e) {
      case '"':
      case '\\':
      case '/':
        out += e;
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        unsigned code = parseHex4();
        if (code >= 0xD800 && code < 0xDC00) {
          if (!consume("\\u"))
            fail("unpaired surrogate");
          unsigned low = parseHex4();
          if (low < 0xDC00 || low >= 0xE000)
            fail("bad low surrogate");
          code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        } else if (code >= 0xDC00 && code < 0xE000) {
          fail("unpaired surrogate");
        }
        appendUtf8(out, code);
        break;
      }
      default:
        fail(std::string("unknown escape '\\") + e + "'");
      }
    }
  }

  Json parseNumber() {
    size_t start = pos;
    if (text[pos] == '-')
      ++pos;
    auto digits = [&] {
      size_t first = pos;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9')
        ++pos;
      return pos - first;
    };
    if (digits() == 0)
      fail("expected digits");
    bool integral = true;
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      integral = false;
      if (digits() == 0)
        fail("expected digits after '.'");
    }
    if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
      ++pos;
      integral = false;
      if (pos < text.size() && (text[pos] == '+' || text[pos] == '-'))
        ++pos;
      if (digits() == 0)
        fail("expected exponent digits");
    }
    std::string number = text.substr(start, pos - start);
    if (integral) {
      errno = 0;
      char *end = nullptr;
      long long value = std::strtoll(number.c_str(), &end, 10);
      if (errno == 0 && end && *end == '\0')
        return Json(static_cast<int64_t>(value));
    }
    return Json(std::strtod(number.c_str(), nullptr));
  }

  const std::string &text;
  size_t pos = 0;
};

void writeString(std::string &out, const std::string &s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (c < 0x20) {
        char buffer[8];
        std::snprintf(buffer, sizeof(buffer), "\\u%04x", c);
        out += buffer;
      } else {
        out += static_cast<char>(c);
      }
    }
  }
  out += '"';
}

} // namespace

bool Json::asBool(const char *what) const {
  if (kind_ != Kind::Bool)
    wrongKind(what, "a boolean", kind_);
  return int_ != 0;
}

int64_t Json::asInt(const char *what) const {
  if (kind_ != Kind::Int)
    wrongKind(what, "an integer", kind_);
  return int_;
}

double Json::asDouble(const char *what) const {
  if (kind_ == Kind::Int)
    return static_cast<double>(int_);
  if (kind_ != Kind::Double)
    wrongKind(what, "a number", kind_);
  return double_;
}

const std::string &Json::asString(const char *what) const {
  if (kind_ != Kind::String)
    wrongKind(what, "a string", kind_);
  return string_;
}

const std::vector<Json> &Json::asArray(const char *what) const {
  if (kind_ != Kind::Array)
    wrongKind(what, "an array", kind_);
  return array_;
}

void Json::push(Json value) {
  kind_ = Kind::Array;
  array_.push_back(std::move(value));
}

size_t Json::size() const {
  return kind_ == Kind::Array ? array_.size() : kind_ == Kind::Object ? object_.size() : 0;
}

const Json &Json::operator[](size_t i) const { return array_.at(i); }

void Json::set(const std::string &key, Json value) {
  kind_ = Kind::Object;
  for (auto &member : object_)
    if (member.first == key) {
      member.second = std::move(value);
      return;
    }
  object_.emplace_back(key, std::move(value));
}

const Json *Json::get(const std::string &key) const {
  if (kind_ != Kind::Object)
    return nullptr;
  for (const auto &member : object_)
    if (member.first == key)
      return &member.second;
  return nullptr;
}

const Json &Json::at(const std::string &key, const char *what) const {
  if (kind_ != Kind::Object)
    wrongKind(what, "an object", kind_);
  const Json *value = get(key);
  if (!value)
    throw ModelError(std::string("manifest: missing '") + key + "' in " + what);
  return *value;
}

namespace {

void dumpTo(const Json &value, std::string &out, bool pretty, int indent) {
  auto newline = [&](int level) {
    if (!pretty)
      return;
    out += '\n';
    out.append(static_cast<size_t>(level) * 2, ' ');
  };
  switch (value.kind()) {
  case Json::Kind::Null:
    out += "null";
    return;
  case Json::Kind::Bool:
    out += value.asBool("value") ? "true" : "false";
    return;
  case Json::Kind::Int:
    out += std::to_string(value.asInt("value"));
    return;
  case Json::Kind::Double: {
    double d = value.asDouble("value");
    if (!std::isfinite(d)) {
      out += "null"; // JSON has no inf/nan
      return;
    }
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%.17g", d);
    out += buffer;
    return;
  }
  case Json::Kind::String:
    writeString(out, value.asString("value"));
    return;
  case Json::Kind::Array: {
    const auto &items = value.asArray("value");
    out += '[';
    for (size_t i = 0; i < items.size(); ++i) {
      if (i)
        out += pretty ? ", " : ",";
      dumpTo(items[i], out, false, indent + 1);
    }
    out += ']';
    return;
  }
  case Json::Kind::Object: {
    out += '{';
    bool first = true;
    for (const auto &member : value.members()) {
      if (!first)
        out += ',';
      first = false;
      newline(indent + 1);
      writeString(out, member.first);
      out += pretty ? ": " : ":";
      dumpTo(member.second, out, pretty, indent + 1);
    }
    if (!value.members().empty())
      newline(indent);
    out += '}';
    return;
  }
  }
}

} // namespace

std::string Json::dump(bool pretty) const {
  std::string out;
  dumpTo(*this, out, pretty, 0);
  return out;
}

Json Json::parse(const std::string &text) { return Parser(text).parseDocument(); }

} // namespace ember
