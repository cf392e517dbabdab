// torch.save archives: zip entries located and checked, data.pkl run through the restricted unpickler with
// torch's allow-list as hooks, every tensor view bounds-checked against its storage entry.
#include "data/pt_file.h"
#include "data/printable.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include "data/half.h"
#include "data/zip.h"
#include "kernels/common.h"

namespace yoco::data {

const char* pt_dtype_name(PtDType t) {
  switch (t) {
    case PtDType::F64: return "float64";
    case PtDType::F32: return "float32";
    case PtDType::F16: return "float16";
    case PtDType::BF16: return "bfloat16";
    case PtDType::I64: return "int64";
    case PtDType::I32: return "int32";
    case PtDType::I16: return "int16";
    case PtDType::I8: return "int8";
    case PtDType::U8: return "uint8";
    case PtDType::Bool: return "bool";
  }
  return "?";
}

size_t pt_dtype_size(PtDType t) {
  switch (t) {
    case PtDType::F64: case PtDType::I64: return 8;
    case PtDType::F32: case PtDType::I32: return 4;
    case PtDType::F16: case PtDType::BF16: case PtDType::I16: return 2;
    default: return 1;
  }
}

int64_t PtTensor::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;  // checked against the storage when the view was built: cannot overflow
  return n;
}

namespace {

using Kind = PickleValue::Kind;

// The storage classes torch.save names (torch.<Name>Storage); nothing else becomes a storage.
const std::map<std::string, PtDType>& storage_types() {
  static const std::map<std::string, PtDType> m = {
      {"torch.DoubleStorage", PtDType::F64}, {"torch.FloatStorage", PtDType::F32},
      {"torch.HalfStorage", PtDType::F16},   {"torch.BFloat16Storage", PtDType::BF16},
      {"torch.LongStorage", PtDType::I64},   {"torch.IntStorage", PtDType::I32},
      {"torch.ShortStorage", PtDType::I16},  {"torch.CharStorage", PtDType::I8},
      {"torch.ByteStorage", PtDType::U8},    {"torch.BoolStorage", PtDType::Bool}};
  return m;
}

constexpr const char* kRebuildTensor = "torch._utils._rebuild_tensor_v2";
constexpr const char* kRebuildParameter = "torch._utils._rebuild_parameter";
constexpr const char* kOrderedDict = "collections.OrderedDict";

bool allowed_global(const std::string& g) {
  return g == kRebuildTensor || g == kRebuildParameter || g == kOrderedDict || storage_types().count(g) > 0;
}

PickleRef object_of(PickleValue::Kind, std::any obj) {
  auto v = std::make_shared<PickleValue>();
  v->kind = Kind::Object;
  v->object = std::move(obj);
  return v;
}

// Archive layout: the one `<archive>/data.pkl` decides the prefix every other entry must share.
struct Archive {
  std::string prefix;  // "<archive>/"
  std::map<std::string, ZipEntry> entries;  // by name without the prefix
};

Archive locate(const char* data, size_t size, const std::string& path) {
  // torch.save before 1.6 (or _use_new_zipfile_serialization=False) wrote a bare pickle stream.
  YOCO_CHECK(size < 4 || std::memcmp(data, "PK\x03\x04", 4) == 0, path,
             ": not a zip archive: the legacy (pre-1.6) torch.save format is not supported; re-save it with "
             "torch.save(obj, path) from torch >= 1.6");
  Archive a;
  const auto entries = read_zip_entries(data, size, path);
  for (const ZipEntry& e : entries) {
    const size_t slash = e.name.find('/');
    if (slash != std::string::npos && e.name.compare(slash, std::string::npos, "/data.pkl") == 0) {
      YOCO_CHECK(a.prefix.empty(), path, ": two data.pkl entries ('", printable(a.prefix), "data.pkl' and '",
                 printable(e.name), "'): expected one torch.save archive");
      a.prefix = e.name.substr(0, slash + 1);
    }
  }
  YOCO_CHECK(!a.prefix.empty(), path, ": no '<archive>/data.pkl' entry: not a torch.save file");
  for (const ZipEntry& e : entries) {
    YOCO_CHECK(e.name.compare(0, a.prefix.size(), a.prefix) == 0, path, ": entry '", printable(e.name),
               "' is outside the archive folder '", printable(a.prefix), "'");
    a.entries.emplace(e.name.substr(a.prefix.size()), e);
  }
  if (auto it = a.entries.find("byteorder"); it != a.entries.end()) {
    const std::string order(data + it->second.offset, it->second.size);
    YOCO_CHECK(order == "little", path, ": entry '", printable(a.prefix), "byteorder' is '", printable(order, 16),
               "': only little-endian storages are supported");
  }
  if (auto it = a.entries.find("version"); it != a.entries.end()) {
    const std::string v(data + it->second.offset, std::min<uint64_t>(it->second.size, 16));
    YOCO_CHECK(v == "1\n" || v == "2\n" || v == "3\n" || v == "1" || v == "2" || v == "3", path, ": entry '",
               printable(a.prefix), "version' is '", printable(v), "': expected torch.save's archive version 1 to 3");
  }
  return a;
}

int64_t as_int(const PickleValue& v, const std::string& what) {
  YOCO_CHECK(v.kind == Kind::Int, what, ": expected an int, got a ", pickle_kind_name(v.kind));
  return v.i;
}

std::vector<int64_t> int_tuple(const PickleValue& v, const std::string& what) {
  YOCO_CHECK(v.kind == Kind::Tuple, what, ": expected a tuple of ints, got a ", pickle_kind_name(v.kind));
  YOCO_CHECK(v.items.size() <= kPtMaxDims, what, ": ", v.items.size(), " dims, at most ", kPtMaxDims,
             " supported");
  std::vector<int64_t> out;
  for (const auto& it : v.items) {
    const int64_t x = as_int(*it, what);
    YOCO_CHECK(x >= 0, what, ": negative value ", x);
    out.push_back(x);
  }
  return out;
}

// The hooks that give torch's globals their meaning, for one archive.
class TorchLoader {
 public:
  TorchLoader(const char* data, const Archive& a, std::shared_ptr<const std::vector<char>> bytes,
              const std::string& path)
      : data_(data), a_(a), bytes_(std::move(bytes)), path_(path) {}

  UnpickleHooks hooks() {
    UnpickleHooks h;
    h.allow_global = allowed_global;
    h.reduce = [this](const PickleValue& fn, const PickleValue& args, size_t off) { return reduce(fn, args, off); };
    h.persistent_load = [this](const PickleValue& pid, size_t off) { return storage(pid, off); };
    return h;
  }

 private:
  std::string at(size_t off) const { return cat(path_, ": ", printable(a_.prefix), "data.pkl offset ", off); }

  // ('storage', torch.<T>Storage, key, location, numel) -> the storage entry data/<key>, size checked.
  PickleRef storage(const PickleValue& pid, size_t off) {
    const std::string w = at(off) + ": persistent id";
    YOCO_CHECK(pid.kind == Kind::Tuple && pid.items.size() == 5 && pid.items[0]->kind == Kind::String &&
                   pid.items[0]->s == "storage",
               w, ": expected ('storage', type, key, location, numel)");
    const PickleValue& type = *pid.items[1];
    YOCO_CHECK(type.kind == Kind::Global && storage_types().count(type.s), w,
               ": storage type is not a torch.<Type>Storage class");
    YOCO_CHECK(pid.items[2]->kind == Kind::String && pid.items[3]->kind == Kind::String, w,
               ": key and location must be strings");
    const std::string& key = pid.items[2]->s;
    const int64_t numel = as_int(*pid.items[4], w + " numel");
    YOCO_CHECK(numel >= 0, w, ": negative storage size ", numel);
    const PtDType dt = storage_types().at(type.s);
    if (auto it = cache_.find(key); it != cache_.end()) {
      YOCO_CHECK(it->second->dtype == dt && it->second->numel == numel, w, ": storage '", printable(key),
                 "' is named again with another type or size");
      return object_of(Kind::Object, it->second);
    }
    auto e = a_.entries.find("data/" + key);
    YOCO_CHECK(e != a_.entries.end(), w, ": no entry '", printable(a_.prefix), "data/", printable(key),
               "' for storage '", printable(key), "'");
    const uint64_t esize = pt_dtype_size(dt);
    YOCO_CHECK(static_cast<uint64_t>(numel) <= e->second.size / esize && numel * esize == e->second.size, w,
               ": entry '", printable(a_.prefix), "data/", printable(key), "' holds ", e->second.size,
               " bytes, expected ", numel, " x ",
               esize, " for a ", pt_dtype_name(dt), " storage of ", numel, " elements");
    auto s = std::make_shared<PtStorage>();
    s->dtype = dt;
    s->key = key;
    s->data = data_ + e->second.offset;
    s->numel = numel;
    s->bytes = bytes_;
    cache_.emplace(key, s);
    return object_of(Kind::Object, std::shared_ptr<const PtStorage>(s));
  }

  PickleRef reduce(const PickleValue& fn, const PickleValue& args, size_t off) {
    const std::string w = at(off) + ": " + printable(fn.s);
    if (fn.s == kOrderedDict) {
      YOCO_CHECK(args.items.empty(), w, "() with arguments: expected an empty OrderedDict");
      auto d = std::make_shared<PickleValue>();
      d->kind = Kind::Dict;
      return d;
    }
    if (fn.s == kRebuildParameter) {  // (data, requires_grad, backward_hooks): the tensor itself
      YOCO_CHECK(args.items.size() == 3, w, ": expected 3 arguments, got ", args.items.size());
      pt_tensor(*args.items[0], w + " data");
      return args.items[0];
    }
    YOCO_CHECK(fn.s == kRebuildTensor, w, ": cannot be called (only ", kRebuildTensor, ", ", kRebuildParameter,
               " and ", kOrderedDict, ")");
    // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
    YOCO_CHECK(args.items.size() == 6 || args.items.size() == 7, w, ": expected 6 or 7 arguments, got ",
               args.items.size());
    const PickleValue& sv = *args.items[0];
    const auto* sp = sv.kind == Kind::Object ? std::any_cast<std::shared_ptr<const PtStorage>>(&sv.object) : nullptr;
    YOCO_CHECK(sp != nullptr, w, ": first argument is a ", pickle_kind_name(sv.kind), ", expected a storage");
    PtTensor t;
    t.storage = *sp;
    t.offset = as_int(*args.items[1], w + " storage_offset");
    t.shape = int_tuple(*args.items[2], w + " size");
    t.stride = int_tuple(*args.items[3], w + " stride");
    YOCO_CHECK(args.items[4]->kind == Kind::Bool, w, ": requires_grad must be a bool");
    YOCO_CHECK(args.items[5]->kind == Kind::Dict && args.items[5]->items.empty(), w,
               ": backward hooks must be an empty OrderedDict");
    YOCO_CHECK(t.shape.size() == t.stride.size(), w, ": size has ", t.shape.size(), " dims but stride has ",
               t.stride.size());
    YOCO_CHECK(t.offset >= 0 && t.offset <= t.storage->numel, w, ": storage_offset ", t.offset,
               " outside storage '", printable(t.storage->key), "' of ", t.storage->numel, " elements");
    // Elements and the last reachable index, overflow-checked, both inside the storage.
    int64_t numel = 1, last = t.offset;
    bool overflow = false;
    for (size_t d = 0; d < t.shape.size(); ++d) overflow |= __builtin_mul_overflow(numel, t.shape[d], &numel);
    if (numel > 0)
      for (size_t d = 0; d < t.shape.size(); ++d) {
        int64_t span = 0;
        overflow |= __builtin_mul_overflow(t.shape[d] - 1, t.stride[d], &span);
        overflow |= __builtin_add_overflow(last, span, &last);
      }
    YOCO_CHECK(!overflow && numel <= t.storage->numel && (numel == 0 || last < t.storage->numel), w,
               ": a view of size ", shape_str(t.shape), " stride ", shape_str(t.stride), " at offset ", t.offset,
               " does not fit storage '", printable(t.storage->key), "' of ", t.storage->numel, " elements");
    return object_of(Kind::Object, t);
  }

  const char* data_;
  const Archive& a_;
  std::shared_ptr<const std::vector<char>> bytes_;
  const std::string& path_;
  std::map<std::string, std::shared_ptr<const PtStorage>> cache_;
};

// Calls f(element index in the storage) for each element of t in C order.
template <class F>
void for_each_index(const PtTensor& t, F&& f) {
  const int64_t n = t.numel();
  if (n == 0) return;
  const size_t nd = t.shape.size();
  std::vector<int64_t> idx(nd, 0);
  int64_t pos = t.offset;
  for (int64_t i = 0; i < n; ++i) {
    f(i, pos);
    for (size_t d = nd; d-- > 0;) {
      if (++idx[d] < t.shape[d]) {
        pos += t.stride[d];
        break;
      }
      pos -= t.stride[d] * (t.shape[d] - 1);
      idx[d] = 0;
    }
  }
}

template <class T>
T load_at(const PtTensor& t, int64_t pos) {
  T v;
  std::memcpy(&v, t.storage->data + static_cast<size_t>(pos) * sizeof(T), sizeof(T));
  return v;
}

}  // namespace

PtFile read_pt_bytes(std::vector<char> raw, const std::string& path) {
  auto bytes = std::make_shared<const std::vector<char>>(std::move(raw));
  const char* data = bytes->data();
  const Archive a = locate(data, bytes->size(), path);
  const ZipEntry& pkl = a.entries.at("data.pkl");
  TorchLoader loader(data, a, bytes, path);
  PtFile f;
  f.path = path;
  f.root = unpickle(data + pkl.offset, pkl.size, path + ": " + a.prefix + "data.pkl", loader.hooks());
  return f;
}

PtFile read_pt(const std::string& path) { return read_pt_bytes(read_file_bytes(path, kPtMaxFileBytes), path); }

const PtTensor& pt_tensor(const PickleValue& v, const std::string& what) {
  const PtTensor* t = v.kind == Kind::Object ? std::any_cast<PtTensor>(&v.object) : nullptr;
  YOCO_CHECK(t != nullptr, what, ": expected a tensor, got a ", pickle_kind_name(v.kind));
  return *t;
}

Tensor pt_to_f32(const PtTensor& t, const std::string& what) {
  const PtDType dt = t.storage->dtype;
  YOCO_CHECK(dt == PtDType::F32 || dt == PtDType::F16 || dt == PtDType::BF16 || dt == PtDType::F64, what,
             ": a ", pt_dtype_name(dt), " tensor, expected floating point (float32, float16, bfloat16, float64)");
  Tensor out = empty(t.shape, DType::F32);
  float* o = out.data<float>();
  for_each_index(t, [&](int64_t i, int64_t pos) {
    switch (dt) {
      case PtDType::F32: o[i] = load_at<float>(t, pos); break;
      case PtDType::F16: o[i] = half_to_float(load_at<uint16_t>(t, pos)); break;
      case PtDType::BF16: {
        const uint32_t bits = static_cast<uint32_t>(load_at<uint16_t>(t, pos)) << 16;
        std::memcpy(&o[i], &bits, sizeof bits);
        break;
      }
      default: o[i] = static_cast<float>(load_at<double>(t, pos));
    }
  });
  return out;
}

Tensor pt_to_i64(const PtTensor& t, const std::string& what) {
  const PtDType dt = t.storage->dtype;
  YOCO_CHECK(dt == PtDType::I64 || dt == PtDType::I32 || dt == PtDType::I16 || dt == PtDType::I8 ||
                 dt == PtDType::U8,
             what, ": a ", pt_dtype_name(dt), " tensor, expected integers (int64, int32, int16, int8, uint8)");
  Tensor out = empty(t.shape, DType::I64);
  int64_t* o = out.data<int64_t>();
  for_each_index(t, [&](int64_t i, int64_t pos) {
    switch (dt) {
      case PtDType::I64: o[i] = load_at<int64_t>(t, pos); break;
      case PtDType::I32: o[i] = load_at<int32_t>(t, pos); break;
      case PtDType::I16: o[i] = load_at<int16_t>(t, pos); break;
      case PtDType::I8: o[i] = load_at<int8_t>(t, pos); break;
      default: o[i] = load_at<uint8_t>(t, pos);
    }
  });
  return out;
}

void write_pt(const std::string& path, const std::vector<std::pair<Tensor, PtDType>>& tensors) {
  // Storage bytes first (validated), then the pickle that names them, exactly as torch.save lays it out.
  std::vector<std::string> blobs;
  PickleWriter w;
  w.empty_list();
  w.memoize();
  w.mark();
  for (size_t k = 0; k < tensors.size(); ++k) {
    const Tensor t = tensors[k].first.cpu();  // engine tensors are always contiguous
    const PtDType dt = tensors[k].second;
    const int64_t n = t.numel();
    std::string blob;
    if (t.dtype() == DType::F32 && dt == PtDType::F32) {
      blob.assign(reinterpret_cast<const char*>(t.data<float>()), static_cast<size_t>(n) * 4);
    } else if (t.dtype() == DType::F32 && dt == PtDType::F16) {
      std::vector<uint16_t> h(static_cast<size_t>(n));
      floats_to_halves(t.data<float>(), h.data(), h.size());
      blob.assign(reinterpret_cast<const char*>(h.data()), h.size() * 2);
    } else {
      YOCO_CHECK(t.dtype() == DType::I64 && dt == PtDType::I64, path, ": cannot store a ", t.str(), " as ",
                 pt_dtype_name(dt), " (f32 as float32/float16, i64 as int64)");
      blob.assign(reinterpret_cast<const char*>(t.data<int64_t>()), static_cast<size_t>(n) * 8);
    }
    blobs.push_back(std::move(blob));
    const char* type = dt == PtDType::F32 ? "FloatStorage" : dt == PtDType::F16 ? "HalfStorage" : "LongStorage";
    std::vector<int64_t> stride(t.shape().size(), 1);
    for (size_t d = stride.size(); d-- > 1;) stride[d - 1] = stride[d] * t.shape()[d];
    w.global("torch._utils", "_rebuild_tensor_v2");
    w.mark();
    w.mark();  // persistent id
    w.string("storage");
    w.global("torch", type);
    w.string(std::to_string(k));
    w.string("cpu");
    w.integer(n);
    w.tuple_from_mark();
    w.memoize();
    w.binpersid();
    w.integer(0);
    w.mark();
    for (int64_t s : t.shape()) w.integer(s);
    w.tuple_from_mark();
    w.memoize();
    w.mark();
    for (int64_t s : stride) w.integer(s);
    w.tuple_from_mark();
    w.memoize();
    w.boolean(false);
    w.global("collections", "OrderedDict");
    w.empty_tuple();
    w.reduce();
    w.memoize();
    w.tuple_from_mark();
    w.memoize();
    w.reduce();
    w.memoize();
  }
  w.appends();
  const std::string pkl = w.finish();

  std::vector<std::pair<std::string, std::string_view>> entries = {{"archive/data.pkl", pkl},
                                                                   {"archive/byteorder", "little"}};
  std::vector<std::string> names;
  names.reserve(blobs.size());
  for (size_t k = 0; k < blobs.size(); ++k) names.push_back("archive/data/" + std::to_string(k));
  for (size_t k = 0; k < blobs.size(); ++k) entries.emplace_back(names[k], blobs[k]);
  entries.emplace_back("archive/version", "3\n");
  write_zip_file(path, entries, 64);
}

}  // namespace yoco::data
