// Softmax and loss ops ([N, C] logits, classes along dim 1) and the fused per-sample statistics.
#include <vector>
#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/per_sample.h"
#include "engine/range_check.h"
#include "kernels/softmax_loss.h"

namespace yoco {

namespace {

void check_logits(const Tensor& x, const char* op) {
  detail::check_f32(x, op, "logits");
  detail::check_dim(x, 2, op, "logits");
  YOCO_CHECK(x.size(1) > 0, op, ": logits need at least one class, got ", x.str());
}

// Labels must be i64 [n] with every value in [0, c); the error names the first offending sample (on CUDA at the
// next host wait: detail::check_in_range).
void check_labels(const Tensor& labels, int64_t n, int64_t c, const char* op) {
  YOCO_CHECK(labels.defined() && labels.dtype() == DType::I64, op, ": labels must be i64, got ",
             labels.defined() ? labels.str() : std::string("undefined"));
  YOCO_CHECK(labels.shape() == Shape{n}, op, ": labels must be [", n, "], got ", labels.str());
  detail::check_in_range(labels, c, op, detail::RangeKind::Label);
}

// The [n, c] mask of labels already checked (cross_entropy checks them once, under its own name).
Tensor one_hot_mask(const Tensor& labels, int64_t n, int64_t c) {
  Tensor out = empty({n, c}, DType::F32, labels.device());
  if (n > 0) YOCO_DISPATCH(labels, one_hot, labels.data<int64_t>(), n, c, out.data<float>());
  return out;
}

}  // namespace

Tensor log_softmax(const Tensor& x) {
  check_logits(x, "log_softmax");
  Tensor out = empty(x.shape(), DType::F32, x.device());
  if (x.numel() > 0) YOCO_DISPATCH(x, log_softmax, x.data<float>(), out.data<float>(), x.size(0), x.size(1));
  // d/dx: g - softmax(x) * rowsum(g), softmax recomputed from x so the backward is differentiable again.
  return record(out, "log_softmax", {x}, [x](const Tensor& g, const std::vector<bool>&, bool) {
    return std::vector<Tensor>{sub(g, mul(softmax(x), sum(g, {1}, true)))};
  });
}

Tensor softmax(const Tensor& x) { return exp(log_softmax(x)); }

Tensor one_hot(const Tensor& labels, int64_t num_classes) {
  YOCO_CHECK(num_classes > 0, "one_hot: num_classes must be positive, got ", num_classes);
  YOCO_CHECK(labels.defined() && labels.dim() == 1, "one_hot: labels must be i64 [N], got ",
             labels.defined() ? labels.str() : std::string("undefined"));
  const int64_t n = labels.size(0);
  check_labels(labels, n, num_classes, "one_hot");
  return one_hot_mask(labels, n, num_classes);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& labels) {
  check_logits(logits, "cross_entropy");
  const int64_t n = logits.size(0), c = logits.size(1);
  YOCO_CHECK(n > 0, "cross_entropy: empty batch ", logits.str());
  YOCO_CHECK(!labels.defined() || labels.device() == logits.device(), "cross_entropy: labels ", labels.str(),
             " vs logits ", logits.str());
  check_labels(labels, n, c, "cross_entropy");
  // -mean_i log_softmax[i, y_i], picked by a constant one-hot mask (all derivatives go through log_softmax).
  return mul_scalar(sum(mul(log_softmax(logits), one_hot_mask(labels, n, c))), -1.f / static_cast<float>(n));
}

Tensor cross_entropy_soft(const Tensor& logits, const Tensor& target) {
  check_logits(logits, "cross_entropy_soft");
  detail::check_f32(target, "cross_entropy_soft", "target");
  detail::check_same_device(logits, target, "cross_entropy_soft");
  YOCO_CHECK(target.shape() == logits.shape(), "cross_entropy_soft: target ", target.str(), " vs logits ",
             logits.str());
  const int64_t n = logits.size(0);
  YOCO_CHECK(n > 0, "cross_entropy_soft: empty batch ", logits.str());
  return mul_scalar(sum(mul(target, log_softmax(logits))), -1.f / static_cast<float>(n));
}

PerSample per_sample_stats(const Tensor& logits, const Tensor& labels) {
  check_logits(logits, "per_sample_stats");
  const int64_t n = logits.size(0), c = logits.size(1);
  YOCO_CHECK(!labels.defined() || labels.device() == logits.device(), "per_sample_stats: labels ", labels.str(),
             " vs logits ", logits.str());
  check_labels(labels, n, c, "per_sample_stats");
  PerSample r;
  for (Tensor* t : {&r.el2n, &r.loss, &r.correct, &r.margin, &r.entropy}) *t = empty({n}, DType::F32, logits.device());
  if (n > 0)
    YOCO_DISPATCH(logits, per_sample_stats, logits.data<float>(), labels.data<int64_t>(), n, c, r.el2n.data<float>(),
                  r.loss.data<float>(), r.correct.data<float>(), r.margin.data<float>(), r.entropy.data<float>());
  return r;
}

}  // namespace yoco
