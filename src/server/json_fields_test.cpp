#include "server/json_fields.h"

#include <gtest/gtest.h>

#include "server/api_error.h"

namespace hearth::server {
namespace {

// The status and message of the ApiError `fn` throws.
template <typename Fn>
std::pair<int, std::string> error_of(Fn fn) {
  try {
    fn();
  } catch (const ApiError& e) {
    return {e.status(), e.what()};
  }
  return {0, ""};
}

TEST(ParseJsonBody, AcceptsObjects) {
  const json j = parse_json_body(R"({"a": [1, {"b": null}]})");
  EXPECT_EQ(j["a"][0], 1);
}

TEST(ParseJsonBody, RejectsSyntaxErrorsNonObjectsAndDeepNesting) {
  auto [status, msg] = error_of([] { parse_json_body("{\"a\": "); });
  EXPECT_EQ(status, 400);
  EXPECT_NE(msg.find("invalid JSON"), std::string::npos) << msg;

  std::tie(status, msg) = error_of([] { parse_json_body("[1, 2]"); });
  EXPECT_EQ(status, 400);
  EXPECT_NE(msg.find("must be a JSON object, not an array"), std::string::npos) << msg;

  std::string deep = "{\"a\":" + std::string(200, '[') + std::string(200, ']') + "}";
  std::tie(status, msg) = error_of([&] { parse_json_body(deep); });
  EXPECT_EQ(status, 400);
  EXPECT_NE(msg.find("nested deeper"), std::string::npos) << msg;

  // Just inside the limit parses.
  std::string ok = "{\"a\":" + std::string(kMaxJsonDepth - 1, '[') + std::string(kMaxJsonDepth - 1, ']') + "}";
  EXPECT_NO_THROW(parse_json_body(ok));

  std::tie(status, msg) = error_of([] { parse_json_body("{\"a\": \"\xff\"}"); });
  EXPECT_EQ(status, 400) << "invalid UTF-8 in a string is a syntax error";
}

TEST(Fields, NumbersAreTypeAndRangeChecked) {
  const json j = json::parse(R"({"t": 0.5, "big": 7, "s": "1", "nan": null, "neg": -1})");
  Fields f(j);
  EXPECT_DOUBLE_EQ(*f.number("t", 0, 2), 0.5);
  EXPECT_FALSE(f.number("missing", 0, 2));
  EXPECT_FALSE(f.number("nan", 0, 2)) << "null counts as absent";
  auto [status, msg] = error_of([&] { f.number("big", 0, 2); });
  EXPECT_EQ(status, 400);
  EXPECT_EQ(msg, "big: must be a number between 0 and 2, got 7");
  std::tie(status, msg) = error_of([&] { f.number("s", 0, 2); });
  EXPECT_EQ(msg, "s: must be a number between 0 and 2, not a string");
}

TEST(Fields, IntegersRejectFractionsNegativesAndHugeValues) {
  const json j = json::parse(R"({"a": 5, "b": 5.0, "c": 5.5, "d": -3, "e": 1e300, "f": 18446744073709551615, "g": true})");
  Fields f(j, "options.");
  EXPECT_EQ(*f.integer("a", 1, 10), 5);
  EXPECT_EQ(*f.integer("b", 1, 10), 5);
  EXPECT_EQ(error_of([&] { f.integer("c", 1, 10); }).second, "options.c: must be an integer between 1 and 10, got 5.5");
  EXPECT_EQ(error_of([&] { f.integer("d", 1, 10); }).first, 400);
  EXPECT_EQ(error_of([&] { f.integer("e", 1, 10); }).first, 400);
  EXPECT_EQ(error_of([&] { f.integer("f", 1, 10); }).first, 400);
  EXPECT_EQ(error_of([&] { f.integer("g", 1, 10); }).second, "options.g: must be an integer between 1 and 10, not a boolean");
}

TEST(Fields, BooleansStringsAndStopLists) {
  const json j = json::parse(R"({"b": true, "nb": "true", "s": "hi", "stop1": "x", "stop2": ["a", "b"],
                                 "bad": ["a", 1], "empty": [""], "many": ["1","2","3"]})");
  Fields f(j);
  EXPECT_TRUE(*f.boolean("b"));
  EXPECT_EQ(error_of([&] { f.boolean("nb"); }).second, "nb: must be true or false, not a string");
  EXPECT_EQ(*f.string("s"), "hi");
  EXPECT_EQ(error_of([&] { f.string("s", 1); }).first, 400);
  EXPECT_EQ(*f.string_or_list("stop1", 4, 10), std::vector<std::string>{"x"});
  EXPECT_EQ(*f.string_or_list("stop2", 4, 10), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(error_of([&] { f.string_or_list("bad", 4, 10); }).second, "bad[1]: must be a string, not a number");
  EXPECT_EQ(error_of([&] { f.string_or_list("empty", 4, 10); }).second, "empty[0]: must not be empty");
  EXPECT_EQ(error_of([&] { f.string_or_list("many", 2, 10); }).first, 400);
  EXPECT_EQ(error_of([&] { f.object("s"); }).second, "s: must be an object, not a string");
}

TEST(DumpJson, ReplacesInvalidUtf8InsteadOfThrowing) {
  json j = {{"text", std::string("a\xff")}};
  EXPECT_EQ(dump_json(j), "{\"text\":\"a\xEF\xBF\xBD\"}");
}

}  // namespace
}  // namespace hearth::server
