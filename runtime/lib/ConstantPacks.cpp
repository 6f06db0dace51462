//===- ConstantPacks.cpp - the registry of constant memory and its packs --===//

#include "ConstantPacks.h"

#include "ember/Runtime/EmberGemm.h"

#include <map>
#include <mutex>

namespace ember {
namespace constant {
namespace {

struct Registry {
  std::mutex mutex;
  std::vector<std::pair<const char *, const char *>> ranges;
  std::map<Key, std::shared_ptr<const void>> packed;
};

Registry &registry() {
  static Registry *r = new Registry(); // outlives static destructors
  return *r;
}

/// Whether [begin, end) lies in one registered range (caller locks).
bool isConstant(const Registry &r, const void *begin, const void *end) {
  const char *first = static_cast<const char *>(begin);
  const char *last = static_cast<const char *>(end);
  for (const auto &range : r.ranges)
    if (first >= range.first && last <= range.second)
      return true;
  return false;
}

} // namespace

std::shared_ptr<const void> find(const void *begin, const void *end,
                                  const Key &key, bool &constant) {
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  constant = isConstant(r, begin, end);
  if (!constant)
    return nullptr;
  auto found = r.packed.find(key);
  return found == r.packed.end() ? nullptr : found->second;
}

void insert(const void *begin, const void *end, const Key &key,
            std::shared_ptr<const void> packed) {
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (isConstant(r, begin, end))
    r.packed.emplace(key, std::move(packed));
}

} // namespace constant

namespace gemm {

void registerConstantMemory(const void *begin, size_t size) {
  constant::Registry &r = constant::registry();
  const char *first = static_cast<const char *>(begin);
  std::lock_guard<std::mutex> lock(r.mutex);
  r.ranges.emplace_back(first, first + size);
}

void releaseConstantMemory(const void *begin) {
  constant::Registry &r = constant::registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  for (auto range = r.ranges.begin(); range != r.ranges.end(); ++range) {
    if (range->first != begin)
      continue;
    for (auto entry = r.packed.begin(); entry != r.packed.end();) {
      const char *data = static_cast<const char *>(entry->first.data);
      if (data >= range->first && data < range->second)
        entry = r.packed.erase(entry);
      else
        ++entry;
    }
    r.ranges.erase(range);
    return;
  }
}

} // namespace gemm
} // namespace ember
