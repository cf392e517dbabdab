// Condensation: one image step lowers the matching loss on a fixed batch; an interrupted and resumed run is
// bit-identical to an uninterrupted one; a run gives the numbers recorded before its steps became one code path.
#include <doctest/doctest.h>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include "apps/common/condense.h"
#include "data/augment.h"
#include "data/decode.h"
#include "engine/autograd.h"
#include "engine/context.h"
#include "engine/ops.h"
#include "tests/unit/test_util.h"

using namespace yoco;
using namespace yoco::app;

namespace {
CondenseConfig toy_config() {
  CondenseConfig c = default_condense_config("fashion-mnist", 1, 2);
  c.batch_real = 8, c.n_data = 16, c.batch_net = 8, c.niter = 2, c.inner = 2, c.progress = false;
  return c;
}
}  // namespace

TEST_CASE("one image step lowers the matching loss on a fixed batch") {
  data::Dataset d = test::two_class_dataset(20, 5);
  CondenseConfig cfg = toy_config();
  ConvNetConfig nc;
  nc.channels = 1, nc.image_size = 28, nc.num_classes = 2;
  ConvNet net(nc, 3);
  Tensor stored = rand_uniform({1, 1, 28, 28}, 4, 0, 0, 0.f, 1.f);
  stored.set_requires_grad(true);
  Tensor real = data::normalize(slice(d.images, 0, 0, 8), d.mean, d.std);
  Tensor y8 = from_int_vector(std::vector<int64_t>(8, 0), {8}), y4 = from_int_vector(std::vector<int64_t>(4, 0), {4});
  std::vector<Tensor> w = net.conv_weights();
  std::vector<Tensor> gr = grad({cross_entropy(net.forward(real), y8)}, w);
  auto loss_at = [&](const Tensor& s, Tensor* g) {
    Tensor syn = data::normalize(data::decode(s, 2), d.mean, d.std);
    std::vector<Tensor> gs = grad({cross_entropy(net.forward(syn), y4)}, w, {}, true);
    Tensor dist = match_distance(gr, gs, MatchMetric::L1);
    if (g) *g = grad({dist}, {s})[0];
    return dist.item();
  };
  Tensor g;
  float before = loss_at(stored, &g);
  // A small step along the negative gradient (the image optimiser's first step) must lower the loss.
  Tensor next = sub(stored.detach(), mul_scalar(g, 1e-3f / std::max(1e-12f, mean(abs(g)).item())));
  next.set_requires_grad(true);
  float after = loss_at(next, nullptr);
  INFO("matching loss before " << before << ", after " << after);
  CHECK(after < before);
}

TEST_CASE("interrupted + resumed condensation is bit-identical to an uninterrupted run") {
  data::Dataset d = test::two_class_dataset(24, 5);
  CondenseConfig cfg = toy_config();
  CondenseState full = condense_init(d, cfg);
  REQUIRE(condense_run(d, cfg, full));

  std::string ckpt = (std::filesystem::temp_directory_path() / "yoco_condense_resume_test.ckpt.npz").string();
  CondenseConfig first = cfg;
  first.niter = 1;
  CondenseState part = condense_init(d, first);
  REQUIRE(condense_run(d, first, part));
  save_checkpoint(ckpt, d, cfg, part);
  CondenseState resumed = load_checkpoint(ckpt, d, cfg);
  CHECK(resumed.next_outer == 1);
  REQUIRE(condense_run(d, cfg, resumed));
  std::filesystem::remove(ckpt);

  REQUIRE(full.stored.size() == resumed.stored.size());
  for (size_t c = 0; c < full.stored.size(); ++c) {
    CHECK(full.stored[c].to_vector() == resumed.stored[c].to_vector());
    CHECK(full.momentum[c].to_vector() == resumed.momentum[c].to_vector());
  }
  CHECK(full.loss_history == resumed.loss_history);
  // And condensation did move the images away from the 'mix' initialisation.
  CondenseState init = condense_init(d, cfg);
  CHECK(full.stored[0].to_vector() != init.stored[0].to_vector());
}

TEST_CASE("a checkpoint from other settings is refused") {
  data::Dataset d = test::two_class_dataset(8, 5);
  CondenseConfig cfg = toy_config();
  CondenseState st = condense_init(d, cfg);
  std::string ckpt = (std::filesystem::temp_directory_path() / "yoco_condense_refuse_test.ckpt.npz").string();
  save_checkpoint(ckpt, d, cfg, st);
  CondenseConfig other = cfg;
  other.lr_img *= 2;
  CHECK_THROWS_WITH_AS(load_checkpoint(ckpt, d, other), doctest::Contains("lr_img"), Error);
  std::filesystem::remove(ckpt);
}

TEST_CASE("condensation gives the numbers recorded from the former eager steps, bit for bit (CPU, im2col)") {
  // Recorded with the eager matching step (one backward from the distance to the stored images) and network
  // update that preceded the one step path: the step objects run without capture must not move a bit.
  // Re-recorded once since, for the group-norm mean correction (a deliberate change of the numerics).
  const test::Im2colConvolutions im2col;
  data::Dataset d = test::two_class_dataset(24, 5);
  CondenseConfig cfg = toy_config();
  cfg.inner = 3;  // mixed and unmixed network batches, two outer iterations (two nets)
  CondenseState st = condense_init(d, cfg);
  REQUIRE(condense_run(d, cfg, st));
  uint64_t images = test::kFingerprintStart;
  for (size_t c = 0; c < st.stored.size(); ++c) {
    images = test::bits_fingerprint(st.stored[c].to_vector(), images);
    images = test::bits_fingerprint(st.momentum[c].to_vector(), images);
  }
  REQUIRE(st.loss_history.size() == 2);
  char got[128];  // what to record again, should a deliberate change of the numerics move them
  std::snprintf(got, sizeof got, "stored+momentum 0x%llx, losses %a %a", static_cast<unsigned long long>(images),
                st.loss_history[0], st.loss_history[1]);
  INFO(got);
  CHECK(images == 0x83d2568a6ee31652ull);
  CHECK(st.loss_history[0] == 0x1.93c09d5555555p+11);
  CHECK(st.loss_history[1] == 0x1.aaf3b15555555p+11);
}

TEST_CASE("per-dataset defaults follow IDC's reproduce.py and argument.py (algorithms.md §3.2)") {
  const CondenseConfig c = default_condense_config("cifar10", 10, 2);
  CHECK(c.metric == MatchMetric::Mse);
  CHECK(c.n_data == 2000);
  CHECK(c.lr_img == doctest::Approx(5e-3f));  // tune_lr_img: ipc 10, size 32 = base
  CHECK(c.dsa_match == "color_crop_cutout");  // IDC's default aug_type
  CHECK(c.dsa_net == "color_crop");           // the network update drops cutout
  CHECK(c.cutmix_p == doctest::Approx(0.5f));
  const CondenseConfig f = default_condense_config("fashion-mnist", 10, 2);
  CHECK(f.metric == MatchMetric::L1);
  CHECK(f.n_data == 500);
  CHECK(f.lr_img == doctest::Approx(1e-4f * (28.f / 32.f) * (28.f / 32.f)));  // base 32 for Fashion too
  CHECK(f.dsa_match == "color_crop_cutout");
  CHECK(default_condense_config("cifar100", 50, 2).lr_img == doctest::Approx(5e-3f * 5.f));
}
