// Tensor: a handle to a contiguous, row-major, n-dimensional array on one device.
//
// Handles are cheap to copy and share their TensorImpl (as torch.Tensor objects do). Storage is
// shared and reference counted; reshape/flatten/detach are views of the same storage, every other
// op makes a new tensor. Autograd state (requires_grad, grad, grad_fn) lives on the TensorImpl.
//
//   Tensor x = Tensor::randn({4, 3}, gen).requires_grad_();
//   Tensor y = sum(tanh(x) * x);
//   y.backward();           // x.grad() now holds d y / d x
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/device.h"
#include "engine/core/dtype.h"
#include "engine/core/shape.h"
#include "engine/core/storage.h"

namespace gan {

namespace autograd {
struct Node;
}
class Generator;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements, into storage
  Shape shape;
  DType dtype = DType::Float32;

  // autograd
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<autograd::Node> grad_fn;  // null for leaves
  int output_nr = 0;                        // which output of grad_fn this tensor is
  std::weak_ptr<autograd::Node> grad_accumulator;  // leaves only, created on first use
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- creation ----
  // empty and from_vector are core; the ones that fill or draw (zeros ... rand), like to(DType),
  // clone, copy_ and fill_, run backend primitives and are defined in engine/ops/tensor_methods.cpp.
  static Tensor empty(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());
  // Uninitialised host memory that is page-locked when a GPU can use it (Storage::PinnedHost): the
  // source a batch is copied to the GPU from without holding the host up.
  static Tensor empty_pinned(const Shape& shape, DType dtype = DType::Float32);
  static Tensor zeros(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::Float32, Device device = Device::cpu());
  // 0, 1, ..., n-1 as a 1-D tensor.
  static Tensor arange(int64_t n, DType dtype = DType::Float32, Device device = Device::cpu());
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape, Device device = Device::cpu());
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape, Device device = Device::cpu());
  static Tensor scalar(double value, DType dtype = DType::Float32, Device device = Device::cpu());
  // Standard normal / uniform [lo, hi) samples from `gen` (the device's default generator when null).
  static Tensor randn(const Shape& shape, Generator* gen = nullptr, DType dtype = DType::Float32,
                      Device device = Device::cpu());
  static Tensor rand(const Shape& shape, Generator* gen = nullptr, double lo = 0.0, double hi = 1.0,
                     DType dtype = DType::Float32, Device device = Device::cpu());

  // ---- metadata ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  int64_t dim() const { return static_cast<int64_t>(impl().shape.size()); }
  int64_t size(int64_t d) const;
  int64_t numel() const { return numel_of(impl().shape); }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device; }
  bool is_cuda() const { return device().is_cuda(); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }
  std::string str() const;  // "float32[4, 3] on cpu"

  // ---- raw data ----
  void* raw_data() const;
  template <class T> T* data() const {
    GAN_CHECK(dtype_of<T>::value == dtype(), "data<" << dtype_name(dtype_of<T>::value) << ">() on a "
                                                      << dtype_name(dtype()) << " tensor");
    return static_cast<T*>(raw_data());
  }
  // Copies to a host vector of doubles (any device, any dtype); for tests and printing.
  std::vector<double> to_double_vector() const;
  std::vector<float> to_float_vector() const;
  double item() const;  // the single element of a one-element tensor

  // ---- conversions (new tensors; differentiable) ----
  Tensor to(Device device) const;
  Tensor to(DType dtype) const;
  Tensor cpu() const { return to(Device::cpu()); }
  Tensor clone() const;

  // ---- views (share storage; differentiable) ----
  Tensor reshape(const Shape& shape) const;  // one extent may be -1
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;

  // ---- autograd ----
  bool requires_grad() const { return impl().requires_grad; }
  Tensor& requires_grad_(bool on = true);
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  Tensor grad() const { return impl().grad ? Tensor(impl().grad) : Tensor(); }
  void set_grad(const Tensor& g) { impl().grad = g.impl_; }
  void zero_grad() { impl().grad.reset(); }
  const std::shared_ptr<autograd::Node>& grad_fn() const { return impl().grad_fn; }
  int output_nr() const { return impl().output_nr; }
  // Accumulates d(this)/d(leaf) into every leaf's grad. `grad` defaults to ones for a scalar.
  void backward(const Tensor& grad = Tensor(), bool create_graph = false) const;
  // Same storage, no history: gradients stop here.
  Tensor detach() const;
  // Element i of dim 0 (shape: the other dims) as a view of the same storage, without history: a
  // row of a buffer that kernels write in place.
  Tensor row(int64_t i) const;

  // ---- in-place, never recorded by autograd (optimizer steps, buffers, initialisation) ----
  Tensor& copy_(const Tensor& src);  // same shape; any devices/dtypes
  Tensor& fill_(double value);

  bool same_as(const Tensor& o) const { return impl_ == o.impl_; }
  TensorImpl& impl() const {
    GAN_CHECK(impl_, "use of an undefined tensor");
    return *impl_;
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Throws naming `op` unless every defined tensor is on the same device and dtype as the first.
void check_same_device_dtype(const char* op, std::initializer_list<const Tensor*> ts);
// Throws naming `op` unless the two shapes are equal.
void check_same_shape(const char* op, const Tensor& a, const Tensor& b);

}  // namespace gan
