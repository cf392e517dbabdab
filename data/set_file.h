// Condensed-set file (.npz: images f32 or f16 NxCxHxW in [0,1], labels i64 class-major, meta = UTF-8 JSON) and
// the generic arrays+meta container used for pruning score files.
#pragma once
#include "engine/version.h"
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>
#include "engine/tensor.h"

namespace yoco::data {

inline constexpr int kSetFormatVersion = 1;

// How a set file stores 'images': f32 ('<f4', exact) or f16 ('<f2', IEEE half rounded to nearest even: half the
// bytes, |error| <= 2^-12 on [0,1]). Loading always yields f32 tensors.
enum class SetStorage { F32, F16 };
const char* storage_name(SetStorage s);  // "f32" | "f16"
// `what` names the flag or file in the error for anything but "f32" / "f16".
SetStorage parse_storage(const std::string& s, const std::string& what);

struct SetMeta {
  int format_version = kSetFormatVersion;
  std::string dataset;
  int64_t num_classes = 0, ipc = 0, factor = 1, channels = 0, height = 0, width = 0;
  std::vector<float> mean, std;
  bool normalized = false;  // stored images are always raw [0,1]; normalisation happens at use
  std::string method;       // e.g. "idc", "random", "yoco-el2n-easy"
  uint64_t seed = 0;
  nlohmann::json config = nlohmann::json::object();
  std::string engine_version = yoco::engine_version();
  std::string source;  // optional provenance, e.g. the set a pruned set came from
  // Images per class when classes differ (imbalanced pruning rules); empty = exactly `ipc` in every class.
  std::vector<int64_t> class_counts;
  // Meta key "storage", written only for f16 (absent = f32, so f32 files are byte-identical to older ones).
  SetStorage storage = SetStorage::F32;
};

nlohmann::json meta_to_json(const SetMeta& m);
// Every field required except source, class_counts and storage.
SetMeta meta_from_json(const nlohmann::json& j, const std::string& what);

struct CondensedSet {
  Tensor images;  // f32 [N,C,H,W] in [0,1], N = num_classes * ipc
  Tensor labels;  // i64 [N], class-major: ipc of class 0, then class 1, ...
  SetMeta meta;
};

// What a caller needs the file to be; unset fields are not checked.
struct SetExpect {
  std::optional<std::string> dataset;
  std::optional<int64_t> num_classes, ipc, factor, channels, height, width;
};

// Checks all invariants (shapes vs meta, class-major labels, [0,1] range, normalized=false, format version);
// `what` names the file in errors. save_set and load_set both call it.
void check_set(const CondensedSet& s, const std::string& what);

// Atomic write (temp file + rename). Throws on any invariant violation before touching the disk. Images are
// stored as s.meta.storage says; load_set checks the 'images' dtype agrees with the meta.
void save_set(const std::string& path, const CondensedSet& s);
CondensedSet load_set(const std::string& path, const SetExpect& expect = {});
// The same from the file's bytes in memory; `path` names them in errors.
CondensedSet load_set_bytes(const char* data, size_t size, const std::string& path, const SetExpect& expect = {});

// Refuses JSON text nested deeper than `max_depth` (before a recursive parser sees it), naming `what`.
void check_json_depth(const std::string& text, const std::string& what, int max_depth = 64);

// Generic container: named f32/i64 tensors + a "meta" JSON entry (scores files: keys "scores/<name>").
struct ArraysWithMeta {
  std::map<std::string, Tensor> arrays;
  nlohmann::json meta;
};
void save_arrays_with_meta(const std::string& path, const std::map<std::string, Tensor>& arrays,
                           const nlohmann::json& meta);
ArraysWithMeta load_arrays_with_meta(const std::string& path);

// Scores files: each score vector is stored as "scores/<name>" (f32 [N]).
void save_scores(const std::string& path, const std::map<std::string, Tensor>& scores, const nlohmann::json& meta);
ArraysWithMeta load_scores(const std::string& path);  // keys without the "scores/" prefix

}  // namespace yoco::data
