// Direct CUDA convolutions for few input channels (c <= 4): forward, input and weight gradients, deterministic.
//
// Why: with c*r*s = 9..27 the reduction is too short for an implicit GEMM to be well shaped, and the layers are
// memory-bound (the [n,k,oh,ow] output or gradient dwarfs everything else). Each kernel reads or writes that big
// tensor once, coalesced, and keeps the small operands (input tile, weights) in shared memory or registers.
// No atomics anywhere: every sum has one fixed order, so results are bitwise identical run to run.
#include <algorithm>
#include <cstdint>
#include "kernels/conv.h"
#include "kernels/cuda_check.cuh"

namespace yoco::kernels::cuda {

namespace {

constexpr int kMaxC = 4, kMaxTap = 7;
constexpr int kBlock = 256;  // threads of the forward and input-gradient blocks (their tiles are built on it)

// The shape in 32-bit ints: conv2d_direct_supported bounds every per-image extent, so index math inside an image
// is 32-bit; only image and channel-plane offsets are formed in 64 bits.
struct Dims {
  int n, c, h, w, k, r, s, oh, ow, stride, pad;
};

Dims dims_of(const ConvShape& cs) {
  return {static_cast<int>(cs.n), static_cast<int>(cs.c), static_cast<int>(cs.h), static_cast<int>(cs.w),
          static_cast<int>(cs.k), static_cast<int>(cs.r), static_cast<int>(cs.s), static_cast<int>(cs.oh),
          static_cast<int>(cs.ow), static_cast<int>(cs.stride), static_cast<int>(cs.pad)};
}

// Smallest q with q * b >= a, for any sign of a (b > 0).
__device__ __forceinline__ int ceil_div_signed(int a, int b) { return a >= 0 ? (a + b - 1) / b : -(-a / b); }

// Dynamic shared memory of every kernel here, 16-byte aligned so weights can be read as float4.
extern __shared__ float4 smem4[];

// ------------------------------------------------------------------------------------------------------------
// Forward. Block: one image, 16 output channels, a 16 x 32 output tile; 256 threads = 4 column segments x 16 rows
// x 4 channel quads. Thread: 8 consecutive outputs of one row for 4 channels (32 accumulators). The block's
// weights sit in shared memory as [c*r*s][16], so a thread's 4 channels of one tap are one broadcast float4; the
// input tile (with its halo, zeros outside the image) is staged one channel at a time. A warp is 8 rows x 32
// columns of one channel quad: every store instruction covers 8 runs of 64 contiguous bytes.
constexpr int kFwdTileH = 16, kFwdTileW = 32, kFwdKG = 16, kFwdQ = 8;

struct FwdGeo {
  int tiles_w, tiles, kgroups;  // tiles per image (tiles_w across), channel groups of kFwdKG
  int in_rows, in_cols, pitch;  // staged input tile; odd pitch: the 8 rows of a warp hit distinct banks
};

template <int ST, int S>
__global__ void __launch_bounds__(kBlock) conv_fwd_direct_kernel(Dims d, FwdGeo geo, const float* __restrict__ x,
                                                                 const float* __restrict__ w,
                                                                 const float* __restrict__ b, float* __restrict__ y,
                                                                 bool vec_store) {
  const int crs = d.c * d.r * S;
  float* wsm = reinterpret_cast<float*>(smem4);  // [crs][kFwdKG]
  float* xsm = wsm + crs * kFwdKG;               // [in_rows][pitch]: one input channel
  const int tid = static_cast<int>(threadIdx.x);
  int bid = static_cast<int>(blockIdx.x);
  const int tile = bid % geo.tiles;
  bid /= geo.tiles;
  const int k0 = (bid % geo.kgroups) * kFwdKG, nb = bid / geo.kgroups;
  const int oh0 = (tile / geo.tiles_w) * kFwdTileH, ow0 = (tile % geo.tiles_w) * kFwdTileW;

  for (int i = tid; i < kFwdKG * crs; i += kBlock) {  // the group's rows of w are contiguous: coalesced
    const int kk = i / crs, j = i - kk * crs;
    wsm[j * kFwdKG + kk] = k0 + kk < d.k ? w[static_cast<int64_t>(k0) * crs + i] : 0.f;
  }

  const int wseg = tid & 3, row = (tid >> 2) & (kFwdTileH - 1), quad = tid >> 6;
  constexpr int kIn = (kFwdQ - 1) * ST + S;  // input columns one thread's 8 outputs read per tap row
  float acc[4][kFwdQ];
#pragma unroll
  for (int q = 0; q < 4; ++q)
#pragma unroll
    for (int j = 0; j < kFwdQ; ++j) acc[q][j] = 0.f;

  const int ih0 = oh0 * ST - d.pad, iw0 = ow0 * ST - d.pad, tile_elems = geo.in_rows * geo.in_cols;
  for (int c = 0; c < d.c; ++c) {
    __syncthreads();  // the previous channel's tile is no longer read (first pass: orders the weight writes)
    const float* xc = x + (static_cast<int64_t>(nb) * d.c + c) * d.h * d.w;
    for (int i = tid; i < tile_elems; i += kBlock) {
      const int yy = i / geo.in_cols, xx = i - yy * geo.in_cols, ih = ih0 + yy, iw = iw0 + xx;
      xsm[yy * geo.pitch + xx] = ih >= 0 && ih < d.h && iw >= 0 && iw < d.w ? xc[ih * d.w + iw] : 0.f;
    }
    __syncthreads();
    for (int r = 0; r < d.r; ++r) {
      const float* xr = xsm + (row * ST + r) * geo.pitch + wseg * kFwdQ * ST;
      float xv[kIn];
#pragma unroll
      for (int m = 0; m < kIn; ++m) xv[m] = xr[m];
      const float4* wr = smem4 + (c * d.r + r) * S * (kFwdKG / 4) + quad;
#pragma unroll
      for (int s = 0; s < S; ++s) {
        const float4 wv = wr[s * (kFwdKG / 4)];
#pragma unroll
        for (int j = 0; j < kFwdQ; ++j) {
          const float xq = xv[j * ST + s];
          acc[0][j] = fmaf(xq, wv.x, acc[0][j]);
          acc[1][j] = fmaf(xq, wv.y, acc[1][j]);
          acc[2][j] = fmaf(xq, wv.z, acc[2][j]);
          acc[3][j] = fmaf(xq, wv.w, acc[3][j]);
        }
      }
    }
  }

  const int oh = oh0 + row, ow = ow0 + wseg * kFwdQ;
  if (oh >= d.oh) return;  // after the last barrier
  const int plane = d.oh * d.ow;
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    const int k = k0 + quad * 4 + q;
    if (k >= d.k) continue;
    float v[kFwdQ];
    const float bias = b ? b[k] : 0.f;
#pragma unroll
    for (int j = 0; j < kFwdQ; ++j) v[j] = b ? acc[q][j] + bias : acc[q][j];  // bias after the sum, as on the CPU
    float* yr = y + (static_cast<int64_t>(nb) * d.k + k) * plane + oh * d.ow + ow;
    if (vec_store && ow + kFwdQ <= d.ow) {
      reinterpret_cast<float4*>(yr)[0] = make_float4(v[0], v[1], v[2], v[3]);
      reinterpret_cast<float4*>(yr)[1] = make_float4(v[4], v[5], v[6], v[7]);
    } else {
#pragma unroll
      for (int j = 0; j < kFwdQ; ++j)
        if (ow + j < d.ow) yr[j] = v[j];
    }
  }
}

// ------------------------------------------------------------------------------------------------------------
// Input gradient: gx[c, ih, iw] = sum over k, r, s of g[k, (ih + pad - r) / st, (iw + pad - s) / st] * w[k, c, r, s]
// (only whole, in-range quotients). Block: one image, an 8 x 32 tile of input pixels, every channel c; 256 threads
// = 8 warps, warp q taking channel q of each chunk of 8 output channels; lane = 4 column segments x 8 rows; a
// thread holds 8 consecutive pixels x c channels. Per chunk the g tile of the 8 channels (the output rows and
// columns the tile's windows reach, zeros outside) is staged in shared memory, coalesced, and the next chunk is
// loaded into registers while this one is used. At the end the 8 warps' partial sums are added in warp order.
constexpr int kBiTileH = 8, kBiTileW = 32, kBiKC = 8;

struct BiGeo {
  int tiles_w, tiles;  // input tiles per image
  int gh, gw, elems;   // staged g tile of one channel (gw odd: distinct banks per row), kBiKC * gh * gw
  int gsm_floats;      // floats before the weights: max(elems, the k-split partials), a multiple of 4
};

// Largest staged g tile over r <= kMaxTap, in registers per thread.
template <int ST, int S>
constexpr int bi_prefetch() {
  return (kBiKC * ((kBiTileH + kMaxTap - 1 + ST - 1) / ST) * (((kBiTileW + S - 1 + ST - 1) / ST) | 1) + kBlock - 1) /
         kBlock;
}

// One chunk's contribution: thread rows/columns (row, col0 + 0..7), its channel kc of the chunk.
template <int ST, int S, int C>
__device__ __forceinline__ void bi_accumulate(const Dims& d, const BiGeo& geo, const float* gk, const float4* wk,
                                              int t0, int u0, int oh_lo, int ow_lo, float (&acc)[kMaxC][8]) {
  for (int r = 0; r < d.r; ++r) {
    const int t = t0 - r;  // ih + pad - r
    if (ST > 1 && t % ST != 0) continue;
    const float* gr = gk + (t / ST - oh_lo) * geo.gw;
    if constexpr (ST == 1) {
      // Pixel j, tap s reads g column u0 + j - s - ow_lo = j + (S - 1 - s): one register window per row.
      float gv[8 + S - 1];
#pragma unroll
      for (int m = 0; m < 8 + S - 1; ++m) gv[m] = gr[u0 - (S - 1) - ow_lo + m];
#pragma unroll
      for (int s = 0; s < S; ++s) {
        const float4 wv = wk[r * S + s];
        const float wc[4] = {wv.x, wv.y, wv.z, wv.w};
#pragma unroll
        for (int j = 0; j < 8; ++j)
#pragma unroll
          for (int c = 0; c < C; ++c) acc[c][j] = fmaf(gv[j + S - 1 - s], wc[c], acc[c][j]);
      }
    } else {
#pragma unroll
      for (int s = 0; s < S; ++s) {
        const float4 wv = wk[r * S + s];
        const float wc[4] = {wv.x, wv.y, wv.z, wv.w};
#pragma unroll
        for (int j = 0; j < 8; ++j) {
          const int u = u0 + j - s;  // iw + pad - s
          if (u % ST != 0) continue;
          const float gval = gr[u / ST - ow_lo];
#pragma unroll
          for (int c = 0; c < C; ++c) acc[c][j] = fmaf(gval, wc[c], acc[c][j]);
        }
      }
    }
  }
}

template <int ST, int S>
__global__ void __launch_bounds__(kBlock) conv_bwd_input_direct_kernel(Dims d, BiGeo geo, const float* __restrict__ g,
                                                                       const float* __restrict__ w,
                                                                       float* __restrict__ gx) {
  constexpr int kPf = bi_prefetch<ST, S>();
  float* gsm = reinterpret_cast<float*>(smem4);          // [kBiKC][gh][gw], later [8 warps][8 rows][32 columns]
  float4* wsm = smem4 + geo.gsm_floats / 4;               // [kBiKC][r][s] x float4 over c
  const int tid = static_cast<int>(threadIdx.x), rs = d.r * S;
  const int tile = static_cast<int>(blockIdx.x) % geo.tiles, nb = static_cast<int>(blockIdx.x) / geo.tiles;
  const int ih0 = (tile / geo.tiles_w) * kBiTileH, iw0 = (tile % geo.tiles_w) * kBiTileW;
  // First output row/column any pixel of the tile reaches (rows/columns past the end are staged as zeros).
  const int oh_lo = ceil_div_signed(ih0 + d.pad - (d.r - 1), ST), ow_lo = ceil_div_signed(iw0 + d.pad - (S - 1), ST);
  const int ohw = d.oh * d.ow, plane = geo.gh * geo.gw;
  const float* gimg = g + static_cast<int64_t>(nb) * d.k * ohw;

  // This thread's staging slots, the same in every chunk: offset from the chunk's first channel, -1 for padding.
  int goff[kPf];
#pragma unroll
  for (int i = 0; i < kPf; ++i) {
    const int e = tid + i * kBlock;
    int off = -1;
    if (e < geo.elems) {
      const int kc = e / plane, rem = e - kc * plane, gy = rem / geo.gw, oh = oh_lo + gy,
                ow = ow_lo + (rem - gy * geo.gw);
      if (oh >= 0 && oh < d.oh && ow >= 0 && ow < d.ow) off = kc * ohw + oh * d.ow + ow;
    }
    goff[i] = off;
  }
  float pf[kPf];
  auto load_chunk = [&](int k0) {
    const float* gc = gimg + static_cast<int64_t>(k0) * ohw;
    const int kleft_elems = (d.k - k0) * ohw;  // offsets at or past it belong to channels >= k (last chunk only)
    const bool full = d.k - k0 >= kBiKC;
#pragma unroll
    for (int i = 0; i < kPf; ++i) pf[i] = goff[i] >= 0 && (full || goff[i] < kleft_elems) ? gc[goff[i]] : 0.f;
  };

  const int wseg = tid & 3, row = (tid >> 2) & (kBiTileH - 1), kc = tid >> 5;
  float acc[kMaxC][8];
#pragma unroll
  for (int c = 0; c < kMaxC; ++c)
#pragma unroll
    for (int j = 0; j < 8; ++j) acc[c][j] = 0.f;
  const int t0 = ih0 + row + d.pad, u0 = iw0 + wseg * 8 + d.pad;

  load_chunk(0);
  for (int k0 = 0; k0 < d.k; k0 += kBiKC) {
    __syncthreads();  // the previous chunk is no longer read
#pragma unroll
    for (int i = 0; i < kPf; ++i)
      if (tid + i * kBlock < geo.elems) gsm[tid + i * kBlock] = pf[i];
    for (int i = tid; i < kBiKC * rs; i += kBlock) {
      const int kk = i / rs, j = i - kk * rs, k = k0 + kk;
      float v[kMaxC] = {0.f, 0.f, 0.f, 0.f};
      if (k < d.k)
        for (int c = 0; c < d.c; ++c) v[c] = w[(static_cast<int64_t>(k) * d.c + c) * rs + j];
      wsm[i] = make_float4(v[0], v[1], v[2], v[3]);
    }
    __syncthreads();
    if (k0 + kBiKC < d.k) load_chunk(k0 + kBiKC);  // in flight while this chunk is summed
    const float* gk = gsm + kc * plane;
    const float4* wk = wsm + kc * rs;
    switch (d.c) {  // uniform branch: the accumulator count becomes a constant
      case 1: bi_accumulate<ST, S, 1>(d, geo, gk, wk, t0, u0, oh_lo, ow_lo, acc); break;
      case 2: bi_accumulate<ST, S, 2>(d, geo, gk, wk, t0, u0, oh_lo, ow_lo, acc); break;
      case 3: bi_accumulate<ST, S, 3>(d, geo, gk, wk, t0, u0, oh_lo, ow_lo, acc); break;
      default: bi_accumulate<ST, S, 4>(d, geo, gk, wk, t0, u0, oh_lo, ow_lo, acc); break;
    }
  }

  // k-split partials through shared memory, one channel at a time, added in warp order.
  const int64_t hw = static_cast<int64_t>(d.h) * d.w;
  const int py = ih0 + (tid >> 5), px = iw0 + (tid & 31);
#pragma unroll
  for (int c = 0; c < kMaxC; ++c) {
    if (c >= d.c) break;
    __syncthreads();  // gsm is free (last chunk read, or the previous channel's sums read)
#pragma unroll
    for (int j = 0; j < 8; ++j) gsm[kc * (kBiTileH * kBiTileW) + row * kBiTileW + wseg * 8 + j] = acc[c][j];
    __syncthreads();
    float sum = gsm[tid];
#pragma unroll
    for (int q = 1; q < kBiKC; ++q) sum += gsm[q * (kBiTileH * kBiTileW) + tid];
    if (py < d.h && px < d.w) gx[(static_cast<int64_t>(nb) * d.c + c) * hw + py * d.w + px] = sum;
  }
}

// ------------------------------------------------------------------------------------------------------------
// Weight gradient, stage 1: gw[k, c, r, s] = sum over images and output pixels of g[k, oh, ow] * x[c, ih, iw].
// Block: one image, a slice of output rows, a 32-column segment and a group of output channels; its input region
// (all c, zeros outside the image) is staged in shared memory. Warp: one channel c and KT output channels; lane =
// output column. Each lane walks its column down the slice with the T x T input window in registers (T = max(r,
// s); taps past r or s are computed and dropped), sliding it by `stride` rows per step, and g read coalesced
// straight from global memory, a group of rows ahead. Each warp then folds its 32 lanes by a fixed shuffle tree
// and lane 0 writes the slice's partial. Stage 2 adds the partials of all slices in slice order, in double.
constexpr int kBwSegW = 32;

template <int T>
constexpr int bw_kt() {  // output channels per warp: keeps KT * T * T accumulators + the window near 100 registers
  return T <= 2 ? 8 : T <= 3 ? 4 : T <= 5 ? 2 : 1;
}

struct BwGeo {
  int ksets, kblocks;             // warps of output channels per block (per c), blocks of ksets * KT channels
  int rows, slices_h, segs_w;     // output rows per slice, slices per image, column segments
  int in_rows, in_cols;           // staged input region per channel
};

__device__ __forceinline__ float warp_fold_float(float v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  return v;
}

template <int ST, int T>
__global__ void __launch_bounds__(kBlock) conv_bwd_weight_direct_kernel(Dims d, BwGeo geo,
                                                                        const float* __restrict__ x,
                                                                        const float* __restrict__ g,
                                                                        float* __restrict__ part) {
  constexpr int KT = bw_kt<T>();
  float* xsm = reinterpret_cast<float*>(smem4);  // [c][in_rows][in_cols]
  const int tid = static_cast<int>(threadIdx.x);
  int bid = static_cast<int>(blockIdx.x);
  const int seg = bid % geo.segs_w;
  bid /= geo.segs_w;
  const int sh = bid % geo.slices_h;
  bid /= geo.slices_h;
  const int kb = bid % geo.kblocks, nb = bid / geo.kblocks;
  const int oh_begin = sh * geo.rows, oh_end = min(d.oh, oh_begin + geo.rows), ow0 = seg * kBwSegW;

  const int region = geo.in_rows * geo.in_cols, ih0 = oh_begin * ST - d.pad, iw0 = ow0 * ST - d.pad;
  const float* ximg = x + static_cast<int64_t>(nb) * d.c * d.h * d.w;
  for (int i = tid; i < d.c * region; i += static_cast<int>(blockDim.x)) {
    const int c = i / region, rem = i - c * region, yy = rem / geo.in_cols, ih = ih0 + yy,
              iw = iw0 + (rem - yy * geo.in_cols);
    xsm[i] = ih >= 0 && ih < d.h && iw >= 0 && iw < d.w ? ximg[(c * d.h + ih) * d.w + iw] : 0.f;
  }
  __syncthreads();

  const int warp = tid >> 5, lane = tid & 31, c = warp % d.c, kset = warp / d.c;
  const int k_first = (kb * geo.ksets + kset) * KT, kvalid = min(KT, d.k - k_first);
  const bool col_ok = ow0 + lane < d.ow;
  const int ohw = d.oh * d.ow;
  const float* gb = g + (static_cast<int64_t>(nb) * d.k + k_first) * ohw + ow0 + lane;
  const float* xc = xsm + c * region + lane * ST;

  float acc[KT][T][T], win[T][T];
#pragma unroll
  for (int q = 0; q < KT; ++q)
#pragma unroll
    for (int r = 0; r < T; ++r)
#pragma unroll
      for (int s = 0; s < T; ++s) acc[q][r][s] = 0.f;
#pragma unroll
  for (int r = 0; r < T; ++r)
#pragma unroll
    for (int s = 0; s < T; ++s) win[r][s] = xc[r * geo.in_cols + s];
  // g rows arrive kDepth at a time, the next group in flight while this one is used: kDepth * KT = 8 loads per
  // thread outstanding whatever the tap size.
  constexpr int kDepth = 8 / KT;
  auto load_rows = [&](int oh, float (&dst)[kDepth][KT]) {
#pragma unroll
    for (int i = 0; i < kDepth; ++i)
#pragma unroll
      for (int q = 0; q < KT; ++q)
        dst[i][q] = col_ok && q < kvalid && oh + i < oh_end ? __ldg(gb + q * ohw + (oh + i) * d.ow) : 0.f;
  };
  float gv[kDepth][KT];
  load_rows(oh_begin, gv);
  for (int oh = oh_begin; oh < oh_end; oh += kDepth) {
    const bool more = oh + kDepth < oh_end;
    float gn[kDepth][KT];
    if (more) load_rows(oh + kDepth, gn);
#pragma unroll
    for (int i = 0; i < kDepth; ++i) {
#pragma unroll
      for (int q = 0; q < KT; ++q)
#pragma unroll
        for (int r = 0; r < T; ++r)
#pragma unroll
          for (int s = 0; s < T; ++s) acc[q][r][s] = fmaf(gv[i][q], win[r][s], acc[q][r][s]);
      if (oh + i + 1 >= oh_end) break;
      // Slide the window down one output row = ST input rows; only rows not already held are read.
      const float* xn = xc + (oh + i + 1 - oh_begin) * ST * geo.in_cols;
#pragma unroll
      for (int r = 0; r < T; ++r)
#pragma unroll
        for (int s = 0; s < T; ++s)
          win[r][s] = r + ST < T ? win[r + ST < T ? r + ST : 0][s] : xn[r * geo.in_cols + s];
    }
    if (!more) break;
#pragma unroll
    for (int i = 0; i < kDepth; ++i)
#pragma unroll
      for (int q = 0; q < KT; ++q) gv[i][q] = gn[i][q];
  }

  const int64_t wsize = static_cast<int64_t>(d.k) * d.c * d.r * d.s;
  const int64_t slice = (static_cast<int64_t>(nb) * geo.slices_h + sh) * geo.segs_w + seg;
  float* out = part + slice * wsize;
#pragma unroll
  for (int q = 0; q < KT; ++q)
#pragma unroll
    for (int r = 0; r < T; ++r)
#pragma unroll
      for (int s = 0; s < T; ++s) {
        const float v = warp_fold_float(acc[q][r][s]);  // every lane takes part; lane 0 holds the total
        if (lane == 0 && q < kvalid && r < d.r && s < d.s) out[((k_first + q) * d.c + c) * d.r * d.s + r * d.s + s] = v;
      }
}

// Stage 2: gw[i] = sum over slices of part[slice][i], in double. Block: 32 weights x 8 strands; strand q adds the
// slices q, q + 8, ... in order, then the 8 strand totals are added in strand order.
__global__ void __launch_bounds__(kBlock) conv_bwd_weight_sum_kernel(const float* __restrict__ part, int64_t slices,
                                                                     int wsize, float* __restrict__ gw) {
  __shared__ double sh[kBlock];
  const int tid = static_cast<int>(threadIdx.x), lane = tid & 31, strand = tid >> 5;
  const int i = static_cast<int>(blockIdx.x) * 32 + lane;
  double sum = 0.0;
  if (i < wsize)
    for (int64_t sl = strand; sl < slices; sl += kBlock / 32) sum += part[sl * wsize + i];
  sh[tid] = sum;
  __syncthreads();
  if (strand == 0 && i < wsize) {
    double t = sh[lane];
#pragma unroll
    for (int q = 1; q < kBlock / 32; ++q) t += sh[q * 32 + lane];
    gw[i] = static_cast<float>(t);
  }
}

// ------------------------------------------------------------------------------------------------------------
// Launch plumbing: kernels are instantiated per (stride, tap width) so the register windows have fixed sizes.

template <template <int, int> class K, int ST>
auto pick_tap(int s) {
  switch (s) {
    case 1: return K<ST, 1>::fn;
    case 2: return K<ST, 2>::fn;
    case 3: return K<ST, 3>::fn;
    case 4: return K<ST, 4>::fn;
    case 5: return K<ST, 5>::fn;
    case 6: return K<ST, 6>::fn;
    default: return K<ST, 7>::fn;
  }
}
template <template <int, int> class K>
auto pick(int stride, int s) {
  return stride == 1 ? pick_tap<K, 1>(s) : pick_tap<K, 2>(s);
}

template <int ST, int S>
struct FwdK {
  static constexpr auto fn = conv_fwd_direct_kernel<ST, S>;
};
template <int ST, int S>
struct BiK {
  static constexpr auto fn = conv_bwd_input_direct_kernel<ST, S>;
};
template <int ST, int T>
struct BwK {
  static constexpr auto fn = conv_bwd_weight_direct_kernel<ST, T>;
};

void check_supported(const ConvShape& cs, const char* who) {
  YOCO_CHECK(conv2d_direct_supported(cs), who, ": shape n=", cs.n, " c=", cs.c, " ", cs.h, "x", cs.w, " k=", cs.k,
             " ", cs.r, "x", cs.s, " stride ", cs.stride, " pad ", cs.pad, " is outside the direct kernels' limits");
}

constexpr size_t kSmemLimit = 48 * 1024;  // the default dynamic shared memory cap (no opt-in attribute needed)

}  // namespace

bool conv2d_direct_supported(const ConvShape& cs) {
  if (cs.c < 1 || cs.c > kMaxC || cs.r < 1 || cs.r > kMaxTap || cs.s < 1 || cs.s > kMaxTap) return false;
  if (cs.stride != 1 && cs.stride != 2) return false;
  if (cs.pad < 0 || cs.pad > 64 || cs.n < 0 || cs.k < 1 || cs.h < 1 || cs.w < 1) return false;
  if (cs.oh != conv_out_size(cs.h, cs.r, cs.stride, cs.pad) || cs.ow != conv_out_size(cs.w, cs.s, cs.stride, cs.pad))
    return false;
  if (cs.oh < 1 || cs.ow < 1) return false;
  // Per-image extents in 32 bits (with room for tile overhang); planes below 2^26 so chunk offsets fit too.
  constexpr int64_t kPlane = int64_t(1) << 26, kImage = int64_t(1) << 30;
  return cs.h * cs.w < kPlane && cs.oh * cs.ow < kPlane && cs.h < 65536 && cs.w < 65536 &&
         cs.c * cs.h * cs.w < kImage && cs.k * cs.oh * cs.ow < kImage && cs.k * cs.c * cs.r * cs.s < kImage &&
         cs.n < kImage;
}

void conv2d_forward_direct(const ConvShape& cs, const float* x, const float* w, const float* b, float* y,
                           void* stream) {
  check_supported(cs, "conv2d_forward_direct");
  if (cs.n == 0) return;
  const Dims d = dims_of(cs);
  FwdGeo geo{};
  geo.tiles_w = static_cast<int>(ceil_div(cs.ow, kFwdTileW));
  geo.tiles = geo.tiles_w * static_cast<int>(ceil_div(cs.oh, kFwdTileH));
  geo.kgroups = static_cast<int>(ceil_div(cs.k, kFwdKG));
  geo.in_rows = (kFwdTileH - 1) * d.stride + d.r;
  geo.in_cols = (kFwdTileW - 1) * d.stride + d.s;
  geo.pitch = geo.in_cols | 1;
  const size_t smem = sizeof(float) * (static_cast<size_t>(cs.c * cs.r * cs.s) * kFwdKG +
                                       static_cast<size_t>(geo.in_rows) * geo.pitch);
  YOCO_CHECK(smem <= kSmemLimit, "conv2d_forward_direct: ", smem, " bytes of shared memory");
  const bool vec = cs.ow % 4 == 0 && reinterpret_cast<uintptr_t>(y) % 16 == 0;
  const int64_t blocks = cs.n * geo.kgroups * geo.tiles;
  launch_grid(pick<FwdK>(d.stride, d.s), blocks, kBlock, smem, stream, d, geo, x, w, b, y, vec);
}

void conv2d_backward_input_direct(const ConvShape& cs, const float* g, const float* w, float* gx, void* stream) {
  check_supported(cs, "conv2d_backward_input_direct");
  if (cs.n == 0) return;
  const Dims d = dims_of(cs);
  BiGeo geo{};
  geo.tiles_w = static_cast<int>(ceil_div(cs.w, kBiTileW));
  geo.tiles = geo.tiles_w * static_cast<int>(ceil_div(cs.h, kBiTileH));
  // Output rows/columns one tile reaches: whole multiples of the stride in a span of tile + tap - 1.
  geo.gh = static_cast<int>(ceil_div(kBiTileH + cs.r - 1, cs.stride));
  geo.gw = static_cast<int>(ceil_div(kBiTileW + cs.s - 1, cs.stride)) | 1;
  geo.elems = kBiKC * geo.gh * geo.gw;
  const int red = kBiKC * kBiTileH * kBiTileW;
  geo.gsm_floats = static_cast<int>(ceil_div(std::max(geo.elems, red), 4) * 4);
  const size_t smem =
      sizeof(float) * (static_cast<size_t>(geo.gsm_floats) + static_cast<size_t>(kBiKC) * cs.r * cs.s * 4);
  YOCO_CHECK(smem <= kSmemLimit, "conv2d_backward_input_direct: ", smem, " bytes of shared memory");
  const int64_t blocks = cs.n * geo.tiles;
  launch_grid(pick<BiK>(d.stride, d.s), blocks, kBlock, smem, stream, d, geo, g, w, gx);
}

void conv2d_backward_weight_direct(const ConvShape& cs, const float* x, const float* g, float* gw, void* stream) {
  check_supported(cs, "conv2d_backward_weight_direct");
  const Dims d = dims_of(cs);
  const int t = std::max(d.r, d.s);
  static constexpr int kKt[kMaxTap + 1] = {0, bw_kt<1>(), bw_kt<2>(), bw_kt<3>(), bw_kt<4>(),
                                           bw_kt<5>(), bw_kt<6>(), bw_kt<7>()};
  BwGeo geo{};
  geo.ksets = std::max(1, 8 / d.c);  // 8 warps for c = 1, 2, 4; 6 for c = 3
  geo.kblocks = static_cast<int>(ceil_div(cs.k, static_cast<int64_t>(geo.ksets) * kKt[t]));
  geo.segs_w = static_cast<int>(ceil_div(cs.ow, kBwSegW));
  geo.in_cols = (kBwSegW - 1) * d.stride + t;
  // Rows per slice: 32 at most; fewer when the staged region would not fit, or to give a small batch enough
  // blocks. A function of the shape only, so the partials (hence the bits) never depend on the device.
  auto region_bytes = [&](int rows) { return sizeof(float) * d.c * ((rows - 1) * d.stride + t) * geo.in_cols; };
  int rows = std::min(d.oh, 32);
  while (rows > 1 && region_bytes(rows) > kSmemLimit) rows = (rows + 1) / 2;
  auto blocks_for = [&](int r) { return cs.n * geo.kblocks * ceil_div(cs.oh, r) * geo.segs_w; };
  while (rows > 4 && blocks_for(rows) < 1024) rows = (rows + 1) / 2;
  YOCO_CHECK(region_bytes(rows) <= kSmemLimit, "conv2d_backward_weight_direct: input region too large");
  geo.rows = rows;
  geo.slices_h = static_cast<int>(ceil_div(cs.oh, rows));
  geo.in_rows = (rows - 1) * d.stride + t;
  const int64_t slices = cs.n * geo.slices_h * geo.segs_w;
  const int64_t wsize = cs.k * cs.c * cs.r * cs.s;
  float* part = slices > 0 ? static_cast<float*>(workspace(stream, sizeof(float) * static_cast<size_t>(slices * wsize)))
                           : nullptr;
  if (slices > 0) {
    auto kernel = pick<BwK>(d.stride, t);
    launch_grid(kernel, cs.n * geo.kblocks * geo.slices_h * geo.segs_w, 32 * d.c * geo.ksets, region_bytes(rows),
                stream, d, geo, x, g, part);
  }
  launch_grid(conv_bwd_weight_sum_kernel, ceil_div(wsize, 32), kBlock, 0, stream, part, slices,
              static_cast<int>(wsize), gw);
}

}  // namespace yoco::kernels::cuda
