// Condensed-set and scores files on top of the npz container, with field-by-field validation.
#include "data/set_file.h"

#include <cmath>
#include "data/npz.h"

namespace yoco::data {

const char* storage_name(SetStorage s) { return s == SetStorage::F16 ? "f16" : "f32"; }

SetStorage parse_storage(const std::string& s, const std::string& what) {
  if (s == "f32") return SetStorage::F32;
  if (s == "f16") return SetStorage::F16;
  YOCO_CHECK(false, what, ": '", s, "' is not a storage type (expected f32 or f16)");
  return SetStorage::F32;
}

nlohmann::json meta_to_json(const SetMeta& m) {
  nlohmann::json j;
  j["format_version"] = m.format_version;
  j["dataset"] = m.dataset;
  j["num_classes"] = m.num_classes;
  j["ipc"] = m.ipc;
  j["factor"] = m.factor;
  j["channels"] = m.channels;
  j["height"] = m.height;
  j["width"] = m.width;
  j["mean"] = m.mean;
  j["std"] = m.std;
  j["normalized"] = m.normalized;
  j["method"] = m.method;
  j["seed"] = m.seed;
  j["config"] = m.config;
  j["engine_version"] = m.engine_version;
  j["source"] = m.source;
  if (!m.class_counts.empty()) j["class_counts"] = m.class_counts;
  if (m.storage != SetStorage::F32) j["storage"] = storage_name(m.storage);
  return j;
}

namespace {
// Reads one field, turning nlohmann's missing-key/type errors into one naming the file and field.
template <class T>
void field(const nlohmann::json& j, const char* key, T& out, const std::string& what, bool required = true) {
  if (!j.contains(key)) {
    YOCO_CHECK(!required, what, ": meta field '", key, "' is missing");
    return;
  }
  try {
    out = j.at(key).get<T>();
  } catch (const nlohmann::json::exception& e) {
    YOCO_CHECK(false, what, ": meta field '", key, "' has the wrong type (", j.at(key).dump(), "): ", e.what());
  }
}
}  // namespace

SetMeta meta_from_json(const nlohmann::json& j, const std::string& what) {
  YOCO_CHECK(j.is_object(), what, ": meta is not a JSON object");
  SetMeta m;
  field(j, "format_version", m.format_version, what);
  YOCO_CHECK(m.format_version == kSetFormatVersion, what, ": meta field 'format_version' is ", m.format_version,
             ": this engine reads version ", kSetFormatVersion);
  field(j, "dataset", m.dataset, what);
  field(j, "num_classes", m.num_classes, what);
  field(j, "ipc", m.ipc, what);
  field(j, "factor", m.factor, what);
  field(j, "channels", m.channels, what);
  field(j, "height", m.height, what);
  field(j, "width", m.width, what);
  field(j, "mean", m.mean, what);
  field(j, "std", m.std, what);
  field(j, "normalized", m.normalized, what);
  field(j, "method", m.method, what);
  field(j, "seed", m.seed, what);
  field(j, "config", m.config, what);
  field(j, "engine_version", m.engine_version, what);
  field(j, "source", m.source, what, /*required=*/false);
  field(j, "class_counts", m.class_counts, what, /*required=*/false);
  std::string storage = "f32";  // files written before the key existed are f32
  field(j, "storage", storage, what, /*required=*/false);
  m.storage = parse_storage(storage, what + ": meta field 'storage'");
  return m;
}

namespace {

void check_meta(const SetMeta& m, const std::string& what) {
  YOCO_CHECK(m.format_version == kSetFormatVersion, what, ": meta field 'format_version' is ", m.format_version,
             ", expected ", kSetFormatVersion);
  YOCO_CHECK(!m.normalized, what, ": meta field 'normalized' is true: condensed sets must hold raw [0,1] images");
  YOCO_CHECK(m.num_classes > 0 && m.ipc > 0 && m.factor > 0, what, ": meta fields num_classes/ipc/factor must be "
             "positive, got ", m.num_classes, "/", m.ipc, "/", m.factor);
  YOCO_CHECK(m.channels > 0 && m.height > 0 && m.width > 0, what, ": meta fields channels/height/width must be "
             "positive, got ", m.channels, "/", m.height, "/", m.width);
  YOCO_CHECK(m.height % m.factor == 0 && m.width % m.factor == 0, what, ": meta field 'factor' ", m.factor,
             " does not divide the image size ", m.height, "x", m.width);
  YOCO_CHECK(static_cast<int64_t>(m.mean.size()) == m.channels && static_cast<int64_t>(m.std.size()) == m.channels,
             what, ": meta fields 'mean'/'std' have ", m.mean.size(), "/", m.std.size(), " values for ", m.channels,
             " channels");
}

void check_expect(const SetMeta& m, const SetExpect& e, const std::string& what) {
  auto one = [&](const char* name, const std::optional<int64_t>& want, int64_t got) {
    YOCO_CHECK(!want || *want == got, what, ": meta field '", name, "' is ", got, ", expected ", *want);
  };
  YOCO_CHECK(!e.dataset || *e.dataset == m.dataset, what, ": meta field 'dataset' is '", m.dataset, "', expected '",
             e.dataset.value_or(""), "'");
  one("num_classes", e.num_classes, m.num_classes);
  one("ipc", e.ipc, m.ipc);
  one("factor", e.factor, m.factor);
  one("channels", e.channels, m.channels);
  one("height", e.height, m.height);
  one("width", e.width, m.width);
}

}  // namespace

void check_set(const CondensedSet& s, const std::string& what) {
  const SetMeta& m = s.meta;
  check_meta(m, what);
  YOCO_CHECK(s.images.defined() && s.images.dtype() == DType::F32 && s.images.dim() == 4, what,
             ": 'images' must be f32 [N,C,H,W], got ", s.images.defined() ? s.images.str() : "nothing");
  YOCO_CHECK(s.labels.defined() && s.labels.dtype() == DType::I64 && s.labels.dim() == 1, what,
             ": 'labels' must be i64 [N], got ", s.labels.defined() ? s.labels.str() : "nothing");
  const int64_t n = s.images.size(0);
  // Per-class counts: `ipc` each, or the explicit class_counts of an imbalanced (pruned) set.
  std::vector<int64_t> counts = m.class_counts.empty() ? std::vector<int64_t>(m.num_classes, m.ipc) : m.class_counts;
  YOCO_CHECK(static_cast<int64_t>(counts.size()) == m.num_classes, what, ": meta 'class_counts' has ", counts.size(),
             " entries for ", m.num_classes, " classes");
  int64_t expect_n = 0;
  for (int64_t c : counts) expect_n += c;
  YOCO_CHECK(n == expect_n, what, ": 'images' has N=", n, " but the classes hold ", expect_n,
             m.class_counts.empty() ? cat(" (num_classes*ipc = ", m.num_classes, "*", m.ipc, ")") : std::string(" (class_counts)"));
  YOCO_CHECK(s.labels.size(0) == n, what, ": 'labels' has ", s.labels.size(0), " entries for ", n, " images");
  YOCO_CHECK(s.images.size(1) == m.channels && s.images.size(2) == m.height && s.images.size(3) == m.width, what,
             ": 'images' ", shape_str(s.images.shape()), " does not match meta channels/height/width ", m.channels,
             "/", m.height, "/", m.width);
  const Tensor x = s.images.cpu(), y = s.labels.cpu();
  const float* px = x.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i)
    YOCO_CHECK(px[i] >= 0.f && px[i] <= 1.f, what, ": 'images' value ", px[i], " at flat index ", i,
               " (image ", i / (m.channels * m.height * m.width), ") is outside [0,1] (or NaN)");
  // Class-major: class c occupies the next counts[c] entries.
  const int64_t* py = y.data<int64_t>();
  for (int64_t c = 0, i = 0; c < m.num_classes; ++c)
    for (int64_t k = 0; k < counts[c]; ++k, ++i)
      YOCO_CHECK(py[i] == c, what, ": 'labels'[", i, "] is ", py[i], ", expected ", c,
                 " (labels must be class-major with ", counts[c], " images of class ", c, ")");
}

void save_set(const std::string& path, const CondensedSet& s) {
  check_set(s, path);
  write_npz(path, {{"images", s.meta.storage == SetStorage::F16 ? npy_f16_from_tensor(s.images)
                                                                   : npy_from_tensor(s.images)},
                   {"labels", npy_from_tensor(s.labels)},
                   {"meta", npy_from_string(meta_to_json(s.meta).dump(2))}});
}

namespace {
const NpyArray& entry(const std::map<std::string, NpyArray>& a, const std::string& key, const std::string& path) {
  auto it = a.find(key);
  YOCO_CHECK(it != a.end(), path, ": no '", key, "' entry (not a yoco condensed-set/scores file?)");
  return it->second;
}

nlohmann::json parse_meta(const std::map<std::string, NpyArray>& a, const std::string& path) {
  const std::string text = string_from_npy(entry(a, "meta", path), path + ": entry meta");
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    YOCO_CHECK(false, path, ": entry meta is not valid JSON: ", e.what());
  }
  return {};
}
}  // namespace

CondensedSet load_set(const std::string& path, const SetExpect& expect) {
  const auto a = read_npz(path);
  CondensedSet s;
  s.meta = meta_from_json(parse_meta(a, path), path);
  const NpyArray& images = entry(a, "images", path);
  const char* want = s.meta.storage == SetStorage::F16 ? "<f2" : "<f4";
  YOCO_CHECK(images.dtype == want, path, ": entry images has dtype ", images.dtype, " but meta field 'storage' is ",
             storage_name(s.meta.storage), " (expects ", want, ")");
  s.images = tensor_from_npy(images, path + ": entry images");
  s.labels = tensor_from_npy(entry(a, "labels", path), path + ": entry labels");
  check_set(s, path);
  check_expect(s.meta, expect, path);
  return s;
}

void save_arrays_with_meta(const std::string& path, const std::map<std::string, Tensor>& arrays,
                           const nlohmann::json& meta) {
  std::vector<std::pair<std::string, NpyArray>> entries;
  for (const auto& [k, t] : arrays) {
    YOCO_CHECK(k != "meta", path, ": array name 'meta' is reserved for the JSON entry");
    entries.emplace_back(k, npy_from_tensor(t));
  }
  entries.emplace_back("meta", npy_from_string(meta.dump(2)));
  write_npz(path, entries);
}

ArraysWithMeta load_arrays_with_meta(const std::string& path) {
  const auto a = read_npz(path);
  ArraysWithMeta out;
  out.meta = parse_meta(a, path);
  for (const auto& [k, arr] : a)
    if (k != "meta") out.arrays[k] = tensor_from_npy(arr, path + ": entry " + k);
  return out;
}

void save_scores(const std::string& path, const std::map<std::string, Tensor>& scores, const nlohmann::json& meta) {
  std::map<std::string, Tensor> prefixed;
  for (const auto& [k, t] : scores) {
    YOCO_CHECK(t.dtype() == DType::F32, path, ": score '", k, "' must be f32, got ", t.str());
    prefixed["scores/" + k] = t;
  }
  save_arrays_with_meta(path, prefixed, meta);
}

ArraysWithMeta load_scores(const std::string& path) {
  ArraysWithMeta all = load_arrays_with_meta(path), out;
  out.meta = all.meta;
  for (auto& [k, t] : all.arrays)
    if (k.rfind("scores/", 0) == 0) out.arrays[k.substr(7)] = t;
  YOCO_CHECK(!out.arrays.empty(), path, ": no 'scores/<name>' arrays");
  return out;
}

}  // namespace yoco::data
