// A NaN or inf stops condensation, training and scoring with one line naming where it appeared, before anything
// holding it is written; out-of-range settings are refused, never replaced.
#include <doctest/doctest.h>
#include <cmath>
#include <filesystem>
#include <limits>
#include "apps/common/condense.h"
#include "apps/common/prune.h"
#include "apps/common/trainer.h"
#include "data/zip.h"
#include "engine/context.h"
#include "engine/ops.h"
#include "tests/unit/test_util.h"

using namespace yoco;
using namespace yoco::app;
using test::contains;
using test::error_of;

namespace {
constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

CondenseConfig toy_config(const std::string& ckpt) {
  CondenseConfig c = default_condense_config("fashion-mnist", 1, 2);
  c.batch_real = 8, c.n_data = 16, c.batch_net = 8, c.niter = 2, c.inner = 2, c.progress = false;
  c.checkpoint_every = 1, c.checkpoint_path = ckpt;
  return c;
}

TrainConfig toy_train() {
  TrainConfig tc;
  tc.epochs = 3, tc.batch = 8, tc.progress = false, tc.seed = 3;
  return tc;
}

void check_one_line(const std::string& e, const std::vector<std::string>& parts) {
  INFO(e);
  CHECK(e.find('\n') == std::string::npos);
  for (const std::string& p : parts) CHECK(contains(e, p));
}
}  // namespace

TEST_CASE("a NaN in condensation stops it naming outer, inner and class; the last checkpoint stays byte-identical") {
  test::TempDir dir("yoco_nonfinite");
  const data::Dataset d = test::two_class_dataset(24, 5);
  const CondenseConfig cfg = toy_config(dir / "run.ckpt.npz");
  CondenseConfig first = cfg;
  first.niter = 1;
  CondenseState st = condense_init(d, cfg);
  REQUIRE(condense_run(d, first, st));  // outer 1 done and checkpointed
  const std::vector<char> good = data::read_file_bytes(cfg.checkpoint_path);
  // Class 1's image-momentum buffer turns NaN: its first image step in outer 2 makes its stored images NaN.
  st.momentum[1] = mul_scalar(st.momentum[1], kNan);
  const std::string e = error_of([&] { condense_run(d, cfg, st); });
  check_one_line(e, {"stored images", "non-finite", "outer iteration 2/2", "inner step 1/2", "class 1",
                     cfg.checkpoint_path});
  CHECK(data::read_file_bytes(cfg.checkpoint_path) == good);
  // The surviving checkpoint still resumes.
  CondenseState resumed = load_checkpoint(cfg.checkpoint_path, d, cfg);
  CHECK(resumed.next_outer == 1);
}

TEST_CASE("a huge lr_img set in the library stops condensation at its first image step, writing no checkpoint") {
  test::TempDir dir("yoco_nonfinite");
  const data::Dataset d = test::two_class_dataset(24, 5);
  CondenseConfig cfg = toy_config(dir / "run.ckpt.npz");
  cfg.lr_img = 3e38f;  // finite, so accepted; the step overflows
  CondenseState st = condense_init(d, cfg);
  const std::string e = error_of([&] { condense_run(d, cfg, st); });
  check_one_line(e, {"non-finite", "outer iteration 1/2", "inner step 1/2", "lr_img"});
  CHECK_FALSE(std::filesystem::exists(cfg.checkpoint_path));
}

// The classifier's weight turned NaN: every logit, and so the first step's loss, is NaN. (A NaN input pixel is
// not a reliable way: the first norm + relu turns a NaN plane into zeros.)
void poison_classifier(ConvNet& net) {
  Tensor w = net.parameters()[net.parameters().size() - 2];
  NoGradGuard no_grad;
  copy_(w, mul_scalar(w.detach(), kNan));
}

TEST_CASE("a NaN loss of condensation's network update is caught in the same inner step") {
  const data::Dataset d = test::two_class_dataset(24, 5);
  CondenseConfig cfg = toy_config("");
  cfg.n_data = 24;  // three network steps of 8
  CondenseState st = condense_init(d, cfg);
  ConvNet net(convnet_for(d), 3);
  // The matching steps before it are clean; an absurd network learning rate blows the net up in its first step.
  SGD opt(net.parameters(), 1e30f, 0.9f, 5e-4f);
  CondenseSteps steps(net, opt, cfg.metric, /*cuda_graph=*/false);
  const std::string e = error_of([&] { condense_inner_step(d, cfg, st, steps, 0, 0); });
  check_one_line(e, {"the network update's loss", "non-finite", "outer iteration 1/2", "inner step 1/2"});
}

TEST_CASE("a NaN training loss stops train_model with the epoch named, also between eval points") {
  const data::Dataset d = test::two_class_dataset(16, 7);
  ConvNet net(convnet_for(d), 4);
  poison_classifier(net);
  // No test set, no progress: read at the last epoch, which names the first bad one.
  check_one_line(error_of([&] { train_model(net, d, nullptr, toy_train()); }),
                 {"training stopped", "epoch 1/3", "diverged"});
  // With a test set the first eval point (epoch 1 of 4: 4 points) reads the guard before testing.
  TrainConfig tc = toy_train();
  tc.epochs = 4;
  const data::Dataset test_set = test::two_class_dataset(8, 8);
  ConvNet net2(convnet_for(d), 4);
  poison_classifier(net2);
  check_one_line(error_of([&] { train_model(net2, d, &test_set, tc); }), {"epoch 1/4", "iteration 1/2"});
}

TEST_CASE("a diverging learning rate stops train_model instead of reporting chance accuracy") {
  const data::Dataset d = test::two_class_dataset(32, 9);
  TrainConfig tc = toy_train();
  tc.lr = 1e30f;
  tc.cutmix_p = 0.f;
  ConvNet net(convnet_for(d), 4);
  check_one_line(error_of([&] { train_model(net, d, &d, tc); }), {"training stopped", "lr 1e+30"});
}

TEST_CASE("a scoring run stops on a non-finite loss and returns no scores") {
  data::CondensedSet set;
  set.images = rand_uniform({4, 1, 28, 28}, 5, 0, 0, 0.f, 1.f);
  set.labels = from_int_vector({0, 0, 1, 1}, {4});
  set.meta.dataset = "fashion-mnist", set.meta.num_classes = 2, set.meta.ipc = 2, set.meta.factor = 2;
  set.meta.channels = 1, set.meta.height = 28, set.meta.width = 28, set.meta.mean = {0.5f}, set.meta.std = {0.5f};
  ScoringOptions so;
  so.train.epochs = 3, so.train.batch = 4, so.train.progress = false, so.train.lr = 1e30f;
  so.score.stop_epoch = 2, so.score.top_k = 1, so.score.el2n_epochs = 1;
  check_one_line(error_of([&] { run_scoring(set, so, nullptr); }), {"training stopped"});
}

TEST_CASE("out-of-range settings are refused, never replaced, naming the field or the caller's flag") {
  const data::Dataset d = test::two_class_dataset(8, 5);
  for (float bad : {-1.f, 0.f, kNan, kInf}) {
    CAPTURE(bad);
    CondenseConfig c = toy_config("");
    c.lr_img = bad;
    CondenseState st = condense_init(d, toy_config(""));
    check_one_line(error_of([&] { condense_run(d, c, st); }), {"CondenseConfig.lr_img", "positive finite"});
    check_one_line(error_of([&] { validate(c, {{"lr_img", "--lr-img"}}); }), {"--lr-img: expected"});
    TrainConfig tc = toy_train();
    tc.lr = bad;
    ConvNet net(convnet_for(d), 1);
    check_one_line(error_of([&] { train_model(net, d, nullptr, tc); }), {"TrainConfig.lr", "positive finite"});
    check_one_line(error_of([&] { validate(tc, {{"lr", "--lr"}}); }), {"--lr: expected a positive finite number"});
  }
  TrainConfig tc = toy_train();
  tc.cutmix_p = 1.5f;
  check_one_line(error_of([&] { validate(tc, {{"cutmix_p", "--cutmix-p"}}); }), {"--cutmix-p", "[0, 1]", "1.5"});
  tc = toy_train();
  tc.momentum = 1.f;
  check_one_line(error_of([&] { validate(tc); }), {"TrainConfig.momentum", "[0, 1)"});
  tc = toy_train();
  tc.weight_decay = -1e-4f;
  check_one_line(error_of([&] { validate(tc); }), {"TrainConfig.weight_decay"});
  CondenseConfig c = toy_config("");
  c.mom_img = kNan;
  check_one_line(error_of([&] { validate(c); }), {"CondenseConfig.mom_img"});
  c = toy_config("");
  c.inner = 0;
  check_one_line(error_of([&] { validate(c, {{"inner", "--inner"}}); }), {"--inner: expected an integer >= 1, got 0"});
  CHECK(error_of([] { validate(toy_train()); }) == "<no error>");
  CHECK(error_of([] { validate(toy_config("")); }) == "<no error>");
}
