// smx._smx_dist: the C++ half of smx.dist (python/smx/dist.py), built only where smx was built
// with MPI. A module of its own, so that _smx never links MPI. The communicator arrives as its
// Fortran handle (mpi4py's comm.py2f()) and is turned back into an MPI_Comm with MPI_Comm_f2c:
// no mpi4py C header needed, and any mpi4py communicator works.
// Input: NumPy arrays (any strides; copied to contiguous if needed) and objects with
// __dlpack__ (torch tensors, bfloat16 included). Output: NumPy for NumPy input (bfloat16 as
// float32), else an smx.Tensor (the type _smx registers), which torch.from_dlpack accepts.
#include <dlpack/dlpack.h>
#include <mpi.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "smx/dist.h"
#include "smx/smx.h"

namespace py = pybind11;

namespace {

struct Input {
  smx::Tensor tensor;
  bool from_numpy = false;
  py::object keepalive;
};

Input borrow(const py::object& obj) {
  Input in;
  if (py::isinstance<smx::Tensor>(obj)) {
    in.tensor = obj.cast<smx::Tensor>();
    return in;
  }
  if (!py::isinstance<py::array>(obj) && py::hasattr(obj, "__dlpack__")) {
    py::object capsule = obj.attr("__dlpack__")();
    auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), "dltensor"));
    if (managed == nullptr) throw py::error_already_set();
    PyCapsule_SetName(capsule.ptr(), "used_dltensor");  // smx::from_dlpack owns it now
    in.tensor = smx::from_dlpack(managed);
    return in;
  }
  py::module_ np = py::module_::import("numpy");
  py::array a = np.attr("ascontiguousarray")(obj);
  const std::string kind(1, a.dtype().kind());
  const auto size = a.itemsize();
  smx::Dtype dtype;
  if (kind == "f" && size == 4) dtype = smx::kFloat32;
  else if (kind == "f" && size == 8) dtype = smx::kFloat64;
  else if (kind == "f" && size == 2) dtype = smx::kFloat16;
  else {
    // Integers and the rest: smx.dist's error on every rank, from an int64 tensor (collectively).
    a = np.attr("ascontiguousarray")(a, "int64");
    dtype = smx::kInt64;
  }
  if (!a.dtype().attr("isnative").cast<bool>()) a = a.attr("astype")(a.dtype().attr("newbyteorder")("="));
  std::vector<std::int64_t> sizes(a.shape(), a.shape() + a.ndim());
  in.tensor = smx::from_blob(const_cast<void*>(a.data()), smx::Size(sizes), dtype);
  in.from_numpy = true;
  in.keepalive = a;
  return in;
}

py::object wrap(const Input& in, smx::Tensor t) {
  if (!in.from_numpy) return py::cast(std::move(t));
  if (t.dtype() == smx::kBFloat16) t = t.to(smx::kFloat32);
  t = t.contiguous();
  const char* name = t.dtype() == smx::kFloat32 ? "float32" : t.dtype() == smx::kFloat64 ? "float64" : "float16";
  std::vector<py::ssize_t> shape(t.sizes().begin(), t.sizes().end());
  auto* owner = new smx::Tensor(t);
  py::capsule base(owner, [](void* p) { delete static_cast<smx::Tensor*>(p); });
  return py::array(py::dtype(name), shape, t.data_ptr(), base);
}

MPI_Comm comm_of(long long fortran_handle) { return MPI_Comm_f2c(static_cast<MPI_Fint>(fortran_handle)); }

}  // namespace

PYBIND11_MODULE(_smx_dist, m) {
  m.doc() = "C++ core of smx.dist; use the `smx.dist` module.";
  py::module_::import("smx._smx");  // smx.Tensor's type, for results of DLPack input

  py::register_local_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const smx::IndexError& e) {
      PyErr_SetString(PyExc_IndexError, e.what());
    } catch (const smx::RuntimeError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    } catch (const smx::Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });

  m.def("forward",
        [](smx::Op op, const py::object& x, std::int64_t dim, long long comm) {
          const Input in = borrow(x);
          smx::Tensor y;
          {
            py::gil_scoped_release release;
            y = smx::dist::forward(op, in.tensor, dim, comm_of(comm));
          }
          return wrap(in, std::move(y));
        },
        py::arg("op"), py::arg("input"), py::arg("dim"), py::arg("comm"));

  m.def("backward",
        [](smx::Op op, const py::object& grad, const py::object& output, std::int64_t dim, long long comm) {
          const Input g = borrow(grad);
          const Input y = borrow(output);
          smx::Tensor dx;
          {
            py::gil_scoped_release release;
            dx = smx::dist::backward(op, g.tensor, y.tensor, dim, comm_of(comm));
          }
          return wrap(g, std::move(dx));
        },
        py::arg("op"), py::arg("grad_output"), py::arg("output"), py::arg("dim"), py::arg("comm"));
}
