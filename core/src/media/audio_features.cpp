#include "epalm/core/media/audio_features.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "epalm/core/error.h"

namespace epalm::media {

namespace {

constexpr const char* kWhere = "audio features";

double mel_scale(double hz) { return 1127.0 * std::log(1.0 + hz / 700.0); }

}  // namespace

std::int64_t FbankOptions::window_size() const {
  return static_cast<std::int64_t>(sample_rate * frame_length_ms * 0.001);
}

std::int64_t FbankOptions::window_shift() const {
  return static_cast<std::int64_t>(sample_rate * frame_shift_ms * 0.001);
}

std::int64_t FbankOptions::padded_window_size() const {
  std::int64_t n = 1;
  while (n < window_size()) n *= 2;
  return n;
}

void FbankOptions::validate() const {
  if (!(sample_rate > 0)) throw Error(kWhere, "sample_rate must be positive");
  if (window_size() < 2) throw Error(kWhere, "frame length gives a window under 2 samples");
  if (window_shift() <= 0) throw Error(kWhere, "frame shift must give at least one sample");
  if (num_mel_bins <= 3) throw Error(kWhere, "num_mel_bins must be at least 4");
  if (preemphasis < 0.0 || preemphasis > 1.0) throw Error(kWhere, "preemphasis must be in [0, 1]");
  const double nyquist = 0.5 * sample_rate;
  const double high = high_freq <= 0.0 ? high_freq + nyquist : high_freq;
  if (!(low_freq >= 0.0 && low_freq < nyquist && high > 0.0 && high <= nyquist && low_freq < high)) {
    throw Error(kWhere, "bad mel frequency range: low " + std::to_string(low_freq) + " Hz, high " +
                            std::to_string(high) + " Hz, Nyquist " + std::to_string(nyquist) + " Hz");
  }
}

std::int64_t fbank_frame_count(std::int64_t samples, const FbankOptions& options) {
  if (samples < options.window_size()) return 0;
  return 1 + (samples - options.window_size()) / options.window_shift();
}

at::Tensor kaldi_mel_banks(const FbankOptions& o) {
  o.validate();
  // torchaudio get_mel_banks: scalars in double, tensors in float32.
  const auto padded = o.padded_window_size();
  const double nyquist = 0.5 * o.sample_rate;
  const double high = o.high_freq <= 0.0 ? o.high_freq + nyquist : o.high_freq;
  const double fft_bin_width = o.sample_rate / static_cast<double>(padded);
  const double mel_low = mel_scale(o.low_freq);
  const double mel_high = mel_scale(high);
  const double mel_delta = (mel_high - mel_low) / static_cast<double>(o.num_mel_bins + 1);
  auto bin = torch::arange(o.num_mel_bins).unsqueeze(1);
  auto left = mel_low + bin * mel_delta;
  auto center = mel_low + (bin + 1.0) * mel_delta;
  auto right = mel_low + (bin + 2.0) * mel_delta;
  auto mel = (1127.0 * (1.0 + (fft_bin_width * torch::arange(static_cast<double>(padded / 2), torch::kFloat)) / 700.0)
                           .log())
                 .unsqueeze(0);
  auto up = (mel - left) / (center - left);
  auto down = (right - mel) / (right - center);
  auto banks = torch::max(torch::zeros(1), torch::min(up, down));
  return torch::constant_pad_nd(banks, {0, 1}, 0.0);
}

at::Tensor kaldi_fbank(const at::Tensor& waveform_in, const FbankOptions& o) {
  o.validate();
  if (!waveform_in.defined() || waveform_in.dim() != 1) {
    throw Error(kWhere, "the waveform must be a 1-D mono tensor, got " +
                            (waveform_in.defined() ? c10::str(waveform_in.sizes()) : std::string("none")));
  }
  const auto samples = waveform_in.size(0);
  if (samples == 0) throw Error(kWhere, "the waveform is empty");
  const auto window = o.window_size();
  if (samples < window) {
    throw Error(kWhere, "the waveform has " + std::to_string(samples) + " samples, fewer than one " +
                            std::to_string(window) + "-sample window (Kaldi fbank needs at least one frame)");
  }
  auto waveform = waveform_in.to(torch::kFloat).contiguous();
  const auto shift = o.window_shift();
  const auto frames = fbank_frame_count(samples, o);
  auto strided = waveform.as_strided({frames, window}, {shift, 1});
  if (o.remove_dc_offset) strided = strided - torch::mean(strided, 1).unsqueeze(1);
  if (o.preemphasis != 0.0) {
    // x[j] -= p * x[j - 1], with x[-1] = x[0] (replicate padding).
    auto previous = torch::cat({strided.slice(1, 0, 1), strided.slice(1, 0, window - 1)}, 1);
    strided = strided - o.preemphasis * previous;
  }
  auto hann = torch::hann_window(window, /*periodic=*/false, waveform.options());
  strided = strided * hann.unsqueeze(0);
  const auto padded = o.padded_window_size();
  if (padded != window) strided = torch::constant_pad_nd(strided, {0, padded - window}, 0.0);
  auto spectrum = torch::fft::rfft(strided).abs().pow(2.0);
  auto banks = kaldi_mel_banks(o).to(waveform.device());
  auto energies = torch::mm(spectrum, banks.t());
  const auto epsilon = torch::tensor(std::numeric_limits<float>::epsilon(), waveform.options());
  return torch::max(energies, epsilon).log();
}

at::Tensor ast_features(const at::Tensor& waveform, const AstFeatureOptions& o) {
  if (o.max_length <= 0) throw Error(kWhere, "max_length must be positive");
  auto fbank = kaldi_fbank(waveform, o.fbank);
  const auto frames = fbank.size(0);
  if (frames < o.max_length) {
    fbank = torch::constant_pad_nd(fbank, {0, 0, 0, o.max_length - frames}, 0.0);
  } else if (frames > o.max_length) {
    fbank = fbank.slice(0, 0, o.max_length);
  }
  if (o.normalize) fbank = (fbank - o.mean) / (o.std * 2);
  return fbank.contiguous();
}

at::Tensor ast_features(const std::vector<at::Tensor>& waveforms, const AstFeatureOptions& o) {
  if (waveforms.empty()) throw Error(kWhere, "no waveforms");
  std::vector<at::Tensor> features;
  features.reserve(waveforms.size());
  for (const auto& w : waveforms) features.push_back(ast_features(w, o));
  return torch::stack(features);
}

}  // namespace epalm::media
