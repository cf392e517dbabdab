// IDC gradient matching: distances between real and synthetic parameter gradients (conv weights only).
#pragma once
#include <string>
#include <vector>
#include "engine/tensor.h"

namespace yoco::app {

enum class MatchMetric { L1, Mse, Cos };
MatchMetric parse_metric(const std::string& s);  // "l1" | "mse" | "cos"
const char* metric_name(MatchMetric m);

// Σ over layers of dist(g_real[l], g_syn[l]) (IDC misc/utils.py matchloss):
//   l1: Σ|gr−gs|;  mse: Σ(gr−gs)²;  cos: Σ over output rows of (1 − <gr,gs>/(‖gr‖‖gs‖ + 1e-6)).
Tensor match_distance(const std::vector<Tensor>& g_real, const std::vector<Tensor>& g_syn, MatchMetric metric);

}  // namespace yoco::app
