// The video half of the world as MSRVTT-QA and MSR-VTT captions ship it:
// clips videos/all/video{N}.mp4, annotation/msrvtt_vqa_{train,val,test}.json,
// annotation/msrvtt_caption_{train7k,val,test}.json (the training file one
// record per caption, the others one record per clip with all its captions),
// plus labels/video_{split}.json.
#include "world_model.h"
#include "world_writer.h"

namespace epalm::experiments::toy {

namespace {

Json shape_label(const ShapeObject& o) {
  return {{"shape", shape_names()[static_cast<std::size_t>(o.shape)]},
          {"color", colors()[static_cast<std::size_t>(o.color)].name},
          {"center", {o.cx, o.cy}},
          {"radius", o.radius}};
}

// What labels/video_<split>.json says of one clip.
Json clip_label(const MotionClip& clip, const std::string& media, int frames) {
  double x1, y1;
  clip.position(frames - 1, x1, y1);
  return {{"media", media},
          {"direction", direction_names()[static_cast<std::size_t>(clip.direction)]},
          {"direction_id", clip.direction},
          {"speed", speed_names()[static_cast<std::size_t>(clip.speed)]},
          {"speed_id", clip.speed},
          {"shape", shape_names()[static_cast<std::size_t>(clip.mover.shape)]},
          {"color", colors()[static_cast<std::size_t>(clip.mover.color)].name},
          {"start", {clip.mover.cx, clip.mover.cy}},
          {"end", {x1, y1}},
          {"radius", clip.mover.radius},
          {"frames", frames},
          {"still", clip.has_still ? shape_label(clip.still) : Json(nullptr)}};
}

Json clip_classes() {
  Json color_names = Json::array();
  for (const auto& c : colors()) color_names.push_back(c.name);
  return {{"direction", direction_names()}, {"speed", speed_names()}, {"shape", shape_names()}, {"color", color_names}};
}

void write_clip(const MotionClip& clip, const WorldSizes& sizes, const std::string& path) {
  std::vector<Canvas> frames;
  for (int f = 0; f < sizes.video_frames; ++f) frames.push_back(render_frame(clip, sizes.video_size, f));
  write_mp4(frames, kVideoFps, path);
}

// The TimeSformer's own clips, as Kinetics is a real one's: labels only, no
// language, in no caption or question split.
void write_pretraining_clips(const WorldSpec& spec, const std::string& root, ModalityOutput& out) {
  make_directories(root + "/pretrain/videos");
  Json labels = {{"classes", clip_classes()}, {"fps", kVideoFps}, {"items", Json::array()}};
  for (int i = 0; i < spec.sizes.pretrain_videos; ++i) {
    Rng rng(spec.seed, "video/pretrain", static_cast<std::uint64_t>(i));
    const auto clip = sample_motion_clip(rng, spec.sizes.video_size, spec.sizes.video_frames);
    const std::string relative = "pretrain/videos/toy" + std::to_string(i) + ".mp4";
    write_clip(clip, spec.sizes, root + "/" + relative);
    labels["items"].push_back(clip_label(clip, relative, spec.sizes.video_frames));
  }
  write_json(root + "/labels/video_pretrain.json", labels);
  out.counts["videos/pretrain"] = spec.sizes.pretrain_videos;
}

}  // namespace

ModalityOutput write_video_datasets(const WorldSpec& spec, const std::string& root) {
  const auto& sizes = spec.sizes;
  const std::vector<SplitSize> splits = {
      {"train", sizes.train_videos}, {"val", sizes.val_videos}, {"test", sizes.test_videos}};
  make_directories(root + "/videos/all");
  ModalityOutput out;
  int clip_number = 0;
  for (const auto& split : splits) {
    Json qa = Json::array(), captions = Json::array();
    Json labels = {{"classes", clip_classes()}, {"fps", kVideoFps}, {"items", Json::array()}};
    for (int i = 0; i < split.count; ++i, ++clip_number) {
      Rng rng(spec.seed, "video/" + split.name, static_cast<std::uint64_t>(i));
      const auto clip = sample_motion_clip(rng, sizes.video_size, sizes.video_frames);
      const std::string file = "video" + std::to_string(clip_number) + ".mp4";
      write_clip(clip, sizes, root + "/videos/all/" + file);

      const auto described = video_captions(clip, rng);
      if (split.name == "train") {
        for (const auto& c : described) captions.push_back({{"video", file}, {"caption", c}});
        out.corpus.insert(out.corpus.end(), described.begin(), described.end());
      } else {
        captions.push_back({{"video", file}, {"caption", described}});
      }
      const auto asked = video_questions(clip, rng);
      for (std::size_t k = 0; k < asked.size(); ++k) {
        const auto& q = asked[k];
        qa.push_back({{"video", file}, {"question", q.text}, {"answer", q.answer},
                      {"question_id", static_cast<std::int64_t>(clip_number) * 10 + static_cast<std::int64_t>(k)},
                      {"label", {{q.answer, 1.0}}}, {"question_type", q.type}, {"answer_type", q.answer_type}});
        if (split.name == "train") {
          out.corpus.push_back(context_qa_corpus_line(fullest_description(described), q.text, q.answer));
        }
      }
      labels["items"].push_back(clip_label(clip, "videos/all/" + file, sizes.video_frames));
    }
    const std::string caption_split = split.name == "train" ? "train7k" : split.name;
    write_json(root + "/annotation/msrvtt_vqa_" + split.name + ".json", qa);
    write_json(root + "/annotation/msrvtt_caption_" + caption_split + ".json", captions);
    write_json(root + "/labels/video_" + split.name + ".json", labels);
    out.counts["videos/" + split.name] = split.count;
    out.counts["msrvtt-qa/msrvtt_vqa_" + split.name + " questions"] = static_cast<int>(qa.size());
  }
  write_pretraining_clips(spec, root, out);
  return out;
}

}  // namespace epalm::experiments::toy
