// Conformance against Python's Jinja2: every template x conversation of the corpus in
// tests/data/chat_templates renders byte for byte as tests/support/render_chat_templates.py
// renders it with Jinja2 the way Hugging Face does, or fails where Jinja2 fails.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "smoe/error.h"
#include "support/temp_dir.h"
#include "text/jinja/template.h"

namespace {

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The reference renders strftime_now at a fixed local time, datetime(2024, 7, 26): so does this.
std::time_t reference_now() {
  std::tm fixed{};
  fixed.tm_year = 2024 - 1900, fixed.tm_mon = 6, fixed.tm_mday = 26, fixed.tm_isdst = -1;
  return std::mktime(&fixed);
}

std::string first_difference(const std::string& expected, const std::string& actual) {
  size_t i = 0;
  while (i < expected.size() && i < actual.size() && expected[i] == actual[i]) ++i;
  const size_t from = i > 40 ? i - 40 : 0;
  // The window may cut a UTF-8 sequence: show such bytes as U+FFFD rather than throw.
  const auto quoted = [&](const std::string& text) {
    return nlohmann::json(text.substr(std::min(from, text.size()), 120)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  return "first difference at byte " + std::to_string(i) + "\n  jinja2: " + quoted(expected) + "\n  smoe:   " + quoted(actual);
}

}  // namespace

TEST_CASE("chat templates render as Jinja2 renders them", "[jinja][golden]") {
  const std::filesystem::path corpus = std::filesystem::path(SMOE_TEST_DATA_DIR) / "chat_templates";
  const std::filesystem::path script = std::filesystem::path(SMOE_TEST_SUPPORT_DIR) / "render_chat_templates.py";
  if (!std::filesystem::exists(corpus / "conversations.json") || !std::filesystem::exists(script)) {
    WARN("no chat template corpus in " << corpus.string() << ": nothing to compare");
    return;
  }
  smoe::test::TempDir dir;
  const std::string reference_path = dir.file("reference.json");
  const std::string command = std::string("'") + SMOE_PYTHON + "' '" + script.string() + "' '" + corpus.string() +
                              "' --inputs --out '" + reference_path + "'";
  if (std::system(command.c_str()) != 0) {
    WARN("the reference renderer failed (" << command << "): is Jinja2 installed for " << SMOE_PYTHON << "?");
    return;
  }
  const auto reference = nlohmann::ordered_json::parse(read_text(reference_path));
  size_t pairs = 0;
  for (const auto& [name, conversations] : reference.items()) {
    const std::string source = read_text(corpus / (name + ".jinja"));
    if (conversations.contains("__compile__")) {
      INFO(name << ": Jinja2 cannot parse it");
      CHECK_THROWS_AS(smoe::text::jinja::Template::parse(source), smoe::Error);
      continue;
    }
    const auto tmpl = smoe::text::jinja::Template::parse(source);
    for (const auto& [conversation, entry] : conversations.items()) {
      ++pairs;
      INFO(name << " x " << conversation);
      std::string actual, error;
      try {
        actual = tmpl->render(entry.at("inputs"), reference_now());
      } catch (const smoe::Error& e) {
        error = e.what();
      }
      if (entry.contains("error")) {
        INFO("Jinja2 raised " << entry["error_type"].get<std::string>() << ": " << entry["error"].get<std::string>());
        CHECK(!error.empty());
        if (entry["error_type"] == "TemplateError") CHECK(error == "chat template: " + entry["error"].get<std::string>());
        continue;
      }
      INFO("smoe raised: " << error);
      REQUIRE(error.empty());
      const std::string expected = entry.at("text").get<std::string>();
      if (actual != expected) FAIL_CHECK(first_difference(expected, actual));
    }
  }
  CHECK(pairs > 0);
}
