#include "chat/jinja_lexer.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>

#include "chat/jinja_error.h"
#include "chat/jinja_unicode.h"
#include "chat/jinja_value.h"

namespace hearth::chat::jinja {

std::string normalize_source(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\r') {
      out += '\n';
      if (i + 1 < raw.size() && raw[i + 1] == '\n') ++i;
    } else {
      out += raw[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_ident_char(char c) { return is_ident_start(c) || is_digit(c); }

class Lexer {
 public:
  explicit Lexer(std::string_view src) : s_(src) {}

  std::vector<Token> run() {
    while (pos_ < s_.size()) {
      const size_t tag = find_tag(pos_);
      if (tag == std::string_view::npos) {
        emit_data(pos_, std::string(s_.substr(pos_)));
        pos_ = s_.size();
        break;
      }
      lex_tag(tag);
    }
    Token eof;
    eof.type = TokType::Eof;
    eof.line = line_at(s_.size());
    tokens_.push_back(std::move(eof));
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void fail(const std::string& msg, size_t at) {
    throw TemplateError(ErrorKind::Syntax, msg, line_at(at));
  }

  // Line of byte offset `at`; offsets are asked for in (nearly) increasing
  // order, so keep a running count.
  int line_at(size_t at) {
    if (at < line_pos_) {
      line_pos_ = 0;
      line_ = 1;
    }
    for (; line_pos_ < at && line_pos_ < s_.size(); ++line_pos_) {
      if (s_[line_pos_] == '\n') ++line_;
    }
    return line_;
  }

  bool starts(size_t at, std::string_view what) const {
    return at <= s_.size() && s_.substr(at, what.size()) == what;
  }

  size_t find_tag(size_t from) const {
    for (size_t i = from; i + 1 < s_.size(); ++i) {
      if (s_[i] == '{' && (s_[i + 1] == '{' || s_[i + 1] == '%' || s_[i + 1] == '#')) return i;
    }
    return std::string_view::npos;
  }

  // Skips Python-regex \s* from `at` (Unicode whitespace).
  size_t skip_space(size_t at) const {
    while (at < s_.size()) {
      size_t next = at;
      if (!uni::is_space(uni::next_cp(s_, next))) break;
      at = next;
    }
    return at;
  }

  void emit_data(size_t at, std::string text) {
    if (text.empty()) return;
    Token t;
    t.type = TokType::Data;
    t.value = std::move(text);
    t.line = line_at(at);
    tokens_.push_back(std::move(t));
  }

  void emit(TokType type, std::string value, size_t at) {
    Token t;
    t.type = type;
    t.value = std::move(value);
    t.line = line_at(at);
    tokens_.push_back(std::move(t));
  }

  // Jinja2's OptionalLStrip: what happens to the text before a tag.
  std::string strip_before(std::string_view text, char sign, bool is_variable) const {
    if (sign == '-') {
      return uni::strip(text, nullptr, false, true);  // str.rstrip(): all whitespace
    }
    if (sign != '+' && !is_variable) {
      // lstrip_blocks: spaces and tabs between the start of the line and a
      // block or comment tag go (Jinja2 3.1.2 checks for [^ \t]).
      const size_t nl = text.rfind('\n');
      const size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
      if (l_pos > 0 || line_starting_) {
        bool only_blank = true;
        for (size_t i = l_pos; i < text.size(); ++i) {
          if (text[i] != ' ' && text[i] != '\t') {
            only_blank = false;
            break;
          }
        }
        if (only_blank) return std::string(text.substr(0, l_pos));
      }
    }
    return std::string(text);
  }

  // `{%[-+]?\s*raw\s*(-%}\s*|%})` at `at`; returns the end or npos.
  size_t match_raw_begin(size_t at) const {
    size_t p = at + 2;
    if (p < s_.size() && (s_[p] == '-' || s_[p] == '+')) ++p;
    p = skip_space(p);
    if (!starts(p, "raw")) return std::string_view::npos;
    p = skip_space(p + 3);
    if (starts(p, "-%}")) return skip_space(p + 3);
    if (starts(p, "%}")) return p + 2;
    return std::string_view::npos;
  }

  void lex_tag(size_t tag) {
    const char kind = s_[tag + 1];
    char sign = 0;
    if (tag + 2 < s_.size() && (s_[tag + 2] == '-' || s_[tag + 2] == '+')) sign = s_[tag + 2];
    const std::string_view text = s_.substr(pos_, tag - pos_);
    const size_t raw_end = kind == '%' ? match_raw_begin(tag) : std::string_view::npos;
    emit_data(pos_, strip_before(text, sign, kind == '{'));

    if (raw_end != std::string_view::npos) {
      lex_raw(raw_end);
    } else if (kind == '#') {
      lex_comment(tag + 2 + (sign ? 1 : 0));
    } else {
      lex_code(tag, kind == '%', sign);
    }
  }

  void lex_comment(size_t from) {
    for (size_t j = from; j < s_.size(); ++j) {
      if (starts(j, "+#}")) {
        finish_match(j + 3);
        return;
      }
      if (starts(j, "-#}")) {
        finish_match(skip_space(j + 3));
        return;
      }
      if (starts(j, "#}")) {
        size_t end = j + 2;
        if (end < s_.size() && s_[end] == '\n') ++end;  // trim_blocks
        finish_match(end);
        return;
      }
    }
    fail("Missing end of comment tag", from);
  }

  void lex_raw(size_t from) {
    for (size_t j = from; j + 1 < s_.size(); ++j) {
      if (s_[j] != '{' || s_[j + 1] != '%') continue;
      size_t p = j + 2;
      char sign = 0;
      if (p < s_.size() && (s_[p] == '-' || s_[p] == '+')) sign = s_[p++];
      p = skip_space(p);
      if (!starts(p, "endraw")) continue;
      p = skip_space(p + 6);
      size_t end;
      if (starts(p, "+%}")) {
        end = p + 3;
      } else if (starts(p, "-%}")) {
        end = skip_space(p + 3);
      } else if (starts(p, "%}")) {
        end = p + 2;
        if (end < s_.size() && s_[end] == '\n') ++end;
      } else {
        continue;
      }
      emit_data(from, strip_before(s_.substr(from, j - from), sign, false));
      finish_match(end);
      return;
    }
    fail("Missing end of raw directive", from);
  }

  void finish_match(size_t end) {
    line_starting_ = end > 0 && s_[end - 1] == '\n';
    pos_ = end;
  }

  // Python-style digits with single underscores between groups: (\d+_)*\d+.
  size_t match_digits(size_t at) const {
    if (at >= s_.size() || !is_digit(s_[at])) return std::string_view::npos;
    size_t p = at;
    while (true) {
      while (p < s_.size() && is_digit(s_[p])) ++p;
      if (p + 1 < s_.size() && s_[p] == '_' && is_digit(s_[p + 1])) {
        ++p;
        continue;
      }
      return p;
    }
  }

  static std::string without_underscores(std::string_view v) {
    std::string out;
    for (char c : v) {
      if (c != '_') out += c;
    }
    return out;
  }

  // Float per Jinja2's float_re, which must not start right after a '.'.
  size_t match_float(size_t at) const {
    if (at > 0 && s_[at - 1] == '.') return std::string_view::npos;
    const size_t int_end = match_digits(at);
    if (int_end == std::string_view::npos) return std::string_view::npos;
    size_t p = int_end;
    size_t frac_end = std::string_view::npos;
    if (p < s_.size() && s_[p] == '.') frac_end = match_digits(p + 1);
    const size_t after_frac = frac_end == std::string_view::npos ? int_end : frac_end;
    if (after_frac < s_.size() && (s_[after_frac] == 'e' || s_[after_frac] == 'E')) {
      size_t q = after_frac + 1;
      if (q < s_.size() && (s_[q] == '+' || s_[q] == '-')) ++q;
      const size_t exp_end = match_digits(q);
      if (exp_end != std::string_view::npos) return exp_end;
    }
    return frac_end;
  }

  // Integer per Jinja2's integer_re; returns end, fills the value.
  size_t match_integer(size_t at, int64_t& value) {
    auto radix = [&](size_t p, int base, auto valid) -> size_t {
      const size_t start = p;
      while (true) {
        if (p < s_.size() && s_[p] == '_' && p + 1 < s_.size() && valid(s_[p + 1])) ++p;
        if (p < s_.size() && valid(s_[p])) {
          ++p;
        } else {
          break;
        }
      }
      if (p == start) return std::string_view::npos;
      parse_int(s_.substr(start, p - start), base, value, at);
      return p;
    };
    if (s_[at] == '0' && at + 1 < s_.size()) {
      const char x = static_cast<char>(s_[at + 1] | 0x20);
      if (x == 'b') {
        const size_t e = radix(at + 2, 2, [](char c) { return c == '0' || c == '1'; });
        if (e != std::string_view::npos) return e;
      } else if (x == 'o') {
        const size_t e = radix(at + 2, 8, [](char c) { return c >= '0' && c <= '7'; });
        if (e != std::string_view::npos) return e;
      } else if (x == 'x') {
        const size_t e = radix(at + 2, 16, [](char c) {
          return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
        });
        if (e != std::string_view::npos) return e;
      }
    }
    if (s_[at] == '0') {
      // 0(_?0)*
      size_t p = at + 1;
      while (true) {
        if (p < s_.size() && s_[p] == '0') {
          ++p;
        } else if (p + 1 < s_.size() && s_[p] == '_' && s_[p + 1] == '0') {
          p += 2;
        } else {
          break;
        }
      }
      value = 0;
      return p;
    }
    const size_t end = match_digits(at);
    parse_int(s_.substr(at, end - at), 10, value, at);
    return end;
  }

  void parse_int(std::string_view text, int base, int64_t& value, size_t at) {
    const std::string digits = without_underscores(text);
    const auto r = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
    if (r.ec != std::errc()) fail("integer literal too large", at);
  }

  // Python's unicode-escape decoding of a string literal body.
  std::string unescape(std::string_view body, size_t at) {
    std::string out;
    out.reserve(body.size());
    for (size_t i = 0; i < body.size(); ++i) {
      const char c = body[i];
      if (c != '\\' || i + 1 >= body.size()) {
        out += c;
        continue;
      }
      const char e = body[++i];
      auto hex = [&](int n) -> char32_t {
        if (i + static_cast<size_t>(n) >= body.size()) fail("truncated escape in string literal", at);
        char32_t v = 0;
        for (int k = 1; k <= n; ++k) {
          const char h = body[i + k];
          int d;
          if (is_digit(h)) {
            d = h - '0';
          } else if ((h | 0x20) >= 'a' && (h | 0x20) <= 'f') {
            d = (h | 0x20) - 'a' + 10;
          } else {
            fail("invalid escape in string literal", at);
          }
          v = v * 16 + static_cast<char32_t>(d);
        }
        i += n;
        return v;
      };
      switch (e) {
        case '\n': break;  // line continuation
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'v': out += '\v'; break;
        case 'N': fail("malformed \\N character escape", at);
        case 'x': uni::append_utf8(out, hex(2)); break;
        case 'u': uni::append_utf8(out, hex(4)); break;
        case 'U': {
          const char32_t v = hex(8);
          if (v > 0x10FFFF) fail("invalid escape in string literal", at);
          uni::append_utf8(out, v);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            char32_t v = static_cast<char32_t>(e - '0');
            for (int k = 0; k < 2 && i + 1 < body.size() && body[i + 1] >= '0' && body[i + 1] <= '7'; ++k) {
              v = v * 8 + static_cast<char32_t>(body[++i] - '0');
            }
            uni::append_utf8(out, v);
          } else {
            out += '\\';  // unknown escapes stay as written
            out += e;
          }
      }
    }
    return out;
  }

  void lex_code(size_t tag, bool block, char sign) {
    emit(block ? TokType::BlockBegin : TokType::VarBegin, "", tag);
    pos_ = tag + 2 + (sign ? 1 : 0);
    std::vector<char> balance;
    while (true) {
      if (pos_ >= s_.size()) {
        fail(block ? "unexpected end of template, expected end of statement block ('%}')"
                   : "unexpected end of template, expected end of print statement ('}}')",
             pos_);
      }
      if (balance.empty()) {
        if (block) {
          if (starts(pos_, "+%}")) {
            emit(TokType::BlockEnd, "", pos_);
            finish_match(pos_ + 3);
            return;
          }
          if (starts(pos_, "-%}")) {
            emit(TokType::BlockEnd, "", pos_);
            finish_match(skip_space(pos_ + 3));
            return;
          }
          if (starts(pos_, "%}")) {
            emit(TokType::BlockEnd, "", pos_);
            size_t end = pos_ + 2;
            if (end < s_.size() && s_[end] == '\n') ++end;  // trim_blocks
            finish_match(end);
            return;
          }
        } else {
          if (starts(pos_, "-}}")) {
            emit(TokType::VarEnd, "", pos_);
            finish_match(skip_space(pos_ + 3));
            return;
          }
          if (starts(pos_, "}}")) {
            emit(TokType::VarEnd, "", pos_);
            finish_match(pos_ + 2);
            return;
          }
        }
      }
      const char c = s_[pos_];
      // Whitespace (Unicode, as Python's \s).
      {
        const size_t after = skip_space(pos_);
        if (after != pos_) {
          pos_ = after;
          continue;
        }
      }
      if (is_digit(c)) {
        const size_t f = match_float(pos_);
        if (f != std::string_view::npos) {
          Token t;
          t.type = TokType::Float;
          t.value = without_underscores(s_.substr(pos_, f - pos_));
          const auto r = std::from_chars(t.value.data(), t.value.data() + t.value.size(), t.fval);
          if (r.ec == std::errc::result_out_of_range) {
            t.fval = t.value.find_first_of("eE") != std::string::npos &&
                             t.value.find("e-") == std::string::npos &&
                             t.value.find("E-") == std::string::npos
                         ? HUGE_VAL
                         : 0.0;
          }
          t.line = line_at(pos_);
          tokens_.push_back(std::move(t));
          pos_ = f;
          continue;
        }
        int64_t v = 0;
        const size_t e = match_integer(pos_, v);
        Token t;
        t.type = TokType::Integer;
        t.ival = v;
        t.value = std::string(s_.substr(pos_, e - pos_));
        t.line = line_at(pos_);
        tokens_.push_back(std::move(t));
        pos_ = e;
        continue;
      }
      if (is_ident_start(c) || static_cast<unsigned char>(c) >= 0x80) {
        size_t p = pos_;
        while (p < s_.size()) {
          if (is_ident_char(s_[p])) {
            ++p;
            continue;
          }
          if (static_cast<unsigned char>(s_[p]) >= 0x80) {
            size_t q = p;
            const char32_t cp = uni::next_cp(s_, q);
            if (uni::is_alnum(cp)) {
              p = q;
              continue;
            }
          }
          break;
        }
        if (p == pos_) fail(unexpected_char(pos_), pos_);
        emit(TokType::Name, std::string(s_.substr(pos_, p - pos_)), pos_);
        pos_ = p;
        continue;
      }
      if (c == '\'' || c == '"') {
        size_t p = pos_ + 1;
        while (p < s_.size() && s_[p] != c) {
          if (s_[p] == '\\') ++p;
          ++p;
        }
        if (p >= s_.size()) fail(unexpected_char(pos_), pos_);
        Token t;
        t.type = TokType::String;
        t.value = unescape(s_.substr(pos_ + 1, p - pos_ - 1), pos_);
        t.line = line_at(pos_);
        tokens_.push_back(std::move(t));
        pos_ = p + 1;
        continue;
      }
      static constexpr std::string_view kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
      bool matched = false;
      for (std::string_view op : kTwo) {
        if (starts(pos_, op)) {
          emit(TokType::Op, std::string(op), pos_);
          pos_ += 2;
          matched = true;
          break;
        }
      }
      if (matched) continue;
      static constexpr std::string_view kOne = "+-/*%~[](){}><=.:|,;";
      if (kOne.find(c) == std::string_view::npos) fail(unexpected_char(pos_), pos_);
      if (c == '(' || c == '[' || c == '{') {
        balance.push_back(c == '(' ? ')' : (c == '[' ? ']' : '}'));
      } else if (c == ')' || c == ']' || c == '}') {
        if (balance.empty()) fail(std::string("unexpected '") + c + "'", pos_);
        const char expected = balance.back();
        balance.pop_back();
        if (expected != c) {
          fail(std::string("unexpected '") + c + "', expected '" + expected + "'", pos_);
        }
      }
      emit(TokType::Op, std::string(1, c), pos_);
      ++pos_;
    }
  }

  std::string unexpected_char(size_t at) const {
    size_t p = at;
    const char32_t cp = uni::next_cp(s_, p);
    std::string ch;
    uni::append_utf8(ch, cp);
    return "unexpected char " + repr_string(ch) + " at " + std::to_string(at);
  }

  std::string_view s_;
  size_t pos_ = 0;
  bool line_starting_ = true;
  std::vector<Token> tokens_;
  size_t line_pos_ = 0;
  int line_ = 1;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) { return Lexer(source).run(); }

}  // namespace hearth::chat::jinja
