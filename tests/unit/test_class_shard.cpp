// Scale-out without a launcher: the class blocks cover every class once, a rank stepping only its block computes
// that block's images and losses exactly as the one-process step does, and the one-rank Comm runs its queue in order.
#include <doctest/doctest.h>
#include "apps/common/condense.h"
#include "apps/common/mpi_comm.h"
#include "apps/common/trainer.h"
#include "tests/unit/test_util.h"

using namespace yoco;
using namespace yoco::app;

TEST_CASE("class blocks are contiguous, in rank order, cover every class once and differ by at most one") {
  for (int64_t k = 1; k <= 12; ++k)
    for (int r = 1; r <= k; ++r) {
      int64_t at = 0, lo = k, hi = 0;
      for (int i = 0; i < r; ++i) {
        const ClassShard b = class_shard(k, i, r);
        CHECK(b.begin == at);
        CHECK(b.end > b.begin);  // R <= K: every rank owns a class
        lo = std::min(lo, b.end - b.begin), hi = std::max(hi, b.end - b.begin);
        at = b.end;
      }
      CHECK(at == k);
      CHECK(hi - lo <= 1);
    }
}

TEST_CASE("a rank stepping only its classes gets the one-process images, momentum and losses of those classes") {
  data::Dataset d = test::two_class_dataset(24, 5);
  CondenseConfig cfg = default_condense_config("fashion-mnist", 1, 2);
  cfg.batch_real = 8, cfg.n_data = 16, cfg.batch_net = 8, cfg.niter = 1, cfg.inner = 2, cfg.progress = false;
  // What condense_run does per rank: the same net from the same seed, the same network updates, own classes only.
  auto steps = [&](int64_t begin, int64_t end) {
    CondenseConfig c = cfg;
    c.class_begin = begin, c.class_end = end;
    CondenseState st = condense_init(d, c);
    ConvNet net(convnet_for(d), 77);
    SGD opt(net.parameters(), 0.01f, 0.9f, 5e-4f);
    CondenseSteps net_steps(net, opt, c.metric, /*cuda_graph=*/false);
    for (int64_t inner = 0; inner < cfg.inner; ++inner) condense_inner_step(d, c, st, net_steps, 0, inner);
    return st;
  };
  const CondenseState full = steps(0, -1), rank0 = steps(0, 1), rank1 = steps(1, 2);
  CHECK(rank0.stored[0].to_vector() == full.stored[0].to_vector());
  CHECK(rank0.momentum[0].to_vector() == full.momentum[0].to_vector());
  CHECK(rank1.stored[1].to_vector() == full.stored[1].to_vector());
  CHECK(rank1.momentum[1].to_vector() == full.momentum[1].to_vector());
  CHECK(rank0.class_loss[0] == full.class_loss[0]);
  CHECK(rank1.class_loss[1] == full.class_loss[1]);
  // Each rank leaves the other's classes alone (rank 0 gathers them for checkpoints).
  CHECK_FALSE(rank0.momentum[1].defined());
  CHECK(rank0.stored[1].to_vector() != full.stored[1].to_vector());
  CHECK(test::contains(test::error_of([&] { steps(1, 3); }), "class block [1, 3) is not within the 2 classes"));
}

TEST_CASE("without a launcher the Comm is one rank: its queue runs every task in order, gathers return this rank's") {
  const Comm comm;
  CHECK(comm.size() == 1);
  CHECK_FALSE(comm.distributed());
  std::vector<std::string> seen;
  comm.run_queue(3, [](int64_t i) { return "task " + std::to_string(i); },
                 [&](int64_t i, const std::string& r) { seen.push_back(std::to_string(i) + ": " + r); });
  CHECK(seen == std::vector<std::string>{"0: task 0", "1: task 1", "2: task 2"});
  CHECK(comm.gather(std::vector<float>{1.f, 2.f}) == std::vector<std::vector<float>>{{1.f, 2.f}});
  CHECK(comm.gather(2.5) == std::vector<double>{2.5});
  CHECK(comm.any(true));
  CHECK_NOTHROW(comm.check_launch("test"));
}
