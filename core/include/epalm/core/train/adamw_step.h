// One AdamW step of a torch::optim::AdamW, fused. LibTorch's own
// step runs seven tensor operations per parameter, each a pass over it and
// its moments; ATen's fused kernel makes one (on the CPU 19 against 67-114 ms
// for the 24M trainables of an 8-variant fused job, 2 threads). The same
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
