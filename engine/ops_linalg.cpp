// matmul with transpose flags (its derivatives are matmuls again) and linear.
#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "kernels/gemm.h"

namespace yoco {

Tensor matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  detail::check_f32(a, "matmul", "a");
  detail::check_f32(b, "matmul", "b");
  detail::check_dim(a, 2, "matmul", "a");
  detail::check_dim(b, 2, "matmul", "b");
  detail::check_same_device(a, b, "matmul");
  int64_t m = ta ? a.size(1) : a.size(0), k = ta ? a.size(0) : a.size(1);
  int64_t kb = tb ? b.size(1) : b.size(0), n = tb ? b.size(0) : b.size(1);
  YOCO_CHECK(k == kb, "matmul: inner dims differ: ", a.str(), (ta ? "^T" : ""), " @ ", b.str(), (tb ? "^T" : ""));
  Tensor out = empty({m, n}, DType::F32, a.device());
  if (k == 0) {
    fill_(out, 0.f);
  } else {
    YOCO_DISPATCH(a, gemm, ta, tb, m, n, k, 1.f, a.data<float>(), a.size(1), b.data<float>(), b.size(1), 0.f,
                  out.data<float>(), n);
  }
  return record(out, "matmul", {a, b}, [a, b, ta, tb](const Tensor& g, const std::vector<bool>& need, bool) {
    Tensor ga, gb;
    // C = op(A) op(B): dop(A) = G op(B)^T, dop(B) = op(A)^T G, then undo op.
    if (need[0]) ga = ta ? matmul(b, g, tb, true) : matmul(g, b, false, !tb);
    if (need[1]) gb = tb ? matmul(g, a, true, ta) : matmul(a, g, !ta, false);
    return std::vector<Tensor>{ga, gb};
  });
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  detail::check_dim(x, 2, "linear", "x");
  detail::check_dim(w, 2, "linear", "weight");
  YOCO_CHECK(x.size(1) == w.size(1), "linear: x ", x.str(), " does not fit weight ", w.str());
  Tensor y = matmul(x, w, false, true);
  if (!b.defined()) return y;
  YOCO_CHECK(b.dim() == 1 && b.size(0) == w.size(0), "linear: bias ", b.str(), " for weight ", w.str());
  return add(y, b);
}

}  // namespace yoco
