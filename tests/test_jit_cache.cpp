// The JIT's disk cache: compiled kernels come back from it once the memory cache has forgotten
// them (as in a new process) with the same results; bad entries are rejected and rebuilt;
// directories other users could write to are refused; a read-only one is read; the size cap
// evicts the least recently used entries; threads and processes asking for the same kernel at
// once get one compile each and valid entries.
#include "jit_support.hpp"

#include <hci/hci.hpp>
#include <hci/jit/disk_cache.hpp>

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <latch>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using hci::DType;
using hci::Tensor;
using hci::jit::detail::CacheKey;
using hci::jit::detail::DiskCache;
using jit_test::require_jit;

// This process's scratch space, removed when it ends.
struct Scratch {
  fs::path root = fs::temp_directory_path() / ("hci_test_jit_cache_" + std::to_string(getpid()));
  ~Scratch() {
    std::error_code ignored;
    fs::remove_all(root, ignored);
  }
};

// A new empty directory only this user may write to.
fs::path fresh_directory(const std::string& name) {
  static Scratch scratch;
  const fs::path dir = scratch.root / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::permissions(scratch.root, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                    fs::perms::others_read | fs::perms::others_exec);
  fs::permissions(dir, fs::perms::owner_all);
  return dir;
}

std::vector<fs::path> entries(const fs::path& dir) {
  std::vector<fs::path> found;
  for (const auto& item : fs::directory_iterator(dir)) found.push_back(item.path());
  return found;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Kernels of several families and dtypes: their results. (Each result is a variable of its
// own: a temporary still alive when it is read would be materialised as a kernel too.)
std::vector<std::vector<double>> kernel_results() {
  std::vector<std::vector<double>> results;
  const Tensor x = hci::arange(37, hci::kFloat64) * 0.25 - 3;
  for (DType t : {hci::kFloat16, hci::kBFloat16, hci::kFloat32, hci::kFloat64}) {
    const Tensor exp = hci::exp(x.to(t)) * 3 + 1;
    results.push_back(exp.to_vector<double>());
    const Tensor tanh = hci::tanh(x.to(t) * 2);
    results.push_back(tanh.to_vector<double>());
  }
  for (DType t : {hci::kUInt8, hci::kInt32, hci::kInt64}) {
    const Tensor integers = hci::abs(x * 4).to(t) * 3 + 7;
    results.push_back(integers.to_vector<double>());
  }
  return results;
}

const Tensor& input() {
  static const Tensor x = [] {
    Tensor t = hci::arange(1000, hci::kFloat32) * 0.01f;
    hci::eval(t);
    return t;
  }();
  return x;
}
// One kernel each; values that checks can compare.
std::vector<float> exp_kernel() {
  const Tensor y = hci::exp(input()) * 3 + 1;
  return y.to_vector<float>();
}
std::vector<float> tanh_kernel() { return hci::tanh(input()).to_vector<float>(); }

// Uses `dir` as cache with empty memory and statistics, as a new process would start.
void start_over(const fs::path& dir, uint64_t max_bytes = uint64_t(1) << 30) {
  hci::jit::set_cache_directory(dir.string(), max_bytes);
  hci::jit::clear_memory_cache();
  hci::jit::reset_stats();
}

// Runs this test binary again as a child with `tag` and one environment variable; its exit code.
int run_child(const std::string& binary, const std::string& tag, const std::string& variable, const std::string& value,
              uid_t uid = geteuid()) {
  const pid_t child = fork();
  if (child == 0) {
    setenv("HCI_CACHE_DIR", "", 1);  // the test chooses its directory
    setenv(variable.c_str(), value.c_str(), 1);
    if (uid != geteuid() && (setgid(uid) != 0 || setuid(uid) != 0)) _exit(126);
    execl(binary.c_str(), binary.c_str(), tag.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string self_binary() { return fs::read_symlink("/proc/self/exe").string(); }

TEST_CASE("kernels come back from the disk cache with the same results", "[cache]") {
  require_jit();
  const fs::path dir = fresh_directory("round_trip");
  start_over(dir);
  CHECK(hci::jit::cache_directory() == dir.string());
  const std::vector<std::vector<double>> first = kernel_results();
  const hci::jit::Stats compiled = hci::jit::stats();
  CHECK(compiled.kernels_compiled >= 11);
  CHECK(compiled.disk_writes == compiled.kernels_compiled);
  CHECK(entries(dir).size() == compiled.disk_writes);

  const std::string entry = read_file(entries(dir).front());
  CHECK(entry.starts_with("hci kernel cache entry\nformat 1\nkind cpu\ntarget x86_64"));
  CHECK_THAT(entry, Catch::Matchers::Contains("\nproducer LLVM "));

  start_over(dir);
  CHECK(kernel_results() == first);
  const hci::jit::Stats loaded = hci::jit::stats();
  CHECK(loaded.kernels_compiled == 0);
  CHECK(loaded.disk_hits == compiled.kernels_compiled + compiled.disk_hits);
  CHECK(loaded.disk_rejects == 0);
  CHECK(loaded.compile_seconds < compiled.compile_seconds);

  hci::jit::set_enabled(false);
  CHECK(kernel_results() == first);  // and the interpreter agrees
  hci::jit::set_enabled(true);
}

TEST_CASE("corrupt, truncated and foreign entries are rejected and rebuilt", "[cache]") {
  require_jit();
  const std::vector<float> want = exp_kernel();
  const fs::path other = fresh_directory("other");
  start_over(other);
  tanh_kernel();
  REQUIRE(entries(other).size() == 1);
  const std::string foreign = read_file(entries(other).front());

  const fs::path dir = fresh_directory("corrupt");
  start_over(dir);
  CHECK(exp_kernel() == want);
  REQUIRE(entries(dir).size() == 1);
  const fs::path path = entries(dir).front();
  const std::string good = read_file(path);

  const std::vector<std::pair<std::string, std::string>> damaged = {
      {"empty", ""},
      {"header only", good.substr(0, good.find("\n\n"))},
      {"truncated payload", good.substr(0, good.size() - 100)},
      {"one payload bit flipped", good.substr(0, good.size() - 1) + char(good.back() ^ 1)},
      {"padded", good + "x"},
      {"not an entry", "X" + good.substr(1)},
      {"another format",
       [&] {
         std::string s = good;
         s.replace(s.find("format 1"), 8, "format 7");
         return s;
       }()},
      {"another kernel's entry", foreign},
  };
  for (const auto& [what, bytes] : damaged) {
    INFO(what);
    write_file(path, bytes);
    start_over(dir);
    CHECK(exp_kernel() == want);
    const hci::jit::Stats rebuilt = hci::jit::stats();
    CHECK(rebuilt.disk_rejects == 1);
    CHECK(rebuilt.kernels_compiled == 1);
    CHECK(rebuilt.disk_writes == 1);
    CHECK(read_file(path) == good);
    start_over(dir);
    CHECK(exp_kernel() == want);
    CHECK(hci::jit::stats().disk_hits == 1);
  }
}

TEST_CASE("a directory another user owns or may write to is not used", "[cache]") {
  require_jit();
  const std::vector<float> want = exp_kernel();
  auto refused = [&](const fs::path& dir, const std::string& reason) {
    INFO(dir);
    CHECK_THAT(DiskCache(dir.string(), 1 << 20).problem(), Catch::Matchers::Contains(reason));
    start_over(dir);
    CHECK(hci::jit::cache_directory().empty());
    CHECK(exp_kernel() == want);  // memory only
    CHECK(hci::jit::stats().kernels_compiled == 1);
    CHECK(hci::jit::stats().disk_writes == 0);
  };
  const fs::path group = fresh_directory("group_writable");
  fs::permissions(group, fs::perms::group_write, fs::perm_options::add);
  refused(group, "writable by other users");
  const fs::path others = fresh_directory("world_writable");
  fs::permissions(others, fs::perms::others_write | fs::perms::others_exec, fs::perm_options::add);
  refused(others, "writable by other users");
  const fs::path file = fresh_directory("file") / "entry";
  write_file(file, "x");
  refused(file, "not a directory");
  if (geteuid() == 0) {
    const fs::path theirs = fresh_directory("theirs");
    REQUIRE(chown(theirs.c_str(), 65534, 65534) == 0);
    refused(theirs, "owned by user 65534");
  } else {
    refused("/", "owned by user 0");
  }
  CHECK(entries(group).empty());
  CHECK(entries(others).empty());

  // A missing directory is created, parents included, for this user alone.
  const fs::path created = fresh_directory("created") / "a" / "b";
  start_over(created);
  CHECK(hci::jit::cache_directory() == created.string());
  CHECK(fs::status(created).permissions() == fs::perms::owner_all);
  CHECK(fs::status(created.parent_path()).permissions() == fs::perms::owner_all);
}

// Run by the read-only test in a process of its own (as another user where this one is root,
// for whom every directory is writable).
TEST_CASE("read-only cache: hits served, nothing written", "[.readonly]") {
  require_jit();
  const char* dir = std::getenv("HCI_TEST_READONLY_DIR");
  REQUIRE(dir != nullptr);
  const std::vector<float> want_exp = exp_kernel(), want_tanh = tanh_kernel();
  start_over(dir);
  CHECK(exp_kernel() == want_exp);
  CHECK(hci::jit::stats().disk_writes == 1);
  REQUIRE(chmod(dir, 0500) == 0);
  start_over(dir);
  CHECK(hci::jit::cache_directory() == dir);
  CHECK(exp_kernel() == want_exp);
  CHECK(tanh_kernel() == want_tanh);
  const hci::jit::Stats stats = hci::jit::stats();
  CHECK(stats.disk_hits == 1);
  CHECK(stats.kernels_compiled == 1);
  CHECK(stats.disk_writes == 0);
  CHECK(entries(dir).size() == 1);
  chmod(dir, 0700);
}

TEST_CASE("a read-only cache directory serves hits and takes no writes", "[cache]") {
  require_jit();
  const fs::path dir = fresh_directory("read_only");
  if (geteuid() != 0) {
    REQUIRE(run_child(self_binary(), "[readonly]", "HCI_TEST_READONLY_DIR", dir.string()) == 0);
    return;
  }
  // As root, the child runs as nobody from a copy of this binary that nobody may execute.
  const fs::path copy = fresh_directory("read_only_binary") / "test_jit_cache";
  fs::copy_file(self_binary(), copy);
  fs::permissions(dir.parent_path(), fs::perms::owner_all | fs::perms::others_exec, fs::perm_options::replace);
  fs::permissions(copy.parent_path(), fs::perms::owner_all | fs::perms::others_exec, fs::perm_options::replace);
  REQUIRE(chown(dir.c_str(), 65534, 65534) == 0);
  const int code = run_child(copy.string(), "[readonly]", "HCI_TEST_READONLY_DIR", dir.string(), 65534);
  if (code == 77) {
    WARN("skipped: the JIT is not available as user nobody");
    return;
  }
  CHECK(code == 0);
}

TEST_CASE("the size cap evicts the least recently used entries", "[cache]") {
  const fs::path dir = fresh_directory("evict");
  DiskCache cache(dir.string(), 10000);
  REQUIRE(cache.usable());
  auto key = [](int n) {
    return CacheKey{"cpu", "test target", hci::jit::detail::digest("ir " + std::to_string(n)), uint64_t(n)};
  };
  const std::string payload(3000, 'p');
  for (int n = 0; n < 3; ++n) REQUIRE(cache.store(key(n), payload, "test"));
  // Clocks that tell the entries apart: 0 is the oldest, then 1, then 2.
  auto age = [&](const std::string& path, int seconds) {
    timespec when[2];
    clock_gettime(CLOCK_REALTIME, &when[0]);
    when[0].tv_sec -= seconds;
    when[1] = when[0];
    REQUIRE(utimensat(AT_FDCWD, path.c_str(), when, 0) == 0);
  };
  for (int n = 0; n < 3; ++n) age(cache.path_of(key(n)), 300 - 100 * n);
  const std::string stale_temporary = (dir / "cpu-x.hcik.tmp1-0").string(), new_temporary = stale_temporary + "1";
  write_file(stale_temporary, "partial");
  write_file(new_temporary, "partial");
  age(stale_temporary, 7200);

  REQUIRE(cache.load(key(0)) == payload);         // used now: the newest
  REQUIRE(cache.store(key(3), payload, "test"));  // past the cap: 1 and 2 go
  CHECK(cache.load(key(0)) == payload);
  CHECK(cache.load(key(3)) == payload);
  CHECK_FALSE(cache.load(key(1)));
  CHECK_FALSE(cache.load(key(2)));
  CHECK_FALSE(fs::exists(stale_temporary));
  CHECK(fs::exists(new_temporary));  // may be a write in progress

  // Through the JIT: the directory stays under its cap however many kernels are compiled.
  if (!hci::jit::enabled()) return;
  const fs::path capped = fresh_directory("capped");
  start_over(capped);
  exp_kernel();
  REQUIRE(entries(capped).size() == 1);
  const uint64_t cap = 3 * fs::file_size(entries(capped).front());  // a few entries' worth
  start_over(capped, cap);
  kernel_results();
  uint64_t total = 0;
  for (const fs::path& entry : entries(capped)) total += fs::file_size(entry);
  CHECK(hci::jit::stats().disk_writes >= 11);
  CHECK(total <= cap);
}

TEST_CASE("threads asking for the same new kernel compile it once", "[cache]") {
  require_jit();
  float out = 0, a = 1, b = 2;
  const hci::Kernel k = jit_test::multiply_add_kernel(&out, &a, &b);
  for (const char* cache : {"", "threads"}) {
    INFO("cache directory '" << cache << "'");
    start_over(*cache ? fresh_directory(cache) : fs::path());
    constexpr int kThreads = 8;
    std::vector<void*> code(kThreads);
    std::latch ready(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        ready.arrive_and_wait();
        code[size_t(t)] = hci::jit::detail::compiled_code(k);
      });
    for (std::thread& thread : threads) thread.join();
    REQUIRE(code[0] != nullptr);
    for (void* c : code) CHECK(c == code[0]);
    CHECK(hci::jit::stats().kernels_compiled == 1);
    CHECK(hci::jit::stats().disk_writes == (*cache ? 1 : 0));
  }
}

// Run by the next test in several processes at once, all writing one cache directory.
TEST_CASE("cache writer", "[.cache_writer]") {
  require_jit();
  const char* dir = std::getenv("HCI_TEST_WRITER_DIR");
  REQUIRE(dir != nullptr);
  start_over(dir);
  kernel_results();
  CHECK(hci::jit::stats().disk_rejects == 0);
}

TEST_CASE("processes writing the same entries at once leave valid entries", "[cache]") {
  require_jit();
  const fs::path dir = fresh_directory("processes");
  const std::vector<std::vector<double>> want = kernel_results();
  std::vector<std::thread> parents;
  std::vector<int> codes(4);
  for (size_t i = 0; i < codes.size(); ++i)
    parents.emplace_back(
        [&, i] { codes[i] = run_child(self_binary(), "[cache_writer]", "HCI_TEST_WRITER_DIR", dir.string()); });
  for (std::thread& parent : parents) parent.join();
  for (int code : codes) CHECK(code == 0);
  start_over(dir);
  CHECK(kernel_results() == want);
  const hci::jit::Stats stats = hci::jit::stats();
  CHECK(stats.kernels_compiled == 0);
  CHECK(stats.disk_rejects == 0);
  CHECK(stats.disk_hits >= 11);
  for (const fs::path& entry : entries(dir)) CHECK(entry.extension() == ".hcik");  // no temporaries left
}

}  // namespace
