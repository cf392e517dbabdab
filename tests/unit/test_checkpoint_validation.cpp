// Condensation checkpoints are checked against the run that resumes them: data (dataset, classes, image shape),
// settings, the numerics that change results, exactly the classes' arrays with their shapes, next_outer,
// loss_history and finite values; every refusal is one line naming the file and the field.
#include <doctest/doctest.h>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <limits>
#include "apps/common/condense.h"
#include "data/set_file.h"
#include "data/zip.h"
#include "engine/context.h"
#include "engine/ops.h"
#include "tests/unit/test_util.h"

using namespace yoco;
using namespace yoco::app;
using test::contains;
using test::error_of;

namespace {
CondenseConfig toy_config() {
  CondenseConfig c = default_condense_config("fashion-mnist", 1, 2);
  c.batch_real = 8, c.n_data = 16, c.batch_net = 8, c.niter = 2, c.inner = 2, c.progress = false;
  return c;
}

// A checkpoint of the 'mix' state (next_outer 0) or, with `outer`, after that many outer iterations.
struct Fixture {
  test::TempDir dir{"yoco_ckpt_test"};
  data::Dataset d = test::two_class_dataset(8, 5);
  CondenseConfig cfg = toy_config();
  std::string path = dir / "run.ckpt.npz";
  CondenseState st;
  explicit Fixture(int64_t outer = 0) {
    st = condense_init(d, cfg);
    if (outer > 0) {
      CondenseConfig part = cfg;
      part.niter = outer, part.inner = 1;
      cfg.inner = 1;
      REQUIRE(condense_run(d, part, st));
    }
    save_checkpoint(path, d, cfg, st);
  }
  // Loads the checkpoint, lets f change its arrays or meta, writes it back.
  void rewrite(const std::function<void(data::ArraysWithMeta&)>& f) const {
    data::ArraysWithMeta a = data::load_arrays_with_meta(path);
    f(a);
    data::save_arrays_with_meta(path, a.arrays, a.meta);
  }
  std::string refusal(const data::Dataset& train, const CondenseConfig& c) const {
    return error_of([&] { load_checkpoint(path, train, c); });
  }
  std::string refusal() const { return refusal(d, cfg); }
};

// One line naming the file and every part given.
void check_refusal(const std::string& e, const std::string& path, const std::vector<std::string>& parts) {
  INFO(e);
  CHECK(contains(e, path));
  CHECK(e.find('\n') == std::string::npos);
  for (const std::string& p : parts) CHECK(contains(e, p));
}
}  // namespace

TEST_CASE("a checkpoint from the same run loads, momentum and loss history included") {
  Fixture f(1);
  CondenseState s = load_checkpoint(f.path, f.d, f.cfg);
  CHECK(s.next_outer == 1);
  REQUIRE(s.stored.size() == 2);
  REQUIRE(s.momentum.size() == 2);
  CHECK(s.momentum[1].defined());
  CHECK(s.loss_history == f.st.loss_history);
}

TEST_CASE("a checkpoint of another dataset, class count or image shape is refused with the field named") {
  Fixture f;
  data::Dataset other = f.d;
  other.name = "mnist";
  check_refusal(f.refusal(other, f.cfg), f.path, {"dataset", "\"fashion-mnist\"", "\"mnist\""});
  data::Dataset three = f.d;
  three.num_classes = 3;
  check_refusal(f.refusal(three, f.cfg), f.path, {"num_classes = 2", "this run has 3"});
  data::Dataset big = f.d;
  big.height = big.width = 32;
  check_refusal(f.refusal(big, f.cfg), f.path, {"height = 28", "this run has 32"});
  data::Dataset rgb = f.d;
  rgb.channels = 3;
  check_refusal(f.refusal(rgb, f.cfg), f.path, {"channels = 1", "this run has 3"});
  CondenseConfig ipc2 = f.cfg;
  ipc2.ipc = 2;
  check_refusal(f.refusal(f.d, ipc2), f.path, {"ipc = 1", "this run has 2"});
  CondenseConfig factor3 = f.cfg;
  factor3.factor = 3;
  check_refusal(f.refusal(f.d, factor3), f.path, {"factor = 2", "this run has 3"});
}

TEST_CASE("stored arrays of the wrong shape, a missing class or an extra class are refused") {
  Fixture f;
  f.rewrite([](data::ArraysWithMeta& a) { a.arrays["stored/1"] = zeros({1, 1, 14, 14}); });
  check_refusal(f.refusal(), f.path, {"'stored/1'", "[1,1,14,14]", "[1,1,28,28]"});

  Fixture missing;
  missing.rewrite([](data::ArraysWithMeta& a) { a.arrays.erase("stored/1"); });
  check_refusal(missing.refusal(), missing.path, {"no 'stored/1'", "2 classes"});

  Fixture extra;
  extra.rewrite([](data::ArraysWithMeta& a) { a.arrays["stored/2"] = a.arrays.at("stored/0"); });
  check_refusal(extra.refusal(), extra.path, {"unexpected checkpoint array 'stored/2'"});

  Fixture odd;
  odd.rewrite([](data::ArraysWithMeta& a) { a.arrays["stored/01"] = a.arrays.at("stored/0"); });
  check_refusal(odd.refusal(), odd.path, {"'stored/01'"});
}

TEST_CASE("momentum must match the stored shapes and exist exactly once an outer iteration has run") {
  Fixture f(1);
  f.rewrite([](data::ArraysWithMeta& a) { a.arrays.erase("momentum/0"); });
  check_refusal(f.refusal(), f.path, {"lacks 'momentum/0'", "after 1 outer"});
  Fixture g(1);
  g.rewrite([](data::ArraysWithMeta& a) { a.arrays["momentum/1"] = zeros({2, 1, 28, 28}); });
  check_refusal(g.refusal(), g.path, {"'momentum/1'", "[2,1,28,28]"});
}

TEST_CASE("non-finite values, a bad next_outer or loss history, and missing keys are refused, never crash") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Fixture f(1);
  f.rewrite([&](data::ArraysWithMeta& a) {
    std::vector<float> v = a.arrays.at("stored/1").to_vector();
    v[5] = nan;
    a.arrays["stored/1"] = from_vector(v, a.arrays.at("stored/1").shape());
  });
  check_refusal(f.refusal(), f.path, {"'stored/1'", "non-finite", "element 5"});

  Fixture g(1);
  g.rewrite([&](data::ArraysWithMeta& a) {
    std::vector<float> v = a.arrays.at("momentum/0").to_vector();
    v[0] = std::numeric_limits<float>::infinity();
    a.arrays["momentum/0"] = from_vector(v, a.arrays.at("momentum/0").shape());
  });
  check_refusal(g.refusal(), g.path, {"'momentum/0'", "non-finite"});

  Fixture h(1);
  h.rewrite([](data::ArraysWithMeta& a) { a.meta["next_outer"] = 5; });
  check_refusal(h.refusal(), h.path, {"next_outer is 5", "[0, 2]"});
  h.rewrite([](data::ArraysWithMeta& a) { a.meta["next_outer"] = -1; });
  check_refusal(h.refusal(), h.path, {"next_outer is -1"});
  h.rewrite([](data::ArraysWithMeta& a) { a.meta.erase("next_outer"); });
  check_refusal(h.refusal(), h.path, {"next_outer is (missing)"});

  Fixture hist(1);
  hist.rewrite([](data::ArraysWithMeta& a) { a.meta["loss_history"] = {1.0, 2.0}; });
  check_refusal(hist.refusal(), hist.path, {"loss_history", "next_outer = 1", "2 entries"});
  hist.rewrite([](data::ArraysWithMeta& a) { a.meta["loss_history"] = {nullptr}; });  // how JSON writes a NaN
  check_refusal(hist.refusal(), hist.path, {"loss_history[0] is null"});

  Fixture keys;
  keys.rewrite([](data::ArraysWithMeta& a) { a.meta["config"].erase("dataset"); });
  check_refusal(keys.refusal(), keys.path, {"dataset = (missing)", "\"fashion-mnist\""});
  keys.rewrite([](data::ArraysWithMeta& a) { a.meta.erase("config"); });
  check_refusal(keys.refusal(), keys.path, {"no 'config'"});
  keys.rewrite([](data::ArraysWithMeta& a) { a.meta = nlohmann::json::array(); });
  check_refusal(keys.refusal(), keys.path, {"meta is not a JSON object"});
}

TEST_CASE("the numerics that change results must match: conv path and thread count, with either conv path") {
  Context& ctx = Context::get();
  const kernels::ConvAlgo saved = ctx.conv_algo;
  const int threads = ctx.num_threads();
  for (kernels::ConvAlgo algo : {kernels::ConvAlgo::Dnnl, kernels::ConvAlgo::Im2col}) {
    ctx.conv_algo = algo;
    const bool im2col = algo == kernels::ConvAlgo::Im2col;
    CAPTURE(im2col);
    Fixture f;
    f.rewrite([&](data::ArraysWithMeta& a) { a.meta["config"]["numerics"]["cpu_threads"] = threads + 3; });
    check_refusal(f.refusal(), f.path,
                  {"numerics.cpu_threads = " + std::to_string(threads + 3), "this run has " + std::to_string(threads)});
    f.rewrite([&](data::ArraysWithMeta& a) {
      a.meta["config"]["numerics"]["cpu_conv"] = im2col ? "onednn" : "im2col";
    });
    check_refusal(f.refusal(), f.path, {"numerics.cpu_conv"});
    f.rewrite([&](data::ArraysWithMeta& a) { a.meta["config"]["device"] = "cuda"; });
    check_refusal(f.refusal(), f.path, {"device = \"cuda\"", "\"cpu\""});
  }
  ctx.conv_algo = saved;
}

TEST_CASE("save_checkpoint refuses a state holding a NaN and leaves the previous file as it was") {
  Fixture f(1);
  const std::vector<char> before = data::read_file_bytes(f.path);
  CondenseState bad = f.st;
  bad.stored[1] = mul_scalar(bad.stored[1].detach(), std::numeric_limits<float>::quiet_NaN());
  check_refusal(error_of([&] { save_checkpoint(f.path, f.d, f.cfg, bad); }), f.path, {"'stored/1'", "non-finite"});
  CondenseState bad_loss = f.st;
  bad_loss.loss_history[0] = std::numeric_limits<double>::infinity();
  check_refusal(error_of([&] { save_checkpoint(f.path, f.d, f.cfg, bad_loss); }), f.path, {"loss_history[0]"});
  CHECK(data::read_file_bytes(f.path) == before);
}

TEST_CASE("fuzz regression inputs for checkpoints are refused in one line (the fuzz target's data and settings)") {
  // tests/fuzz/fixtures.cpp resumes on 2 classes of 1x8x8 "fashion-mnist" images, ipc 1, factor 1, seed 7.
  const char* root = std::getenv("YOCO_TEST_DATA");
  const std::filesystem::path dir = root ? std::filesystem::path(root) / "fuzz" / "checkpoint" : "";
  if (root == nullptr || !std::filesystem::is_directory(dir)) return;
  data::Dataset d;
  d.name = "fashion-mnist";
  d.num_classes = 2;
  d.channels = 1;
  d.height = d.width = 8;
  CondenseConfig cfg = default_condense_config("fashion-mnist", 1, 1);
  cfg.seed = 7;
  cfg.progress = false;
  int replayed = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    INFO(f.path().string());
    const std::string e = error_of([&] { load_checkpoint(f.path().string(), d, cfg); });
    CHECK(e != "<no error>");
    CHECK(e.find('\n') == std::string::npos);
    ++replayed;
  }
  CHECK(replayed > 0);
}
