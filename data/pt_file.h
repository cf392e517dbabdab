// PyTorch .pt files as torch.save writes them (zip of data.pkl + one entry per storage), read through the
// restricted unpickler without executing anything, and written in the same layout for torch.load.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>
#include "data/pickle.h"
#include "engine/tensor.h"

namespace yoco::data {

// Element types of torch's typed storages (torch.FloatStorage = F32, torch.HalfStorage = F16, ...).
enum class PtDType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool };
const char* pt_dtype_name(PtDType t);
size_t pt_dtype_size(PtDType t);

// One storage entry (`<archive>/data/<key>`), pointing into the file's bytes (kept alive by `bytes`).
struct PtStorage {
  PtDType dtype = PtDType::F32;
  std::string key;
  const char* data = nullptr;
  int64_t numel = 0;
  std::shared_ptr<const std::vector<char>> bytes;
};

// A strided view into a storage, checked on construction: every element it can reach lies inside the storage,
// and it holds no more elements than the storage (no expanded views that would multiply memory on copy).
struct PtTensor {
  std::shared_ptr<const PtStorage> storage;
  int64_t offset = 0;
  std::vector<int64_t> shape, stride;
  int64_t numel() const;
};

struct PtFile {
  std::string path;
  PickleRef root;  // lists, tuples, dicts, scalars; tensors are Object values holding a PtTensor
};

// Caps: a .pt file of at most 16 GiB; tensors of at most 16 dims.
inline constexpr uint64_t kPtMaxFileBytes = uint64_t(1) << 34;
inline constexpr size_t kPtMaxDims = 16;

// Reads a torch.save zip archive (torch 1.6+ and 2.x layouts: `<archive>/data.pkl`, `data/<key>`, `version`, and
// 2.x's `byteorder`, `.format_version`, `.data/...` entries). Refuses the pre-1.6 legacy format, big-endian
// storages, any global outside the allow-list (collections.OrderedDict, torch._utils._rebuild_tensor_v2,
// torch._utils._rebuild_parameter, torch.<Type>Storage), and every size, offset or stride that does not fit the
// storage entry it points into. Errors name the file and the entry or pickle offset, on one line.
PtFile read_pt(const std::string& path);
PtFile read_pt_bytes(std::vector<char> bytes, const std::string& path);

// The PtTensor in `v`, or an error naming `what` and the kind found.
const PtTensor& pt_tensor(const PickleValue& v, const std::string& what);
// Contiguous host copies: floating storages as F32 (f16/bf16/f64 converted), integer/bool storages as I64.
Tensor pt_to_f32(const PtTensor& t, const std::string& what);
Tensor pt_to_i64(const PtTensor& t, const std::string& what);

// Writes `tensors` as torch.save([t0, t1, ...]) would (protocol 2, 64-byte aligned storage entries, archive
// name "archive", version 3, byteorder little). Each tensor is stored as the paired dtype: F32 tensors as F32 or
// F16 (round to nearest even), I64 tensors as I64. Atomic: path + ".tmp", then rename.
void write_pt(const std::string& path, const std::vector<std::pair<Tensor, PtDType>>& tensors);

}  // namespace yoco::data
