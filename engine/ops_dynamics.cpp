// The training-dynamics fold op: host-side index checks, then one fold_dynamics kernel on the state's device.
#include <algorithm>
#include <utility>
#include <vector>
#include "engine/dispatch.h"
#include "engine/per_sample.h"
#include "kernels/dynamics.h"

namespace yoco {

namespace {

// The kernel updates sample indices[j]'s slots from row j in parallel: a repeated index would race (and the
// host fold's sequential semantics would be lost), an out-of-range one would write out of bounds.
void check_indices(const std::vector<int64_t>& idx, int64_t n) {
  std::vector<std::pair<int64_t, size_t>> sorted(idx.size());
  for (size_t j = 0; j < idx.size(); ++j) {
    YOCO_CHECK(idx[j] >= 0 && idx[j] < n, "fold_dynamics: sample index ", idx[j], " of row ", j, " is outside [0, ",
               n, ")");
    sorted[j] = {idx[j], j};
  }
  std::sort(sorted.begin(), sorted.end());
  for (size_t k = 1; k < sorted.size(); ++k)
    YOCO_CHECK(sorted[k].first != sorted[k - 1].first, "fold_dynamics: sample index ", sorted[k].first,
               " appears twice in one batch (rows ", sorted[k - 1].second, " and ", sorted[k].second,
               "); a batch must hold distinct samples");
}

void check_state(const TrainingDynamics& s) {
  for (const Tensor* t : {&s.el2n, &s.correct_num, &s.prev_correct, &s.forgetting, &s.aum})
    YOCO_CHECK(t->defined(), "fold_dynamics: state is not initialised (use training_dynamics())");
  const int64_t n = s.forgetting.numel();
  const Device d = s.forgetting.device();
  YOCO_CHECK(s.el2n.dim() == 2 && s.el2n.size(1) == n && s.el2n.dtype() == DType::F32 &&
                 s.correct_num.dim() == 1 && s.correct_num.dtype() == DType::I64 &&
                 s.prev_correct.shape() == Shape{n} && s.prev_correct.dtype() == DType::I64 &&
                 s.forgetting.shape() == Shape{n} && s.forgetting.dtype() == DType::F32 &&
                 s.aum.shape() == Shape{n} && s.aum.dtype() == DType::F32,
             "fold_dynamics: inconsistent state el2n ", s.el2n.str(), " correct_num ", s.correct_num.str(),
             " prev_correct ", s.prev_correct.str(), " forgetting ", s.forgetting.str(), " aum ", s.aum.str());
  for (const Tensor* t : {&s.el2n, &s.correct_num, &s.prev_correct, &s.aum})
    YOCO_CHECK(t->device() == d, "fold_dynamics: state tensors on different devices: ", t->str(), " and ",
               s.forgetting.str());
}

}  // namespace

TrainingDynamics training_dynamics(int64_t n, int64_t epochs, int64_t logged, Device device) {
  YOCO_CHECK(n >= 0 && epochs >= 0 && logged >= 0 && logged <= epochs, "training_dynamics: bad sizes n ", n,
             ", epochs ", epochs, ", logged ", logged);
  TrainingDynamics s;
  s.el2n = zeros({logged, n}, DType::F32, device);
  s.correct_num = zeros({epochs}, DType::I64, device);
  s.prev_correct = empty({n}, DType::I64, device);
  fill_(s.prev_correct, -1.f);  // not seen yet
  s.forgetting = zeros({n}, DType::F32, device);
  s.aum = zeros({n}, DType::F32, device);
  return s;
}

void fold_dynamics(TrainingDynamics& s, const Tensor& el2n, const Tensor& correct, const Tensor& margin,
                   const std::vector<int64_t>& indices, int64_t epoch) {
  check_state(s);
  const int64_t n = s.forgetting.numel(), b = static_cast<int64_t>(indices.size());
  YOCO_CHECK(epoch >= 0 && epoch < s.correct_num.numel(), "fold_dynamics: epoch ", epoch, " outside [0, ",
             s.correct_num.numel(), ")");
  for (const Tensor* t : {&el2n, &correct, &margin}) {
    detail::check_f32(*t, "fold_dynamics", "per-sample statistic");
    YOCO_CHECK(t->shape() == Shape{b}, "fold_dynamics: per-sample statistic ", t->str(), " for ", b, " indices");
    detail::check_same_device(*t, s.forgetting, "fold_dynamics");
  }
  check_indices(indices, n);
  if (b == 0) return;
  // A host -> device upload of pageable memory is staged and enqueued: no wait for the device.
  const Tensor idx = from_int_vector(indices, {b}, s.forgetting.device());
  const kernels::DynamicsBatch in{el2n.data<float>(), correct.data<float>(), margin.data<float>(),
                                  idx.data<int64_t>(), b};
  const kernels::DynamicsState st{s.el2n.data<float>(),    s.correct_num.data<int64_t>(),
                                  s.prev_correct.data<int64_t>(), s.forgetting.data<float>(),
                                  s.aum.data<float>(),     n,
                                  s.el2n.size(0)};
  YOCO_DISPATCH(s.forgetting, fold_dynamics, in, epoch, st);
}

}  // namespace yoco
