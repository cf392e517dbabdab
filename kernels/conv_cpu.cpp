// Convolution family, CPU: im2col + single-threaded OpenBLAS GEMM per image, OpenMP over images.
#include <algorithm>
#include <cstring>
#include <vector>
#include "kernels/conv.h"
#include "kernels/gemm.h"


namespace yoco::kernels::cpu {

namespace {

// Images per weight-gradient chunk. Fixed (never derived from the thread count) so that the summation
// order, hence every bit of dW, is the same on 1 or 64 threads.
constexpr int64_t kChunk = 8;

// Per-thread scratch that survives between calls: page-faulting fresh megabytes every call costs more
// than the convolution of a small layer. Slots let one thread hold several buffers at once.
float* scratch(size_t n, int slot) {
  thread_local std::vector<float> buf[2];
  if (buf[slot].size() < n) buf[slot].resize(n);
  return buf[slot].data();
}


bool is_pointwise(const ConvShape& cs) { return cs.r == 1 && cs.s == 1 && cs.stride == 1 && cs.pad == 0; }

// Output columns [lo, hi) of a row whose input column ow*stride - pad + s lies inside [0, w).
void valid_cols(const ConvShape& cs, int64_t s, int64_t* lo, int64_t* hi) {
  const int64_t first = cs.pad - s;  // need ow*stride >= first
  *lo = first <= 0 ? 0 : std::min(cs.ow, (first + cs.stride - 1) / cs.stride);
  const int64_t last = cs.w - 1 + cs.pad - s;  // need ow*stride <= last
  *hi = last < 0 ? 0 : std::min(cs.ow, last / cs.stride + 1);
  *hi = std::max(*hi, *lo);
}

// One image [c,h,w] -> columns [c*r*s, oh*ow] with row stride ld (zeros where the window hits padding).
void im2col(const ConvShape& cs, const float* x, float* cols, int64_t ld) {
  for (int64_t c = 0; c < cs.c; ++c)
    for (int64_t r = 0; r < cs.r; ++r)
      for (int64_t s = 0; s < cs.s; ++s) {
        float* row = cols + ((c * cs.r + r) * cs.s + s) * ld;
        int64_t lo, hi;
        valid_cols(cs, s, &lo, &hi);
        for (int64_t oh = 0; oh < cs.oh; ++oh) {
          float* o = row + oh * cs.ow;
          const int64_t ih = oh * cs.stride - cs.pad + r;
          if (ih < 0 || ih >= cs.h) {
            std::fill(o, o + cs.ow, 0.f);
            continue;
          }
          const float* xr = x + (c * cs.h + ih) * cs.w - cs.pad + s;
          std::fill(o, o + lo, 0.f);
          if (cs.stride == 1)
            std::memcpy(o + lo, xr + lo, sizeof(float) * (hi - lo));
          else
            for (int64_t ow = lo; ow < hi; ++ow) o[ow] = xr[ow * cs.stride];
          std::fill(o + hi, o + cs.ow, 0.f);
        }
      }
}

// Adjoint of im2col: adds columns [c*r*s, oh*ow] back into one image gx [c,h,w] (already zeroed).
void col2im(const ConvShape& cs, const float* cols, float* gx) {
  for (int64_t c = 0; c < cs.c; ++c)
    for (int64_t r = 0; r < cs.r; ++r)
      for (int64_t s = 0; s < cs.s; ++s) {
        const float* row = cols + ((c * cs.r + r) * cs.s + s) * cs.oh * cs.ow;
        int64_t lo, hi;
        valid_cols(cs, s, &lo, &hi);
        for (int64_t oh = 0; oh < cs.oh; ++oh) {
          const int64_t ih = oh * cs.stride - cs.pad + r;
          if (ih < 0 || ih >= cs.h) continue;
          const float* o = row + oh * cs.ow;
          float* xr = gx + (c * cs.h + ih) * cs.w - cs.pad + s;
          if (cs.stride == 1)  // the common case gets a contiguous, vectorisable loop
            for (int64_t ow = lo; ow < hi; ++ow) xr[ow] += o[ow];
          else
            for (int64_t ow = lo; ow < hi; ++ow) xr[ow * cs.stride] += o[ow];
        }
      }
}

// Partial dW [k, c*r*s] of images [n0, n0+m), accumulated image by image in order (GEMM beta = 1).
// One GEMM over the chunk's concatenated columns was measured too: its GEMM is 10-15% faster only for
// 4×4 planes and the 3-channel first layer, equal at 8×8, slower at 16×16, and it needs a copy of g.
void weight_grad_chunk(const ConvShape& cs, const float* x, const float* g, int64_t n0, int64_t m, float* out) {
  const int64_t p = cs.oh * cs.ow, crs = cs.c * cs.r * cs.s;
  float* cols = scratch(static_cast<size_t>(crs * p), 0);
  for (int64_t i = 0; i < m; ++i) {
    const float* xn = x + (n0 + i) * cs.c * cs.h * cs.w;
    const float* gn = g + (n0 + i) * cs.k * p;
    const float* b = xn;  // a pointwise conv's columns are the image itself
    if (!is_pointwise(cs)) {
      im2col(cs, xn, cols, p);
      b = cols;
    }
    gemm_serial(false, true, cs.k, crs, p, 1.f, gn, p, b, p, i == 0 ? 0.f : 1.f, out, crs);
  }
}

}  // namespace

void conv2d_forward_im2col(const ConvShape& cs, const float* x, const float* w, const float* b, float* y) {
  const int64_t p = cs.oh * cs.ow, crs = cs.c * cs.r * cs.s;
#pragma omp parallel for schedule(static) if (cs.n > 1)
  for (int64_t n = 0; n < cs.n; ++n) {
    const float* xn = x + n * cs.c * cs.h * cs.w;
    float* yn = y + n * cs.k * p;
    const float* cols = xn;  // a pointwise conv is a plain GEMM on the image itself
    if (!is_pointwise(cs)) {
      float* buf = scratch(static_cast<size_t>(crs * p), 0);
      im2col(cs, xn, buf, p);
      cols = buf;
    }
    gemm_serial(false, false, cs.k, p, crs, 1.f, w, crs, cols, p, 0.f, yn, p);
    if (b)
      for (int64_t k = 0; k < cs.k; ++k)
        for (int64_t i = 0; i < p; ++i) yn[k * p + i] += b[k];
  }
}

void conv2d_backward_input_im2col(const ConvShape& cs, const float* g, const float* w, float* gx) {
  const int64_t p = cs.oh * cs.ow, crs = cs.c * cs.r * cs.s, img = cs.c * cs.h * cs.w;
#pragma omp parallel for schedule(static) if (cs.n > 1)
  for (int64_t n = 0; n < cs.n; ++n) {
    const float* gn = g + n * cs.k * p;
    float* gxn = gx + n * img;
    if (is_pointwise(cs)) {
      gemm_serial(true, false, cs.c, p, cs.k, 1.f, w, crs, gn, p, 0.f, gxn, p);
      continue;
    }
    float* cols = scratch(static_cast<size_t>(crs * p), 0);
    gemm_serial(true, false, crs, p, cs.k, 1.f, w, crs, gn, p, 0.f, cols, p);
    std::fill(gxn, gxn + img, 0.f);
    col2im(cs, cols, gxn);
  }
}

void conv2d_backward_weight_im2col(const ConvShape& cs, const float* x, const float* g, float* gw) {
  const int64_t wsize = cs.k * cs.c * cs.r * cs.s;
  const int64_t chunks = ceil_div(cs.n, kChunk);
  if (chunks == 0) std::fill(gw, gw + wsize, 0.f);
  // Chunks run in parallel; their partials are added into gw strictly in chunk order (ordered), so
  // gw = ((p0 + p1) + p2) + ... whatever the thread count, with one partial buffer per thread.
#pragma omp parallel for ordered schedule(dynamic, 1) if (chunks > 1)
  for (int64_t j = 0; j < chunks; ++j) {
    const int64_t n0 = j * kChunk;
    float* part = j == 0 ? gw : scratch(static_cast<size_t>(wsize), 1);
    weight_grad_chunk(cs, x, g, n0, std::min(kChunk, cs.n - n0), part);
#pragma omp ordered
    {
      if (j > 0)
        for (int64_t e = 0; e < wsize; ++e) gw[e] += part[e];
    }
  }
}

void conv2d_forward(const ConvShape& cs, const float* x, const float* w, const float* b, float* y) {
  if (cs.algo == ConvAlgo::Im2col) return conv2d_forward_im2col(cs, x, w, b, y);
  conv2d_forward_dnnl(cs, x, w, b, y);
}

void conv2d_backward_input(const ConvShape& cs, const float* g, const float* w, float* gx) {
  if (cs.algo == ConvAlgo::Im2col) return conv2d_backward_input_im2col(cs, g, w, gx);
  conv2d_backward_input_dnnl(cs, g, w, gx);
}

void conv2d_backward_weight(const ConvShape& cs, const float* x, const float* g, float* gw) {
  if (cs.algo == ConvAlgo::Im2col) return conv2d_backward_weight_im2col(cs, x, g, gw);
  conv2d_backward_weight_dnnl(cs, x, g, gw);
}

}  // namespace yoco::kernels::cpu
