//===- ElementType.cpp - element-type names -------------------------------===//

#include "ember/Runtime/ElementType.h"

namespace ember {

// The table is indexed by the enum's value.
static_assert(
    [] {
      for (int i = 0; i < kNumElementTypes; ++i)
        if (static_cast<int>(kElementTypes[i].type) != i)
          return false;
      return true;
    }(),
    "kElementTypes must list the types in enum order");

bool parseElementType(const std::string &name, ElementType *type) {
  for (const ElementTypeInfo &info : kElementTypes)
    if (name == info.name) {
      *type = info.type;
      return true;
    }
  return false;
}

} // namespace ember
