// Tensor handles, creation of uninitialised tensors, views and device copies. The members that
// fill, draw, cast or clone run backend primitives and ops: they live in engine/ops/tensor_methods.cpp.
#include "engine/core/tensor.h"

#include <cstring>

#include "engine/autograd/node.h"

namespace gan {

static Tensor make(const Shape& shape, DType dtype, Device device, bool pinned = false) {
  for (int64_t d : shape) GAN_CHECK(d >= 0, "tensor creation: negative extent in shape " << shape_str(shape));
  if (device.is_cuda())
    GAN_CHECK(device.index < cuda_device_count(),
              "tensor creation on " << device.str() << ": "
                                    << (cuda_device_count() ? "no such GPU" : "no CUDA device is available"));
  auto impl = std::make_shared<TensorImpl>();
  const size_t bytes = static_cast<size_t>(numel_of(shape)) * dtype_size(dtype);
  try {
    impl->storage =
        pinned ? std::make_shared<Storage>(bytes, Storage::PinnedHost{}) : std::make_shared<Storage>(bytes, device);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + " (tensor of shape " + shape_str(shape) + ")");
  }
  impl->shape = shape;
  impl->dtype = dtype;
  return Tensor(impl);
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) { return make(shape, dtype, device); }
Tensor Tensor::empty_pinned(const Shape& shape, DType dtype) { return make(shape, dtype, Device::cpu(), true); }

template <class T>
static Tensor from_host(const std::vector<T>& values, const Shape& shape, Device device) {
  GAN_CHECK(static_cast<int64_t>(values.size()) == numel_of(shape),
            "from_vector: " << values.size() << " values for shape " << shape_str(shape));
  Tensor t = make(shape, dtype_of<T>::value, device);
  copy_bytes(t.raw_data(), device, values.data(), Device::cpu(), values.size() * sizeof(T));
  return t;
}

Tensor Tensor::from_vector(const std::vector<float>& v, const Shape& s, Device d) { return from_host(v, s, d); }
Tensor Tensor::from_vector(const std::vector<double>& v, const Shape& s, Device d) { return from_host(v, s, d); }

int64_t Tensor::size(int64_t d) const { return shape()[wrap_dim(d, dim(), "size")]; }

std::string Tensor::str() const {
  if (!impl_) return "undefined tensor";
  return std::string(dtype_name(dtype())) + shape_str(shape()) + " on " + device().str();
}

void* Tensor::raw_data() const {
  return static_cast<char*>(impl().storage->data) + impl().offset * static_cast<int64_t>(dtype_size(dtype()));
}

std::vector<double> Tensor::to_double_vector() const {
  Tensor h = detach().to(Device::cpu()).to(DType::Float64);
  const double* p = h.data<double>();
  return std::vector<double>(p, p + h.numel());
}

std::vector<float> Tensor::to_float_vector() const {
  Tensor h = detach().to(Device::cpu()).to(DType::Float32);
  const float* p = h.data<float>();
  return std::vector<float>(p, p + h.numel());
}

double Tensor::item() const {
  GAN_CHECK(numel() == 1, "item: tensor " << str() << " has " << numel() << " elements, not one");
  return to_double_vector()[0];
}

Tensor Tensor::to(Device device) const {
  if (device == this->device()) return *this;
  Tensor out = make(shape(), dtype(), device);
  copy_bytes(out.raw_data(), device, raw_data(), this->device(), nbytes());
  Device src_device = this->device();
  autograd::record("to_device", {*this}, {&out},
                   [src_device](autograd::FunctionNode&, const std::vector<Tensor>& g) -> std::vector<Tensor> {
                     return {g[0].to(src_device)};
                   });
  return out;
}

Tensor Tensor::reshape(const Shape& new_shape) const {
  Shape s = new_shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      GAN_CHECK(infer < 0, "reshape: more than one -1 in " << shape_str(new_shape));
      infer = static_cast<int64_t>(i);
    } else {
      GAN_CHECK(s[i] >= 0, "reshape: negative extent in " << shape_str(new_shape));
      known *= s[i];
    }
  }
  if (infer >= 0) {
    GAN_CHECK(known > 0 && numel() % known == 0,
              "reshape: cannot reshape " << shape_str(shape()) << " to " << shape_str(new_shape));
    s[infer] = numel() / known;
  }
  GAN_CHECK(numel_of(s) == numel(), "reshape: cannot reshape " << shape_str(shape()) << " (" << numel()
                                                                << " elements) to " << shape_str(new_shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = this->impl().storage;
  impl->offset = this->impl().offset;
  impl->shape = s;
  impl->dtype = dtype();
  Tensor out(impl);
  Shape in_shape = shape();
  autograd::record("reshape", {*this}, {&out},
                   [in_shape](autograd::FunctionNode&, const std::vector<Tensor>& g) -> std::vector<Tensor> {
                     return {g[0].reshape(in_shape)};
                   });
  return out;
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  int64_t s = wrap_dim(start_dim, dim(), "flatten"), e = wrap_dim(end_dim, dim(), "flatten");
  GAN_CHECK(s <= e, "flatten: start_dim " << start_dim << " after end_dim " << end_dim);
  Shape ns(shape().begin(), shape().begin() + s);
  int64_t m = 1;
  for (int64_t i = s; i <= e; ++i) m *= shape()[i];
  ns.push_back(m);
  ns.insert(ns.end(), shape().begin() + e + 1, shape().end());
  return reshape(ns);
}

Tensor& Tensor::requires_grad_(bool on) {
  GAN_CHECK(is_leaf() || on, "requires_grad_(false) on a non-leaf tensor: use detach()");
  impl().requires_grad = on;
  return *this;
}

Tensor Tensor::row(int64_t i) const {
  GAN_CHECK(dim() >= 1 && i >= 0 && i < shape()[0], "row: index " << i << " out of range for " << str());
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = this->impl().storage;
  impl->offset = this->impl().offset + i * (numel() / shape()[0]);
  impl->shape = Shape(shape().begin() + 1, shape().end());
  impl->dtype = dtype();
  return Tensor(impl);
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = this->impl().storage;
  impl->offset = this->impl().offset;
  impl->shape = shape();
  impl->dtype = dtype();
  return Tensor(impl);
}

void check_same_device_dtype(const char* op, std::initializer_list<const Tensor*> ts) {
  const Tensor* first = nullptr;
  for (const Tensor* t : ts) {
    if (!t->defined()) continue;
    if (!first) {
      first = t;
      continue;
    }
    GAN_CHECK(t->device() == first->device(),
              op << ": tensors on different devices: " << first->str() << " and " << t->str());
    GAN_CHECK(t->dtype() == first->dtype(),
              op << ": tensors of different dtypes: " << first->str() << " and " << t->str());
  }
}

void check_same_shape(const char* op, const Tensor& a, const Tensor& b) {
  GAN_CHECK(a.shape() == b.shape(), op << ": shapes differ: " << shape_str(a.shape()) << " vs " << shape_str(b.shape()));
}

}  // namespace gan
