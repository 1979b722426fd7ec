"""Tiny random AST checkpoints with Hugging Face transformers' outputs, and the audio
frontend's references: ASTFeatureExtractor and torchaudio's Kaldi fbank on generated
waveforms.

Writes under OUTDIR:
  <variant>/            a HF checkpoint directory with inputs.safetensors (input_values)
                        and expected.safetensors (last_hidden_state, pooler_output,
                        hidden_state_<i>; bf16_* for the bf16 variant)
  audio.safetensors     wave_<case> float32 1-D, features_<case> [1024, 128] from
                        ASTFeatureExtractor, fbank_<case> [frames, 128] from
                        torchaudio.compliance.kaldi.fbank (when torchaudio is usable)
  audio.json            the cases, which feature-extractor path ran, torchaudio's version

torchaudio: ASTFeatureExtractor uses torchaudio's fbank when torchaudio imports, else its
numpy path. No torchaudio release matches torch 2.12.1 (the newest, 2.11.1, fails to load
its native library against it), so the Kaldi reference is taken from torchaudio's own
pure-Python compliance/kaldi.py: from an importable torchaudio, or from a file or wheel
named by EPALM_TORCHAUDIO_KALDI (e.g. a downloaded torchaudio-2.11.1 wheel), loaded with
a stub package so the native library is never touched. Without either, the fbank_*
tensors are absent and audio.json says so.
"""
import importlib.util
import json
import os
import sys
import types
import zipfile

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification
from transformers.models.audio_spectrogram_transformer import feature_extraction_audio_spectrogram_transformer as fe

torch.manual_seed(0)
torch.use_deterministic_algorithms(True)
out_root = sys.argv[1]
os.makedirs(out_root, exist_ok=True)

base = dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=48, initializer_range=0.2,
            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, attn_implementation="eager")
variants = {
    # name: (config overrides, save as, bf16 too)
    "strides_10": (dict(patch_size=16, frequency_stride=10, time_stride=10, max_length=64, num_mel_bins=32,
                        num_labels=7), "classifier", True),
    "overlap_6_4": (dict(patch_size=8, frequency_stride=6, time_stride=4, max_length=50, num_mel_bins=24), "base",
                    False),
    "no_overlap": (dict(patch_size=16, frequency_stride=16, time_stride=16, max_length=100, num_mel_bins=48,
                        num_hidden_layers=2, layer_norm_eps=1e-6), "classifier", False),
}


def run(model, input_values):
    # transformers 4.57's check_model_inputs replaces hidden_states[-1] with the final-LayerNormed
    # last_hidden_state (tie_last_hidden_states); epalm's Encoder convention keeps every block's
    # output before the final norm, so the last block's output is taken with a forward hook.
    captured = []
    handle = model.encoder.layer[-1].register_forward_hook(lambda m, i, o: captured.append(o))
    with torch.no_grad():
        out = model(input_values=input_values, output_hidden_states=True)
    handle.remove()
    last_block = captured[0][0] if isinstance(captured[0], tuple) else captured[0]
    assert torch.equal(out.hidden_states[-1], out.last_hidden_state)
    result = {"last_hidden_state": out.last_hidden_state.contiguous(), "pooler_output": out.pooler_output.contiguous()}
    for i, h in enumerate(out.hidden_states[:-1]):
        result[f"hidden_state_{i}"] = h.contiguous()
    result[f"hidden_state_{len(out.hidden_states) - 1}"] = last_block.contiguous()
    return result


for name, (overrides, save_as, bf16) in variants.items():
    directory = os.path.join(out_root, name)
    os.makedirs(directory, exist_ok=True)
    config = ASTConfig(**{**base, **overrides})
    classifier = ASTForAudioClassification(config).eval()
    with torch.no_grad():
        for pname, p in classifier.named_parameters():
            if "layernorm" in pname or pname.endswith("bias") or "token" in pname or "position" in pname:
                p.add_(torch.randn_like(p) * 0.2)
    model = classifier.audio_spectrogram_transformer
    (classifier if save_as == "classifier" else model).save_pretrained(directory, safe_serialization=True)
    input_values = torch.randn(2, config.max_length, config.num_mel_bins)
    expected = run(model, input_values)
    if bf16:
        expected.update({"bf16_" + k: v for k, v in run(model.to(torch.bfloat16), input_values.bfloat16()).items()})
    save_file({"input_values": input_values}, os.path.join(directory, "inputs.safetensors"))
    save_file(expected, os.path.join(directory, "expected.safetensors"))
    print(f"{name}: {sorted(os.listdir(directory))}")


def load_kaldi():
    try:
        import torchaudio.compliance.kaldi as kaldi
        import torchaudio
        return kaldi, "torchaudio " + torchaudio.__version__
    except Exception:  # absent, or a build that does not load against this torch
        pass
    source = os.environ.get("EPALM_TORCHAUDIO_KALDI")
    if not source:
        return None, None
    if source.endswith(".whl"):
        with zipfile.ZipFile(source) as wheel:
            code = wheel.read("torchaudio/compliance/kaldi.py").decode()
    else:
        with open(source) as f:
            code = f.read()
    stub = types.ModuleType("torchaudio")  # kaldi.py needs torchaudio only for MFCC's DCT
    saved = sys.modules.get("torchaudio")
    sys.modules["torchaudio"] = stub
    try:
        module = types.ModuleType("kaldi_reference")
        exec(compile(code, source, "exec"), module.__dict__)
    finally:
        if saved is None:
            del sys.modules["torchaudio"]
        else:
            sys.modules["torchaudio"] = saved
    return module, "compliance/kaldi.py from " + os.path.basename(source)


rng = np.random.default_rng(0)
sr = 16000


def seconds(s):
    return np.arange(int(s * sr)) / sr


waves = {
    "sine_1s": 0.5 * np.sin(2 * np.pi * 440 * seconds(1.0)),
    "chords_3s": 0.3 * np.sin(2 * np.pi * 261.6 * seconds(3.0)) + 0.2 * np.sin(2 * np.pi * 3951 * seconds(3.0)),
    "noise_2s": rng.uniform(-1, 1, 2 * sr),
    "silence_1s": np.zeros(sr),
    "one_window": rng.normal(0, 0.1, 400),
    "short_559": rng.normal(0, 0.1, 559),
    "speechlike_10s": (np.sin(2 * np.pi * 150 * seconds(10.0)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * seconds(10.0)))
                       * 0.4 + rng.normal(0, 0.01, 10 * sr)),
    "long_12s": np.sin(2 * np.pi * (100 + 400 * seconds(12.0)) * seconds(12.0)) * 0.25,  # chirp, truncated
    "int16_range": np.rint(rng.normal(0, 0.2, 2 * sr) * 32767).clip(-32768, 32767),  # float values, int16 scale
    "dc_offset": 0.3 + 0.1 * np.sin(2 * np.pi * 1000 * seconds(0.5)),
}
waves = {k: v.astype(np.float32) for k, v in waves.items()}
extractor = ASTFeatureExtractor()
kaldi, kaldi_source = load_kaldi()
tensors = {}
for case, wave in waves.items():
    tensors["wave_" + case] = torch.from_numpy(wave)
    tensors["features_" + case] = extractor(wave, sampling_rate=sr, return_tensors="pt")["input_values"][0]
    if kaldi is not None:
        tensors["fbank_" + case] = kaldi.fbank(torch.from_numpy(wave)[None], sample_frequency=sr,
                                               window_type="hanning", num_mel_bins=128)
        if not fe.is_speech_available():  # ASTFeatureExtractor as it runs with torchaudio present
            fb = tensors["fbank_" + case]
            fb = torch.nn.functional.pad(fb, (0, 0, 0, max(0, 1024 - fb.shape[0])))[:1024]
            tensors["features_torchaudio_" + case] = (fb - extractor.mean) / (extractor.std * 2)
save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(out_root, "audio.safetensors"))
with open(os.path.join(out_root, "audio.json"), "w") as f:
    json.dump({"cases": list(waves), "extractor_path": "torchaudio" if fe.is_speech_available() else "numpy",
               "kaldi_reference": kaldi_source}, f, indent=1)
print("audio cases:", list(waves), "extractor:", "torchaudio" if fe.is_speech_available() else "numpy",
      "kaldi reference:", kaldi_source)
