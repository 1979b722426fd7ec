"""transformers' view of a checkpoint the pretraining wrote, for the C++ tests.

usage: pretrained_peer.py KIND CHECKPOINT INPUTS OUTPUT
  KIND        opt | vit | timesformer | ast
  CHECKPOINT  the directory pretrain_decoder / pretrain_encoder wrote
  INPUTS      safetensors: opt: input_ids, attention_mask [B, T];
              encoders: inputs (pixel_values / input_values)
  OUTPUT      safetensors written here:
              opt: logits (OPTForCausalLM), and when CHECKPOINT/../lines.json
                   exists, token_ids_<i> of each line by AutoTokenizer on
                   CHECKPOINT (the tokenizer files copied beside the weights);
              encoders: hidden_state_<i> and last_hidden_state of the base model
                   (ViTModel, TimesformerModel, ASTModel) and logits of the
                   *ForClassification model, both loaded from CHECKPOINT.
"""
import json
import os
import sys

import torch
from safetensors.torch import load_file, save_file
import transformers


def main():
    kind, checkpoint, inputs_path, output = sys.argv[1:5]
    inputs = load_file(inputs_path)
    out = {}
    with torch.no_grad():
        if kind == "opt":
            model = transformers.OPTForCausalLM.from_pretrained(checkpoint, attn_implementation="eager").eval()
            out["logits"] = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits
            lines_path = os.path.join(os.path.dirname(checkpoint.rstrip("/")), "lines.json")
            if os.path.exists(lines_path):
                tokenizer = transformers.AutoTokenizer.from_pretrained(checkpoint)
                for i, line in enumerate(json.load(open(lines_path))):
                    out[f"token_ids_{i}"] = torch.tensor(tokenizer(line)["input_ids"], dtype=torch.int64)
        else:
            base, head = {
                "vit": (transformers.ViTModel, transformers.ViTForImageClassification),
                "timesformer": (transformers.TimesformerModel, transformers.TimesformerForVideoClassification),
                "ast": (transformers.ASTModel, transformers.ASTForAudioClassification),
            }[kind]
            kwargs = {"add_pooling_layer": False} if kind == "vit" else {}
            encoder = base.from_pretrained(checkpoint, attn_implementation="eager", **kwargs).eval()
            classifier = head.from_pretrained(checkpoint, attn_implementation="eager").eval()
            x = inputs["inputs"]
            result = encoder(x, output_hidden_states=True)
            for i, h in enumerate(result.hidden_states):
                out[f"hidden_state_{i}"] = h.contiguous()
            out["last_hidden_state"] = result.last_hidden_state.contiguous()
            out["logits"] = classifier(x).logits.contiguous()
    save_file({name: t.contiguous().clone() for name, t in out.items()}, output)  # some share storage
    print("pretrained_peer: ok", kind, transformers.__version__)


if __name__ == "__main__":
    main()
