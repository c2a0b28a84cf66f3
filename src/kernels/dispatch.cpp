// Run-time choice of the instruction-set path for the kernels.
//
// The CPU is probed once with __builtin_cpu_supports, which (in libgcc and
// compiler-rt) also checks via XGETBV that the OS saves the AVX / AVX-512
// register state, so a feature reported here is usable. A path is offered
// only when the CPU has every extension its files are compiled with
// (src/kernels/CMakeLists.txt), since the compiler may use any of them.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "kernels/matmul.h"

namespace hearth::kernels {
namespace {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512dq = false, avx512vl = false;
  bool avx512vnni = false, avx512bf16 = false;
};

CpuFeatures detect_features() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  f.f16c = __builtin_cpu_supports("f16c");
  f.avx512f = __builtin_cpu_supports("avx512f");
  f.avx512bw = __builtin_cpu_supports("avx512bw");
  f.avx512dq = __builtin_cpu_supports("avx512dq");
  f.avx512vl = __builtin_cpu_supports("avx512vl");
  f.avx512vnni = __builtin_cpu_supports("avx512vnni");
  f.avx512bf16 = __builtin_cpu_supports("avx512bf16");
#endif
  return f;
}

const CpuFeatures& features() {
  static const CpuFeatures f = detect_features();
  return f;
}

constexpr Isa kAllIsas[] = {Isa::Scalar, Isa::Avx2, Isa::Avx512};

Isa best_isa() {
  Isa best = Isa::Scalar;
  for (Isa isa : kAllIsas) {
    if (cpu_supports(isa)) best = isa;
  }
  return best;
}

std::optional<Isa> parse_isa(const char* text) {
  std::string s(text);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (Isa isa : kAllIsas) {
    if (s == isa_name(isa)) return isa;
  }
  return std::nullopt;
}

// HEARTH_ISA if set and usable, else the best path; one warning line when the
// request cannot be honoured.
Isa initial_isa() {
  const Isa best = best_isa();
  const char* env = std::getenv("HEARTH_ISA");
  if (env == nullptr || *env == '\0') return best;
  const std::optional<Isa> wanted = parse_isa(env);
  const std::string best_name(isa_name(best));
  if (!wanted) {
    std::fprintf(stderr, "hearth: warning: HEARTH_ISA=%s is not one of scalar, avx2, avx512; using %s\n", env,
                 best_name.c_str());
    return best;
  }
  if (!cpu_supports(*wanted)) {
    std::fprintf(stderr, "hearth: warning: HEARTH_ISA=%s but this CPU does not support it; using %s\n", env,
                 best_name.c_str());
    return best;
  }
  return *wanted;
}

std::atomic<Isa>& active() {
  static std::atomic<Isa> isa{initial_isa()};
  return isa;
}

}  // namespace

bool cpu_supports(Isa isa) {
  const CpuFeatures& f = features();
  const bool avx2 = f.avx2 && f.fma && f.f16c;
  switch (isa) {
    case Isa::Scalar:
      return true;
    case Isa::Avx2:
      return avx2;
    case Isa::Avx512:
      // No kernel uses AVX512_BF16 (BF16 weights widen exactly to F32), so
      // Ice Lake and Tiger Lake laptops get this path too.
      return avx2 && f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl && f.avx512vnni;
  }
  return false;
}

Isa active_isa() { return active().load(std::memory_order_relaxed); }

bool force_isa(Isa isa) {
  if (!cpu_supports(isa)) return false;
  active().store(isa, std::memory_order_relaxed);
  return true;
}

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar:
      return "scalar";
    case Isa::Avx2:
      return "avx2";
    case Isa::Avx512:
      return "avx512";
  }
  return "unknown";
}

std::string cpu_features_string() {
  const CpuFeatures& f = features();
  std::string list;
  auto add = [&](bool present, const char* name) {
    if (!present) return;
    if (!list.empty()) list += ' ';
    list += name;
  };
  add(f.avx2, "avx2");
  add(f.fma, "fma");
  add(f.f16c, "f16c");
  add(f.avx512f, "avx512f");
  add(f.avx512bw, "avx512bw");
  add(f.avx512dq, "avx512dq");
  add(f.avx512vl, "avx512vl");
  add(f.avx512vnni, "avx512_vnni");
  add(f.avx512bf16, "avx512_bf16");
  if (list.empty()) list = "none";
  return std::string(isa_name(active_isa())) + " (cpu: " + list + ")";
}

}  // namespace hearth::kernels
