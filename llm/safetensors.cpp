#include "llm/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "kernels/error.h"
#include "kernels/ops.h"

namespace yoco::llm {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; this reader maps it as is");

namespace {

constexpr uint64_t kMaxHeader = 100ull * 1024 * 1024;
// The deepest a valid header nests: root object > entry object > shape array.
constexpr int kMaxJsonDepth = 8;

struct DTypeRow {
  TensorDType t;
  const char* name;
  size_t size;
};
constexpr DTypeRow kDTypes[] = {
    {TensorDType::F32, "F32", 4}, {TensorDType::F16, "F16", 2}, {TensorDType::BF16, "BF16", 2},
    {TensorDType::F64, "F64", 8}, {TensorDType::I32, "I32", 4}, {TensorDType::I64, "I64", 8},
    {TensorDType::U8, "U8", 1},   {TensorDType::I8, "I8", 1},
};

const DTypeRow& row(TensorDType t) {
  for (const auto& r : kDTypes)
    if (r.t == t) return r;
  YOCO_CHECK(false);
}

std::string printable_name(std::string_view name) {
  // Tensor names come from untrusted files: keep messages on one printable line.
  std::string out = "'";
  for (unsigned char c : name.substr(0, 200)) {
    if (c >= 0x20 && c != 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (name.size() > 200) out += "...";
  return out + "'";
}

template <typename T>
T load_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

const char* tensor_dtype_name(TensorDType t) {
  return row(t).name;
}
size_t tensor_dtype_size(TensorDType t) {
  return row(t).size;
}

bool parse_tensor_dtype(std::string_view name, TensorDType* out) {
  for (const auto& r : kDTypes) {
    if (name == r.name) {
      *out = r.t;
      return true;
    }
  }
  return false;
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // validated against overflow when the file was read
  return n;
}

// ---- reader --------------------------------------------------------------------------------------------

SafeTensors::SafeTensors(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  YOCO_REQUIRE(fd >= 0, "cannot open safetensors file " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(path + ": not a regular file");
  }
  const auto file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < 8) {
    ::close(fd);
    throw Error(path + ": file too short for a safetensors header (" + std::to_string(file_size) + " bytes)");
  }
  void* m = ::mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);  // the mapping keeps the file alive
  YOCO_REQUIRE(m != MAP_FAILED, "cannot map " + path + ": " + std::strerror(map_errno));
  map_ = m;
  map_size_ = file_size;

  try {
    const auto* base = static_cast<const uint8_t*>(map_);
    const uint64_t hlen = load_le<uint64_t>(base);
    YOCO_REQUIRE(hlen <= kMaxHeader && hlen <= file_size - 8,
                 path + ": header length " + std::to_string(hlen) + " does not fit the file (" +
                     std::to_string(file_size) + " bytes, at most " + std::to_string(kMaxHeader) + ")");
    const char* hbegin = reinterpret_cast<const char*>(base + 8);
    YOCO_REQUIRE(hlen >= 2 && hbegin[0] == '{', path + ": header is not a JSON object");
    const uint8_t* data = base + 8 + hlen;
    const uint64_t data_size = file_size - 8 - hlen;

    nlohmann::ordered_json header;
    try {
      header = nlohmann::ordered_json::parse(
          hbegin, hbegin + hlen,
          [](int depth, nlohmann::ordered_json::parse_event_t, nlohmann::ordered_json&) {
            if (depth > kMaxJsonDepth) throw Error("nested too deeply");
            return true;
          });
    } catch (const nlohmann::json::exception& e) {
      throw Error(path + ": header is not valid JSON: " + e.what());
    } catch (const Error& e) {
      throw Error(path + ": header JSON " + e.what());
    }
    YOCO_REQUIRE(header.is_object(), path + ": header is not a JSON object");

    struct Span {
      uint64_t begin, end;
      size_t index;
    };
    std::vector<Span> spans;
    for (auto it = header.begin(); it != header.end(); ++it) {
      const std::string& name = it.key();
      const auto& v = it.value();
      if (name == "__metadata__") {
        YOCO_REQUIRE(v.is_object(), path + ": __metadata__ must be an object mapping strings to strings");
        for (auto m_it = v.begin(); m_it != v.end(); ++m_it) {
          YOCO_REQUIRE(m_it.value().is_string(),
                       path + ": __metadata__ entry " + printable_name(m_it.key()) + " is not a string");
          metadata_[m_it.key()] = m_it.value().get<std::string>();
        }
        continue;
      }
      const std::string where = path + ": tensor " + printable_name(name) + ": ";
      YOCO_REQUIRE(v.is_object(), where + "header entry is not an object");
      const auto dt = v.find("dtype");
      const auto sh = v.find("shape");
      const auto off = v.find("data_offsets");
      YOCO_REQUIRE(dt != v.end(), where + "missing 'dtype'");
      YOCO_REQUIRE(sh != v.end(), where + "missing 'shape'");
      YOCO_REQUIRE(off != v.end(), where + "missing 'data_offsets'");
      YOCO_REQUIRE(dt->is_string(), where + "'dtype' is not a string");
      TensorInfo t;
      t.name = name;
      const std::string dname = dt->get<std::string>();
      YOCO_REQUIRE(parse_tensor_dtype(dname, &t.dtype), where + "unsupported dtype " + printable_name(dname) +
                                                            " (supported: F32 F16 BF16 F64 I32 I64 U8 I8)");
      YOCO_REQUIRE(sh->is_array(), where + "'shape' is not an array");
      uint64_t count = 1;
      for (const auto& d : *sh) {
        YOCO_REQUIRE(d.is_number_unsigned() || (d.is_number_integer() && d.get<int64_t>() >= 0),
                     where + "shape " + sh->dump() + " has a dimension that is not a non-negative integer");
        const uint64_t dim = d.get<uint64_t>();
        YOCO_REQUIRE(dim <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) &&
                         !__builtin_mul_overflow(count, dim, &count),
                     where + "shape " + sh->dump() + " overflows");
        t.shape.push_back(static_cast<int64_t>(dim));
      }
      const size_t esize = tensor_dtype_size(t.dtype);
      uint64_t nbytes = 0;
      YOCO_REQUIRE(!__builtin_mul_overflow(count, static_cast<uint64_t>(esize), &nbytes) &&
                       nbytes <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
                   where + "shape " + sh->dump() + " overflows");
      YOCO_REQUIRE(off->is_array() && off->size() == 2 && (*off)[0].is_number_unsigned() &&
                       (*off)[1].is_number_unsigned(),
                   where + "'data_offsets' is not a pair of non-negative integers: " + off->dump());
      const uint64_t begin = (*off)[0].get<uint64_t>(), end = (*off)[1].get<uint64_t>();
      YOCO_REQUIRE(begin <= end && end <= data_size,
                   where + "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                       "] lie outside the data region (" + std::to_string(data_size) + " bytes)");
      YOCO_REQUIRE(end - begin == nbytes, where + "data_offsets [" + std::to_string(begin) + ", " +
                                              std::to_string(end) + "] hold " + std::to_string(end - begin) +
                                              " bytes, shape " + sh->dump() + " x " + dname + " needs " +
                                              std::to_string(nbytes));
      t.data = data + begin;
      t.nbytes = static_cast<size_t>(nbytes);
      spans.push_back({begin, end, tensors_.size()});
      tensors_.push_back(std::move(t));
    }

    // Byte ranges must tile the data region exactly: no overlap, no gap, no trailing bytes.
    std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    uint64_t pos = 0;
    for (const Span& s : spans) {
      const std::string where = path + ": tensor " + printable_name(tensors_[s.index].name) + ": ";
      YOCO_REQUIRE(s.begin >= pos, where + "data_offsets [" + std::to_string(s.begin) + ", " +
                                       std::to_string(s.end) + "] overlap another tensor (ending at " +
                                       std::to_string(pos) + ")");
      YOCO_REQUIRE(s.begin == pos, where + "data starts at " + std::to_string(s.begin) +
                                       " leaving a gap after byte " + std::to_string(pos));
      pos = s.end;
    }
    YOCO_REQUIRE(pos == data_size,
                 path + ": " + std::to_string(data_size - pos) + " trailing bytes after the last tensor");

    for (size_t i = 0; i < tensors_.size(); ++i) index_.emplace(tensors_[i].name, i);
  } catch (...) {
    unmap();
    throw;
  }
}

SafeTensors::~SafeTensors() {
  unmap();
}

SafeTensors::SafeTensors(SafeTensors&& o) noexcept
    : path_(std::move(o.path_)),
      map_(std::exchange(o.map_, nullptr)),
      map_size_(std::exchange(o.map_size_, 0)),
      tensors_(std::move(o.tensors_)),
      index_(std::move(o.index_)),
      metadata_(std::move(o.metadata_)) {}

SafeTensors& SafeTensors::operator=(SafeTensors&& o) noexcept {
  if (this != &o) {
    unmap();
    path_ = std::move(o.path_);
    map_ = std::exchange(o.map_, nullptr);
    map_size_ = std::exchange(o.map_size_, 0);
    tensors_ = std::move(o.tensors_);
    index_ = std::move(o.index_);
    metadata_ = std::move(o.metadata_);
  }
  return *this;
}

void SafeTensors::unmap() noexcept {
  if (map_ != nullptr) ::munmap(map_, map_size_);
  map_ = nullptr;
  map_size_ = 0;
}

const TensorInfo* SafeTensors::find(std::string_view name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& SafeTensors::get(std::string_view name) const {
  const TensorInfo* t = find(name);
  YOCO_REQUIRE(t != nullptr, "missing tensor " + printable_name(name) + " in " + path_);
  return *t;
}

// ---- conversions ---------------------------------------------------------------------------------------

std::vector<float> to_f32(const TensorInfo& t) {
  const size_t n = static_cast<size_t>(t.numel());
  std::vector<float> out(n);
  const uint8_t* p = t.data;
  switch (t.dtype) {
    case TensorDType::F32:
      if (n) std::memcpy(out.data(), p, n * 4);
      break;
    case TensorDType::F16:
      for (size_t i = 0; i < n; ++i) out[i] = kernels::f16_to_f32(load_le<uint16_t>(p + 2 * i));
      break;
    case TensorDType::BF16:
      for (size_t i = 0; i < n; ++i) out[i] = kernels::bf16_to_f32(load_le<uint16_t>(p + 2 * i));
      break;
    case TensorDType::F64:
      for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(load_le<double>(p + 8 * i));
      break;
    case TensorDType::I32:
      for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(load_le<int32_t>(p + 4 * i));
      break;
    case TensorDType::I64:
      for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(load_le<int64_t>(p + 8 * i));
      break;
    case TensorDType::U8:
      for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(p[i]);
      break;
    case TensorDType::I8:
      for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(static_cast<int8_t>(p[i]));
      break;
  }
  return out;
}

const float* f32_data(const TensorInfo& t) {
  if (t.dtype != TensorDType::F32 || reinterpret_cast<uintptr_t>(t.data) % alignof(float) != 0)
    return nullptr;
  return reinterpret_cast<const float*>(t.data);
}

bool all_finite(const TensorInfo& t) {
  const size_t n = static_cast<size_t>(t.numel());
  const uint8_t* p = t.data;
  // Checks the exponent bits directly: all ones means inf or NaN, whatever the mantissa.
  switch (t.dtype) {
    case TensorDType::F32:
      for (size_t i = 0; i < n; ++i)
        if ((load_le<uint32_t>(p + 4 * i) & 0x7f800000u) == 0x7f800000u) return false;
      return true;
    case TensorDType::F16:
      for (size_t i = 0; i < n; ++i)
        if ((load_le<uint16_t>(p + 2 * i) & 0x7c00u) == 0x7c00u) return false;
      return true;
    case TensorDType::BF16:
      for (size_t i = 0; i < n; ++i)
        if ((load_le<uint16_t>(p + 2 * i) & 0x7f80u) == 0x7f80u) return false;
      return true;
    case TensorDType::F64:
      for (size_t i = 0; i < n; ++i)
        if ((load_le<uint64_t>(p + 8 * i) & 0x7ff0000000000000ull) == 0x7ff0000000000000ull) return false;
      return true;
    default:
      return true;
  }
}

std::vector<int32_t> to_i32(const TensorInfo& t) {
  const size_t n = static_cast<size_t>(t.numel());
  std::vector<int32_t> out(n);
  const uint8_t* p = t.data;
  switch (t.dtype) {
    case TensorDType::I32:
      if (n) std::memcpy(out.data(), p, n * 4);
      break;
    case TensorDType::I64:
      for (size_t i = 0; i < n; ++i) {
        const int64_t v = load_le<int64_t>(p + 8 * i);
        YOCO_REQUIRE(v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max(),
                     "tensor " + printable_name(t.name) + ": element " + std::to_string(i) + " = " +
                         std::to_string(v) + " does not fit int32");
        out[i] = static_cast<int32_t>(v);
      }
      break;
    case TensorDType::U8:
      for (size_t i = 0; i < n; ++i) out[i] = p[i];
      break;
    case TensorDType::I8:
      for (size_t i = 0; i < n; ++i) out[i] = static_cast<int8_t>(p[i]);
      break;
    default:
      throw Error("tensor " + printable_name(t.name) + " has dtype " + tensor_dtype_name(t.dtype) +
                  ", expected an integer dtype (I32, I64, U8, I8)");
  }
  return out;
}

// ---- writer --------------------------------------------------------------------------------------------

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    header["__metadata__"] = std::move(m);
  }
  std::set<std::string_view> seen;
  uint64_t offset = 0;
  for (const TensorToWrite& t : tensors) {
    const std::string where = path + ": tensor " + printable_name(t.name) + ": ";
    YOCO_REQUIRE(t.name != "__metadata__", where + "'__metadata__' is not a valid tensor name");
    YOCO_REQUIRE(seen.insert(t.name).second, where + "written twice");
    uint64_t count = 1;
    for (int64_t d : t.shape) {
      YOCO_REQUIRE(d >= 0 && !__builtin_mul_overflow(count, static_cast<uint64_t>(d), &count),
                   where + "bad shape");
    }
    uint64_t nbytes = 0;
    YOCO_REQUIRE(!__builtin_mul_overflow(count, static_cast<uint64_t>(tensor_dtype_size(t.dtype)), &nbytes) &&
                     nbytes == t.nbytes,
                 where + std::to_string(t.nbytes) + " bytes given, shape x " + tensor_dtype_name(t.dtype) +
                     " needs " + std::to_string(nbytes));
    YOCO_REQUIRE(t.nbytes == 0 || t.data != nullptr, where + "no data");
    header[t.name] = {{"dtype", tensor_dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string hjson = header.dump();
  hjson.append((8 - hjson.size() % 8) % 8, ' ');

  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  YOCO_REQUIRE(f != nullptr, "cannot create " + tmp + ": " + std::strerror(errno));
  bool ok = true;
  auto put = [&](const void* p, size_t n) {
    if (ok && n > 0 && std::fwrite(p, 1, n, f) != n) ok = false;
  };
  uint8_t len[8];
  const uint64_t hlen = hjson.size();
  std::memcpy(len, &hlen, 8);
  put(len, 8);
  put(hjson.data(), hjson.size());
  for (const TensorToWrite& t : tensors) put(t.data, t.nbytes);
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    std::remove(tmp.c_str());
    throw Error("cannot write " + path + ": " + std::strerror(e));
  }
}

}  // namespace yoco::llm
