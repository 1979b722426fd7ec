// libFuzzer target for the dataset annotation readers (core/src/data/datasets.cpp,
// datasets/*.cpp): the first byte picks a task, the rest is its annotation
// file in that task's layout under a root without media (missing media are
// skipped, as --skip-missing-media does). Any input must read or throw
// epalm::Error.
#include "epalm/core/data/datasets.h"
#include "epalm/core/error.h"
#include "fuzz_input.h"

namespace {

struct Layout {
  const char* task;
  const char* split;
  const char* file;  // where the reader looks, under the root
};

// The annotation files read_dataset opens for each task and split.
constexpr Layout kLayouts[] = {
    {"vqa", "karpathy_train", "vqa/karpathy_train.json"},
    {"vqa", "val2014", "vqa/v2_OpenEnded_mscoco_val2014_questions.json"},
    {"gqa", "train", "GQA/train.json"},
    {"coco-caption", "train", "COCO/dataset_coco.json"},
    {"msrvtt-qa", "train", "annotation/train.json"},
    {"msrvtt-caption", "train", "annotation/train.json"},
    {"audiocaps", "train", "annotation/train.json"},
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto& layout = kLayouts[data[0] % (sizeof kLayouts / sizeof kLayouts[0])];
  const auto parts = epalm::fuzz::split(data + 1, size - 1, 2);
  std::error_code ignored;
  std::filesystem::remove_all(epalm::fuzz::folder() + "/root", ignored);
  epalm::fuzz::write(std::string("root/") + layout.file, parts[0]);
  // The official VQA split reads its annotations beside the questions.
  if (std::string(layout.split) == "val2014") epalm::fuzz::write("root/vqa/v2_mscoco_val2014_annotations.json", parts[1]);
  epalm::data::DatasetSpec spec;
  spec.task = layout.task;
  spec.root = epalm::fuzz::folder() + "/root";
  spec.split = layout.split;
  spec.skip_missing_media = true;
  try {
    const auto dataset = epalm::data::read_dataset(spec);
    epalm::fuzz::check(!dataset.samples.empty(), "a read dataset has samples");
  } catch (const epalm::Error&) {
  }
  return 0;
}
