"""iogrid template `rl`: RLlib PPO on CartPole-v1, env runners on every node.

Contract (templates/README.md): IOGRID_OUTPUT_DIR, IOGRID_NODES, IOGRID_USE_GPU,
IOGRID_CHECKPOINT_DIR. IOGRID_NODES env runners of one CPU each (a CPU-only
node has exactly one, so one runner lands on each node); the PPO learner runs
in this driver process (on a GPU when IOGRID_USE_GPU=1). After the last
iteration the algorithm is checkpointed to IOGRID_CHECKPOINT_DIR/iogrid-rl.
"""

import json
import os
import time

import ray
from ray.rllib.algorithms.ppo import PPOConfig




def main():
    out_dir = os.environ["IOGRID_OUTPUT_DIR"]
    nodes = int(os.environ.get("IOGRID_NODES", "1"))
    use_gpu = os.environ.get("IOGRID_USE_GPU", "0") == "1"
    storage = os.environ["IOGRID_CHECKPOINT_DIR"]
    iterations = int(os.environ.get("IOGRID_RL_ITERATIONS", "6"))
    ray.init()
    t0 = time.time()
    config = (
        PPOConfig()
        .environment("CartPole-v1")
        .framework("torch")
        .env_runners(num_env_runners=nodes, num_cpus_per_env_runner=1, num_envs_per_env_runner=1,
                     rollout_fragment_length="auto")
        .learners(num_learners=0, num_gpus_per_learner=1 if use_gpu else 0)
        .training(train_batch_size_per_learner=2000, minibatch_size=250, num_epochs=6, lr=3e-4)
        .debugging(seed=0)
    )
    algo = config.build_algo()
    # Which nodes the remote env runners live on.
    runner_ips = algo.env_runner_group.foreach_env_runner(
        lambda runner: ray.util.get_node_ip_address(), local_env_runner=False)
    history = []
    for i in range(iterations):
        r = algo.train()
        ret = r["env_runners"].get("episode_return_mean")
        history.append({"iteration": i + 1, "episode_return_mean": ret,
                        "env_steps_sampled": r["env_runners"].get("num_env_steps_sampled_lifetime")})
        print(f"iteration {i + 1}: episode_return_mean={ret}", flush=True)
    ckpt_path = algo.save_to_path(os.path.join(storage, "iogrid-rl"))
    algo.stop()
    summary = {
        "template": "rl",
        "algorithm": "PPO",
        "env": "CartPole-v1",
        "iterations": iterations,
        "episode_return_mean": history[-1]["episode_return_mean"],
        "history": history,
        "env_runner_ips": runner_ips,
        "node_ips": sorted(set(runner_ips)),
        "checkpoint": str(ckpt_path),
        "use_gpu": use_gpu,
        "rl_seconds": round(time.time() - t0, 2),
    }
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True)
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
