// File helpers shared by the writers and readers: atomic replacement, whole-file reads, an
// advisory lock on a folder, and clean-up of temporary files left by killed writers.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace gan::io {

// Writes `bytes` to `path` so that `path` is either its old content or the complete new one,
// never a torn file: a temporary file in the same folder (temp_file_name), fsync, rename over
// `path`, fsync of the folder. Throws gan::Error naming the file and the reason (ENOSPC: "the
// disk is full") on any failure; the temporary file is removed and `path` keeps its old content.
void write_file_atomic(const std::string& path, const void* bytes, size_t size);
inline void write_file_atomic(const std::string& path, const std::string& bytes) {
  write_file_atomic(path, bytes.data(), bytes.size());
}

// Appends `bytes` at the end of `path` (created if absent). On failure the file is cut back to its
// old size, so it never ends in a partial record, and gan::Error names the file and the reason.
// No fsync: the logs this serves are rewritten from a checkpoint's step when a run resumes.
void append_file(const std::string& path, const std::string& bytes);

// strerror(err), plus the errno name and its meaning for full disks, quotas, EIO and read-only
// file systems ("No space left on device (ENOSPC: the disk is full)").
std::string describe_errno(int err);

// The name of write_file_atomic's temporary file for `file_name` written by process `pid`:
// ".NAME.tmp.PID". A NAME too long for that to fit the 255-byte file-name limit is cut and
// followed by "~" and a hash of the whole name, so distinct long names keep distinct temporaries.
std::string temp_file_name(const std::string& file_name, long pid);
// The writer's pid when `file_name` has temp_file_name's form, else -1.
long temp_file_pid(const std::string& file_name);

// Removes the temporary files (temp_file_name's form) in `dir`, not below it, whose writing
// process no longer exists: a writer killed mid-write leaves one behind. Returns their names.
// Files of live processes, and every other file, are kept.
std::vector<std::string> remove_stale_temp_files(const std::string& dir);

// An exclusive advisory lock (flock) on DIR/.lock, held while the object lives and released by
// the kernel when the process dies however it dies. The file holds the holder's pid.
class FolderLock {
 public:
  FolderLock() = default;
  // Takes the lock at once or throws gan::Error naming `dir` and the pid of the process holding it.
  // `dir` must exist.
  explicit FolderLock(const std::string& dir);
  FolderLock(FolderLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  FolderLock& operator=(FolderLock&& o) noexcept;
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;
  ~FolderLock();
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// The whole file; throws naming the file when it cannot be opened or read.
std::vector<uint8_t> read_file(const std::string& path);

bool file_exists(const std::string& path);
bool is_directory(const std::string& path);
// mkdir -p; throws naming the path on failure.
void make_directories(const std::string& path);

}  // namespace gan::io
