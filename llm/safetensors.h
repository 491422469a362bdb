// safetensors files: a memory-mapped, fully validated reader and a deterministic writer.
//
// Format: an 8-byte little-endian header length N, N bytes of JSON
//   {"__metadata__": {str: str}, "<name>": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]},
//   ...}
// then the raw little-endian tensor bytes; data_offsets are relative to the end of the header.
//
// The reader validates everything at construction (header size, JSON, dtypes, shapes, byte ranges against
// shape × dtype size, ranges inside the data region, no overlaps, no gaps or trailing bytes — as the official
// library and tools/reference/safetensors_io.py do) and throws yoco::Error naming the file and the tensor.
// A SafeTensors is const after construction: any number of threads may read it concurrently. TensorInfo::data
// points into the mapping and stays valid for the object's lifetime (moving the object keeps it valid).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace yoco::llm {

// The element types a safetensors file may hold that this engine reads.
enum class TensorDType : uint8_t { F32, F16, BF16, F64, I32, I64, U8, I8 };
// "F32", "F16", ... (the safetensors spelling).
const char* tensor_dtype_name(TensorDType t);
size_t tensor_dtype_size(TensorDType t);
// Parses the safetensors spelling; false for names this engine does not support (BOOL, F8_*, U16, ...).
bool parse_tensor_dtype(std::string_view name, TensorDType* out);

struct TensorInfo {
  std::string name;
  TensorDType dtype = TensorDType::F32;
  std::vector<int64_t> shape;     // row-major; empty for a scalar
  const uint8_t* data = nullptr;  // into the mapping; no alignment beyond 1 byte is promised
  size_t nbytes = 0;
  int64_t numel() const;  // product of shape (1 for a scalar)
};

class SafeTensors {
 public:
  // Maps `path` read-only and validates it. Throws yoco::Error naming the file (and tensor) on any problem.
  explicit SafeTensors(const std::string& path);
  ~SafeTensors();
  SafeTensors(SafeTensors&& other) noexcept;
  SafeTensors& operator=(SafeTensors&& other) noexcept;
  SafeTensors(const SafeTensors&) = delete;
  SafeTensors& operator=(const SafeTensors&) = delete;

  const std::string& path() const { return path_; }
  // nullptr when the file holds no tensor of that name.
  const TensorInfo* find(std::string_view name) const;
  // Throws yoco::Error "missing tensor 'x' in FILE".
  const TensorInfo& get(std::string_view name) const;
  // Every tensor, in the order of the file's header.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  size_t size() const { return tensors_.size(); }
  // The `__metadata__` map (empty when the file has none).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  void unmap() noexcept;

  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
};

// ---- conversions (all throw yoco::Error naming the tensor when the dtype does not fit)
// --------------------- Any dtype to f32 (integers are converted by value; F64 is rounded).
std::vector<float> to_f32(const TensorInfo& t);
// Zero-copy view: the mapped data when the tensor is F32 and 4-byte aligned, nullptr otherwise.
const float* f32_data(const TensorInfo& t);
// True when no element is NaN or ±inf (integer tensors are always finite).
bool all_finite(const TensorInfo& t);
// Integer dtypes (I32, I64, U8, I8) to int32; an I64 value outside the int32 range is an error, and so is a
// floating-point tensor.
std::vector<int32_t> to_i32(const TensorInfo& t);

// ---- writer
// ------------------------------------------------------------------------------------------------
struct TensorToWrite {
  std::string name;
  TensorDType dtype = TensorDType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;  // little-endian elements; nbytes must equal numel × dtype size
  size_t nbytes = 0;
};
// Writes the tensors in the given order after a compact JSON header (metadata first) padded with spaces to a
// multiple of 8 bytes, as the Python library does; the same input gives the same bytes. The file is written
// to PATH.tmp and renamed, so a reader never sees half a file. Put wider dtypes first if readers want
// aligned (zero-copy) F32 data. Throws yoco::Error on bad input (duplicate or reserved names, size mismatch)
// or I/O failure.
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace yoco::llm
