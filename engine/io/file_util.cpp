#include "engine/io/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "engine/core/error.h"

namespace gan::io {

namespace fs = std::filesystem;

static std::string errno_text() { return std::strerror(errno); }

void write_file_atomic(const std::string& path, const void* bytes, size_t size) {
  fs::path target(path);
  fs::path dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  std::string tmp = (dir / ("." + target.filename().string() + ".tmp." + std::to_string(::getpid()))).string();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  GAN_CHECK(fd >= 0, path << ": cannot create temporary file " << tmp << ": " << errno_text());
  const char* p = static_cast<const char*>(bytes);
  size_t left = size;
  while (left > 0) {
    ssize_t w = ::write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      std::string why = errno_text();
      ::close(fd);
      ::unlink(tmp.c_str());
      GAN_FAIL(path << ": write failed: " << why);
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    std::string why = errno_text();
    ::unlink(tmp.c_str());
    GAN_FAIL(path << ": cannot flush to disk: " << why);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = errno_text();
    ::unlink(tmp.c_str());
    GAN_FAIL(path << ": cannot replace file: " << why);
  }
  // The rename is durable only once the folder entry is on disk.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::error_code ec;
  GAN_CHECK(!fs::is_directory(path, ec), path << ": is a folder, expected a file");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  GAN_CHECK(f, path << ": cannot open: " << errno_text());
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.insert(out.end(), buf, buf + n);
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
