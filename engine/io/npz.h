// NumPy .npz archives: a zip of .npy members, as numpy.savez (stored) and numpy.savez_compressed
// (deflated) write them; the keys are the member names without ".npy". Read and written with
// libzip. Statistics files of FID (pytorch-fid, clean-fid: keys `mu` and `sigma`) are .npz.
//
//   io::NpzFile f = io::load_npz("stats.npz");
//   Tensor mu = f.get("mu");                       // float64 [d]
//   io::NpzWriter w;
//   w.add("mu", mu).add("sigma", sigma).add_string("feature_net", "digits");
//   w.save("out.npz");                             // atomic, deflated unless compress = false
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/tensor.h"

namespace gan::io {

// The members of an archive, parsed on demand: an archive may hold arrays of dtypes this engine
// does not read (strings, integers) beside the ones asked for.
class NpzFile {
 public:
  NpzFile() = default;
  NpzFile(std::string source, std::map<std::string, std::vector<uint8_t>> members)
      : source_(std::move(source)), members_(std::move(members)) {}
  const std::string& source() const { return source_; }
  std::vector<std::string> keys() const;
  bool has(const std::string& key) const { return members_.count(key) > 0; }
  // The array `key` ('<f4', '<f8' or '|u1', as io::parse_npy reads them) on the CPU; throws
  // naming the file and the member when absent or unreadable.
  Tensor get(const std::string& key) const;
  // A 0-d unicode string array ('<Uk', as numpy stores np.array("digits")); throws likewise.
  std::string get_string(const std::string& key) const;

 private:
  const std::vector<uint8_t>& member(const std::string& key) const;
  std::string source_;
  std::map<std::string, std::vector<uint8_t>> members_;
};

// Reads an archive from memory (`source` names it in errors) or from a file.
NpzFile parse_npz(const uint8_t* bytes, size_t size, const std::string& source);
NpzFile load_npz(const std::string& path);

// Collects members and writes them as one archive.
class NpzWriter {
 public:
  NpzWriter& add(const std::string& key, const Tensor& t);  // float32/float64, any device
  NpzWriter& add_string(const std::string& key, const std::string& value);
  // The archive's bytes: members deflated (savez_compressed) or stored (savez).
  std::string serialize(bool compress = true) const;
  void save(const std::string& path, bool compress = true) const;  // atomic

 private:
  std::vector<std::pair<std::string, std::string>> members_;  // key, .npy bytes
};

}  // namespace gan::io
