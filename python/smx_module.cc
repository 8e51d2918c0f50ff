// smx._smx: the C++ half of the Python module. NumPy arrays are read in place (any strides);
// objects with __dlpack__ are imported zero-copy; results go back as NumPy arrays (for NumPy
// input) or as smx.Tensor, which exports itself through DLPack. The GIL is released while
// computing.
#include <dlpack/dlpack.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fast_forward.h"
#include "smx/smx.h"

namespace py = pybind11;

namespace {

// ---- input -----------------------------------------------------------------------------------

// A tensor borrowed from a Python object, with whatever keeps its memory alive.
struct Borrowed {
  smx::Tensor tensor;
  bool from_numpy = false;
  py::object keepalive;
  std::shared_ptr<DLManagedTensor> dlpack;  // calls the producer's deleter when released
};

std::optional<smx::Dtype> numpy_dtype(const py::dtype& dt) {
  const char kind = dt.kind();
  const auto size = dt.itemsize();
  if (kind == 'f' && size == 4) return smx::kFloat32;
  if (kind == 'f' && size == 8) return smx::kFloat64;
  if (kind == 'f' && size == 2) return smx::kFloat16;
  if (kind == 'b') return smx::kBool;
  if (kind == 'i' && size == 8) return smx::kInt64;
  return std::nullopt;
}

Borrowed from_numpy(py::array a) {
  py::module_ np = py::module_::import("numpy");
  // Byte-swapped data and integer types other than int64 need a converting copy; everything
  // else is read in place through its strides.
  const bool native = a.dtype().attr("isnative").cast<bool>();
  if (!native) a = py::reinterpret_steal<py::array>(a.attr("astype")(a.dtype().attr("newbyteorder")("=")).release());
  const char kind = a.dtype().kind();
  if ((kind == 'i' || kind == 'u') && !numpy_dtype(a.dtype())) {
    a = py::reinterpret_steal<py::array>(a.attr("astype")("int64").release());
  }
  const auto dtype = numpy_dtype(a.dtype());
  if (!dtype) {
    throw py::type_error("smx: unsupported NumPy dtype " + py::str(a.dtype()).cast<std::string>() +
                         " (supported: float16, float32, float64, integers, bool)");
  }
  const auto item = static_cast<std::int64_t>(a.itemsize());
  std::vector<std::int64_t> sizes, strides;
  for (py::ssize_t d = 0; d < a.ndim(); ++d) {
    sizes.push_back(a.shape(d));
    if (a.strides(d) % item != 0) {  // strides that are not whole elements: copy once
      a = py::reinterpret_steal<py::array>(np.attr("ascontiguousarray")(a).release());
      return from_numpy(a);
    }
    strides.push_back(a.strides(d) / item);
  }
  Borrowed b;
  b.tensor = smx::from_blob(const_cast<void*>(a.data()), smx::Size(sizes), strides, *dtype);
  b.from_numpy = true;
  b.keepalive = a;
  return b;
}

// Floating DLPack types map to smx dtypes and are read in place; integer types of any width
// (torch 1.13 exports bool as uint8, so the two cannot be told apart) are copied to int64.
std::optional<smx::Dtype> dlpack_float_dtype(const DLDataType& t) {
  if (t.lanes != 1) return std::nullopt;
  if (t.code == kDLFloat && t.bits == 32) return smx::kFloat32;
  if (t.code == kDLFloat && t.bits == 64) return smx::kFloat64;
  if (t.code == kDLFloat && t.bits == 16) return smx::kFloat16;
  if (t.code == kDLBfloat && t.bits == 16) return smx::kBFloat16;
  if (t.code == kDLInt && t.bits == 64) return smx::kInt64;
  return std::nullopt;
}

bool dlpack_is_integer(const DLDataType& t) {
  return t.lanes == 1 && (t.code == kDLInt || t.code == kDLUInt || t.code == 6 /* kDLBool */) &&
         (t.bits == 8 || t.bits == 16 || t.bits == 32 || t.bits == 64);
}

smx::Tensor integers_to_int64(const DLTensor& t, const std::vector<std::int64_t>& sizes,
                              const std::vector<std::int64_t>& strides) {
  smx::Tensor out = smx::empty(smx::Size(sizes), smx::kInt64);
  auto* dst = out.data<std::int64_t>();
  const auto* base = static_cast<const char*>(t.data) + t.byte_offset;
  const std::size_t bytes = t.dtype.bits / 8;
  const bool is_signed = t.dtype.code == kDLInt;
  std::vector<std::int64_t> index(sizes.size(), 0);
  for (std::int64_t i = 0; i < out.numel(); ++i) {
    std::int64_t off = 0;
    for (std::size_t d = 0; d < sizes.size(); ++d) off += index[d] * strides[d];
    const char* p = base + off * static_cast<std::int64_t>(bytes);
    std::int64_t v = 0;
    switch (bytes) {
      case 1: v = is_signed ? *reinterpret_cast<const std::int8_t*>(p) : *reinterpret_cast<const std::uint8_t*>(p); break;
      case 2: v = is_signed ? *reinterpret_cast<const std::int16_t*>(p) : *reinterpret_cast<const std::uint16_t*>(p); break;
      case 4: v = is_signed ? *reinterpret_cast<const std::int32_t*>(p) : *reinterpret_cast<const std::uint32_t*>(p); break;
      default: v = *reinterpret_cast<const std::int64_t*>(p);
    }
    dst[i] = v;
    for (std::size_t d = sizes.size(); d-- > 0;) {
      if (++index[d] < sizes[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

Borrowed from_dlpack(const py::object& obj) {
  py::object capsule = obj.attr("__dlpack__")();
  auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), "dltensor"));
  if (managed == nullptr) throw py::error_already_set();
  PyCapsule_SetName(capsule.ptr(), "used_dltensor");  // we own it now
  Borrowed b;
  const DLTensor& t = managed->dl_tensor;
  if (t.device.device_type != kDLCPU || dlpack_float_dtype(t.dtype)) {
    // Floating types, and anything on a GPU: the library's zero-copy import, which owns
    // `managed` from here on (CUDA work goes to smx's current stream, the legacy default one
    // unless the caller chose another).
    try {
      b.tensor = smx::from_dlpack(managed);
    } catch (const smx::RuntimeError& e) {
      throw py::type_error(std::string("smx: ") + e.what());
    }
    return b;
  }
  b.dlpack = std::shared_ptr<DLManagedTensor>(managed, [](DLManagedTensor* m) {
    if (m->deleter) m->deleter(m);
  });
  if (!dlpack_is_integer(t.dtype)) {
    throw py::type_error("smx: unsupported DLPack dtype (code " + std::to_string(t.dtype.code) + ", " +
                         std::to_string(t.dtype.bits) + " bits, " + std::to_string(t.dtype.lanes) + " lanes)");
  }
  // CPU integers of any width are widened to int64 once.
  std::vector<std::int64_t> sizes(t.shape, t.shape + t.ndim);
  const std::vector<std::int64_t> strides =
      t.strides ? std::vector<std::int64_t>(t.strides, t.strides + t.ndim) : smx::Size(sizes).contiguous_strides();
  b.tensor = integers_to_int64(t, sizes, strides);
  return b;
}

Borrowed borrow(const py::handle& obj) {
  if (py::isinstance<smx::Tensor>(obj)) {
    Borrowed b;
    b.tensor = obj.cast<smx::Tensor>();
    return b;
  }
  if (py::isinstance<py::array>(obj)) return from_numpy(py::reinterpret_borrow<py::array>(obj));
  if (py::hasattr(obj, "__dlpack__")) return from_dlpack(py::reinterpret_borrow<py::object>(obj));
  // Lists, scalars, anything NumPy understands.
  return from_numpy(py::module_::import("numpy").attr("asarray")(obj));
}

// ---- output ----------------------------------------------------------------------------------

py::array to_numpy(smx::Tensor t) {
  t = t.to(smx::kCPU);  // a CUDA tensor: a host copy (as torch's .cpu().numpy())
  if (t.dtype() == smx::kBFloat16) t = t.to(smx::kFloat32);  // NumPy has no bfloat16
  py::dtype dt = t.dtype() == smx::kFloat32   ? py::dtype("float32")
                 : t.dtype() == smx::kFloat64 ? py::dtype("float64")
                 : t.dtype() == smx::kFloat16 ? py::dtype("float16")
                 : t.dtype() == smx::kInt64   ? py::dtype("int64")
                                              : py::dtype("bool");
  std::vector<py::ssize_t> shape(t.sizes().begin(), t.sizes().end());
  std::vector<py::ssize_t> strides;
  for (auto s : t.strides()) strides.push_back(static_cast<py::ssize_t>(s * static_cast<std::int64_t>(t.element_size())));
  auto* owner = new smx::Tensor(t);  // the array's base keeps the storage alive
  py::capsule base(owner, [](void* p) { delete static_cast<smx::Tensor*>(p); });
  return py::array(dt, shape, strides, t.data_ptr(), base);
}

py::object wrap(const Borrowed& input, smx::Tensor result) {
  if (input.from_numpy) return to_numpy(std::move(result));
  return py::cast(std::move(result));
}

// ---- DLPack export -----------------------------------------------------------------------------

py::capsule export_dlpack(const smx::Tensor& t) {
  DLManagedTensor* managed = smx::to_dlpack(t);
  PyObject* cap = PyCapsule_New(managed, "dltensor", [](PyObject* c) {
    // Still named "dltensor": nobody consumed it, so we free it.
    if (PyCapsule_IsValid(c, "dltensor")) {
      auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(c, "dltensor"));
      m->deleter(m);
    }
  });
  return py::reinterpret_steal<py::capsule>(cap);
}

std::optional<smx::Dtype> parse(const std::optional<std::string>& dtype) {
  if (!dtype) return std::nullopt;
  return smx::parse_dtype(*dtype);
}

}  // namespace

PYBIND11_MODULE(_smx, m) {
  m.doc() = "C++ core of the smx Python module; use the `smx` package.";
  m.attr("__version__") = smx::version();

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const smx::IndexError& e) {
      PyErr_SetString(PyExc_IndexError, e.what());
    } catch (const smx::ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const smx::RuntimeError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });

  py::class_<smx::Tensor>(m, "Tensor", "An smx tensor; exports itself with DLPack (torch.from_dlpack).")
      .def_property_readonly("shape", [](const smx::Tensor& t) { return py::tuple(py::cast(t.sizes().vec())); })
      .def_property_readonly("ndim", &smx::Tensor::dim)
      .def_property_readonly("dtype", [](const smx::Tensor& t) { return smx::dtype_name(t.dtype()).substr(6); })
      .def("numpy", [](const smx::Tensor& t) { return to_numpy(t); },
           "A NumPy array sharing this tensor's memory (bfloat16: a float32 copy).")
      .def("__dlpack__", [](const smx::Tensor& t, py::object /*stream*/) { return export_dlpack(t); },
           py::arg("stream") = py::none())
      .def("__dlpack_device__",
           [](const smx::Tensor& t) {
             return t.is_cuda() ? py::make_tuple(static_cast<int>(kDLCUDA), t.device().index())
                                : py::make_tuple(static_cast<int>(kDLCPU), 0);
           })
      .def_property_readonly("device", [](const smx::Tensor& t) { return t.device().str(); })
      .def("__repr__", &smx::Tensor::repr);

  // The op as a value (smx/op.h): Python passes smx._smx.Op members, never names.
  py::enum_<smx::Op>(m, "Op")
      .value("softmax", smx::Op::kSoftmax)
      .value("log_softmax", smx::Op::kLogSoftmax)
      .value("softmin", smx::Op::kSoftmin)
      .value("softmax_backward", smx::Op::kSoftmaxBackward)
      .value("log_softmax_backward", smx::Op::kLogSoftmaxBackward);

  m.def("forward",
        [](smx::Op op, const py::object& x, std::optional<std::int64_t> dim, std::optional<std::string> dtype) {
          const Borrowed in = borrow(x);
          const auto dt = parse(dtype);
          // (the Python wrapper already warned about an implicit dim, with the caller's stack level)
          const std::int64_t d = dim ? *dim : smx::implicit_softmax_dim(in.tensor.dim());
          smx::Tensor y;
          {
            py::gil_scoped_release release;
            y = smx::forward(op, in.tensor, d, dt);
          }
          return wrap(in, std::move(y));
        },
        py::arg("op"), py::arg("input"), py::arg("dim"), py::arg("dtype"));
  m.def("softmax2d",
        [](const py::object& x) {
          const Borrowed in = borrow(x);
          smx::Tensor y;
          {
            py::gil_scoped_release release;
            y = smx::nn::Softmax2d()(in.tensor);
          }
          return wrap(in, std::move(y));
        },
        py::arg("input"));

  m.def("backward",
        [](smx::Op op, const py::object& grad, const py::object& output, std::int64_t dim) {
          const Borrowed g = borrow(grad);
          const Borrowed y = borrow(output);
          smx::Tensor dx;
          {
            py::gil_scoped_release release;
            dx = smx::backward(op, g.tensor, y.tensor, dim);
          }
          return wrap(g, std::move(dx));
        },
        py::arg("op"), py::arg("grad_output"), py::arg("output"), py::arg("dim"));

  // smx.masked_softmax / masked_log_softmax / masked_softmax_backward (smx/masked_softmax.h).
  auto masked_options = [](std::optional<double> scale, bool causal, const std::string& fully_masked) {
    smx::MaskedSoftmaxOptions o;
    o.scale = scale;
    o.causal = causal;
    o.fully_masked = smx::parse_fully_masked(fully_masked);
    return o;
  };
  m.def("masked",
        [masked_options](smx::Op op, const py::object& x, const py::object& mask, std::int64_t dim,
                         std::optional<double> scale, bool causal, const std::string& fully_masked) {
          const Borrowed in = borrow(x);
          std::optional<Borrowed> mk;
          if (!mask.is_none()) mk = borrow(mask);
          const smx::MaskedSoftmaxOptions o = masked_options(scale, causal, fully_masked);
          const std::optional<smx::Tensor> mt = mk ? std::optional<smx::Tensor>(mk->tensor) : std::nullopt;
          smx::Tensor y;
          {
            py::gil_scoped_release release;
            y = op == smx::Op::kLogSoftmax ? smx::masked_log_softmax(in.tensor, mt, dim, o)
                                           : smx::masked_softmax(in.tensor, mt, dim, o);
          }
          return wrap(in, std::move(y));
        },
        py::arg("op"), py::arg("input"), py::arg("mask"), py::arg("dim"), py::arg("scale"), py::arg("causal"),
        py::arg("fully_masked"));
  m.def("masked_backward",
        [masked_options](const py::object& grad, const py::object& output, const py::object& mask, std::int64_t dim,
                         std::optional<double> scale, bool causal, const std::string& fully_masked) {
          const Borrowed g = borrow(grad);
          const Borrowed y = borrow(output);
          std::optional<Borrowed> mk;
          if (!mask.is_none()) mk = borrow(mask);
          const smx::MaskedSoftmaxOptions o = masked_options(scale, causal, fully_masked);
          const std::optional<smx::Tensor> mt = mk ? std::optional<smx::Tensor>(mk->tensor) : std::nullopt;
          smx::Tensor dx;
          {
            py::gil_scoped_release release;
            dx = smx::masked_softmax_backward(g.tensor, y.tensor, mt, dim, o);
          }
          return wrap(g, std::move(dx));
        },
        py::arg("grad_output"), py::arg("output"), py::arg("mask"), py::arg("dim"), py::arg("scale"),
        py::arg("causal"), py::arg("fully_masked"));
  // smx.cross_entropy and friends (smx/cross_entropy.h); python/smx/losses.py holds the signatures.
  struct LossArgs {
    std::optional<Borrowed> weight;
    smx::CrossEntropyOptions options;
  };
  auto loss_args = [](const py::object& weight, std::int64_t ignore_index, const std::string& reduction,
                      double label_smoothing) {
    LossArgs a;
    if (!weight.is_none()) {
      a.weight = borrow(weight);
      a.options.weight = a.weight->tensor;
    }
    a.options.ignore_index = ignore_index;
    a.options.reduction = smx::parse_reduction(reduction);
    a.options.label_smoothing = label_smoothing;
    return a;
  };
  m.def("cross_entropy",
        [loss_args](const py::object& input, const py::object& target, const py::object& weight,
                    std::int64_t ignore_index, const std::string& reduction, double label_smoothing) {
          const LossArgs a = loss_args(weight, ignore_index, reduction, label_smoothing);
          const Borrowed in = borrow(input), tg = borrow(target);
          smx::Tensor loss;
          {
            py::gil_scoped_release release;
            loss = smx::cross_entropy(in.tensor, tg.tensor, a.options);
          }
          return wrap(in, std::move(loss));
        },
        py::arg("input"), py::arg("target"), py::arg("weight"), py::arg("ignore_index"), py::arg("reduction"),
        py::arg("label_smoothing"));
  m.def("cross_entropy_backward",
        [loss_args](const py::object& grad, const py::object& input, const py::object& target, const py::object& weight,
                    std::int64_t ignore_index, const std::string& reduction, double label_smoothing) {
          const LossArgs a = loss_args(weight, ignore_index, reduction, label_smoothing);
          const Borrowed g = borrow(grad), in = borrow(input), tg = borrow(target);
          smx::Tensor dx;
          {
            py::gil_scoped_release release;
            dx = smx::cross_entropy_backward(g.tensor, in.tensor, tg.tensor, a.options);
          }
          return wrap(in, std::move(dx));
        },
        py::arg("grad_loss"), py::arg("input"), py::arg("target"), py::arg("weight"), py::arg("ignore_index"),
        py::arg("reduction"), py::arg("label_smoothing"));
  m.def("cross_entropy_with_grad",
        [loss_args](const py::object& input, const py::object& target, const py::object& weight,
                    std::int64_t ignore_index, const std::string& reduction, double label_smoothing, bool inplace) {
          const LossArgs a = loss_args(weight, ignore_index, reduction, label_smoothing);
          const Borrowed in = borrow(input), tg = borrow(target);
          if (inplace && in.from_numpy && in.keepalive.ptr() != input.ptr()) {
            // (borrow converted the array: writing into the copy would leave the caller's untouched)
            throw smx::ValueError("cross_entropy_with_grad: inplace needs a C-contiguous float32 or float64 NumPy "
                                  "array of native byte order (or a DLPack tensor)");
          }
          std::pair<smx::Tensor, smx::Tensor> r;
          {
            py::gil_scoped_release release;
            r = smx::cross_entropy_with_grad(in.tensor, tg.tensor, a.options, inplace);
          }
          if (inplace) return py::make_tuple(wrap(in, std::move(r.first)), input);
          return py::make_tuple(wrap(in, std::move(r.first)), wrap(in, std::move(r.second)));
        },
        py::arg("input"), py::arg("target"), py::arg("weight"), py::arg("ignore_index"), py::arg("reduction"),
        py::arg("label_smoothing"), py::arg("inplace"));
  m.def("token_logprobs",
        [](const py::object& logits, const py::object& ids, std::int64_t dim) {
          const Borrowed x = borrow(logits), i = borrow(ids);
          smx::Tensor out;
          {
            py::gil_scoped_release release;
            out = smx::token_logprobs(x.tensor, i.tensor, dim);
          }
          return wrap(x, std::move(out));
        },
        py::arg("logits"), py::arg("ids"), py::arg("dim"));
  m.def("entropy",
        [](const py::object& logits, std::int64_t dim) {
          const Borrowed x = borrow(logits);
          smx::Tensor out;
          {
            py::gil_scoped_release release;
            out = smx::entropy(x.tensor, dim);
          }
          return wrap(x, std::move(out));
        },
        py::arg("logits"), py::arg("dim"));
  // Dim lists (smx/softmax_dims.h): smx.softmax(x, dim=(1, 2)) and the other ops.
  m.def("forward_dims",
        [](smx::Op op, const py::object& x, const std::vector<std::int64_t>& dims, std::optional<std::string> dtype) {
          const Borrowed in = borrow(x);
          const auto dt = parse(dtype);
          smx::Tensor y;
          {
            py::gil_scoped_release release;
            y = smx::forward(op, in.tensor, smx::DimList(dims), dt);
          }
          return wrap(in, std::move(y));
        },
        py::arg("op"), py::arg("input"), py::arg("dims"), py::arg("dtype"));
  m.def("backward_dims",
        [](smx::Op op, const py::object& grad, const py::object& output, const std::vector<std::int64_t>& dims) {
          const Borrowed g = borrow(grad);
          const Borrowed y = borrow(output);
          smx::Tensor dx;
          {
            py::gil_scoped_release release;
            dx = smx::backward(op, g.tensor, y.tensor, smx::DimList(dims));
          }
          return wrap(g, std::move(dx));
        },
        py::arg("op"), py::arg("grad_output"), py::arg("output"), py::arg("dims"));

  // smx/__init__.py hands over its Python functions, which become the fast functions' fallbacks.
  m.def("_install_fast_forward", [m](const py::dict& fallbacks) mutable { smx_python::add_fast_forward(m, fallbacks); });

  m.def("set_cache_limit", &smx::set_cache_limit, py::arg("bytes"));
  m.def("get_cache_limit", &smx::get_cache_limit);
  m.def("empty_cache", &smx::empty_cache);
  m.def("cache_stats", [] {
    const smx::CacheStats s = smx::cache_stats();
    py::dict d;
    d["cached_bytes"] = s.cached_bytes;
    d["cached_blocks"] = s.cached_blocks;
    d["limit"] = s.limit;
    d["hits"] = s.hits;
    d["misses"] = s.misses;
    return d;
  });

  m.def("implicit_softmax_dim", &smx::implicit_softmax_dim);
  m.def("set_num_threads", &smx::set_num_threads);
  m.def("get_num_threads", &smx::get_num_threads);
  m.def("simd_target", &smx::simd_target);
  m.def("cuda_is_available", &smx::cuda::is_available);
  m.def("cuda_device_count", &smx::cuda::device_count);
}
