#include "tokenizer/vocab.h"

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <limits>

#include "gguf/gguf.h"
#include "util/error.h"

namespace hearth {

namespace {

constexpr std::string_view kTokensKey = "tokenizer.ggml.tokens";
constexpr std::string_view kScoresKey = "tokenizer.ggml.scores";
constexpr std::string_view kTokenTypeKey = "tokenizer.ggml.token_type";

[[noreturn]] void fail(const gguf::File& file, const std::string& what) {
  throw Error(file.path() + ": " + what);
}

uint32_t attr_from_type(int64_t type) {
  switch (static_cast<TokenType>(type)) {
    case TokenType::Undefined:
      return kAttrUndefined;
    case TokenType::Normal:
      return kAttrNormal;
    case TokenType::Unknown:
      return kAttrUnknown;
    case TokenType::Control:
      return kAttrControl;
    case TokenType::UserDefined:
      return kAttrUserDefined;
    case TokenType::Unused:
      return kAttrUnused;
    case TokenType::Byte:
      return kAttrByte;
  }
  return kAttrUndefined;
}

bool is_one_of(std::string_view text, std::initializer_list<std::string_view> list) {
  return std::find(list.begin(), list.end(), text) != list.end();
}

bool contains_any(std::string_view haystack, std::initializer_list<std::string_view> needles) {
  for (std::string_view n : needles) {
    if (haystack.find(n) != std::string_view::npos) return true;
  }
  return false;
}

// Token texts llama.cpp recognises as end-of-generation markers (its list in
// llama_vocab::impl::load; the files rarely say which tokens end a turn).
constexpr std::string_view kEogTexts[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<\uFF5Cend\u2581of\u2581sentence\uFF5C>",  // DeepSeek
    "[e~[",
};

}  // namespace

TokenType token_type_from_attr(uint32_t attr) {
  if (attr & kAttrControl) return TokenType::Control;
  if (attr & kAttrUnknown) return TokenType::Unknown;
  if (attr & kAttrUserDefined) return TokenType::UserDefined;
  if (attr & kAttrByte) return TokenType::Byte;
  if (attr & kAttrUnused) return TokenType::Unused;
  if (attr & kAttrNormal) return TokenType::Normal;
  return TokenType::Undefined;
}

Vocab Vocab::load(const gguf::File& file, const VocabDefaults& defaults) {
  Vocab v;
  v.model_ = file.get_string_or("tokenizer.ggml.model", "");
  v.pre_ = file.get_string_or("tokenizer.ggml.pre", "");
  v.read_tokens(file);
  v.read_special_ids(file, defaults);
  v.apply_text_fixups();

  for (TokenId id = 0; id < v.size(); ++id) {
    if (v.has_attr(id, kAttrControl | kAttrUserDefined | kAttrUnknown)) {
      v.special_tokens_.push_back(id);
    }
  }
  // Longest first, as llama.cpp matches them; equal lengths by id so that
  // the order is deterministic (llama.cpp's std::sort leaves it unspecified).
  std::stable_sort(v.special_tokens_.begin(), v.special_tokens_.end(), [&v](TokenId a, TokenId b) {
    return v.token(a).text.size() > v.token(b).text.size();
  });

  v.apply_model_attr_fixups(file);
  return v;
}

TokenId Vocab::find(std::string_view text) const {
  const auto it = text_to_id_.find(text);
  return it == text_to_id_.end() ? -1 : it->second;
}

bool Vocab::is_eog(TokenId id) const {
  return std::binary_search(eog_ids_.begin(), eog_ids_.end(), id);
}

void Vocab::read_tokens(const gguf::File& file) {
  const gguf::Array* tokens = file.get_array(kTokensKey, gguf::ValueType::STRING);
  if (!tokens) fail(file, std::string(kTokensKey) + " is missing: the file has no tokenizer vocab");
  if (tokens->count == 0) fail(file, std::string(kTokensKey) + " is empty");
  if (tokens->count > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
    fail(file, std::string(kTokensKey) + " has " + std::to_string(tokens->count) +
                   " entries, more than a token id can address");
  }
  const uint64_t n = tokens->count;
  const auto count_mismatch = [&](std::string_view key, uint64_t got) {
    fail(file, std::string(key) + " has " + std::to_string(got) + " entries, expected " +
                   std::to_string(n) + " (one per token in " + std::string(kTokensKey) + ")");
  };

  // Scores are float32 in current files, int32 in some old ones; absent
  // scores are all zero (as in llama.cpp).
  const gguf::Array* scores = nullptr;
  if (const gguf::Value* value = file.find(kScoresKey)) {
    scores = value->as_array();
    if (!scores || (scores->elem_type != gguf::ValueType::FLOAT32 &&
                    scores->elem_type != gguf::ValueType::INT32)) {
      fail(file, std::string(kScoresKey) + " should be an array of FLOAT32 (or INT32)");
    }
    if (scores->count != n) count_mismatch(kScoresKey, scores->count);
  }
  const gguf::Array* types = file.get_array(kTokenTypeKey, gguf::ValueType::INT32);
  if (types && types->count != n) count_mismatch(kTokenTypeKey, types->count);

  tokens_.resize(n);
  text_to_id_.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    TokenData& t = tokens_[i];
    t.text = tokens->strings[i];
    // An empty text would match everywhere as a special token; llama.cpp
    // renames it the same way.
    if (t.text.empty()) t.text = "[EMPTY_" + std::to_string(i) + "]";
    const auto [it, inserted] = text_to_id_.emplace(t.text, static_cast<TokenId>(i));
    if (!inserted) {
      fail(file, std::string(kTokensKey) + " lists the token \"" + t.text + "\" twice (ids " +
                     std::to_string(it->second) + " and " + std::to_string(i) + ")");
    }
    if (scores) t.score = static_cast<float>(scores->number(i));
    if (types) {
      const int64_t type = types->integer(i);
      if (type < 0 || type > static_cast<int64_t>(TokenType::Byte)) {
        fail(file, std::string(kTokenTypeKey) + "[" + std::to_string(i) + "] is " +
                       std::to_string(type) + ", not a token type (0..6)");
      }
      t.attr = attr_from_type(type);
    }
  }
}

void Vocab::read_special_ids(const gguf::File& file, const VocabDefaults& defaults) {
  const auto in_range_or_none = [this](TokenId id) { return contains(id) ? id : -1; };
  bos_ = in_range_or_none(defaults.bos);
  eos_ = in_range_or_none(defaults.eos);
  unk_ = in_range_or_none(defaults.unk);
  sep_ = in_range_or_none(defaults.sep);
  pad_ = in_range_or_none(defaults.pad);
  mask_ = in_range_or_none(defaults.mask);

  // In llama.cpp's order: the deprecated FIM keys come last and win.
  const std::pair<std::string_view, TokenId*> keys[] = {
      {"tokenizer.ggml.bos_token_id", &bos_},
      {"tokenizer.ggml.eos_token_id", &eos_},
      {"tokenizer.ggml.eot_token_id", &eot_},
      {"tokenizer.ggml.eom_token_id", &eom_},
      {"tokenizer.ggml.unknown_token_id", &unk_},
      {"tokenizer.ggml.seperator_token_id", &sep_},  // sic: the key is misspelt in GGUF
      {"tokenizer.ggml.padding_token_id", &pad_},
      {"tokenizer.ggml.mask_token_id", &mask_},
      {"tokenizer.ggml.fim_pre_token_id", &fim_pre_},
      {"tokenizer.ggml.fim_suf_token_id", &fim_suf_},
      {"tokenizer.ggml.fim_mid_token_id", &fim_mid_},
      {"tokenizer.ggml.fim_pad_token_id", &fim_pad_},
      {"tokenizer.ggml.fim_rep_token_id", &fim_rep_},
      {"tokenizer.ggml.fim_sep_token_id", &fim_sep_},
      {"tokenizer.ggml.prefix_token_id", &fim_pre_},
      {"tokenizer.ggml.suffix_token_id", &fim_suf_},
      {"tokenizer.ggml.middle_token_id", &fim_mid_},
  };
  for (const auto& [key, id] : keys) {
    if (!file.find(key)) continue;
    const int64_t value = file.get_int(key);
    // Converters write uint32 -1 for "no such token" (stories260K's
    // padding_token_id); llama.cpp then keeps the model's default.
    if (value == -1 || value == 0xFFFFFFFFll) continue;
    if (value < 0 || value >= size()) {
      fail(file, std::string(key) + " is " + std::to_string(value) + ", but the vocab has only " +
                     std::to_string(size()) + " tokens");
    }
    *id = static_cast<TokenId>(value);
  }

  add_bos_ = file.get_bool_or("tokenizer.ggml.add_bos_token", defaults.add_bos);
  add_eos_ = file.get_bool_or("tokenizer.ggml.add_eos_token", defaults.add_eos);
  add_sep_ = file.get_bool_or("tokenizer.ggml.add_sep_token", defaults.add_sep);
  add_space_prefix_ =
      file.get_bool_or("tokenizer.ggml.add_space_prefix", defaults.add_space_prefix);
  clean_spaces_ = defaults.clean_spaces;

  const auto require = [&](bool add, TokenId id, const char* add_key, const char* id_key) {
    if (add && id < 0) {
      fail(file, std::string(add_key) + " is true, but " + id_key + " is not set");
    }
  };
  require(add_bos_, bos_, "tokenizer.ggml.add_bos_token", "tokenizer.ggml.bos_token_id");
  require(add_eos_, eos_, "tokenizer.ggml.add_eos_token", "tokenizer.ggml.eos_token_id");
  require(add_sep_, sep_, "tokenizer.ggml.add_sep_token", "tokenizer.ggml.seperator_token_id");
}

// llama.cpp finds EOT/EOM/FIM tokens and the end-of-generation set by their
// text, and marks any it finds CONTROL even when the file says otherwise.
// It walks a hash map, so when several candidates exist which one becomes
// "the" EOT is arbitrary there; we take the lowest id. The EOG set and the
// CONTROL bits do not depend on that choice.
void Vocab::apply_text_fixups() {
  const auto detect = [this](TokenId& slot, std::initializer_list<std::string_view> texts) {
    if (slot >= 0) return;
    for (std::string_view text : texts) {
      const TokenId id = find(text);
      if (id >= 0 && (slot < 0 || id < slot)) slot = id;
    }
    if (slot >= 0) tokens_[slot].attr |= kAttrControl;
  };
  const std::string_view deepseek_eos = "<\uFF5Cend\u2581of\u2581sentence\uFF5C>";
  detect(eot_, {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", deepseek_eos, "<end_of_utterance>"});
  detect(eom_, {"<|eom_id|>"});
  detect(fim_pre_,
         {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<\uFF5Cfim\u2581begin\uFF5C>", "<PRE>",
          "\u2581<PRE>", "<|code_prefix|>", "<|prefix|>"});
  detect(fim_suf_, {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<\uFF5Cfim\u2581hole\uFF5C>",
                    "<SUF>", "\u2581<SUF>", "<|code_suffix|>", "<|suffix|>"});
  detect(fim_mid_, {"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<\uFF5Cfim\u2581end\uFF5C>",
                    "<MID>", "\u2581<MID>", "<|code_middle|>", "<|middle|>"});
  detect(fim_pad_, {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"});
  detect(fim_rep_, {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"});
  detect(fim_sep_, {"<|file_sep|>"});

  std::vector<TokenId> eog;
  for (TokenId id : {fim_pad_, fim_rep_, fim_sep_}) {
    if (id >= 0) eog.push_back(id);
  }
  for (std::string_view text : kEogTexts) {
    if (const TokenId id = find(text); id >= 0) {
      eog.push_back(id);
      tokens_[id].attr |= kAttrControl;
    }
  }
  // gpt-oss: these structural tokens are always rendered.
  for (std::string_view text : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}) {
    if (const TokenId id = find(text); id >= 0) tokens_[id].attr = kAttrUserDefined;
  }
  for (TokenId id : {eos_, eot_, eom_}) {
    if (id >= 0) eog.push_back(id);
  }
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());

  const auto eog_with_text = [&](std::initializer_list<std::string_view> texts) -> TokenId {
    for (TokenId id : eog) {
      if (is_one_of(token(id).text, texts)) return id;
    }
    return -1;
  };
  const auto drop_eog = [&](TokenId id, uint32_t new_attr) {
    eog.erase(std::remove(eog.begin(), eog.end(), id), eog.end());
    tokens_[id].attr = new_attr;
  };
  // o200k_harmony / solar-open: "<|end|>" ends a message, not the generation.
  const TokenId end = eog_with_text({"<|end|>"});
  const bool has_return = eog_with_text({"<|return|>"}) >= 0;
  const bool has_call = eog_with_text({"<|call|>", "<|calls|>"}) >= 0;
  const bool has_flush = eog_with_text({"<|flush|>"}) >= 0;
  if (end >= 0 && has_call && (has_return || has_flush)) drop_eog(end, kAttrUserDefined);
  // gemma4 / paddleocr: "</s>" is ordinary text there.
  const TokenId s = eog_with_text({"</s>"});
  if (s >= 0 && eog_with_text({"<|tool_response>"}) >= 0) drop_eog(s, kAttrNormal);

  eog_ids_ = std::move(eog);
}

// Per-token strip attributes llama.cpp sets by model name, since GGUF files
// do not carry them. Only phi-3's matter to SPM: whitespace after its
// special tokens is swallowed when they are matched in the text.
void Vocab::apply_model_attr_fixups(const gguf::File& file) {
  std::string name = file.get_string_or("general.name", "");
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const std::string arch = file.get_string_or("general.architecture", "");
  const auto set = [this](std::string_view text, uint32_t attr, bool on) {
    const TokenId id = find(text);
    if (id < 0) return;
    tokens_[id].attr = on ? (tokens_[id].attr | attr) : (tokens_[id].attr & ~attr);
  };

  if (contains_any(pre_, {"jina-v2-de", "jina-v2-es", "jina-v2-code"}) ||
      contains_any(arch, {"nomic-bert-moe", "jina-bert-v3"})) {
    set("<mask>", kAttrLstrip, true);
  } else if (contains_any(name, {"phi-3", "phi3"})) {
    for (TokenId id : special_tokens_) tokens_[id].attr |= kAttrRstrip;
    set("</s>", kAttrRstrip, true);
    for (std::string_view text : {"<unk>", "<s>", "<|endoftext|>"}) set(text, kAttrRstrip, false);
  } else if (contains_any(name, {"modern-bert"})) {
    set("[MASK]", kAttrLstrip, true);
  }
}

}  // namespace hearth
