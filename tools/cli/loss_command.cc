#include "loss_command.h"

#include <filesystem>
#include <iostream>

#include "cli_input.h"
#include "io/npy.h"
#include "smx/smx.h"

namespace smx::cli {

void LossCommand::add(CLI::App& app, std::string& chosen) {
  CLI::App* sub = app.add_subcommand(
      "cross_entropy", "F.cross_entropy(INPUT, --target): the loss over the class dim (1, or 0 for a 1-d INPUT), "
                       "without building the log_softmax tensor");
  sub->add_option("INPUT", input, "the logits: a .npy file, a literal such as '[[1,2],[4,3]]', or - for stdin; default -");
  sub->add_option("--target", target,
                  "class indices (an integer .npy file or literal, INPUT's shape without the class dim) or class "
                  "probabilities (a floating .npy file of INPUT's shape)")
      ->required();
  sub->add_option("--weight", weight, "a (C) .npy file of per-class weights, INPUT's dtype");
  sub->add_option("--reduction", reduction, "mean (default), sum, or none (a loss per target)")
      ->check(CLI::IsMember({"none", "mean", "sum"}));
  sub->add_option("--label-smoothing", label_smoothing, "mix E/C of every class into the target (0 to 1; default 0)");
  sub->add_option("--ignore-index", ignore_index, "targets equal to this take no part (default -100)");
  sub->add_option("--threads", threads, "threads to use (default: SMX_NUM_THREADS or all)")->check(CLI::PositiveNumber);
  sub->add_option("-o,--out", out,
                  "write the loss to this .npy file (atomically); without it, it is printed as PyTorch prints it");
  sub->footer("Example:\n  smx cross_entropy logits.npy --target labels.npy --label-smoothing 0.1\n");
  sub->callback([&chosen] { chosen = "cross_entropy"; });
}

bool LossCommand::owns(const std::string& chosen) const { return chosen == "cross_entropy"; }

int LossCommand::run() const {
  if (threads > 0) set_num_threads(threads);
  const Tensor x = read_input(input, std::nullopt);
  // A literal target of whole numbers is class indices, as torch.tensor([0, 2]) is int64 (files
  // keep their dtype, and a floating file of indices is PyTorch's error).
  Tensor t = read_input(target, std::nullopt);
  const bool literal = target != "-" && !std::filesystem::exists(target);
  if (literal && is_floating(t.dtype()) && t.sizes() != x.sizes()) {
    bool whole = true;
    const Tensor c = t.to(kFloat64).contiguous();
    for (std::int64_t i = 0; i < c.numel() && whole; ++i) whole = c.data<double>()[i] == static_cast<double>(static_cast<std::int64_t>(c.data<double>()[i]));
    if (whole) t = t.to(kInt64);
  }
  CrossEntropyOptions o;
  if (!weight.empty()) o.weight = read_input(weight, x.dtype());
  o.reduction = parse_reduction(reduction);
  o.ignore_index = ignore_index;
  o.label_smoothing = label_smoothing;
  const Tensor loss = cross_entropy(x, t, o);
  if (out.empty()) {
    std::cout << loss << "\n";
  } else {
    io::save_npy_atomic(out, loss);
  }
  return 0;
}

}  // namespace smx::cli
