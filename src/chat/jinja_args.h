// Binding of call arguments to a builtin's Python-style signature
// (positional, then keyword; unknown or duplicate keywords are TypeErrors).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "chat/jinja_builtins.h"
#include "chat/jinja_error.h"
#include "chat/jinja_value.h"

namespace hearth::chat::jinja {

class Args {
 public:
  // `names`: parameter names after the subject. A trailing "*" entry makes
  // the remaining positional arguments available through rest().
  Args(std::string_view fn, const CallArgs& call, std::initializer_list<std::string_view> names)
      : fn_(fn), names_(names) {
    bool star = !names_.empty() && names_.back() == "*";
    if (star) names_.pop_back();
    slots_.assign(names_.size(), nullptr);
    for (size_t i = 0; i < call.pos.size(); ++i) {
      if (i < names_.size()) {
        slots_[i] = &call.pos[i];
      } else if (star) {
        rest_.push_back(&call.pos[i]);
      } else {
        throw TemplateError(ErrorKind::Type, std::string(fn) + "() takes at most " +
                                                 std::to_string(names_.size()) + " argument(s) (" +
                                                 std::to_string(call.pos.size()) + " given)");
      }
    }
    for (const auto& [k, v] : call.kw) {
      size_t i = 0;
      while (i < names_.size() && names_[i] != k) ++i;
      if (i == names_.size()) {
        throw TemplateError(ErrorKind::Type,
                            std::string(fn) + "() got an unexpected keyword argument '" + k + "'");
      }
      if (slots_[i]) {
        throw TemplateError(ErrorKind::Type,
                            std::string(fn) + "() got multiple values for argument '" + k + "'");
      }
      slots_[i] = &v;
    }
  }

  bool has(size_t i) const { return slots_[i] != nullptr; }
  const Value& get(size_t i, const Value& dflt) const { return slots_[i] ? *slots_[i] : dflt; }
  const Value& need(size_t i) const {
    if (!slots_[i]) {
      throw TemplateError(ErrorKind::Type, std::string(fn_) + "() missing required argument '" +
                                               std::string(names_[i]) + "'");
    }
    return *slots_[i];
  }
  const std::vector<const Value*>& rest() const { return rest_; }

 private:
  std::string_view fn_;
  std::vector<std::string_view> names_;
  std::vector<const Value*> slots_;
  std::vector<const Value*> rest_;
};

}  // namespace hearth::chat::jinja
