// Shape ops: reshape (a view), slice, concat, index_select/index_add, transpose, flip.
#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/range_check.h"
#include "kernels/shape.h"

namespace yoco {

namespace {

int64_t norm_dim(int64_t d, int64_t nd, const char* op, const Tensor& a) {
  int64_t r = d < 0 ? d + nd : d;
  YOCO_CHECK(r >= 0 && r < nd, op, ": dim ", d, " out of range for ", a.str());
  return r;
}
// [outer, dim, inner] split of a shape around `dim`.
void split3(const Shape& s, int64_t dim, int64_t* outer, int64_t* inner) {
  *outer = 1, *inner = 1;
  for (int64_t i = 0; i < dim; ++i) *outer *= s[i];
  for (size_t i = dim + 1; i < s.size(); ++i) *inner *= s[i];
}

// Writes g into a zero tensor of `shape` at [start, start + g.size(dim)) along dim: slice's adjoint.
Tensor slice_adjoint(const Tensor& g, const Shape& shape, int64_t dim, int64_t start) {
  Tensor out = zeros(shape, DType::F32, g.device());
  int64_t outer, inner;
  split3(shape, dim, &outer, &inner);
  int64_t len = g.shape()[dim] * inner;
  if (outer * len > 0)
    YOCO_DISPATCH(g, copy_blocks, g.data<float>(), out.data<float>(), outer, len, len, 0, shape[dim] * inner,
                  start * inner);
  const int64_t end = start + g.shape()[dim];
  return record(out, "slice_adjoint", {g}, [dim, start, end](const Tensor& gg, const std::vector<bool>&, bool) {
    return std::vector<Tensor>{slice(gg, dim, start, end)};
  });
}

Tensor strided(const Tensor& a, const Shape& out_shape, const std::vector<int64_t>& strides, int64_t offset) {
  kernels::StridedPlan p;
  p.ndim = static_cast<int>(out_shape.size());
  YOCO_CHECK(p.ndim <= kernels::kMaxStridedDims, "strided copy: too many dims in ", a.str());
  for (int d = 0; d < p.ndim; ++d) p.shape[d] = out_shape[d], p.stride[d] = strides[d];
  p.offset = offset;
  Tensor out = empty(out_shape, DType::F32, a.device());
  if (out.numel() > 0) YOCO_DISPATCH(a, strided_copy, a.data<float>(), out.data<float>(), out.numel(), p);
  return out;
}

// Validated on the host (a small copy for CUDA indices): an out-of-range index must never reach a kernel.
// Indices must lie in [0, n). On CUDA the check runs on the device (reported at the next host wait with the same
// message), so a gather costs no download and no host wait; the CUDA kernels tolerate bad indices until then.
void check_indices(const Tensor& index, int64_t n, const char* op) {
  detail::check_in_range(index, n, op, detail::RangeKind::Index);
}

std::vector<int64_t> contiguous_strides(const Shape& s) {
  std::vector<int64_t> st(s.size());
  int64_t v = 1;
  for (int64_t i = static_cast<int64_t>(s.size()) - 1; i >= 0; --i) st[i] = v, v *= s[i];
  return st;
}

}  // namespace

Tensor reshape(const Tensor& a, const Shape& shape_in) {
  Shape shape = shape_in;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      YOCO_CHECK(infer < 0, "reshape: more than one -1 in ", shape_str(shape_in));
      infer = static_cast<int64_t>(i);
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    YOCO_CHECK(known > 0 && a.numel() % known == 0, "reshape: cannot infer -1 in ", shape_str(shape_in), " for ", a.str());
    shape[infer] = a.numel() / known;
  }
  YOCO_CHECK(shape_numel(shape) == a.numel(), "reshape: ", a.str(), " cannot become ", shape_str(shape_in));
  if (shape == a.shape()) return a;
  Tensor out = make_view(a, shape, 0);
  Shape src = a.shape();
  return record(out, "reshape", {a},
                [src](const Tensor& g, const std::vector<bool>&, bool) {
                  return std::vector<Tensor>{reshape(g, src)};
                });
}

Tensor flatten(const Tensor& a, int64_t start_dim) {
  int64_t sd = norm_dim(start_dim, a.dim(), "flatten", a);
  Shape s(a.shape().begin(), a.shape().begin() + sd);
  s.push_back(-1);
  return reshape(a, s);
}

Tensor slice(const Tensor& a, int64_t dim_in, int64_t start, int64_t end) {
  detail::check_f32(a, "slice", "input");
  int64_t dim = norm_dim(dim_in, a.dim(), "slice", a);
  int64_t n = a.shape()[dim];
  YOCO_CHECK(0 <= start && start <= end && end <= n, "slice: range [", start, ", ", end, ") out of bounds for dim ",
             dim, " of ", a.str());
  Shape os = a.shape();
  os[dim] = end - start;
  int64_t outer, inner;
  split3(a.shape(), dim, &outer, &inner);
  Tensor out;
  if (outer == 1) {
    out = make_view(a, os, start * inner);  // a contiguous block: no copy
  } else {
    out = empty(os, DType::F32, a.device());
    int64_t len = (end - start) * inner;
    if (outer * len > 0)
      YOCO_DISPATCH(a, copy_blocks, a.data<float>(), out.data<float>(), outer, len, n * inner, start * inner, len, 0);
  }
  Shape src = a.shape();
  return record(out, "slice", {a}, [src, dim, start](const Tensor& g, const std::vector<bool>&, bool) {
    return std::vector<Tensor>{slice_adjoint(g, src, dim, start)};
  });
}

Tensor concat(const std::vector<Tensor>& parts, int64_t dim_in) {
  YOCO_CHECK(!parts.empty(), "concat: no tensors");
  const Tensor& first = parts[0];
  int64_t dim = norm_dim(dim_in, first.dim(), "concat", first);
  Shape os = first.shape();
  os[dim] = 0;
  for (const Tensor& p : parts) {
    detail::check_f32(p, "concat", "part");
    detail::check_same_device(first, p, "concat");
    YOCO_CHECK(p.dim() == first.dim(), "concat: ", p.str(), " vs ", first.str());
    for (int64_t d = 0; d < p.dim(); ++d)
      YOCO_CHECK(d == dim || p.shape()[d] == first.shape()[d], "concat: ", p.str(), " vs ", first.str(), " along dim ", dim);
    os[dim] += p.shape()[dim];
  }
  Tensor out = empty(os, DType::F32, first.device());
  int64_t outer, inner;
  split3(os, dim, &outer, &inner);
  int64_t at = 0;
  std::vector<int64_t> starts;
  for (const Tensor& p : parts) {
    int64_t len = p.shape()[dim] * inner;
    if (outer * len > 0)
      YOCO_DISPATCH(p, copy_blocks, p.data<float>(), out.data<float>(), outer, len, len, 0, os[dim] * inner, at * inner);
    starts.push_back(at);
    at += p.shape()[dim];
  }
  std::vector<int64_t> sizes;
  for (const Tensor& p : parts) sizes.push_back(p.shape()[dim]);
  return record(out, "concat", parts, [dim, starts, sizes](const Tensor& g, const std::vector<bool>& n, bool) {
    std::vector<Tensor> gs(starts.size());
    for (size_t i = 0; i < starts.size(); ++i)
      if (n[i]) gs[i] = slice(g, dim, starts[i], starts[i] + sizes[i]);
    return gs;
  });
}

Tensor index_select(const Tensor& a, int64_t dim_in, const Tensor& index) {
  detail::check_f32(a, "index_select", "input");
  YOCO_CHECK(index.dtype() == DType::I64 && index.dim() == 1, "index_select: index must be i64 [K], got ", index.str());
  detail::check_same_device(a, index, "index_select");
  int64_t dim = norm_dim(dim_in, a.dim(), "index_select", a);
  int64_t k = index.numel(), n = a.shape()[dim];
  check_indices(index, n, "index_select");
  Shape os = a.shape();
  os[dim] = k;
  Tensor out = empty(os, DType::F32, a.device());
  int64_t outer, inner;
  split3(a.shape(), dim, &outer, &inner);
  if (out.numel() > 0)
    YOCO_DISPATCH(a, index_select, a.data<float>(), out.data<float>(), outer, n, inner, index.data<int64_t>(), k);
  Shape src = a.shape();
  return record(out, "index_select", {a}, [src, dim, index](const Tensor& g, const std::vector<bool>&, bool) {
    return std::vector<Tensor>{index_add(src, dim, index, g)};
  });
}

Tensor index_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& g) {
  detail::check_f32(g, "index_add", "source");
  YOCO_CHECK(index.dtype() == DType::I64 && index.dim() == 1, "index_add: index must be i64 [K], got ", index.str());
  Shape expect = shape;
  YOCO_CHECK(dim >= 0 && dim < static_cast<int64_t>(shape.size()), "index_add: dim ", dim, " for ", shape_str(shape));
  expect[dim] = index.numel();
  YOCO_CHECK(g.shape() == expect, "index_add: source ", g.str(), " expected ", shape_str(expect));
  check_indices(index, shape[dim], "index_add");
  Tensor out = zeros(shape, DType::F32, g.device());
  int64_t outer, inner;
  split3(shape, dim, &outer, &inner);
  if (g.numel() > 0)
    YOCO_DISPATCH(g, index_add, g.data<float>(), out.data<float>(), outer, shape[dim], inner, index.data<int64_t>(),
                  index.numel());
  return record(out, "index_add", {g}, [dim, index](const Tensor& gg, const std::vector<bool>&, bool) {
    return std::vector<Tensor>{index_select(gg, dim, index)};
  });
}

Tensor transpose(const Tensor& a, int64_t d0_in, int64_t d1_in) {
  detail::check_f32(a, "transpose", "input");
  int64_t d0 = norm_dim(d0_in, a.dim(), "transpose", a), d1 = norm_dim(d1_in, a.dim(), "transpose", a);
  std::vector<int64_t> st = contiguous_strides(a.shape());
  Shape os = a.shape();
  std::swap(os[d0], os[d1]);
  std::swap(st[d0], st[d1]);
  Tensor out = strided(a, os, st, 0);
  return record(out, "transpose", {a}, [d0, d1](const Tensor& g, const std::vector<bool>&, bool) {
    return std::vector<Tensor>{transpose(g, d0, d1)};
  });
}

Tensor flip(const Tensor& a, int64_t dim_in) {
  detail::check_f32(a, "flip", "input");
  int64_t dim = norm_dim(dim_in, a.dim(), "flip", a);
  std::vector<int64_t> st = contiguous_strides(a.shape());
  int64_t offset = (a.shape()[dim] - 1) * st[dim];
  st[dim] = -st[dim];
  Tensor out = strided(a, a.shape(), st, offset);
  return record(out, "flip", {a}, [dim](const Tensor& g, const std::vector<bool>&, bool) {
    return std::vector<Tensor>{flip(g, dim)};
  });
}

}  // namespace yoco
