// Condensed set <-> Dataset conversions (see set_dataset.h).
#include "data/set_dataset.h"
#include "data/decode.h"
#include "data/png_grid.h"
#include "engine/context.h"
#include "engine/ops.h"

namespace yoco::data {

Dataset decoded_dataset(const CondensedSet& set) {
  const SetMeta& m = set.meta;
  Dataset d;
  d.name = m.dataset;
  d.num_classes = m.num_classes;
  d.channels = m.channels;
  d.height = m.height;
  d.width = m.width;
  d.mean = m.mean;
  d.std = m.std;
  NoGradGuard no_grad;
  std::vector<Tensor> parts;
  std::vector<int64_t> labels;
  // Stored images per class: `ipc` each, or class_counts for imbalanced (pruned) sets.
  int64_t start = 0;
  for (int64_t c = 0; c < m.num_classes; ++c) {
    const int64_t count = m.class_counts.empty() ? m.ipc : m.class_counts[c];
    Tensor stored = slice(set.images, 0, start, start + count);
    start += count;
    if (count == 0) continue;
    parts.push_back(m.factor > 1 ? decode(stored, m.factor) : stored);
    labels.insert(labels.end(), count * m.factor * m.factor, c);
  }
  d.images = concat(parts, 0);
  d.labels = from_int_vector(labels, {static_cast<int64_t>(labels.size())});
  return d;
}

void write_set_pngs(const std::string& path, const CondensedSet& set) {
  write_png_grid(path, set.images, set.labels, 0);
  if (set.meta.factor <= 1) return;
  Dataset d = decoded_dataset(set);
  std::string stem = path.size() > 4 && path.compare(path.size() - 4, 4, ".png") == 0 ? path.substr(0, path.size() - 4) : path;
  write_png_grid(stem + "_decoded.png", d.images, d.labels, 0);
}

SetMeta meta_for(const Dataset& d, int64_t ipc, int64_t factor, const std::string& method, uint64_t seed) {
  SetMeta m;
  m.dataset = d.name;
  m.num_classes = d.num_classes;
  m.ipc = ipc;
  m.factor = factor;
  m.channels = d.channels;
  m.height = d.height;
  m.width = d.width;
  m.mean = d.mean;
  m.std = d.std;
  m.method = method;
  m.seed = seed;
  return m;
}

CondensedSet dataset_to_set(const Dataset& d, int64_t ipc, const std::string& method, uint64_t seed) {
  CondensedSet s;
  s.images = d.images;
  s.labels = d.labels;
  s.meta = meta_for(d, ipc, 1, method, seed);
  return s;
}

}  // namespace yoco::data
