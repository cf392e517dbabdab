// Flags for .pt set inputs (see set_input.h).
#include "apps/common/set_input.h"

#include <string>

namespace yoco::app {
namespace {

// An integer of at least `lo`, with a readable message (CLI11's number checks print the whole double range).
CLI::Validator integer_at_least(int64_t lo) {
  return CLI::Validator(
      [lo](std::string& s) -> std::string {
        try {
          size_t pos = 0;
          const long long v = std::stoll(s, &pos);
          if (pos == s.size() && v >= lo) return "";
        } catch (const std::exception&) {
        }
        return "expected an integer >= " + std::to_string(lo) + ", got '" + s + "'";
      },
      "INT>=" + std::to_string(lo));
}

}  // namespace

void add_pt_import_flags(CLI::App* c, data::PtImportOptions& o, bool with_dataset) {
  if (with_dataset)
    c->add_option("--dataset", o.dataset,
                  "dataset of a .pt input (fashion-mnist, mnist, cifar10, cifar100, imagenet10)");
  c->add_option("--ipc", o.ipc, "images per class of a .pt input (default: N / classes)")
      ->check(integer_at_least(1));
  c->add_option("--factor", o.factor, "multi-formation factor of a .pt input (IDC: 2; 1 = none)")
      ->check(integer_at_least(1));
  c->add_option("--class-counts", o.class_counts, "per-class image counts of an imbalanced .pt input, e.g. 10,8,10")
      ->delimiter(',')
      ->check(integer_at_least(0));
}

}  // namespace yoco::app
