#include "golden.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "shared_data.h"

namespace hearth::testing {
namespace {

// First index of the maximum (the reference runtime's tie rule).
int32_t first_argmax(const float* x, int32_t n) {
  int32_t best = 0;
  for (int32_t i = 1; i < n; ++i) {
    if (x[i] > x[best]) best = i;
  }
  return best;
}

}  // namespace

Golden load_golden(const std::filesystem::path& shared, const std::string& name) {
  const auto dir = shared / "golden";
  std::ifstream in(dir / (name + ".json"));
  if (!in) {
    ADD_FAILURE() << "missing golden " << (dir / (name + ".json"));
    return {};
  }
  const auto j = nlohmann::json::parse(in);
  Golden g;
  g.name = name;
  g.model_file = j.at("model_file").get<std::string>();
  g.n_vocab = j.at("n_vocab").get<int32_t>();
  g.tokens = j.at("tokens").get<std::vector<int32_t>>();
  g.greedy_tokens = j.at("greedy").at("tokens").get<std::vector<int32_t>>();
  g.greedy_margin = j.at("greedy").at("margin").get<std::vector<float>>();
  g.logits = read_f32_file(dir / j.at("logits_file").get<std::string>());
  if (j.contains("vs_dequantized_weights_f32")) {
    const auto& d = j.at("vs_dequantized_weights_f32");
    g.dequant_logits = read_f32_file(dir / d.at("reference_logits_file").get<std::string>());
    g.peer_vs_dequant_rel_rms = d.at("rel_rms").get<double>();
    g.dequant_greedy_tokens = d.at("reference_greedy_tokens").get<std::vector<int32_t>>();
    g.dequant_greedy_margin = d.at("reference_greedy_margin").get<std::vector<float>>();
  }
  EXPECT_EQ(g.logits.size(), g.tokens.size() * static_cast<size_t>(g.n_vocab)) << name;
  return g;
}

LogitsDiff compare_logits(const std::vector<float>& ours, const std::vector<float>& ref,
                          int32_t n_vocab) {
  LogitsDiff d;
  if (ours.size() != ref.size() || n_vocab <= 0) {
    ADD_FAILURE() << "logits sizes differ: " << ours.size() << " vs " << ref.size();
    d.rel_rms = INFINITY;
    return d;
  }
  double num = 0, den = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    const double diff = static_cast<double>(ours[i]) - ref[i];
    num += diff * diff;
    den += static_cast<double>(ref[i]) * ref[i];
    d.max_abs = std::max(d.max_abs, std::fabs(diff));
  }
  d.rel_rms = std::sqrt(num / den);
  d.rows = static_cast<int>(ours.size() / n_vocab);
  for (int r = 0; r < d.rows; ++r) {
    const size_t off = static_cast<size_t>(r) * n_vocab;
    d.argmax_agree += first_argmax(ours.data() + off, n_vocab) == first_argmax(ref.data() + off, n_vocab);
  }
  return d;
}

}  // namespace hearth::testing
