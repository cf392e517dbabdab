// Training-dynamics family, CPU: the batch fold as a sequential loop over rows (fold_dynamics_row).
#include "kernels/dynamics.h"

namespace yoco::kernels::cpu {

void fold_dynamics(const DynamicsBatch& in, int64_t epoch, const DynamicsState& st) {
  int64_t correct = 0;
  for (int64_t j = 0; j < in.b; ++j) correct += fold_dynamics_row(in, j, epoch, st) ? 1 : 0;
  st.correct_num[epoch] += correct;
}

}  // namespace yoco::kernels::cpu
