// Reverse-mode autograd whose backward functions are written in engine ops, so gradients can be
// differentiated again (create_graph), as gradient matching needs.
#pragma once
#include <functional>
#include <string>
#include <vector>
#include "engine/tensor.h"

namespace yoco {

// grad_out: the gradient of the node's single output. needs[i]: whether input i needs a gradient.
// create_graph: whether this backward is itself being recorded (grad()'s flag), so that an op with a fused
// non-differentiable kernel can fall back to a composite one. Returns one tensor per input (an undefined Tensor
// where no gradient flows).
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_out, const std::vector<bool>& needs,
                                                     bool create_graph)>;

struct Node {
  std::string name;
  std::vector<Tensor> inputs;  // the op's differentiable inputs, with their own history
  BackwardFn backward;
};

// True when an op on these inputs must be recorded (grad mode on and some input requires grad).
bool needs_record(const std::vector<Tensor>& inputs);
// Attaches a Node to `out` when needs_record(inputs); returns `out` either way.
Tensor record(Tensor out, const char* name, std::vector<Tensor> inputs, BackwardFn backward);

// d(outputs)/d(inputs) contracted with grad_outputs (default: ones for scalar outputs).
// create_graph=true records the backward itself, so the results can be differentiated again.
// An input the outputs do not depend on gets a zero tensor when allow_unused, else an error.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool create_graph = false,
                         bool allow_unused = false);

// Accumulates d(output)/d(leaf) into leaf.grad() for every leaf that requires grad.
void backward(const Tensor& output, const Tensor& grad_output = Tensor());

}  // namespace yoco
