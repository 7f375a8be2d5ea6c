"""iogrid template `train`: Ray Train TorchTrainer, DDP across every node.

Contract (templates/README.md): IOGRID_OUTPUT_DIR, IOGRID_NODES, IOGRID_USE_GPU,
IOGRID_CHECKPOINT_DIR. One training worker per node; each epoch rank 0 saves a
checkpoint under IOGRID_CHECKPOINT_DIR/<run name>; a rerun with the same
checkpoint dir resumes after the last checkpointed epoch, and a worker failure
(e.g. a node lost mid-run) restarts the worker group, which resumes from the
latest checkpoint, up to IOGRID_TRAIN_MAX_FAILURES times. The checkpoint to
resume from is the one Ray Train hands over (`ray.train.get_checkpoint()`) or,
when it hands over none, the newest complete one in the run's storage: on Ray
2.60 a worker group restarted after a lost node was seen starting from
scratch with epoch checkpoints already in storage.
"""

import json
import os
import tempfile
import time

import ray
import ray.train
import torch
from ray.train import Checkpoint, CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

SEED = 0
N_SAMPLES = 8192
N_FEATURES = 16


def make_data():
    g = torch.Generator().manual_seed(SEED)
    x = torch.randn(N_SAMPLES, N_FEATURES, generator=g)
    w = 0.3 * torch.randn(N_FEATURES, 1, generator=g)
    y = torch.sin(x @ w) + 0.1 * (x[:, :1] ** 2) + 0.01 * torch.randn(N_SAMPLES, 1, generator=g)
    return x, y


def load_state(directory):
    """The training state saved in `directory`, or None when it is missing or
    cut short (a node that died while writing it leaves a partial file)."""
    try:
        return torch.load(os.path.join(directory, "state.pt"), map_location="cpu")
    except Exception as e:  # noqa: BLE001 - any unreadable state is skipped
        print(f"skipping unreadable checkpoint {directory}: {e!r}")
        return None


def resume_state(run_dir):
    """The state to resume from: the checkpoint Ray Train hands over, else the
    newest readable one under `run_dir`; None to start afresh."""
    ckpt = ray.train.get_checkpoint()
    if ckpt is not None:
        with ckpt.as_directory() as d:
            state = load_state(d)
        if state is not None:
            return state
    if not os.path.isdir(run_dir):
        return None
    candidates = sorted(
        (d for d in os.listdir(run_dir) if d.startswith("checkpoint_")), reverse=True)
    for name in candidates:
        state = load_state(os.path.join(run_dir, name))
        if state is not None:
            return state
    return None


def train_loop(config):
    import torch.distributed as dist

    torch.set_num_threads(1)
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    torch.manual_seed(SEED)
    model = torch.nn.Sequential(
        torch.nn.Linear(N_FEATURES, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64),
        torch.nn.ReLU(), torch.nn.Linear(64, 1))
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    start_epoch = 0
    state = resume_state(config["run_dir"])
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        start_epoch = state["epoch"] + 1
    model = ray.train.torch.prepare_model(model)  # DDP; moves to GPU if any
    device = ray.train.torch.get_device()

    x, y = make_data()
    # This worker's shard: every world-th row, a fixed permutation per epoch.
    x, y = x[rank::world].to(device), y[rank::world].to(device)

    # Which nodes take part: gathered over the process group (gloo/NCCL), so it
    # also proves the workers talk to each other across nodes.
    ips = [None] * world
    dist.all_gather_object(ips, ray.util.get_node_ip_address())

    loss_fn = torch.nn.MSELoss()
    for epoch in range(start_epoch, config["epochs"]):
        g = torch.Generator().manual_seed(SEED + epoch)
        perm = torch.randperm(len(x), generator=g)
        total, n = 0.0, 0
        model.train()
        for i in range(0, len(x), config["batch_size"]):
            idx = perm[i:i + config["batch_size"]]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            n += len(idx)
        # Mean training loss over all workers.
        t = torch.tensor([total, n], dtype=torch.float64)
        dist.all_reduce(t)
        metrics = {"epoch": epoch, "loss": t[0].item() / t[1].item(), "node_ips": sorted(set(ips)),
                   "world_size": world, "resumed_from_epoch": start_epoch}
        with tempfile.TemporaryDirectory() as tmp:
            if rank == 0:
                torch.save({"model": model.module.state_dict() if hasattr(model, "module") else model.state_dict(),
                            "opt": opt.state_dict(), "epoch": epoch}, os.path.join(tmp, "state.pt"))
                with open(os.path.join(tmp, "metrics.json"), "w") as f:
                    json.dump(metrics, f)
                ray.train.report(metrics, checkpoint=Checkpoint.from_directory(tmp))
            else:
                ray.train.report(metrics)
        if config.get("epoch_sleep_s"):
            time.sleep(config["epoch_sleep_s"])  # lets a fault drill kill a node mid-run


def main():
    out_dir = os.environ["IOGRID_OUTPUT_DIR"]
    nodes = int(os.environ.get("IOGRID_NODES", "1"))
    use_gpu = os.environ.get("IOGRID_USE_GPU", "0") == "1"
    storage = os.environ["IOGRID_CHECKPOINT_DIR"]
    epochs = int(os.environ.get("IOGRID_TRAIN_EPOCHS", "6"))
    ray.init()
    t0 = time.time()
    trainer = TorchTrainer(
        train_loop,
        train_loop_config={"lr": 3e-3, "batch_size": 128, "epochs": epochs,
                           "epoch_sleep_s": float(os.environ.get("IOGRID_TRAIN_EPOCH_SLEEP_S", "0")),
                           "run_dir": os.path.join(storage, "iogrid-train")},
        scaling_config=ScalingConfig(
            num_workers=nodes, use_gpu=use_gpu,
            resources_per_worker={"GPU": 1, "CPU": 1} if use_gpu else {"CPU": 1},
            placement_strategy="SPREAD"),
        run_config=RunConfig(
            name="iogrid-train", storage_path=storage,
            checkpoint_config=CheckpointConfig(num_to_keep=2),
            failure_config=FailureConfig(max_failures=int(os.environ.get("IOGRID_TRAIN_MAX_FAILURES", "3")))),
    )
    result = trainer.fit()
    m = result.metrics or {}
    if "loss" not in m and result.checkpoint is not None:
        # Rerun of a finished run: nothing left to train, the last checkpoint's
        # metrics stand.
        with result.checkpoint.as_directory() as d:
            m = json.load(open(os.path.join(d, "metrics.json")))
    summary = {
        "template": "train",
        "final_loss": m["loss"],
        "epochs": m["epoch"] + 1,
        "resumed_from_epoch": m["resumed_from_epoch"],
        "world_size": m["world_size"],
        "node_ips": m["node_ips"],
        "checkpoint": result.checkpoint.path if result.checkpoint else None,
        "use_gpu": use_gpu,
        "train_seconds": round(time.time() - t0, 2),
    }
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True)
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
