// Links the relocatable AMDGPU object of one JIT module into a code object (a shared ELF, what
// hipModuleLoadData and the HSA loader take), so loading GPU code needs neither ld.lld nor comgr.
//
// It links what hci's kernels contain and refuses anything else with an hci::Error: allocated
// sections (code, kernel descriptors, the metadata note), global symbols, and the kernel
// descriptors' R_AMDGPU_REL64 references to their code. The output follows ld.lld's layout for
// such an object: read-only data, code and the dynamic section in three segments a page apart,
// .dynsym and .hash naming every global symbol, the note in a PT_NOTE segment, and the input's
// ELF identification and flags (processor, code-object version, xnack and sramecc modes). The
// tests check it against ld.lld.
#pragma once

#include <hci/config.hpp>

#include <string>

HCI_BEGIN_NAMESPACE

namespace jit {

// The code object of `relocatable` (an AMDGPU ELF relocatable object).
HCI_RUNTIME_DECL std::string link_amdgpu_code_object(const std::string& relocatable);

}  // namespace jit

HCI_END_NAMESPACE

#if HCI_RUNTIME_DEFINITIONS

#include <hci/error.hpp>

#include <elf.h>

#include <cstring>
#include <vector>

HCI_BEGIN_NAMESPACE

namespace jit::detail {

inline constexpr uint32_t kAmdgpuRel64 = 5;  // R_AMDGPU_REL64: S + A - P
inline constexpr uint64_t kPage = 0x1000;

inline uint64_t align_up(uint64_t v, uint64_t alignment) {
  return alignment > 1 ? (v + alignment - 1) / alignment * alignment : v;
}

// The SysV ELF hash of a symbol name.
inline uint32_t elf_hash(const char* name) {
  uint32_t h = 0;
  for (auto* p = reinterpret_cast<const unsigned char*>(name); *p; ++p) {
    h = (h << 4) + *p;
    const uint32_t g = h & 0xf0000000u;
    if (g) h ^= g >> 24;
    h &= ~g;
  }
  return h;
}

// An ELF file read with bounds checks: a malformed object is an error, never a wild read.
class ElfReader {
 public:
  explicit ElfReader(const std::string& bytes) : bytes_(bytes) {}
  template <class T>
  T at(uint64_t offset) const {
    HCI_CHECK(offset <= bytes_.size() && sizeof(T) <= bytes_.size() - offset,
              "the AMDGPU object is truncated (a read at byte {} of {})", offset, bytes_.size());
    T value;
    std::memcpy(&value, bytes_.data() + offset, sizeof(T));
    return value;
  }
  std::string span(uint64_t offset, uint64_t size) const {
    HCI_CHECK(offset <= bytes_.size() && size <= bytes_.size() - offset,
              "the AMDGPU object is truncated (bytes {} to {} of {})", offset, offset + size, bytes_.size());
    return bytes_.substr(offset, size);
  }
  std::string name(const Elf64_Shdr& strings, uint32_t offset) const {
    const std::string table = span(strings.sh_offset, strings.sh_size);
    HCI_CHECK(offset < table.size(), "the AMDGPU object names a string outside its table");
    return table.c_str() + offset;
  }

 private:
  const std::string& bytes_;
};

// The output file, built front to back.
class ElfWriter {
 public:
  uint64_t size() const { return bytes_.size(); }
  uint64_t pad_to(uint64_t alignment) {
    bytes_.resize(align_up(bytes_.size(), alignment), '\0');
    return bytes_.size();
  }
  uint64_t append(const std::string& data, uint64_t alignment) {
    const uint64_t at = pad_to(alignment);
    bytes_ += data;
    return at;
  }
  template <class T>
  static std::string raw(const std::vector<T>& items) {
    return std::string(reinterpret_cast<const char*>(items.data()), items.size() * sizeof(T));
  }
  template <class T>
  void put(uint64_t offset, const T& value) {
    std::memcpy(bytes_.data() + offset, &value, sizeof(T));
  }
  std::string take() { return std::move(bytes_); }

 private:
  std::string bytes_;
};

}  // namespace jit::detail

HCI_RUNTIME_DEF std::string jit::link_amdgpu_code_object(const std::string& relocatable) {
  using namespace detail;
  const ElfReader in(relocatable);
  const auto header = in.at<Elf64_Ehdr>(0);
  HCI_CHECK(std::memcmp(header.e_ident, ELFMAG, SELFMAG) == 0 && header.e_ident[EI_CLASS] == ELFCLASS64 &&
                header.e_ident[EI_DATA] == ELFDATA2LSB && header.e_type == ET_REL && header.e_machine == EM_AMDGPU,
            "not a relocatable AMDGPU object (ELF64, little-endian, ET_REL, EM_AMDGPU)");
  HCI_CHECK(header.e_shentsize == sizeof(Elf64_Shdr) && header.e_shstrndx < header.e_shnum,
            "the AMDGPU object's section table is malformed");
  std::vector<Elf64_Shdr> sections(header.e_shnum);
  for (size_t i = 0; i < sections.size(); ++i) sections[i] = in.at<Elf64_Shdr>(header.e_shoff + i * sizeof(Elf64_Shdr));
  const Elf64_Shdr& names = sections[header.e_shstrndx];

  // Where each allocated input section goes: its output section index and address.
  struct Placed {
    size_t input;
    std::string name, bytes;
    uint64_t address = 0, offset = 0;
    uint32_t output_index = 0;
  };
  std::vector<Placed> notes, read_only, code;
  const Elf64_Shdr* symbols = nullptr;
  for (size_t i = 1; i < sections.size(); ++i) {
    const Elf64_Shdr& s = sections[i];
    const std::string name = in.name(names, s.sh_name);
    if (s.sh_type == SHT_SYMTAB) {
      HCI_CHECK(symbols == nullptr, "the AMDGPU object has two symbol tables");
      symbols = &s;
    } else if (s.sh_type == SHT_PROGBITS || s.sh_type == SHT_NOTE) {
      if (!(s.sh_flags & SHF_ALLOC)) continue;  // comments and the like
      HCI_CHECK(!(s.sh_flags & SHF_WRITE), "the AMDGPU object has writable data ({}), which hci's kernels never do",
                name);
      Placed p{i, name, in.span(s.sh_offset, s.sh_size)};
      (s.sh_type == SHT_NOTE ? notes : (s.sh_flags & SHF_EXECINSTR) ? code : read_only).push_back(std::move(p));
    } else if (s.sh_type != SHT_STRTAB && s.sh_type != SHT_RELA) {
      HCI_CHECK(s.sh_size == 0 || !(s.sh_flags & SHF_ALLOC), "the AMDGPU object's section {} (type {}) is not linked",
                name, s.sh_type);
    }
  }
  HCI_CHECK(symbols != nullptr && symbols->sh_entsize == sizeof(Elf64_Sym) && symbols->sh_link < sections.size(),
            "the AMDGPU object has no usable symbol table");
  HCI_CHECK(!code.empty(), "the AMDGPU object has no code");

  // Layout: headers, notes, the dynamic symbol table, its hash and strings, read-only data in
  // the first segment; code in the second, the dynamic section in the third. Each segment's
  // addresses are its file offsets plus a page per segment before it, so no two share a page.
  std::vector<Elf64_Sym> input_symbols(symbols->sh_size / sizeof(Elf64_Sym));
  for (size_t i = 0; i < input_symbols.size(); ++i)
    input_symbols[i] = in.at<Elf64_Sym>(symbols->sh_offset + i * sizeof(Elf64_Sym));
  const Elf64_Shdr& symbol_names = sections[symbols->sh_link];
  std::vector<size_t> exported;  // input symbol indices of the global symbols
  std::vector<std::string> exported_names;
  std::string dynamic_strings(1, '\0');
  for (size_t i = 1; i < input_symbols.size(); ++i) {
    const Elf64_Sym& s = input_symbols[i];
    const std::string name = in.name(symbol_names, s.st_name);
    const int binding = ELF64_ST_BIND(s.st_info);
    if (binding == STB_LOCAL) continue;
    HCI_CHECK(s.st_shndx != SHN_UNDEF, "the AMDGPU object refers to {}, which nothing defines", name);
    exported.push_back(i);
    exported_names.push_back(name);
    dynamic_strings += name + '\0';
  }

  constexpr int kSegments = 6;  // PHDR, three LOADs, DYNAMIC, NOTE
  ElfWriter out;
  out.append(std::string(sizeof(Elf64_Ehdr) + kSegments * sizeof(Elf64_Phdr), '\0'), 1);
  uint32_t next_index = 1;  // output section numbers, in file order
  auto place = [&](std::vector<Placed>& group, uint64_t base) {
    for (Placed& p : group) {
      p.offset = out.append(p.bytes, std::max<uint64_t>(1, sections[p.input].sh_addralign));
      p.address = base + p.offset;
      p.output_index = next_index++;
    }
  };
  place(notes, 0);
  const uint32_t dynsym_index = next_index++, hash_index = next_index++, dynstr_index = next_index++;
  const uint64_t dynsym_offset = out.append(std::string((exported.size() + 1) * sizeof(Elf64_Sym), '\0'), 8);
  const uint32_t buckets = 1;
  std::vector<uint32_t> hash(2 + buckets + exported.size() + 1, 0);
  hash[0] = buckets;
  hash[1] = uint32_t(exported.size() + 1);
  for (uint32_t i = 1; i <= exported.size(); ++i) {  // chains: each symbol points at the one before
    uint32_t& bucket = hash[2 + elf_hash(exported_names[i - 1].c_str()) % buckets];
    hash[2 + buckets + i] = bucket;
    bucket = i;
  }
  const uint64_t hash_offset = out.append(ElfWriter::raw(hash), 4);
  const uint64_t dynstr_offset = out.append(dynamic_strings, 1);
  place(read_only, 0);
  const uint64_t first_end = out.size();
  const uint64_t code_base = kPage;
  const uint64_t code_start = align_up(out.size(), std::max<uint64_t>(1, sections[code[0].input].sh_addralign));
  place(code, code_base);
  const uint64_t code_end = out.size();
  const uint64_t data_base = 2 * kPage;
  const uint32_t dynamic_index = next_index++;
  const std::vector<Elf64_Dyn> dynamic = {{DT_SYMTAB, {dynsym_offset}}, {DT_SYMENT, {sizeof(Elf64_Sym)}},
                                          {DT_STRTAB, {dynstr_offset}}, {DT_STRSZ, {dynamic_strings.size()}},
                                          {DT_HASH, {hash_offset}},     {DT_NULL, {0}}};
  const uint64_t dynamic_offset = out.append(ElfWriter::raw(dynamic), 8);

  // Symbols at their output addresses.
  auto section_of = [&](uint16_t input) -> const Placed& {
    for (const std::vector<Placed>* group : {&notes, &read_only, &code})
      for (const Placed& p : *group)
        if (p.input == input) return p;
    hci::detail::throw_error("the AMDGPU object has a symbol in section {}, which is not linked", input);
  };
  auto address_of = [&](const Elf64_Sym& s) {
    HCI_CHECK(s.st_shndx != SHN_UNDEF && s.st_shndx < SHN_LORESERVE, "the AMDGPU object has an unplaced symbol");
    return section_of(s.st_shndx).address + s.st_value;
  };
  std::vector<Elf64_Sym> dynamic_symbols(exported.size() + 1, Elf64_Sym{});
  uint32_t name_at = 1;
  for (size_t k = 0; k < exported.size(); ++k) {
    Elf64_Sym s = input_symbols[exported[k]];
    s.st_name = name_at;
    s.st_value = address_of(s);
    s.st_shndx = uint16_t(section_of(s.st_shndx).output_index);
    dynamic_symbols[k + 1] = s;
    name_at += uint32_t(exported_names[k].size()) + 1;
  }
  for (size_t k = 0; k < dynamic_symbols.size(); ++k)
    out.put(dynsym_offset + k * sizeof(Elf64_Sym), dynamic_symbols[k]);

  // Relocations: a kernel descriptor's offset to its code (S + A - P); nothing else is expected.
  for (const Elf64_Shdr& s : sections) {
    if (s.sh_type != SHT_RELA) continue;
    HCI_CHECK(s.sh_entsize == sizeof(Elf64_Rela) && s.sh_info < sections.size(),
              "the AMDGPU object's relocations are malformed");
    if (!(sections[s.sh_info].sh_flags & SHF_ALLOC)) continue;  // debug information
    const Placed& target = section_of(uint16_t(s.sh_info));
    for (uint64_t r = 0; r < s.sh_size / sizeof(Elf64_Rela); ++r) {
      const auto rela = in.at<Elf64_Rela>(s.sh_offset + r * sizeof(Elf64_Rela));
      HCI_CHECK(ELF64_R_TYPE(rela.r_info) == kAmdgpuRel64,
                "the AMDGPU object has relocation type {}, which hci's linker does not handle",
                ELF64_R_TYPE(rela.r_info));
      HCI_CHECK(ELF64_R_SYM(rela.r_info) < input_symbols.size() && rela.r_offset + 8 <= target.bytes.size(),
                "the AMDGPU object has a relocation outside its section");
      const uint64_t value =
          address_of(input_symbols[ELF64_R_SYM(rela.r_info)]) + rela.r_addend - (target.address + rela.r_offset);
      out.put(target.offset + rela.r_offset, value);
    }
  }

  // The static symbol table (the dynamic one again), section names, section headers.
  const uint64_t symtab_offset = out.append(ElfWriter::raw(dynamic_symbols), 8);
  const uint64_t strtab_offset = out.append(dynamic_strings, 1);
  std::string section_names(1, '\0');
  auto add_name = [&](const std::string& name) {
    const auto at = uint32_t(section_names.size());
    section_names += name + '\0';
    return at;
  };
  std::vector<Elf64_Shdr> headers(1, Elf64_Shdr{});
  auto add_section = [&](const std::string& name, uint32_t type, uint64_t flags, uint64_t address, uint64_t offset,
                         uint64_t size, uint32_t link, uint64_t alignment, uint64_t entry_size) {
    headers.push_back({add_name(name), type, flags, address, offset, size, link, 0, alignment, entry_size});
  };
  auto add_placed = [&](const std::vector<Placed>& group) {
    for (const Placed& p : group) {
      const Elf64_Shdr& s = sections[p.input];
      add_section(p.name, s.sh_type, s.sh_flags, p.address, p.offset, p.bytes.size(), 0, s.sh_addralign, 0);
    }
  };
  add_placed(notes);
  add_section(".dynsym", SHT_DYNSYM, SHF_ALLOC, dynsym_offset, dynsym_offset,
              dynamic_symbols.size() * sizeof(Elf64_Sym), dynstr_index, 8, sizeof(Elf64_Sym));
  headers.back().sh_info = 1;  // one local symbol: the null one
  add_section(".hash", SHT_HASH, SHF_ALLOC, hash_offset, hash_offset, hash.size() * 4, dynsym_index, 4, 4);
  add_section(".dynstr", SHT_STRTAB, SHF_ALLOC, dynstr_offset, dynstr_offset, dynamic_strings.size(), 0, 1, 0);
  add_placed(read_only);
  add_placed(code);
  add_section(".dynamic", SHT_DYNAMIC, SHF_ALLOC | SHF_WRITE, data_base + dynamic_offset, dynamic_offset,
              dynamic.size() * sizeof(Elf64_Dyn), dynstr_index, 8, sizeof(Elf64_Dyn));
  const auto symtab_index = uint32_t(headers.size());
  add_section(".symtab", SHT_SYMTAB, 0, 0, symtab_offset, dynamic_symbols.size() * sizeof(Elf64_Sym), symtab_index + 1,
              8, sizeof(Elf64_Sym));
  headers.back().sh_info = 1;
  add_section(".strtab", SHT_STRTAB, 0, 0, strtab_offset, dynamic_strings.size(), 0, 1, 0);
  const auto shstrtab_index = uint32_t(headers.size());
  add_section(".shstrtab", SHT_STRTAB, 0, 0, 0, 0, 0, 1, 0);
  headers.back().sh_offset = out.append(section_names, 1);
  headers.back().sh_size = section_names.size();
  HCI_CHECK(dynsym_index == 1 + notes.size() && hash_index == dynsym_index + 1 &&
                dynamic_index == 4 + notes.size() + read_only.size() + code.size(),
            "hci's AMDGPU linker numbered its sections inconsistently");
  const uint64_t section_headers = out.append(ElfWriter::raw(headers), 8);

  // Program headers, then the ELF header.
  std::vector<Elf64_Phdr> segments;
  auto segment = [&](uint32_t type, uint32_t flags, uint64_t offset, uint64_t address, uint64_t size,
                     uint64_t alignment) {
    segments.push_back({type, flags, offset, address, address, size, size, alignment});
  };
  segment(PT_PHDR, PF_R, sizeof(Elf64_Ehdr), sizeof(Elf64_Ehdr), kSegments * sizeof(Elf64_Phdr), 8);
  segment(PT_LOAD, PF_R, 0, 0, first_end, kPage);
  segment(PT_LOAD, PF_R | PF_X, code_start, code_base + code_start, code_end - code_start, kPage);
  segment(PT_LOAD, PF_R | PF_W, dynamic_offset, data_base + dynamic_offset, dynamic.size() * sizeof(Elf64_Dyn), kPage);
  segment(PT_DYNAMIC, PF_R | PF_W, dynamic_offset, data_base + dynamic_offset, dynamic.size() * sizeof(Elf64_Dyn), 8);
  const uint64_t notes_start = notes.empty() ? 0 : notes.front().offset;
  const uint64_t notes_end = notes.empty() ? 0 : notes.back().offset + notes.back().bytes.size();
  segment(PT_NOTE, PF_R, notes_start, notes_start, notes_end - notes_start, 4);
  for (size_t i = 0; i < segments.size(); ++i) out.put(sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr), segments[i]);
  Elf64_Ehdr linked = header;
  linked.e_type = ET_DYN;
  linked.e_entry = 0;
  linked.e_phoff = sizeof(Elf64_Ehdr);
  linked.e_shoff = section_headers;
  linked.e_ehsize = sizeof(Elf64_Ehdr);
  linked.e_phentsize = sizeof(Elf64_Phdr);
  linked.e_phnum = kSegments;
  linked.e_shentsize = sizeof(Elf64_Shdr);
  linked.e_shnum = uint16_t(headers.size());
  linked.e_shstrndx = uint16_t(shstrtab_index);
  out.put(0, linked);
  return out.take();
}

HCI_END_NAMESPACE

#endif  // HCI_RUNTIME_DEFINITIONS
