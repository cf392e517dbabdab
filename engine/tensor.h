// Tensor: a contiguous float32/int64 array on CPU or CUDA, with the autograd fields ops need.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include "kernels/common.h"

namespace yoco {

enum class DType : uint8_t { F32, I64 };
enum class Device : uint8_t { CPU, CUDA };
using Shape = std::vector<int64_t>;

const char* dtype_name(DType d);
const char* device_name(Device d);
size_t dtype_size(DType d);
std::string shape_str(const Shape& s);
int64_t shape_numel(const Shape& s);

// A block from the caching allocator; returned to the pool (never the OS) when the last owner goes.
struct Storage {
  void* ptr = nullptr;
  size_t bytes = 0;
  Device device = Device::CPU;
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

struct Node;
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements: dim-0 slices and reshapes are views of a contiguous block
  Shape shape;
  DType dtype = DType::F32;
  bool requires_grad = false;     // set on leaves by the user; implied for results with a grad_fn
  std::shared_ptr<Node> grad_fn;  // the op that made this tensor (null for leaves and detached tensors)
  std::shared_ptr<TensorImpl> grad;  // accumulated by backward() on leaves
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return shape_numel(shape()); }
  DType dtype() const;
  Device device() const;
  bool is_cuda() const { return device() == Device::CUDA; }
  std::string str() const;  // "f32[2,3]@cpu"

  template <class T>
  T* data() const;
  void* raw() const;

  bool requires_grad() const;
  Tensor& set_requires_grad(bool on);
  bool is_leaf() const { return !grad_fn(); }
  const std::shared_ptr<Node>& grad_fn() const;
  Tensor grad() const;
  void set_grad(const Tensor& g);
  void zero_grad();

  Tensor detach() const;  // shares storage, no history
  Tensor clone() const;   // new storage, no history
  Tensor to(Device d) const;
  Tensor cpu() const { return to(Device::CPU); }
  std::vector<float> to_vector() const;          // f32 only, copies to host
  std::vector<int64_t> to_int_vector() const;    // i64 only
  float item() const;

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Factories. All tensors are contiguous; new storage comes from the context's caching allocator.
Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
Tensor ones(const Shape& shape, Device device = Device::CPU);
Tensor full(const Shape& shape, float value, Device device = Device::CPU);
Tensor from_vector(const std::vector<float>& v, const Shape& shape, Device device = Device::CPU);
Tensor from_int_vector(const std::vector<int64_t>& v, const Shape& shape, Device device = Device::CPU);
// A view sharing storage with `base` (no copy); used by reshape and dim-0 slices.
Tensor make_view(const Tensor& base, const Shape& shape, int64_t offset_elems);

void copy_(Tensor& dst, const Tensor& src);  // same numel and dtype, any devices
void fill_(Tensor& t, float value);

}  // namespace yoco
