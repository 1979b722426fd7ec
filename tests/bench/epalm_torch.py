"""eP-ALM's forward in PyTorch on transformers' OPT layers: an independent
implementation of the reference's injection (docs/epalm.md),
driving HF's OPTDecoderLayer modules by hand. The parity fixtures
(tests/parity/make_epalm_fixtures.py) and the training-step benchmark peer
(epalm_train_peer.py) both use it.

A variant is a dict: levels, shared, start, end, prompt (length), mlp, and
optionally noncausal (the reference's perceptual token that sees every token).
Trainables use the reference's checkpoint names (connector.{i}.*,
prompt_module.prefix_embedding.{0,1,3}.*).
"""
import torch


def schedule(v):
    """Decoder layer -> level, per the reference's mapping."""
    span, levels = v["end"] - v["start"], v["levels"]
    step = 1 if levels == 1 else (span // levels if span > levels else 1)
    return {layer: min((layer - v["start"]) // step, levels - 1) for layer in range(v["start"], v["end"])}


def prompt_embeds(v, trainables, batch):
    prompt = trainables["prompt_module.prefix_embedding.0.weight"]
    if v["mlp"]:
        prompt = torch.nn.functional.linear(prompt, trainables["prompt_module.prefix_embedding.1.weight"],
                                            trainables["prompt_module.prefix_embedding.1.bias"])
        prompt = torch.nn.functional.linear(torch.tanh(prompt), trainables["prompt_module.prefix_embedding.3.weight"],
                                            trainables["prompt_module.prefix_embedding.3.bias"])
    return prompt.unsqueeze(0).expand(batch, -1, -1)


def reference_attention_bias(mask, dtype):
    """The reference's 4-D additive mask [B, 1, n, n] for a [B, n] key mask, composed
    as its OPT builds it: a causal part (-inf above the diagonal) plus a padding part
    (finfo.min on padded keys). A row without an unmasked key then attends uniformly
    to the padded keys at or before itself (-inf + finfo.min stays -inf)."""
    n = mask.shape[1]
    causal = torch.full((n, n), float("-inf"), device=mask.device).triu(1).to(dtype)
    padding = (1.0 - mask[:, None, None, :].to(dtype)).masked_fill(mask[:, None, None, :] == 0, torch.finfo(dtype).min)
    return causal[None, None] + padding


def epalm_forward(model, v, trainables, features, ids, mask):
    """Logits [B, 1 + prompt + T, vocab] of an OPTForCausalLM (pre-LN, no projections)."""
    decoder = model.model.decoder
    dtype = decoder.embed_tokens.weight.dtype
    text = decoder.embed_tokens(ids)
    positions = (torch.cumsum(mask, 1) * mask - 1) + 2
    pos = torch.nn.functional.embedding(positions, decoder.embed_positions.weight)
    P = v["prompt"]
    hidden = text + pos
    if P:
        hidden = torch.cat([prompt_embeds(v, trainables, ids.shape[0]).to(dtype), hidden], 1)
    bias = reference_attention_bias(torch.cat([torch.ones(ids.shape[0], P, dtype=torch.long, device=ids.device),
                                               mask], 1), dtype)
    plan = schedule(v) if v.get("perception", True) else {}  # no perception: the prompt alone
    first = min(plan) if plan else -1
    for idx, layer in enumerate(decoder.layers):
        if idx in plan:
            c = 0 if v["shared"] else plan[idx]
            token = torch.nn.functional.linear(features[:, plan[idx]], trainables[f"connector.{c}.weight"],
                                               trainables[f"connector.{c}.bias"]).unsqueeze(1).to(dtype)
            if idx == first:
                hidden = torch.cat([token, hidden], 1)
                bias = torch.nn.functional.pad(bias, (1, 0, 1, 0), value=0.0)
                if not v.get("noncausal"):
                    bias[:, :, 0, 1:] = torch.finfo(dtype).min
            else:
                hidden = torch.cat([token, hidden[:, 1:]], 1)
        hidden = layer(hidden, attention_mask=bias)[0]
    hidden = decoder.final_layer_norm(hidden)
    return model.lm_head(hidden)


def reference_loss(logits, labels, weight=0.1):
    """The reference's loss: text position k predicts token k+1, per-sample token sum, batch mean, x weight."""
    T = labels.shape[1]
    text_logits = logits[:, -T:][:, :-1].float()
    per_token = torch.nn.functional.cross_entropy(text_logits.reshape(-1, text_logits.shape[-1]),
                                                  labels[:, 1:].reshape(-1), ignore_index=-100, reduction="none")
    return per_token.view(labels.shape[0], -1).sum(1).mean() * weight
