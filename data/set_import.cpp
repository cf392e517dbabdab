// .pt import/export of condensed sets: shape, label and range checks, then the meta from flags and registry.
#include "data/set_import.h"

#include <cmath>
#include "data/dataset.h"
#include "data/printable.h"
#include "data/pt_file.h"
#include "data/registry.h"
#include "kernels/common.h"

namespace yoco::data {
namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The (images, labels) pair of a torch.save file: a 2-element list or tuple, or a dict with those keys.
std::pair<const PtTensor*, const PtTensor*> images_labels(const PtFile& f) {
  const PickleValue& r = *f.root;
  using Kind = PickleValue::Kind;
  if (r.kind == Kind::List || r.kind == Kind::Tuple) {
    YOCO_CHECK(r.items.size() == 2, f.path, ": holds a ", pickle_kind_name(r.kind), " of ", r.items.size(),
               " items, expected [images, labels]");
    return {&pt_tensor(*r.items[0], f.path + ": item 0 (images)"),
            &pt_tensor(*r.items[1], f.path + ": item 1 (labels)")};
  }
  YOCO_CHECK(r.kind == Kind::Dict, f.path, ": holds a ", pickle_kind_name(r.kind),
             ", expected [images, labels], (images, labels) or {'images': ..., 'labels': ...}");
  const PtTensor *x = nullptr, *y = nullptr;
  std::string keys;
  for (size_t k = 0; k + 1 < r.items.size(); k += 2) {
    const PickleValue& key = *r.items[k];
    if (key.kind != Kind::String) continue;
    if (keys.size() < 200) keys += (keys.empty() ? "'" : ", '") + printable(key.s, 40) + "'";
    if (key.s == "images") x = &pt_tensor(*r.items[k + 1], f.path + ": key 'images'");
    if (key.s == "labels") y = &pt_tensor(*r.items[k + 1], f.path + ": key 'labels'");
  }
  YOCO_CHECK(x && y, f.path, ": dict keys ", keys.empty() ? "(none)" : keys, ": expected 'images' and 'labels'");
  return {x, y};
}

// "10,8,10": the form --class-counts takes.
std::string comma_list(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t k = 0; k < v.size(); ++k) s += (k ? "," : "") + std::to_string(v[k]);
  return s;
}

}  // namespace

bool is_pt_path(const std::string& path) { return ends_with(path, ".pt") || ends_with(path, ".pth"); }

CondensedSet import_pt_set(const std::string& path, const PtImportOptions& o) {
  YOCO_CHECK(!o.dataset.empty(), path, ": a .pt file does not name its dataset: give --dataset");
  YOCO_CHECK(o.factor > 0, path, ": a .pt file does not record IDC's multi-formation factor: give --factor "
             "(e.g. 2; 1 = none)");
  YOCO_CHECK(o.ipc >= 0, "--ipc: expected a positive integer, got ", o.ipc);
  const std::string name = canonical_dataset_name(o.dataset);
  const DatasetShape shape = dataset_shape(name);
  const PtFile f = read_pt(path);
  const auto [px, py] = images_labels(f);
  YOCO_CHECK(px->shape.size() == 4, path, ": images have shape ", shape_str(px->shape), ", expected [N,C,H,W]");
  YOCO_CHECK(py->shape.size() == 1 && py->shape[0] == px->shape[0], path, ": labels have shape ",
             shape_str(py->shape), ", expected [", px->shape[0], "] (one per image)");
  const int64_t n = px->shape[0], c = px->shape[1], h = px->shape[2], w = px->shape[3];
  YOCO_CHECK(n > 0, path, ": holds no images");
  YOCO_CHECK(c == shape.channels && (shape.size == 0 || (h == shape.size && w == shape.size)), path, ": images ",
             shape_str(px->shape), " do not match ", name, " (", shape.channels, " channels",
             shape.size ? cat(", ", shape.size, "x", shape.size) : std::string(), ")");

  // IDC (spec §3.1-3.2, the reference's condense.py): data.pt holds the *stored* images, [classes*ipc, C, H, W],
  // unnormalised in [0,1] pixel space, each holding factor^2 sub-images (multi-formation, decoded at use), with
  // class-major labels. That is our set file's layout, so the images are copied as they are: no decoding and no
  // de-normalisation. IDC clamps storage to [0,1] only at the start of each outer iteration, so the saved values
  // can lie slightly outside after the last image step: clamp them here and record how many there were.
  CondensedSet s;
  s.images = pt_to_f32(*px, path + ": images");
  s.labels = pt_to_i64(*py, path + ": labels");
  float* x = s.images.data<float>();
  int64_t below = 0, above = 0;
  for (int64_t i = 0; i < s.images.numel(); ++i) {
    YOCO_CHECK(std::isfinite(x[i]), path, ": images value ", x[i], " at flat index ", i, " (image ",
               i / (c * h * w), ") is not finite");
    if (x[i] < 0.f) x[i] = 0.f, ++below;
    if (x[i] > 1.f) x[i] = 1.f, ++above;
  }

  // Labels: class-major runs; balanced unless counts were declared.
  std::vector<int64_t> counts(static_cast<size_t>(shape.num_classes), 0);
  const int64_t* y = s.labels.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    YOCO_CHECK(y[i] >= 0 && y[i] < shape.num_classes, path, ": label ", y[i], " at index ", i, " is outside [0, ",
               shape.num_classes, ") for ", name);
    YOCO_CHECK(i == 0 || y[i] >= y[i - 1], path, ": label ", y[i], " at index ", i, " follows ", y[i - 1],
               ": labels must be class-major (all of class 0, then class 1, ...)");
    ++counts[static_cast<size_t>(y[i])];
  }
  SetMeta& m = s.meta;
  if (!o.class_counts.empty()) {
    YOCO_CHECK(o.class_counts == counts, path, ": labels hold per-class counts ", comma_list(counts),
               ", but --class-counts declares ", comma_list(o.class_counts));
    m.class_counts = counts;
    m.ipc = o.ipc;
    if (m.ipc == 0)
      for (int64_t k : counts) m.ipc = std::max(m.ipc, k);
  } else {
    for (size_t k = 0; k < counts.size(); ++k)
      YOCO_CHECK(counts[k] == counts[0], path, ": class ", k, " has ", counts[k], " images but class 0 has ",
                 counts[0], ": the set is imbalanced (declare it with --class-counts ", comma_list(counts), ")");
    YOCO_CHECK(o.ipc == 0 || o.ipc == counts[0], path, ": holds ", counts[0], " images per class, but --ipc is ",
               o.ipc);
    m.ipc = counts[0];
  }
  m.dataset = name;
  m.num_classes = shape.num_classes;
  m.factor = o.factor;
  m.channels = c;
  m.height = h;
  m.width = w;
  std::tie(m.mean, m.std) = dataset_stats(name);
  m.method = "idc";
  m.source = path;
  m.config = {{"import", {{"from", path},
                          {"format", "torch.save [images, labels]"},
                          {"images_dtype", pt_dtype_name(px->storage->dtype)},
                          {"clamped_values", below + above},
                          {"clamped_below_0", below},
                          {"clamped_above_1", above}}}};
  check_set(s, path);
  return s;
}

CondensedSet load_set_any(const std::string& path, const PtImportOptions& o) {
  if (is_pt_path(path)) return import_pt_set(path, o);
  SetExpect e;
  if (!o.dataset.empty()) e.dataset = canonical_dataset_name(o.dataset);
  if (o.ipc > 0) e.ipc = o.ipc;
  if (o.factor > 0) e.factor = o.factor;
  CondensedSet s = load_set(path, e);
  YOCO_CHECK(o.class_counts.empty() || o.class_counts == s.meta.class_counts ||
                 (s.meta.class_counts.empty() &&
                  o.class_counts == std::vector<int64_t>(static_cast<size_t>(s.meta.num_classes), s.meta.ipc)),
             path, ": --class-counts ", comma_list(o.class_counts), " does not match the set's per-class counts");
  return s;
}

void save_pt_set(const std::string& path, const CondensedSet& s) {
  check_set(s, path);
  write_pt(path, {{s.images, s.meta.storage == SetStorage::F16 ? PtDType::F16 : PtDType::F32},
                  {s.labels, PtDType::I64}});
}

void save_set_any(const std::string& path, const CondensedSet& s) {
  if (is_pt_path(path)) return save_pt_set(path, s);
  save_set(path, s);
}

}  // namespace yoco::data
