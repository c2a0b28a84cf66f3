// hearth tokenize: show how a model's tokenizer splits a text. Loads only the
// tokenizer metadata (works on vocab-only GGUF files too), never the weights.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/read_file.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

namespace hearth::cli {
namespace {

struct TokenizeOptions {
  std::string model;
  std::string text;
  std::string file;
  bool text_given = false;  // TEXT may be given and empty
  bool no_bos = false;
  bool parse_special = false;
  bool ids = false;
  bool json = false;
};

// Bytes made readable on one line: C-style escapes for control characters,
// `quote` (none if '\0') and backslashes, \xNN for bytes that are not
// (complete) UTF-8, \u{..} for invisible characters; everything else as is.
std::string escape(std::string_view s, char quote) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      switch (b) {
        case '\n':
          out += "\\n";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\\':
          out += "\\\\";
          break;
        default:
          if (quote != '\0' && b == static_cast<unsigned char>(quote)) {
            out += '\\';
            out += quote;
          } else if (b < 0x20 || b == 0x7F) {
            out += "\\x";
            out += kHex[b >> 4];
            out += kHex[b & 15];
          } else {
            out += static_cast<char>(b);
          }
      }
      ++i;
      continue;
    }
    const size_t len = std::min(unicode::utf8_len(b), s.size() - i);
    const std::string_view seq = s.substr(i, len);
    if (len > 1 && unicode::is_valid_utf8(seq)) {
      std::vector<uint32_t> cpt;
      unicode::decode_utf8(seq, cpt);
      const auto cat = unicode::category(cpt[0]);
      if (unicode::is_whitespace(cpt[0]) || cat == unicode::Category::Control ||
          cat == unicode::Category::Undefined) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "\\u{%x}", cpt[0]);
        out += buf;
      } else {
        out += seq;
      }
      i += len;
    } else {
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 15];
      ++i;
    }
  }
  return out;
}

void write_out(const std::string& s) { std::fwrite(s.data(), 1, s.size(), stdout); }

int run(const TokenizeOptions& opt) {
  if (!opt.text_given && opt.file.empty()) {
    throw Error("tokenize: give the text to tokenize, or --file PATH");
  }
  const std::string text = opt.file.empty() ? opt.text : read_input(opt.file);

  const gguf::File file = gguf::File::open(opt.model);
  const auto tok = Tokenizer::from_gguf(file);
  const std::vector<TokenId> ids = tok->encode(text, !opt.no_bos, opt.parse_special);

  if (opt.ids) {
    std::string line;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i) line += ' ';
      line += std::to_string(ids[i]);
    }
    write_out(line + "\n");
  } else if (opt.json) {
    auto arr = nlohmann::json::array();
    for (const TokenId id : ids) {
      const std::string piece = tok->token_to_piece(id, true);
      nlohmann::json t = {{"id", id}, {"piece", piece}, {"text", tok->token_text(id)}};
      // A piece can be part of a UTF-8 character (byte tokens, byte-level
      // BPE): JSON strings cannot hold that, so the exact bytes go alongside
      // and "piece" shows U+FFFD in their place.
      if (!unicode::is_valid_utf8(piece)) {
        std::vector<int> bytes;
        for (const unsigned char b : piece) bytes.push_back(b);
        t["bytes"] = bytes;
      }
      arr.push_back(std::move(t));
    }
    write_out(arr.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  } else {
    std::string out;
    for (const TokenId id : ids) {
      out += std::to_string(id) + "\t'" + escape(tok->token_to_piece(id, true), '\'') + "'\t" +
             escape(tok->token_text(id), '\0') + "\n";
    }
    write_out(out);
  }
  std::fflush(stdout);
  std::fprintf(stderr, "hearth: %zu tokens (%s tokenizer, pre-tokenizer \"%s\")\n", ids.size(),
               std::string(tok->model_name()).c_str(),
               std::string(tok->pre_tokenizer_name()).c_str());
  return 0;
}

}  // namespace

void add_tokenize_command(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "tokenize",
      "Tokenize text with a model's tokenizer (only the vocab is read, not the weights)");
  cmd->add_option("-m,--model", opt->model, "GGUF model or vocab-only file")->required();
  auto* text = cmd->add_option("TEXT", opt->text, "Text to tokenize");
  auto* file = cmd->add_option("-f,--file", opt->file,
                               "Read the text from this file, byte for byte ('-': stdin)");
  text->excludes(file);
  cmd->add_flag("--no-bos", opt->no_bos,
                "Do not add the special tokens the model adds by default (BOS; EOS, CLS/SEP)");
  cmd->add_flag("--parse-special", opt->parse_special,
                "Match control-token text such as <|im_start|> as those tokens");
  auto* ids = cmd->add_flag("--ids", opt->ids, "Print only the ids, space-separated, on one line");
  auto* json = cmd->add_flag("--json", opt->json,
                             "Print [{\"id\", \"piece\", \"text\"[, \"bytes\"]}, ...] as JSON; "
                             "\"bytes\" holds a piece that is not valid UTF-8");
  ids->excludes(json);
  cmd->callback([opt, text, &exit_code] {
    opt->text_given = text->count() > 0;
    exit_code = run(*opt);
  });
}

}  // namespace hearth::cli
