// One AdamW step of a torch::optim::AdamW, fused. LibTorch's own
// step runs seven tensor operations per parameter, each a pass over it and
// its moments; ATen's fused kernel makes one (a PyTorch timing of the 24M
// trainables of the 8-variant fused sweep benchmark, 2 threads: 19 against
// 67-114 ms; that benchmark's fused job ran 3-6% faster with it). The same
// update (decoupled weight decay, bias-corrected moments, lr / bc1 * m /
// (sqrt(v) / sqrt(bc2) + eps)) to float rounding, and the same state: the
// optimizer's exp_avg, exp_avg_sq and step, so checkpoints and resuming are
// unchanged.
#pragma once

namespace torch::optim {
class AdamW;
}

namespace epalm::train {

void adamw_step(torch::optim::AdamW& optimizer);

}  // namespace epalm::train
