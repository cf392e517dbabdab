// Gradient-matching distances written in engine ops, so they differentiate back to the synthetic images.
#include "apps/common/matching.h"
#include "engine/ops.h"

namespace yoco::app {

MatchMetric parse_metric(const std::string& s) {
  if (s == "l1") return MatchMetric::L1;
  if (s == "mse") return MatchMetric::Mse;
  if (s == "cos") return MatchMetric::Cos;
  YOCO_CHECK(false, "--metric: expected l1, mse or cos, got '", s, "'");
  return MatchMetric::L1;
}

const char* metric_name(MatchMetric m) { return m == MatchMetric::L1 ? "l1" : m == MatchMetric::Mse ? "mse" : "cos"; }

Tensor match_distance(const std::vector<Tensor>& g_real, const std::vector<Tensor>& g_syn, MatchMetric metric) {
  YOCO_CHECK(g_real.size() == g_syn.size() && !g_real.empty(), "match_distance: ", g_real.size(), " real vs ",
             g_syn.size(), " synthetic gradients");
  Tensor total;
  for (size_t l = 0; l < g_real.size(); ++l) {
    YOCO_CHECK(g_real[l].shape() == g_syn[l].shape(), "match_distance: layer ", l, ": ", g_real[l].str(), " vs ",
               g_syn[l].str());
    Tensor d;
    if (metric == MatchMetric::L1) {
      d = sum(abs(sub(g_real[l], g_syn[l])));
    } else if (metric == MatchMetric::Mse) {
      Tensor diff = sub(g_real[l], g_syn[l]);
      d = sum(mul(diff, diff));
    } else {
      Tensor a = reshape(g_real[l], {g_real[l].size(0), -1}), b = reshape(g_syn[l], {g_syn[l].size(0), -1});
      Tensor dot = sum(mul(a, b), {1});
      Tensor na = sqrt(sum(mul(a, a), {1})), nb = sqrt(sum(mul(b, b), {1}));
      d = sum(add_scalar(neg(div(dot, add_scalar(mul(na, nb), 1e-6f))), 1.f));
    }
    total = total.defined() ? add(total, d) : d;
  }
  return total;
}

}  // namespace yoco::app
