#!/usr/bin/python3
"""Runs the engine benchmark (apps/bench) and the same cases in PyTorch, in one run on one machine, and prints
the engine/PyTorch ratio table. PyTorch here is only a reference; the engine never uses it.

Usage: bench/compare.py [--bench build/apps/bench/bench] [--device cpu|cuda] [--reps 10] [--out docs/bench.json]
                        [--graph] [--tf32 off|on] [--torch-deterministic off|on]
--tf32 (CUDA) sets the precision of both sides: off (default) is FP32 everywhere, on lets both use TF32.
--torch-deterministic (CUDA) on restricts PyTorch to deterministic cuDNN algorithms, as the engine always is
(bitwise reproducible runs); off (default) leaves PyTorch free to pick faster non-deterministic ones.
--graph (CUDA) adds the engine's CUDA-graph replay rows (<case>+graph), each compared with PyTorch eager of
the same case.
Run through bench/run.sh on CPU so PyTorch gets 2 threads and the allocator settings from the issue.
"""
import argparse, json, os, statistics, subprocess, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F


def convnet(channels, size, width=128, depth=3, classes=10):
    layers, c, s = [], channels, size
    for d in range(depth):
        pad = 3 if (d == 0 and channels == 1 and size == 28) else 1
        layers += [nn.Conv2d(c, width, 3, padding=pad), nn.GroupNorm(width, width, affine=True), nn.ReLU(inplace=True),
                   nn.AvgPool2d(2, 2)]
        s = (s + 2 * pad - 2) // 2
        c = width
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(width * s * s, classes))


def sync(dev):
    if dev == "cuda":
        torch.cuda.synchronize()


def sgd_step(opt, loss):
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def time_it(fn, reps, warmup, dev):
    for _ in range(warmup):
        fn()
    sync(dev)
    ms = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync(dev)
        ms.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ms), min(ms)


def train_case(channels, size, batch, dev):
    net = convnet(channels, size).to(dev)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.rand(batch, channels, size, size, device=dev) * 2 - 1
    y = torch.arange(batch, device=dev) % 10

    def step():
        loss = F.cross_entropy(net(x), y)
        sgd_step(opt, loss)
        loss.item()
    return step


def match_case(channels, size, n_real, n_syn, dev):
    net = convnet(channels, size).to(dev)
    xr = torch.rand(n_real, channels, size, size, device=dev) * 2 - 1
    xs = (torch.rand(n_syn, channels, size, size, device=dev) * 2 - 1).requires_grad_(True)
    yr = torch.full((n_real,), 3, device=dev)
    ys = torch.full((n_syn,), 3, device=dev)
    ws = [p for p in net.parameters() if p.dim() == 4]

    def step():
        gr = torch.autograd.grad(F.cross_entropy(net(xr), yr), ws)
        gs = torch.autograd.grad(F.cross_entropy(net(xs), ys), ws, create_graph=True)
        d = sum((a.detach() - b).abs().sum() for a, b in zip(gr, gs))
        gx, = torch.autograd.grad(d, xs)
        gx.sum().item()
    return step


def decode(stored, f=2):
    """IDC decode_zoom (single): f*f crops, quadrant-major, bilinear back to full size."""
    n, c, h, w = stored.shape
    s = h // f
    crops = [stored[:, :, i * s:(i + 1) * s, j * s:(j + 1) * s] for i in range(f) for j in range(f)]
    return F.interpolate(torch.cat(crops), size=(h, w), mode="bilinear", align_corners=False)


def inner_case(dev):
    net = convnet(1, 28).to(dev)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    stored = [torch.rand(10, 1, 28, 28, device=dev).requires_grad_(True) for _ in range(10)]
    img_opts = [torch.optim.SGD([s], lr=1e-4, momentum=0.5) for s in stored]
    xr = torch.rand(64, 1, 28, 28, device=dev) * 2 - 1
    y_net = torch.arange(64, device=dev) % 10
    ws = [p for p in net.parameters() if p.dim() == 4]

    def step():
        for k in range(10):
            yr = torch.full((64,), k, device=dev)
            ys = torch.full((40,), k, device=dev)
            gr = torch.autograd.grad(F.cross_entropy(net(xr), yr), ws)
            xs = (decode(stored[k]) - 0.2861) / 0.3530
            gs = torch.autograd.grad(F.cross_entropy(net(xs), ys), ws, create_graph=True)
            d = sum((a.detach() - b).abs().sum() for a, b in zip(gr, gs))
            img_opts[k].zero_grad(set_to_none=True)
            d.backward(inputs=[stored[k]])
            img_opts[k].step()
        for _ in range(8):
            sgd_step(opt, F.cross_entropy(net(xr), y_net))
        stored[0].sum().item()
    return step


def diff_aug(x):
    """IDC's DiffAug, color_crop_flip_scale_rotate with batch=False (misc/augment.py): flip and colour always, then
    one of crop / scale / rotate per call, every parameter drawn per sample on x's device."""
    n, c, h, w = x.shape
    dev = x.device
    r = lambda: torch.rand(n, 1, 1, 1, device=dev)
    x = torch.where(r() < 0.5, x.flip(3), x)
    x = x + (r() - 0.5) * 1.0
    m = x.mean(dim=1, keepdim=True)
    x = (x - m) * (r() * 2.0) + m
    m = x.mean(dim=[1, 2, 3], keepdim=True)
    x = (x - m) * (r() + 0.5) + m
    op = ["crop", "scale", "rotate"][int(torch.randint(3, (1,)))]
    if op == "crop":  # integer shifts with a 1-px zero pad and clamped indices, gathered with index tensors
        s = int(h * 0.125 + 0.5)
        tx = torch.randint(-s, s + 1, (n, 1, 1), device=dev)
        ty = torch.randint(-s, s + 1, (n, 1, 1), device=dev)
        gb, gx, gy = torch.meshgrid(torch.arange(n, device=dev), torch.arange(h, device=dev),
                                    torch.arange(w, device=dev), indexing="ij")
        gx = torch.clamp(gx + tx + 1, 0, h + 1)
        gy = torch.clamp(gy + ty + 1, 0, w + 1)
        xp = F.pad(x, [1, 1, 1, 1])
        return xp.permute(0, 2, 3, 1).contiguous()[gb, gx, gy].permute(0, 3, 1, 2)
    theta = torch.zeros(n, 2, 3, device=dev)
    if op == "scale":
        theta[:, 0, 0] = torch.rand(n, device=dev) * (1.2 - 1 / 1.2) + 1 / 1.2
        theta[:, 1, 1] = torch.rand(n, device=dev) * (1.2 - 1 / 1.2) + 1 / 1.2
    else:
        a = (torch.rand(n, device=dev) - 0.5) * 2 * 15 / 180 * 3.141592653589793
        theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = a.cos(), -a.sin(), a.sin(), a.cos()
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False)


def aug_case(dev, n_set=640, batch=64):
    """The apps' training step (IDC's evaluation / YOCO's scoring run): a batch gathered from a set kept on the
    device, normalised, DiffAug per sample, CutMix with p = 0.5 (rand_bbox, loss weighted by the kept area)."""
    net = convnet(1, 28).to(dev)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    images = torch.rand(n_set, 1, 28, 28, device=dev)
    labels = torch.arange(n_set, device=dev) % 10
    state = {"step": 0, "order": None}

    def step():
        k = state["step"] % (n_set // batch)
        if k == 0:
            state["order"] = torch.randperm(n_set, device=dev)
        state["step"] += 1
        idx = state["order"][k * batch:(k + 1) * batch]
        x = (images[idx] - 0.2861) / 0.3530
        y = labels[idx]
        x = diff_aug(x)
        if float(torch.rand(1)) < 0.5:
            lam = float(torch.rand(1))  # Beta(1, 1)
            perm = torch.randperm(batch, device=dev)
            cut_rat = (1.0 - lam) ** 0.5
            ch, cw = int(28 * cut_rat), int(28 * cut_rat)
            cx, cy = int(torch.randint(28, (1,))), int(torch.randint(28, (1,)))
            x1, x2 = max(cx - ch // 2, 0), min(cx + ch // 2, 28)
            y1, y2 = max(cy - cw // 2, 0), min(cy + cw // 2, 28)
            x[:, :, x1:x2, y1:y2] = x[perm, :, x1:x2, y1:y2]
            ratio = 1 - (x2 - x1) * (y2 - y1) / (28 * 28)
            out = net(x)
            loss = F.cross_entropy(out, y) * ratio + F.cross_entropy(out, y[perm]) * (1 - ratio)
        else:
            loss = F.cross_entropy(net(x), y)
        sgd_step(opt, loss)
        loss.item()
    return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", default="build/apps/bench/bench")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--real", type=int, default=64)
    ap.add_argument("--syn", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="")
    ap.add_argument("--graph", action="store_true", help="also time the engine's CUDA-graph replays (CUDA only)")
    ap.add_argument("--tf32", choices=["off", "on"], default="off",
                    help="CUDA precision of BOTH sides: off = FP32 convolutions and matmuls (the engine's default; "
                         "PyTorch's own default runs cuDNN convolutions in TF32), on = TF32 allowed in both")
    ap.add_argument("--torch-deterministic", choices=["off", "on"], default="off",
                    help="CUDA: on = PyTorch uses deterministic cuDNN algorithms only, as the engine always does "
                         "(same reproducibility on both sides); off = PyTorch's default")
    ap.add_argument("--conv-search", choices=["heuristic", "measured"], default="heuristic",
                    help="CUDA convolution algorithm choice on BOTH sides: heuristic = cuDNN's heuristics (both "
                         "defaults), measured = timed per shape (engine --conv-search measured, PyTorch "
                         "cudnn.benchmark = True)")
    a = ap.parse_args()
    torch.backends.cudnn.deterministic = a.torch_deterministic == "on"
    torch.backends.cudnn.benchmark = a.conv_search == "measured"
    # Same arithmetic on both sides, or the ratio compares precisions rather than implementations.
    torch.backends.cudnn.allow_tf32 = a.tf32 == "on"
    torch.backends.cuda.matmul.allow_tf32 = a.tf32 == "on"
    if a.device == "cpu":
        torch.set_num_threads(a.threads)
    cases = {"train28": (1, 28, False), "train32": (3, 32, False), "match28": (1, 28, True), "match32": (3, 32, True),
             "inner28": (1, 28, None), "score28": (1, 28, False), "aug28": (1, 28, "aug")}

    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    eng_json = "/tmp/yoco_bench_%d.json" % os.getpid()
    cmd = [a.bench, "--device", a.device, "--reps", str(a.reps), "--warmup", str(a.warmup), "--batch", str(a.batch),
           "--real", str(a.real), "--syn", str(a.syn), "--json", eng_json]
    if a.graph:
        cmd.append("--graph")
    if a.tf32 == "on":
        cmd.append("--allow-tf32")
    if a.device == "cuda":
        cmd += ["--conv-search", a.conv_search, "--conv-plans"]
    print("engine:", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, env=env)
    engine = {r["case"]: r for r in json.load(open(eng_json))}
    os.remove(eng_json)

    rows = []
    for name, (c, s, matching) in cases.items():
        if matching is None:
            fn = inner_case(a.device)
        elif matching == "aug":
            fn = aug_case(a.device)
        elif matching:
            fn = match_case(c, s, a.real, a.syn, a.device)
        else:
            fn = train_case(c, s, 64 if name == "score28" else a.batch, a.device)
        t_med, t_min = time_it(fn, a.reps, a.warmup, a.device)
        e = engine[name]
        rows.append({"case": name, "what": e["what"], "engine_ms": e["median_ms"], "torch_ms": t_med,
                     "ratio": e["median_ms"] / t_med, "engine_peak_mib": e["peak_mib"],
                     "engine_host_waits_per_step": e.get("host_waits_per_step", 0.0)})
        g = engine.get(name + "+graph")
        if g is not None and "error" in g:
            print("%s+graph: capture failed: %s" % (name, g["error"]))
        elif g is not None:  # graph replay vs PyTorch eager of the same case
            rows.append({"case": g["case"], "what": g["what"], "engine_ms": g["median_ms"], "torch_ms": t_med,
                         "ratio": g["median_ms"] / t_med, "engine_peak_mib": g["peak_mib"], "graph": True})
    dev_name = torch.cuda.get_device_name() if a.device == "cuda" else "CPU, %d threads" % a.threads
    print("\n| case | what | engine ms | PyTorch %s ms | ratio engine/PyTorch | engine peak MiB |" % torch.__version__)
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print("| %s | %s | %.1f | %.1f | %.2f | %.1f |" % (r["case"], r["what"], r["engine_ms"], r["torch_ms"],
                                                        r["ratio"], r["engine_peak_mib"]))
    print("(%s, median of %d runs after %d warm-up%s)" % (dev_name, a.reps, a.warmup,
          ", TF32 %s on both sides, conv algorithm search %s on both sides, PyTorch deterministic %s"
          % (a.tf32, a.conv_search, a.torch_deterministic)
          if a.device == "cuda" else ""))
    if a.device == "cuda":  # a host wait inside a step keeps the host from queueing the next kernels early
        print("engine host waits per step: " + ", ".join(
            "%s %.1f" % (r["case"], r["engine_host_waits_per_step"]) for r in rows if "engine_host_waits_per_step" in r))
    for r in rows:
        if r["case"] in ("score28", "score28+graph"):
            print("scoring throughput%s: engine %.0f img/s, PyTorch %.0f img/s" % (
                " (engine CUDA graph)" if r.get("graph") else "", 64e3 / r["engine_ms"], 64e3 / r["torch_ms"]))
    if a.out:
        json.dump({"device": dev_name, "torch": torch.__version__, "tf32": a.tf32,
                   "torch_deterministic": a.torch_deterministic, "conv_search": a.conv_search,
                   "rows": rows}, open(a.out, "w"), indent=2)


if __name__ == "__main__":
    main()
