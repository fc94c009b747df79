#include "engine/io/npz.h"

#include <zip.h>

#include <charconv>
#include <cstring>
#include <memory>

#include "engine/io/file_util.h"
#include "engine/io/npy.h"

namespace gan::io {

namespace {

constexpr zip_uint64_t kMaxMemberBytes = zip_uint64_t{8} << 30;

std::string zip_message(zip_error_t* e) {
  std::string s = zip_error_strerror(e);
  zip_error_fini(e);
  return s;
}

std::string archive_error(zip_t* za) { return zip_error_strerror(zip_get_error(za)); }

// A .npy header for `descr` and `shape` ("()" or "(3, 4)"), padded as numpy pads it.
std::string npy_header(const std::string& descr, const std::string& shape) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  const size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict.push_back('\n');
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(dict.size() & 0xff));
  out.push_back(static_cast<char>(dict.size() >> 8));
  return out + dict;
}

}  // namespace

std::vector<std::string> NpzFile::keys() const {
  std::vector<std::string> k;
  for (const auto& [name, bytes] : members_) k.push_back(name);
  return k;
}

const std::vector<uint8_t>& NpzFile::member(const std::string& key) const {
  auto it = members_.find(key);
  if (it == members_.end()) {
    std::string have;
    for (const auto& [name, bytes] : members_) have += (have.empty() ? "" : ", ") + name;
    GAN_FAIL(source_ << ": no array '" << key << "' (the archive holds: " << (have.empty() ? "nothing" : have) << ")");
  }
  return it->second;
}

Tensor NpzFile::get(const std::string& key) const {
  const std::vector<uint8_t>& b = member(key);
  return parse_npy(b.data(), b.size(), source_ + ": member " + key + ".npy");
}

std::string NpzFile::get_string(const std::string& key) const {
  const std::vector<uint8_t>& b = member(key);
  const std::string src = source_ + ": member " + key + ".npy";
  const NpyHeader h = parse_npy_header(b.data(), b.size(), src);
  GAN_CHECK(h.descr.size() > 2 && h.descr.compare(0, 2, "<U") == 0 && h.shape.empty(),
            src << ": not a 0-d unicode string array (descr '" << h.descr << "', shape " << shape_str(h.shape) << ")");
  size_t chars = 0;
  const auto r = std::from_chars(h.descr.data() + 2, h.descr.data() + h.descr.size(), chars);
  GAN_CHECK(r.ec == std::errc() && r.ptr == h.descr.data() + h.descr.size() && chars <= (size_t{1} << 20),
            src << ": descr '" << h.descr << "' is not <U followed by a length of at most 2^20");
  const size_t have = b.size() - h.data_offset;
  GAN_CHECK(have == 4 * chars, src << ": string data holds " << have << " bytes, <U" << chars << " needs " << 4 * chars);
  std::string out;
  for (size_t i = 0; i < chars; ++i) {
    const uint8_t* c = b.data() + h.data_offset + 4 * i;
    const uint32_t cp = c[0] | (uint32_t(c[1]) << 8) | (uint32_t(c[2]) << 16) | (uint32_t(c[3]) << 24);
    if (cp == 0) break;  // numpy pads shorter strings with NULs
    GAN_CHECK(cp < 128, src << ": only ASCII strings are read (code point " << cp << ")");
    out.push_back(static_cast<char>(cp));
  }
  return out;
}

NpzFile parse_npz(const uint8_t* bytes, size_t size, const std::string& source) {
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t* src = zip_source_buffer_create(bytes, size, 0, &ze);
  GAN_CHECK(src, source << ": cannot read the archive: " << zip_message(&ze));
  zip_t* za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
  if (!za) {
    zip_source_free(src);
    GAN_FAIL(source << ": not a .npz (zip) archive: " << zip_message(&ze));
  }
  std::unique_ptr<zip_t, void (*)(zip_t*)> guard(za, [](zip_t* z) { zip_discard(z); });
  zip_error_fini(&ze);
  std::map<std::string, std::vector<uint8_t>> members;
  const zip_int64_t n = zip_get_num_entries(za, 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    GAN_CHECK(zip_stat_index(za, static_cast<zip_uint64_t>(i), 0, &st) == 0,
              source << ": cannot read member " << i << ": " << archive_error(za));
    std::string name = st.name ? st.name : "";
    if (name.empty() || name.back() == '/') continue;  // folders
    GAN_CHECK(st.valid & ZIP_STAT_SIZE, source << ": member " << name << " has no size");
    // The size is the archive's own claim: bound it before allocating (Inception statistics are
    // 32 MB; 50,000 CIFAR-sized float32 images 614 MB).
    GAN_CHECK(st.size <= kMaxMemberBytes, source << ": member " << name << " declares " << st.size
                                                 << " bytes uncompressed, more than the " << kMaxMemberBytes
                                                 << " this reader takes (damaged archive?)");
    zip_file_t* zf = zip_fopen_index(za, static_cast<zip_uint64_t>(i), 0);
    GAN_CHECK(zf, source << ": cannot open member " << name << ": " << archive_error(za));
    std::vector<uint8_t> data(static_cast<size_t>(st.size));
    const zip_int64_t got = zip_fread(zf, data.data(), st.size);
    const std::string why = got < 0 ? zip_error_strerror(zip_file_get_error(zf)) : "";
    zip_fclose(zf);
    GAN_CHECK(got == static_cast<zip_int64_t>(st.size), source << ": cannot read member " << name << " ("
                                                               << (got < 0 ? why : "truncated") << ")");
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0) name.resize(name.size() - 4);
    members[name] = std::move(data);
  }
  return NpzFile(source, std::move(members));
}

NpzFile load_npz(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  return parse_npz(bytes.data(), bytes.size(), path);
}

NpzWriter& NpzWriter::add(const std::string& key, const Tensor& t) {
  GAN_CHECK(t.dtype() == DType::Float32 || t.dtype() == DType::Float64 || t.dtype() == DType::BFloat16,
            "npz: array '" << key << "' must be float32, float64 or bfloat16 (stored as float32)");
  members_.emplace_back(key, serialize_npy(t));
  return *this;
}

NpzWriter& NpzWriter::add_string(const std::string& key, const std::string& value) {
  std::string data;
  for (char c : value) {
    GAN_CHECK(static_cast<unsigned char>(c) < 128, "npz: string '" << key << "' must be ASCII");
    data.push_back(c);
    data.append(3, '\0');  // UTF-32 little-endian
  }
  members_.emplace_back(key, npy_header("<U" + std::to_string(value.size()), "()") + data);
  return *this;
}

std::string NpzWriter::serialize(bool compress) const {
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t* out = zip_source_buffer_create(nullptr, 0, 0, &ze);
  GAN_CHECK(out, "npz: cannot create an archive in memory: " << zip_message(&ze));
  zip_source_keep(out);  // read back after zip_close
  std::unique_ptr<zip_source_t, void (*)(zip_source_t*)> out_guard(out, zip_source_free);
  zip_t* za = zip_open_from_source(out, ZIP_TRUNCATE, &ze);
  GAN_CHECK(za, "npz: cannot create an archive in memory: " << zip_message(&ze));
  zip_error_fini(&ze);
  for (const auto& [key, npy] : members_) {
    zip_source_t* s = zip_source_buffer(za, npy.data(), npy.size(), 0);
    zip_int64_t idx = s ? zip_file_add(za, (key + ".npy").c_str(), s, ZIP_FL_ENC_UTF_8) : -1;
    if (idx < 0) {
      if (s) zip_source_free(s);
      std::string why = archive_error(za);
      zip_discard(za);
      GAN_FAIL("npz: cannot add member " << key << ".npy: " << why);
    }
    zip_set_file_compression(za, static_cast<zip_uint64_t>(idx), compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
  }
  if (zip_close(za) != 0) {
    std::string why = archive_error(za);
    zip_discard(za);
    GAN_FAIL("npz: cannot write the archive: " << why);
  }
  zip_stat_t st;
  zip_stat_init(&st);
  GAN_CHECK(zip_source_stat(out, &st) == 0 && zip_source_open(out) == 0, "npz: cannot read the archive back");
  std::string bytes(static_cast<size_t>(st.size), '\0');
  const zip_int64_t got = zip_source_read(out, bytes.data(), st.size);
  zip_source_close(out);
  GAN_CHECK(got == static_cast<zip_int64_t>(st.size), "npz: cannot read the archive back");
  return bytes;
}

void NpzWriter::save(const std::string& path, bool compress) const {
  std::string bytes;
  try {
    bytes = serialize(compress);
  } catch (const Error& e) {
    GAN_FAIL(path << ": " << e.what());
  }
  write_file_atomic(path, bytes);
}

}  // namespace gan::io
