// Reading request bodies: JSON parsing with a nesting limit, and typed,
// range-checked field access. Every number a client sends passes through
// here before it reaches the engine, so a wrong type, a negative count or a
// huge value becomes a 400 naming the field instead of undefined behaviour.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::server {

using json = nlohmann::ordered_json;

// Deepest nesting a request may have: real requests need ~6 levels; the limit
// keeps pathological bodies ("[[[[...") from exhausting a worker's stack in
// code that walks values recursively.
inline constexpr int kMaxJsonDepth = 64;

// Parses a request body that must be a JSON object. Throws ApiError 400
// ("invalid JSON: ...", "the request body must be a JSON object", too deep).
json parse_json_body(std::string_view body);

// Serialises for the wire; invalid UTF-8 (never expected, but a model can
// emit arbitrary bytes) becomes U+FFFD instead of an exception mid-stream.
std::string dump_json(const json& j);

// Typed access to the fields of one JSON object. JSON null counts as absent
// (OpenAI clients send explicit nulls for unset options). Errors name the
// field with its prefix: "options.num_predict: must be an integer ...".
class Fields {
 public:
  explicit Fields(const json& object, std::string prefix = "");

  bool has(std::string_view name) const;  // present and not null
  std::string path(std::string_view name) const { return prefix_ + std::string(name); }

  // A finite number in [min, max].
  std::optional<double> number(std::string_view name, double min, double max) const;
  // An integer in [min, max] (2.0 counts as 2; 2.5 does not).
  std::optional<int64_t> integer(std::string_view name, int64_t min, int64_t max) const;
  std::optional<bool> boolean(std::string_view name) const;
  // A string of at most max_bytes bytes.
  std::optional<std::string> string(std::string_view name, size_t max_bytes = SIZE_MAX) const;
  // A string or a list of strings (OpenAI's and Ollama's "stop"), each
  // non-empty, at most max_items of them.
  std::optional<std::vector<std::string>> string_or_list(std::string_view name, size_t max_items,
                                                         size_t max_bytes) const;
  // Present values of other JSON types; null when absent. Throw for a wrong type.
  const json* object(std::string_view name) const;
  const json* array(std::string_view name) const;
  const json* raw(std::string_view name) const;  // any type

 private:
  const json& obj_;
  std::string prefix_;
};

// "a number", "a string", "an array", ... for error messages.
std::string json_type_phrase(const json& value);

}  // namespace hearth::server
