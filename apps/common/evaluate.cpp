// Evaluation protocol (see evaluate.h).
#include "apps/common/evaluate.h"
#include <cmath>
#include <cstdio>

namespace yoco::app {

std::pair<double, double> mean_std(const std::vector<double>& v) {
  if (v.empty()) return {0, 0};
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= static_cast<double>(v.size());
  for (double x : v) s += (x - m) * (x - m);
  return {m, std::sqrt(s / static_cast<double>(v.size()))};
}

nlohmann::json EvalSummary::to_json() const {
  nlohmann::json runs_j = nlohmann::json::array();
  for (const TrainResult& r : runs) {
    nlohmann::json ev = nlohmann::json::array();
    for (const EvalPoint& p : r.evals) ev.push_back({{"epoch", p.epoch}, {"accuracy", p.accuracy * 100}});
    runs_j.push_back({{"best", r.best * 100}, {"last", r.last * 100}, {"evals", ev}, {"seconds", r.seconds},
                      {"images_per_sec", r.images_per_sec}, {"final_loss", r.final_loss}});
  }
  return {{"best_mean", best_mean}, {"best_std", best_std}, {"last_mean", last_mean}, {"last_std", last_std},
          {"seconds", seconds},     {"runs", runs_j}};
}

EvalSummary evaluate_dataset(const data::Dataset& train, const data::Dataset& test, const EvalOptions& opt) {
  YOCO_CHECK(opt.repeat >= 1, "--repeat must be >= 1, got ", opt.repeat);
  YOCO_CHECK(train.channels == test.channels && train.height == test.height && train.num_classes == test.num_classes,
             "training set (", train.channels, "x", train.height, ", ", train.num_classes,
             " classes) does not match the test set (", test.channels, "x", test.height, ", ", test.num_classes, ")");
  auto run = [&](int64_t r) {
    ConvNetConfig nc = convnet_for(train);
    nc.depth = opt.depth;
    nc.width = opt.width;
    nc.norm = opt.norm;
    TrainConfig tc = opt.train;
    tc.seed = opt.train.seed + static_cast<uint64_t>(r);
    tc.label = opt.repeat > 1 ? "[run " + std::to_string(r + 1) + "/" + std::to_string(opt.repeat) + "] " : "";
    ConvNet net(nc, tc.seed, opt.device);
    TrainResult res = train_model(net, train, &test, tc);
    std::fprintf(stderr, "%sbest %.2f%% last %.2f%% (%s, %.0f img/s)\n", tc.label.c_str(), res.best * 100,
                 res.last * 100, format_duration(res.seconds).c_str(), res.images_per_sec);
    return res;
  };
  std::vector<TrainResult> results(static_cast<size_t>(opt.repeat));
  if (opt.comm && opt.comm->distributed()) {
    // Runs spread over the ranks; each result travels as JSON (floats widened to doubles and back: exact).
    opt.comm->run_queue(
        opt.repeat,
        [&](int64_t r) {
          const TrainResult res = run(r);
          nlohmann::json ev = nlohmann::json::array();
          for (const EvalPoint& p : res.evals) ev.push_back({p.epoch, p.accuracy});
          return nlohmann::json{{"best", res.best}, {"last", res.last}, {"seconds", res.seconds},
                                {"ips", res.images_per_sec}, {"loss", res.final_loss}, {"evals", ev}}
              .dump();
        },
        [&](int64_t r, const std::string& msg) {
          const nlohmann::json j = nlohmann::json::parse(msg);
          TrainResult& res = results[static_cast<size_t>(r)];
          res.best = j["best"].get<float>(), res.last = j["last"].get<float>();
          res.seconds = j["seconds"].get<double>(), res.images_per_sec = j["ips"].get<double>();
          res.final_loss = j["loss"].get<float>();
          for (const auto& p : j["evals"]) res.evals.push_back({p[0].get<int64_t>(), p[1].get<float>()});
        });
    if (opt.comm->rank() != 0) return {};
  } else {
    for (int64_t r = 0; r < opt.repeat; ++r) results[static_cast<size_t>(r)] = run(r);
  }
  EvalSummary s;
  std::vector<double> best, last;
  for (const TrainResult& res : results) {
    best.push_back(res.best * 100);
    last.push_back(res.last * 100);
    s.seconds += res.seconds;
    s.runs.push_back(res);
  }
  std::tie(s.best_mean, s.best_std) = mean_std(best);
  std::tie(s.last_mean, s.last_std) = mean_std(last);
  return s;
}

}  // namespace yoco::app
