#include "fast_forward.h"

#include <pybind11/numpy.h>

#include <bit>
#include <cstdint>
#include <new>
#include <vector>

#include "smx/smx.h"

namespace py = pybind11;

namespace smx_python {

namespace {

using OutFn = void (*)(smx::Tensor&, const smx::Tensor&, std::int64_t);

struct Op {
  OutFn out_fn;
  PyObject* fallback;  // a strong reference, never released (the module is never unloaded)
};

// One per function. Their `self` is the module, not a capsule, so they print as built-in
// functions and pickle by name (multiprocessing passes functions that way).
Op ops[3];

// Outputs below this are allocated by NumPy (its small-block cache is cheaper than a capsule
// and smx's bookkeeping) and computed without releasing the GIL; from here on the memory comes
// from smx's block cache (no page faults in a loop) and the GIL is released while computing.
constexpr std::int64_t kLargeBytes = std::int64_t{64} << 10;

bool is_kw(PyObject* name, const char* text) { return PyUnicode_CompareWithASCIIString(name, text) == 0; }

// The lean path; returns nullptr with no Python error set when the call is not the common case.
PyObject* try_fast(const Op& op, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  if (nargs < 1 || nargs > 2) return nullptr;
  PyObject* dim = nargs == 2 ? args[1] : nullptr;
  const Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  for (Py_ssize_t i = 0; i < nkw; ++i) {
    PyObject* name = PyTuple_GET_ITEM(kwnames, i);
    PyObject* value = args[nargs + i];
    if (is_kw(name, "dim") && dim == nullptr) dim = value;
    else if (is_kw(name, "dtype") && value == Py_None) continue;
    else if (is_kw(name, "_stacklevel")) continue;  // only the implicit-dim warning uses it
    else return nullptr;
  }
  if (dim == nullptr || !PyLong_CheckExact(dim)) return nullptr;  // dim=None warns: the full path

  const auto& api = py::detail::npy_api::get();
  PyObject* input = args[0];
  if (Py_TYPE(input) != api.PyArray_Type_) return nullptr;
  const auto* a = py::detail::array_proxy(input);
  const auto* descr = py::detail::array_descriptor_proxy(a->descr);
  const int type = descr->type_num;
  if (type != py::detail::npy_api::NPY_FLOAT_ && type != py::detail::npy_api::NPY_DOUBLE_) return nullptr;
  const bool native = descr->byteorder == '=' || descr->byteorder == (std::endian::native == std::endian::little ? '<' : '>');
  constexpr int kNeeded = py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_ | py::detail::npy_api::NPY_ARRAY_ALIGNED_;
  if (!native || (a->flags & kNeeded) != kNeeded) return nullptr;

  const long long d = PyLong_AsLongLong(dim);
  if (d == -1 && PyErr_Occurred()) {
    PyErr_Clear();
    return nullptr;
  }
  const int nd = a->nd;
  const long long range = nd > 0 ? nd : 1;
  if (d < -range || d >= range) return nullptr;  // the full path raises PyTorch's IndexError
  std::vector<std::int64_t> sizes(a->dimensions, a->dimensions + nd);
  std::int64_t numel = 1;
  for (auto s : sizes) numel *= s;
  if (numel == 0) return nullptr;

  const smx::Dtype dtype = type == py::detail::npy_api::NPY_FLOAT_ ? smx::kFloat32 : smx::kFloat64;
  const smx::Size size(std::move(sizes));
  const smx::Tensor x = smx::from_blob(a->data, size, dtype);
  if (numel * descr->elsize < kLargeBytes) {
    auto out = py::reinterpret_steal<py::object>(api.PyArray_NewFromDescr_(
        api.PyArray_Type_, api.PyArray_DescrFromType_(type), nd, a->dimensions, nullptr, nullptr, 0, nullptr));
    if (!out) return nullptr;
    smx::Tensor y = smx::from_blob(py::detail::array_proxy(out.ptr())->data, size, dtype);
    op.out_fn(y, x, d);  // microseconds at most: not worth two GIL hand-overs
    return out.release().ptr();
  }
  smx::Tensor y = smx::empty(size, dtype);
  {
    py::gil_scoped_release release;
    op.out_fn(y, x, d);
  }
  // The array's base owns a reference to the result, so the block goes back to the cache when
  // NumPy frees the array.
  auto* owner = new smx::Tensor(std::move(y));
  PyObject* base = PyCapsule_New(owner, nullptr, [](PyObject* c) { delete static_cast<smx::Tensor*>(PyCapsule_GetPointer(c, nullptr)); });
  if (base == nullptr) {
    delete owner;
    return nullptr;
  }
  PyObject* out = api.PyArray_NewFromDescr_(api.PyArray_Type_, api.PyArray_DescrFromType_(type), nd, a->dimensions,
                                            nullptr, owner->data_ptr(),
                                            py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_ |
                                                py::detail::npy_api::NPY_ARRAY_ALIGNED_ |
                                                py::detail::npy_api::NPY_ARRAY_WRITEABLE_,
                                            nullptr);
  if (out == nullptr || api.PyArray_SetBaseObject_(out, base) != 0) {  // SetBaseObject steals base
    if (out == nullptr) Py_DECREF(base);
    Py_XDECREF(out);
    return nullptr;
  }
  return out;
}

PyObject* call(const Op& op, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  try {
    if (PyObject* result = try_fast(op, args, nargs, kwnames)) return result;
    if (PyErr_Occurred()) return nullptr;
  } catch (const std::bad_alloc&) {
    return PyErr_NoMemory();
  } catch (const smx::Error&) {
    PyErr_Clear();  // cannot happen after the checks above; the full path would say why
  }
  return PyObject_Vectorcall(op.fallback, args, static_cast<std::size_t>(nargs), kwnames);
}

template <int kOp>
PyObject* call_op(PyObject* /* module */, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return call(ops[kOp], args, nargs, kwnames);
}

template <int kOp>
PyCFunction as_pycfunction() {
  return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&call_op<kOp>));
}

PyMethodDef defs[] = {
    {"softmax", as_pycfunction<0>(), METH_FASTCALL | METH_KEYWORDS,
     "softmax(input, dim=None, dtype=None)\n--\n\nsoftmax(x, dim) = exp(x) / sum(exp(x), dim), as torch.softmax."},
    {"log_softmax", as_pycfunction<1>(), METH_FASTCALL | METH_KEYWORDS,
     "log_softmax(input, dim=None, dtype=None)\n--\n\nlog_softmax(x, dim) = x - log(sum(exp(x), dim)), as "
     "torch.log_softmax."},
    {"softmin", as_pycfunction<2>(), METH_FASTCALL | METH_KEYWORDS,
     "softmin(input, dim=None, dtype=None)\n--\n\nsoftmin(x, dim) = softmax(-x, dim), as "
     "torch.nn.functional.softmin."},
};

}  // namespace

void add_fast_forward(py::module_& m, const py::dict& fallbacks) {
  const OutFn fns[] = {&smx::softmax_out, &smx::log_softmax_out, &smx::softmin_out};
  py::object module_name = py::str("smx");
  for (std::size_t i = 0; i < std::size(defs); ++i) {
    py::object fallback = fallbacks[defs[i].ml_name];
    Py_XDECREF(ops[i].fallback);  // (installed again: the newer fallback wins)
    ops[i] = Op{fns[i], fallback.release().ptr()};
    PyObject* fn = PyCFunction_NewEx(&defs[i], m.ptr(), module_name.ptr());
    if (fn == nullptr) throw py::error_already_set();
    m.attr(defs[i].ml_name) = py::reinterpret_steal<py::object>(fn);
  }
}

}  // namespace smx_python
