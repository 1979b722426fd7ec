// AST's audio frontend: the Kaldi-compatible log-mel filterbank of
// torchaudio.compliance.kaldi.fbank (operation for operation, in float32 with
// LibTorch's FFT) and ASTFeatureExtractor's padding and AudioSet
// normalization. Resampling to 16 kHz and decoding are the caller's.
//
// Settings (ASTFeatureExtractor's call of kaldi.fbank): 16 kHz, 128 mel bins,
// 25 ms frames (400 samples), 10 ms shift (160), symmetric Hann window
// ("hanning"), dither 0, DC offset removed per frame, pre-emphasis 0.97,
// 512-point FFT, power spectrum, mel triangles in Kaldi's mel scale from
// 20 Hz to Nyquist, log with a floor of float32 epsilon, no energy,
// snip_edges (1 + (n - 400) / 160 frames). Then zero rows appended (or frames
// cut) to max_length 1024, then (x - mean) / (2 * std) with AudioSet's
// mean -4.2677393 and std 4.5689974.
//
// Waveforms are mono, 1-D, used as given: no int16 scaling (AST's statistics
// assume [-1, 1] input; divide int16 PCM by 32768 first). Integer tensors are
// converted to float32 values unchanged.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace epalm::media {

struct FbankOptions {
  double sample_rate = 16000.0;
  std::int64_t num_mel_bins = 128;
  double frame_length_ms = 25.0;
  double frame_shift_ms = 10.0;
  double preemphasis = 0.97;
  bool remove_dc_offset = true;
  double low_freq = 20.0;
  double high_freq = 0.0;  // <= 0: offset from Nyquist
  std::int64_t window_size() const;         // samples per frame (400)
  std::int64_t window_shift() const;        // samples between frames (160)
  std::int64_t padded_window_size() const;  // FFT size, the next power of two (512)
  void validate() const;
};

// Frames a waveform of `samples` samples gives (snip_edges); 0 when shorter
// than one window.
std::int64_t fbank_frame_count(std::int64_t samples, const FbankOptions& options = {});

// Kaldi mel filterbank weights [num_mel_bins, padded_window_size / 2 + 1]
// (the Nyquist column zero), float32 on the CPU.
at::Tensor kaldi_mel_banks(const FbankOptions& options = {});

// torchaudio.compliance.kaldi.fbank(waveform[None], window_type="hanning",
// ...options): [frames, num_mel_bins] float32, on the waveform's device.
// Throws epalm::Error for an empty waveform or one shorter than a window.
at::Tensor kaldi_fbank(const at::Tensor& waveform, const FbankOptions& options = {});

struct AstFeatureOptions {
  FbankOptions fbank;
  std::int64_t max_length = 1024;
  bool normalize = true;
  double mean = -4.2677393;
  double std = 4.5689974;
};

// ASTFeatureExtractor for one waveform: [max_length, num_mel_bins].
at::Tensor ast_features(const at::Tensor& waveform, const AstFeatureOptions& options = {});
// A batch of waveforms of any lengths: [B, max_length, num_mel_bins].
at::Tensor ast_features(const std::vector<at::Tensor>& waveforms, const AstFeatureOptions& options = {});

}  // namespace epalm::media
