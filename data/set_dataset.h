// Turns a condensed set into a training Dataset of decoded sub-images (class-major, YOCO's decoded order).
#pragma once
#include "data/dataset.h"
#include "data/set_file.h"

namespace yoco::data {

// Class c of the result holds ipc·f² sub-images (class_counts[c]·f² for imbalanced sets); sub-image j of a class is quadrant j / ipc of stored image
// j % ipc (quadrant-major, as IDC's decode_zoom and YOCO's pruning index them). factor 1: the stored images.
Dataset decoded_dataset(const CondensedSet& set);

// PNG grids of a set: the stored images at `path`, and (factor > 1) the decoded sub-images at
// `<path without .png>_decoded.png`, one row per class.
void write_set_pngs(const std::string& path, const CondensedSet& set);

// Meta of a set of `ipc` (stored) images per class of dataset `d`'s kind.
SetMeta meta_for(const Dataset& d, int64_t ipc, int64_t factor, const std::string& method, uint64_t seed);

// Builds a CondensedSet (factor 1) from a dataset whose classes each hold `ipc` images, class-major.
CondensedSet dataset_to_set(const Dataset& d, int64_t ipc, const std::string& method, uint64_t seed);

}  // namespace yoco::data
