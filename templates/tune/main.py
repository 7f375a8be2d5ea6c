"""iogrid template `tune`: Ray Tune grid search spread over every node.

Contract (templates/README.md): IOGRID_OUTPUT_DIR, IOGRID_NODES, IOGRID_USE_GPU,
IOGRID_CHECKPOINT_DIR. Each trial asks for one CPU (plus one GPU when
IOGRID_USE_GPU=1); a CPU-only node has exactly one, so the trials run one per
node. Concurrency is left to the cluster's resources, not fixed at the start:
nodes that join a running job (`iogrid job scale`) take the pending trials.
IOGRID_TUNE_SAMPLES repeats the grid (more trials). The experiment is
stored under IOGRID_CHECKPOINT_DIR/iogrid-tune; when that exists (a
restarted run) the Tuner resumes it, re-running only the trials that had not
finished.
"""

import json
import os
import time

import ray
import torch
from ray import tune

SEED = 0


def objective(config):
    torch.set_num_threads(1)
    device = "cuda" if config["use_gpu"] and torch.cuda.is_available() else "cpu"
    g = torch.Generator().manual_seed(SEED)
    x = torch.randn(4096, 8, generator=g)
    w = 0.5 * torch.randn(8, 1, generator=g)
    y = torch.tanh(x @ w) + 0.05 * torch.randn(4096, 1, generator=g)
    xt, yt, xv, yv = x[:3072].to(device), y[:3072].to(device), x[3072:].to(device), y[3072:].to(device)
    torch.manual_seed(SEED)
    model = torch.nn.Sequential(torch.nn.Linear(8, config["hidden"]), torch.nn.ReLU(),
                                torch.nn.Linear(config["hidden"], 1)).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=0.9)
    loss_fn = torch.nn.MSELoss()
    ip = ray.util.get_node_ip_address()
    for epoch in range(config["epochs"]):
        perm = torch.randperm(len(xt), generator=torch.Generator().manual_seed(SEED + epoch))
        for i in range(0, len(xt), 256):
            idx = perm[i:i + 256]
            opt.zero_grad()
            loss_fn(model(xt[idx]), yt[idx]).backward()
            opt.step()
        with torch.no_grad():
            val = loss_fn(model(xv), yv).item()
        tune.report({"val_loss": val, "epoch": epoch, "node_ip": ip})


def main():
    out_dir = os.environ["IOGRID_OUTPUT_DIR"]
    use_gpu = os.environ.get("IOGRID_USE_GPU", "0") == "1"
    storage = os.environ["IOGRID_CHECKPOINT_DIR"]
    ray.init()
    t0 = time.time()
    trainable = tune.with_resources(objective, {"cpu": 1, "gpu": 1} if use_gpu else {"cpu": 1})
    param_space = {
        "lr": tune.grid_search([0.003, 0.03]),
        "hidden": tune.grid_search([8, 64]),
        "epochs": int(os.environ.get("IOGRID_TUNE_EPOCHS", "40")),
        "use_gpu": use_gpu,
    }
    path = os.path.join(storage, "iogrid-tune")
    if tune.Tuner.can_restore(path):
        tuner = tune.Tuner.restore(path, trainable=trainable, resume_errored=True, param_space=param_space)
    else:
        tuner = tune.Tuner(
            trainable,
            param_space=param_space,
            tune_config=tune.TuneConfig(metric="val_loss", mode="min",
                                        num_samples=int(os.environ.get("IOGRID_TUNE_SAMPLES", "1"))),
            run_config=tune.RunConfig(name="iogrid-tune", storage_path=storage),
        )
    results = tuner.fit()
    best = results.get_best_result(metric="val_loss", mode="min")
    trials = []
    for r in results:
        if r.error is None:
            trials.append({"config": {k: r.config[k] for k in ("lr", "hidden")},
                           "val_loss": r.metrics["val_loss"], "node_ip": r.metrics["node_ip"]})
    summary = {
        "template": "tune",
        "best_config": {k: best.config[k] for k in ("lr", "hidden")},
        "best_val_loss": best.metrics["val_loss"],
        "trials": sorted(trials, key=lambda t: (t["config"]["lr"], t["config"]["hidden"])),
        "errored_trials": sum(1 for r in results if r.error is not None),
        "node_ips": sorted({t["node_ip"] for t in trials}),
        "use_gpu": use_gpu,
        "tune_seconds": round(time.time() - t0, 2),
    }
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True)
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
