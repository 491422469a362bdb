// The safetensors reader and writer: round trips of every dtype, every malformed-header case, and single-byte
// corruptions of a valid file (each must load or throw yoco::Error, never crash).
#include "llm/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/error.h"

namespace yoco::llm {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    // Prefer memory-backed /dev/shm: the corruption test writes thousands of small files.
    const fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    path_ = base / ("yoco_st_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// A file from a header string and data bytes (the header length is written as given).
std::string raw_file(const std::string& header, const std::string& data, uint64_t hlen_override = 0) {
  const uint64_t n = hlen_override ? hlen_override : header.size();
  std::string out(8, '\0');
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

// Expects constructing SafeTensors on these bytes to throw yoco::Error whose message contains `needle`.
void expect_error(const std::string& bytes, const std::string& needle) {
  TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  write_bytes(path, bytes);
  try {
    SafeTensors st(path);
    ADD_FAILURE() << "no error for a file expected to fail with '" << needle << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(needle), std::string::npos) << "message: " << msg;
    EXPECT_NE(msg.find(path), std::string::npos) << "message does not name the file: " << msg;
  }
}

template <typename T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

TEST(SafeTensors, RoundTripsEveryDtypeShapeAndMetadata) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uni(-100.f, 100.f);
  std::vector<float> f32(3 * 5);
  for (auto& x : f32) x = uni(rng);
  std::vector<double> f64 = {1.0, -2.5, 1e300, std::numeric_limits<double>::denorm_min()};
  std::vector<uint16_t> f16 = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000};   // 1, -2, 65504, min subnormal, -0
  std::vector<uint16_t> bf16 = {0x3f80, 0xc040, 0x7f7f, 0x0000, 0x4049};  // 1, -3, max, 0, 3.140625
  std::vector<int32_t> i32 = {0, -1, std::numeric_limits<int32_t>::max(),
                              std::numeric_limits<int32_t>::min()};
  std::vector<int64_t> i64 = {5, -7, 1ll << 40};
  std::vector<uint8_t> u8 = {0, 1, 255};
  std::vector<int8_t> i8 = {-128, 0, 127};
  std::vector<uint8_t> b_f32 = bytes_of(f32), b_f64 = bytes_of(f64), b_f16 = bytes_of(f16),
                       b_bf16 = bytes_of(bf16), b_i32 = bytes_of(i32), b_i64 = bytes_of(i64),
                       b_u8 = bytes_of(u8), b_i8 = bytes_of(i8);
  const std::vector<TensorToWrite> in = {
      {"w.f64", TensorDType::F64, {4}, b_f64.data(), b_f64.size()},
      {"w.f32", TensorDType::F32, {3, 5}, b_f32.data(), b_f32.size()},
      {"w.i64", TensorDType::I64, {3}, b_i64.data(), b_i64.size()},
      {"w.i32", TensorDType::I32, {2, 2}, b_i32.data(), b_i32.size()},
      {"w.f16", TensorDType::F16, {5}, b_f16.data(), b_f16.size()},
      {"w.bf16", TensorDType::BF16, {5, 1}, b_bf16.data(), b_bf16.size()},
      {"w.u8", TensorDType::U8, {3}, b_u8.data(), b_u8.size()},
      {"w.i8", TensorDType::I8, {1, 3}, b_i8.data(), b_i8.size()},
      {"empty", TensorDType::F32, {0, 4}, nullptr, 0},
      {"scalar", TensorDType::F32, {}, b_f32.data(), 4},
  };
  TempDir dir;
  const std::string path = dir.file("all.safetensors");
  write_safetensors(path, in, {{"seed", "7"}, {"note", "ünïcode"}});

  // Header: 8-byte aligned, padded with spaces, metadata first.
  const std::string raw = read_bytes(path);
  uint64_t hlen = 0;
  std::memcpy(&hlen, raw.data(), 8);
  EXPECT_EQ(hlen % 8, 0u);
  EXPECT_EQ(raw.compare(8, 15, "{\"__metadata__\""), 0);
  EXPECT_FALSE(fs::exists(path + ".tmp"));

  SafeTensors st(path);
  EXPECT_EQ(st.path(), path);
  ASSERT_EQ(st.size(), in.size());
  EXPECT_EQ(st.metadata().at("seed"), "7");
  EXPECT_EQ(st.metadata().at("note"), "ünïcode");
  for (size_t i = 0; i < in.size(); ++i) {  // file order is the writer's order
    const TensorInfo& t = st.tensors()[i];
    EXPECT_EQ(t.name, in[i].name);
    EXPECT_EQ(t.dtype, in[i].dtype);
    EXPECT_EQ(t.shape, in[i].shape);
    ASSERT_EQ(t.nbytes, in[i].nbytes);
    if (t.nbytes) {
      EXPECT_EQ(std::memcmp(t.data, in[i].data, t.nbytes), 0) << t.name;
    }
    EXPECT_EQ(st.find(t.name), &t);
  }
  EXPECT_EQ(st.get("scalar").numel(), 1);
  EXPECT_EQ(st.get("empty").numel(), 0);
  EXPECT_TRUE(to_f32(st.get("empty")).empty());

  // Conversions.
  EXPECT_EQ(to_f32(st.get("w.f32")), f32);
  EXPECT_EQ(to_f32(st.get("w.f64")), (std::vector<float>{1.f, -2.5f, INFINITY, 0.f}));
  const std::vector<float> h = to_f32(st.get("w.f16"));
  EXPECT_EQ(h[0], 1.f);
  EXPECT_EQ(h[1], -2.f);
  EXPECT_EQ(h[2], 65504.f);
  EXPECT_EQ(h[3], std::ldexp(1.f, -24));
  EXPECT_TRUE(h[4] == 0.f && std::signbit(h[4]));
  EXPECT_EQ(to_f32(st.get("w.bf16")),
            (std::vector<float>{1.f, -3.f, std::bit_cast<float>(0x7f7f0000u), 0.f, 3.140625f}));
  EXPECT_EQ(to_f32(st.get("w.i8")), (std::vector<float>{-128.f, 0.f, 127.f}));
  EXPECT_EQ(to_f32(st.get("w.u8")), (std::vector<float>{0.f, 1.f, 255.f}));
  EXPECT_EQ(to_i32(st.get("w.i32")), i32);
  EXPECT_THROW(to_i32(st.get("w.i64")), Error);  // 2^40 does not fit
  EXPECT_EQ(to_i32(st.get("w.u8")), (std::vector<int32_t>{0, 1, 255}));
  EXPECT_EQ(to_i32(st.get("w.i8")), (std::vector<int32_t>{-128, 0, 127}));
  EXPECT_THROW(to_i32(st.get("w.f32")), Error);
  EXPECT_TRUE(all_finite(st.get("w.f32")));
  EXPECT_TRUE(all_finite(st.get("w.f16")));
  EXPECT_TRUE(all_finite(st.get("w.i64")));

  // Lookups.
  EXPECT_EQ(st.find("nope"), nullptr);
  try {
    st.get("nope");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing tensor 'nope' in " + path), std::string::npos) << e.what();
  }

  // Moving keeps the mapping and the data pointers.
  const uint8_t* p = st.get("w.f32").data;
  SafeTensors moved(std::move(st));
  EXPECT_EQ(moved.get("w.f32").data, p);
  EXPECT_EQ(to_f32(moved.get("w.f32")), f32);
  SafeTensors other(path);
  other = std::move(moved);
  EXPECT_EQ(other.get("w.f32").data, p);
}

TEST(SafeTensors, WriterIsDeterministic) {
  std::vector<float> v = {1, 2, 3};
  TempDir dir;
  const std::vector<TensorToWrite> t = {{"a", TensorDType::F32, {3}, v.data(), 12}};
  write_safetensors(dir.file("x"), t, {{"k", "v"}});
  write_safetensors(dir.file("y"), t, {{"k", "v"}});
  EXPECT_EQ(read_bytes(dir.file("x")), read_bytes(dir.file("y")));
}

TEST(SafeTensors, WriterRejectsBadInput) {
  std::vector<float> v = {1, 2, 3};
  TempDir dir;
  const std::string p = dir.file("w");
  EXPECT_THROW(write_safetensors(p, {{"a", TensorDType::F32, {4}, v.data(), 12}}), Error);  // size mismatch
  EXPECT_THROW(write_safetensors(p, {{"a", TensorDType::F32, {-3}, v.data(), 12}}), Error);
  EXPECT_THROW(write_safetensors(p, {{"a", TensorDType::F32, {3}, v.data(), 12},
                                     {"a", TensorDType::F32, {3}, v.data(), 12}}),
               Error);
  EXPECT_THROW(write_safetensors(p, {{"__metadata__", TensorDType::F32, {3}, v.data(), 12}}), Error);
  EXPECT_THROW(write_safetensors(dir.file("no/such/dir/w"), {}), Error);
  EXPECT_FALSE(fs::exists(p));
}

TEST(SafeTensors, ZeroCopyF32PointerWhenAligned) {
  std::vector<float> v = {1.5f, -2.f, 3.25f, 4.f};
  std::vector<uint16_t> h = {0x3c00};
  TempDir dir;
  const std::string aligned = dir.file("aligned"), misaligned = dir.file("misaligned");
  write_safetensors(aligned,
                    {{"v", TensorDType::F32, {4}, v.data(), 16}, {"h", TensorDType::F16, {1}, h.data(), 2}});
  // A 2-byte tensor first shifts the F32 data off 4-byte alignment.
  write_safetensors(misaligned,
                    {{"h", TensorDType::F16, {1}, h.data(), 2}, {"v", TensorDType::F32, {4}, v.data(), 16}});
  SafeTensors a(aligned), m(misaligned);
  const float* p = f32_data(a.get("v"));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(static_cast<const void*>(p), static_cast<const void*>(a.get("v").data));  // the mapping itself
  EXPECT_EQ(std::vector<float>(p, p + 4), v);
  EXPECT_EQ(f32_data(m.get("v")), nullptr);
  EXPECT_EQ(to_f32(m.get("v")), v);  // the copy path still works
  EXPECT_EQ(f32_data(a.get("h")), nullptr);
}

TEST(SafeTensors, AllFiniteFindsNanAndInf) {
  TempDir dir;
  std::vector<float> f = {1.f, NAN};
  std::vector<float> g = {-INFINITY};
  std::vector<uint16_t> h = {0x3c00, 0x7c00};  // 1, +inf
  std::vector<uint16_t> b = {0x7fc0};          // NaN
  std::vector<double> d = {0.0, NAN};
  write_safetensors(dir.file("f"), {{"f", TensorDType::F32, {2}, f.data(), 8},
                                    {"g", TensorDType::F32, {1}, g.data(), 4},
                                    {"d", TensorDType::F64, {2}, d.data(), 16},
                                    {"h", TensorDType::F16, {2}, h.data(), 4},
                                    {"b", TensorDType::BF16, {1}, b.data(), 2}});
  SafeTensors st(dir.file("f"));
  for (const char* n : {"f", "g", "h", "b", "d"}) EXPECT_FALSE(all_finite(st.get(n))) << n;
}

const std::string kData8(8, '\0');

TEST(SafeTensors, RejectsMalformedFiles) {
  // Too short, absurd header length.
  expect_error("", "too short");
  expect_error("1234567", "too short");
  expect_error(raw_file("{}", "", 1000), "header length");
  expect_error(raw_file("{}", "", 200ull * 1024 * 1024), "header length");
  expect_error(raw_file("{}", "", ~0ull), "header length");
  // Not JSON / not an object.
  expect_error(raw_file("{\"a\": ", ""), "not valid JSON");
  expect_error(raw_file("[1, 2]  ", ""), "not a JSON object");
  expect_error(raw_file("\"str\"   ", ""), "not a JSON object");
  expect_error(raw_file("{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]}", ""), "deep");
  // Entries.
  expect_error(raw_file(R"({"t": 5})", ""), "'t'");
  expect_error(raw_file(R"({"t": {"shape": [2], "data_offsets": [0, 8]}})", kData8), "missing 'dtype'");
  expect_error(raw_file(R"({"t": {"dtype": "F32", "data_offsets": [0, 8]}})", kData8), "missing 'shape'");
  expect_error(raw_file(R"({"t": {"dtype": "F32", "shape": [2]}})", kData8), "missing 'data_offsets'");
  expect_error(raw_file(R"({"t": {"dtype": "F8_E4M3", "shape": [8], "data_offsets": [0, 8]}})", kData8),
               "unsupported dtype 'F8_E4M3'");
  expect_error(raw_file(R"({"t": {"dtype": "BOOL", "shape": [8], "data_offsets": [0, 8]}})", kData8), "BOOL");
  expect_error(raw_file(R"({"t": {"dtype": 3, "shape": [2], "data_offsets": [0, 8]}})", kData8), "dtype");
  expect_error(raw_file(R"({"t": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", kData8),
               "shape");
  expect_error(raw_file(R"({"t": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}})", kData8),
               "shape");
  expect_error(raw_file(R"({"t": {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}})", kData8), "shape");
  expect_error(
      raw_file(R"({"t": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}})",
               kData8),
      "overflows");
  expect_error(
      raw_file(R"({"t": {"dtype": "F64", "shape": [4611686018427387904], "data_offsets": [0, 8]}})", kData8),
      "overflows");
  expect_error(raw_file(R"({"t": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", kData8),
               "needs 12");
  expect_error(raw_file(R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 16]}})", kData8),
               "outside the data region");
  expect_error(raw_file(R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", kData8),
               "outside the data region");
  expect_error(raw_file(R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0]}})", kData8),
               "data_offsets");
  expect_error(raw_file(R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, -8]}})", kData8),
               "data_offsets");
  // Overlap, gap, trailing bytes.
  expect_error(raw_file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                        R"( "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                        kData8),
               "overlap");
  expect_error(raw_file(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", kData8), "gap");
  expect_error(raw_file(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", kData8),
               "trailing");
  // Metadata.
  expect_error(raw_file(R"({"__metadata__": {"k": 1}})", ""), "__metadata__");
  expect_error(raw_file(R"({"__metadata__": ["k"]})", ""), "__metadata__");
  // The message names the tensor.
  expect_error(raw_file(R"({"layers.0.w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", kData8),
               "tensor 'layers.0.w'");
}

TEST(SafeTensors, AcceptsEdgeCaseValidFiles) {
  TempDir dir;
  // No tensors, no metadata; and a header with trailing spaces and metadata only.
  write_bytes(dir.file("a"), raw_file("{}", ""));
  write_bytes(dir.file("b"), raw_file(R"({"__metadata__": {"x": "y"}}    )", ""));
  EXPECT_EQ(SafeTensors(dir.file("a")).size(), 0u);
  EXPECT_EQ(SafeTensors(dir.file("b")).metadata().at("x"), "y");
  EXPECT_THROW(SafeTensors(dir.file("does-not-exist")), Error);
  EXPECT_THROW(SafeTensors(dir.file("")), Error);  // a directory
}

TEST(SafeTensors, SingleByteCorruptionsLoadOrThrow) {
  std::vector<float> a = {1, 2, 3, 4, 5, 6};
  std::vector<uint16_t> b = {1, 2, 3};
  std::vector<int64_t> c = {9};
  TempDir dir;
  const std::string good = dir.file("good");
  write_safetensors(good,
                    {{"a", TensorDType::F32, {2, 3}, a.data(), 24},
                     {"b", TensorDType::BF16, {3}, b.data(), 6},
                     {"c", TensorDType::I64, {1}, c.data(), 8}},
                    {{"m", "v"}});
  const std::string bytes = read_bytes(good);
  const std::string path = dir.file("corrupt");
  std::mt19937 rng(1234);
  int loaded = 0, rejected = 0;
  auto attempt = [&](const std::string& corrupt) {
    write_bytes(path, corrupt);
    try {
      SafeTensors st(path);
      // Whatever loaded must be readable in full.
      for (const TensorInfo& t : st.tensors()) {
        (void)to_f32(t);
        (void)all_finite(t);
      }
      ++loaded;
    } catch (const Error&) {
      ++rejected;
    }
  };
  // Every position: a random bit flip, a random byte, and the byte values JSON cares about.
  const char specials[] = {'"', '{', '}', '[', ']', ',', ':', '-', '0', '9', ' ', '\0', '\xff'};
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string x = bytes;
    x[i] = static_cast<char>(x[i] ^ (1 << (rng() % 8)));
    attempt(x);
    x[i] = static_cast<char>(rng() % 256);
    attempt(x);
    if (i >= 8 && i < 8 + 120) {
      for (char s : specials) {
        x[i] = s;
        attempt(x);
      }
    }
  }
  // Truncations at every length.
  for (size_t n = 0; n < bytes.size(); ++n) attempt(bytes.substr(0, n));
  EXPECT_GT(rejected, 0);
  EXPECT_GT(loaded, 0);  // flips inside tensor data leave a valid file
}

}  // namespace
}  // namespace yoco::llm
