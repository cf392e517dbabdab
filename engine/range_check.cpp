// Range checks of labels and indices on the host, or queued on the device (kernels::cuda::check_labels).
#include "engine/range_check.h"
#include "engine/context.h"
#include "kernels/softmax_loss.h"

namespace yoco::detail {

void check_in_range(const Tensor& v, int64_t limit, const char* op, RangeKind kind) {
  const int64_t n = v.numel();
  if (n == 0) return;
  if (v.is_cuda()) {
#ifdef YOCO_WITH_CUDA
    // Not under a KernelTimer: a profiling timer swallows errors from its closing sync, which would consume
    // (and lose) this report; the next op's timer opening sync throws it instead.
    Context& ctx = Context::get();
    const int64_t code = kind == RangeKind::Index ? ctx.index_op_code(op) : ctx.label_op_code(op);
    kernels::cuda::check_labels(v.data<int64_t>(), n, limit, ctx.label_error_record(), code, ctx.cuda_stream());
#endif
    return;  // a CPU-only build cannot hold a CUDA tensor
  }
  const int64_t* p = v.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    if (kind == RangeKind::Index)
      YOCO_CHECK(kernels::label_in_range(p[i], limit), op, ": index ", p[i], " at position ", i, " is outside [0, ",
                 limit, ")");
    else
      YOCO_CHECK(kernels::label_in_range(p[i], limit), op, ": label ", p[i], " of sample ", i, " is outside [0, ",
                 limit, ")");
  }
}

}  // namespace yoco::detail
