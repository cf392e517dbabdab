// CPU-only build: CUDA graphs are refused with a clear error (see engine/cuda_graph.h).
#include "engine/cuda_graph.h"
#include "kernels/common.h"

namespace yoco {
CudaGraph::~CudaGraph() = default;
void CudaGraph::capture(const std::function<void()>&) { YOCO_CHECK(false, "CUDA graphs need a CUDA build"); }
void CudaGraph::replay() { YOCO_CHECK(false, "CUDA graphs need a CUDA build"); }
void CudaGraph::reset() {}
}  // namespace yoco
