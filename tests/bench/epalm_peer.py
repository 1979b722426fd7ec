"""What the eP-ALM benchmark peers (epalm_train_peer.py, epalm_eval_peer.py)
share: their options, and loading what epalm wrote for them: the OPT and ViT
checkpoints (eager attention, frozen), the trainables under the reference's
names, the inputs and the variant (epalm_torch.py's layout dict)."""
import json

from peer_timing import common_arguments


def epalm_arguments(parser):
    common_arguments(parser)
    parser.add_argument("--encoder", required=True)
    parser.add_argument("--trainables", required=True)
    parser.add_argument("--variant", required=True)


def load_epalm_peer(a, decoder_class=None, trainable=False):
    """Returns (decoder, encoder, trainables, inputs, variant, device, dtype) on
    a.device in a.dtype, with a.threads compute threads. decoder_class:
    OPTForCausalLM or a subclass of it; trainable: the trainables require grad."""
    import torch
    from safetensors.torch import load_file
    from transformers import OPTForCausalLM, ViTModel

    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[a.dtype]
    device = torch.device(a.device)
    decoder_class = decoder_class or OPTForCausalLM
    decoder = decoder_class.from_pretrained(a.checkpoint, torch_dtype=dtype, attn_implementation="eager")
    encoder = ViTModel.from_pretrained(a.encoder, torch_dtype=dtype, attn_implementation="eager",
                                       add_pooling_layer=False)
    decoder, encoder = decoder.to(device).eval(), encoder.to(device).eval()
    for module in (decoder, encoder):
        for w in module.parameters():
            w.requires_grad_(False)
    trainables = {k: t.to(device).requires_grad_(trainable) for k, t in load_file(a.trainables).items()}
    inputs = {k: t.to(device) for k, t in load_file(a.inputs).items()}
    return decoder, encoder, trainables, inputs, json.loads(a.variant), device, dtype


def cls_features(encoder, pixels, levels):
    """[B, levels, hidden]: the [CLS] token of the last `levels` blocks through the final LayerNorm."""
    import torch

    blocks = encoder.config.num_hidden_layers
    hidden = encoder(pixel_values=pixels, output_hidden_states=True).hidden_states
    return torch.stack([encoder.layernorm(hidden[b + 1][:, 0]) for b in range(blocks - levels, blocks)], 1)
