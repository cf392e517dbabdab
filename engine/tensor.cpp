// Tensor basics: storage from the caching allocator, factories, host/device copies.
#include "engine/tensor.h"
#include <cstring>
#include <sstream>
#include "engine/autograd.h"
#include "engine/context.h"
#include "engine/cuda_runtime.h"
#include "engine/dispatch.h"
#include "kernels/elementwise.h"

namespace yoco {

const char* dtype_name(DType d) { return d == DType::F32 ? "f32" : "i64"; }
const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }
size_t dtype_size(DType d) { return d == DType::F32 ? 4 : 8; }

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? "," : "") << s[i];
  os << "]";
  return os.str();
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Storage::Storage(size_t nbytes, Device dev) : device(dev) {
  ptr = Context::get().allocator(dev).allocate(nbytes, &bytes);
}

Storage::~Storage() {
  if (ptr) Context::get().allocator(device).release(ptr, bytes);
}

static const TensorImpl& must(const std::shared_ptr<TensorImpl>& p) {
  YOCO_CHECK(p != nullptr, "use of an undefined tensor");
  return *p;
}

const Shape& Tensor::shape() const { return must(impl_).shape; }
int64_t Tensor::size(int64_t d) const {
  int64_t n = dim();
  if (d < 0) d += n;
  YOCO_CHECK(d >= 0 && d < n, "dim ", d, " out of range for ", str());
  return shape()[d];
}
DType Tensor::dtype() const { return must(impl_).dtype; }
Device Tensor::device() const { return must(impl_).storage->device; }
std::string Tensor::str() const {
  if (!impl_) return "undefined";
  return cat(dtype_name(dtype()), shape_str(shape()), "@", device_name(device()));
}

void* Tensor::raw() const {
  const TensorImpl& t = must(impl_);
  return static_cast<char*>(t.storage->ptr) + t.offset * dtype_size(t.dtype);
}
template <>
float* Tensor::data<float>() const {
  YOCO_CHECK(dtype() == DType::F32, "expected f32, got ", str());
  return static_cast<float*>(raw());
}
template <>
int64_t* Tensor::data<int64_t>() const {
  YOCO_CHECK(dtype() == DType::I64, "expected i64, got ", str());
  return static_cast<int64_t*>(raw());
}

bool Tensor::requires_grad() const { return impl_ && (impl_->requires_grad || impl_->grad_fn); }
Tensor& Tensor::set_requires_grad(bool on) {
  YOCO_CHECK(is_leaf(), "requires_grad can only be set on leaf tensors, got ", str());
  YOCO_CHECK(!on || dtype() == DType::F32, "only f32 tensors can require grad, got ", str());
  impl_->requires_grad = on;
  return *this;
}
const std::shared_ptr<Node>& Tensor::grad_fn() const { return must(impl_).grad_fn; }
Tensor Tensor::grad() const { return Tensor(must(impl_).grad); }
void Tensor::set_grad(const Tensor& g) { must(impl_), impl_->grad = g.impl_ptr(); }
void Tensor::zero_grad() { must(impl_), impl_->grad.reset(); }

Tensor Tensor::detach() const {
  auto t = std::make_shared<TensorImpl>();
  const TensorImpl& s = must(impl_);
  t->storage = s.storage;
  t->offset = s.offset;
  t->shape = s.shape;
  t->dtype = s.dtype;
  return Tensor(t);
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype(), device());
  copy_(out, *this);
  return out;
}

Tensor Tensor::to(Device d) const {
  if (device() == d) return *this;
  Tensor out = empty(shape(), dtype(), d);
  copy_(out, *this);
  return out;
}

std::vector<float> Tensor::to_vector() const {
  Tensor c = to(Device::CPU);
  const float* p = c.data<float>();
  return std::vector<float>(p, p + numel());
}
std::vector<int64_t> Tensor::to_int_vector() const {
  Tensor c = to(Device::CPU);
  const int64_t* p = c.data<int64_t>();
  return std::vector<int64_t>(p, p + numel());
}
float Tensor::item() const {
  YOCO_CHECK(numel() == 1, "item() needs one element, got ", str());
  return to_vector()[0];
}

Tensor empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape) YOCO_CHECK(d >= 0, "negative dimension in shape ", shape_str(shape));
  auto t = std::make_shared<TensorImpl>();
  t->storage = std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), device);
  t->shape = shape;
  t->dtype = dtype;
  return Tensor(t);
}

void fill_(Tensor& t, float value) {
  int64_t n = t.numel();
  if (n == 0) return;
  if (t.dtype() == DType::F32)
    YOCO_DISPATCH(t, fill, t.data<float>(), n, value);
  else
    YOCO_DISPATCH(t, fill_i64, t.data<int64_t>(), n, static_cast<int64_t>(value));
}

Tensor zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  fill_(t, 0.f);
  return t;
}
Tensor ones(const Shape& shape, Device device) { return full(shape, 1.f, device); }
Tensor full(const Shape& shape, float value, Device device) {
  Tensor t = empty(shape, DType::F32, device);
  fill_(t, value);
  return t;
}

Tensor from_vector(const std::vector<float>& v, const Shape& shape, Device device) {
  YOCO_CHECK(static_cast<int64_t>(v.size()) == shape_numel(shape), "from_vector: ", v.size(),
             " values for shape ", shape_str(shape));
  Tensor t = empty(shape, DType::F32, Device::CPU);
  if (!v.empty()) std::memcpy(t.raw(), v.data(), v.size() * 4);
  return t.to(device);
}
Tensor from_int_vector(const std::vector<int64_t>& v, const Shape& shape, Device device) {
  YOCO_CHECK(static_cast<int64_t>(v.size()) == shape_numel(shape), "from_int_vector: ", v.size(),
             " values for shape ", shape_str(shape));
  Tensor t = empty(shape, DType::I64, Device::CPU);
  if (!v.empty()) std::memcpy(t.raw(), v.data(), v.size() * 8);
  return t.to(device);
}

Tensor make_view(const Tensor& base, const Shape& shape, int64_t offset_elems) {
  auto t = std::make_shared<TensorImpl>();
  t->storage = base.impl()->storage;
  t->offset = base.impl()->offset + offset_elems;
  t->shape = shape;
  t->dtype = base.dtype();
  return Tensor(t);
}

void copy_(Tensor& dst, const Tensor& src) {
  YOCO_CHECK(dst.numel() == src.numel() && dst.dtype() == src.dtype(), "copy_: ", src.str(), " into ", dst.str());
  size_t bytes = static_cast<size_t>(src.numel()) * dtype_size(src.dtype());
  if (bytes == 0) return;
  if (!dst.is_cuda() && !src.is_cuda()) {
    std::memcpy(dst.raw(), src.raw(), bytes);
    return;
  }
  using K = cudart::CopyKind;
  K kind = dst.is_cuda() ? (src.is_cuda() ? K::DeviceToDevice : K::HostToDevice) : K::DeviceToHost;
  Context& ctx = Context::get();
  if (kind == K::HostToDevice) ctx.note_upload(bytes);
  if (kind == K::DeviceToHost) ctx.note_host_wait();
  cudart::memcpy(dst.raw(), src.raw(), bytes, kind, ctx.cuda_stream());
  // A download waits for the device: the point where deferred device errors (bad labels) surface.
  if (kind == K::DeviceToHost) ctx.check_device_errors();
}

}  // namespace yoco
