// The loader's bad-input catalogue: corrupt .smoe files are refused at open() with the file
// and the problem named, in time proportional to the tensor count; `verify` finds data damage.
#include <catch2/catch.hpp>
#include <cstring>
#include <functional>

#include "convert/convert_checkpoint.h"
#include "format/container.h"
#include "smoe/error.h"
#include "support/temp_dir.h"
#include "util/hashing.h"

using namespace smoe;
using format::ExpertRangeRecord;
using format::FileHeader;
using format::TensorRecord;

namespace {

// One valid q8 container of the tiny model, shared by every case (read-only): plain q8 rows
// (not q8_x8), which the cases below edit as such.
const std::vector<char>& valid_container() {
  static test::TempDir dir;
  static const std::vector<char> bytes = [] {
    convert::ConvertOptions options;
    options.input = test::tiny_model_dir();
    options.output = dir.file("tiny-q8.smoe");
    options.recipe = convert::make_recipe("q8");
    options.hash_sources = false;
    options.interleave = false;
    convert::convert_checkpoint(options);
    return test::read_file(options.output);
  }();
  return bytes;
}

template <class T>
T read_at(const std::vector<char>& bytes, uint64_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

template <class T>
void write_at(std::vector<char>& bytes, uint64_t offset, const T& value) {
  std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

FileHeader header_of(const std::vector<char>& bytes) { return read_at<FileHeader>(bytes, 0); }

// Recomputes the index checksum so a corruption reaches the deeper checks behind it.
void rehash_index(std::vector<char>& bytes) {
  FileHeader header = header_of(bytes);
  header.index_checksum = xxh3_64(bytes.data() + header.metadata_offset, header.data_offset - header.metadata_offset);
  write_at(bytes, 0, header);
}

void edit_tensor(std::vector<char>& bytes, uint64_t index, const std::function<void(TensorRecord&)>& edit) {
  const uint64_t offset = header_of(bytes).tensor_table_offset + index * sizeof(TensorRecord);
  auto record = read_at<TensorRecord>(bytes, offset);
  edit(record);
  write_at(bytes, offset, record);
  rehash_index(bytes);
}

void edit_expert(std::vector<char>& bytes, uint64_t index, const std::function<void(ExpertRangeRecord&)>& edit) {
  const uint64_t offset = header_of(bytes).expert_table_offset + index * sizeof(ExpertRangeRecord);
  auto record = read_at<ExpertRangeRecord>(bytes, offset);
  edit(record);
  write_at(bytes, offset, record);
  rehash_index(bytes);
}

// Rewrites the metadata JSON in place (padded with spaces to the same length).
void edit_metadata(std::vector<char>& bytes, const std::function<void(nlohmann::json&)>& edit) {
  const FileHeader header = header_of(bytes);
  const char* begin = bytes.data() + header.metadata_offset;
  nlohmann::json metadata = nlohmann::json::parse(begin, begin + header.metadata_bytes);
  metadata["chat_template"] = "";  // frees room for longer values
  edit(metadata);
  std::string text = metadata.dump();
  REQUIRE(text.size() <= header.metadata_bytes);
  text.resize(header.metadata_bytes, ' ');
  std::memcpy(bytes.data() + header.metadata_offset, text.data(), text.size());
  rehash_index(bytes);
}

void edit_header(std::vector<char>& bytes, const std::function<void(FileHeader&)>& edit) {
  FileHeader header = header_of(bytes);
  edit(header);
  write_at(bytes, 0, header);
}

// A matrix record rewritten as `panels` column panels (panels, rows, columns / panels).
void as_panels(TensorRecord& t, uint64_t panels) {
  const uint64_t rows = t.shape[0], columns = t.shape[1];
  t.n_dims = 3;
  t.shape[0] = panels, t.shape[1] = rows, t.shape[2] = columns / panels;
}

struct BadContainer {
  const char* name;
  std::function<void(std::vector<char>&)> break_it;
  const char* expected;
};

std::vector<BadContainer> catalogue() {
  return {
      {"empty file", [](auto& b) { b.clear(); }, "truncated"},
      {"truncated header", [](auto& b) { b.resize(40); }, "truncated"},
      {"truncated data", [](auto& b) { b.resize(b.size() / 2); }, "truncated"},
      {"trailing data", [](auto& b) { b.push_back(0); }, "trailing data"},
      {"wrong magic", [](auto& b) { b[0] = 'X'; }, "wrong magic"},
      {"newer format version", [](auto& b) { edit_header(b, [](auto& h) { h.version = 7; }); }, "newer"},
      {"metadata beyond the file", [](auto& b) { edit_header(b, [](auto& h) { h.metadata_bytes = 1ull << 23; }); },
       "outside the file"},
      {"absurd metadata size", [](auto& b) { edit_header(b, [](auto& h) { h.metadata_bytes = ~0ull; }); }, "exceeds"},
      {"absurd tensor count", [](auto& b) { edit_header(b, [](auto& h) { h.tensor_count = 1ull << 60; }); },
       "exceeds the limit"},
      {"tensor table overflowing 64 bits",
       [](auto& b) { edit_header(b, [](auto& h) { h.tensor_table_offset = ~0ull - 10; }); }, "outside the file"},
      {"bad expert alignment", [](auto& b) { edit_header(b, [](auto& h) { h.expert_alignment = 1000; }); },
       "alignment"},
      {"corrupt index", [](auto& b) { b[header_of(b).tensor_table_offset + 3] ^= 1; }, "index checksum"},
      {"metadata that is not JSON",
       [](auto& b) {
         b[header_of(b).metadata_offset] = '[';
         rehash_index(b);
       },
       "not valid JSON"},
      {"tensor outside the file", [](auto& b) { edit_tensor(b, 3, [](auto& t) { t.offset = 1ull << 40; }); },
       "outside the data section"},
      {"tensor range overflowing 64 bits", [](auto& b) { edit_tensor(b, 3, [](auto& t) { t.offset = ~0ull - 63; }); },
       "outside the data section"},
      {"tensor inside the header", [](auto& b) { edit_tensor(b, 3, [](auto& t) { t.offset = 64; }); },
       "outside the data section"},
      {"overlapping tensors",
       [](auto& b) {
         const auto previous = read_at<TensorRecord>(b, header_of(b).tensor_table_offset + 2 * sizeof(TensorRecord));
         edit_tensor(b, 3, [&](auto& t) { t.offset = previous.offset; });
       },
       "overlap"},
      {"misaligned tensor", [](auto& b) { edit_tensor(b, 3, [](auto& t) { t.offset += 8; }); }, "aligned"},
      {"byte size that does not match type and shape",
       [](auto& b) { edit_tensor(b, 3, [](auto& t) { t.bytes += 34; }); }, "need"},
      {"shape that is not whole blocks", [](auto& b) { edit_tensor(b, 3, [](auto& t) { t.shape[1] = 100; }); },
       "whole blocks"},
      {"unknown tensor type", [](auto& b) { edit_tensor(b, 3, [](auto& t) { t.type = 99; }); }, "unknown type id 99"},
      {"interleaved rows that are not whole groups",
       [](auto& b) {
         edit_tensor(b, 3, [](auto& t) {
           t.type = static_cast<uint32_t>(quant::TensorType::q4k_x8);
           t.shape[0] = 12;
         });
       },
       "whole groups of 8"},
      {"interleaved q8 rows that are not whole groups",
       [](auto& b) {
         edit_tensor(b, 3, [](auto& t) {
           t.type = static_cast<uint32_t>(quant::TensorType::q8_x8);
           t.shape[0] = 20;
         });
       },
       "whole groups of 8"},
      {"too many dimensions", [](auto& b) { edit_tensor(b, 3, [](auto& t) { t.n_dims = 9; }); }, "dimensions"},
      {"unterminated name",
       [](auto& b) { edit_tensor(b, 3, [](auto& t) { std::memset(t.name, 'a', sizeof(t.name)); }); },
       "unterminated name"},
      {"duplicate tensor name",
       [](auto& b) {
         const auto first = read_at<TensorRecord>(b, header_of(b).tensor_table_offset);
         edit_tensor(b, 3, [&](auto& t) { std::memcpy(t.name, first.name, sizeof(t.name)); });
       },
       "duplicate tensor"},
      {"misaligned expert range", [](auto& b) { edit_expert(b, 5, [](auto& e) { e.offset += 4096; }); }, "not aligned"},
      {"expert range outside the model", [](auto& b) { edit_expert(b, 5, [](auto& e) { e.expert = 100; }); },
       "outside the model"},
      {"expert range listed twice", [](auto& b) { edit_expert(b, 5, [](auto& e) { e.expert = 4; }); }, "twice"},
      {"expert range with a wrong size", [](auto& b) { edit_expert(b, 5, [](auto& e) { e.bytes += 1; }); }, "span"},
      {"expert range pointing past the table",
       [](auto& b) { edit_expert(b, 5, [](auto& e) { e.first_tensor = 0xfffffff0u; }); }, "past the table"},
      {"tensor sharing pages with an expert",
       [](auto& b) {
         // Move the tensor after layer 0's last expert into that expert's trailing padding.
         const FileHeader header = header_of(b);
         const auto range = read_at<ExpertRangeRecord>(b, header.expert_table_offset + 7 * sizeof(ExpertRangeRecord));
         const uint64_t next = range.first_tensor + 3;
         edit_tensor(b, next, [&](auto& t) { t.offset = (range.offset + range.bytes + 63) / 64 * 64; });
       },
       "shares pages with an expert range"},
      {"zero hidden size", [](auto& b) { edit_metadata(b, [](auto& m) { m["hyperparameters"]["hidden_size"] = 0; }); },
       "hidden_size"},
      {"huge layer count",
       [](auto& b) { edit_metadata(b, [](auto& m) { m["hyperparameters"]["num_hidden_layers"] = 4000000000u; }); },
       "num_hidden_layers"},
      {"experts per token > experts",
       [](auto& b) { edit_metadata(b, [](auto& m) { m["hyperparameters"]["num_experts_per_tok"] = 9; }); },
       "num_experts_per_tok"},
      {"heads not a multiple of KV heads",
       [](auto& b) { edit_metadata(b, [](auto& m) { m["hyperparameters"]["num_key_value_heads"] = 3; }); },
       "num_key_value_heads"},
      {"non-finite rope theta",
       [](auto& b) { edit_metadata(b, [](auto& m) { m["hyperparameters"]["rope_theta"] = -1.0; }); }, "rope_theta"},
      {"hyperparameters that disagree with the tensors",
       [](auto& b) { edit_metadata(b, [](auto& m) { m["hyperparameters"]["intermediate_size"] = 512; }); },
       "disagrees with the hyperparameters"},
      // Column panels (format version 2): tensor 3 is a (32, 128) q8 matrix, tensor 1 an f32 vector.
      {"column panels in a version-1 file", [](auto& b) { edit_tensor(b, 3, [](auto& t) { as_panels(t, 2); }); },
       "disagrees with the hyperparameters"},
      {"a single column panel",
       [](auto& b) {
         edit_header(b, [](auto& h) { h.version = 2; });
         edit_tensor(b, 3, [](auto& t) { as_panels(t, 1); });
       },
       "at least two panels"},
      {"column panels that are not whole blocks",
       [](auto& b) {
         edit_header(b, [](auto& h) { h.version = 2; });
         edit_tensor(b, 3, [](auto& t) { as_panels(t, 8); });  // 16 columns: half a q8 block
       },
       "whole blocks"},
      {"column panels of a float type",
       [](auto& b) {
         edit_header(b, [](auto& h) { h.version = 2; });
         edit_tensor(b, 1, [](auto& t) {
           t.n_dims = 3;
           t.shape[0] = 2, t.shape[1] = 1, t.shape[2] = 64;
         });
       },
       "block-quantized"},
      {"unknown architecture", [](auto& b) { edit_metadata(b, [](auto& m) { m["architecture"] = "gpt2"; }); },
       "architecture"},
  };
}

}  // namespace

TEST_CASE("corrupt containers are refused at load with the file and the problem named", "[bad_input][format]") {
  REQUIRE_NOTHROW(valid_container());
  for (const BadContainer& bad : catalogue()) {
    SECTION(bad.name) {
      std::vector<char> bytes = valid_container();
      bad.break_it(bytes);
      test::TempDir dir;
      const std::string path = dir.file("bad.smoe");
      test::write_file(path, bytes);
      std::string message;
      try {
        format::Container::open(path);
      } catch (const Error& error) {
        message = error.what();
      }
      INFO("message: " << message);
      CHECK_THAT(message, Catch::Contains(path) && Catch::Contains(bad.expected));
    }
  }
}

TEST_CASE("verify finds a flipped byte in tensor data that load does not read", "[bad_input][format]") {
  std::vector<char> bytes = valid_container();
  test::TempDir dir;
  const std::string path = dir.file("flipped.smoe");
  test::write_file(path, bytes);
  CHECK(format::Container::open(path).failed_checksums().empty());
  const format::Container clean = format::Container::open(path);
  const format::TensorView& victim = clean.require("layers.2.experts.6.w3");
  bytes[victim.offset + victim.bytes / 2] ^= 0x10;
  test::write_file(path, bytes);
  const format::Container damaged = format::Container::open(path);  // structure is still fine
  CHECK(damaged.failed_checksums() == std::vector<std::string>{"layers.2.experts.6.w3"});
}
