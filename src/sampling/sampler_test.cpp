#include "sampling/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <set>
#include <vector>

#include "sampling/sampler_detail.h"
#include "util/error.h"

namespace hearth {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Parameters with every filter and penalty off.
SamplingParams plain(float temperature, uint64_t seed = 1) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.repeat_penalty = 1.0f;
  p.frequency_penalty = 0.0f;
  p.presence_penalty = 0.0f;
  p.seed = seed;
  return p;
}

std::vector<int> histogram(Sampler& s, const std::vector<float>& logits, int draws) {
  std::vector<int> h(logits.size(), 0);
  for (int i = 0; i < draws; ++i) {
    const int32_t t = s.sample(logits.data());
    EXPECT_GE(t, 0);
    EXPECT_LT(t, static_cast<int32_t>(logits.size()));
    if (t >= 0 && t < static_cast<int32_t>(logits.size())) {
      ++h[static_cast<size_t>(t)];
    }
  }
  return h;
}

std::set<int32_t> drawn_set(const SamplingParams& p, const std::vector<float>& logits, int draws) {
  Sampler s(p, static_cast<int32_t>(logits.size()));
  const std::vector<int> h = histogram(s, logits, draws);
  std::set<int32_t> out;
  for (size_t i = 0; i < h.size(); ++i) {
    if (h[i] > 0) {
      out.insert(static_cast<int32_t>(i));
    }
  }
  return out;
}

// The ids filter_candidates keeps (no penalties).
std::set<int32_t> kept_set(const SamplingParams& p, const std::vector<float>& logits) {
  std::vector<sampling_detail::Candidate> c;
  sampling_detail::load_logits(p, logits.data(), static_cast<int32_t>(logits.size()), {}, c);
  const size_t kept = sampling_detail::filter_candidates(p, c);
  std::set<int32_t> out;
  for (size_t i = 0; i < kept; ++i) {
    out.insert(c[i].second);
  }
  EXPECT_EQ(out.size(), kept);
  return out;
}

// Checks observed counts against expected probabilities: every bucket within
// 5 binomial standard deviations, and Pearson's chi-square below a bound far
// in the tail (p ~ 1e-5 for the degrees of freedom used here).
void expect_matches(const std::vector<int>& counts, const std::vector<double>& probs, int draws,
                    double chi2_bound) {
  ASSERT_EQ(counts.size(), probs.size());
  double chi2 = 0.0;
  for (size_t i = 0; i < probs.size(); ++i) {
    const double expected = draws * probs[i];
    if (probs[i] == 0.0) {
      EXPECT_EQ(counts[i], 0) << "token " << i << " has probability 0";
      continue;
    }
    const double sd = std::sqrt(draws * probs[i] * (1.0 - probs[i]));
    EXPECT_NEAR(counts[i], expected, 5.0 * sd + 1.0) << "token " << i;
    chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
  }
  EXPECT_LT(chi2, chi2_bound);
}

std::vector<double> softmax(const std::vector<float>& logits, double t,
                            const std::set<int32_t>* only = nullptr) {
  double m = -1e300;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (std::isfinite(logits[i]) && (!only || only->count(static_cast<int32_t>(i)))) {
      m = std::max(m, static_cast<double>(logits[i]));
    }
  }
  std::vector<double> p(logits.size(), 0.0);
  double sum = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (std::isfinite(logits[i]) && (!only || only->count(static_cast<int32_t>(i)))) {
      p[i] = std::exp((logits[i] - m) / t);
      sum += p[i];
    }
  }
  for (double& x : p) {
    x /= sum;
  }
  return p;
}

// Logits whose softmax at temperature 1 is exactly `probs` (up to rounding).
std::vector<float> logits_of(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) {
    l.push_back(static_cast<float>(std::log(p)));
  }
  return l;
}

// Greedy choice after accepting `history`.
int32_t greedy_after(SamplingParams p, const std::vector<int32_t>& history,
                     const std::vector<float>& logits) {
  p.temperature = 0.0f;
  Sampler s(p, static_cast<int32_t>(logits.size()));
  for (int32_t t : history) {
    s.accept(t);
  }
  return s.sample(logits.data());
}

// ---------------------------------------------------------------- argument checks

TEST(Sampler, RejectsBadVocabularyAndParameters) {
  EXPECT_THROW(Sampler(SamplingParams{}, 0), Error);
  EXPECT_THROW(Sampler(SamplingParams{}, -3), Error);
  EXPECT_NO_THROW(Sampler(SamplingParams{}, 1));

  SamplingParams p;
  p.repeat_penalty = 0.0f;
  EXPECT_THROW(Sampler(p, 10), Error);
  p = SamplingParams{};
  p.repeat_last_n = -2;
  EXPECT_THROW(Sampler(p, 10), Error);
  p = SamplingParams{};
  p.temperature = kNaN;
  EXPECT_THROW(Sampler(p, 10), Error);
  p.temperature = kInf;
  EXPECT_THROW(Sampler(p, 10), Error);
  p.temperature = -kInf;  // greedy
  EXPECT_NO_THROW(Sampler(p, 10));
  p = SamplingParams{};
  p.frequency_penalty = kInf;
  EXPECT_THROW(Sampler(p, 10), Error);
}

TEST(Sampler, RejectsOutOfRangeTokensAndNullLogits) {
  Sampler s(SamplingParams{}, 5);
  EXPECT_THROW(s.accept(5), Error);
  EXPECT_THROW(s.accept(-1), Error);
  EXPECT_NO_THROW(s.accept(4));
  EXPECT_THROW(s.sample(nullptr), Error);
  EXPECT_THROW(argmax(nullptr, 3), Error);
  const float one = 1.0f;
  EXPECT_THROW(argmax(&one, 0), Error);
}

// ---------------------------------------------------------------- greedy

TEST(Argmax, PicksLargestAndLowestIdOnTies) {
  const std::vector<float> a = {0.5f, 3.0f, -1.0f, 2.9f};
  EXPECT_EQ(argmax(a.data(), 4), 1);
  const std::vector<float> b = {1.0f, 3.0f, 3.0f, 2.0f, 3.0f};
  EXPECT_EQ(argmax(b.data(), 5), 1);
  const std::vector<float> c = {7.0f, 7.0f};
  EXPECT_EQ(argmax(c.data(), 2), 0);
}

TEST(Argmax, TreatsNaNAsMinusInfinity) {
  const std::vector<float> a = {kNaN, 1.0f, kNaN, 5.0f, kNaN};
  EXPECT_EQ(argmax(a.data(), 5), 3);
  const std::vector<float> b = {kNaN, kNaN, kNaN};
  EXPECT_EQ(argmax(b.data(), 3), 0);
  const std::vector<float> c = {kNaN, -kInf, -3.0f};
  EXPECT_EQ(argmax(c.data(), 3), 2);
  const std::vector<float> d = {-kInf, -kInf};
  EXPECT_EQ(argmax(d.data(), 2), 0);
  const std::vector<float> e = {1.0f, kInf, kInf};
  EXPECT_EQ(argmax(e.data(), 3), 1);
}

TEST(Sampler, GreedyIsArgmaxWithLowestIdOnTies) {
  for (float t : {0.0f, -1.0f}) {
    SamplingParams p;  // default filters stay on: they must not matter
    p.temperature = t;
    Sampler s(p, 5);
    const std::vector<float> a = {1.0f, 3.0f, 3.0f, 2.0f, -7.0f};
    for (int i = 0; i < 10; ++i) {
      EXPECT_EQ(s.sample(a.data()), 1);
    }
    const std::vector<float> b = {9.0f, 3.0f, 3.0f, 2.0f, 9.5f};
    EXPECT_EQ(s.sample(b.data()), 4);
  }
}

TEST(Sampler, TopKOneEqualsGreedyAtAnyTemperature) {
  std::mt19937 gen(7);
  std::normal_distribution<float> nd(0.0f, 2.0f);
  for (float t : {0.05f, 0.8f, 1.0f, 3.0f, 100.0f}) {
    SamplingParams p = plain(t, 99);
    p.top_k = 1;
    Sampler s(p, 64);
    for (int trial = 0; trial < 200; ++trial) {
      std::vector<float> l(64);
      for (float& x : l) {
        x = std::round(nd(gen));  // rounded: plenty of ties
      }
      EXPECT_EQ(s.sample(l.data()), argmax(l.data(), 64)) << "t=" << t;
    }
  }
}

// ---------------------------------------------------------------- seeding

TEST(Sampler, SameSeedSameSequenceAndResetReplays) {
  const int32_t v = 500;
  std::mt19937 gen(3);
  std::normal_distribution<float> nd(0.0f, 1.5f);
  std::vector<std::vector<float>> steps(300, std::vector<float>(v));
  for (auto& l : steps) {
    for (float& x : l) {
      x = nd(gen);
    }
  }
  SamplingParams p;  // defaults plus penalties, so accept() matters too
  p.seed = 42;
  p.top_k = 0;
  p.repeat_penalty = 1.3f;
  p.frequency_penalty = 0.1f;
  p.repeat_last_n = 16;

  auto run = [&](Sampler& s) {
    std::vector<int32_t> out;
    for (const auto& l : steps) {
      const int32_t t = s.sample(l.data());
      s.accept(t);
      out.push_back(t);
    }
    return out;
  };
  Sampler a(p, v);
  Sampler b(p, v);
  const std::vector<int32_t> ra = run(a);
  EXPECT_EQ(ra, run(b));
  a.reset();
  EXPECT_EQ(ra, run(a));
  EXPECT_GT(std::set<int32_t>(ra.begin(), ra.end()).size(), 50u);
}

TEST(Sampler, DifferentSeedsDiffer) {
  const std::vector<float> flat(1000, 0.0f);
  std::vector<std::vector<int32_t>> runs;
  for (uint64_t seed : {1ull, 2ull, 12345ull}) {
    Sampler s(plain(1.0f, seed), 1000);
    std::vector<int32_t> r;
    for (int i = 0; i < 64; ++i) {
      r.push_back(s.sample(flat.data()));
    }
    EXPECT_GT(std::set<int32_t>(r.begin(), r.end()).size(), 50u);
    runs.push_back(r);
  }
  EXPECT_NE(runs[0], runs[1]);
  EXPECT_NE(runs[0], runs[2]);
  EXPECT_NE(runs[1], runs[2]);
}

// ---------------------------------------------------------------- distribution

TEST(Sampler, FrequenciesMatchSoftmaxOverTemperature) {
  const std::vector<float> l = {1.0f, 2.0f, 0.5f, -1.0f, 3.0f, 0.0f, -kInf, kNaN};
  const int draws = 200000;
  for (float t : {0.7f, 1.0f, 2.5f}) {
    Sampler s(plain(t, 2024), static_cast<int32_t>(l.size()));
    // 6 buckets with mass: df = 5; chi-square 5 df has p = 1e-5 at about 28.
    expect_matches(histogram(s, l, draws), softmax(l, t), draws, 28.0);
  }
}

TEST(Sampler, FrequenciesAfterTopKAreRenormalised) {
  const std::vector<float> l = {0.2f, 1.5f, -0.3f, 1.0f, 1.2f, -2.0f};
  SamplingParams p = plain(1.7f, 5);
  p.top_k = 3;  // keeps 1, 4, 3
  const std::set<int32_t> keep = {1, 3, 4};
  Sampler s(p, static_cast<int32_t>(l.size()));
  const int draws = 150000;
  // df = 2: p = 1e-5 at 23.
  expect_matches(histogram(s, l, draws), softmax(l, 1.7, &keep), draws, 23.0);
}

TEST(Sampler, FrequenciesAfterMinPAndTemperature) {
  // p (T = 1) = {0.5, 0.2, 0.04, 0.26}; min_p 0.1 drops id 2 only, then T = 0.5
  const std::vector<float> l = logits_of({0.5, 0.2, 0.04, 0.26});
  SamplingParams p = plain(0.5f, 8);
  p.min_p = 0.1f;
  const std::set<int32_t> keep = {0, 1, 3};
  Sampler s(p, 4);
  const int draws = 150000;
  expect_matches(histogram(s, l, draws), softmax(l, 0.5, &keep), draws, 23.0);
}

// ---------------------------------------------------------------- filters

TEST(Sampler, TopKKeepsExactlyTheKBest) {
  const std::vector<float> l = {0.0f, 5.0f, 3.0f, 4.0f, 1.0f};
  SamplingParams p = plain(100.0f);  // near-uniform over what is kept
  p.top_k = 2;
  EXPECT_EQ(kept_set(p, l), (std::set<int32_t>{1, 3}));
  EXPECT_EQ(drawn_set(p, l, 2000), (std::set<int32_t>{1, 3}));
  p.top_k = 4;
  EXPECT_EQ(drawn_set(p, l, 4000), (std::set<int32_t>{1, 2, 3, 4}));
  p.top_k = 10;  // larger than the vocabulary: everything
  EXPECT_EQ(drawn_set(p, l, 4000), (std::set<int32_t>{0, 1, 2, 3, 4}));
  // ties at the boundary go to the lowest ids
  const std::vector<float> tie = {2.0f, 1.0f, 2.0f, 2.0f, 0.0f};
  p.top_k = 2;
  EXPECT_EQ(kept_set(p, tie), (std::set<int32_t>{0, 2}));
  EXPECT_EQ(drawn_set(p, tie, 2000), (std::set<int32_t>{0, 2}));
}

TEST(Sampler, TopPKeepsSmallestPrefixReachingP) {
  // p (T = 1): id0 0.15, id1 0.5, id2 0.1, id3 0.25. Sorted: 1, 3, 0, 2 with
  // cumulative 0.5, 0.75, 0.9, 1.0.
  const std::vector<float> l = logits_of({0.15, 0.5, 0.1, 0.25});
  SamplingParams p = plain(100.0f);  // top-p works on T = 1 probabilities
  p.top_p = 0.3f;
  EXPECT_EQ(kept_set(p, l), (std::set<int32_t>{1}));
  EXPECT_EQ(drawn_set(p, l, 500), (std::set<int32_t>{1}));
  p.top_p = 0.7f;
  EXPECT_EQ(kept_set(p, l), (std::set<int32_t>{1, 3}));
  EXPECT_EQ(drawn_set(p, l, 2000), (std::set<int32_t>{1, 3}));
  p.top_p = 0.8f;
  EXPECT_EQ(kept_set(p, l), (std::set<int32_t>{0, 1, 3}));
  EXPECT_EQ(drawn_set(p, l, 3000), (std::set<int32_t>{0, 1, 3}));
  p.top_p = 0.95f;
  EXPECT_EQ(kept_set(p, l), (std::set<int32_t>{0, 1, 2, 3}));
  p.top_p = 0.0f;  // still keeps one
  EXPECT_EQ(kept_set(p, l), (std::set<int32_t>{1}));
}

TEST(Sampler, TopPIsNormalisedOverTopK) {
  // p = {0.4, 0.3, 0.2, 0.1}. Alone, top_p 0.55 keeps {0, 1} (0.4 < 0.55 <= 0.7).
  // After top_k 2 the survivors have 4/7 and 3/7, and 4/7 >= 0.55 keeps {0}.
  const std::vector<float> l = logits_of({0.4, 0.3, 0.2, 0.1});
  SamplingParams p = plain(1.0f);
  p.top_p = 0.55f;
  EXPECT_EQ(kept_set(p, l), (std::set<int32_t>{0, 1}));
  p.top_k = 2;
  EXPECT_EQ(kept_set(p, l), (std::set<int32_t>{0}));
  EXPECT_EQ(drawn_set(p, l, 500), (std::set<int32_t>{0}));
}

TEST(Sampler, MinPDropsTokensBelowFractionOfBest) {
  // p (T = 1) = {0.5, 0.2, 0.04, 0.26}
  const std::vector<float> l = logits_of({0.5, 0.2, 0.04, 0.26});
  SamplingParams p = plain(100.0f);  // min-p works on T = 1 probabilities
  p.min_p = 0.1f;                    // threshold 0.05
  EXPECT_EQ(kept_set(p, l), (std::set<int32_t>{0, 1, 3}));
  EXPECT_EQ(drawn_set(p, l, 3000), (std::set<int32_t>{0, 1, 3}));
  p.min_p = 0.45f;  // threshold 0.225
  EXPECT_EQ(kept_set(p, l), (std::set<int32_t>{0, 3}));
  EXPECT_EQ(drawn_set(p, l, 2000), (std::set<int32_t>{0, 3}));
  p.min_p = 2.0f;  // above 1: only the best survives
  EXPECT_EQ(kept_set(p, l), (std::set<int32_t>{0}));
}

TEST(Sampler, TopPThenMinPIntersect) {
  // p = {0.5, 0.2, 0.04, 0.26}; sorted 0, 3, 1, 2; cumulative 0.5, 0.76, 0.96, 1.0
  const std::vector<float> l = logits_of({0.5, 0.2, 0.04, 0.26});
  SamplingParams p = plain(1.0f);
  p.top_p = 0.8f;   // {0, 3, 1}
  p.min_p = 0.1f;   // {0, 1, 3}
  EXPECT_EQ(kept_set(p, l), (std::set<int32_t>{0, 1, 3}));
  p.min_p = 0.45f;  // {0, 3}
  EXPECT_EQ(kept_set(p, l), (std::set<int32_t>{0, 3}));
  p.min_p = 0.6f;   // {0}
  EXPECT_EQ(kept_set(p, l), (std::set<int32_t>{0}));
  p.top_p = 0.6f;   // {0, 3}
  p.min_p = 0.1f;
  EXPECT_EQ(kept_set(p, l), (std::set<int32_t>{0, 3}));
  p.top_k = 1;
  EXPECT_EQ(kept_set(p, l), (std::set<int32_t>{0}));
}

// ---------------------------------------------------------------- penalties

TEST(Sampler, RepeatPenaltyDividesPositiveLogits) {
  SamplingParams p = plain(0.0f);
  p.repeat_penalty = 1.5f;
  // token 0: 3.0 -> 2.0. A competitor just above / below 2.0 decides.
  EXPECT_EQ(greedy_after(p, {0}, {3.0f, 2.01f}), 1);
  EXPECT_EQ(greedy_after(p, {0}, {3.0f, 1.99f}), 0);
  EXPECT_EQ(greedy_after(p, {}, {3.0f, 2.01f}), 0);  // nothing accepted, nothing penalised
}

TEST(Sampler, RepeatPenaltyMultipliesNegativeLogits) {
  SamplingParams p = plain(0.0f);
  p.repeat_penalty = 1.5f;
  // token 0: -2.0 -> -3.0 (dividing would give -1.33 and keep it ahead)
  EXPECT_EQ(greedy_after(p, {0}, {-2.0f, -2.99f}), 1);
  EXPECT_EQ(greedy_after(p, {0}, {-2.0f, -3.01f}), 0);
  // zero is multiplied too: stays 0
  EXPECT_EQ(greedy_after(p, {0}, {0.0f, -0.01f}), 0);
}

TEST(Sampler, RepeatPenaltyCountsOnceAndOnlyRecentTokens) {
  SamplingParams p = plain(0.0f);
  p.repeat_penalty = 1.5f;
  p.repeat_last_n = 3;
  // three occurrences still divide once: 3.0 -> 2.0
  EXPECT_EQ(greedy_after(p, {0, 0, 0}, {3.0f, 1.99f, 0.0f, 0.0f, 0.0f}), 0);
  // token 0 left the window of 3: no penalty
  EXPECT_EQ(greedy_after(p, {0, 2, 3, 4}, {3.0f, 2.5f, 0.0f, 0.0f, 0.0f}), 0);
  // still inside: penalised
  EXPECT_EQ(greedy_after(p, {2, 0, 3, 4}, {3.0f, 2.5f, 0.0f, 0.0f, 0.0f}), 1);
  // a penalised token that is not the best does not affect others
  EXPECT_EQ(greedy_after(p, {1}, {3.0f, 2.5f, 0.0f, 0.0f, 0.0f}), 0);
}

TEST(Sampler, FrequencyAndPresencePenalties) {
  SamplingParams p = plain(0.0f);
  p.frequency_penalty = 0.3f;
  p.presence_penalty = 0.05f;
  // 5.0 - 3 * 0.3 - 0.05 = 4.05
  EXPECT_EQ(greedy_after(p, {0, 0, 0}, {5.0f, 4.06f}), 1);
  EXPECT_EQ(greedy_after(p, {0, 0, 0}, {5.0f, 4.04f}), 0);
  // presence alone does not scale with the count: 5.0 - 0.5 = 4.5
  p.frequency_penalty = 0.0f;
  p.presence_penalty = 0.5f;
  EXPECT_EQ(greedy_after(p, {0, 0, 0}, {5.0f, 4.51f}), 1);
  EXPECT_EQ(greedy_after(p, {0, 0, 0}, {5.0f, 4.49f}), 0);
  // frequency alone: 5.0 - 2 * 0.3 = 4.4 (token 2 fills the history)
  p.frequency_penalty = 0.3f;
  p.presence_penalty = 0.0f;
  EXPECT_EQ(greedy_after(p, {0, 2, 0}, {5.0f, 4.41f, -9.0f}), 1);
  EXPECT_EQ(greedy_after(p, {0, 2, 0}, {5.0f, 4.39f, -9.0f}), 0);
}

TEST(Sampler, RepeatPenaltyAppliesBeforeFrequencyPenalty) {
  SamplingParams p = plain(0.0f);
  p.repeat_penalty = 1.5f;
  p.frequency_penalty = 0.25f;
  // 3.0 / 1.5 - 2 * 0.25 = 1.5 (the other order would give 1.667)
  EXPECT_EQ(greedy_after(p, {0, 0}, {3.0f, 1.51f}), 1);
  EXPECT_EQ(greedy_after(p, {0, 0}, {3.0f, 1.49f}), 0);
}

TEST(Sampler, PenaltyWindowBoundsCounts) {
  SamplingParams p = plain(0.0f);
  p.frequency_penalty = 1.0f;
  p.repeat_last_n = 3;
  // window {3, 0, 2}: token 0 counted once -> 5.0 - 1.0 = 4.0 (token 1, the
  // competitor, is never accepted)
  EXPECT_EQ(greedy_after(p, {0, 3, 0, 2}, {5.0f, 3.99f, -9.0f, -9.0f}), 0);
  EXPECT_EQ(greedy_after(p, {0, 3, 0, 2}, {5.0f, 4.01f, -9.0f, -9.0f}), 1);
  // unbounded: counted twice -> 3.0
  p.repeat_last_n = -1;
  EXPECT_EQ(greedy_after(p, {0, 3, 0, 2}, {5.0f, 3.01f, -9.0f, -9.0f}), 1);
  EXPECT_EQ(greedy_after(p, {0, 3, 0, 2}, {5.0f, 2.99f, -9.0f, -9.0f}), 0);
  // the whole history really is the whole history
  std::vector<int32_t> long_history = {0};
  for (int i = 0; i < 5000; ++i) {
    long_history.push_back(2);
  }
  EXPECT_EQ(greedy_after(p, long_history, {5.0f, 4.01f, -9.0f}), 1);
  // window 0: penalties off
  p.repeat_last_n = 0;
  EXPECT_EQ(greedy_after(p, {0, 0, 0}, {5.0f, 4.99f, -9.0f}), 0);
}

TEST(Sampler, ResetForgetsHistory) {
  SamplingParams p = plain(0.0f);
  p.repeat_penalty = 2.0f;
  Sampler s(p, 2);
  const std::vector<float> l = {3.0f, 2.0f};
  s.accept(0);
  EXPECT_EQ(s.sample(l.data()), 1);
  s.reset();
  EXPECT_EQ(s.sample(l.data()), 0);
}

TEST(Sampler, PenaltiesApplyWhenSampling) {
  SamplingParams p = plain(1.0f);
  p.top_k = 1;
  p.repeat_penalty = 2.0f;
  Sampler s(p, 3);
  const std::vector<float> l = {3.0f, 2.0f, 0.0f};
  EXPECT_EQ(s.sample(l.data()), 0);
  s.accept(0);
  EXPECT_EQ(s.sample(l.data()), 1);
}

// ---------------------------------------------------------------- NaN / inf

TEST(Sampler, NaNAndInfinities) {
  for (float t : {0.0f, 0.8f}) {
    SamplingParams p;
    p.temperature = t;
    p.repeat_penalty = 1.2f;
    Sampler s(p, 3);
    s.accept(1);
    const std::vector<float> all_nan = {kNaN, kNaN, kNaN};
    const std::vector<float> all_ninf = {-kInf, kNaN, -kInf};
    EXPECT_EQ(s.sample(all_nan.data()), 0);
    EXPECT_EQ(s.sample(all_ninf.data()), 0);
    const std::vector<float> one_real = {kNaN, -4.0f, kNaN};
    for (int i = 0; i < 50; ++i) {
      EXPECT_EQ(s.sample(one_real.data()), 1);
    }
  }
  // +inf tokens take all the probability, equally; greedy takes the first
  const std::vector<float> pinf = {1.0f, kInf, 3.0f, kInf, kNaN};
  EXPECT_EQ(drawn_set(plain(1.0f), pinf, 500), (std::set<int32_t>{1, 3}));
  EXPECT_EQ(drawn_set(plain(0.0f), pinf, 10), (std::set<int32_t>{1}));
}

TEST(Sampler, GarbageLogitsNeverGiveBadIds) {
  std::mt19937 gen(11);
  std::uniform_int_distribution<int> kind(0, 9);
  std::normal_distribution<float> nd(0.0f, 30.0f);
  const int32_t v = 257;
  for (int variant = 0; variant < 4; ++variant) {
    SamplingParams p;
    p.temperature = variant == 0 ? 0.0f : 0.01f * variant * variant * 50;
    p.top_k = variant == 1 ? 0 : 40;
    p.min_p = variant == 2 ? 0.0f : 0.05f;
    p.repeat_penalty = 1.1f;
    p.frequency_penalty = 0.2f;
    Sampler s(p, v);
    for (int step = 0; step < 300; ++step) {
      std::vector<float> l(v);
      for (float& x : l) {
        const int k = kind(gen);
        x = k == 0 ? kNaN : k == 1 ? -kInf : k == 2 ? std::numeric_limits<float>::max() : nd(gen);
      }
      if (step % 50 == 7) {
        l[static_cast<size_t>(step % v)] = kInf;
      }
      const int32_t t = s.sample(l.data());
      ASSERT_GE(t, 0);
      ASSERT_LT(t, v);
      const float chosen = l[static_cast<size_t>(t)];
      EXPECT_FALSE(std::isnan(chosen));
      EXPECT_NE(chosen, -kInf);
      s.accept(t);
    }
  }
}

// ---------------------------------------------------------------- large vocabulary

// llama.cpp's chain written plainly, with full sorts: the reference for the
// partial-sort / partition shortcuts. Returns (id, weight) sorted by id.
std::vector<std::pair<int32_t, float>> reference_chain(const SamplingParams& p,
                                                       const std::vector<float>& logits,
                                                       const sampling_detail::TokenCounts& counts) {
  std::vector<float> l = logits;
  for (float& x : l) {
    if (std::isnan(x)) {
      x = -kInf;
    }
  }
  if (sampling_detail::penalties_enabled(p)) {
    for (const auto& [tok, cnt] : counts) {
      float& x = l[static_cast<size_t>(tok)];
      x = x <= 0.0f ? x * p.repeat_penalty : x / p.repeat_penalty;
      x -= static_cast<float>(cnt) * p.frequency_penalty + p.presence_penalty;
    }
  }
  std::vector<std::pair<float, int32_t>> c;
  for (size_t i = 0; i < l.size(); ++i) {
    if (l[i] != -kInf) {
      c.push_back({l[i], static_cast<int32_t>(i)});
    }
  }
  std::sort(c.begin(), c.end(), [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  });
  if (p.top_k > 0 && static_cast<size_t>(p.top_k) < c.size()) {
    c.resize(static_cast<size_t>(p.top_k));
  }
  const float max_l = c[0].first;
  if (p.top_p < 1.0f) {
    double sum = 0.0;
    for (const auto& x : c) {
      sum += std::exp(x.first - max_l);
    }
    double cum = 0.0;
    for (size_t i = 0; i < c.size(); ++i) {
      cum += std::exp(c[i].first - max_l) / sum;
      if (cum >= p.top_p) {
        c.resize(i + 1);
        break;
      }
    }
  }
  if (p.min_p > 0.0f) {
    const float min_logit = max_l + std::log(p.min_p);
    size_t i = 1;
    while (i < c.size() && c[i].first >= min_logit) {
      ++i;
    }
    c.resize(i);
  }
  std::vector<std::pair<int32_t, float>> out;
  for (const auto& x : c) {
    out.push_back({x.second, std::exp((x.first - max_l) / p.temperature)});
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct LargeCase {
  int32_t top_k;
  float top_p;
  float min_p;
  float spread;   // SD of the logits
  float quantum;  // > 0: logits rounded to multiples (many ties)
};

std::vector<LargeCase> large_cases() {
  return {
      {40, 0.95f, 0.05f, 3.0f, 0.0f},   // defaults
      {0, 0.95f, 0.0f, 3.0f, 0.0f},     // top-p alone
      {0, 0.95f, 0.0f, 0.05f, 0.0f},    // top-p alone, nearly flat: long scan
      {0, 0.999f, 0.0f, 0.5f, 0.25f},   // ties everywhere
      {0, 1.0f, 0.05f, 2.0f, 0.0f},     // min-p alone
      {0, 0.9f, 0.01f, 1.0f, 0.5f},     // top-p and min-p, ties
      {1000, 0.99f, 0.0f, 1.0f, 0.0f},  // wide top-k
      {200, 1.0f, 0.0f, 0.5f, 0.25f},   // heap top-k with ties at the boundary
      {0, 1.0f, 0.0f, 1.0f, 0.0f},      // nothing: pure softmax
      {0, 0.3f, 0.0f, 0.1f, 10.0f},     // every logit equal: ids decide
      {0, 0.95f, 0.0f, 8.0f, 0.0f},     // wide range (past the bucket span)
      {50000, 0.9f, 0.2f, 0.3f, 0.0f},  // big top-k, then both cuts
  };
}

std::vector<float> large_logits(int32_t v, const LargeCase& lc, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> nd(0.0f, lc.spread);
  std::vector<float> l(static_cast<size_t>(v));
  for (float& x : l) {
    x = nd(gen);
    if (lc.quantum > 0.0f) {
      x = std::round(x / lc.quantum) * lc.quantum;
    }
  }
  return l;
}

TEST(Sampler, LargeVocabularyMatchesFullSortReference) {
  const int32_t v = 151936;
  int case_no = 0;
  for (const LargeCase& lc : large_cases()) {
    for (uint32_t seed = 1; seed <= 3; ++seed) {
      SCOPED_TRACE("case " + std::to_string(case_no) + " seed " + std::to_string(seed));
      SamplingParams p = plain(0.8f);
      p.top_k = lc.top_k;
      p.top_p = lc.top_p;
      p.min_p = lc.min_p;
      p.repeat_penalty = 1.1f;
      p.presence_penalty = 0.3f;
      std::vector<float> l = large_logits(v, lc, seed * 100 + case_no);
      l[17] = kNaN;
      l[18] = -kInf;
      sampling_detail::TokenCounts counts = {{5, 2}, {77, 1}, {150000, 3}};
      // make a penalised token the best one now and then
      l[77] = 20.0f;

      std::vector<sampling_detail::Candidate> c;
      sampling_detail::load_logits(p, l.data(), v, counts, c);
      const size_t kept = sampling_detail::filter_candidates(p, c);
      std::vector<std::pair<int32_t, float>> got;
      for (size_t i = 0; i < kept; ++i) {
        got.push_back({c[i].second, c[i].first});
      }
      std::sort(got.begin(), got.end());
      const auto want = reference_chain(p, l, counts);
      ASSERT_EQ(got.size(), want.size());
      EXPECT_TRUE(got == want);
    }
    ++case_no;
  }
}

// Every configuration of the chain on a 152K vocabulary yields in-range ids.
// (Speed belongs in benchmarks, not in timed tests.)
TEST(Sampler, LargeVocabularySamplesInRange) {
  const int32_t v = 151936;
  for (const LargeCase& lc : large_cases()) {
    SamplingParams p = plain(0.8f);
    p.top_k = lc.top_k;
    p.top_p = lc.top_p;
    p.min_p = lc.min_p;
    p.repeat_penalty = 1.1f;
    Sampler s(p, v);
    const std::vector<float> l = large_logits(v, lc, 9);
    for (int32_t t = 0; t < 64; ++t) {
      s.accept(t * 1000);
    }
    for (int i = 0; i < 10; ++i) {
      const int32_t t = s.sample(l.data());
      ASSERT_GE(t, 0);
      ASSERT_LT(t, v);
    }
  }
}

}  // namespace
}  // namespace hearth
