// The `smx` command: the softmax family on .npy files, literals and stdin.
//
// Exit codes: 0 success, 1 bad data (the message names the source and the problem), 2 usage.
#include <CLI/CLI.hpp>

#include <iostream>
#include <optional>
#include <string>

#include "cli_input.h"
#include "loss_command.h"
#include "masked_command.h"
#include "dim_arg.h"
#include "explain.h"
#include "file_jobs.h"
#include "mpi_forward.h"
#include "print_cast.h"
#include "stream_forward.h"
#include "seed_demo.h"
#include "io/npy.h"
#include "smx/smx.h"

namespace {

constexpr int kExitData = 1;
constexpr int kExitUsage = 2;

const char* kDtypeHelp =
    "float32, float64, float16 or bfloat16: the dtype= of the op (the input is cast first); "
    "also the element type of a literal INPUT (default float32)";
const char* kInputHelp =
    "a .npy file, a literal such as '[[1,2],[4,3],[5,5]]', or - for stdin (.npy bytes or a "
    "literal); default -";
const char* kOutHelp =
    "write the result to this .npy file (atomically: a failure leaves no file and never touches "
    "an existing one); bfloat16 results are written as float32. Without it, the result is "
    "printed as PyTorch prints it";

const char* kDeviceHelp =
    "where to compute: cpu (default), cuda or cuda:N (needs smx built with CUDA and a GPU); the "
    "file is read and written on the host";

struct ForwardArgs {
  std::string dim;  // "", "1" or "1,2" (tools/cli/dim_arg.h)
  std::string dtype;
  std::string device = "cpu";
  int threads = 0;
  std::string input = "-";
  std::vector<std::string> more;  // further .npy files (then -o is a directory)
  std::string out;
};

struct BackwardArgs {
  std::string op;
  std::string dim;
  std::string grad, output, out;
  std::string device = "cpu";
  int threads = 0;
};

CLI::Validator device_validator() {
  return CLI::Validator(
      [](const std::string& spec) {
        try {
          (void)smx::Device(spec);
          return std::string();
        } catch (const smx::Error&) {
          return "expected cpu, cuda or cuda:N, got '" + spec + "'";
        }
      },
      "DEVICE");
}

CLI::Validator dtype_validator() {
  return CLI::IsMember({"float32", "float64", "float16", "bfloat16"});
}

std::optional<smx::Dtype> dtype_of(const std::string& name) {
  if (name.empty()) return std::nullopt;
  return smx::parse_dtype(name);
}

void emit(const smx::Tensor& result, const std::string& out) {
  if (out.empty()) {
    std::cout << result << "\n";
  } else {
    smx::io::save_npy_atomic(out, result.to(smx::kCPU));
  }
}

void add_forward(CLI::App& app, smx::Op op, const std::string& what, ForwardArgs& args, std::string& chosen,
                 smx::Op& chosen_op) {
  const std::string name = smx::op_name(op);
  CLI::App* sub = app.add_subcommand(name, what);
  sub->add_option("--dim", args.dim,
                  "the dim to normalise along (negative counts from the end), or a comma-separated "
                  "list such as 1,2 to normalise over the group of those dims (computed in memory: "
                  "the .npy streaming covers one dim); without it, PyTorch's implicit rule and its "
                  "deprecation warning")
      ->check(smx::cli::dim_list_validator());
  sub->add_option("--dtype", args.dtype, kDtypeHelp)->check(dtype_validator());
  sub->add_option("--threads", args.threads, "threads to use (default: SMX_NUM_THREADS or all)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--device", args.device, kDeviceHelp)->check(device_validator());
  sub->add_option("INPUT", args.input, kInputHelp);
  sub->add_option("MORE", args.more,
                  "more .npy files, with -o naming a directory: each result is written there under its input's "
                  "file name (under mpirun, one launch for all of them)");
  sub->add_option("-o,--out", args.out, kOutHelp);
  sub->callback([&chosen, &chosen_op, name, op] {
    chosen = name;
    chosen_op = op;
  });
}

// One INPUT to one output (or printed), one process: streamed from file to file where that
// applies, else in memory.
void forward_one(smx::Op op, const ForwardArgs& a, const std::vector<std::int64_t>& dims,
                 const smx::cli::FileJob& job) {
  const std::optional<smx::Dtype> dtype = dtype_of(a.dtype);
  if (dims.size() > 1) {  // a group of dims: in memory (streaming covers one dim)
    const smx::Tensor x = smx::cli::read_input(job.input, dtype).to(smx::Device(a.device));
    emit(smx::forward(op, x, smx::DimList(dims), dtype), job.output);
    return;
  }
  const std::optional<std::int64_t> dim = dims.empty() ? std::nullopt : std::optional<std::int64_t>(dims[0]);
  // Files on the host stream through bounded blocks; a GPU run loads the whole tensor.
  if (smx::Device(a.device).is_cpu() && smx::cli::stream_forward(op, dim, dtype, job.input, job.output)) return;
  const smx::Tensor x = smx::cli::read_input(job.input, dtype).to(smx::Device(a.device));
  emit(smx::forward(op, x, dim, dtype), job.output);
}

int run_forward(smx::Op op, const ForwardArgs& a) {
  if (a.threads > 0) smx::set_num_threads(a.threads);
  const std::vector<std::int64_t> dims = smx::cli::parse_dim_list(a.dim);
  std::vector<std::string> inputs{a.input};
  inputs.insert(inputs.end(), a.more.begin(), a.more.end());
  const std::vector<smx::cli::FileJob> jobs = smx::cli::file_jobs(inputs, a.out);
  if (dims.size() > 1 && smx::cli::launched_world_size() > 1) {
    throw smx::RuntimeError("a list of dims is not supported under mpirun: the ranks split dim 0 "
                            "and combine statistics over one dim only");
  }
  const std::optional<std::int64_t> dim = dims.empty() ? std::nullopt : std::optional<std::int64_t>(dims[0]);
  // Under mpirun, the ranks split each file (tools/cli/mpi_forward.h); otherwise nothing changes.
  const auto one_process = [&](const smx::cli::FileJob& job) { forward_one(op, a, dims, job); };
  if (dims.size() <= 1 && smx::cli::mpi_forward(op, dim, dtype_of(a.dtype), a.device, jobs, one_process)) return 0;
  for (const smx::cli::FileJob& job : jobs) forward_one(op, a, dims, job);
  return 0;
}

int run_backward(const BackwardArgs& a) {
  if (a.threads > 0) smx::set_num_threads(a.threads);
  const smx::Device device(a.device);
  const smx::Tensor g = smx::cli::read_input(a.grad, std::nullopt).to(device);
  const smx::Tensor y = smx::cli::read_input(a.output, std::nullopt).to(device);
  const std::vector<std::int64_t> dims = smx::cli::parse_dim_list(a.dim);
  // one dim: the single-dim op, exactly
  emit(smx::backward(smx::backward_of(smx::parse_op(a.op)), g, y, smx::DimList(dims)), a.out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"smx: PyTorch's softmax family (softmax, log_softmax, softmin and their backward "
               "passes) on .npy files, literals and stdin, with PyTorch's semantics and printing.",
               "smx"};
  app.set_version_flag("--version", std::string("smx ") + smx::version());
  app.require_subcommand(1);
  app.footer("Examples:\n"
             "  smx softmax --dim 0 '[[1,2],[4,3],[5,5]]'\n"
             "  smx log_softmax --dim -1 logits.npy -o logp.npy\n"
             "  smx softmax --dim -1 a.npy b.npy c.npy -o probs/   (each result as probs/<name>.npy)\n"
             "  smx softmax --dim 1,2 scores.npy -o p.npy      (softmax over dims 1 and 2 together)\n"
             "  smx explain --dim 0 '[[1,2],[4,3],[5,5]]'      (which elements sum to 1?)\n"
             "  python3 -c 'import numpy as np, sys; np.save(sys.stdout.buffer, np.eye(3))' | smx softmax --dim 1 -\n"
             "Exit status: 0 ok, 1 bad input data, 2 usage error.\n");

  std::string chosen;
  smx::Op chosen_op = smx::Op::kSoftmax;  // the forward subcommand's op
  ForwardArgs fwd[3];
  const smx::Op ops[3] = {smx::Op::kSoftmax, smx::Op::kLogSoftmax, smx::Op::kSoftmin};
  const char* whats[3] = {"softmax(x, dim): exp(x) / sum(exp(x)) along dim",
                          "log_softmax(x, dim): x - log(sum(exp(x))) along dim",
                          "softmin(x, dim): softmax(-x, dim)"};
  for (int i = 0; i < 3; ++i) add_forward(app, ops[i], whats[i], fwd[i], chosen, chosen_op);

  BackwardArgs bwd;
  CLI::App* backward = app.add_subcommand("backward", "the gradient dL/dx of softmax or log_softmax, "
                                                      "given dL/dy (--grad) and y (--output)");
  backward->add_option("--op", bwd.op, "softmax or log_softmax")->required()
      ->check(CLI::Validator(
          [](const std::string& name) {
            try {
              (void)smx::backward_of(smx::parse_op(name));
              return std::string();
            } catch (const smx::Error& e) {
              return std::string(e.what());
            }
          },
          "OP"));
  backward->add_option("--dim", bwd.dim, "the dim (or comma-separated dims) the forward op used")
      ->required()->check(smx::cli::dim_list_validator());
  backward->add_option("--grad", bwd.grad, "dL/dy: a .npy file (or - for stdin)")->required();
  backward->add_option("--output", bwd.output, "y, the forward op's output: a .npy file")->required();
  backward->add_option("-o,--out", bwd.out, kOutHelp);
  backward->add_option("--threads", bwd.threads, "threads to use")->check(CLI::PositiveNumber);
  backward->add_option("--device", bwd.device, kDeviceHelp)->check(device_validator());
  backward->callback([&] { chosen = "backward"; });

  smx::cli::MaskedCommands masked;
  masked.add(app, chosen);
  smx::cli::LossCommand loss;
  loss.add(app, chosen);

  std::string show_dtype, show_input = "-";
  CLI::App* show = app.add_subcommand("show", "print a tensor as PyTorch prints it");
  show->add_option("--dtype", show_dtype, "cast to float32, float64, float16 or bfloat16 first")
      ->check(dtype_validator());
  show->add_option("INPUT", show_input, kInputHelp);
  show->callback([&] { chosen = "show"; });

  smx::cli::ExplainArgs explain_args;
  smx::cli::add_explain_command(app, explain_args, chosen);

  app.add_subcommand("demo", "the seed's worked example (what `make run` prints)")
      ->callback([&] { chosen = "demo"; });
  app.add_subcommand("info", "version, SIMD target in use, threads, CUDA devices")->callback([&] { chosen = "info"; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints help/version on stdout, errors on stderr
    return rc == 0 ? 0 : kExitUsage;
  }

  try {
    for (int i = 0; i < 3; ++i) {
      if (chosen_op == ops[i] && chosen == smx::op_name(ops[i])) return run_forward(chosen_op, fwd[i]);
    }
    if (chosen == "backward") return run_backward(bwd);
    if (masked.owns(chosen)) return masked.run(chosen);
    if (loss.owns(chosen)) return loss.run();
    if (chosen == "show") {
      const auto dtype = dtype_of(show_dtype);
      smx::Tensor x = smx::cli::read_input(show_input, dtype, smx::cli::InputUse::kPrint);
      std::cout << (dtype ? smx::cli::cast_for_printing(x, *dtype) : x) << "\n";
      return 0;
    }
    if (chosen == "explain") {
      smx::cli::run_explain(explain_args, std::cout);
      return 0;
    }
    if (chosen == "demo") {
      seed_demo(std::cout);
      return 0;
    }
    if (chosen == "info") {
      std::cout << "smx " << smx::version() << "\n"
                << "simd: " << smx::simd_target() << "\n"
                << "threads: " << smx::get_num_threads() << "\n"
                << "cuda: " << (smx::cuda::is_built() ? std::to_string(smx::cuda::device_count()) + " device(s)"
                                                      : std::string("not built")) << "\n";
      return 0;
    }
  } catch (const smx::Error& e) {
    // PyTorch's own words for op errors (IndexError for dim, RuntimeError for dtype, ...).
    std::cerr << "smx: error: " << e.what() << "\n";
    return kExitData;
  } catch (const std::bad_alloc&) {
    std::cerr << "smx: error: out of memory\n";
    return kExitData;
  }
  return kExitUsage;
}
