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

}  // namespace

ModalityOutput write_video_datasets(const WorldSpec& spec, const std::string& root) {
  const auto& sizes = spec.sizes;
  const std::vector<SplitSize> splits = {
      {"train", sizes.train_videos}, {"val", sizes.val_videos}, {"test", sizes.test_videos}};
  make_directories(root + "/videos/all");
  ModalityOutput out;
  Json color_names = Json::array();
  for (const auto& c : colors()) color_names.push_back(c.name);
  int clip_number = 0;
  for (const auto& split : splits) {
    Json qa = Json::array(), captions = Json::array();
    Json labels = {{"classes", {{"direction", direction_names()}, {"speed", speed_names()}, {"shape", shape_names()},
                                {"color", color_names}}},
                   {"fps", kVideoFps},
                   {"items", Json::array()}};
    for (int i = 0; i < split.count; ++i, ++clip_number) {
      Rng rng(spec.seed, "video/" + split.name, static_cast<std::uint64_t>(i));
      const auto clip = sample_motion_clip(rng, sizes.video_size, sizes.video_frames);
      std::vector<Canvas> frames;
      for (int f = 0; f < sizes.video_frames; ++f) frames.push_back(render_frame(clip, sizes.video_size, f));
      const std::string file = "video" + std::to_string(clip_number) + ".mp4";
      write_mp4(frames, kVideoFps, root + "/videos/all/" + file);

      const auto described = video_captions(clip, rng);
      if (split.name == "train") {
        for (const auto& c : described) captions.push_back({{"video", file}, {"caption", c}});
        out.corpus.insert(out.corpus.end(), described.begin(), described.end());
        if (described.size() > 1) out.corpus.push_back(restated_corpus_line(described[1], described[0]));
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
          out.corpus.push_back(qa_corpus_line(q.text, q.answer));
          out.corpus.push_back(context_qa_corpus_line(fullest_description(described), q.text, q.answer));
        }
      }
      double x1, y1;
      clip.position(sizes.video_frames - 1, x1, y1);
      labels["items"].push_back(
          {{"media", "videos/all/" + file},
           {"direction", direction_names()[static_cast<std::size_t>(clip.direction)]},
           {"direction_id", clip.direction},
           {"speed", speed_names()[static_cast<std::size_t>(clip.speed)]},
           {"speed_id", clip.speed},
           {"shape", shape_names()[static_cast<std::size_t>(clip.mover.shape)]},
           {"color", colors()[static_cast<std::size_t>(clip.mover.color)].name},
           {"start", {clip.mover.cx, clip.mover.cy}},
           {"end", {x1, y1}},
           {"radius", clip.mover.radius},
           {"frames", sizes.video_frames},
           {"still", clip.has_still ? shape_label(clip.still) : Json(nullptr)}});
    }
    const std::string caption_split = split.name == "train" ? "train7k" : split.name;
    write_json(root + "/annotation/msrvtt_vqa_" + split.name + ".json", qa);
    write_json(root + "/annotation/msrvtt_caption_" + caption_split + ".json", captions);
    write_json(root + "/labels/video_" + split.name + ".json", labels);
    out.counts["videos/" + split.name] = split.count;
    out.counts["msrvtt-qa/msrvtt_vqa_" + split.name + " questions"] = static_cast<int>(qa.size());
  }
  return out;
}

}  // namespace epalm::experiments::toy
