// Deterministic Lloyd k-means (euclidean), as the SSP baseline uses on penultimate ConvNet features.
#pragma once
#include <cstdint>
#include <vector>

namespace yoco::app {

// points: n × d row-major. Init: k distinct points drawn with Philox (seed); up to max_iter Lloyd steps, stopping
// when assignments no longer change. Empty clusters keep their previous centroid.
std::vector<float> kmeans(const std::vector<float>& points, int64_t n, int64_t d, int64_t k, uint64_t seed,
                          int64_t max_iter = 100);
// For each centroid, the index of the nearest point (ties: lowest index). The same point may be nearest to
// several centroids; callers decide what to do with duplicates.
std::vector<int64_t> nearest_to_centroids(const std::vector<float>& points, int64_t n, int64_t d,
                                          const std::vector<float>& centroids, int64_t k);

}  // namespace yoco::app
