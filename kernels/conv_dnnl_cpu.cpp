// Convolution family, CPU via oneDNN primitives (what PyTorch's CPU convolutions use too). Tensors stay
// NCHW/OIHW; oneDNN picks its blocked layouts ("any") and we reorder in and out. Primitives, reorders and
// the blocked scratch buffers are cached per shape, so the steady state allocates nothing.
#include <oneapi/dnnl/dnnl.hpp>
#include <map>
#include <mutex>
#include <tuple>
#include "kernels/conv.h"

namespace yoco::kernels::cpu {

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

// oneDNN state for one convolution shape: the engine, a stream, and the three primitive descriptors.
struct DnnlConv {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  dnnl::convolution_forward::primitive_desc fwd_pd;
  dnnl::convolution_backward_data::primitive_desc bwd_d_pd;
  dnnl::convolution_backward_weights::primitive_desc bwd_w_pd;
  dnnl::convolution_forward fwd;
  dnnl::convolution_backward_data bwd_d;
  dnnl::convolution_backward_weights bwd_w;
  memory::desc x_md, w_md, y_md, b_md;  // plain (user) layouts
  std::map<std::string, memory> scratch;  // blocked buffers by role
};

using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t>;

DnnlConv& get_conv(const ConvShape& cs) {
  static std::mutex mu;
  static std::map<Key, std::unique_ptr<DnnlConv>> cache;  // a cache of compiled primitives, not semantic state
  std::lock_guard<std::mutex> lock(mu);
  Key key{cs.n, cs.c, cs.h, cs.w, cs.k, cs.r, cs.s, cs.stride, cs.pad};
  auto it = cache.find(key);
  if (it != cache.end()) return *it->second;
  auto c = std::make_unique<DnnlConv>();
  memory::dims xd{cs.n, cs.c, cs.h, cs.w}, wd{cs.k, cs.c, cs.r, cs.s}, yd{cs.n, cs.k, cs.oh, cs.ow}, bd{cs.k};
  memory::dims st{cs.stride, cs.stride}, pad{cs.pad, cs.pad};
  c->x_md = memory::desc(xd, dt::f32, tag::nchw);
  c->w_md = memory::desc(wd, dt::f32, tag::oihw);
  c->y_md = memory::desc(yd, dt::f32, tag::nchw);
  c->b_md = memory::desc(bd, dt::f32, tag::x);
  memory::desc xa(xd, dt::f32, tag::any), wa(wd, dt::f32, tag::any), ya(yd, dt::f32, tag::any);
  dnnl::convolution_forward::desc fd(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, xa, wa,
                                     c->b_md, ya, st, pad, pad);
  c->fwd_pd = dnnl::convolution_forward::primitive_desc(fd, c->eng);
  dnnl::convolution_backward_data::desc dd(dnnl::algorithm::convolution_direct, xa, wa, ya, st, pad, pad);
  c->bwd_d_pd = dnnl::convolution_backward_data::primitive_desc(dd, c->eng, c->fwd_pd);
  dnnl::convolution_backward_weights::desc wdsc(dnnl::algorithm::convolution_direct, xa, wa, ya, st, pad, pad);
  c->bwd_w_pd = dnnl::convolution_backward_weights::primitive_desc(wdsc, c->eng, c->fwd_pd);
  c->fwd = dnnl::convolution_forward(c->fwd_pd);
  c->bwd_d = dnnl::convolution_backward_data(c->bwd_d_pd);
  c->bwd_w = dnnl::convolution_backward_weights(c->bwd_w_pd);
  return *cache.emplace(key, std::move(c)).first->second;
}

// The primitive's view of a user buffer: the buffer itself when layouts agree, else a cached blocked
// buffer (filled by a reorder when `is_input`).
memory as_layout(DnnlConv& c, const std::string& role, const memory::desc& want, const memory::desc& user_md,
                 void* ptr, bool is_input) {
  memory user(user_md, c.eng, ptr);
  if (want == user_md) return user;
  auto it = c.scratch.find(role);
  if (it == c.scratch.end()) it = c.scratch.emplace(role, memory(want, c.eng)).first;
  if (is_input) dnnl::reorder(user, it->second).execute(c.strm, user, it->second);
  return it->second;
}

void to_user(DnnlConv& c, const memory& m, const memory::desc& user_md, void* ptr) {
  memory user(user_md, c.eng, ptr);
  if (m.get_desc() == user_md) return;
  dnnl::reorder(m, user).execute(c.strm, const_cast<memory&>(m), user);
}

}  // namespace

void conv2d_forward_dnnl(const ConvShape& cs, const float* x, const float* w, const float* b, float* y) {
  DnnlConv& c = get_conv(cs);
  memory xm = as_layout(c, "fwd_x", c.fwd_pd.src_desc(), c.x_md, const_cast<float*>(x), true);
  memory wm = as_layout(c, "fwd_w", c.fwd_pd.weights_desc(), c.w_md, const_cast<float*>(w), true);
  memory ym = as_layout(c, "fwd_y", c.fwd_pd.dst_desc(), c.y_md, y, false);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, ym}};
  std::vector<float> zero_bias;
  if (b) {
    args.emplace(DNNL_ARG_BIAS, memory(c.b_md, c.eng, const_cast<float*>(b)));
  } else {
    zero_bias.assign(static_cast<size_t>(cs.k), 0.f);
    args.emplace(DNNL_ARG_BIAS, memory(c.b_md, c.eng, zero_bias.data()));
  }
  c.fwd.execute(c.strm, args);
  to_user(c, ym, c.y_md, y);
  c.strm.wait();
}

void conv2d_backward_input_dnnl(const ConvShape& cs, const float* g, const float* w, float* gx) {
  DnnlConv& c = get_conv(cs);
  memory gm = as_layout(c, "bd_g", c.bwd_d_pd.diff_dst_desc(), c.y_md, const_cast<float*>(g), true);
  memory wm = as_layout(c, "bd_w", c.bwd_d_pd.weights_desc(), c.w_md, const_cast<float*>(w), true);
  memory xm = as_layout(c, "bd_x", c.bwd_d_pd.diff_src_desc(), c.x_md, gx, false);
  c.bwd_d.execute(c.strm, {{DNNL_ARG_DIFF_DST, gm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DIFF_SRC, xm}});
  to_user(c, xm, c.x_md, gx);
  c.strm.wait();
}

void conv2d_backward_weight_dnnl(const ConvShape& cs, const float* x, const float* g, float* gw) {
  DnnlConv& c = get_conv(cs);
  memory xm = as_layout(c, "bw_x", c.bwd_w_pd.src_desc(), c.x_md, const_cast<float*>(x), true);
  memory gm = as_layout(c, "bw_g", c.bwd_w_pd.diff_dst_desc(), c.y_md, const_cast<float*>(g), true);
  memory wm = as_layout(c, "bw_w", c.bwd_w_pd.diff_weights_desc(), c.w_md, gw, false);
  c.bwd_w.execute(c.strm, {{DNNL_ARG_SRC, xm}, {DNNL_ARG_DIFF_DST, gm}, {DNNL_ARG_DIFF_WEIGHTS, wm}});
  to_user(c, wm, c.w_md, gw);
  c.strm.wait();
}

}  // namespace yoco::kernels::cpu
