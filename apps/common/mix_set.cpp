// 'mix' condensed set (see mix_set.h).
#include "apps/common/mix_set.h"
#include "data/decode.h"
#include "data/set_dataset.h"
#include "engine/context.h"
#include "engine/ops.h"

namespace yoco::app {

data::CondensedSet make_mix_set(const data::Dataset& train, int64_t ipc, int64_t factor) {
  YOCO_CHECK(ipc >= 1 && factor >= 1, "mix set: --ipc and --factor must be >= 1, got ", ipc, " and ", factor);
  NoGradGuard no_grad;
  data::Dataset first = data::first_n_per_class(train, ipc * factor * factor);  // class-major, dataset order
  const int64_t per = ipc * factor * factor;
  std::vector<Tensor> stored;
  std::vector<int64_t> labels;
  for (int64_t c = 0; c < train.num_classes; ++c) {
    stored.push_back(data::mix_init(slice(first.images, 0, c * per, (c + 1) * per), ipc, factor));
    labels.insert(labels.end(), ipc, c);
  }
  data::CondensedSet s;
  s.images = clamp(concat(stored, 0), 0.f, 1.f);
  s.labels = from_int_vector(labels, {static_cast<int64_t>(labels.size())});
  s.meta = data::meta_for(train, ipc, factor, "mix", 0);
  s.meta.config = {{"init", "mix"}, {"note", "first ipc*f^2 real images per class, nearest-downsized into quadrants"}};
  return s;
}

}  // namespace yoco::app
