// GPU code generation without a GPU: the kernels the JIT compiles for the host, emitted for NVIDIA
// GPUs as PTX that CUDA's ptxas assembles (sm_80, sm_90) and for AMD GPUs as objects that ld.lld
// links into code objects (gfx90a, gfx942); every op family and dtype, reductions and softmax
// included. Also: naming GPU targets, HCI_JIT_TARGETS, and GPU code served from a kernel cache to
// a process without LLVM.
#include "jit_support.hpp"

#include <hci/hci.hpp>
#include <hci/jit/amdgpu_linker.hpp>
#include <hci/jit/emit_cpu.hpp>
#include <hci/jit/kernel_values.hpp>
#include <hci/jit/simt_emulator.hpp>
#include <hci/jit/structure_text.hpp>
#include <hci/launch.hpp>

#include <catch2/catch.hpp>

#include <elf.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <vector>

namespace {

namespace fs = std::filesystem;
using hci::jit::GpuTarget;
using namespace jit_test;

// This process's scratch directory, removed when it ends.
struct Scratch {
  fs::path root = fs::temp_directory_path() / ("hci_test_jit_gpu_" + std::to_string(getpid()));
  Scratch() {
    fs::remove_all(root);
    fs::create_directories(root);
    fs::permissions(root, fs::perms::owner_all);
  }
  ~Scratch() {
    std::error_code ignored;
    fs::remove_all(root, ignored);
  }
};
const fs::path& scratch() {
  static Scratch s;
  return s.root;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// The tool's path: on the PATH, else in `fallback`; "" if neither has it.
std::string find_tool(const std::string& name, const std::string& fallback) {
  const std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  for (size_t begin = 0; begin <= path.size();) {
    const size_t end = std::min(path.find(':', begin), path.size());
    const fs::path candidate = fs::path(path.substr(begin, end - begin)) / name;
    if (end > begin && access(candidate.c_str(), X_OK) == 0) return candidate.string();
    begin = end + 1;
  }
  const fs::path candidate = fs::path(fallback) / name;
  return access(candidate.c_str(), X_OK) == 0 ? candidate.string() : "";
}

// The tool, or the test is skipped (ctest's code 77) saying what is missing, unless the
// environment says the tools must be there.
std::string require_tool(const std::string& name, const std::string& fallback) {
  const std::string tool = find_tool(name, fallback);
  if (!tool.empty()) return tool;
  if (std::getenv("HCI_TEST_REQUIRE_GPU_TOOLS")) FAIL(name << " is required here, but not found");
  WARN("skipped: " << name << " is not installed (on the PATH or in " << fallback << ")");
  std::exit(77);
}

// Runs a shell command; its output (stdout and stderr), and whether it exited with 0.
bool run_command(const std::string& command, std::string& output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  output.clear();
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  return pclose(pipe) == 0;
}

// What a loader sees in a code object: its ELF identification and flags, its notes, and per
// dynamic symbol its type, size and bytes, with a kernel descriptor's offset to its code (bytes
// 16 to 23) replaced by the name of the symbol it reaches. Two linkers may lay a code object out
// differently; loaded, their outputs must be the same.
struct LoadedView {
  std::string identity, notes;
  std::map<std::string, std::string> symbols;
  bool operator==(const LoadedView&) const = default;
};
LoadedView loaded_view(const std::string& elf) {
  auto at = [&]<class T>(uint64_t offset, T) {
    REQUIRE(offset + sizeof(T) <= elf.size());
    T value;
    std::memcpy(&value, elf.data() + offset, sizeof(T));
    return value;
  };
  const auto header = at(0, Elf64_Ehdr{});
  LoadedView view;
  view.identity = elf.substr(0, EI_NIDENT) + std::to_string(header.e_flags) + " " + std::to_string(header.e_type);
  std::vector<Elf64_Phdr> loads;
  for (int i = 0; i < header.e_phnum; ++i) {
    const auto p = at(header.e_phoff + i * sizeof(Elf64_Phdr), Elf64_Phdr{});
    if (p.p_type == PT_LOAD) loads.push_back(p);
    if (p.p_type == PT_NOTE) view.notes += elf.substr(p.p_offset, p.p_filesz);
  }
  auto memory = [&](uint64_t address, uint64_t size) {
    for (const Elf64_Phdr& p : loads)
      if (address >= p.p_vaddr && address + size <= p.p_vaddr + p.p_filesz)
        return elf.substr(p.p_offset + (address - p.p_vaddr), size);
    FAIL("no segment holds bytes " << address << " to " << address + size);
    return std::string();
  };
  std::vector<Elf64_Shdr> sections;
  for (int i = 0; i < header.e_shnum; ++i)
    sections.push_back(at(header.e_shoff + i * sizeof(Elf64_Shdr), Elf64_Shdr{}));
  std::map<uint64_t, std::string> names_by_address;
  std::vector<std::pair<std::string, Elf64_Sym>> symbols;
  for (const Elf64_Shdr& s : sections) {
    if (s.sh_type != SHT_DYNSYM) continue;
    const Elf64_Shdr& strings = sections.at(s.sh_link);
    for (uint64_t k = 1; k < s.sh_size / sizeof(Elf64_Sym); ++k) {
      const auto sym = at(s.sh_offset + k * sizeof(Elf64_Sym), Elf64_Sym{});
      const std::string name = elf.c_str() + strings.sh_offset + sym.st_name;
      symbols.emplace_back(name, sym);
      names_by_address[sym.st_value] = name;
    }
  }
  for (const auto& [name, sym] : symbols) {
    std::string bytes = memory(sym.st_value, sym.st_size);
    if (name.ends_with(".kd")) {
      int64_t offset = 0;
      std::memcpy(&offset, bytes.data() + 16, 8);
      bytes.replace(16, 8, "->" + names_by_address[sym.st_value + uint64_t(offset)]);
    }
    view.symbols[name] = std::to_string(sym.st_info) + " " + std::to_string(sym.st_other) + " " + bytes;
  }
  return view;
}

constexpr int kPrograms = 160;

// Portable kernels of each kind of statement: loads and stores, the math library, select, if_,
// loop, atomic adds of floats and integers, integer division.
std::vector<std::pair<std::string, std::string>> portable_kernel_code(const std::string& targets) {
  using hci::Buffer;
  static const auto saxpy = hci::kernel<Buffer<float>, Buffer<float>, float>(
      [](auto i, auto x, auto y, auto a) { y.store(i, a * x.load(i) + y.load(i)); });
  static const auto mixed = hci::kernel<Buffer<double>, Buffer<int32_t>, Buffer<double>, Buffer<int64_t>>(
      [](auto i, auto x, auto bins, auto out, auto counts) {
        const auto v = x.load(i);
        const auto total = hci::loop(0, 4, v, [&](auto j, auto t) { return t + hci::math::tanh(t * 0.5) + x.load(j); });
        out.store(i, hci::select(v < 0.0, total, hci::math::exp(-v)));
        const auto bin = bins.load(i);
        hci::if_(bin >= 0, [&] { counts.atomic_add(bin % 7, int64_t(1)); });
        out.atomic_add(0, v / 3.0);
      });
  std::vector<std::pair<std::string, std::string>> code;
  for (const GpuTarget& target : hci::jit::parse_gpu_targets(targets)) {
    code.emplace_back(target.name(), saxpy.gpu_code(target));
    code.emplace_back(target.name(), mixed.gpu_code(target));
  }
  return code;
}

// The structures of the kernels random programs run (and a few cases they reach rarely: long
// reductions over the outer dim, softmax rows), and the GPU code the JIT made for `targets`
// meanwhile, as HCI_JIT_TARGETS has it do: read back from the kernel cache, per target name.
struct GpuCode {
  std::vector<hci::KernelStructure> kernels;
  std::vector<std::pair<std::string, std::string>> code;  // target, code
};
GpuCode gpu_code_of_random_programs(const std::string& targets) {
  const fs::path cache = scratch() / ("cache_" + targets);
  fs::create_directories(cache);
  fs::permissions(cache, fs::perms::owner_all);
  hci::jit::set_cache_directory(cache.string());
  hci::jit::set_gpu_targets(hci::jit::parse_gpu_targets(targets));
  hci::jit::clear_memory_cache();
  hci::jit::reset_stats();
  GpuCode result;
  std::set<uint64_t> seen;
  hci::set_launch_hook([&](const hci::Kernel& k) {
    if (hci::jit::gpu_kernel_supported(k.structure) && seen.insert(k.hash).second)
      result.kernels.push_back(k.structure);
  });
  std::mt19937_64 rng(20261130);
  for (int g = 0; g < kPrograms; ++g) {
    const Program p = random_program(rng);
    std::vector<Tensor> inputs;
    for (size_t i = 0; i < p.inputs.size(); ++i)
      inputs.push_back(make_input(input_shape(p.inputs[i], p.shape), p.inputs[i].dtype, p.inputs[i].view, g * 16 + i));
    bits_of(run(p, inputs));
  }
  const Tensor m = hci::arange(6000 * 3, hci::kFloat64).reshape({6000, 3});
  const Tensor from_outer = (hci::exp(m * 0.001) * 2).amax({0});
  const Tensor rows = (m.to(hci::kFloat32) * 0.5f).softmax(1);
  const Tensor log_rows = m.log_softmax(1);
  hci::eval(from_outer, rows, log_rows);
  for (const DType dtype : kDTypes)  // matrix products, which have GPU code only
    for (const auto& [x, y] : matmul_cases(dtype)) hci::eval(hci::matmul(x, y));
  hci::set_launch_hook(nullptr);
  for (const hci::KernelStructure& s : result.kernels)
    if (s.root() == hci::OpKind::Matmul)
      for (const GpuTarget& target : hci::jit::gpu_targets()) hci::jit::gpu_code(s, target);
  hci::jit::set_gpu_targets({});
  hci::jit::set_cache_directory("");
  const hci::jit::Stats stats = hci::jit::stats();
  CHECK(stats.gpu_failures == 0);
  // Every kernel the GPUs take, compiled or (where its GPU code matches an earlier one's) found on disk.
  CHECK(stats.gpu_compiled + stats.disk_hits >= result.kernels.size() * hci::jit::parse_gpu_targets(targets).size());
  // An entry is a text header (with `target` and `size` lines), then the code.
  for (const auto& entry : fs::directory_iterator(cache)) {
    const std::string bytes = read_file(entry.path());
    auto field = [&](const std::string& name) {
      const size_t at = bytes.find("\n" + name + " ") + name.size() + 2;
      return bytes.substr(at, bytes.find('\n', at) - at);
    };
    if (entry.path().filename().string().starts_with("cpu-")) continue;
    const size_t size = std::stoull(field("size"));
    REQUIRE(size <= bytes.size());
    result.code.emplace_back(field("target"), bytes.substr(bytes.size() - size));
  }
  return result;
}

// Every op the GPU emitter handles must appear in some kernel, in every dtype it has; matrix
// products too.
void check_coverage(const std::vector<hci::KernelStructure>& kernels) {
  std::set<hci::OpKind> ops;
  std::set<DType> dtypes;
  int strided = 0, by_rows = 0, rows = 0, products = 0;
  for (const hci::KernelStructure& s : kernels) {
    products += s.root() == hci::OpKind::Matmul;
    for (const hci::KernelOp& op : s.ops) {
      ops.insert(op.op);
      dtypes.insert(op.dtype);
    }
    for (hci::Layout l : s.layouts) strided += l == hci::Layout::Strided;
    by_rows += s.is_reduction() && s.rank == 2 && s.reduce_rank == 1;
    rows += s.is_row_wise();
  }
  for (int k = 0; k <= int(hci::OpKind::Argmin); ++k) {
    const auto op = hci::OpKind(k);
    const bool reduction = hci::is_reduction(op) && !hci::is_arg_reduction(op);
    const bool host_only = op == hci::OpKind::Gather;  // integer fmod and remainder too, but not float ones
    if ((hci::jit::detail::supported_op(op) && !host_only) || reduction || op == hci::OpKind::Softmax ||
        op == hci::OpKind::LogSoftmax) {
      INFO("op " << hci::op_name(op));
      CHECK(ops.count(op) == 1);
    }
  }
  for (DType t : kDTypes) {
    INFO("dtype " << hci::dtype_name(t));
    CHECK(dtypes.count(t) == 1);
  }
  CHECK(strided > 0);
  CHECK(by_rows > 0);
  CHECK(rows > 0);
  CHECK(products >= kNumDTypes);
}

TEST_CASE("GPU targets are named as HCI_JIT_TARGETS names them", "[gpu]") {
  CHECK(GpuTarget::parse("sm_90").name() == "sm_90:ptx78");
  CHECK(GpuTarget::parse("sm_80").name() == "sm_80:ptx70");
  CHECK(GpuTarget::parse("sm_90:ptx80").features() == "+ptx80");
  CHECK(GpuTarget::parse("sm_90").triple() == "nvptx64-nvidia-cuda");
  CHECK(GpuTarget::parse("gfx942").name() == "gfx942:w64");
  CHECK(GpuTarget::parse("gfx90a").cpu() == "gfx90a");
  CHECK(GpuTarget::parse("gfx1100").name() == "gfx1100:w32");
  CHECK(GpuTarget::parse("gfx1100:w64").features() == "+wavefrontsize64");
  CHECK(GpuTarget::parse("gfx942").triple() == "amdgcn-amd-amdhsa");
  CHECK(GpuTarget::parse("gfx942").code_kind() == "amdgpu");
  CHECK(GpuTarget::parse("sm_80").code_kind() == "ptx");
  const std::vector<GpuTarget> list = hci::jit::parse_gpu_targets("sm_90,,gfx942,sm_90");
  REQUIRE(list.size() == 2);
  CHECK(list[0].name() == "sm_90:ptx78");
  CHECK(list[1].name() == "gfx942:w64");
  CHECK(hci::jit::parse_gpu_targets("").empty());
  CHECK_THROWS_WITH(GpuTarget::parse("sm_91"), Catch::Contains("unknown NVIDIA GPU target 'sm_91'"));
  CHECK_THROWS_WITH(GpuTarget::parse("sm_"), Catch::Contains("sm_80, sm_86"));
  CHECK_THROWS_WITH(GpuTarget::parse("sm_90:ptx70"), Catch::Contains("needs PTX ISA 7.8 to 8.5"));
  CHECK_THROWS_WITH(GpuTarget::parse("sm_90:ptx"), Catch::Contains("the PTX ISA"));
  CHECK_THROWS_WITH(GpuTarget::parse("gfx942:w32"), Catch::Contains("waves of 64 only"));
  CHECK_THROWS_WITH(GpuTarget::parse("gfx942:fast"), Catch::Contains("wave size"));
  CHECK_THROWS_WITH(GpuTarget::parse("radeon"), Catch::Contains("unknown GPU target 'radeon'"));
  CHECK_THROWS_WITH(hci::jit::parse_gpu_targets("sm_90,gfx"), Catch::Contains("unknown GPU target 'gfx'"));
}

TEST_CASE("every op family and dtype assembles as PTX for sm_80 and sm_90", "[.ptx]") {
  require_jit();
  const std::string ptxas = require_tool("ptxas", "/usr/local/cuda/bin");
  GpuCode made = gpu_code_of_random_programs("sm_80,sm_90");
  check_coverage(made.kernels);
  CHECK(made.code.size() >= made.kernels.size());  // kernels with the same GPU code share an entry
  for (auto& portable : portable_kernel_code("sm_80,sm_90")) made.code.push_back(std::move(portable));
  const fs::path dir = scratch() / "ptx";
  fs::create_directories(dir);
  for (size_t i = 0; i < made.code.size(); ++i) {
    const auto& [target, ptx] = made.code[i];
    CHECK_THAT(ptx, Catch::Contains(".entry hci_kernel("));
    CHECK_THAT(ptx, !Catch::Contains(".extern"));  // calls nothing outside the kernel
    write_file(dir / hci::detail::format("{}_{}.ptx", GpuTarget::parse(target).cpu(), i), ptx);
  }
  for (const char* arch : {"sm_80", "sm_90"}) {
    // Two assemblers at a time; each failure prints its file and ptxas's complaint.
    std::string output;
    const bool ok = run_command(hci::detail::format("cd '{}' && ls {}_*.ptx | xargs -P 2 -I % sh -c "
                                                    "'\"{}\" -arch={} % -o %.cubin || echo \"failed: %\"'",
                                                    dir.string(), arch, ptxas, arch),
                                output);
    INFO(output);
    CHECK(ok);
    CHECK(output.find("failed") == std::string::npos);
  }
  WARN(made.kernels.size() << " kernels compiled for the host; " << made.code.size()
                           << " PTX modules assembled for sm_80 and sm_90");
}

TEST_CASE("every op family and dtype links as an AMDGPU code object for gfx90a and gfx942", "[.amdgpu]") {
  require_jit();
  const std::string linker = require_tool("ld.lld-19", "/usr/lib/llvm-19/bin");
  GpuCode made = gpu_code_of_random_programs("gfx90a,gfx942");
  check_coverage(made.kernels);
  CHECK(made.code.size() >= made.kernels.size());  // kernels with the same GPU code share an entry
  for (auto& portable : portable_kernel_code("gfx90a,gfx942")) made.code.push_back(std::move(portable));
  const fs::path dir = scratch() / "amdgpu";
  fs::create_directories(dir);
  for (size_t i = 0; i < made.code.size(); ++i) {
    const auto& [target, object] = made.code[i];
    REQUIRE(object.substr(0, 4) ==
            "\x7f"
            "ELF");
    write_file(dir / hci::detail::format("{}_{}.o", GpuTarget::parse(target).cpu(), i), object);
  }
  for (const char* gfx : {"gfx90a", "gfx942"}) {
    std::string output;
    const bool ok = run_command(hci::detail::format("cd '{}' && ls {}_*.o | xargs -P 2 -I % sh -c "
                                                    "'\"{}\" -shared % -o %.hsaco || echo \"failed: %\"'",
                                                    dir.string(), gfx, linker),
                                output);
    INFO(output);
    CHECK(ok);
    CHECK(output.find("failed") == std::string::npos);
    // hci's linker makes what ld.lld makes, as a loader sees it: a code object for the processor
    // exporting the kernel and its descriptor, which reaches the kernel's code.
    int compared = 0;
    for (const auto& file : fs::directory_iterator(dir)) {
      const std::string name = file.path().filename().string();
      if (!name.starts_with(gfx) || file.path().extension() != ".o") continue;
      const std::string by_lld = read_file(file.path().string() + ".hsaco");
      const std::string by_hci = hci::jit::link_amdgpu_code_object(read_file(file.path()));
      INFO(name);
      const LoadedView view = loaded_view(by_hci);
      REQUIRE(view == loaded_view(by_lld));
      CHECK(view.symbols.at("hci_kernel.kd").find("->hci_kernel") != std::string::npos);
      CHECK(view.notes.find(hci::detail::format("amdgcn-amd-amdhsa--{}", gfx)) != std::string::npos);
      ++compared;
    }
    CHECK(compared == int(made.code.size() / 2));
  }
  WARN(made.kernels.size() << " kernels compiled for the host; " << made.code.size()
                           << " AMDGPU objects linked for gfx90a and gfx942");
}

TEST_CASE("hci's AMDGPU linker refuses what it cannot link with a clear error", "[gpu]") {
  require_jit();
  const std::string object = hci::jit::gpu_code(multiply_add_kernel().structure, GpuTarget::parse("gfx942"));
  CHECK_NOTHROW(hci::jit::link_amdgpu_code_object(object));
  CHECK_THROWS_WITH(hci::jit::link_amdgpu_code_object("not an object"), Catch::Contains("truncated"));
  CHECK_THROWS_WITH(hci::jit::link_amdgpu_code_object(std::string(64, '\0')),
                    Catch::Contains("not a relocatable AMDGPU object"));
  for (size_t size : {size_t(64), object.size() / 2, object.size() - 1}) {
    INFO("truncated to " << size << " bytes");
    CHECK_THROWS_AS(hci::jit::link_amdgpu_code_object(object.substr(0, size)), hci::Error);
  }
  const std::string linked = hci::jit::link_amdgpu_code_object(object);
  CHECK_THROWS_WITH(hci::jit::link_amdgpu_code_object(linked), Catch::Contains("not a relocatable AMDGPU object"));
}

TEST_CASE("HCI_JIT_TARGETS compiles GPU code for each kernel the host compiles", "[gpu]") {
  require_jit();
  hci::jit::set_cache_directory("");
  hci::jit::set_gpu_targets(hci::jit::parse_gpu_targets("sm_90,gfx942"));
  hci::jit::clear_memory_cache();
  hci::jit::reset_stats();
  const Tensor x = hci::arange(1000, hci::kFloat32);
  const Tensor y = hci::tanh(x * 0.01f) + 1;
  CHECK(y.to_vector<float>()[0] == 1.0f);
  const hci::jit::Stats stats = hci::jit::stats();
  hci::jit::set_gpu_targets({});
  CHECK(stats.kernels_compiled >= 1);
  CHECK(stats.gpu_compiled == 2 * stats.kernels_compiled);
  CHECK(stats.gpu_failures == 0);
}

TEST_CASE("kernel structures survive their text form, which their PTX carries", "[gpu]") {
  require_jit();
  hci::jit::set_cache_directory("");
  std::set<uint64_t> seen;
  int structures = 0;
  hci::set_launch_hook([&](const hci::Kernel& k) {
    if (!seen.insert(k.hash).second) return;
    ++structures;
    const std::string text = hci::jit::structure_text(k.structure);
    INFO(text);
    CHECK(hci::jit::parse_structure_text(text) == k.structure);
  });
  std::mt19937_64 rng(20261130);
  for (int g = 0; g < 40; ++g) {
    const Program p = random_program(rng);
    std::vector<Tensor> inputs;
    for (size_t i = 0; i < p.inputs.size(); ++i)
      inputs.push_back(make_input(input_shape(p.inputs[i], p.shape), p.inputs[i].dtype, p.inputs[i].view, g * 16 + i));
    bits_of(run(p, inputs));
  }
  hci::set_launch_hook(nullptr);
  CHECK(structures >= 100);

  const hci::KernelStructure s = multiply_add_kernel().structure;
  const std::string text = hci::jit::structure_text(s);
  CHECK(text ==
        "hci-kernel 1 rank 1 reduce 0 leading 0 layouts C C C ops load/float32/float32/1/-1/-1 "
        "load/float32/float32/2/-1/-1 mul/float32/float32/0/1/-1 add/float32/float32/2/0/-1");
  CHECK_THAT(hci::jit::gpu_code(s, GpuTarget::parse("sm_90")), Catch::Contains("// " + text + "\n"));
  for (const auto& [bad, why] : std::vector<std::pair<std::string, std::string>>{
           {"", "it ends early"},
           {"hci-kernel 2 rank 1", "another format version"},
           {"hci-kernel 1 rank 99", "not a number from 0 to 64"},
           {"hci-kernel 1 rank 1 reduce 0 leading 0 layouts X ops load/float32/float32/0/-1/-1", "C, B or S"},
           {"hci-kernel 1 rank 1 reduce 0 leading 0 layouts C ops", "no ops"},
           {"hci-kernel 1 rank 1 reduce 0 leading 0 layouts C ops frob/float32/float32/0/-1/-1", "unknown op"},
           {"hci-kernel 1 rank 1 reduce 0 leading 0 layouts C ops load/float99/float32/0/-1/-1", "unknown dtype"},
           {"hci-kernel 1 rank 1 reduce 0 leading 0 layouts C ops load/float32/float32/3/-1/-1", "past the layouts"},
           {"hci-kernel 1 rank 1 reduce 0 leading 0 layouts C ops neg/float32/float32/0/-1/-1", "a later value"},
           {"hci-kernel 1 rank 1 reduce 0 leading 0 layouts C ops load/float32", "name/dtype/dtype"}}) {
    INFO(bad);
    CHECK_THROWS_WITH(hci::jit::parse_structure_text(bad), Catch::Contains(why));
  }
}

// Kernels for the SIMT emulator written by hand: each thread's values in `params` (an int32 per
// thread of the grid), which they rewrite.
void butterfly_sum(int64_t, int64_t, const void* params, int32_t*, hci::jit::SimtThread* t) {
  auto* values = static_cast<int32_t*>(const_cast<void*>(params));  // NOLINT: the kernel's output
  int32_t& mine = values[t->block_index * t->block_size + t->thread_index];
  for (int distance = 1; distance < hci::jit::kEmulatedWarpSize; distance *= 2)
    mine += t->shuffle(t, mine, t->lane_index ^ distance, -1);
}
void rotate_through_barrier(int64_t, int64_t, const void* params, int32_t*, hci::jit::SimtThread* t) {
  auto* values = static_cast<int32_t*>(const_cast<void*>(params));  // NOLINT: the kernel's output
  int32_t* block = values + t->block_index * t->block_size;
  const int32_t next = block[(t->thread_index + 1) % t->block_size];
  t->barrier(t);  // every thread has read before any writes
  block[t->thread_index] = next;
}
void lane_zero_skips_a_shuffle(int64_t, int64_t, const void*, int32_t*, hci::jit::SimtThread* t) {
  if (t->lane_index != 0) t->shuffle(t, 1, 0, -1);
}
void early_exit_at_barrier(int64_t, int64_t, const void*, int32_t*, hci::jit::SimtThread* t) {
  if (t->thread_index < 2) t->barrier(t);  // the others finish: they count as arrived
}
void shuffle_against_barrier(int64_t, int64_t, const void*, int32_t*, hci::jit::SimtThread* t) {
  if (t->lane_index < 16)
    t->shuffle(t, 1, 0, -1);  // waits for lanes 16 to 31, which wait at the barrier for these
  else
    t->barrier(t);
}
void shuffles_outside_its_mask(int64_t, int64_t, const void*, int32_t*, hci::jit::SimtThread* t) {
  t->shuffle(t, 1, 5, 0xf);
}

TEST_CASE("the SIMT emulator runs shuffles and barriers as a GPU does, and reports deadlocks", "[gpu]") {
  hci::jit::SimtEmulator emulator;
  // Warps of 32 (the last one of each block partial) each sum their lanes' values.
  std::vector<int32_t> values(3 * 64);
  for (size_t i = 0; i < values.size(); ++i) values[i] = int32_t(i * i % 97);
  std::vector<int32_t> expected(values.size());
  for (size_t warp = 0; warp < values.size(); warp += 32)
    for (size_t i = warp; i < warp + 32; ++i)
      for (size_t j = warp; j < warp + 32; ++j) expected[i] += values[j];
  emulator.launch(&butterfly_sum, 3, 64, 0, 0, values.data(), nullptr);
  CHECK(values == expected);

  std::vector<int32_t> rotated(2 * 96);
  for (size_t i = 0; i < rotated.size(); ++i) rotated[i] = int32_t(i);
  emulator.launch(&rotate_through_barrier, 2, 96, 0, 0, rotated.data(), nullptr);
  for (size_t i = 0; i < rotated.size(); ++i) CHECK(rotated[i] == int32_t(i / 96 * 96 + (i % 96 + 1) % 96));

  emulator.launch(&early_exit_at_barrier, 1, 40, 0, 0, nullptr, nullptr);
  CHECK_THROWS_WITH(emulator.launch(&lane_zero_skips_a_shuffle, 1, 32, 0, 0, nullptr, nullptr),
                    Catch::Contains("lane 0 of the shuffle's members finished without reaching it"));
  CHECK_THROWS_WITH(emulator.launch(&shuffle_against_barrier, 1, 32, 0, 0, nullptr, nullptr),
                    Catch::Contains("deadlock: 16 threads wait at a shuffle and 16 at a barrier"));
  CHECK_THROWS_WITH(emulator.launch(&shuffles_outside_its_mask, 1, 32, 0, 0, nullptr, nullptr),
                    Catch::Contains("reads lane 5, outside its member mask 0xf"));
  CHECK_THROWS_WITH(emulator.launch(&butterfly_sum, 1, 16, 0, 0, values.data(), nullptr),
                    Catch::Contains("names lanes past the block"));
  CHECK_THROWS_WITH(emulator.launch(&butterfly_sum, 1, 2000, 0, 0, values.data(), nullptr),
                    Catch::Contains("1 to 1024 threads"));
  // After those, the emulator still runs kernels.
  std::vector<int32_t> ones(32, 1);
  emulator.launch(&butterfly_sum, 1, 32, 0, 0, ones.data(), nullptr);
  CHECK(ones == std::vector<int32_t>(32, 32));
}

// The tiled matrix product, emulated over the operands' host memory from the launch hook (the
// CPU computes the same product after): the same bits as the CPU's matmul (the cases' sums are
// exact) for every dtype, with a grid of one block, of a few and of one block per tile, whose
// blocks then take several tiles each in turn.
TEST_CASE("the GPU's tiled matrix product computes what the CPU's matmul does", "[gpu][matmul]") {
  require_jit();
  int products = 0;
  for (const DType dtype : kDTypes)
    for (const auto& [x, y] : matmul_cases(dtype)) {
      INFO(hci::dtype_name(dtype) << " " << hci::detail::shape_str(x.sizes().vec()) << " x "
                                  << hci::detail::shape_str(y.sizes().vec()));
      std::vector<std::vector<std::byte>> results;
      hci::set_launch_hook([&](const hci::Kernel& k) {
        if (k.structure.root() != hci::OpKind::Matmul) return;
        REQUIRE(hci::jit::gpu_kernel_supported(k.structure));
        const int64_t tiles = hci::jit::matmul_tiles(k.params.sizes);
        for (const int64_t blocks : {int64_t(1), int64_t(3), tiles}) {
          std::vector<std::byte> got(matmul_output_bytes(k), std::byte{0x5a});
          hci::Kernel emulated = k;
          emulated.params.buffers[0].data = got.data();
          const std::vector<int64_t> params = hci::jit::pack_params(emulated.params);
          int32_t failure = 0;
          hci::jit::run_emulated(k.structure, unsigned(std::max<int64_t>(blocks, 1)), hci::jit::kMatmulThreads, 0,
                                 tiles, params.data(), &failure);
          CHECK(failure == 0);
          results.push_back(std::move(got));
        }
      });
      const Tensor want = hci::matmul(x, y);
      hci::eval(want);
      hci::set_launch_hook(nullptr);
      REQUIRE(results.size() == 3);
      for (auto& got : results) {
        const Tensor product = hci::from_blob(got.data(), want.sizes(), want.strides(), dtype);
        CHECK(hci::equal(product, want));
      }
      ++products;
    }
  CHECK(products == 5 * kNumDTypes);
}

// Run by the test below in a child without LLVM: writes the GPU code the cache serves for the
// multiply-add kernel to HCI_TEST_OUTPUT, or the error to HCI_TEST_OUTPUT.error.
TEST_CASE("GPU code from the kernel cache, without LLVM", "[.gpu_cache_reader]") {
  const std::string output = std::getenv("HCI_TEST_OUTPUT");
  REQUIRE(!hci::jit::enabled());
  try {
    write_file(output, hci::jit::gpu_code(multiply_add_kernel().structure, GpuTarget::parse("sm_90")));
  } catch (const hci::Error& e) {
    write_file(output + ".error", e.what());
  }
}

TEST_CASE("a kernel cache filled here serves GPU code to a process without LLVM", "[gpu]") {
  require_jit();
  const fs::path cache = scratch() / "cache", output = scratch() / "served.ptx";
  auto run_reader = [&](const fs::path& cache_dir) {
    const pid_t child = fork();
    if (child == 0) {
      setenv("HCI_LLVM_PATH", "/nonexistent/libLLVM.so", 1);
      setenv("HCI_CACHE_DIR", cache_dir.c_str(), 1);
      setenv("HCI_TEST_OUTPUT", output.c_str(), 1);
      const std::string self = fs::read_symlink("/proc/self/exe").string();
      execl(self.c_str(), self.c_str(), "[.gpu_cache_reader]", static_cast<char*>(nullptr));
      _exit(127);
    }
    int status = 0;
    waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  };
  fs::create_directories(cache);
  fs::permissions(cache, fs::perms::owner_all);
  REQUIRE(run_reader(cache) == 0);  // an empty cache: no code, and the reason
  CHECK_THAT(read_file(output.string() + ".error"), Catch::Contains("no LLVM to compile it"));
  CHECK(!fs::exists(output));

  hci::jit::set_cache_directory(cache.string());
  const std::string ptx = hci::jit::gpu_code(multiply_add_kernel().structure, GpuTarget::parse("sm_90"));
  hci::jit::set_cache_directory("");
  fs::remove(output.string() + ".error");
  REQUIRE(run_reader(cache) == 0);
  CHECK(!fs::exists(output.string() + ".error"));
  CHECK(read_file(output) == ptx);
}

}  // namespace
