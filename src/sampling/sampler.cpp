// Token sampling, following the reference runtime's (llama.cpp) default chain.
//
// llama.cpp's common_sampler_init builds, for the default
// common_params_sampling::samplers list,
//
//   penalties -> dry -> top_n_sigma -> top_k -> typical_p -> top_p -> min_p
//             -> xtc -> temperature -> dist
//
// DRY, top-n-sigma, typical-p and XTC are off by default and Hearth does not
// have them, which leaves
//
//   penalties -> top_k -> top_p -> min_p -> temperature -> dist(seed)
//
// and that is the order used here. Consequences worth knowing:
//   * top-p and min-p see probabilities at temperature 1 (the temperature is
//     applied after them), and top-p's probabilities are renormalised over the
//     tokens top-k kept.
//   * temperature <= 0: llama.cpp still runs the chain and its temperature step
//     keeps only the largest logit, so the result is the argmax of the
//     penalised logits (top-k/p and min-p always keep the largest). Hearth does
//     exactly that: penalties, then argmax, lowest id on a tie.
//
// Penalties (llama_sampler_penalties): for every token seen c > 0 times in the
// last repeat_last_n accepted tokens,
//   logit = logit <= 0 ? logit * repeat_penalty : logit / repeat_penalty
//   logit -= c * frequency_penalty + presence_penalty
// They are off when repeat_last_n == 0 or when all three are neutral.
//
// Where Hearth differs on purpose (all documented behaviour):
//   * Ties are broken by the lowest token id everywhere (llama.cpp's
//     partial_sort leaves ties in an unspecified order).
//   * NaN logits count as -inf. Tokens at -inf are never drawn. If every logit
//     is -inf or NaN the result is token 0, as argmax() would give.
//   * If some logits are +inf, only those tokens remain, equally likely.
//   * Sums are kept in double; the draw uses a uniform built from 53 bits of
//     the std::mt19937_64 output (portable, unlike the standard distributions),
//     and every non-greedy sample() uses exactly one number from the generator.
//
// Cost, V = vocabulary size: O(V) to read and penalise the logits, and no
// step sorts the vocabulary:
//   * top-k: one pass with a heap of the k best for k <= 256, nth_element
//     above that; later steps see only those k tokens.
//   * min-p: one partition pass. Top-p (if on) then searches only the tokens
//     min-p keeps. That is exactly the chain's result: top-p and min-p each
//     keep a best-first prefix, so the final set is the shorter of the two,
//     while top-p's probabilities stay normalised over all of top-k's tokens.
//   * top-p: a histogram of the probability mass over logit buckets finds the
//     bucket where the cumulative mass reaches top_p; only that bucket is
//     ordered (sorted when small, else a quickselect on the mass). O(V).
//   The kept set is exactly the one a full stable sort by (logit desc, id asc)
//   would give; only the order in which probabilities are summed differs,
//   which moves the sums by a few ulps of a double. sampler_test.cpp checks
//   the result against a plain full-sort implementation on 152K-token inputs.
#include "sampling/sampler.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <string>

#include "sampling/sampler_detail.h"
#include "util/error.h"

namespace hearth {

namespace sampling_detail {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
// top-p: a histogram of the mass over kBuckets logit buckets spanning at most
// kBucketRange below the best logit (exp(-40) ~ 4e-18: what lies further down
// shares the last bucket); ranges up to kSortedScanMax are simply sorted.
constexpr std::size_t kBuckets = 1024;
constexpr float kBucketRange = 40.0f;
constexpr std::size_t kSortedScanMax = 2048;
constexpr std::size_t kHeapTopKMax = 256;   // top-k: heap selection up to this k

// Higher logit first, lower id first on equal logits: a strict total order
// (no NaN reaches it), so partial methods give exactly the full sort's prefix.
struct Better {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  }
};

// Moves the best k of c[0, n) to c[0, k), in no particular order (k < n).
void select_top_k(Candidate* c, std::size_t k, std::size_t n) {
  if (k <= kHeapTopKMax && n / k >= 8) {
    // One pass with a heap of the k best so far (its top is the worst of
    // them): most tokens are rejected by a single comparison.
    std::make_heap(c, c + k, Better{});
    for (std::size_t i = k; i < n; ++i) {
      if (Better{}(c[i], c[0])) {
        std::pop_heap(c, c + k, Better{});
        c[k - 1] = c[i];
        std::push_heap(c, c + k, Better{});
      }
    }
  } else {
    std::nth_element(c, c + k, c + n, Better{});
  }
}

// Finds the cut inside c[lo, hi), where cum is the unnormalised mass of
// c[0, lo) and everything in c[0, lo) is better than everything in c[lo, hi):
// returns the first i + 1 with cum + mass of the best (i + 1 - lo) of c[lo, hi)
// >= target, leaving those in c[lo, i + 1); hi if it is not reached. Large
// ranges are halved by a quickselect on the mass, so this is O(hi - lo).
std::size_t cut_in_range(Candidate* c, std::size_t lo, std::size_t hi, float max_l, double cum,
                         double target) {
  auto mass = [max_l](const Candidate& x) { return static_cast<double>(std::exp(x.first - max_l)); };
  while (hi - lo > kSortedScanMax) {
    const std::size_t mid = lo + (hi - lo) / 2;
    std::nth_element(c + lo, c + mid, c + hi, Better{});
    double upper = 0.0;
    for (std::size_t i = lo; i < mid; ++i) {
      upper += mass(c[i]);
    }
    if (cum + upper >= target) {
      hi = mid;  // reached within c[lo, mid)
      continue;
    }
    cum += upper;
    cum += mass(c[mid]);
    if (cum >= target) {
      return mid + 1;
    }
    lo = mid + 1;
  }
  std::sort(c + lo, c + hi, Better{});
  for (std::size_t i = lo; i < hi; ++i) {
    cum += mass(c[i]);
    if (cum >= target) {
      return i + 1;
    }
  }
  return hi;
}

// top-p. c[0, n) is top-k's set, c[0, m) (m <= n) the part of it that min-p
// keeps (the best m). Returns L <= m, the length of the shortest best-first
// prefix whose probability (normalised over all n) reaches top_p, or m if no
// prefix of c[0, m) does; the best L are left in c[0, L).
//
// No full sort: one pass puts the mass exp(logit - max) of every token into a
// histogram over logit buckets (the bucket is a monotone function of the
// logit, so tokens in a better bucket are all better, and equal logits share a
// bucket); the bucket where the cumulative mass crosses top_p is found, the
// better buckets are moved to the front by a partition, and only that one
// bucket is ordered (cut_in_range). O(n). The kept prefix is the one the
// plain sorted scan gives; the mass is only added in another order, which
// moves the sums by a few ulps of a double.
std::size_t top_p_cut(Candidate* c, std::size_t n, std::size_t m, float max_l, double top_p) {
  float min_l = max_l;
  for (std::size_t i = 0; i < m; ++i) {
    min_l = std::min(min_l, c[i].first);
  }
  const float range = std::min(max_l - min_l, kBucketRange);
  const float scale = range > 0.0f ? static_cast<float>(kBuckets) / range : 0.0f;
  auto bucket = [max_l, scale](float l) -> std::size_t {
    const float x = (max_l - l) * scale;  // >= 0, monotone in l
    return x < static_cast<float>(kBuckets) ? static_cast<std::size_t>(x) : kBuckets - 1;
  };

  std::array<double, kBuckets> bucket_mass{};
  double sum = 0.0;
  for (std::size_t i = 0; i < m; ++i) {
    const double e = static_cast<double>(std::exp(c[i].first - max_l));
    sum += e;
    bucket_mass[bucket(c[i].first)] += e;
  }
  for (std::size_t i = m; i < n; ++i) {
    sum += static_cast<double>(std::exp(c[i].first - max_l));
  }
  const double target = top_p * sum;

  double cum = 0.0;
  std::size_t crossing = kBuckets;
  for (std::size_t b = 0; b < kBuckets; ++b) {
    if (cum + bucket_mass[b] >= target) {
      crossing = b;
      break;
    }
    cum += bucket_mass[b];
  }
  if (crossing == kBuckets) {
    return m;
  }
  Candidate* const better_end =
      std::partition(c, c + m, [&](const Candidate& x) { return bucket(x.first) < crossing; });
  Candidate* const crossing_end = std::partition(
      better_end, c + m, [&](const Candidate& x) { return bucket(x.first) == crossing; });
  return cut_in_range(c, static_cast<std::size_t>(better_end - c),
                      static_cast<std::size_t>(crossing_end - c), max_l, cum, target);
}

}  // namespace

bool penalties_enabled(const SamplingParams& p) {
  return p.repeat_last_n != 0 &&
         (p.repeat_penalty != 1.0f || p.frequency_penalty != 0.0f || p.presence_penalty != 0.0f);
}

void load_logits(const SamplingParams& p, const float* logits, int32_t n_vocab,
                 const TokenCounts& counts, std::vector<Candidate>& cands) {
  cands.resize(static_cast<std::size_t>(n_vocab));
  for (int32_t i = 0; i < n_vocab; ++i) {
    const float v = logits[i];
    cands[static_cast<std::size_t>(i)] = {std::isnan(v) ? -kInf : v, i};
  }
  if (!penalties_enabled(p)) {
    return;
  }
  for (const auto& [token, count] : counts) {
    float& l = cands[static_cast<std::size_t>(token)].first;
    if (l <= 0.0f) {
      l *= p.repeat_penalty;
    } else {
      l /= p.repeat_penalty;
    }
    l -= static_cast<float>(count) * p.frequency_penalty +
         static_cast<float>(count > 0) * p.presence_penalty;
    if (std::isnan(l)) {  // inf - inf with absurd penalties
      l = -kInf;
    }
  }
}

std::size_t filter_candidates(const SamplingParams& p, std::vector<Candidate>& cands) {
  Candidate* c = cands.data();

  // Drop the -inf tokens (they can never be drawn and never change which
  // finite tokens a filter keeps) and find the largest logit.
  std::size_t n = 0;
  float max_l = -kInf;
  for (std::size_t i = 0; i < cands.size(); ++i) {
    if (c[i].first == -kInf) {
      continue;
    }
    max_l = std::max(max_l, c[i].first);
    c[n++] = c[i];
  }
  if (n == 0) {
    return 0;
  }
  if (max_l == kInf) {  // the +inf tokens take all the mass, equally
    std::size_t m = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (c[i].first == kInf) {
        c[m++] = {0.0f, c[i].second};
      }
    }
    n = m;
    max_l = 0.0f;
  }

  // top-k
  if (p.top_k > 0 && static_cast<std::size_t>(p.top_k) < n) {
    const std::size_t k = static_cast<std::size_t>(p.top_k);
    select_top_k(c, k, n);
    n = k;
  }

  const bool use_top_p = p.top_p < 1.0f;
  const bool use_min_p = p.min_p > 0.0f;

  // min-p: keep logit >= max + log(min_p), i.e. p >= min_p * p_max (at least
  // the best token). Those are the best m tokens; move them to the front.
  std::size_t m = n;
  if (use_min_p) {
    const float min_logit = max_l + std::log(p.min_p);
    m = static_cast<std::size_t>(
        std::partition(c, c + n, [min_logit](const Candidate& x) { return x.first >= min_logit; }) -
        c);
    if (m == 0) {  // min_p > 1
      std::swap(c[0], *std::min_element(c, c + n, Better{}));
      m = 1;
    }
  }

  // top-p: the shortest best-first prefix whose probability reaches top_p.
  // Only the first m can survive min-p, so the search stays within them.
  std::size_t kept = m;
  if (use_top_p) {
    kept = top_p_cut(c, n, m, max_l, static_cast<double>(p.top_p));
  }

  // temperature, then the unnormalised softmax weights.
  const float t = p.temperature;
  for (std::size_t i = 0; i < kept; ++i) {
    c[i].first = std::exp((c[i].first - max_l) / t);
  }
  return kept;
}

}  // namespace sampling_detail

namespace {

void check_param(bool ok, const std::string& what) {
  if (!ok) {
    throw Error("Invalid sampling parameter: " + what + ".");
  }
}

}  // namespace

Sampler::Sampler(const SamplingParams& params, int32_t n_vocab)
    : params_(params), n_vocab_(n_vocab), rng_(params.seed) {
  if (n_vocab <= 0) {
    throw Error("The sampler needs a vocabulary of at least one token, got n_vocab = " +
                std::to_string(n_vocab) + ".");
  }
  check_param(!std::isnan(params.temperature) &&
                  params.temperature != std::numeric_limits<float>::infinity(),
              "temperature must be a number below infinity (<= 0 means greedy)");
  check_param(!std::isnan(params.top_p), "top_p is NaN");
  check_param(!std::isnan(params.min_p), "min_p is NaN");
  check_param(std::isfinite(params.repeat_penalty) && params.repeat_penalty > 0.0f,
              "repeat_penalty must be a finite number above 0");
  check_param(std::isfinite(params.frequency_penalty), "frequency_penalty must be finite");
  check_param(std::isfinite(params.presence_penalty), "presence_penalty must be finite");
  check_param(params.repeat_last_n >= -1,
              "repeat_last_n must be -1 (whole history), 0 (off) or a window size, got " +
                  std::to_string(params.repeat_last_n));
  track_penalties_ = sampling_detail::penalties_enabled(params);
}

int32_t Sampler::sample(const float* logits) {
  if (logits == nullptr) {
    throw Error("Sampler::sample was given no logits.");
  }
  if (params_.temperature <= 0.0f && counts_.empty()) {
    return argmax(logits, n_vocab_);
  }

  sampling_detail::load_logits(params_, logits, n_vocab_, counts_, candidates_);

  if (params_.temperature <= 0.0f) {  // greedy on the penalised logits
    std::size_t best = 0;
    for (std::size_t i = 1; i < candidates_.size(); ++i) {
      if (candidates_[i].first > candidates_[best].first) {
        best = i;
      }
    }
    return candidates_[best].second;
  }

  const std::size_t kept = sampling_detail::filter_candidates(params_, candidates_);
  const uint64_t bits = rng_();  // exactly one draw per call
  if (kept == 0) {
    return 0;  // every logit is -inf or NaN: argmax's answer
  }

  double total = 0.0;
  for (std::size_t i = 0; i < kept; ++i) {
    total += static_cast<double>(candidates_[i].first);
  }
  const double u = static_cast<double>(bits >> 11) * 0x1.0p-53;  // [0, 1)
  const double target = u * total;
  double cum = 0.0;
  int32_t last_positive = candidates_[0].second;
  for (std::size_t i = 0; i < kept; ++i) {
    const float w = candidates_[i].first;
    if (w <= 0.0f) {
      continue;
    }
    cum += static_cast<double>(w);
    last_positive = candidates_[i].second;
    if (cum > target) {
      return last_positive;
    }
  }
  return last_positive;  // rounding: u * total came out equal to total
}

void Sampler::accept(int32_t token) {
  if (token < 0 || token >= n_vocab_) {
    throw Error("Sampler::accept was given token id " + std::to_string(token) +
                ", outside the vocabulary [0, " + std::to_string(n_vocab_) + ").");
  }
  if (!track_penalties_) {
    return;
  }
  ++counts_[token];
  if (params_.repeat_last_n > 0) {
    history_.push_back(token);
    if (history_.size() > static_cast<std::size_t>(params_.repeat_last_n)) {
      const int32_t old = history_.front();
      history_.pop_front();
      const auto it = counts_.find(old);
      if (--it->second == 0) {
        counts_.erase(it);
      }
    }
  }
}

void Sampler::reset() {
  history_.clear();
  counts_.clear();
  rng_.seed(params_.seed);
}

int32_t argmax(const float* logits, int32_t n) {
  if (logits == nullptr || n <= 0) {
    throw Error("argmax needs at least one logit, got n = " + std::to_string(n) + ".");
  }
  int32_t best = 0;
  float best_v = std::isnan(logits[0]) ? -std::numeric_limits<float>::infinity() : logits[0];
  for (int32_t i = 1; i < n; ++i) {
    if (logits[i] > best_v) {  // false for NaN; strict, so the lowest id wins a tie
      best = i;
      best_v = logits[i];
    }
  }
  return best;
}

}  // namespace hearth
