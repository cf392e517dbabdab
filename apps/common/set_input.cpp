// Flags for .pt set inputs (see set_input.h).
#include "apps/common/set_input.h"

namespace yoco::app {

void add_pt_import_flags(CLI::App* c, data::PtImportOptions& o, bool with_dataset) {
  if (with_dataset)
    c->add_option("--dataset", o.dataset,
                  "dataset of a .pt input (fashion-mnist, mnist, cifar10, cifar100, imagenet10)");
  c->add_option("--ipc", o.ipc, "images per class of a .pt input (default: N / classes)")->check(CLI::PositiveNumber);
  c->add_option("--factor", o.factor, "multi-formation factor of a .pt input (IDC: 2; 1 = none)")
      ->check(CLI::PositiveNumber);
  c->add_option("--class-counts", o.class_counts, "per-class image counts of an imbalanced .pt input, e.g. 10,8,10")
      ->delimiter(',')
      ->check(CLI::NonNegativeNumber);
}

}  // namespace yoco::app
