#include "tokenizer/regex.h"

// Both code unit widths are used, so every PCRE2 name carries its _8 / _32.
#define PCRE2_CODE_UNIT_WIDTH 0
#include <pcre2.h>

#include <new>

#include "util/error.h"

namespace hearth {

namespace {

// The PCRE2 API of one code unit width, as one type for the templates below.
#define HEARTH_PCRE2_API(W)                                                                     \
  struct Pcre2_##W {                                                                            \
    using Code = pcre2_code_##W;                                                                \
    using MatchData = pcre2_match_data_##W;                                                     \
    using MatchContext = pcre2_match_context_##W;                                               \
    using JitStack = pcre2_jit_stack_##W;                                                       \
    using Sptr = PCRE2_SPTR##W;                                                                 \
    static Code* compile(Sptr p, size_t n, int* error, PCRE2_SIZE* offset) {                    \
      return pcre2_compile_##W(p, n, PCRE2_DOLLAR_ENDONLY, error, offset, nullptr);             \
    }                                                                                           \
    static void jit_compile(Code* c) { pcre2_jit_compile_##W(c, PCRE2_JIT_COMPLETE); }          \
    static void free_code(Code* c) { pcre2_code_free_##W(c); }                                  \
    static MatchData* new_data(const Code* c) {                                                 \
      return pcre2_match_data_create_from_pattern_##W(c, nullptr);                              \
    }                                                                                           \
    static void free_data(MatchData* d) { pcre2_match_data_free_##W(d); }                       \
    static MatchContext* new_context() { return pcre2_match_context_create_##W(nullptr); }      \
    static void free_context(MatchContext* c) { pcre2_match_context_free_##W(c); }              \
    static void unlimit(MatchContext* c) {                                                      \
      pcre2_set_match_limit_##W(c, UINT32_MAX);                                                 \
      pcre2_set_depth_limit_##W(c, UINT32_MAX);                                                 \
      pcre2_set_heap_limit_##W(c, UINT32_MAX);                                                  \
    }                                                                                           \
    static JitStack* new_stack(size_t start, size_t max) {                                      \
      return pcre2_jit_stack_create_##W(start, max, nullptr);                                   \
    }                                                                                           \
    static void free_stack(JitStack* s) { pcre2_jit_stack_free_##W(s); }                        \
    static void use_stack(MatchContext* c, JitStack* s) {                                       \
      pcre2_jit_stack_assign_##W(c, nullptr, s);                                                \
    }                                                                                           \
    static int match(const Code* c, Sptr s, size_t n, size_t start, uint32_t options,           \
                     MatchData* d, MatchContext* ctx) {                                         \
      return pcre2_match_##W(c, s, n, start, options, d, ctx);                                  \
    }                                                                                           \
    static const PCRE2_SIZE* ovector(MatchData* d) { return pcre2_get_ovector_pointer_##W(d); } \
  };
HEARTH_PCRE2_API(8)
HEARTH_PCRE2_API(32)
#undef HEARTH_PCRE2_API

std::string pcre2_message(int code) {
  PCRE2_UCHAR8 buf[256];
  const int n = pcre2_get_error_message_8(code, buf, sizeof buf);
  return n > 0 ? std::string(reinterpret_cast<const char*>(buf), static_cast<size_t>(n))
               : "error " + std::to_string(code);
}

// Per-call match state. The JIT stack is only created when a match needs
// more than the 32 KiB machine stack PCRE2 uses by default (a group repeated
// once per character over a very long run of letters does).
template <typename P>
struct MatchState {
  typename P::MatchData* data = nullptr;
  typename P::MatchContext* context = nullptr;
  typename P::JitStack* jit_stack = nullptr;

  explicit MatchState(const typename P::Code* code)
      : data(P::new_data(code)), context(P::new_context()) {
    if (!data || !context) {
      release();
      throw std::bad_alloc();
    }
    // std::regex has no step limits; a long run of whitespace legitimately
    // backtracks once per character.
    P::unlimit(context);
  }
  ~MatchState() { release(); }
  MatchState(const MatchState&) = delete;
  MatchState& operator=(const MatchState&) = delete;

  void release() {
    if (data) P::free_data(data);
    if (context) P::free_context(context);
    if (jit_stack) P::free_stack(jit_stack);
  }
  bool grow_jit_stack() {
    if (jit_stack) return false;
    jit_stack = P::new_stack(64 * 1024, 1024 * 1024 * 1024);
    if (!jit_stack) return false;
    P::use_stack(context, jit_stack);
    return true;
  }
};

template <typename P, typename Unit>
void split_chunks(const void* compiled, const std::string& name, const Unit* text,
                  const std::vector<uint32_t>& chunks, std::vector<uint32_t>& out) {
  const auto* code = static_cast<const typename P::Code*>(compiled);
  MatchState<P> state(code);
  out.clear();
  size_t total = 0;
  for (const uint32_t len : chunks) total += len;
  // Most regexes cut text into pieces of a few characters. Reserved but
  // untouched memory costs nothing, so aim high rather than regrow.
  out.reserve(chunks.size() + total / 2);

  size_t start = 0;
  for (const uint32_t len : chunks) {
    const auto subject = reinterpret_cast<typename P::Sptr>(text + start);
    size_t last = 0;  // end of the previous match: the next gap starts here
    size_t pos = 0;
    uint32_t options = 0;
    while (pos <= len) {
      int rc = P::match(code, subject, len, pos, options, state.data, state.context);
      if (rc == PCRE2_ERROR_JIT_STACKLIMIT && state.grow_jit_stack()) {
        rc = P::match(code, subject, len, pos, options, state.data, state.context);
      }
      if (rc == PCRE2_ERROR_NOMATCH) {
        if (options == 0) break;
        // No non-empty match right after an empty one: move on one unit, as
        // std::regex_iterator does.
        options = 0;
        ++pos;
        continue;
      }
      if (rc < 0) {
        throw Error("pre-tokenizer regex " + name + " failed on a text of " + std::to_string(len) +
                    " characters: " + pcre2_message(rc));
      }
      const PCRE2_SIZE* ov = P::ovector(state.data);
      const size_t begin = ov[0], end = ov[1];
      if (begin > last) out.push_back(static_cast<uint32_t>(begin - last));
      if (end > begin) out.push_back(static_cast<uint32_t>(end - begin));
      last = end;
      pos = end;
      // After an empty match, first try a non-empty one at the same place.
      options = end == begin ? (PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED) : 0;
    }
    if (last < len) out.push_back(static_cast<uint32_t>(len - last));
    start += len;
  }
}

template <typename P, typename Unit>
void* compile(const std::basic_string<Unit>& pattern, const std::string& name) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  typename P::Code* code = P::compile(reinterpret_cast<typename P::Sptr>(pattern.data()),
                                      pattern.size(), &error, &offset);
  if (!code) {
    throw Error("pre-tokenizer regex " + name + " does not compile: " + pcre2_message(error) +
                " at offset " + std::to_string(offset));
  }
  // Without JIT support (some platforms) the interpreter gives the same
  // answers, only slower.
  P::jit_compile(code);
  return code;
}

}  // namespace

Regex::Regex(std::u32string_view pattern, Units units, std::string name)
    : units_(units), name_(std::move(name)) {
  if (units == kCodePoints) {
    code_ = compile<Pcre2_32>(std::u32string(pattern), name_);
    return;
  }
  std::string bytes;
  for (const char32_t u : pattern) {
    if (u > 0xFF) throw Error("pre-tokenizer regex " + name_ + " has a non-byte code unit");
    bytes += static_cast<char>(u);
  }
  code_ = compile<Pcre2_8>(bytes, name_);
}

Regex::~Regex() {
  if (!code_) return;
  if (units_ == kCodePoints) {
    Pcre2_32::free_code(static_cast<Pcre2_32::Code*>(code_));
  } else {
    Pcre2_8::free_code(static_cast<Pcre2_8::Code*>(code_));
  }
}

Regex::Regex(Regex&& other) noexcept
    : code_(other.code_), units_(other.units_), name_(std::move(other.name_)) {
  other.code_ = nullptr;
}

void Regex::split(std::string_view bytes, const std::vector<uint32_t>& chunks,
                  std::vector<uint32_t>& out) const {
  if (units_ != kBytes) throw Error("internal: regex " + name_ + " matches code points");
  split_chunks<Pcre2_8>(code_, name_, bytes.data(), chunks, out);
}

void Regex::split(std::u32string_view code_points, const std::vector<uint32_t>& chunks,
                  std::vector<uint32_t>& out) const {
  if (units_ != kCodePoints) throw Error("internal: regex " + name_ + " matches bytes");
  split_chunks<Pcre2_32>(code_, name_, code_points.data(), chunks, out);
}

}  // namespace hearth
