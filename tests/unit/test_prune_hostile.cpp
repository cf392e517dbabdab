// Hostile pruning inputs: scores files that disagree with their set, re-pruning pruned (imbalanced) sets, flag
// validators and output-location checks.
#include <doctest/doctest.h>
#include <cmath>
#include <fstream>
#include "apps/common/cli.h"
#include "apps/common/prune.h"
#include "apps/common/select.h"
#include "data/set_dataset.h"
#include "engine/ops.h"
#include "test_util.h"

using namespace yoco;
using namespace yoco::app;

namespace {

// Two classes, IPC 2, factor 2, 8x8 grey: 8 decoded sub-images per class.
data::CondensedSet small_set() {
  data::CondensedSet set;
  set.images = rand_uniform({4, 1, 8, 8}, 5, 0, 0, 0.f, 1.f);
  set.labels = from_int_vector({0, 0, 1, 1}, {4});
  set.meta.dataset = "fashion-mnist", set.meta.num_classes = 2, set.meta.ipc = 2, set.meta.factor = 2;
  set.meta.channels = 1, set.meta.height = 8, set.meta.width = 8, set.meta.mean = {0.5f}, set.meta.std = {0.5f};
  set.meta.method = "test";
  return set;
}

// The arrays and meta `prune score` would write for `set` (hand-made scores: sub-image i has difficulty i).
data::ArraysWithMeta scores_for(const data::CondensedSet& set) {
  data::Dataset d = data::decoded_dataset(set);
  const int64_t n = d.size();
  std::vector<float> s(static_cast<size_t>(n)), feats(static_cast<size_t>(n * 3));
  for (int64_t i = 0; i < n; ++i) s[i] = static_cast<float>(i);
  for (size_t i = 0; i < feats.size(); ++i) feats[i] = static_cast<float>(i % 7);
  data::ArraysWithMeta a;
  a.arrays["scores/yoco"] = from_vector(s, {n});
  a.arrays["scores/el2n"] = from_vector(s, {n});
  a.arrays["features"] = from_vector(feats, {n, 3});
  a.arrays["labels"] = d.labels;
  a.meta = {{"kind", "yoco-scores"}, {"set_fingerprint", set_fingerprint(set)}, {"n", n},
            {"num_classes", set.meta.num_classes}, {"ipc_from", set.meta.ipc}, {"factor", set.meta.factor},
            {"dataset", set.meta.dataset}};
  return a;
}

// The error load_score_table gives for the scores `a` written to a file ("<no error>" when it loads).
std::string load_error(const data::ArraysWithMeta& a, const data::CondensedSet& set) {
  test::TempDir dir;
  const std::string path = dir / "scores.npz";
  data::save_arrays_with_meta(path, a.arrays, a.meta);
  return test::error_of([&] { load_score_table(path, set); });
}

}  // namespace

TEST_CASE("a well-formed scores file loads and agrees with its set") {
  data::CondensedSet set = small_set();
  CHECK(load_error(scores_for(set), set) == "<no error>");
}

TEST_CASE("load_score_table refuses scores whose arrays disagree with the set, naming the file and entry") {
  data::CondensedSet set = small_set();
  SUBCASE("a label outside the set's classes") {
    data::ArraysWithMeta a = scores_for(set);
    std::vector<int64_t> l = a.arrays["labels"].to_int_vector();
    l[15] = 7;
    a.arrays["labels"] = from_int_vector(l, {16});
    std::string e = load_error(a, set);
    CHECK(test::contains(e, "scores.npz"));
    CHECK(test::contains(e, "'labels'"));
  }
  SUBCASE("labels of the wrong length or dtype") {
    data::ArraysWithMeta a = scores_for(set);
    a.arrays["labels"] = from_int_vector({0, 1}, {2});
    CHECK(test::contains(load_error(a, set), "entry 'labels'"));
    a.arrays["labels"] = full({16}, 0.f);
    CHECK(test::contains(load_error(a, set), "expected i64[16]"));
  }
  SUBCASE("a NaN or an infinity in a score") {
    data::ArraysWithMeta a = scores_for(set);
    std::vector<float> s = a.arrays["scores/el2n"].to_vector();
    s[3] = std::nanf("");
    a.arrays["scores/el2n"] = from_vector(s, {16});
    std::string e = load_error(a, set);
    CHECK(test::contains(e, "'scores/el2n'"));
    CHECK(test::contains(e, "finite"));
    s[3] = INFINITY;
    a.arrays["scores/el2n"] = from_vector(s, {16});
    CHECK(test::contains(load_error(a, set), "finite"));
  }
  SUBCASE("a 2-D or short score array") {
    data::ArraysWithMeta a = scores_for(set);
    a.arrays["scores/yoco"] = full({16, 2}, 1.f);
    CHECK(test::contains(load_error(a, set), "entry 'scores/yoco' is f32[16,2], expected f32[16]"));
    a.arrays["scores/yoco"] = full({15}, 1.f);
    CHECK(test::contains(load_error(a, set), "entry 'scores/yoco'"));
  }
  SUBCASE("features of the wrong shape or with a NaN") {
    data::ArraysWithMeta a = scores_for(set);
    a.arrays["features"] = full({16}, 1.f);
    CHECK(test::contains(load_error(a, set), "entry 'features'"));
    a.arrays["features"] = full({16, 3}, std::nanf(""));
    CHECK(test::contains(load_error(a, set), "'features' holds nan"));
  }
  SUBCASE("no scores at all") {
    data::ArraysWithMeta a = scores_for(set);
    a.arrays.erase("scores/yoco");
    a.arrays.erase("scores/el2n");
    CHECK(test::contains(load_error(a, set), "no 'scores/<name>' entries"));
  }
}

TEST_CASE("load_score_table refuses meta that disagrees with the set or has the wrong types, in one line") {
  data::CondensedSet set = small_set();
  data::ArraysWithMeta a = scores_for(set);
  a.meta["ipc_from"] = 5;
  std::string e = load_error(a, set);
  CHECK(test::contains(e, "scores.npz: meta field 'ipc_from' is 5, expected 2"));
  a = scores_for(set);
  a.meta["factor"] = 1;
  CHECK(test::contains(load_error(a, set), "meta field 'factor' is 1, expected 2"));
  a = scores_for(set);
  a.meta["dataset"] = "cifar10";
  CHECK(test::contains(load_error(a, set), "meta field 'dataset' is 'cifar10'"));
  a = scores_for(set);
  a.meta["num_classes"] = "two";  // nlohmann's type_error must not leak out
  e = load_error(a, set);
  CHECK(test::contains(e, "meta field 'num_classes' is \"two\", expected an integer"));
  CHECK(e.find('\n') == std::string::npos);
  a = scores_for(set);
  a.meta.erase("num_classes");
  CHECK(test::contains(load_error(a, set), "meta field 'num_classes' is missing"));
  a = scores_for(set);
  a.meta["kind"] = 3;
  CHECK(test::contains(load_error(a, set), "meta field 'kind' is 3"));
  a = scores_for(set);
  a.meta["n"] = 17;
  CHECK(test::contains(load_error(a, set), "meta field 'n' is 17, expected 16"));
}

TEST_CASE("a set pruned by an imbalanced rule can be pruned again by any rule") {
  data::CondensedSet set = small_set();
  ScoreTable t;
  t.num_classes = 2, t.ipc_from = 2, t.factor = 2, t.dataset = "fashion-mnist";
  t.labels = data::decoded_dataset(set).labels.to_int_vector();
  t.difficulty["yoco"] = {8, 7, 6, 5, 4, 3, 2, 1, 9, 9, 9, 9, 0, 9, 9, 9};
  SelectSpec imb = parse_method("yoco_imbalance");
  data::CondensedSet p1 = make_pruned_set(set, select_indices(t, imb, 1, 0), imb, 1, 0, "a.npz");
  REQUIRE(p1.meta.class_counts == std::vector<int64_t>{7, 1});
  REQUIRE(p1.meta.ipc == 4);

  // Second round on the pruned set (factor 1, IPC 4 nominal, classes of 7 and 1).
  ScoreTable t2;
  t2.num_classes = 2, t2.ipc_from = p1.meta.ipc, t2.factor = 1, t2.dataset = "fashion-mnist";
  t2.labels = p1.labels.to_int_vector();
  t2.difficulty["yoco"] = {1, 2, 3, 4, 5, 6, 7, 0};
  t2.difficulty["el2n"] = {1, 2, 3, 4, 5, 6, 7, 0};

  // A balanced rule keeps 1 per class: the meta must drop the source's class_counts (it used to copy them, and
  // the new file failed its own check).
  SelectSpec bal = parse_method("yoco");
  data::CondensedSet p2 = make_pruned_set(p1, select_indices(t2, bal, 1, 0), bal, 1, 0, "p1.npz");
  CHECK(test::error_of([&] { data::check_set(p2, "p2"); }) == "<no error>");
  CHECK(p2.meta.class_counts.empty());
  CHECK(p2.meta.ipc == 1);
  // Provenance is a chain: this step, then the step p1 came from.
  CHECK(p2.meta.config["pruned_from"]["path"] == "p1.npz");
  CHECK(p2.meta.config["pruned_from"]["class_counts"] == std::vector<int64_t>{7, 1});
  CHECK(p2.meta.config["pruned_from"]["pruned_from"]["path"] == "a.npz");

  // A balanced rule that needs more than a class holds refuses, naming the class and its count.
  std::string e = test::error_of([&] { select_indices(t2, bal, 2, 0); });
  CHECK(test::contains(e, "class 1 has 1 sub-images, fewer than the 2"));
  // Imbalanced rules budget on the set's actual N (8): int(2/4 · 8) = 4, whatever the classes hold.
  for (const char* m : {"el2n", "random", "ccs", "yoco_imbalance", "ssp"}) {
    CAPTURE(m);
    SelectSpec s = parse_method(m);
    t2.features.assign(8 * 2, 0.f);
    for (int64_t i = 0; i < 8; ++i) t2.features[i * 2] = static_cast<float>(i);
    t2.feat_dim = 2;
    std::vector<int64_t> idx = select_indices(t2, s, 2, 0);
    if (std::string(m) != "ccs") CHECK(idx.size() == 4u);  // CCS's strata may hold fewer than the budget
    data::CondensedSet p3 = make_pruned_set(p1, idx, s, 2, 0, "p1.npz");
    CHECK(test::error_of([&] { data::check_set(p3, "p3"); }) == "<no error>");
  }
}

TEST_CASE("an imbalanced rule whose classes come out equal writes a balanced meta") {
  data::CondensedSet set = small_set();
  ScoreTable t;
  t.num_classes = 2, t.ipc_from = 2, t.factor = 2, t.dataset = "fashion-mnist";
  t.labels = data::decoded_dataset(set).labels.to_int_vector();
  t.difficulty["el2n"] = {0, 0, 0, 0, 9, 9, 9, 9, 0, 0, 0, 0, 9, 9, 9, 9};
  SelectSpec s = parse_method("el2n");  // hard, imbalanced: keeps the 8 hardest, 4 per class
  data::CondensedSet p = make_pruned_set(set, select_indices(t, s, 1, 0), s, 1, 0, "a.npz");
  CHECK(p.meta.class_counts.empty());
  CHECK(p.meta.ipc == 4);
  CHECK(test::error_of([&] { data::check_set(p, "p"); }) == "<no error>");
}

TEST_CASE("flag validators name the value and a readable bound; overflow is an error") {
  auto msg = [](const CLI::Validator& v, std::string s) { return v(s); };
  CHECK(msg(positive_int(), "3") == "");
  CHECK(msg(positive_int(), "-3") == "expected a positive integer, got '-3'");
  CHECK(msg(positive_int(), "0") == "expected a positive integer, got '0'");
  CHECK(msg(positive_int(), "2.5") == "expected a positive integer, got '2.5'");
  CHECK(test::contains(msg(positive_int(), "99999999999999999999"), "too large"));
  CHECK(msg(non_negative_int(), "0") == "");
  CHECK(msg(unsigned_int(), "18446744073709551615") == "");
  CHECK(test::contains(msg(unsigned_int(), "18446744073709551616"), "too large"));
  CHECK(msg(unsigned_int(), "-1") == "expected a non-negative integer, got '-1'");
  CHECK(msg(probability(), "0.5") == "");
  CHECK(msg(probability(), "1.5") == "expected a number in [0, 1], got '1.5'");
  CHECK(msg(probability(), "nan") == "expected a number in [0, 1], got 'nan'");
  CHECK(msg(positive_float(), "inf") == "expected a finite number > 0, got 'inf'");

  // Through CLI11: the message carries the flag's name, on one line.
  CLI::App app;
  int64_t epochs = 1;
  app.add_option("--epochs", epochs)->check(positive_int());
  std::vector<std::string> args = {"-3", "--epochs"};  // CLI11 parses a reversed vector
  try {
    app.parse(args);
    FAIL("no error");
  } catch (const CLI::ParseError& e) {
    CHECK(std::string(e.what()) == "--epochs: expected a positive integer, got '-3'");
  }
}

TEST_CASE("output locations are checked before any compute") {
  test::TempDir dir;
  CHECK(test::error_of([&] { check_output_file("-o", dir / "x.npz"); }) == "<no error>");
  CHECK(test::contains(test::error_of([&] { check_output_file("-o", dir / "missing/x.npz"); }),
                       "-o: cannot write '"));
  CHECK(test::contains(test::error_of([&] { check_output_file("--json", dir.p.string()); }),
                       "--json: '" + dir.p.string() + "' is a directory"));
  { std::ofstream(dir / "file") << "x"; }
  CHECK(test::contains(test::error_of([&] { check_output_file("-o", dir / "file/x.npz"); }), "is not a directory"));
  CHECK(test::error_of([&] { check_output_dir("-o", dir / "a/b/c"); }) == "<no error>");
  CHECK(!std::filesystem::exists(dir / "a"));  // checking creates nothing
  CHECK(test::contains(test::error_of([&] { check_output_dir("-o", dir / "file"); }), "is not a directory"));
  CHECK(test::contains(test::error_of([&] { check_output_dir("-o", dir / "file/sub"); }), "cannot create directory"));
}
