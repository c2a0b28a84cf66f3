// Python's operators on template values: arithmetic with Python's int/float
// rules (floor division, modulo sign, str/list repetition and concatenation,
// Markup escaping) and the `in` operator.
#include <cmath>

#include "chat/jinja_interp.h"

namespace hearth::chat::jinja {

namespace {

[[noreturn]] void type_error(std::string msg) { throw TemplateError(ErrorKind::Type, std::move(msg)); }
[[noreturn]] void value_error(std::string msg) { throw TemplateError(ErrorKind::Value, std::move(msg)); }

}  // namespace

// ---------------------------------------------------------------- operators

namespace {

[[noreturn]] void unsupported(const char* op, const Value& a, const Value& b) {
  type_error(std::string("unsupported operand type(s) for ") + op + ": '" + type_name(a) + "' and '" +
             type_name(b) + "'");
}
[[noreturn]] void overflow() { throw TemplateError(ErrorKind::Value, "integer overflow"); }
[[noreturn]] void zero_division(const char* msg) { throw TemplateError(ErrorKind::Value, msg); }

bool plain_seq(const Value& v) {
  return v.is_seq() && (v.seq().kind == SeqKind::List || v.seq().kind == SeqKind::Tuple);
}

Value repeat(Interp& in, const Value& seq, int64_t n) {
  if (n < 0) n = 0;
  const auto count = static_cast<uint64_t>(n);
  if (seq.is_str()) {
    const std::string& s = seq.str();
    if (!s.empty() && count > (uint64_t{1} << 40) / s.size()) in.check_size(SIZE_MAX);
    in.check_size(s.size() * count);
    std::string out;
    out.reserve(s.size() * count);
    for (uint64_t i = 0; i < count; ++i) out += s;
    return in.make_str(std::move(out), seq.markup());
  }
  const auto& items = seq.seq().items;
  if (!items.empty() && count > (uint64_t{1} << 40) / items.size()) in.limit_exceeded("list size limit");
  const uint64_t total = items.size() * count;
  if (total > 10'000'000) in.limit_exceeded("list size limit");
  in.step(total);
  in.charge_alloc(total * sizeof(Value));
  std::vector<Value> out;
  out.reserve(total);
  for (uint64_t i = 0; i < count; ++i) out.insert(out.end(), items.begin(), items.end());
  return Value::list(std::move(out), seq.seq().kind);
}

// CPython's float floor division / modulo.
std::pair<double, double> float_divmod(double vx, double wx) {
  double mod = std::fmod(vx, wx);
  double div = (vx - mod) / wx;
  if (mod != 0) {
    if ((wx < 0) != (mod < 0)) {
      mod += wx;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, wx);
  }
  double floordiv;
  if (div != 0) {
    floordiv = std::floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
  } else {
    floordiv = std::copysign(0.0, vx / wx);
  }
  return {floordiv, mod};
}

}  // namespace

Value binary_op(Interp& in, BinOp op, const Value& a, const Value& b) {
  // str.__mod__ formats any right operand, an Undefined included (as '').
  if (op == BinOp::Mod && a.is_str()) return percent_format(in, a, b);
  if (a.is_undefined()) a.fail_undefined();
  if (b.is_undefined()) b.fail_undefined();
  const bool num = a.is_number() && b.is_number();
  const bool ints = a.is_integral() && b.is_integral();
  switch (op) {
    case BinOp::Add: {
      if (ints) {
        int64_t r;
        if (__builtin_add_overflow(a.as_int(), b.as_int(), &r)) overflow();
        return Value::integer(r);
      }
      if (num) return Value::real(a.as_double() + b.as_double());
      if (a.is_str() && b.is_str()) {
        if (a.markup() || b.markup()) {
          // markupsafe.Markup.__add__/__radd__ escape the plain operand.
          const std::string l = a.markup() ? a.str() : html_escape(a.str());
          const std::string r = b.markup() ? b.str() : html_escape(b.str());
          in.check_size(l.size() + r.size());
          return in.make_str(l + r, true);
        }
        in.check_size(a.str().size() + b.str().size());
        return in.make_str(a.str() + b.str());
      }
      if (plain_seq(a) && plain_seq(b) && a.seq().kind == b.seq().kind) {
        in.step(a.seq().items.size() + b.seq().items.size());
        in.charge_alloc((a.seq().items.size() + b.seq().items.size()) * sizeof(Value));
        std::vector<Value> out = a.seq().items;
        out.insert(out.end(), b.seq().items.begin(), b.seq().items.end());
        return Value::list(std::move(out), a.seq().kind);
      }
      if (a.is_str()) type_error("can only concatenate str (not \"" + type_name(b) + "\") to str");
      if (plain_seq(a)) {
        const std::string t = type_name(a);
        type_error("can only concatenate " + t + " (not \"" + type_name(b) + "\") to " + t);
      }
      unsupported("+", a, b);
    }
    case BinOp::Sub: {
      if (ints) {
        int64_t r;
        if (__builtin_sub_overflow(a.as_int(), b.as_int(), &r)) overflow();
        return Value::integer(r);
      }
      if (num) return Value::real(a.as_double() - b.as_double());
      unsupported("-", a, b);
    }
    case BinOp::Mul: {
      if (ints) {
        int64_t r;
        if (__builtin_mul_overflow(a.as_int(), b.as_int(), &r)) overflow();
        return Value::integer(r);
      }
      if (num) return Value::real(a.as_double() * b.as_double());
      if ((a.is_str() || plain_seq(a)) && b.is_integral()) return repeat(in, a, b.as_int());
      if ((b.is_str() || plain_seq(b)) && a.is_integral()) return repeat(in, b, a.as_int());
      if ((a.is_str() || plain_seq(a)) && b.is_float()) {
        type_error("can't multiply sequence by non-int of type 'float'");
      }
      unsupported("*", a, b);
    }
    case BinOp::Div: {
      if (num) {
        if (b.as_double() == 0) zero_division("division by zero");
        return Value::real(a.as_double() / b.as_double());
      }
      unsupported("/", a, b);
    }
    case BinOp::FloorDiv: {
      if (ints) {
        const int64_t x = a.as_int(), y = b.as_int();
        if (y == 0) zero_division("integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) overflow();
        int64_t q = x / y;
        if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
        return Value::integer(q);
      }
      if (num) {
        if (b.as_double() == 0) zero_division("float floor division by zero");
        return Value::real(float_divmod(a.as_double(), b.as_double()).first);
      }
      unsupported("//", a, b);
    }
    case BinOp::Mod: {
      if (ints) {
        const int64_t x = a.as_int(), y = b.as_int();
        if (y == 0) zero_division("integer modulo by zero");
        if (y == -1) return Value::integer(0);
        int64_t m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) m += y;
        return Value::integer(m);
      }
      if (num) {
        if (b.as_double() == 0) zero_division("float modulo");
        return Value::real(float_divmod(a.as_double(), b.as_double()).second);
      }
      if (a.is_str()) return percent_format(in, a, b);
      unsupported("%", a, b);
    }
    case BinOp::Pow: {
      if (ints) {
        int64_t base = a.as_int(), e = b.as_int();
        if (e < 0) {
          if (base == 0) zero_division("0.0 cannot be raised to a negative power");
          return Value::real(std::pow(static_cast<double>(base), static_cast<double>(e)));
        }
        int64_t r = 1;
        while (e > 0) {
          if ((e & 1) && __builtin_mul_overflow(r, base, &r)) overflow();
          e >>= 1;
          if (e > 0 && __builtin_mul_overflow(base, base, &base)) overflow();
        }
        return Value::integer(r);
      }
      if (num) {
        const double x = a.as_double(), y = b.as_double();
        if (x == 0 && y < 0) zero_division("0.0 cannot be raised to a negative power");
        if (x < 0 && y != std::floor(y)) value_error("complex results are not supported");
        return Value::real(std::pow(x, y));
      }
      unsupported("** or pow()", a, b);
    }
  }
  unsupported("?", a, b);
}

bool contains(Interp& in, const Value& container, const Value& item) {
  switch (container.type()) {
    case VType::Undefined: return false;
    case VType::Str:
      if (!item.is_str()) {
        type_error("'in <string>' requires string as left operand, not " + type_name(item));
      }
      in.step(container.str().size() / 64);
      return container.str().find(item.str()) != std::string::npos;
    case VType::List:
      for (const Value& v : container.seq().items) {
        in.step();
        if (py_eq(v, item)) return true;
      }
      return false;
    case VType::Dict:
      if (!hash_key(item)) type_error("unhashable type: '" + type_name(item) + "'");
      return container.map().find(item) != nullptr;
    case VType::Object:
      if (container.as<Generator>()) {
        Iter it(in, container);
        while (auto v = it.next(in)) {
          in.step();
          if (py_eq(*v, item)) return true;
        }
        return false;
      }
      [[fallthrough]];
    default: type_error("argument of type '" + type_name(container) + "' is not iterable");
  }
}

}  // namespace hearth::chat::jinja
