#include "tokenizer/bpe_pre_tokenizer.h"

#include <algorithm>
#include <array>
#include <string>

#include "tokenizer/unicode.h"
#include "util/error.h"

namespace hearth {

namespace {

// ---------------------------------------------------------------------------
// The regex sets, as llama.cpp's llm_tokenizer_bpe spells them (its adapted
// forms: (?i:...) rewritten as explicit [sS] classes, which std::regex
// needs). Non-ASCII characters are written as escapes so that look-alikes
// (U+212A KELVIN SIGN vs "K") cannot be confused.

constexpr std::string_view kGpt2 =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";

constexpr std::string_view kLlama3 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

constexpr std::string_view kQwen2 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

constexpr std::string_view kQwen35 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?"
    "[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

// CJK ideographs U+4E00..U+9FA5, U+0800..U+4E00 and Hangul U+AC00..U+D7FF.
constexpr std::string_view kDeepseekCjk = "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+";

// Upper-, lower- and title-case letters, as DeepSeek LLM's tokenizer lists them.
constexpr std::string_view kDeepseekLetters =
    "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293"
    "\u0295-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C"
    "\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5"
    "\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77"
    "\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59"
    "\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC"
    "\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107"
    "\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139"
    "\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE"
    "\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E"
    "\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A\U00010400-\U0001044F"
    "\U000104B0-\U000104D3\U000104D8-\U000104FB\U00010C80-\U00010CB2\U00010CC0-\U00010CF2"
    "\U000118A0-\U000118DF\U0001E900-\U0001E943]+";

constexpr std::string_view kDeepseekPunct =
    "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+";

constexpr std::string_view kDeepseekV3Words =
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?"
    "[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+";

// Split on anything but whitespace and a few sentence marks.
constexpr std::string_view kPoro = " ?[^(\\s|.,!?\u2026\u3002\uFF0C\u3001\u0964\u06D4\u060C)]+";

constexpr std::string_view kTekken =
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|"
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}|"
    " ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

constexpr std::string_view kGpt4o =
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+"
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|"
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*"
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

constexpr std::string_view kBailingMoe =
    "'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}|"
    " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+";

constexpr std::string_view kSeedCoder =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

struct RegexSet {
  std::string_view name;
  std::vector<std::string_view> regexes;
};

const std::vector<RegexSet>& regex_sets() {
  static const std::vector<RegexSet> sets = {
      {"default", {"[\\p{P}\\$\\+<=>\\^~\\|]+", kGpt2, "\\p{N}+", "[0-9][0-9][0-9]"}},
      {"gpt2", {kGpt2}},
      {"llama3", {kLlama3}},
      {"qwen2", {kQwen2}},
      {"qwen35", {kQwen35}},
      {"starcoder", {"\\p{N}", kGpt2}},
      {"falcon", {"[\\p{P}\\$\\+<=>\\^~\\|`]+", kGpt2, "[0-9][0-9][0-9]"}},
      {"deepseek-llm",
       {"[\r\n]", kDeepseekLetters, kDeepseekPunct, "\\s+$", kDeepseekCjk, "\\p{N}+"}},
      {"deepseek-coder", {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", kDeepseekCjk, "\\p{N}"}},
      {"deepseek-v3",
       {"\\p{N}{1,3}", "[\u4E00-\u9FA5\u3040-\u309F\u30A0-\u30FF]+", kDeepseekV3Words}},
      {"poro", {kPoro}},
      {"viking", {kPoro, "\\p{N}"}},
      {"tekken", {kTekken}},
      {"chameleon",
       {"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )", "\\p{N}",
        "[\\p{P}!-/:-@\\[-`{-~]", kGpt2}},
      {"gpt4o", {kGpt4o}},
      {"bailingmoe", {kBailingMoe}},
      {"seed-coder", {kSeedCoder}},
  };
  return sets;
}

// tokenizer.ggml.pre values and the load-time settings llama.cpp gives them
// (llama_vocab::impl::load). Fields: name, regex set, clean_spaces,
// ignore_merges, add_bos, add_sep, no_default_bos.
const std::vector<BpePreConfig>& pre_configs() {
  static const std::vector<BpePreConfig> configs = [] {
    std::vector<BpePreConfig> c;
    const auto add = [&c](std::initializer_list<std::string_view> names, std::string_view set,
                          bool clean, bool ignore_merges = false, bool add_bos = false,
                          bool add_sep = false, bool no_bos = false) {
      for (std::string_view n : names) {
        c.push_back({n, set, clean, ignore_merges, add_bos, add_sep, no_bos});
      }
    };
    add({"default", ""}, "default", true);
    add({"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"},
        "llama3", true, /*ignore_merges=*/true, /*add_bos=*/true);
    add({"dbrx", "smaug-bpe"}, "llama3", true);
    add({"deepseek-llm"}, "deepseek-llm", false);
    add({"deepseek-coder"}, "deepseek-coder", false);
    add({"deepseek-v3", "hunyuan-dense"}, "deepseek-v3", false);
    add({"falcon"}, "falcon", true);
    add({"mpt", "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de",
         "a.x-4.0", "mellum", "modern-bert", "exaone4", "olmo", "jais"},
        "gpt2", true);
    add({"trillion", "granite-docling"}, "gpt2", false);
    add({"jina-v1-en", "jina-v2-code", "roberta-bpe"}, "gpt2", true, false, false,
        /*add_sep=*/true);
    add({"starcoder", "refact", "codeshell", "exaone", "minerva-7b"}, "starcoder", true);
    add({"command-r", "smollm"}, "starcoder", false);
    add({"qwen2", "deepseek-r1-qwen", "hunyuan", "solar-open", "grok-2"}, "qwen2", false);
    add({"stablelm2", "megrez"}, "qwen2", true);
    add({"qwen35"}, "qwen35", false);
    add({"poro-chat"}, "poro", false);
    add({"bloom", "gpt3-finnish"}, "poro", true);
    add({"glm4", "chatglm-bpe"}, "llama3", true, false, false, false, /*no_bos=*/true);
    add({"viking"}, "viking", false);
    add({"tekken"}, "tekken", false, /*ignore_merges=*/true, /*add_bos=*/true);
    add({"chameleon"}, "chameleon", false, false, /*add_bos=*/true);
    add({"gpt-4o", "llama4", "minimax-m2"}, "gpt4o", false);
    add({"bailingmoe", "bailingmoe2", "llada-moe"}, "bailingmoe", false);
    add({"seed-coder"}, "seed-coder", false);
    return c;
  }();
  return configs;
}

// The category names llama.cpp rewrites, and what each becomes in the
// collapsed text (a byte) and the ASCII characters it still stands for.
struct CollapsedClass {
  std::string_view property;
  char32_t code;
  std::string_view ascii;  // regex class members, already escaped
};
constexpr std::array<CollapsedClass, 10> kCollapsedClasses = {{
    {"\\p{N}", 0xD1, "0-9"},
    {"\\p{L}", 0xD2, "A-Za-z"},
    {"\\p{P}", 0xD3, "!-#%-*,-/:-;?-@\\[-\\]_\\{\\}"},
    {"\\p{M}", 0xD4, ""},
    {"\\p{S}", 0xD5, "\\$\\+<->^`\\|"},  // sic: no '~'
    // Letter subclasses all collapse to "any letter".
    {"\\p{Lu}", 0xD2, "A-Za-z"},
    {"\\p{Ll}", 0xD2, "A-Za-z"},
    {"\\p{Lt}", 0xD2, "A-Za-z"},
    {"\\p{Lm}", 0xD2, "A-Za-z"},
    {"\\p{Lo}", 0xD2, "A-Za-z"},
}};
constexpr char32_t kCollapsedOther = 0xD0;

std::u32string wide_pattern(std::string_view regex) {
  std::vector<uint32_t> cpts;
  unicode::decode_utf8(regex, cpts);
  return std::u32string(cpts.begin(), cpts.end());
}

}  // namespace

namespace bpe_detail {

bool uses_categories(std::string_view regex) {
  return std::any_of(kCollapsedClasses.begin(), kCollapsedClasses.end(),
                     [&](const CollapsedClass& c) { return regex.find(c.property) != regex.npos; });
}

// llama.cpp's rewrite of a category regex for the collapsed text: every
// \p{..} becomes [<code><ascii>] (or just <code><ascii> inside brackets).
// Inside/outside brackets is tracked the way it does (an unescaped '[' opens,
// an unescaped ']' closes), which is enough for the patterns above.
std::u32string collapse_pattern(std::string_view regex) {
  std::u32string out;
  bool inside = false;
  for (size_t i = 0; i < regex.size(); ++i) {
    const char c = regex[i];
    if (c == '[' && (i == 0 || regex[i - 1] != '\\')) {
      out += U'[';
      inside = true;
      continue;
    }
    if (inside && c == ']' && regex[i - 1] != '\\') {
      out += U']';
      inside = false;
      continue;
    }
    if (c == '\\' && i + 3 < regex.size() && regex[i + 1] == 'p' && regex[i + 2] == '{') {
      const size_t close = regex.find('}', i + 3);
      if (close != regex.npos && close <= i + 10) {
        const std::string_view property = regex.substr(i, close - i + 1);
        const auto it =
            std::find_if(kCollapsedClasses.begin(), kCollapsedClasses.end(),
                         [&](const CollapsedClass& k) { return k.property == property; });
        if (it != kCollapsedClasses.end()) {
          if (!inside) out += U'[';
          out += it->code;
          for (const char a : it->ascii) out += static_cast<char32_t>(a);
          if (!inside) out += U']';
          i = close;
          continue;
        }
      }
    }
    out += static_cast<char32_t>(static_cast<unsigned char>(c));
  }
  return out;
}

char32_t collapse_codepoint(uint32_t cpt) {
  if (cpt < 0x80) return cpt;
  if (unicode::is_whitespace(cpt)) return U'\v';
  switch (unicode::category(cpt)) {
    case unicode::Category::Number:
      return kCollapsedClasses[0].code;
    case unicode::Category::Letter:
      return kCollapsedClasses[1].code;
    case unicode::Category::Punctuation:
      return kCollapsedClasses[2].code;
    case unicode::Category::AccentMark:
      return kCollapsedClasses[3].code;
    case unicode::Category::Symbol:
      return kCollapsedClasses[4].code;
    default:
      return kCollapsedOther;
  }
}

const std::vector<std::string_view>* regex_set(std::string_view name) {
  for (const RegexSet& s : regex_sets()) {
    if (s.name == name) return &s.regexes;
  }
  return nullptr;
}

}  // namespace bpe_detail

using bpe_detail::collapse_codepoint;
using bpe_detail::collapse_pattern;
using bpe_detail::uses_categories;

const BpePreConfig* find_bpe_pre_config(std::string_view pre) {
  for (const BpePreConfig& c : pre_configs()) {
    if (c.name == pre) return &c;
  }
  return nullptr;
}

std::vector<std::string_view> supported_bpe_pre_names() {
  std::vector<std::string_view> names;
  for (const BpePreConfig& c : pre_configs()) {
    if (!c.name.empty()) names.push_back(c.name);
  }
  return names;
}

BpePreTokenizer::BpePreTokenizer(const BpePreConfig& config) : config_(config) {
  const std::vector<std::string_view>* regexes = bpe_detail::regex_set(config.regex_set);
  if (!regexes) throw Error("internal: no regex set \"" + std::string(config.regex_set) + "\"");
  for (size_t i = 0; i < regexes->size(); ++i) {
    const std::string_view regex = (*regexes)[i];
    std::string name = std::string(config.regex_set) + "[" + std::to_string(i) + "]";
    if (uses_categories(regex)) {
      regexes_.emplace_back(collapse_pattern(regex), Regex::kBytes, std::move(name));
      any_bytes_ = true;
    } else {
      regexes_.emplace_back(wide_pattern(regex), Regex::kCodePoints, std::move(name));
      any_code_points_ = true;
    }
  }
}

void BpePreTokenizer::split(std::string_view text, std::vector<uint32_t>& words) const {
  words.clear();
  if (text.size() >= UINT32_MAX) {
    throw Error("a text of " + std::to_string(text.size()) +
                " bytes is too long to tokenize in one piece (4 GiB at most)");
  }
  // The subjects the regexes run on, one unit per code point. Filled with
  // push_back after reserve: for a large text, zero-filling first would
  // touch every page twice.
  std::string collapsed;
  std::u32string wide;
  if (any_bytes_) collapsed.reserve(text.size());
  if (any_code_points_) wide.reserve(text.size());
  uint32_t n = 0;
  for (size_t pos = 0; pos < text.size(); ++n) {
    const uint32_t c = unicode::decode_next(text, pos);
    if (any_bytes_) collapsed.push_back(static_cast<char>(collapse_codepoint(c)));
    if (any_code_points_) wide.push_back(c >= 0x80 && unicode::is_whitespace(c) ? U'\v' : c);
  }
  if (n == 0) return;

  words.push_back(n);
  std::vector<uint32_t> next;
  for (const Regex& regex : regexes_) {
    if (regex.units() == Regex::kBytes) {
      regex.split(collapsed, words, next);
    } else {
      regex.split(wide, words, next);
    }
    words.swap(next);
  }
}

}  // namespace hearth
