// One reader per annotation format; datasets.cpp picks it by task and adds
// the fraction and the missing-media check. Media paths are absolute.
#pragma once

#include "epalm/core/data/datasets.h"

namespace epalm::data {

void read_vqa(const DatasetSpec& spec, Dataset& out);          // VL-T5 split files or the official v2 files
void read_gqa(const DatasetSpec& spec, Dataset& out);
void read_video_qa(const DatasetSpec& spec, Dataset& out);     // MSR-VTT-QA, MSVD-QA
void read_coco_captions(const DatasetSpec& spec, Dataset& out);  // Karpathy dataset_coco.json
void read_media_captions(const DatasetSpec& spec, Dataset& out);  // MSR-VTT / MSVD captions, AudioCaps

}  // namespace epalm::data
