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

from epalm_peer import cls_features, epalm_arguments, load_epalm_peer
from peer_timing import measure


def main():
    p = argparse.ArgumentParser()
    epalm_arguments(p)
    p.add_argument("--num-beams", type=int, required=True)
    p.add_argument("--max-length", type=int, required=True)
    a = p.parse_args()

    import torch
    from transformers import OPTForCausalLM
    from transformers.modeling_outputs import CausalLMOutputWithPast

    from epalm_torch import epalm_forward

    class ReferenceGeneration(OPTForCausalLM):
        """OPT whose forward is eP-ALM's: the whole sequence, every step."""
        features = None
        variant = None
        trainables = None

        def forward(self, input_ids=None, attention_mask=None, **unused):
            rows = input_ids.shape[0]
            features = self.features.repeat_interleave(rows // self.features.shape[0], 0)
            logits = epalm_forward(self, self.variant, self.trainables, features, input_ids, attention_mask)
            return CausalLMOutputWithPast(logits=logits)

    decoder, encoder, trainables, inputs, variant, device, dtype = load_epalm_peer(a, ReferenceGeneration)
    decoder.variant, decoder.trainables = variant, trainables
    pixels = inputs["pixel_values"].to(dtype)

    @torch.no_grad()
    def once():
        decoder.features = cls_features(encoder, pixels, variant["levels"]).float()
        return decoder.generate(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                                do_sample=False, num_beams=a.num_beams, max_length=a.max_length, length_penalty=1.0,
                                early_stopping=False, use_cache=False, pad_token_id=1, eos_token_id=2)

    result, sequences = measure(once, a.warmup, a.repetitions, device)
    result["digest"] = {"sequences": sequences.cpu().tolist()}
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
