// Graph walk for grad()/backward(): prunes to the nodes that reach the requested inputs, then runs the
// recorded backward functions in a deterministic topological order (recording them when create_graph).
#include "engine/autograd.h"
#include <deque>
#include <unordered_map>
#include <unordered_set>
#include "engine/context.h"
#include "engine/ops.h"

namespace yoco {

bool needs_record(const std::vector<Tensor>& inputs) {
  if (!Context::get().grad_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Tensor record(Tensor out, const char* name, std::vector<Tensor> inputs, BackwardFn backward) {
  if (!needs_record(inputs)) return out;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  out.impl()->grad_fn = std::move(node);
  return out;
}

namespace {

struct Walk {
  std::unordered_set<const Node*> target_nodes;       // non-leaf inputs asked for
  std::unordered_set<const TensorImpl*> target_leaves;  // leaf inputs asked for
  std::unordered_map<const Node*, bool> useful;       // node reaches a target
  std::vector<const Node*> order;                     // DFS discovery order (deterministic)
  bool collect_all_leaves = false;                     // backward(): every leaf that requires grad
  std::vector<Tensor> leaves_found;

  bool input_is_target(const Tensor& t) const {
    if (!t.defined() || !t.requires_grad()) return false;
    if (t.grad_fn()) return target_nodes.count(t.grad_fn().get()) > 0;
    return target_leaves.count(t.impl()) > 0;
  }

  // Iterative post-order DFS computing `useful` for every node reachable from `root`.
  void visit(const Node* root) {
    if (useful.count(root)) return;
    std::vector<std::pair<const Node*, size_t>> stack{{root, 0}};
    useful[root] = false;
    order.push_back(root);
    while (!stack.empty()) {
      auto& [node, i] = stack.back();
      if (i < node->inputs.size()) {
        const Tensor& in = node->inputs[i++];
        if (!in.defined() || !in.requires_grad()) continue;
        if (in.grad_fn()) {
          const Node* child = in.grad_fn().get();
          if (!useful.count(child)) {
            useful[child] = false;
            order.push_back(child);
            stack.push_back({child, 0});
          }
        } else if (collect_all_leaves && !target_leaves.count(in.impl())) {
          target_leaves.insert(in.impl());
          leaves_found.push_back(in);
        }
        continue;
      }
      bool u = false;
      for (const Tensor& in : node->inputs) {
        if (!in.defined() || !in.requires_grad()) continue;
        if (input_is_target(in) || (in.grad_fn() && useful[in.grad_fn().get()])) u = true;
      }
      useful[node] = u;
      stack.pop_back();
    }
  }
};

Tensor accumulate(const Tensor& acc, const Tensor& g) { return acc.defined() ? add(acc, g) : g; }

// Core walk: returns the gradient for every target (leaf impl or node) that was reached.
void run_backward(Walk& w, const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
                  bool create_graph, std::unordered_map<const Node*, Tensor>& node_grad,
                  std::unordered_map<const TensorImpl*, Tensor>& leaf_grad) {
  GradModeGuard mode(create_graph);
  for (const Tensor& o : outputs)
    if (o.grad_fn()) w.visit(o.grad_fn().get());

  auto feeds = [&](const Tensor& in) {
    return in.defined() && in.requires_grad() &&
           (w.input_is_target(in) || (in.grad_fn() && w.useful[in.grad_fn().get()]));
  };
  // Dependencies: number of useful consumers of each useful node.
  std::unordered_map<const Node*, int> deps;
  for (const Node* n : w.order) {
    if (!w.useful[n] && !w.target_nodes.count(n)) continue;
    for (const Tensor& in : n->inputs)
      if (feeds(in) && in.grad_fn()) ++deps[in.grad_fn().get()];
  }
  // Seed.
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& o = outputs[i];
    YOCO_CHECK(o.defined() && o.requires_grad(), "grad: output ", i, " does not require grad (", o.str(), ")");
    Tensor g = i < grad_outputs.size() && grad_outputs[i].defined() ? grad_outputs[i] : Tensor();
    if (!g.defined()) {
      YOCO_CHECK(o.numel() == 1, "grad: output ", i, " is not a scalar (", o.str(), "); pass grad_outputs");
      g = full(o.shape(), 1.f, o.device());
    }
    YOCO_CHECK(g.shape() == o.shape(), "grad: grad_output ", g.str(), " does not match output ", o.str());
    if (o.grad_fn())
      node_grad[o.grad_fn().get()] = accumulate(node_grad[o.grad_fn().get()], g);
    else
      leaf_grad[o.impl()] = accumulate(leaf_grad[o.impl()], g);
  }
  std::deque<const Node*> ready;
  for (const Node* n : w.order)
    if ((w.useful[n] || w.target_nodes.count(n)) && deps[n] == 0) ready.push_back(n);
  while (!ready.empty()) {
    const Node* n = ready.front();
    ready.pop_front();
    if (!w.useful[n]) continue;  // a target that leads nowhere further
    auto it = node_grad.find(n);
    Tensor g = it != node_grad.end() ? it->second : Tensor();
    std::vector<bool> needs(n->inputs.size());
    bool any = false;
    for (size_t i = 0; i < n->inputs.size(); ++i) any |= (needs[i] = feeds(n->inputs[i]));
    std::vector<Tensor> grads;
    if (g.defined() && any) {
      grads = n->backward(g, needs, create_graph);
      YOCO_CHECK(grads.size() == n->inputs.size(), "backward of ", n->name, " returned ", grads.size(),
                 " gradients for ", n->inputs.size(), " inputs");
    }
    if (!w.target_nodes.count(n)) node_grad.erase(n);  // free intermediate gradients early
    for (size_t i = 0; i < n->inputs.size(); ++i) {
      if (!needs[i]) continue;
      const Tensor& in = n->inputs[i];
      if (i < grads.size() && grads[i].defined()) {
        YOCO_CHECK(grads[i].shape() == in.shape(), "backward of ", n->name, ": gradient ", grads[i].str(),
                   " for input ", i, " of shape ", shape_str(in.shape()));
        if (in.grad_fn())
          node_grad[in.grad_fn().get()] = accumulate(node_grad[in.grad_fn().get()], grads[i]);
        else
          leaf_grad[in.impl()] = accumulate(leaf_grad[in.impl()], grads[i]);
      }
      if (in.grad_fn() && --deps[in.grad_fn().get()] == 0) ready.push_back(in.grad_fn().get());
    }
  }
}

}  // namespace

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool create_graph, bool allow_unused) {
  Walk w;
  for (const Tensor& t : inputs) {
    YOCO_CHECK(t.defined() && t.requires_grad(), "grad: an input does not require grad (", t.str(), ")");
    if (t.grad_fn())
      w.target_nodes.insert(t.grad_fn().get());
    else
      w.target_leaves.insert(t.impl());
  }
  std::unordered_map<const Node*, Tensor> node_grad;
  std::unordered_map<const TensorImpl*, Tensor> leaf_grad;
  run_backward(w, outputs, grad_outputs, create_graph, node_grad, leaf_grad);
  std::vector<Tensor> result;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    Tensor g = t.grad_fn() ? node_grad[t.grad_fn().get()] : leaf_grad[t.impl()];
    if (!g.defined()) {
      YOCO_CHECK(allow_unused, "grad: input ", i, " (", t.str(), ") is not used by the outputs");
      g = zeros(t.shape(), DType::F32, t.device());
    }
    result.push_back(g);
  }
  return result;
}

void backward(const Tensor& output, const Tensor& grad_output) {
  Walk w;
  w.collect_all_leaves = true;
  std::unordered_map<const Node*, Tensor> node_grad;
  std::unordered_map<const TensorImpl*, Tensor> leaf_grad;
  if (!output.grad_fn() && output.requires_grad()) {
    w.target_leaves.insert(output.impl());
    w.leaves_found.push_back(output);
  }
  run_backward(w, {output}, {grad_output}, false, node_grad, leaf_grad);
  NoGradGuard no_grad;
  for (Tensor& leaf : w.leaves_found) {
    Tensor g = leaf_grad[leaf.impl()];
    if (!g.defined()) continue;
    Tensor prev = leaf.grad();
    leaf.set_grad(prev.defined() ? add(prev, g) : g.detach());
  }
}

}  // namespace yoco
