// Condensed-set and scores files on top of the npz container, with field-by-field validation.
#include "data/set_file.h"

#include <cmath>
#include "data/npz.h"
#include "data/printable.h"
#include "data/zip.h"

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

// Caps on meta numbers: far above any real set, low enough that nothing sized by them can exhaust memory.
constexpr int64_t kMaxClasses = int64_t(1) << 20, kMaxCount = int64_t(1) << 40, kMaxSide = int64_t(1) << 15;
constexpr int64_t kMaxChannels = 64, kMaxFactor = 64;

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
    YOCO_CHECK(false, what, ": meta field '", key, "' has the wrong type (", printable(j.at(key).dump()), ")");
  }
}

// An integer in [lo, hi]: JSON floats (1e9), out-of-range and non-numbers are refused rather than converted
// (a float-to-int conversion of 1e300 is undefined behaviour).
int64_t int_value(const nlohmann::json& v, const std::string& name, int64_t lo, int64_t hi, const std::string& what) {
  YOCO_CHECK(v.is_number_integer(), what, ": meta field '", name, "' has the wrong type (", printable(v.dump()),
             "): expected an integer in [", lo, ", ", hi, "]");
  const bool fits = v.is_number_unsigned() ? v.get<uint64_t>() <= static_cast<uint64_t>(hi)
                                           : v.get<int64_t>() >= lo && v.get<int64_t>() <= hi;
  YOCO_CHECK(fits, what, ": meta field '", name, "' is ", printable(v.dump()),
             ", out of range: expected an integer in [", lo, ", ", hi, "]");
  return v.get<int64_t>();
}

void int_field(const nlohmann::json& j, const char* key, int64_t& out, int64_t lo, int64_t hi,
               const std::string& what, bool required = true) {
  if (!j.contains(key)) {
    YOCO_CHECK(!required, what, ": meta field '", key, "' is missing");
    return;
  }
  out = int_value(j.at(key), key, lo, hi, what);
}

// A list of finite numbers that fit a float, at most `max_len` long.
std::vector<float> float_list(const nlohmann::json& j, const char* key, size_t max_len, const std::string& what) {
  YOCO_CHECK(j.contains(key), what, ": meta field '", key, "' is missing");
  const nlohmann::json& v = j.at(key);
  YOCO_CHECK(v.is_array() && v.size() <= max_len, what, ": meta field '", key, "' is ", printable(v.dump()),
             ": expected a list of at most ", max_len, " numbers");
  std::vector<float> out;
  for (size_t i = 0; i < v.size(); ++i) {
    const bool ok = v[i].is_number() && std::isfinite(v[i].get<double>()) && std::fabs(v[i].get<double>()) <= 1e30;
    YOCO_CHECK(ok, what, ": meta field '", key, "'[", i, "] is ", printable(v[i].dump()), ": expected a finite number");
    out.push_back(static_cast<float>(v[i].get<double>()));
  }
  return out;
}

}  // namespace

void check_json_depth(const std::string& text, const std::string& what, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;  // skip the escaped character (a quote or backslash)
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      YOCO_CHECK(++depth <= max_depth, what, ": JSON nested more than ", max_depth, " deep at byte ", i);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

SetMeta meta_from_json(const nlohmann::json& j, const std::string& what) {
  YOCO_CHECK(j.is_object(), what, ": meta is not a JSON object");
  SetMeta m;
  int64_t version = 0;
  int_field(j, "format_version", version, 0, 1 << 20, what);
  m.format_version = static_cast<int>(version);
  YOCO_CHECK(m.format_version == kSetFormatVersion, what, ": meta field 'format_version' is ", m.format_version,
             ": this engine reads version ", kSetFormatVersion);
  field(j, "dataset", m.dataset, what);
  int_field(j, "num_classes", m.num_classes, 1, kMaxClasses, what);
  int_field(j, "ipc", m.ipc, 1, kMaxCount, what);
  int_field(j, "factor", m.factor, 1, kMaxFactor, what);
  int_field(j, "channels", m.channels, 1, kMaxChannels, what);
  int_field(j, "height", m.height, 1, kMaxSide, what);
  int_field(j, "width", m.width, 1, kMaxSide, what);
  m.mean = float_list(j, "mean", kMaxChannels, what);
  m.std = float_list(j, "std", kMaxChannels, what);
  field(j, "normalized", m.normalized, what);
  field(j, "method", m.method, what);
  YOCO_CHECK(j.contains("seed"), what, ": meta field 'seed' is missing");
  const nlohmann::json& seed = j.at("seed");
  YOCO_CHECK(seed.is_number_unsigned() || (seed.is_number_integer() && seed.get<int64_t>() >= 0), what,
             ": meta field 'seed' is ", printable(seed.dump()), ": expected an unsigned integer");
  m.seed = seed.get<uint64_t>();
  field(j, "config", m.config, what);
  field(j, "engine_version", m.engine_version, what);
  field(j, "source", m.source, what, /*required=*/false);
  if (j.contains("class_counts")) {
    const nlohmann::json& cc = j.at("class_counts");
    YOCO_CHECK(cc.is_array() && static_cast<int64_t>(cc.size()) == m.num_classes, what,
               ": meta field 'class_counts' must be a list of ", m.num_classes, " counts (one per class), got ",
               printable(cc.dump()));
    for (size_t i = 0; i < cc.size(); ++i)
      m.class_counts.push_back(int_value(cc[i], "class_counts[" + std::to_string(i) + "]", 0, kMaxCount, what));
  }
  std::string storage = "f32";  // files written before the key existed are f32
  field(j, "storage", storage, what, /*required=*/false);
  m.storage = parse_storage(printable(storage), what + ": meta field 'storage'");
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
  YOCO_CHECK(m.num_classes <= kMaxClasses && m.ipc <= kMaxCount && m.factor <= kMaxFactor &&
             m.channels <= kMaxChannels && m.height <= kMaxSide && m.width <= kMaxSide, what,
             ": meta fields num_classes/ipc/factor/channels/height/width ", m.num_classes, "/", m.ipc, "/", m.factor,
             "/", m.channels, "/", m.height, "/", m.width, " exceed the caps ", kMaxClasses, "/", kMaxCount, "/",
             kMaxFactor, "/", kMaxChannels, "/", kMaxSide, "/", kMaxSide);
  YOCO_CHECK(static_cast<int64_t>(m.mean.size()) == m.channels && static_cast<int64_t>(m.std.size()) == m.channels,
             what, ": meta fields 'mean'/'std' have ", m.mean.size(), "/", m.std.size(), " values for ", m.channels,
             " channels");
  for (size_t i = 0; i < m.std.size(); ++i)
    YOCO_CHECK(std::isfinite(m.mean[i]) && std::isfinite(m.std[i]) && m.std[i] > 0.f, what,
               ": meta fields 'mean'/'std'[", i, "] are ", m.mean[i], "/", m.std[i],
               ": expected finite values and std > 0");
  YOCO_CHECK(m.class_counts.empty() || static_cast<int64_t>(m.class_counts.size()) == m.num_classes, what,
             ": meta 'class_counts' has ", m.class_counts.size(), " entries for ", m.num_classes, " classes");
  for (size_t c = 0; c < m.class_counts.size(); ++c)
    YOCO_CHECK(m.class_counts[c] >= 0, what, ": meta 'class_counts'[", c, "] is ", m.class_counts[c],
               ": expected a count >= 0");
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
  // Per-class counts: `ipc` each, or the explicit class_counts of an imbalanced (pruned) set. The balanced total
  // is checked against N before a count vector of num_classes entries is built.
  if (m.class_counts.empty())  // no overflow: check_meta capped them (2^20 * 2^40 < 2^63)
    YOCO_CHECK(m.num_classes * m.ipc == n, what, ": 'images' has N=", n, " but the classes hold ",
               m.num_classes * m.ipc, " (num_classes*ipc = ", m.num_classes, "*", m.ipc, ")");
  const std::vector<int64_t> counts =
      m.class_counts.empty() ? std::vector<int64_t>(static_cast<size_t>(m.num_classes), m.ipc) : m.class_counts;
  int64_t expect_n = 0;
  for (int64_t c : counts) {
    YOCO_CHECK(c <= n - expect_n, what, ": 'images' has N=", n, " but meta 'class_counts' sums to more");
    expect_n += c;
  }
  YOCO_CHECK(n == expect_n, what, ": 'images' has N=", n, " but the classes hold ", expect_n, " (class_counts)");
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
  YOCO_CHECK(it != a.end(), path, ": no '", printable(key), "' entry (not a yoco condensed-set/scores file?)");
  return it->second;
}

nlohmann::json parse_meta(const std::map<std::string, NpyArray>& a, const std::string& path) {
  const std::string text = string_from_npy(entry(a, "meta", path), path + ": entry meta");
  // nlohmann's parser recurses per level: a deeply nested document would overflow the stack before any check.
  check_json_depth(text, path + ": entry meta");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    YOCO_CHECK(false, path, ": entry meta is not valid JSON: ", printable(e.what(), 160));
  }
  YOCO_CHECK(j.is_object(), path, ": entry meta is not a JSON object");
  return j;
}
}  // namespace

CondensedSet load_set(const std::string& path, const SetExpect& expect) {
  const std::vector<char> b = read_file_bytes(path);
  return load_set_bytes(b.data(), b.size(), path, expect);
}

CondensedSet load_set_bytes(const char* data, size_t size, const std::string& path, const SetExpect& expect) {
  const auto a = read_npz_bytes(data, size, path);
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
    if (k != "meta") out.arrays[k] = tensor_from_npy(arr, path + ": entry " + printable(k));
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
  // Container-level sanity: every score is an f32 vector of one common length (what it must match is the set's
  // business, checked where the set is known).
  const int64_t n = out.arrays.begin()->second.dim() == 1 ? out.arrays.begin()->second.size(0) : -1;
  for (const auto& [k, t] : out.arrays)
    YOCO_CHECK(t.dtype() == DType::F32 && t.dim() == 1 && t.size(0) == n, path, ": entry scores/", printable(k),
               " is ", t.str(), ": expected an f32 vector with as many entries as the other scores (", n, ")");
  return out;
}

}  // namespace yoco::data
