// Pruning: scores from hand-made dynamics, LBPE epoch choice, CCS allocation, balanced/imbalanced selection.
#include <doctest/doctest.h>
#include <algorithm>
#include <cmath>
#include <set>
#include "apps/common/scores.h"
#include "apps/common/kmeans.h"
#include "apps/common/prune.h"
#include "apps/common/select.h"
#include "data/set_dataset.h"
#include "data/decode.h"
#include "engine/ops.h"

using namespace yoco;
using namespace yoco::app;

namespace {
// Logits that make the softmax of row i put probability ~1 on class `pred[i]`.
Tensor confident_logits(const std::vector<int64_t>& pred, int64_t c) {
  std::vector<float> v(pred.size() * c, 0.f);
  for (size_t i = 0; i < pred.size(); ++i) v[i * c + pred[i]] = 30.f;
  return from_vector(v, {static_cast<int64_t>(pred.size()), c});
}
}  // namespace

TEST_CASE("DynamicsRecorder: 4 samples, 3 epochs, hand-computed forgetting, correct counts, EL2N and AUM") {
  // labels 0,1,0,1; predictions per epoch chosen to make known correct/incorrect patterns.
  std::vector<int64_t> labels = {0, 1, 0, 1};
  std::vector<std::vector<int64_t>> pred = {{0, 1, 1, 0}, {1, 1, 0, 0}, {0, 0, 0, 1}};
  // correct:   epoch0 T T F F (2), epoch1 F T T F (2), epoch2 T F T T (3)
  // forgetting (correct -> incorrect): s0: T,F,T -> 1; s1: T,T,F -> 1; s2: F,T,T -> 0; s3: F,F,T -> 0
  ScoreConfig cfg;
  cfg.stop_epoch = 3;
  cfg.top_k = 2;
  cfg.el2n_epochs = 2;
  DynamicsRecorder rec(4, 3, cfg);
  Tensor y = from_int_vector(labels, {4});
  for (int64_t e = 0; e < 3; ++e) {
    // Two batches per epoch, in a shuffled order, as training would deliver them.
    std::vector<int64_t> b1 = {2, 0}, b2 = {3, 1};
    for (auto& b : {b1, b2}) {
      std::vector<int64_t> p, l;
      for (int64_t i : b) p.push_back(pred[e][i]), l.push_back(labels[i]);
      Tensor logits = confident_logits(p, 2), lab = from_int_vector(l, {2});
      rec.observe(BatchView{b, logits, lab, e});
    }
  }
  CHECK(rec.correct_by_epoch() == std::vector<int64_t>{2, 2, 3});
  CHECK(rec.forgetting() == std::vector<float>{1.f, 1.f, 0.f, 0.f});
  // ‖p − y‖₂ is ~0 when right and ~√2 when wrong (confident logits).
  std::vector<float> el2n = el2n_sum(rec.el2n_by_epoch(), 4, 2);  // epochs 0-1
  const float r2 = std::sqrt(2.f);
  CHECK(el2n[0] == doctest::Approx(r2).epsilon(1e-4));
  CHECK(el2n[1] == doctest::Approx(0.f).epsilon(1e-4));
  CHECK(el2n[2] == doctest::Approx(r2).epsilon(1e-4));
  CHECK(el2n[3] == doctest::Approx(2 * r2).epsilon(1e-4));
  // AUM (probability margin) summed: +1 when right, -1 when wrong.
  CHECK(rec.aum()[0] == doctest::Approx(1.f).epsilon(1e-4));  // T F T
  CHECK(rec.aum()[3] == doctest::Approx(-1.f).epsilon(1e-4));  // F F T
  // LBPE top-2 epochs by correct count: epoch 2 (3), then epoch 0 (2, earlier wins the tie with epoch 1).
  std::vector<int64_t> chosen;
  std::vector<float> lbpe = lbpe_topk(rec.el2n_by_epoch(), rec.correct_by_epoch(), 4, 3, 2, &chosen);
  CHECK(chosen == std::vector<int64_t>{0, 2});
  CHECK(lbpe[0] == doctest::Approx(0.f).epsilon(1e-4));       // right in epochs 0 and 2
  CHECK(lbpe[1] == doctest::Approx(r2).epsilon(1e-4));        // wrong in epoch 2
  CHECK(lbpe[3] == doctest::Approx(r2).epsilon(1e-4));        // wrong in epoch 0
}

TEST_CASE("CCS budget allocation visits strata by increasing size") {
  CHECK(ccs_bin_allocate({5, 1, 3}, 6) == std::vector<int64_t>{3, 1, 2});
  CHECK(ccs_bin_allocate({0, 4, 4}, 5) == std::vector<int64_t>{0, 2, 3});
  CHECK(ccs_bin_allocate({2, 2}, 10) == std::vector<int64_t>{2, 2});
  CHECK(ccs_beta("cifar10", 10, 1) == doctest::Approx(0.3f));
  CHECK(ccs_beta("fashion-mnist", 10, 2) == doctest::Approx(0.1f));
  CHECK(ccs_beta("cifar100", 20, 5) == doctest::Approx(0.3f));
}

TEST_CASE("method names: defaults follow YOCO and the classic papers") {
  SelectSpec y = parse_method("yoco");
  CHECK(y.easy);
  CHECK(y.balanced);
  SelectSpec e = parse_method("el2n");
  CHECK_FALSE(e.easy);
  CHECK_FALSE(e.balanced);
  SelectSpec eb = parse_method("el2n_easy_balance");
  CHECK(eb.easy);
  CHECK(eb.balanced);
  CHECK(eb.name() == "el2n_easy_balance");
  CHECK(parse_method("accumulated_margin").metric == "aum");
  CHECK(parse_method("random_balance").balanced);
  CHECK_THROWS_AS(parse_method("gradnorm"), Error);
}

TEST_CASE("balanced easy selection keeps the lowest scores per class; imbalanced takes them globally") {
  ScoreTable t;
  t.num_classes = 2;
  t.ipc_from = 2;
  t.factor = 2;  // 8 sub-images per class
  t.labels = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
  t.difficulty["yoco"] = {5, 1, 7, 3, 3, 9, 0, 8, /*class 1*/ 10, 11, 12, 13, 14, 15, 16, 2};
  std::vector<int64_t> keep = select_indices(t, parse_method("yoco"), 1, 0);  // 1·2² = 4 per class
  CHECK(keep == std::vector<int64_t>{1, 3, 4, 6, 8, 9, 10, 15});  // ties (3 at 3 and 4) by lower index
  std::vector<int64_t> hard = select_indices(t, parse_method("yoco_hard"), 1, 0);
  CHECK(hard == std::vector<int64_t>{0, 2, 5, 7, 11, 12, 13, 14});
  std::vector<int64_t> imb = select_indices(t, parse_method("yoco_imbalance"), 1, 0);  // int(1/2·16) = 8 overall
  CHECK(imb.size() == 8);
  CHECK(std::count_if(imb.begin(), imb.end(), [](int64_t i) { return i >= 8; }) == 1);  // only index 15 (score 2)
  // Random balanced: 4 per class, distinct, reproducible with the seed.
  std::vector<int64_t> r1 = select_indices(t, parse_method("random_balance"), 1, 7),
                       r2 = select_indices(t, parse_method("random_balance"), 1, 7);
  CHECK(r1 == r2);
  CHECK(std::set<int64_t>(r1.begin(), r1.end()).size() == 8);
  CHECK_THROWS_AS(select_indices(t, parse_method("yoco"), 2, 0), Error);  // target must be < ipc_from
  CHECK_THROWS_AS(select_indices(t, parse_method("forgetting"), 1, 0), Error);  // no such scores
}

TEST_CASE("decoded order: sub-image j of a class is quadrant j / ipc of stored image j % ipc") {
  CHECK(data::decoded_source(0, 10) == std::pair<int64_t, int64_t>{0, 0});
  CHECK(data::decoded_source(13, 10) == std::pair<int64_t, int64_t>{3, 1});
  CHECK(data::decoded_source(39, 10) == std::pair<int64_t, int64_t>{9, 3});
}

TEST_CASE("a pruned set decodes to t·f² images per class with the right labels (balanced and imbalanced)") {
  data::CondensedSet set;
  const int64_t classes = 2, ipc = 2, f = 2;
  set.images = rand_uniform({classes * ipc, 1, 8, 8}, 5, 0, 0, 0.f, 1.f);
  set.labels = from_int_vector({0, 0, 1, 1}, {4});
  set.meta.dataset = "fashion-mnist", set.meta.num_classes = classes, set.meta.ipc = ipc, set.meta.factor = f;
  set.meta.channels = 1, set.meta.height = 8, set.meta.width = 8, set.meta.mean = {0.5f}, set.meta.std = {0.5f};
  set.meta.method = "test";
  ScoreTable t;
  t.num_classes = classes, t.ipc_from = ipc, t.factor = f, t.dataset = "fashion-mnist";
  t.labels = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
  t.difficulty["yoco"] = {8, 7, 6, 5, 4, 3, 2, 1, 9, 9, 9, 9, 0, 9, 9, 9};
  data::Dataset decoded = data::decoded_dataset(set);
  REQUIRE(decoded.size() == 16);

  SelectSpec spec = parse_method("yoco");
  std::vector<int64_t> idx = select_indices(t, spec, 1, 0);
  data::CondensedSet pruned = make_pruned_set(set, idx, spec, 1, 0, "test.npz");
  data::check_set(pruned, "pruned");
  data::Dataset d = data::decoded_dataset(pruned);
  CHECK(d.size() == 8);  // 1 · 2² per class
  CHECK(d.labels.to_int_vector() == std::vector<int64_t>{0, 0, 0, 0, 1, 1, 1, 1});
  // The kept images are exactly the selected decoded sub-images, in class-major order.
  CHECK(slice(d.images, 0, 4, 5).to_vector() == slice(decoded.images, 0, 8, 9).to_vector());   // class 1 keeps 8.. (ties)
  CHECK(slice(d.images, 0, 0, 1).to_vector() == slice(decoded.images, 0, 4, 5).to_vector());   // class 0 lowest: 4..7

  SelectSpec imb = parse_method("yoco_imbalance");
  std::vector<int64_t> idx2 = select_indices(t, imb, 1, 0);  // 8 lowest overall: 7 of class 0, one (index 12) of class 1
  data::CondensedSet p2 = make_pruned_set(set, idx2, imb, 1, 0, "test.npz");
  data::check_set(p2, "pruned imbalanced");
  CHECK(p2.meta.class_counts == std::vector<int64_t>{7, 1});
  CHECK(data::decoded_dataset(p2).labels.to_int_vector() == std::vector<int64_t>{0, 0, 0, 0, 0, 0, 0, 1});
}

TEST_CASE("k-means finds two separated clusters; SSP picks the sample nearest each centroid") {
  // 2-D points: three around (0,0), three around (10,10); the centres are exact points (index 1 and 4).
  std::vector<float> pts = {-1, 0, 0, 0, 1, 0, 9, 10, 10, 10, 11, 10};
  std::vector<float> cent = kmeans(pts, 6, 2, 2, 3);
  std::vector<int64_t> near = nearest_to_centroids(pts, 6, 2, cent, 2);
  std::sort(near.begin(), near.end());
  CHECK(near == std::vector<int64_t>{1, 4});
  CHECK_THROWS_AS(kmeans(pts, 6, 2, 7, 3), Error);  // more clusters than points
}
