// The GGUF reader's bad-input catalogue: every corrupt count, length, nesting depth, dimension,
// type, offset and alignment is refused at open() with the file and the problem named (the
// fields behind llama.cpp's GGUF heap-overflow CVEs), and no truncation or flipped byte crashes.
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>

#include "convert/gguf_file.h"
#include "smoe/error.h"
#include "support/gguf_builder.h"
#include "support/temp_dir.h"

using namespace smoe;
using convert::GgufFile;
using convert::GgufValueType;
using test::GgufBuilder;
using Bytes = std::vector<char>;

namespace {

constexpr uint32_t kF32 = 0, kQ8_0 = 8, kQ4_K = 12;

// A small valid file shaped like a Mixtral GGUF: string, integer and array metadata and three
// tensors of block types with different geometry.
GgufBuilder valid_builder() {
  GgufBuilder gguf;
  gguf.add_string("general.architecture", "llama")
      .add_u32("llama.block_count", 1)
      .add_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "hello"})
      .add_f32_array("tokenizer.ggml.scores", {0.0f, -1.0f, -2.0f, -3.5f});
  gguf.add_tensor("token_embd.weight", {64, 4}, kQ8_0);
  gguf.add_tensor("output_norm.weight", {64}, kF32);
  gguf.add_tensor("blk.0.ffn_down_exps.weight", {256, 2, 2}, kQ4_K);
  return gguf;
}

template <class T>
void write_at(Bytes& bytes, uint64_t offset, T value) {
  std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

Bytes build(const std::function<void(GgufBuilder&)>& edit) {
  GgufBuilder gguf = valid_builder();
  edit(gguf);
  return gguf.byte_vector();
}

Bytes patch(const std::function<void(Bytes&, const GgufBuilder::Layout&)>& edit) {
  GgufBuilder::Layout layout;
  Bytes bytes = valid_builder().byte_vector(&layout);
  edit(bytes, layout);
  return bytes;
}

// Byte offsets inside tensor info i: name length, then the fields after the name.
uint64_t info_field(const GgufBuilder::Layout& layout, const Bytes& bytes, size_t i) {
  uint64_t name_length = 0;
  std::memcpy(&name_length, bytes.data() + layout.tensor_info_offsets[i], 8);
  return layout.tensor_info_offsets[i] + 8 + name_length;  // n_dims
}

std::string nested_arrays(int depth) {
  std::string payload;
  for (int i = 1; i < depth; ++i) payload += GgufBuilder::array_header(uint32_t(GgufValueType::array), 1);
  return payload + GgufBuilder::array_header(uint32_t(GgufValueType::u8), 0);
}

constexpr uint32_t kArray = uint32_t(GgufValueType::array);
constexpr uint32_t kString = uint32_t(GgufValueType::string);

struct BadGguf {
  const char* name;
  std::function<Bytes()> make;
  const char* expected;
};

std::vector<BadGguf> catalogue() {
  using L = const GgufBuilder::Layout&;
  const auto tensor = [](size_t i, const std::function<void(GgufBuilder::Tensor&)>& edit) {
    return [=] { return build([&](GgufBuilder& g) { edit(g.tensors()[i]); }); };
  };
  const auto raw = [](uint32_t type, std::string payload) {
    return [=] { return build([&](GgufBuilder& g) { g.add_raw("bad.key", type, payload); }); };
  };
  return {
      {"empty file", [] { return Bytes{}; }, "truncated"},
      {"three bytes", [] { return patch([](Bytes& b, L) { b.resize(3); }); }, "truncated"},
      {"bad magic", [] { return patch([](Bytes& b, L) { b[0] = 'X'; }); }, "not a GGUF file (bad magic)"},
      {"big-endian file", [] { return patch([](Bytes& b, L) { write_at<uint32_t>(b, 4, 0x03000000); }); },
       "big-endian GGUF is not supported"},
      {"version 1", [] { return patch([](Bytes& b, L) { write_at<uint32_t>(b, 4, 1); }); }, "GGUF version 1 is not supported"},
      {"version 4", [] { return patch([](Bytes& b, L) { write_at<uint32_t>(b, 4, 4); }); }, "GGUF version 4 is not supported"},
      {"absurd tensor count", [] { return patch([](Bytes& b, L) { write_at<uint64_t>(b, 8, 1ull << 60); }); },
       "tensor count 1152921504606846976 exceeds the limit"},
      {"tensor count beyond the file", [] { return patch([](Bytes& b, L) { write_at<uint64_t>(b, 8, 100000); }); },
       "tensor count 100000 exceeds what the remaining"},
      {"absurd key count", [] { return patch([](Bytes& b, L) { write_at<uint64_t>(b, 16, ~0ull); }); },
       "metadata key count 18446744073709551615 exceeds the limit"},
      {"key count beyond the file", [] { return patch([](Bytes& b, L) { write_at<uint64_t>(b, 16, 60000); }); },
       "metadata key count 60000 exceeds what the remaining"},
      {"absurd key length", [] { return patch([](Bytes& b, L l) { write_at<uint64_t>(b, l.key_offsets[1], 1ull << 62); }); },
       "metadata key 1 length 4611686018427387904 exceeds the limit"},
      {"key length past the end", [] { return patch([](Bytes& b, L l) { write_at<uint64_t>(b, l.key_offsets[1], 60000); }); },
       "string length 60000 runs past the end of the file"},
      {"string value length past the end", raw(kString, GgufBuilder::encode(uint64_t(1) << 62)),
       "key 'bad.key': string length 4611686018427387904 runs past the end of the file"},
      {"u32 array count of 2^60", raw(kArray, GgufBuilder::array_header(uint32_t(GgufValueType::u32), 1ull << 60)),
       "array of 1152921504606846976 u32 elements runs past the end of the file"},
      {"u64 array count whose byte size overflows",
       raw(kArray, GgufBuilder::array_header(uint32_t(GgufValueType::u64), 1ull << 62)), "runs past the end of the file"},
      {"string array count of 2^60", raw(kArray, GgufBuilder::array_header(kString, 1ull << 60)),
       "array of 1152921504606846976 string elements runs past the end"},
      {"string array element past the end",
       raw(kArray, GgufBuilder::array_header(kString, 2) + GgufBuilder::encode_string("a") +
                       GgufBuilder::encode(uint64_t(1) << 40)),
       "string length 1099511627776 runs past the end"},
      {"nested array count of 2^60", raw(kArray, GgufBuilder::array_header(kArray, 1ull << 60)), "runs past the end"},
      {"arrays nested too deep", raw(kArray, nested_arrays(5)), "key 'bad.key' has arrays nested deeper than 4"},
      {"unknown value type", raw(13, ""), "key 'bad.key' has unknown value type 13"},
      {"unknown array element type", raw(kArray, GgufBuilder::array_header(99, 1)), "unknown value type 99"},
      {"boolean that is not 0 or 1", raw(uint32_t(GgufValueType::boolean), "\x02"), "boolean value 2"},
      {"boolean array element that is not 0 or 1",
       raw(kArray, GgufBuilder::array_header(uint32_t(GgufValueType::boolean), 2) + "\x01\xff"), "boolean value 255"},
      {"duplicate key", [] { return build([](GgufBuilder& g) { g.add_u32("llama.block_count", 2); }); },
       "duplicate key 'llama.block_count'"},
      {"alignment that is not a power of two",
       [] { return build([](GgufBuilder& g) { g.add_u32("general.alignment", 48); }); },
       "general.alignment 48 is not a power of two"},
      {"zero alignment", [] { return build([](GgufBuilder& g) { g.add_u32("general.alignment", 0); }); },
       "general.alignment 0 is not a power of two"},
      {"alignment of the wrong type", [] { return build([](GgufBuilder& g) { g.add_u64("general.alignment", 32); }); },
       "general.alignment has type u64 (expected u32)"},
      {"tensor with five dimensions", tensor(1, [](auto& t) { t.dims = {64, 1, 1, 1, 1}; }),
       "tensor 'output_norm.weight' has 5 dimensions (at most 4)"},
      {"tensor with no dimensions", tensor(1, [](auto& t) { t.dims = {}; }), "tensor 'output_norm.weight' has no dimensions"},
      {"absurd dimension count",
       [] { return patch([](Bytes& b, L l) { write_at<uint32_t>(b, info_field(l, b, 0), 0xffffffffu); }); },
       "has 4294967295 dimensions (at most 4)"},
      {"zero dimension", tensor(0, [](auto& t) { t.dims = {64, 0}; }), "tensor 'token_embd.weight' has a zero dimension"},
      {"element count overflowing 64 bits", tensor(0, [](auto& t) { t.dims = {1ull << 32, 1ull << 32}; }),
       "tensor 'token_embd.weight' element count overflows"},
      {"element count past int64", tensor(1, [](auto& t) { t.dims = {1ull << 62, 2}; }), "element count overflows"},
      {"byte size overflowing 64 bits", tensor(1, [](auto& t) { t.dims = {1ull << 62}; }), "byte size overflows"},
      {"row that is not whole blocks", tensor(2, [](auto& t) { t.dims = {100, 2, 2}; }),
       "tensor 'blk.0.ffn_down_exps.weight' row length 100 is not a multiple of the Q4_K block (256)"},
      {"unknown ggml type", tensor(1, [](auto& t) { t.type = 99; }), "tensor 'output_norm.weight' has unknown ggml type 99"},
      {"removed ggml type (Q4_2)", tensor(1, [](auto& t) { t.type = 4; }), "has unknown ggml type 4"},
      {"misaligned tensor", tensor(1, [](auto& t) { t.offset = 8 + 288; }),
       "tensor 'output_norm.weight' offset is not aligned to 32"},
      {"tensor data past the end", tensor(2, [](auto& t) { t.offset = 1ull << 20; }),
       "tensor 'blk.0.ffn_down_exps.weight' data ["},
      {"tensor offset overflowing 64 bits", tensor(2, [](auto& t) { t.offset = ~0ull - 31; }),
       "runs past the end of the file"},
      {"tensor end overflowing 64 bits",
       tensor(2,
              [](auto& t) {
                t.dims = {256, 1ull << 20, 1ull << 20};
                t.offset = (std::numeric_limits<uint64_t>::max() - 1024) / 32 * 32;
              }),
       "runs past the end of the file"},
      {"overlapping tensors", tensor(1, [](auto& t) { t.offset = 256; }),
       "tensors 'token_embd.weight' and 'output_norm.weight' overlap"},
      {"duplicate tensor", tensor(2, [](auto& t) { t.name = "token_embd.weight"; }), "duplicate tensor 'token_embd.weight'"},
      {"absurd tensor name length",
       [] { return patch([](Bytes& b, L l) { write_at<uint64_t>(b, l.tensor_info_offsets[1], ~0ull); }); },
       "tensor name 1 length 18446744073709551615 exceeds the limit"},
      {"tensor name past the end",
       [] { return patch([](Bytes& b, L l) { write_at<uint64_t>(b, l.tensor_info_offsets[2], 60000); }); },
       "string length 60000 runs past the end of the file"},
      {"truncated in the metadata", [] { return patch([](Bytes& b, L l) { b.resize(l.key_offsets[2] + 4); }); },
       "truncated"},
      {"truncated in the tensor infos",
       [] { return patch([](Bytes& b, L l) { b.resize(l.tensor_info_offsets[1] + 3); }); }, "truncated"},
      {"truncated in the data", [] { return patch([](Bytes& b, L) { b.pop_back(); }); }, "runs past the end of the file"},
  };
}

std::string open_error(const std::string& path) {
  try {
    GgufFile::open(path);
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a valid GGUF file parses with every accessor returning what was written", "[bad_input][gguf]") {
  const uint32_t version = GENERATE(2u, 3u);
  GgufBuilder gguf(version);
  gguf.set_alignment(64)
      .add_u8("v.u8", 200)
      .add_i8("v.i8", -5)
      .add_u16("v.u16", 60000)
      .add_i16("v.i16", 300)
      .add_u32("v.u32", 4000000000u)
      .add_i32("v.i32", -7)
      .add_u64("v.u64", 1ull << 40)
      .add_i64("v.i64", 1ll << 50)
      .add_f32("v.f32", 1.5f)
      .add_f64("v.f64", 1e-5)
      .add_bool("v.bool", true)
      .add_string("v.string", "hello, world")
      .add_string("v.empty_string", "")
      .add_string_array("v.strings", {"a", "", "ccc"})
      .add_f32_array("v.floats", {0.5f, -2.0f})
      .add_raw("v.doubles", kArray, GgufBuilder::array_header(uint32_t(GgufValueType::f64), 2) +
                                         GgufBuilder::encode(0.25) + GgufBuilder::encode(-4.0))
      .add_i32_array("v.ints", {1, -2, 3})
      .add_u64_array("v.u64s", {7, 1ull << 40})
      .add_u64_array("v.huge_u64s", {1ull << 63})
      .add_f32_array("v.empty_array", {})
      .add_raw("v.nested", kArray, nested_arrays(4))
      .add_raw("v.bools", kArray,
               GgufBuilder::array_header(uint32_t(GgufValueType::boolean), 2) + std::string("\x01\x00", 2));
  gguf.add_tensor("a", {64, 3}, kQ8_0);
  gguf.add_tensor("b", {5}, kF32);
  gguf.add_tensor("c", {512, 1, 2, 1}, kQ4_K);
  test::TempDir dir;
  const std::string path = dir.file("valid.gguf");
  gguf.write(path);

  const GgufFile file = GgufFile::open(path);
  CHECK(file.path() == path);
  CHECK(file.version() == version);
  CHECK(file.alignment() == 64);
  CHECK(file.data_offset() % 64 == 0);
  CHECK(file.has("v.u8"));
  CHECK_FALSE(file.has("v.absent"));
  CHECK(file.keys().size() == 23);
  CHECK(file.type_of("v.floats") == GgufValueType::array);
  CHECK(file.element_type_of("v.floats") == GgufValueType::f32);

  CHECK(file.get_uint("v.u8") == 200u);
  CHECK(file.get_uint("v.u16") == 60000u);
  CHECK(file.get_uint("v.i16") == 300u);
  CHECK(file.get_uint("v.u32") == 4000000000u);
  CHECK(file.get_uint("v.u64") == (1ull << 40));
  CHECK(file.get_uint("v.i64") == (1ull << 50));
  CHECK(file.get_uint("general.alignment") == 64u);
  CHECK_FALSE(file.get_uint("v.absent"));
  CHECK(file.get_float("v.f32") == 1.5);
  CHECK(file.get_float("v.f64") == 1e-5);
  CHECK(file.get_float("v.i32") == -7.0);
  CHECK(file.get_bool("v.bool") == true);
  CHECK(file.get_string("v.string") == "hello, world");
  CHECK(file.get_string("v.empty_string") == "");
  CHECK(file.get_string_array("v.strings") == std::vector<std::string>{"a", "", "ccc"});
  CHECK(file.get_float_array("v.floats") == std::vector<float>{0.5f, -2.0f});
  CHECK(file.get_float_array("v.doubles") == std::vector<float>{0.25f, -4.0f});
  CHECK(file.get_float_array("v.empty_array") == std::vector<float>{});
  CHECK(file.get_int_array("v.ints") == std::vector<int64_t>{1, -2, 3});
  CHECK(file.get_int_array("v.u64s") == std::vector<int64_t>{7, 1ll << 40});
  CHECK_FALSE(file.get_string_array("v.absent"));
  CHECK_FALSE(file.get_float_array("v.absent"));
  CHECK_FALSE(file.get_int_array("v.absent"));

  // A key of the wrong type is an error naming the file and the key, never a silent default.
  const auto wrong_type = [&](const std::function<void()>& get, const std::string& expected) {
    CHECK_THROWS_WITH(get(), Catch::Contains(path) && Catch::Contains(expected));
  };
  wrong_type([&] { file.get_uint("v.i8"); }, "key 'v.i8' is negative (-5)");
  wrong_type([&] { file.get_uint("v.i32"); }, "key 'v.i32' is negative");
  wrong_type([&] { file.get_uint("v.string"); }, "key 'v.string' has type string (expected an unsigned integer)");
  wrong_type([&] { file.get_uint("v.f32"); }, "key 'v.f32' has type f32");
  wrong_type([&] { file.get_uint("v.bool"); }, "key 'v.bool' has type bool");
  wrong_type([&] { file.get_float("v.strings"); }, "key 'v.strings' has type array of string (expected a number)");
  wrong_type([&] { file.get_bool("v.u8"); }, "key 'v.u8' has type u8 (expected bool)");
  wrong_type([&] { file.get_string("v.u32"); }, "key 'v.u32' has type u32 (expected string)");
  wrong_type([&] { file.get_string("v.strings"); }, "has type array of string (expected string)");
  wrong_type([&] { file.get_string_array("v.string"); },
             "key 'v.string' has type string (expected an array of strings)");
  wrong_type([&] { file.get_string_array("v.floats"); }, "has type array of f32 (expected an array of strings)");
  wrong_type([&] { file.get_float_array("v.ints"); }, "has type array of i32 (expected an array of f32 or f64)");
  wrong_type([&] { file.get_int_array("v.floats"); }, "has type array of f32 (expected an array of integers)");
  wrong_type([&] { file.get_int_array("v.nested"); }, "has type array of array");
  wrong_type([&] { file.get_int_array("v.bools"); }, "has type array of bool");
  wrong_type([&] { file.get_int_array("v.huge_u64s"); }, "element 0 (9223372036854775808) does not fit in int64");

  REQUIRE(file.tensors().size() == 3);
  const struct {
    const char* name;
    std::vector<uint64_t> dims;
    uint32_t type;
    uint64_t bytes;
  } expected[] = {{"a", {64, 3}, kQ8_0, 2 * 34 * 3}, {"b", {5}, kF32, 20}, {"c", {512, 1, 2, 1}, kQ4_K, 2 * 144 * 2}};
  for (size_t i = 0; i < 3; ++i) {
    const convert::GgufTensorInfo* tensor = file.find_tensor(expected[i].name);
    REQUIRE(tensor == &file.tensors()[i]);
    CHECK(tensor->dims == expected[i].dims);
    CHECK(tensor->type == expected[i].type);
    CHECK(tensor->bytes == expected[i].bytes);
    CHECK(tensor->offset % 64 == 0);
    const std::span<const std::byte> data = file.tensor_data(*tensor);
    CHECK(std::string(reinterpret_cast<const char*>(data.data()), data.size()) == gguf.tensors()[i].data);
  }
  CHECK(file.find_tensor("absent") == nullptr);
  file.release(file.tensors()[0].offset, file.tensors()[0].bytes);  // advisory; data stays readable
  CHECK(file.tensor_data(file.tensors()[0])[1] == std::byte(gguf.tensors()[0].data[1]));
}

TEST_CASE("ggml_type_info knows llama.cpp's block geometry", "[bad_input][gguf]") {
  CHECK(convert::ggml_type_info(12)->name == "Q4_K");
  CHECK(convert::ggml_type_info(12)->block_elements == 256);
  CHECK(convert::ggml_type_info(12)->block_bytes == 144);
  CHECK(convert::ggml_type_info(8)->block_bytes == 34);
  CHECK(convert::ggml_type_info(14)->block_bytes == 210);
  CHECK(convert::ggml_type_info(30)->name == "BF16");
  CHECK_FALSE(convert::ggml_type_info(4));   // Q4_2, removed from ggml
  CHECK_FALSE(convert::ggml_type_info(16));  // IQ2_XXS: not known to this build
  CHECK_FALSE(convert::ggml_type_info(~0u));
}

TEST_CASE("corrupt GGUF files are refused at open with the file and the problem named", "[bad_input][gguf]") {
  for (const BadGguf& bad : catalogue()) {
    SECTION(bad.name) {
      test::TempDir dir;
      const std::string path = dir.file("bad.gguf");
      test::write_file(path, bad.make());
      const std::string message = open_error(path);
      INFO("message: " << message);
      CHECK_THAT(message, Catch::Contains(path) && Catch::Contains(bad.expected));
    }
  }
}

TEST_CASE("a GGUF file truncated at any length is refused, never read past its end", "[bad_input][gguf]") {
  const Bytes valid = valid_builder().byte_vector();  // no padding after the last tensor
  test::TempDir dir;
  const std::string path = dir.file("truncated.gguf");
  test::write_file(path, valid);
  REQUIRE_NOTHROW(GgufFile::open(path));
  for (size_t length = 0; length < valid.size(); ++length) {
    test::write_file(path, Bytes(valid.begin(), valid.begin() + std::ptrdiff_t(length)));
    const std::string message = open_error(path);
    INFO("length " << length << ": " << message);
    REQUIRE_THAT(message, Catch::Contains(path));
  }
}

TEST_CASE("a GGUF file with any one header or metadata byte changed opens or is refused cleanly", "[bad_input][gguf]") {
  GgufBuilder::Layout layout;
  const Bytes valid = valid_builder().byte_vector(&layout);
  test::TempDir dir;
  const std::string path = dir.file("flipped.gguf");
  for (uint64_t position = 0; position < layout.data_offset; ++position) {
    for (const int change : {0x01, 0x80, 0xff}) {
      Bytes bytes = valid;
      bytes[position] = char(uint8_t(bytes[position]) ^ uint8_t(change));
      test::write_file(path, bytes);
      try {
        const GgufFile file = GgufFile::open(path);
        for (const convert::GgufTensorInfo& tensor : file.tensors()) {
          REQUIRE(tensor.offset + tensor.bytes <= file.mapping().size());
        }
      } catch (const Error& error) {
        REQUIRE_THAT(error.what(), Catch::Contains(path));
      }
    }
  }
}

TEST_CASE("the tiny model's llama.cpp GGUF files parse", "[bad_input][gguf]") {
  for (const char* name : {"mixtral-tiny-q8_0.gguf", "mixtral-tiny-f16.gguf"}) {
    const std::string path = test::tiny_model_dir() + "/" + name;
    if (!std::filesystem::exists(path)) {
      WARN(path << " is not there; skipped");
      continue;
    }
    const GgufFile file = GgufFile::open(path);
    CHECK(file.version() == 3);
    CHECK(file.get_string("general.architecture") == "llama");
    const std::optional<uint64_t> experts = file.get_uint("llama.expert_count");
    CHECK(experts.value_or(0) > 1);
    const std::optional<std::vector<std::string>> tokens = file.get_string_array("tokenizer.ggml.tokens");
    REQUIRE(tokens);
    CHECK(tokens->size() == file.get_float_array("tokenizer.ggml.scores").value_or(std::vector<float>{}).size());
    CHECK(tokens->size() == file.get_int_array("tokenizer.ggml.token_type").value_or(std::vector<int64_t>{}).size());
    CHECK(file.get_float("llama.rope.freq_base").value_or(0) > 0);
    REQUIRE(file.find_tensor("token_embd.weight") != nullptr);
    CHECK(file.find_tensor("token_embd.weight")->dims.size() == 2);
    const uint32_t block_count = uint32_t(file.get_uint("llama.block_count").value_or(0));
    CHECK(block_count > 0);
    CHECK(file.tensors().size() >= 2 + 6 * size_t(block_count));
  }
}
