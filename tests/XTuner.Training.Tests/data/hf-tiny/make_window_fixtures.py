"""Reference outputs from transformers for sliding windows and packed documents (issue 12).

Run where transformers and PyTorch are installed (the GPU machine has both; CPU is used, float32, eager attention):
    python3 tests/XTuner.Training.Tests/data/hf-tiny/make_window_fixtures.py OUTDIR
and copy OUTDIR/* into tests/XTuner.Training.Tests/data/hf-tiny/. It writes, in the format of the existing fixtures
(see reference.json of tiny-llama):
  tiny-mistral-window/  the tiny-llama weights as MistralForCausalLM with sliding_window 16 (48 tokens: the window
                        matters from position 16 on); reference.safetensors as for tiny-llama
  tiny-qwen2-windows/   the tiny-qwen2 weights with use_sliding_window, sliding_window 16, max_window_layers 1: layer 0
                        attends in full, layer 1 in the window
  documents.safetensors three documents of the tiny-llama reference's first row, each evaluated alone by
                        transformers: their token-mean loss is what a packed sequence with use_varlen_attn must give
"""
import json
import os
import shutil
import sys

import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
LR, BETAS, EPS, WEIGHT_DECAY = 1e-2, (0.9, 0.95), 1e-8, 0.1


def load(folder):
    model = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32, attn_implementation="eager")
    model.train()  # dropout is 0 in every tiny config; train() only keeps autograd's view the trainer has
    return model


def references(model, input_ids, labels):
    positions = torch.arange(input_ids.shape[1]).expand(input_ids.shape[0], -1)
    out = {"input_ids": input_ids, "labels": labels}
    with torch.no_grad():
        out["logits"] = model(input_ids, position_ids=positions).logits.float()
        out["logits_pos1000"] = model(input_ids, position_ids=positions + 1000).logits.float()
    result = model(input_ids, position_ids=positions, labels=labels)
    result.loss.backward()
    out["loss"] = result.loss.detach().reshape(1)
    named = dict(model.named_parameters())
    for name, p in named.items():
        out["grad." + name] = p.grad.detach().clone()
    optimizer = torch.optim.AdamW(named.values(), lr=LR, betas=BETAS, eps=EPS, weight_decay=WEIGHT_DECAY)
    optimizer.step()
    for name, p in named.items():
        out["after_adamw." + name] = p.detach().clone()
    return {k: v.contiguous() for k, v in out.items()}


def variant(source, target, outdir, edit):
    folder = os.path.join(outdir, target)
    os.makedirs(folder, exist_ok=True)
    config = json.load(open(os.path.join(HERE, source, "config.json")))
    edit(config)
    json.dump(config, open(os.path.join(folder, "config.json"), "w"), indent=2)
    shutil.copy(os.path.join(HERE, source, "model.safetensors"), folder)
    model = load(folder)
    base = load_file(os.path.join(HERE, source, "reference.safetensors"))
    save_file(references(model, base["input_ids"], base["labels"]), os.path.join(folder, "reference.safetensors"))
    note = json.load(open(os.path.join(HERE, source, "reference.json")))
    note["note"] = (f"reference outputs computed by transformers {transformers.__version__}, torch {torch.__version__}, float32, "
                    f"eager attention, causal mask with the config's sliding window, no padding; layer_types {getattr(model.config, 'layer_types', None)}")
    json.dump(note, open(os.path.join(folder, "reference.json"), "w"), indent=2)
    return model


def mistral(config):
    for key in ("attention_bias", "mlp_bias", "pretraining_tp"):
        config.pop(key, None)
    config.update(architectures=["MistralForCausalLM"], model_type="mistral", sliding_window=16)


def qwen2(config):
    config.pop("layer_types", None)  # derived from the three keys below, as transformers does for a config without it
    config.update(use_sliding_window=True, sliding_window=16, max_window_layers=1)


def documents(outdir):
    """Three documents cut from the tiny-llama reference's first row, each evaluated alone (positions from 0)."""
    model = load(os.path.join(HERE, "tiny-llama"))
    base = load_file(os.path.join(HERE, "tiny-llama", "reference.safetensors"))
    row = base["input_ids"][0]
    lengths = [11, 20, 17]
    assert sum(lengths) == row.shape[0]
    sums, counts, start = [], [], 0
    with torch.no_grad():
        for n in lengths:
            ids = row[start:start + n].unsqueeze(0)
            logits = model(ids, position_ids=torch.arange(n).unsqueeze(0)).logits.float()
            sums.append(torch.nn.functional.cross_entropy(logits[0, :-1], ids[0, 1:], reduction="sum"))
            counts.append(n - 1)
            start += n
    out = {
        "input_ids": row.unsqueeze(0).contiguous(),
        "lengths": torch.tensor(lengths, dtype=torch.int64),
        "loss_sums": torch.stack(sums).contiguous(),
        "target_counts": torch.tensor(counts, dtype=torch.int64),
        "loss": (torch.stack(sums).sum() / sum(counts)).reshape(1),
    }
    save_file(out, os.path.join(outdir, "tiny-llama", "documents.safetensors"))


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "hf-window-fixtures"
    os.makedirs(os.path.join(outdir, "tiny-llama"), exist_ok=True)
    m = variant("tiny-llama", "tiny-mistral-window", outdir, mistral)
    print("tiny-mistral-window", getattr(m.config, "layer_types", None), "sliding_window", m.config.sliding_window)
    q = variant("tiny-qwen2", "tiny-qwen2-windows", outdir, qwen2)
    assert list(q.config.layer_types) == ["full_attention", "sliding_attention"], q.config.layer_types
    print("tiny-qwen2-windows", q.config.layer_types)
    documents(outdir)
    print("documents: loss", load_file(os.path.join(outdir, "tiny-llama", "documents.safetensors"))["loss"].item())


if __name__ == "__main__":
    main()
