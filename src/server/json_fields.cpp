#include "server/json_fields.h"

#include <cmath>

#include "server/api_error.h"

namespace hearth::server {

json parse_json_body(std::string_view body) {
  json parsed;
  try {
    // The callback sees every value with its depth; throwing from it stops
    // the parse before a deep body is built.
    parsed = json::parse(
        body.begin(), body.end(),
        [](int depth, json::parse_event_t, json&) {
          if (depth > kMaxJsonDepth) {
            throw ApiError(400, "invalid JSON: nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
          }
          return true;
        },
        /*allow_exceptions=*/true);
  } catch (const json::parse_error& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 1, ...";
    // keep the part after the bracketed id.
    std::string what = e.what();
    const size_t close = what.find("] ");
    if (close != std::string::npos) what = what.substr(close + 2);
    throw ApiError(400, "invalid JSON in the request body: " + what, "", "invalid_json");
  }
  if (!parsed.is_object()) {
    throw ApiError(400, "the request body must be a JSON object, not " + json_type_phrase(parsed), "",
                   "invalid_json");
  }
  return parsed;
}

std::string dump_json(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string json_type_phrase(const json& value) {
  switch (value.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return "a number";
    default: return "an unsupported value";
  }
}

Fields::Fields(const json& object, std::string prefix) : obj_(object), prefix_(std::move(prefix)) {}

const json* Fields::raw(std::string_view name) const {
  if (!obj_.is_object()) return nullptr;
  const auto it = obj_.find(name);
  if (it == obj_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool Fields::has(std::string_view name) const { return raw(name) != nullptr; }

namespace {

std::string format_bound(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  std::string s = std::to_string(v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  return s;
}

}  // namespace

std::optional<double> Fields::number(std::string_view name, double min, double max) const {
  const json* v = raw(name);
  if (!v) return std::nullopt;
  const std::string range = "between " + format_bound(min) + " and " + format_bound(max);
  if (!v->is_number()) throw invalid_field(path(name), "must be a number " + range + ", not " + json_type_phrase(*v));
  const double d = v->get<double>();
  if (!std::isfinite(d) || d < min || d > max) {
    throw invalid_field(path(name), "must be a number " + range + ", got " + v->dump());
  }
  return d;
}

std::optional<int64_t> Fields::integer(std::string_view name, int64_t min, int64_t max) const {
  const json* v = raw(name);
  if (!v) return std::nullopt;
  const std::string range = "between " + std::to_string(min) + " and " + std::to_string(max);
  if (!v->is_number()) {
    throw invalid_field(path(name), "must be an integer " + range + ", not " + json_type_phrase(*v));
  }
  int64_t n = 0;
  if (v->is_number_integer() && !v->is_number_unsigned()) {
    n = v->get<int64_t>();
  } else if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(max)) {
      throw invalid_field(path(name), "must be an integer " + range + ", got " + v->dump());
    }
    n = static_cast<int64_t>(u);
  } else {
    const double d = v->get<double>();
    // Exactly integral and inside int64 (2^63 is the first double outside).
    if (!std::isfinite(d) || d != std::floor(d) || d < -9.2e18 || d > 9.2e18) {
      throw invalid_field(path(name), "must be an integer " + range + ", got " + v->dump());
    }
    n = static_cast<int64_t>(d);
  }
  if (n < min || n > max) throw invalid_field(path(name), "must be an integer " + range + ", got " + v->dump());
  return n;
}

std::optional<bool> Fields::boolean(std::string_view name) const {
  const json* v = raw(name);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) throw invalid_field(path(name), "must be true or false, not " + json_type_phrase(*v));
  return v->get<bool>();
}

std::optional<std::string> Fields::string(std::string_view name, size_t max_bytes) const {
  const json* v = raw(name);
  if (!v) return std::nullopt;
  if (!v->is_string()) throw invalid_field(path(name), "must be a string, not " + json_type_phrase(*v));
  const auto& s = v->get_ref<const std::string&>();
  if (s.size() > max_bytes) {
    throw invalid_field(path(name), "is " + std::to_string(s.size()) + " bytes, more than the limit of " +
                                        std::to_string(max_bytes));
  }
  return s;
}

std::optional<std::vector<std::string>> Fields::string_or_list(std::string_view name, size_t max_items,
                                                               size_t max_bytes) const {
  const json* v = raw(name);
  if (!v) return std::nullopt;
  std::vector<std::string> out;
  auto take = [&](const json& item, const std::string& where) {
    if (!item.is_string()) throw invalid_field(where, "must be a string, not " + json_type_phrase(item));
    const auto& s = item.get_ref<const std::string&>();
    if (s.empty()) throw invalid_field(where, "must not be empty");
    if (s.size() > max_bytes) {
      throw invalid_field(where, "is longer than " + std::to_string(max_bytes) + " bytes");
    }
    out.push_back(s);
  };
  if (v->is_string()) {
    take(*v, path(name));
  } else if (v->is_array()) {
    if (v->size() > max_items) {
      throw invalid_field(path(name), "has " + std::to_string(v->size()) + " entries, at most " +
                                          std::to_string(max_items) + " are allowed");
    }
    for (size_t i = 0; i < v->size(); ++i) take((*v)[i], path(name) + "[" + std::to_string(i) + "]");
  } else {
    throw invalid_field(path(name), "must be a string or a list of strings, not " + json_type_phrase(*v));
  }
  return out;
}

const json* Fields::object(std::string_view name) const {
  const json* v = raw(name);
  if (v && !v->is_object()) throw invalid_field(path(name), "must be an object, not " + json_type_phrase(*v));
  return v;
}

const json* Fields::array(std::string_view name) const {
  const json* v = raw(name);
  if (v && !v->is_array()) throw invalid_field(path(name), "must be an array, not " + json_type_phrase(*v));
  return v;
}

}  // namespace hearth::server
