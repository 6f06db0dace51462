//===- ElfImage.cpp - inspecting a shared object without loading it --------===//
//
// Every structure is read with memcpy at a bounds-checked offset; addresses
// are translated to file offsets through the PT_LOAD segments. See
// ElfImage.h for what is refused and why.
//
//===----------------------------------------------------------------------===//

#include "ember/Runtime/ElfImage.h"
#include "ember/Runtime/ModelFile.h"

#include <cstring>
#include <elf.h>
#include <set>

namespace ember {
namespace {

[[noreturn]] void refuse(const std::string &why) { throw ModelError(why); }

std::string hex(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof(text), "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

class Reader {
public:
  Reader(const uint8_t *data, size_t size) : data(data), size(size) {}

  template <typename T> T at(uint64_t offset, const char *what) const {
    if (offset > size || sizeof(T) > size - offset)
      refuse(std::string("truncated ELF: ") + what + " lies outside the object");
    T value;
    std::memcpy(&value, data + offset, sizeof(T));
    return value;
  }
  bool contains(uint64_t offset, uint64_t length) const {
    return offset <= size && length <= size - offset;
  }
  const uint8_t *data;
  size_t size;
};

/// Translates a virtual address range to a file offset through the PT_LOAD
/// segments (file-backed part only).
struct Segments {
  std::vector<Elf64_Phdr> loads;

  bool fileOffset(uint64_t address, uint64_t length, uint64_t *offset) const {
    for (const Elf64_Phdr &load : loads)
      if (address >= load.p_vaddr && address - load.p_vaddr <= load.p_filesz &&
          length <= load.p_filesz - (address - load.p_vaddr)) {
        *offset = load.p_offset + (address - load.p_vaddr);
        return true;
      }
    return false;
  }
  bool writable(uint64_t address, uint64_t length) const {
    for (const Elf64_Phdr &load : loads)
      if ((load.p_flags & PF_W) && address >= load.p_vaddr &&
          address - load.p_vaddr <= load.p_memsz &&
          length <= load.p_memsz - (address - load.p_vaddr))
        return true;
    return false;
  }
};

const char *forbiddenTag(int64_t tag) {
  switch (tag) {
  case DT_INIT:
  case DT_INIT_ARRAY:
  case DT_INIT_ARRAYSZ:
  case DT_PREINIT_ARRAY:
  case DT_PREINIT_ARRAYSZ:
    return "an initialiser (code that would run when the object is loaded)";
  case DT_FINI:
  case DT_FINI_ARRAY:
  case DT_FINI_ARRAYSZ:
    return "a finaliser (code that would run when the object is unloaded)";
  case DT_RPATH:
  case DT_RUNPATH:
    return "a library search path";
  case DT_TEXTREL:
    return "relocations in its code";
  case DT_AUDIT:
  case DT_DEPAUDIT:
  case DT_AUXILIARY:
  case DT_FILTER:
    return "an audit or filter library";
  }
  return nullptr;
}

bool allowedTag(int64_t tag) {
  switch (tag) {
  case DT_NEEDED:
  case DT_PLTRELSZ:
  case DT_PLTGOT:
  case DT_HASH:
  case DT_STRTAB:
  case DT_SYMTAB:
  case DT_RELA:
  case DT_RELASZ:
  case DT_RELAENT:
  case DT_STRSZ:
  case DT_SYMENT:
  case DT_SONAME:
  case DT_PLTREL:
  case DT_DEBUG:
  case DT_JMPREL:
  case DT_BIND_NOW:
  case DT_FLAGS:
  case DT_GNU_HASH:
  case DT_VERSYM:
  case DT_RELACOUNT:
  case DT_FLAGS_1:
  case DT_VERDEF:
  case DT_VERDEFNUM:
  case DT_VERNEED:
  case DT_VERNEEDNUM:
    return true;
  }
  return false;
}

} // namespace

ElfInspection inspectSharedObject(const uint8_t *data, size_t size) {
  Reader in(data, size);
  Elf64_Ehdr header = in.at<Elf64_Ehdr>(0, "the ELF header");
  if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0)
    refuse("not an ELF object");
  if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_ident[EI_DATA] != ELFDATA2LSB ||
      header.e_machine != EM_X86_64)
    refuse("not a 64-bit little-endian x86-64 object");
  if (header.e_type != ET_DYN)
    refuse("not a shared object");
  if (header.e_phentsize != sizeof(Elf64_Phdr) || header.e_phnum == 0 ||
      !in.contains(header.e_phoff, uint64_t(header.e_phnum) * sizeof(Elf64_Phdr)))
    refuse("malformed program header table");

  Segments segments;
  const Elf64_Phdr *dynamicHeader = nullptr;
  std::vector<Elf64_Phdr> headers;
  for (unsigned i = 0; i < header.e_phnum; ++i)
    headers.push_back(
        in.at<Elf64_Phdr>(header.e_phoff + uint64_t(i) * sizeof(Elf64_Phdr), "a program header"));
  for (const Elf64_Phdr &phdr : headers) {
    switch (phdr.p_type) {
    case PT_LOAD:
      if (!in.contains(phdr.p_offset, phdr.p_filesz) || phdr.p_filesz > phdr.p_memsz)
        refuse("a loadable segment lies outside the object");
      if ((phdr.p_flags & PF_W) && (phdr.p_flags & PF_X))
        refuse("a segment is both writable and executable");
      segments.loads.push_back(phdr);
      break;
    case PT_DYNAMIC:
      if (dynamicHeader)
        refuse("two dynamic segments");
      dynamicHeader = &phdr;
      break;
    case PT_INTERP:
      refuse("it names a program interpreter");
    case PT_TLS:
      refuse("it has thread-local storage");
    case PT_GNU_STACK:
      if (phdr.p_flags & PF_X)
        refuse("it asks for an executable stack");
      break;
    default:
      break;
    }
  }
  if (!dynamicHeader || !in.contains(dynamicHeader->p_offset, dynamicHeader->p_filesz))
    refuse("no dynamic segment");

  // The dynamic section: every tag must be one a plain object has.
  std::map<int64_t, uint64_t> tags;
  std::vector<uint64_t> neededOffsets;
  uint64_t count = dynamicHeader->p_filesz / sizeof(Elf64_Dyn);
  bool terminated = false;
  for (uint64_t i = 0; i < count; ++i) {
    Elf64_Dyn entry =
        in.at<Elf64_Dyn>(dynamicHeader->p_offset + i * sizeof(Elf64_Dyn), "a dynamic entry");
    if (entry.d_tag == DT_NULL) {
      terminated = true;
      break;
    }
    if (const char *what = forbiddenTag(entry.d_tag))
      refuse(std::string("it has ") + what + " (dynamic tag " + hex(entry.d_tag) + ")");
    if (!allowedTag(entry.d_tag))
      refuse("unexpected dynamic tag " + hex(entry.d_tag));
    if (entry.d_tag == DT_NEEDED)
      neededOffsets.push_back(entry.d_un.d_val);
    else
      tags[entry.d_tag] = entry.d_un.d_val;
  }
  if (!terminated)
    refuse("the dynamic section is not terminated");
  if (tags.count(DT_FLAGS) && (tags[DT_FLAGS] & (DF_TEXTREL | DF_STATIC_TLS)))
    refuse("its flags ask for text relocations or static TLS");
  if (tags.count(DT_FLAGS_1) && (tags[DT_FLAGS_1] & (DF_1_INITFIRST | DF_1_INTERPOSE)))
    refuse("its flags ask to initialise first or to interpose symbols");
  for (int64_t required : {DT_STRTAB, DT_STRSZ, DT_SYMTAB, DT_HASH})
    if (!tags.count(required))
      refuse("the dynamic section lacks tag " + hex(required));
  if (tags.count(DT_SYMENT) && tags[DT_SYMENT] != sizeof(Elf64_Sym))
    refuse("unexpected symbol entry size");

  uint64_t strtab = 0, strsz = tags[DT_STRSZ];
  if (!segments.fileOffset(tags[DT_STRTAB], strsz, &strtab))
    refuse("the string table lies outside the object");
  auto stringAt = [&](uint64_t offset) -> std::string {
    if (offset >= strsz)
      refuse("a name lies outside the string table");
    const char *start = reinterpret_cast<const char *>(data + strtab + offset);
    size_t length = strnlen(start, strsz - offset);
    if (length == strsz - offset)
      refuse("an unterminated name");
    return std::string(start, length);
  };

  ElfInspection result;
  static const std::set<std::string> kAllowedLibraries = {"libc.so.6", "libm.so.6"};
  for (uint64_t offset : neededOffsets) {
    std::string name = stringAt(offset);
    if (!kAllowedLibraries.count(name))
      refuse("it depends on '" + name + "' (only libc.so.6 and libm.so.6 are allowed)");
  }

  // Symbols: DT_HASH's chain count is the number of dynamic symbols.
  uint64_t hash = 0;
  if (!segments.fileOffset(tags[DT_HASH], 8, &hash))
    refuse("the hash table lies outside the object");
  uint32_t symbolCount = in.at<uint32_t>(hash + 4, "the hash table");
  uint64_t symtab = 0;
  if (!segments.fileOffset(tags[DT_SYMTAB], uint64_t(symbolCount) * sizeof(Elf64_Sym), &symtab))
    refuse("the symbol table lies outside the object");
  for (uint32_t i = 1; i < symbolCount; ++i) {
    Elf64_Sym symbol = in.at<Elf64_Sym>(symtab + uint64_t(i) * sizeof(Elf64_Sym), "a symbol");
    unsigned type = ELF64_ST_TYPE(symbol.st_info);
    std::string name = stringAt(symbol.st_name);
    if (type == STT_GNU_IFUNC)
      refuse("symbol '" + name + "' is an IFUNC (its resolver would run when the object loads)");
    if (type == STT_TLS)
      refuse("symbol '" + name + "' is thread-local");
    ElfSymbol &entry = result.symbols[name];
    entry.defined = symbol.st_shndx != SHN_UNDEF;
    entry.function = type == STT_FUNC;
    entry.value = symbol.st_value;
    entry.size = symbol.st_size;
  }

  // Relocations: the dynamic loader applies them before dlopen returns, so
  // each must write inside the object's own writable memory, and none may
  // call a resolver.
  auto checkRelocations = [&](uint64_t address, uint64_t bytes, const char *what) {
    if (bytes % sizeof(Elf64_Rela) != 0)
      refuse(std::string("malformed ") + what);
    uint64_t offset = 0;
    if (!segments.fileOffset(address, bytes, &offset))
      refuse(std::string(what) + " lie outside the object");
    for (uint64_t i = 0; i < bytes / sizeof(Elf64_Rela); ++i) {
      Elf64_Rela rela = in.at<Elf64_Rela>(offset + i * sizeof(Elf64_Rela), what);
      uint32_t type = ELF64_R_TYPE(rela.r_info);
      if (type == R_X86_64_IRELATIVE)
        refuse("it has an IRELATIVE relocation (a resolver would run at load time)");
      if (ELF64_R_SYM(rela.r_info) >= symbolCount)
        refuse(std::string(what) + " name a symbol that does not exist");
      if (!segments.writable(rela.r_offset, 8))
        refuse(std::string(what) + " write outside the object's writable memory "
               "(at " + hex(rela.r_offset) + ")");
    }
  };
  if (tags.count(DT_RELA)) {
    if (tags.count(DT_RELAENT) && tags[DT_RELAENT] != sizeof(Elf64_Rela))
      refuse("unexpected relocation entry size");
    checkRelocations(tags[DT_RELA], tags.count(DT_RELASZ) ? tags[DT_RELASZ] : 0, "relocations");
  }
  if (tags.count(DT_JMPREL)) {
    if (!tags.count(DT_PLTREL) || tags[DT_PLTREL] != DT_RELA)
      refuse("PLT relocations are not RELA");
    checkRelocations(tags[DT_JMPREL], tags.count(DT_PLTRELSZ) ? tags[DT_PLTRELSZ] : 0,
                     "PLT relocations");
  }

  auto abi = result.symbols.find("__ember_abi");
  if (abi != result.symbols.end() && abi->second.defined) {
    uint64_t offset = 0;
    if (abi->second.size == 0 ||
        !segments.fileOffset(abi->second.value, abi->second.size, &offset))
      refuse("the ABI record lies outside the object");
    const char *text = reinterpret_cast<const char *>(data + offset);
    result.abiRecord.assign(text, strnlen(text, abi->second.size));
  }
  return result;
}

} // namespace ember
