// Reductions (sum/mean over all or given dims) and the broadcast pair sum_to/broadcast_to.
#include <algorithm>
#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "kernels/elementwise.h"
#include "kernels/reduce.h"

namespace yoco {

namespace {

std::vector<int64_t> normalize_dims(const std::vector<int64_t>& dims, int64_t nd, const Tensor& a) {
  std::vector<int64_t> out;
  for (int64_t d : dims) {
    int64_t dd = d < 0 ? d + nd : d;
    YOCO_CHECK(dd >= 0 && dd < nd, "sum: dim ", d, " out of range for ", a.str());
    out.push_back(dd);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Tensor sum_raw(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim, float scale) {
  detail::check_f32(a, "sum", "input");
  const int64_t nd = a.dim();
  YOCO_CHECK(nd <= kernels::kMaxReduceDims, "sum: at most ", kernels::kMaxReduceDims, " dims, got ", a.str());
  bool red[kernels::kMaxReduceDims] = {};
  for (int64_t d : dims) red[d] = true;
  Shape out_shape;
  for (int64_t d = 0; d < nd; ++d) {
    if (red[d] && keepdim) out_shape.push_back(1);
    if (!red[d]) out_shape.push_back(a.shape()[d]);
  }
  const kernels::ReducePlan p = kernels::make_reduce_plan(a.shape().data(), static_cast<int>(nd), red);
  Tensor out = empty(out_shape, DType::F32, a.device());
  if (p.n_out == 0) return out;
  if (p.n_reduce == 0) {
    fill_(out, 0.f);
    return out;
  }
  YOCO_DISPATCH(a, sum_reduce, a.data<float>(), out.data<float>(), p, scale);
  return out;
}

std::vector<int64_t> all_dims(const Tensor& a) {
  std::vector<int64_t> d(a.dim());
  for (int64_t i = 0; i < a.dim(); ++i) d[i] = i;
  return d;
}

// Shape of the result before dropping dims (keepdim form), for the backward's broadcast.
Shape keep_shape(const Shape& s, const std::vector<int64_t>& dims) {
  Shape k = s;
  for (int64_t d : dims) k[d] = 1;
  return k;
}

Tensor reduce_op(const Tensor& a, const std::vector<int64_t>& dims_in, bool keepdim, bool is_mean) {
  std::vector<int64_t> dims = normalize_dims(dims_in, a.dim(), a);
  int64_t count = 1;
  for (int64_t d : dims) count *= a.shape()[d];
  float scale = is_mean ? (count ? 1.f / static_cast<float>(count) : 0.f) : 1.f;
  Tensor out = sum_raw(a, dims, keepdim, scale);
  Shape in_shape = a.shape(), ks = keep_shape(a.shape(), dims);
  return record(out, is_mean ? "mean" : "sum", {a},
                [in_shape, ks, scale](const Tensor& g, const std::vector<bool>&, bool) {
                  Tensor gk = reshape(g, ks);
                  Tensor b = broadcast_to(gk, in_shape);
                  return std::vector<Tensor>{scale != 1.f ? mul_scalar(b, scale) : b};
                });
}

}  // namespace

Tensor sum(const Tensor& a) { return reduce_op(a, all_dims(a), false, false); }
Tensor sum(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) { return reduce_op(a, dims, keepdim, false); }
Tensor mean(const Tensor& a) { return reduce_op(a, all_dims(a), false, true); }
Tensor mean(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) { return reduce_op(a, dims, keepdim, true); }

Tensor sum_to(const Tensor& a, const Shape& shape) {
  if (a.shape() == shape) return a;
  const int64_t nd = a.dim(), ns = static_cast<int64_t>(shape.size());
  YOCO_CHECK(ns <= nd, "sum_to: cannot reduce ", a.str(), " to ", shape_str(shape));
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < nd; ++d) {
    int64_t td = d - (nd - ns);
    if (td < 0) {
      dims.push_back(d);
    } else if (shape[td] == 1 && a.shape()[d] != 1) {
      dims.push_back(d);
    } else {
      YOCO_CHECK(shape[td] == a.shape()[d], "sum_to: cannot reduce ", a.str(), " to ", shape_str(shape));
    }
  }
  return reshape(sum(a, dims, true), shape);
}

Tensor broadcast_to(const Tensor& a, const Shape& shape) {
  if (a.shape() == shape) return a;
  detail::check_f32(a, "broadcast_to", "input");
  // Reuse the broadcasting Add kernel with a zero scalar: data movement only, exact.
  Tensor zero = zeros({1}, DType::F32, a.device());
  Tensor out = empty(shape, DType::F32, a.device());
  YOCO_CHECK(a.dim() <= static_cast<int64_t>(shape.size()), "broadcast_to: ", a.str(), " to ", shape_str(shape));
  for (size_t d = 0; d < shape.size(); ++d) {
    int64_t ad = static_cast<int64_t>(d) - (static_cast<int64_t>(shape.size()) - a.dim());
    YOCO_CHECK(ad < 0 || a.shape()[ad] == shape[d] || a.shape()[ad] == 1, "broadcast_to: ", a.str(),
               " does not broadcast to ", shape_str(shape));
  }
  kernels::Broadcast bc = detail::make_broadcast(shape, a.shape(), {1});
  if (out.numel() > 0)
    YOCO_DISPATCH(a, binary, kernels::BinaryOp::Add, a.data<float>(), zero.data<float>(), out.data<float>(),
                  out.numel(), 0.f, 0.f, &bc);
  Shape src = a.shape();
  return record(out, "broadcast_to", {a},
                [src](const Tensor& g, const std::vector<bool>&, bool) { return std::vector<Tensor>{sum_to(g, src)}; });
}

}  // namespace yoco
