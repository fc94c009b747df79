// File helpers shared by the writers and readers: atomic replacement and whole-file reads.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace gan::io {

// Writes `bytes` to `path` so that `path` is either its old content or the complete new one,
// never a torn file: a temporary file in the same folder, fsync, rename over `path`, fsync of the
// folder. Throws gan::Error naming the file on any failure (the temporary file is removed).
void write_file_atomic(const std::string& path, const void* bytes, size_t size);
inline void write_file_atomic(const std::string& path, const std::string& bytes) {
  write_file_atomic(path, bytes.data(), bytes.size());
}

// The whole file; throws naming the file when it cannot be opened or read.
std::vector<uint8_t> read_file(const std::string& path);

bool file_exists(const std::string& path);
bool is_directory(const std::string& path);
// mkdir -p; throws naming the path on failure.
void make_directories(const std::string& path);

}  // namespace gan::io
