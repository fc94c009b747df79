#include "engine/io/file_util.h"

#include <algorithm>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "engine/core/error.h"

namespace gan::io {

namespace fs = std::filesystem;

// strerror plus, for the failures a user must act on, the errno name and what it means: "No space
// left on device" alone does not say which disk nor that nothing else is wrong.
static std::string error_text(int err) {
  std::string s = std::strerror(err);
  if (err == ENOSPC) s += " (ENOSPC: the disk is full)";
  else if (err == EDQUOT) s += " (EDQUOT: the disk quota is used up)";
  else if (err == EIO) s += " (EIO: the disk or file system reported an error)";
  else if (err == EROFS) s += " (EROFS: the file system is read-only)";
  return s;
}
static std::string errno_text() { return error_text(errno); }

std::string describe_errno(int err) { return error_text(err); }

namespace {

constexpr size_t kNameMax = 255;  // NAME_MAX of Linux file systems, in bytes
const char kTempTag[] = ".tmp.";

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

std::string temp_file_name(const std::string& file_name, long pid) {
  const std::string suffix = kTempTag + std::to_string(pid);
  std::string base = file_name;
  if (1 + base.size() + suffix.size() > kNameMax) {
    char hash[18];
    std::snprintf(hash, sizeof hash, "~%016llx", static_cast<unsigned long long>(fnv1a(file_name)));
    base = base.substr(0, kNameMax - 1 - suffix.size() - (sizeof hash - 1)) + hash;
  }
  return "." + base + suffix;
}

long temp_file_pid(const std::string& name) {
  if (name.size() < 2 || name[0] != '.') return -1;
  const size_t at = name.rfind(kTempTag);
  if (at == std::string::npos || at == 0) return -1;
  const std::string digits = name.substr(at + sizeof kTempTag - 1);
  if (digits.empty() || digits.size() > 10 || digits[0] == '0') return -1;
  for (char c : digits)
    if (c < '0' || c > '9') return -1;
  return std::stol(digits);
}

std::vector<std::string> remove_stale_temp_files(const std::string& dir) {
  std::vector<std::string> removed;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const long pid = temp_file_pid(name);
    if (pid <= 0 || !it->is_regular_file(ec)) continue;
    // ESRCH only: EPERM means the process exists under another user and may still be writing.
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    if (::unlink(it->path().c_str()) == 0) removed.push_back(name);
  }
  GAN_CHECK(!ec, dir << ": cannot list folder: " << ec.message());
  return removed;
}

FolderLock::FolderLock(const std::string& dir) {
  const std::string path = (fs::path(dir) / ".lock").string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  GAN_CHECK(fd_ >= 0, dir << ": cannot open lock file " << path << ": " << errno_text());
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[32] = {};
    const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
    ::close(fd_);
    fd_ = -1;
    std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    GAN_CHECK(err != EWOULDBLOCK, dir << ": in use by process " << (pid.empty() ? std::string("(pid not yet written)") : pid)
                                      << " (lock file " << path << ")");
    GAN_FAIL(dir << ": cannot lock " << path << ": " << std::strerror(err));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    const std::string why = errno_text();
    ::close(fd_);
    fd_ = -1;
    GAN_FAIL(dir << ": cannot write lock file " << path << ": " << why);
  }
}

FolderLock& FolderLock::operator=(FolderLock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

// The file stays: unlinking it would let a process that opened it before the unlink lock a file
// no longer in the folder while a third one creates and locks a new one.
FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);
}

void write_file_atomic(const std::string& path, const void* bytes, size_t size) {
  fs::path target(path);
  fs::path dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  std::string tmp = (dir / temp_file_name(target.filename().string(), ::getpid())).string();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  GAN_CHECK(fd >= 0, path << ": cannot create temporary file " << tmp << ": " << errno_text());
  const char* p = static_cast<const char*>(bytes);
  size_t left = size;
  while (left > 0) {
    ssize_t w = ::write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      std::string why = w < 0 ? errno_text() : error_text(ENOSPC);  // write() returning 0: nothing fits
      ::close(fd);
      ::unlink(tmp.c_str());
      GAN_FAIL(path << ": write failed after " << (size - left) << " of " << size << " bytes: " << why
                    << "; the previous " << target.filename().string() << " is unchanged");
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
  // fsync reports the write-back errors (ENOSPC on thin or network storage, EIO) that write()
  // could not; close is checked for the same reason.
  if (::fsync(fd) != 0) {
    std::string why = errno_text();
    ::close(fd);
    ::unlink(tmp.c_str());
    GAN_FAIL(path << ": cannot flush to disk: " << why << "; the previous " << target.filename().string() << " is unchanged");
  }
  if (::close(fd) != 0) {
    std::string why = errno_text();
    ::unlink(tmp.c_str());
    GAN_FAIL(path << ": cannot close after writing: " << why << "; the previous " << target.filename().string()
                  << " is unchanged");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = errno_text();
    ::unlink(tmp.c_str());
    GAN_FAIL(path << ": cannot replace file: " << why);
  }
  // The rename is durable only once the folder entry is on disk.
  // Some file systems refuse fsync on a folder (EINVAL) and give nothing to keep: those are not
  // failures; an EIO there is.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    const int rc = ::fsync(dfd), err = errno;
    ::close(dfd);
    GAN_CHECK(rc == 0 || err == EINVAL || err == EROFS,
              path << ": written, but its folder " << dir.string() << " could not be flushed: " << error_text(err));
  }
}

void append_file(const std::string& path, const std::string& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  GAN_CHECK(fd >= 0, path << ": cannot open to append: " << errno_text());
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    std::string why = errno_text();
    ::close(fd);
    GAN_FAIL(path << ": cannot read its size: " << why);
  }
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    ssize_t w = ::write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      std::string why = w < 0 ? errno_text() : error_text(ENOSPC);
      // A torn last row would be read back as a row; the file goes back to its old end.
      const bool restored = ::ftruncate(fd, st.st_size) == 0;
      ::close(fd);
      GAN_FAIL(path << ": cannot append " << bytes.size() << " bytes: " << why
                    << (restored ? "; the file keeps its earlier rows" : "; the file may end in a partial row"));
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
  GAN_CHECK(::close(fd) == 0, path << ": cannot close after appending: " << errno_text());
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::error_code ec;
  GAN_CHECK(!fs::is_directory(path, ec), path << ": is a folder, expected a file");
  // A FIFO would block the reader for ever and a device (/dev/zero) never ends: only regular files,
  // read up to the size they had when opened.
  const fs::file_status st = fs::status(path, ec);
  GAN_CHECK(!ec, path << ": cannot open: " << ec.message());
  GAN_CHECK(fs::is_regular_file(st), path << ": not a regular file (a "
                                          << (fs::is_fifo(st) ? "FIFO" : fs::is_character_file(st) || fs::is_block_file(st) ? "device" : "special file")
                                          << "); expected a file on disk");
  const uintmax_t size = fs::file_size(path, ec);
  GAN_CHECK(!ec, path << ": cannot read its size: " << ec.message());
  std::FILE* f = std::fopen(path.c_str(), "rb");
  GAN_CHECK(f, path << ": cannot open: " << errno_text());
  std::vector<uint8_t> out;
  out.reserve(static_cast<size_t>(size));
  uint8_t buf[1 << 16];
  size_t n;
  while (out.size() < size && (n = std::fread(buf, 1, std::min<uintmax_t>(sizeof buf, size - out.size()), f)) > 0)
    out.insert(out.end(), buf, buf + n);
  bool bad = std::ferror(f);
  std::fclose(f);
  GAN_CHECK(!bad, path << ": read error");
  return out;
}

bool file_exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

bool is_directory(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

void make_directories(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  GAN_CHECK(!ec && fs::is_directory(path), path << ": cannot create folder: " << ec.message());
}

}  // namespace gan::io
