// UTF-8 validation of streamed text against Python's bytes.decode("utf-8", "replace").
#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

#include "smoe/tokenizer.h"

using smoe::Utf8Stream;
using smoe::valid_utf8;

namespace {

// {bytes, Python's bytes.decode("utf-8", "replace").encode()}
const std::vector<std::pair<std::string, std::string>> kPythonReplace = {
    {"\x61\x62\x63", "\x61\x62\x63"},
    {"\xc3\xa9", "\xc3\xa9"},
    {"\xc3", "\xef\xbf\xbd"},
    {"\xe2\x82", "\xef\xbf\xbd"},
    {"\xe2\x82\xac", "\xe2\x82\xac"},
    {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},
    {"\xf0\x9f\x98", "\xef\xbf\xbd"},
    {"\xff", "\xef\xbf\xbd"},
    {"\x80\x61\x62\x63", "\xef\xbf\xbd\x61\x62\x63"},
    {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},
    {"\xe0\x80\xaf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
    {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
    {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
    {"\xf0\x9f\xc3\xa9", "\xef\xbf\xbd\xc3\xa9"},
    {"\x61\xe2\x82\x62", "\x61\xef\xbf\xbd\x62"},
    {"\xf5\x80", "\xef\xbf\xbd\xef\xbf\xbd"},
    {"\xe1\x80\xe2\x82\xac", "\xef\xbf\xbd\xe2\x82\xac"},
};

}  // namespace

TEST_CASE("valid_utf8 replaces invalid bytes as Python does", "[utf8]") {
  for (const auto& [bytes, expected] : kPythonReplace) {
    INFO("case of " << bytes.size() << " bytes");
    CHECK(valid_utf8(bytes) == expected);
  }
}

TEST_CASE("Utf8Stream fed byte by byte gives the same text, never half a character", "[utf8]") {
  for (const auto& [bytes, expected] : kPythonReplace) {
    Utf8Stream stream;
    std::string out;
    for (char byte : bytes) {
      const std::string ready = stream.push(std::string_view(&byte, 1));
      CHECK(valid_utf8(ready) == ready);  // every piece handed out is valid on its own
      out += ready;
    }
    out += stream.flush();
    CHECK(out == expected);
  }
}

TEST_CASE("Utf8Stream holds a character split over tokens until it completes", "[utf8]") {
  Utf8Stream stream;
  CHECK(stream.push("a\xf0\x9f") == "a");
  CHECK(stream.push("\x98") == "");
  CHECK(stream.push("\x80 b") == "\xf0\x9f\x98\x80 b");
  CHECK(stream.flush() == "");
  CHECK(stream.push("\xe2\x82") == "");
  CHECK(stream.flush() == "\xef\xbf\xbd");  // cut off: the end of generation replaces it
}
