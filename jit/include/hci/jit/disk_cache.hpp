// The on-disk kernel cache: compiled code (host objects now; PTX and code objects later) kept
// across processes, so a kernel seen before skips optimisation and code generation.
//
// An entry is one file, `<kind>-<key>.hcik`, where the key digests the format version, the kind,
// the target (everything besides the IR that the code depends on) and the canonical IR text; a
// change to hci's emitter therefore gives new keys, never stale code. The file starts with a
// short text header (readable with `head`): format, kind, target, key, structural hash, the
// producer (LLVM version), payload size and checksum; then the payload. An entry that does not
// match in every field, or whose size or checksum is wrong, is rejected, removed and rebuilt.
//
// Writes go to a temporary file that is renamed into place, so readers (other threads or
// processes) see a whole entry or none. The total size is capped; past the cap the entries used
// least recently (modification time, refreshed on each hit) are removed. The directory holds
// code hci will run, so it is used only if it belongs to this user and no one else may write to
// it; a read-only directory is used for reading.
#pragma once

#include <hci/config.hpp>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

HCI_BEGIN_NAMESPACE

namespace jit::detail {

// A 128-bit digest of bytes, for cache keys and checksums (not cryptographic: the directory is
// trusted, the digest only has to catch corruption and tell keys apart).
struct Digest {
  uint64_t low = 0, high = 0;
  friend bool operator==(const Digest&, const Digest&) = default;
  HCI_RUNTIME_DECL std::string hex() const;  // 32 lowercase hex digits
};
HCI_RUNTIME_DECL Digest digest(std::string_view bytes);

struct CacheKey {
  std::string kind;         // what the payload is: "cpu" (host object file)
  std::string target;       // what the code depends on besides the IR: triple, CPU, features, LLVM
  Digest ir;                // of the IR text
  uint64_t structure_hash;  // of the scheduled kernel, recorded for people reading the entry
};

class DiskCache {
 public:
  static constexpr uint32_t kFormat = 1;
  static constexpr uint64_t kDefaultMaxBytes = uint64_t(1) << 30;

  // Uses `directory` (created with mode 0700 if missing). Check usable(); problem() says why not.
  DiskCache(std::string directory, uint64_t max_bytes);

  bool usable() const { return problem_.empty(); }
  const std::string& problem() const { return problem_; }
  const std::string& directory() const { return directory_; }
  bool writable() const;  // false for a read-only directory (found out at the first failed write)

  // The payload stored under `key`, or nothing. A present entry that fails a check is removed,
  // and `rejected` says why.
  std::optional<std::string> load(const CacheKey& key, std::string* rejected = nullptr);
  // Stores the payload atomically and evicts past the cap; false if it could not be written.
  bool store(const CacheKey& key, std::string_view payload, std::string_view producer);

  std::string path_of(const CacheKey& key) const;  // where the entry lives, present or not

 private:
  void evict_locked();  // with mutex_ held

  std::string directory_, problem_;
  uint64_t max_bytes_;
  mutable std::mutex mutex_;  // guards the fields below
  bool writable_ = true;
  bool sized_ = false;        // whether total_bytes_ has been measured
  uint64_t total_bytes_ = 0;  // of the entries, as far as this process knows
};

}  // namespace jit::detail

HCI_END_NAMESPACE

#if HCI_RUNTIME_DEFINITIONS

#include <hci/error.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

HCI_BEGIN_NAMESPACE

namespace jit::detail {

HCI_RUNTIME_DEF std::string Digest::hex() const { return hci::detail::format("{:016x}{:016x}", high, low); }

HCI_RUNTIME_DEF Digest digest(std::string_view bytes) {
  // Two lanes of multiply-rotate mixing over 8-byte words, each finished with a murmur3 avalanche.
  auto avalanche = [](uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
  };
  auto rotl = [](uint64_t x, int r) { return (x << r) | (x >> (64 - r)); };
  uint64_t a = 0x9e3779b97f4a7c15ull ^ bytes.size(), b = 0xc2b2ae3d27d4eb4full + bytes.size();
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, bytes.data() + i, 8);
    a = rotl(a ^ (word * 0x87c37b91114253d5ull), 31) * 0x4cf5ad432745937full;
    b = rotl(b + (word * 0x52dce729ull), 27) * 0x9e3779b185ebca87ull + a;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, bytes.data() + i, bytes.size() - i);
  a = rotl(a ^ (tail * 0x87c37b91114253d5ull), 31) * 0x4cf5ad432745937full;
  b = rotl(b + (tail * 0x52dce729ull), 27) * 0x9e3779b185ebca87ull + a;
  return {avalanche(a ^ rotl(b, 17)), avalanche(b ^ rotl(a, 41))};
}

namespace cache_file {

constexpr std::string_view kMagic = "hci kernel cache entry\n";
constexpr size_t kMaxEntryBytes = size_t(1) << 28;  // larger files are not entries

inline Digest name_digest(const CacheKey& key) {
  return digest(hci::detail::format("{}\n{}\n{}\n{}", DiskCache::kFormat, key.kind, key.target, key.ir.hex()));
}

inline std::string header(const CacheKey& key, std::string_view producer, std::string_view payload) {
  return hci::detail::format(
      "{}format {}\nkind {}\ntarget {}\nir {}\nstructure {:016x}\nproducer {}\nsize {}\n"
      "checksum {}\n\n",
      kMagic, DiskCache::kFormat, key.kind, key.target, key.ir.hex(), key.structure_hash, producer, payload.size(),
      digest(payload).hex());
}

// The value of `field` in a header ("" if absent).
inline std::string_view field(std::string_view header, std::string_view name) {
  const std::string needle = hci::detail::format("\n{} ", name);
  const size_t at = header.find(needle);
  if (at == std::string_view::npos) return {};
  const size_t begin = at + needle.size();
  return header.substr(begin, header.find('\n', begin) - begin);
}

// Why the file's bytes are not a valid entry for `key`, or "" if they are; then `payload` is set.
inline std::string check(std::string_view file, const CacheKey& key, std::string_view& payload) {
  if (!file.starts_with(kMagic)) return "not a cache entry";
  const size_t end = file.find("\n\n");
  if (end == std::string_view::npos) return "truncated header";
  const std::string_view header = file.substr(0, end + 1);  // each field follows a newline
  if (field(header, "format") != std::to_string(DiskCache::kFormat)) return "another format version";
  if (field(header, "kind") != key.kind || field(header, "target") != key.target || field(header, "ir") != key.ir.hex())
    return "made for another kernel or target";
  payload = file.substr(end + 2);
  if (field(header, "size") != std::to_string(payload.size())) return "truncated or padded payload";
  if (field(header, "checksum") != digest(payload).hex()) return "checksum mismatch";
  return {};
}

inline bool read_all(const std::string& path, std::string& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat info{};
  bool ok = ::fstat(fd, &info) == 0 && S_ISREG(info.st_mode) && size_t(info.st_size) <= kMaxEntryBytes;
  if (ok) {
    out.resize(size_t(info.st_size));
    size_t done = 0;
    while (ok && done < out.size()) {
      const ssize_t n = ::read(fd, out.data() + done, out.size() - done);
      if (n < 0 && errno == EINTR) continue;
      ok = n > 0;
      done += ok ? size_t(n) : 0;
    }
  }
  ::close(fd);
  return ok;
}

inline bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(size_t(n));
  }
  return true;
}

// Why `directory` must not hold code hci runs, or "" if it may. Creates it if missing.
inline std::string refuse_reason(const std::string& directory) {
  // Missing parents get the same private mode: ~/.cache as XDG asks, and no one else's way in.
  for (size_t slash = directory.find('/', 1); slash != std::string::npos; slash = directory.find('/', slash + 1))
    ::mkdir(directory.substr(0, slash).c_str(), 0700);
  if (::mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST)
    return hci::detail::format("cannot create it: {}", std::strerror(errno));
  struct stat info{};
  if (::stat(directory.c_str(), &info) != 0) return hci::detail::format("cannot read it: {}", std::strerror(errno));
  if (!S_ISDIR(info.st_mode)) return "not a directory";
  if (info.st_uid != ::geteuid())
    return hci::detail::format("owned by user {}, not by this user ({})", info.st_uid, ::geteuid());
  if (info.st_mode & (S_IWGRP | S_IWOTH)) return "writable by other users";
  return {};
}

}  // namespace cache_file

HCI_RUNTIME_DEF DiskCache::DiskCache(std::string directory, uint64_t max_bytes)
    : directory_(std::move(directory)), max_bytes_(max_bytes) {
  problem_ = directory_.empty() ? "no directory" : cache_file::refuse_reason(directory_);
  writable_ = usable() && ::access(directory_.c_str(), W_OK) == 0;
}

HCI_RUNTIME_DEF bool DiskCache::writable() const {
  std::lock_guard lock(mutex_);
  return writable_;
}

HCI_RUNTIME_DEF std::string DiskCache::path_of(const CacheKey& key) const {
  return hci::detail::format("{}/{}-{}.hcik", directory_, key.kind, cache_file::name_digest(key).hex());
}

HCI_RUNTIME_DEF std::optional<std::string> DiskCache::load(const CacheKey& key, std::string* rejected) {
  if (!usable()) return std::nullopt;
  const std::string path = path_of(key);
  std::string file;
  if (!cache_file::read_all(path, file)) return std::nullopt;
  std::string_view payload;
  const std::string why = cache_file::check(file, key, payload);
  if (!why.empty()) {
    if (rejected) *rejected = hci::detail::format("{}: {}", path, why);
    ::unlink(path.c_str());  // rebuilt by the caller (a read-only directory keeps it)
    return std::nullopt;
  }
  ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);  // used now: last in line for eviction
  return std::string(payload);
}

HCI_RUNTIME_DEF bool DiskCache::store(const CacheKey& key, std::string_view payload, std::string_view producer) {
  if (!usable() || !writable()) return false;
  static std::atomic<uint64_t> temporaries{0};
  const std::string path = path_of(key);
  const std::string temporary = hci::detail::format("{}.tmp{}-{}", path, ::getpid(), temporaries++);
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EACCES || errno == EROFS || errno == EPERM) {
      std::lock_guard lock(mutex_);
      writable_ = false;  // a read-only directory: keep reading it
    }
    return false;
  }
  const std::string header = cache_file::header(key, producer, payload);
  bool ok = cache_file::write_all(fd, header) && cache_file::write_all(fd, payload);
  ok = ::close(fd) == 0 && ok;
  ok = ok && ::rename(temporary.c_str(), path.c_str()) == 0;
  if (!ok) {
    ::unlink(temporary.c_str());
    return false;
  }
  std::lock_guard lock(mutex_);
  total_bytes_ += header.size() + payload.size();
  if (!sized_ || total_bytes_ > max_bytes_) evict_locked();
  return true;
}

HCI_RUNTIME_DEF void DiskCache::evict_locked() {
  // Measures every entry; past the cap, removes the least recently used down to 7/8 of it, so
  // that the next few stores do not scan again. Temporary files left by a process that died
  // while writing go too once they are an hour old.
  struct Entry {
    std::string path;
    int64_t used_ns;
    uint64_t bytes;
  };
  std::vector<Entry> entries;
  uint64_t total = 0;
  const int64_t hour_ago_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count() -
      int64_t(3600) * 1000000000;
  DIR* listing = ::opendir(directory_.c_str());
  if (!listing) return;
  while (const dirent* item = ::readdir(listing)) {
    const std::string_view name = item->d_name;
    const std::string path = hci::detail::format("{}/{}", directory_, name);
    struct stat info{};
    if (::lstat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
    const int64_t used_ns = int64_t(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec;
    if (name.find(".hcik.tmp") != std::string_view::npos) {
      if (used_ns < hour_ago_ns) ::unlink(path.c_str());
      continue;
    }
    if (!name.ends_with(".hcik")) continue;
    entries.push_back({path, used_ns, uint64_t(info.st_size)});
    total += uint64_t(info.st_size);
  }
  ::closedir(listing);
  sized_ = true;
  if (total > max_bytes_) {
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.used_ns < b.used_ns; });
    for (const Entry& entry : entries) {
      if (total <= max_bytes_ - max_bytes_ / 8) break;
      if (::unlink(entry.path.c_str()) == 0 || errno == ENOENT) total -= entry.bytes;
    }
  }
  total_bytes_ = total;
}

}  // namespace jit::detail

HCI_END_NAMESPACE

#endif  // HCI_RUNTIME_DEFINITIONS
