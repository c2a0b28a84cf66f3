// hearth inspect FILE [--json]: what a GGUF file holds (header, metadata,
// tensor table, totals), for people (text) or for tools (one JSON object).
// The file is untrusted: strings are escaped, arrays shortened, and any bytes
// give valid output or a hearth::Error naming the file.
#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "cli/commands.h"
#include "gguf/gguf.h"
#include "kernels/matmul.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace hearth::cli {
namespace {

using gguf::Array;
using gguf::ValueType;
using Json = nlohmann::ordered_json;

constexpr size_t kTextArrayPreview = 8;     // elements of one array shown as text
constexpr size_t kTextValueBudget = 32;     // elements of one (nested) value shown as text
constexpr size_t kTextStringPreview = 160;  // bytes of a string shown as text
constexpr size_t kJsonArrayPreview = 16;    // elements of one array in JSON

// ---------------------------------------------------------------- summary

// "id 'text'" for a special token, or "none".
std::string describe_token(const Tokenizer& tok, TokenId id) {
  if (id < 0 || id >= tok.n_vocab()) return "none";
  std::string text;
  for (const char c : tok.token_text(id)) {  // no terminal control bytes from the file
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      text += buf;
    } else {
      text += c;
    }
  }
  return std::to_string(id) + " '" + text + "'";
}

// Summary lines that need more than the GGUF layer, as (label, value) pairs:
// shown under the header in text and as "summary" in JSON. A tokenizer Hearth
// cannot load is reported here rather than failing the whole inspection.
std::vector<std::pair<std::string, std::string>> extra_summary(const gguf::File& file) {
  std::vector<std::pair<std::string, std::string>> lines;
  lines.emplace_back("kernels", kernels::cpu_features_string());
  if (!file.find("tokenizer.ggml.model")) return lines;
  try {
    const auto tok = Tokenizer::from_gguf(file);
    std::string model(tok->model_name());
    if (!tok->pre_tokenizer_name().empty()) model += ", pre " + std::string(tok->pre_tokenizer_name());
    lines.emplace_back("tokenizer", model + ", " + std::to_string(tok->n_vocab()) + " tokens");
    lines.emplace_back("bos", describe_token(*tok, tok->bos()) +
                                  (tok->add_bos() ? " (added)" : " (not added)"));
    lines.emplace_back("eos", describe_token(*tok, tok->eos()));
    std::string eog;
    for (TokenId id = 0; id < tok->n_vocab(); ++id) {
      if (tok->is_eog(id)) eog += (eog.empty() ? "" : ", ") + describe_token(*tok, id);
    }
    lines.emplace_back("end of generation", eog.empty() ? "none" : eog);
  } catch (const Error& e) {
    lines.emplace_back("tokenizer", std::string("cannot load: ") + e.what());
  }
  return lines;
}

// ---------------------------------------------------------------- formatting

// Length of the valid UTF-8 sequence starting at s[i] (no overlongs, no
// surrogates), or 0 when the byte there does not start one.
size_t utf8_sequence(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  // Sequence length from the lead byte's high bits, and its payload bits.
  const size_t n = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
  if (n == 0) return 0;
  uint32_t cp = c & (0x7f >> n);
  if (n > s.size() - i) return 0;
  for (size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (cc & 0x3f);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return 0;
  return n;
}

// A string as a quoted, escaped, terminal-safe literal: control characters
// and bytes that are not UTF-8 become escapes; long strings are cut.
std::string quote(std::string_view s, size_t max_bytes) {
  static const char* hex = "0123456789abcdef";
  std::string out = "\"";
  size_t i = 0;
  while (i < s.size() && i < max_bytes) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = utf8_sequence(s, i);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f || n == 0) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else if (n == 2 && c == 0xc2 && static_cast<unsigned char>(s[i + 1]) < 0xa0) {
      out += "\\u00";  // C1 control characters move terminals around too
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      out += hex[c1 >> 4];
      out += hex[c1 & 15];
    } else {
      out.append(s.substr(i, n));
    }
    i += n ? n : 1;
  }
  out += '"';
  if (i < s.size()) out += "... (" + std::to_string(s.size()) + " bytes)";
  return out;
}

std::string format_float(double v, bool f32) {
  char buf[64];
  // Shortest text that reads back to the same value: 1e-05, not 9.99999974e-06.
  const auto r = f32 ? std::to_chars(buf, buf + sizeof buf, static_cast<float>(v))
                     : std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

bool is_unsigned(ValueType t) {
  return t == ValueType::UINT8 || t == ValueType::UINT16 || t == ValueType::UINT32 ||
         t == ValueType::UINT64;
}
bool is_float(ValueType t) { return t == ValueType::FLOAT32 || t == ValueType::FLOAT64; }

// Element i of a numeric array, unsigned and exact (Array::integer saturates
// u64 values above INT64_MAX).
uint64_t unsigned_element(const Array& a, uint64_t i) {
  const size_t size = gguf::value_type_size(a.elem_type);
  uint64_t v = 0;
  std::memcpy(&v, a.raw.data() + i * size, size);  // little-endian host and file
  return v;
}

std::string element_text(const Array& a, uint64_t i) {
  if (a.elem_type == ValueType::BOOL) return a.raw[i] ? "true" : "false";
  if (is_unsigned(a.elem_type)) return std::to_string(unsigned_element(a, i));
  if (is_float(a.elem_type)) return format_float(a.number(i), a.elem_type == ValueType::FLOAT32);
  return std::to_string(a.integer(i));
}

std::string count_text(const Array& a) {
  const std::string n = std::to_string(a.count);
  if (a.elem_type == ValueType::STRING) return n + (a.count == 1 ? " string" : " strings");
  if (a.elem_type == ValueType::ARRAY) return n + (a.count == 1 ? " array" : " arrays");
  return n + " " + std::string(gguf::value_type_name(a.elem_type));
}

// `[ a, b, ... ] (N things)`: at most kTextArrayPreview elements per array and
// `budget` in the whole value, so nested arrays stay short too.
std::string array_text(const Array& a, size_t& budget) {
  std::string out = "[";
  uint64_t shown = 0;
  for (; shown < a.count && shown < kTextArrayPreview && budget > 0; ++shown) {
    --budget;  // only while positive: nested arrays spend from the same budget
    out += shown ? ", " : " ";
    if (a.elem_type == ValueType::STRING)
      out += quote(a.strings[shown], 48);
    else if (a.elem_type == ValueType::ARRAY)
      out += array_text(a.arrays[shown], budget);
    else
      out += element_text(a, shown);
  }
  if (shown < a.count) out += shown ? ", ..." : " ...";
  out += a.count ? " ]" : "]";
  if (shown < a.count) out += " (" + count_text(a) + ")";
  return out;
}

std::string type_text(const gguf::Value& v) {
  if (v.type != ValueType::ARRAY) return std::string(gguf::value_type_name(v.type));
  return "array[" + std::string(gguf::value_type_name(v.arr.elem_type)) + "]";
}

std::string value_text(const gguf::Value& v) {
  switch (v.type) {
    case ValueType::STRING:
      return quote(v.str, kTextStringPreview);
    case ValueType::ARRAY: {
      size_t budget = kTextValueBudget;
      return array_text(v.arr, budget);
    }
    case ValueType::BOOL:
      return v.u ? "true" : "false";
    case ValueType::FLOAT32:
      return format_float(v.f, true);
    case ValueType::FLOAT64:
      return format_float(v.f, false);
    default:
      return is_unsigned(v.type) ? std::to_string(v.u) : std::to_string(v.i);
  }
}

std::string human_bytes(uint64_t n) {
  static const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 6) v /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.2f %s" : "%.0f %s", v, units[u]);
  return buf;
}

std::string human_count(uint64_t n) {
  static const char* units[] = {"", "K", "M", "B", "T"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1000 && u < 4) v /= 1000, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.2f%s" : "%.0f%s", v, units[u]);
  return buf;
}

// ---------------------------------------------------------------- totals

struct TypeTotal {
  uint64_t tensors = 0, parameters = 0, bytes = 0;
};
struct Totals {
  uint64_t parameters = 0, bytes = 0;
  std::map<std::string_view, TypeTotal> by_type;  // ordered by type name
};

Totals totals_of(const gguf::File& f) {
  Totals t;
  for (const auto& ti : f.tensors()) {
    // Sums of in-file sizes: bounded by the file size, so they cannot wrap.
    TypeTotal& tt = t.by_type[type_name(ti.type)];
    ++tt.tensors;
    tt.parameters += static_cast<uint64_t>(ti.n_elements);
    tt.bytes += ti.n_bytes;
    t.parameters += static_cast<uint64_t>(ti.n_elements);
    t.bytes += ti.n_bytes;
  }
  return t;
}

// ---------------------------------------------------------------- text

void print_text(const gguf::File& f, std::ostream& out) {
  const Totals totals = totals_of(f);
  out << "file:         " << f.path() << "\n"
      << "size:         " << f.file_size() << " bytes (" << human_bytes(f.file_size()) << ")\n"
      << "GGUF version: " << f.version() << "\n"
      << "alignment:    " << f.alignment() << "\n"
      << "data offset:  " << f.data_offset()
      << (f.tensors().empty() ? " (no tensor data)\n"
                              : " (tensor offsets below are relative to it)\n")
      << "metadata:     " << f.metadata().size() << " keys\n"
      << "tensors:      " << f.tensors().size() << "\n";
  for (const auto& [label, value] : extra_summary(f)) {
    out << label << ":" << std::string(label.size() < 13 ? 13 - label.size() : 1, ' ') << value
        << "\n";
  }

  size_t key_width = 0, type_width = 0;
  for (const auto& kv : f.metadata()) {
    key_width = std::max(key_width, quote(kv.key, 64).size());
    type_width = std::max(type_width, type_text(kv.value).size());
  }
  out << "\nmetadata:\n";
  for (const auto& kv : f.metadata()) {
    const std::string key = quote(kv.key, 64);
    // Keys print unquoted when that is unambiguous, as they nearly always are.
    const std::string shown = key.substr(1, key.size() - 2) == kv.key ? kv.key : key;
    out << "  " << shown << std::string(key_width + 2 - shown.size(), ' ') << type_text(kv.value)
        << std::string(type_width + 2 - type_text(kv.value).size(), ' ') << value_text(kv.value)
        << "\n";
  }

  if (!f.tensors().empty()) {
    std::vector<std::vector<std::string>> rows = {{"name", "type", "shape", "bytes", "offset"}};
    for (const auto& t : f.tensors()) {
      const std::string name = quote(t.name, 96);
      rows.push_back({name.substr(1, name.size() - 2) == t.name ? t.name : name,
                      std::string(type_name(t.type)), t.shape_string(), std::to_string(t.n_bytes),
                      std::to_string(t.offset)});
    }
    std::vector<size_t> width(5, 0);
    for (const auto& r : rows) {
      for (size_t c = 0; c < 5; ++c) width[c] = std::max(width[c], r[c].size());
    }
    out << "\ntensors:\n";
    for (const auto& r : rows) {
      for (size_t c = 0; c < 5; ++c) {
        const std::string pad(width[c] - r[c].size(), ' ');
        out << "  " << (c >= 3 ? pad + r[c] : r[c] + pad);  // numbers right-aligned
      }
      out << "\n";
    }
  }

  out << "\ntotals: " << f.tensors().size() << " tensors, " << totals.parameters << " parameters ("
      << human_count(totals.parameters) << "), " << totals.bytes << " bytes ("
      << human_bytes(totals.bytes) << ")\n";
  for (const auto& [type, tt] : totals.by_type) {
    out << "  " << type << ": " << tt.tensors << (tt.tensors == 1 ? " tensor, " : " tensors, ")
        << tt.parameters << " parameters, " << tt.bytes << " bytes\n";
  }
}

// ---------------------------------------------------------------- JSON

Json element_json(const Array& a, uint64_t i) {
  if (a.elem_type == ValueType::BOOL) return a.raw[i] != 0;
  if (is_unsigned(a.elem_type)) return unsigned_element(a, i);
  if (a.elem_type == ValueType::FLOAT32) {
    // Through the shortest decimal form, so 1e-5f shows as 1e-05 and not as
    // its exact double expansion. NaN and infinities become null.
    const std::string s = format_float(a.number(i), true);
    return std::strtod(s.c_str(), nullptr);
  }
  if (a.elem_type == ValueType::FLOAT64) return a.number(i);
  return a.integer(i);
}

// {"element_type", "count", "value": first kJsonArrayPreview elements}.
Json array_json(const Array& a) {
  Json values = Json::array();
  for (uint64_t k = 0; k < a.count && k < kJsonArrayPreview; ++k) {
    if (a.elem_type == ValueType::STRING)
      values.push_back(a.strings[k]);
    else if (a.elem_type == ValueType::ARRAY)
      values.push_back(array_json(a.arrays[k]));
    else
      values.push_back(element_json(a, k));
  }
  Json j;
  j["element_type"] = std::string(gguf::value_type_name(a.elem_type));
  j["count"] = a.count;
  j["value"] = std::move(values);
  if (a.count > kJsonArrayPreview) j["truncated"] = true;
  return j;
}

Json value_json(const gguf::Value& v) {
  switch (v.type) {
    case ValueType::STRING:
      return v.str;  // invalid UTF-8 is replaced when dumped
    case ValueType::BOOL:
      return v.u != 0;
    case ValueType::FLOAT32:
      return std::strtod(format_float(v.f, true).c_str(), nullptr);
    case ValueType::FLOAT64:
      return v.f;
    case ValueType::ARRAY:
      return array_json(v.arr);
    default:
      return is_unsigned(v.type) ? Json(v.u) : Json(v.i);
  }
}

void print_json(const gguf::File& f, std::ostream& out) {
  Json j;
  j["file"] = f.path();
  j["size"] = f.file_size();
  j["version"] = f.version();
  j["alignment"] = f.alignment();
  j["data_offset"] = f.data_offset();
  Json summary = Json::object();
  for (auto& [label, value] : extra_summary(f)) summary[label] = value;
  j["summary"] = std::move(summary);

  j["metadata_count"] = f.metadata().size();
  Json metadata = Json::array();
  for (const auto& kv : f.metadata()) {
    Json m;
    m["key"] = kv.key;
    m["type"] = std::string(gguf::value_type_name(kv.value.type));
    if (kv.value.type == ValueType::ARRAY) {
      m.update(array_json(kv.value.arr));  // element_type, count, value, truncated
    } else {
      m["value"] = value_json(kv.value);
    }
    metadata.push_back(std::move(m));
  }
  j["metadata"] = std::move(metadata);

  j["tensor_count"] = f.tensors().size();
  Json tensors = Json::array();
  for (const auto& t : f.tensors()) {
    tensors.push_back({{"name", t.name},
                       {"type", std::string(type_name(t.type))},
                       {"shape", t.dims},
                       {"elements", t.n_elements},
                       {"bytes", t.n_bytes},
                       {"offset", t.offset}});
  }
  j["tensors"] = std::move(tensors);

  const Totals totals = totals_of(f);
  Json by_type = Json::array();
  for (const auto& [type, tt] : totals.by_type) {
    by_type.push_back({{"type", std::string(type)},
                       {"tensors", tt.tensors},
                       {"parameters", tt.parameters},
                       {"bytes", tt.bytes}});
  }
  j["totals"] = {{"tensors", f.tensors().size()},
                 {"parameters", totals.parameters},
                 {"bytes", totals.bytes},
                 {"by_type", std::move(by_type)}};
  // Strings from the file may be any bytes: replace what is not UTF-8 (with
  // U+FFFD) so the output is always valid JSON.
  out << j.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
}

struct Options {
  std::string path;
  bool json = false;
};

void run_inspect(const Options& opts) {
  const gguf::File file = gguf::File::open(opts.path);
  if (opts.json) {
    print_json(file, std::cout);
  } else {
    print_text(file, std::cout);
  }
  std::cout.flush();
  if (!std::cout) throw Error("cannot write the output of inspect (" + opts.path + ")");
}

}  // namespace

void add_inspect_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<Options>();
  CLI::App* cmd =
      app.add_subcommand("inspect", "Show a GGUF file's header, metadata, tensors and totals");
  cmd->add_option("FILE", opts->path, "GGUF model or vocab file")->required();
  cmd->add_flag("--json", opts->json, "Print one JSON object instead of text");
  cmd->callback([opts, &exit_code] {
    run_inspect(*opts);
    exit_code = 0;
  });
}

}  // namespace hearth::cli
