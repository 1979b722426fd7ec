"""The PyTorch + transformers peer of `epalm bench epalm-eval`: the reference's
generation path.

The reference generates with transformers' generate() on its own OPT, whose
forward re-runs the whole sequence at every step (use_cache=False: its
injection cannot use a cache), beam search with 3 beams and max_length 30.
Here: OPTForCausalLM with its forward replaced by eP-ALM's injected forward
(epalm_torch.py; the features repeated for each beam as the reference tiles
them), generate(use_cache=False). Loads the OPT and ViT checkpoints epalm
wrote, the trainables and the left-padded questions, times the ViT features
plus generate() with the same thread count, and prints one JSON object on
stdout (see peer_timing.py) whose digest holds the generated sequences.
"""
import argparse
import json
import sys

from peer_timing import common_arguments, measure


def main():
    p = argparse.ArgumentParser()
    common_arguments(p)
    p.add_argument("--encoder", required=True)
    p.add_argument("--trainables", required=True)
    p.add_argument("--variant", required=True)
    p.add_argument("--num-beams", type=int, required=True)
    p.add_argument("--max-length", type=int, required=True)
    a = p.parse_args()

    import torch
    from safetensors.torch import load_file
    from transformers import OPTForCausalLM, ViTModel
    from transformers.modeling_outputs import CausalLMOutputWithPast

    from epalm_torch import epalm_forward

    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[a.dtype]
    device = torch.device(a.device)
    variant = json.loads(a.variant)
    trainables = {k: t.to(device) for k, t in load_file(a.trainables).items()}

    class ReferenceGeneration(OPTForCausalLM):
        """OPT whose forward is eP-ALM's: the whole sequence, every step."""
        features = None

        def forward(self, input_ids=None, attention_mask=None, **unused):
            rows = input_ids.shape[0]
            features = self.features.repeat_interleave(rows // self.features.shape[0], 0)
            logits = epalm_forward(self, variant, trainables, features, input_ids, attention_mask)
            return CausalLMOutputWithPast(logits=logits)

    decoder = ReferenceGeneration.from_pretrained(a.checkpoint, torch_dtype=dtype, attn_implementation="eager")
    encoder = ViTModel.from_pretrained(a.encoder, torch_dtype=dtype, attn_implementation="eager",
                                       add_pooling_layer=False)
    decoder, encoder = decoder.to(device).eval(), encoder.to(device).eval()
    inputs = {k: t.to(device) for k, t in load_file(a.inputs).items()}
    pixels = inputs["pixel_values"].to(dtype)
    levels = variant["levels"]
    blocks = encoder.config.num_hidden_layers

    @torch.no_grad()
    def once():
        hidden = encoder(pixel_values=pixels, output_hidden_states=True).hidden_states
        decoder.features = torch.stack([encoder.layernorm(hidden[b + 1][:, 0]) for b in range(blocks - levels, blocks)],
                                       1).float()
        return decoder.generate(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                                do_sample=False, num_beams=a.num_beams, max_length=a.max_length, length_penalty=1.0,
                                early_stopping=False, use_cache=False, pad_token_id=1, eos_token_id=2)

    result, sequences = measure(once, a.warmup, a.repetitions, device)
    result["digest"] = {"sequences": sequences.cpu().tolist()}
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
