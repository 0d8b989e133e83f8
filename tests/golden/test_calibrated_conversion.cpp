// The converter's own calibration on the tiny model: a default q4 conversion is calibrated on
// self-generated text (recorded in the recipe, every expert routed), --no-calibration is the
// uncalibrated conversion byte for byte, a seed gives one file, a calibration text adds to the
// self-generated one, and a calibration text that cannot be read is refused by name with
// nothing left behind.
#include <catch2/catch.hpp>
#include <algorithm>
#include <filesystem>

#include "convert/calibrated_conversion.h"
#include "convert/inspect.h"
#include "format/container.h"
#include "smoe/error.h"
#include "support/temp_dir.h"

using namespace smoe;

namespace {

convert::ConvertOptions tiny_options(const test::TempDir& dir, const std::string& name, const std::string& type) {
  convert::ConvertOptions options;
  options.input = test::tiny_model_dir();
  options.output = dir.file(name);
  options.recipe = convert::make_recipe(type);
  options.hash_sources = false;
  return options;
}

// The default calibration on one thread: the tiny model's products are too small to share, and
// two threads spin against the other tests ctest runs beside this one.
convert::CalibrationOptions one_thread(convert::CalibrationSource source = convert::CalibrationSource::automatic) {
  convert::CalibrationOptions calibration;
  calibration.source = source;
  calibration.threads = 1;
  return calibration;
}

// A small budget where the test is about files, not statistics.
convert::CalibrationOptions quick_calibration(uint64_t seed) {
  convert::CalibrationOptions calibration = one_thread();
  calibration.tokens = 512;
  calibration.seed = seed;
  return calibration;
}

}  // namespace

TEST_CASE("a default q4 conversion calibrates on self-generated text and routes every expert", "[calibration]") {
  test::TempDir dir;
  const convert::CalibratedConvertReport report =
      convert::convert_with_calibration(tiny_options(dir, "q4.smoe", "q4"), one_thread());
  REQUIRE(report.calibration);
  CHECK(report.calibration->min_expert_tokens > 0);
  CHECK(report.calibration->tokens >= 2048);
  CHECK(dir.entries() == std::vector<std::string>{"q4.smoe"});  // the q8 copy is gone

  const format::Container container = format::Container::open(dir.file("q4.smoe"));
  const nlohmann::json& recipe = container.metadata().recipe;
  CHECK(recipe.at("calibration").get<std::string>() == report.calibration->description);
  CHECK(recipe.at("calibration").get<std::string>().starts_with("self-generated, "));
  CHECK(recipe.at("expert_bits") == "auto");
  CHECK(convert::inspect_json(container, false).at("calibration") == recipe.at("calibration"));
  // The routing profile stored from the calibration: every expert of every layer has a share.
  const nlohmann::json& profile = recipe.at("routing_profile");
  REQUIRE(profile.size() == container.metadata().hyperparameters.num_hidden_layers);
  for (const nlohmann::json& layer : profile) {
    REQUIRE(layer.size() == container.metadata().hyperparameters.num_local_experts);
    for (const nlohmann::json& share : layer) CHECK(share.get<double>() > 0.0);
  }
}

TEST_CASE("opting out of calibration writes the uncalibrated conversion byte for byte", "[calibration]") {
  test::TempDir dir;
  convert::CalibrationOptions none;
  none.source = convert::CalibrationSource::none;
  const convert::CalibratedConvertReport report =
      convert::convert_with_calibration(tiny_options(dir, "opted-out.smoe", "q4"), none);
  CHECK_FALSE(report.calibration);
  convert::convert_checkpoint(tiny_options(dir, "plain.smoe", "q4"));
  CHECK(test::read_file(dir.file("opted-out.smoe")) == test::read_file(dir.file("plain.smoe")));
  const format::Container container = format::Container::open(dir.file("opted-out.smoe"));
  CHECK(convert::inspect_json(container, false).at("calibration") == "none");
  CHECK_FALSE(container.metadata().recipe.contains("expert_bits"));
}

TEST_CASE("recipes that take no importance are not calibrated unless asked", "[calibration]") {
  test::TempDir dir;
  const convert::CalibratedConvertReport report =
      convert::convert_with_calibration(tiny_options(dir, "q8.smoe", "q8"), one_thread());
  CHECK_FALSE(report.calibration);
  convert::CalibrationOptions text = one_thread(convert::CalibrationSource::text);
  text.text = dir.file("any.txt");
  CHECK_THROWS_WITH(convert::convert_with_calibration(tiny_options(dir, "x.smoe", "q8"), text),
                    Catch::Contains("q4, q4k and q3k"));
}

TEST_CASE("self-calibration with one seed writes one file", "[calibration]") {
  test::TempDir dir;
  convert::convert_with_calibration(tiny_options(dir, "a.smoe", "q4"), quick_calibration(7));
  convert::convert_with_calibration(tiny_options(dir, "b.smoe", "q4"), quick_calibration(7));
  const convert::CalibratedConvertReport other =
      convert::convert_with_calibration(tiny_options(dir, "c.smoe", "q4"), quick_calibration(8));
  CHECK(test::read_file(dir.file("a.smoe")) == test::read_file(dir.file("b.smoe")));
  CHECK(test::read_file(dir.file("a.smoe")) != test::read_file(dir.file("c.smoe")));
  CHECK(other.calibration->description.ends_with("seed 8"));
}

TEST_CASE("a calibration text is used, then self-generated text on top", "[calibration]") {
  test::TempDir dir;
  test::write_text(dir.file("calibration.txt"),
                   "The configuration file sets the default options.\nLe fichier de configuration.\n"
                   "Die Einstellungen werden gespeichert.\nEl archivo no existe.\n");
  convert::CalibrationOptions text = quick_calibration(7);
  text.source = convert::CalibrationSource::text;
  text.text = dir.file("calibration.txt");
  const convert::CalibratedConvertReport report =
      convert::convert_with_calibration(tiny_options(dir, "q4.smoe", "q4"), text);
  REQUIRE(report.calibration);
  CHECK(report.calibration->description.starts_with("text calibration.txt, "));
  CHECK(report.calibration->description.find(", and self-generated, ") != std::string::npos);
  CHECK(report.calibration->description.ends_with("seed 7"));
  const format::Container container = format::Container::open(dir.file("q4.smoe"));
  CHECK(container.metadata().recipe.at("calibration") == report.calibration->description);
  // The text counts: the file is not the one the samples alone give.
  const convert::CalibratedConvertReport alone =
      convert::convert_with_calibration(tiny_options(dir, "self.smoe", "q4"), quick_calibration(7));
  CHECK(report.calibration->tokens > alone.calibration->tokens);
  CHECK(test::read_file(dir.file("q4.smoe")) != test::read_file(dir.file("self.smoe")));
}

TEST_CASE("an unreadable calibration text is refused by name and leaves no file", "[calibration][bad_input]") {
  test::TempDir dir;
  convert::CalibrationOptions text = one_thread(convert::CalibrationSource::text);
  text.text = dir.file("missing.txt");
  CHECK_THROWS_WITH(convert::convert_with_calibration(tiny_options(dir, "q4.smoe", "q4"), text),
                    Catch::Contains("missing.txt") && Catch::Contains("cannot open"));
  CHECK(dir.entries().empty());
  // A text with no usable line fails after the q8 copy was written: the copy goes too.
  test::write_text(dir.file("empty.txt"), "\n\n");
  text.text = dir.file("empty.txt");
  CHECK_THROWS_WITH(convert::convert_with_calibration(tiny_options(dir, "q4.smoe", "q4"), text),
                    Catch::Contains("empty.txt"));
  CHECK(dir.entries() == std::vector<std::string>{"empty.txt"});
}

TEST_CASE("a calibrated conversion rounds with GPTQ unless told to round to nearest", "[calibration][gptq]") {
  test::TempDir dir;
  convert::convert_with_calibration(tiny_options(dir, "gptq.smoe", "q4"), quick_calibration(7));
  convert::CalibrationOptions nearest = quick_calibration(7);
  nearest.gptq_rounding = false;
  convert::convert_with_calibration(tiny_options(dir, "nearest.smoe", "q4"), nearest);
  const format::Container gptq = format::Container::open(dir.file("gptq.smoe"));
  const format::Container plain = format::Container::open(dir.file("nearest.smoe"));
  CHECK(gptq.metadata().recipe.at("rounding") == "gptq");
  CHECK(plain.metadata().recipe.at("rounding") == "nearest");
  CHECK(convert::inspect_json(gptq, false).at("rounding") == "gptq");
  // The same calibration and scales search; only the chosen values differ, and only in
  // tensors GPTQ rounds (the tiny model's w2 in q4k, w1/w3 in q4; attention stays q8).
  size_t differing = 0;
  for (size_t i = 0; i < gptq.tensors().size(); ++i) {
    const format::TensorView& a = gptq.tensors()[i];
    const format::TensorView& b = plain.tensors()[i];
    REQUIRE(a.name == b.name);
    REQUIRE(a.type == b.type);
    const bool same = std::equal(a.data, a.data + a.bytes, b.data);
    if (!same) {
      ++differing;
      CHECK(a.name.find(".experts.") != std::string::npos);
    }
  }
  CHECK(differing > 0);
}

TEST_CASE("GPTQ rounding needs the converter's own calibration", "[calibration][gptq][bad_input]") {
  test::TempDir dir;
  convert::CalibrationOptions none;
  none.source = convert::CalibrationSource::none;
  none.gptq_rounding = true;
  CHECK_THROWS_WITH(convert::convert_with_calibration(tiny_options(dir, "q4.smoe", "q4"), none),
                    Catch::Contains("--rounding gptq"));
  CHECK(dir.entries().empty());
}
