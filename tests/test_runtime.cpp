// The CPU runtime: nothing at load time, the thread pool (sizing, fork), the caching allocator.
#include <hci/hci.hpp>

#include <catch2/catch.hpp>

#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

int process_threads() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
  }
  return n;
}

}  // namespace

// Declared first, so it runs before anything in this process has used hci.
TEST_CASE("nothing starts at load time; the pool starts on first use", "[runtime]") {
  REQUIRE(process_threads() == 1);
  hci::set_num_threads(2);
  CHECK(process_threads() == 1);  // choosing a size starts nothing either
  CHECK((hci::ones({100000}) * 2).sum().item<float>() == 200000);
  CHECK(process_threads() == 2);
}

TEST_CASE("set_num_threads resizes the pool; results do not change", "[runtime][threads]") {
  const hci::Tensor x = hci::rand({300000});
  hci::eval(x);
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2, 5}) {
    hci::set_num_threads(threads);
    CHECK(hci::get_num_threads() == threads);
    results.push_back((hci::exp(x) * x + 1).to_vector<float>());
  }
  CHECK(results[0] == results[1]);
  CHECK(results[0] == results[2]);
  CHECK_THROWS_AS(hci::set_num_threads(0), hci::Error);
  hci::set_num_threads(hci::cpu::available_cpus());
}

TEST_CASE("the default size respects this process's CPU affinity", "[runtime][threads]") {
  cpu_set_t set;
  REQUIRE(sched_getaffinity(0, sizeof(set), &set) == 0);
  CHECK(hci::cpu::available_cpus() <= CPU_COUNT(&set));
  CHECK(hci::cpu::available_cpus() >= 1);
}

TEST_CASE("a child process can use hci after fork", "[runtime][fork]") {
  hci::set_num_threads(2);
  CHECK((hci::ones({200000}) + 1).sum().item<float>() == 400000);  // the parent's pool is running
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const float s = (hci::ones({200000}) * 3).sum().item<float>();
    _exit(s == 600000 && hci::get_num_threads() == 2 ? 0 : 1);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("the caching allocator reuses blocks and aligns them to 64 bytes", "[runtime][memory]") {
  hci::empty_cache();
  CHECK(hci::memory_stats().cached_bytes == 0);
  const hci::MemoryStats before = hci::memory_stats();
  for (int i = 0; i < 10; ++i) {
    const hci::Tensor t = hci::ones({1000 + i}) * 2;
    CHECK(reinterpret_cast<uintptr_t>(t.const_data_ptr<float>()) % 64 == 0);
  }
  const hci::MemoryStats after = hci::memory_stats();
  CHECK(after.allocations - before.allocations >= 10);
  CHECK(after.cache_hits - before.cache_hits >= 9);
  CHECK(after.cached_bytes > 0);
  CHECK(after.peak_allocated_bytes >= after.allocated_bytes);
  hci::empty_cache();
  CHECK(hci::memory_stats().cached_bytes == 0);
  CHECK(hci::cpu::CachingAllocator::size_class(1) == 64);
  CHECK(hci::cpu::CachingAllocator::size_class(1000) == 1024);
  CHECK(hci::cpu::CachingAllocator::size_class((1 << 20) + 1) == 2 << 20);
}

TEST_CASE("running out of memory is an hci::Error, never a crash", "[runtime][memory][errors]") {
  const int64_t huge = int64_t(1) << 42;  // 16 TiB of float32
  CHECK_THROWS_WITH(hci::empty({huge}), Catch::Contains("out of memory"));
  CHECK_THROWS_WITH(hci::zeros({huge}).sum().item<float>(), Catch::Contains("out of memory"));
#if !defined(__SANITIZE_ADDRESS__)  // AddressSanitizer aborts a failing operator new instead of throwing
  CHECK_THROWS_WITH(hci::rand({huge}), Catch::Contains("out of host memory"));
  CHECK_THROWS_WITH(hci::arange(0, 1e15), Catch::Contains("out of host memory"));
#endif
  CHECK_THROWS_WITH(hci::empty({huge, huge, huge}), Catch::Contains("more elements than int64 holds"));
  CHECK((hci::ones({3}) * 2).sum().item<float>() == 6);  // and hci still works afterwards
}
