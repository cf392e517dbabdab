// IDC's 'mix' initialisation as a condensed set: the first ipc·f² real images of each class, nearest-downsized
// into the f² quadrants of ipc stored images. It is condensation's starting point and a baseline set.
#pragma once
#include <string>
#include "data/dataset.h"
#include "data/set_file.h"

namespace yoco::app {

data::CondensedSet make_mix_set(const data::Dataset& train, int64_t ipc, int64_t factor);

}  // namespace yoco::app
