#include "masked_command.h"

#include <cmath>
#include <iostream>

#include "cli_input.h"
#include "io/npy.h"
#include "smx/smx.h"

namespace smx::cli {

namespace {

constexpr const char* kOps[2] = {"masked_softmax", "masked_log_softmax"};

}  // namespace

void MaskedCommands::add(CLI::App& app, std::string& chosen) {
  const char* whats[2] = {
      "softmax(scale * x) along dim over the elements --mask keeps (True = takes part); masked elements give 0",
      "log_softmax(scale * x) along dim over the elements --mask keeps; masked elements give -inf"};
  for (int i = 0; i < 2; ++i) {
    Args& a = args_[i];
    CLI::App* sub = app.add_subcommand(kOps[i], whats[i]);
    sub->add_option("--dim", a.dim, "the dim to normalise along (default -1, the last)");
    sub->add_option("--mask", a.mask,
                    "a bool .npy file (or literal) broadcastable to INPUT's shape: True = the element "
                    "takes part; without it every element is kept (unless --causal)");
    sub->add_option("--scale", a.scale, "multiply INPUT by S before masking (e.g. 1/sqrt(d) in attention)")
        ->check(CLI::Validator(
            [](const std::string& v) {
              try {
                return std::isfinite(std::stod(v)) ? std::string() : "expected a finite number, got '" + v + "'";
              } catch (const std::exception&) {
                return "expected a number, got '" + v + "'";
              }
            },
            "S"));
    sub->add_flag("--causal", a.causal,
                  "keep element (i, j) of the last two dims (L, S) only if j <= i (torch.ones(L, S).tril(), "
                  "SDPA's is_causal); needs --dim -1 and an INPUT of at least 2 dims");
    sub->add_option("--fully-masked", a.fully_masked,
                    "what a group with no kept element gives: zero (default: 0, log -inf, as SDPA and JAX) or nan "
                    "(as torch.masked.softmax)")
        ->check(CLI::IsMember({"zero", "nan"}));
    sub->add_option("--dtype", a.dtype, "float32, float64, float16 or bfloat16: cast INPUT to it first")
        ->check(CLI::IsMember({"float32", "float64", "float16", "bfloat16"}));
    sub->add_option("--threads", a.threads, "threads to use (default: SMX_NUM_THREADS or all)")
        ->check(CLI::PositiveNumber);
    sub->add_option("INPUT", a.input, "a .npy file, a literal such as '[[1,2],[4,3]]', or - for stdin; default -");
    sub->add_option("-o,--out", a.out,
                    "write the result to this .npy file (atomically); without it, the result is printed as "
                    "PyTorch prints it");
    sub->footer(std::string("Example:\n  smx ") + kOps[i] +
                " --mask keep.npy --scale 0.125 --causal scores.npy -o probs.npy\n");
    sub->callback([&chosen, i] { chosen = kOps[i]; });
  }
}

bool MaskedCommands::owns(const std::string& chosen) const { return chosen == kOps[0] || chosen == kOps[1]; }

int MaskedCommands::run(const std::string& chosen) const {
  const bool log = chosen == kOps[1];
  const Args& a = args_[log ? 1 : 0];
  if (a.threads > 0) set_num_threads(a.threads);
  std::optional<Dtype> dtype;
  if (!a.dtype.empty()) dtype = parse_dtype(a.dtype);
  Tensor x = read_input(a.input, dtype);
  if (dtype && x.dtype() != *dtype) x = x.to(*dtype);
  std::optional<Tensor> mask;
  if (!a.mask.empty()) mask = read_input(a.mask, kBool);
  MaskedSoftmaxOptions o;
  o.scale = a.scale;
  o.causal = a.causal;
  o.fully_masked = parse_fully_masked(a.fully_masked);
  const Tensor y = log ? masked_log_softmax(x, mask, a.dim, o) : masked_softmax(x, mask, a.dim, o);
  if (a.out.empty()) {
    std::cout << y << "\n";
  } else {
    io::save_npy_atomic(a.out, y);
  }
  return 0;
}

}  // namespace smx::cli
