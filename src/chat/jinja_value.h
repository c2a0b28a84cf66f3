// Values of the Jinja engine, modelled on the Python objects Jinja2 works
// with: None, bool, int, float, str (UTF-8, code-point semantics), list,
// tuple, dict (insertion ordered), dict views, range, plus objects
// (namespace, callables, generators, loop contexts) and Undefined.
//
// Lists and dicts are immutable once built: the immutable sandbox forbids
// list.append/dict.update, so sharing them by pointer is indistinguishable
// from Python's reference semantics. The only mutable container a template
// can reach is namespace(), which is an Object.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "chat/jinja_error.h"

namespace hearth::chat::jinja {

enum class VType : uint8_t { Undefined, None, Bool, Int, Float, Str, List, Dict, Object };

// Flavours of sequence value: how they print and which operations they allow.
enum class SeqKind : uint8_t { List, Tuple, DictItems, DictKeys, DictValues, Range };

// Containers deeper than this are refused: it bounds every recursive walk
// (repr, tojson, equality, destruction) over values a template builds.
inline constexpr int kMaxValueDepth = 400;

class Value;

struct UndefinedData {
  std::string message;                       // what an operation on it reports
  ErrorKind kind = ErrorKind::Undefined;     // Security for sandbox refusals
};

class Object {
 public:
  virtual ~Object() = default;
  // Python type name, as used in error messages ("Namespace", "generator").
  virtual std::string type_name() const = 0;
  // Python repr(); `depth` guards recursion through containers.
  virtual std::string repr(int depth) const;
};

struct ListData;
class DictData;

class Value {
 public:
  Value() : i_(0) {}  // Undefined with no name

  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value real(double d);
  static Value string(std::string s, bool markup = false);
  static Value list(std::vector<Value> items, SeqKind kind = SeqKind::List);
  static Value tuple(std::vector<Value> items) { return list(std::move(items), SeqKind::Tuple); }
  static Value range(int64_t start, int64_t stop, int64_t step);
  static Value dict(std::shared_ptr<DictData> d);
  static Value object(std::shared_ptr<Object> o);
  static Value undefined(std::string message, ErrorKind kind = ErrorKind::Undefined);
  // The undefined value a missing name gives: "'name' is undefined".
  static Value undefined_name(std::string_view name);

  VType type() const { return type_; }
  bool is_undefined() const { return type_ == VType::Undefined; }
  bool is_none() const { return type_ == VType::None; }
  bool is_bool() const { return type_ == VType::Bool; }
  bool is_int() const { return type_ == VType::Int; }      // not bool
  bool is_float() const { return type_ == VType::Float; }
  bool is_integral() const { return type_ == VType::Int || type_ == VType::Bool; }
  bool is_number() const { return is_integral() || type_ == VType::Float; }
  bool is_str() const { return type_ == VType::Str; }
  bool is_seq() const { return type_ == VType::List; }     // list, tuple, views, range
  bool is_list_kind(SeqKind k) const;
  bool is_dict() const { return type_ == VType::Dict; }
  bool is_object() const { return type_ == VType::Object; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return type_ == VType::Bool ? (b_ ? 1 : 0) : i_; }
  double as_double() const;
  const std::string& str() const { return *static_cast<const std::string*>(ptr_.get()); }
  bool markup() const { return markup_; }
  const ListData& seq() const { return *static_cast<const ListData*>(ptr_.get()); }
  const DictData& map() const { return *static_cast<const DictData*>(ptr_.get()); }
  Object* obj() const { return static_cast<Object*>(const_cast<void*>(ptr_.get())); }
  template <class T>
  T* as() const {
    return type_ == VType::Object ? dynamic_cast<T*>(obj()) : nullptr;
  }
  // Message and error kind an operation on this Undefined raises.
  const std::string& undefined_message() const;
  ErrorKind undefined_kind() const;
  [[noreturn]] void fail_undefined() const;

  // Identity of the shared payload (for `is sameas` and namespaces).
  const void* identity() const { return ptr_.get(); }
  // Nesting depth of containers (0 for scalars).
  int depth() const;

 private:
  VType type_ = VType::Undefined;
  bool markup_ = false;
  union {
    bool b_;
    int64_t i_;
    double f_;
  };
  std::shared_ptr<const void> ptr_;
};

struct ListData {
  SeqKind kind = SeqKind::List;
  std::vector<Value> items;
  int depth = 1;
  int64_t r_start = 0, r_stop = 0, r_step = 1;  // SeqKind::Range
};

// Python dict: insertion ordered, keys compared with Python equality
// (1 == 1.0 == True). Built once, then read only.
class DictData {
 public:
  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  // Inserts or overwrites; throws TemplateError (TypeError) for an unhashable key.
  void set(const Value& key, Value value);
  const std::vector<std::pair<Value, Value>>& items() const { return items_; }
  size_t size() const { return items_.size(); }
  int depth() const { return depth_; }

 private:
  std::vector<std::pair<Value, Value>> items_;
  std::unordered_map<std::string, size_t> index_;  // hash key -> position
  int depth_ = 1;
};

// Python's namespace(): the one mutable object; `{% set ns.x = v %}` writes it.
class Namespace : public Object {
 public:
  std::string type_name() const override { return "Namespace"; }
  std::string repr(int depth) const override;
  const Value* get(std::string_view name) const;
  void set(const std::string& name, Value value);
  // Drops all attributes (breaks reference cycles when a render ends).
  void clear();
  const std::vector<std::pair<std::string, Value>>& attrs() const { return attrs_; }

 private:
  std::vector<std::pair<std::string, Value>> attrs_;
  std::unordered_map<std::string, size_t> index_;
};

// Python type name of a value ("NoneType", "str", "dict", ...).
std::string type_name(const Value& v);
// Python truthiness.
bool truthy(const Value& v);
// Python str() / repr().
std::string to_str(const Value& v);
std::string repr(const Value& v, int depth = 0);
std::string repr_string(std::string_view s);
// Python float repr: shortest round-trip digits ("0.1", "1e+16", "1.0").
std::string float_repr(double d);
// Python ==.
bool py_eq(const Value& a, const Value& b, int depth = 0);
// Python ordering: <0, 0, >0. Throws TypeError ("'<' not supported between
// instances of 'str' and 'int'") for unorderable pairs; `op` names the operator.
int py_compare(const Value& a, const Value& b, std::string_view op, int depth = 0);
// Python hash identity for dict keys; nullopt when unhashable (list, dict).
std::optional<std::string> hash_key(const Value& v);

// nlohmann (ordered) JSON <-> values.
Value from_json(const nlohmann::ordered_json& j);

struct JsonOptions {
  bool ensure_ascii = false;
  std::optional<std::string> indent;   // nullopt: single line
  std::string item_sep = ", ";
  std::string key_sep = ": ";
  bool sort_keys = false;
};
// Python json.dumps(v, ...). Throws TypeError for values JSON cannot hold.
std::string to_json(const Value& v, const JsonOptions& opts);

// Largest string repr()/to_json() may build (the render's output limit):
// a list of a million copies of one long string is cheap to make but its
// repr is not. Set for the duration of a render by StringLimitScope.
size_t string_limit();
class StringLimitScope {
 public:
  explicit StringLimitScope(size_t limit);
  ~StringLimitScope();
  StringLimitScope(const StringLimitScope&) = delete;
  StringLimitScope& operator=(const StringLimitScope&) = delete;

 private:
  size_t saved_;
};

// markupsafe.escape for a plain string.
std::string html_escape(std::string_view s);

}  // namespace hearth::chat::jinja
