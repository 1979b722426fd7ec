// The world's language: captions and questions from a scene, a motion or a
// tone sequence (the grammar is in docs/toy-world.md). Every question's
// answer is spread evenly over its answers given the question's words, so a
// model that does not perceive can do no better than chance.
#include <cctype>

#include "world_model.h"

namespace epalm::experiments::toy {

namespace {

const char* const kNumbers[] = {"zero", "one", "two", "three", "four"};

std::string capitalized(std::string text) {
  if (!text.empty()) text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
  return text;
}

// "a", "a and b", "a, b and c".
std::string listed(const std::vector<std::string>& items, const std::string& last_joint = " and ") {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? last_joint : ", ";
    out += items[i];
  }
  return out;
}

std::string color_of(const ShapeObject& o) { return colors()[static_cast<std::size_t>(o.color)].name; }
std::string shape_of(const ShapeObject& o) { return shape_names()[static_cast<std::size_t>(o.shape)]; }
std::string named(const ShapeObject& o) { return color_of(o) + " " + shape_of(o); }

template <typename T>
const T& pick(const std::vector<T>& items, Rng& rng) {
  return items[static_cast<std::size_t>(rng.below(static_cast<int>(items.size())))];
}

std::string direction_phrase(int direction) {
  return direction < 2 ? "to the " + direction_names()[static_cast<std::size_t>(direction)]
                       : direction_names()[static_cast<std::size_t>(direction)];
}

}  // namespace

std::vector<std::string> image_captions(const ImageScene& scene, Rng& rng) {
  auto order = scene.objects;
  rng.shuffle(order);
  std::vector<std::string> placed, plain, sized;
  for (const auto& o : order) {
    const auto& size = size_names()[static_cast<std::size_t>(o.size)];
    placed.push_back("a " + size + " " + named(o) + " at the " + quadrant_names()[static_cast<std::size_t>(o.quadrant)]);
    plain.push_back("a " + named(o));
    sized.push_back("a " + size + " " + named(o));
  }
  const auto n = scene.objects.size();
  return {capitalized(listed(placed)) + ".",
          capitalized(kNumbers[n]) + (n == 1 ? " shape: " : " shapes: ") + listed(plain) + ".",
          "The picture shows " + listed(sized) + "."};
}

std::vector<Question> image_questions(const ImageScene& scene, Rng& rng) {
  const auto& objects = scene.objects;
  std::vector<ShapeObject> unique_shape, unique_color;
  for (const auto& o : objects) {
    int same_shape = 0, same_color = 0;
    for (const auto& other : objects) {
      same_shape += other.shape == o.shape;
      same_color += other.color == o.color;
    }
    if (same_shape == 1) unique_shape.push_back(o);
    if (same_color == 1) unique_color.push_back(o);
  }
  std::vector<Question> out;
  if (!unique_shape.empty()) {
    const auto& o = pick(unique_shape, rng);
    out.push_back({"What color is the " + shape_of(o) + "?", color_of(o), "what color is the", "other"});
  }
  if (!unique_color.empty()) {
    const auto& o = pick(unique_color, rng);
    out.push_back({"What shape is the " + color_of(o) + " object?", shape_of(o), "what shape is the", "other"});
  }
  out.push_back({"How many shapes are there?", std::to_string(objects.size()), "how many", "number"});
  {
    const auto& o = pick(objects, rng);
    out.push_back({"Where is the " + named(o) + "?", quadrant_names()[static_cast<std::size_t>(o.quadrant)],
                   "where is the", "other"});
  }
  // Half the time an object that is there, else a (color, shape) that is not.
  if (rng.coin()) {
    out.push_back({"Is there a " + named(pick(objects, rng)) + "?", "yes", "is there a", "yes/no"});
  } else {
    std::vector<ShapeObject> absent;
    for (int shape = 0; shape < static_cast<int>(shape_names().size()); ++shape) {
      for (int color = 0; color < static_cast<int>(colors().size()); ++color) {
        bool present = false;
        for (const auto& o : objects) present = present || (o.shape == shape && o.color == color);
        if (present) continue;
        ShapeObject a;
        a.shape = shape;
        a.color = color;
        absent.push_back(a);
      }
    }
    out.push_back({"Is there a " + named(pick(absent, rng)) + "?", "no", "is there a", "yes/no"});
  }
  return out;
}

std::vector<std::string> video_captions(const MotionClip& clip, Rng&) {
  const auto mover = named(clip.mover);
  const auto where = direction_phrase(clip.direction);
  return {"a " + mover + " moves " + (clip.speed == 1 ? "quickly " : "slowly ") + where,
          "a " + mover + " moves " + where + (clip.has_still ? " past a still " + named(clip.still) : " on its own"),
          "a " + speed_names()[static_cast<std::size_t>(clip.speed)] + " " + mover + " moving " +
              direction_names()[static_cast<std::size_t>(clip.direction)]};
}

std::vector<Question> video_questions(const MotionClip& clip, Rng& rng) {
  const auto mover = named(clip.mover);
  const auto& direction = direction_names()[static_cast<std::size_t>(clip.direction)];
  std::vector<Question> out = {
      {"which way is the " + mover + " moving?", direction, "which way", "other"},
      {"what shape is moving?", shape_of(clip.mover), "what shape", "other"},
      {"what color is the moving shape?", color_of(clip.mover), "what color", "other"},
      {"how fast is the " + mover + " moving?", speed_names()[static_cast<std::size_t>(clip.speed)], "how fast", "other"},
      {"how many shapes are there?", clip.has_still ? "2" : "1", "how many", "number"}};
  // Half the time the true direction, else one of the other three.
  int asked = clip.direction;
  if (!rng.coin()) asked = (clip.direction + rng.between(1, 3)) % 4;
  out.push_back({"is the " + mover + " moving " + direction_names()[static_cast<std::size_t>(asked)] + "?",
                 asked == clip.direction ? "yes" : "no", "is the", "yes/no"});
  return out;
}

std::vector<std::string> audio_captions(const ToneClip& clip, Rng&) {
  std::vector<std::string> full, pitches, shapes;
  for (const auto& t : clip.tones) {
    const auto& pitch = pitch_names()[static_cast<std::size_t>(t.pitch)];
    const auto& length = length_names()[static_cast<std::size_t>(t.length)];
    const auto& loudness = loudness_names()[static_cast<std::size_t>(t.loudness)];
    full.push_back("a " + loudness + " " + length + " " + pitch + " tone");
    pitches.push_back(pitch);
    shapes.push_back("a " + length + " " + loudness + " tone");
  }
  const auto n = clip.tones.size();
  std::string joined_full, joined_shapes;
  for (std::size_t i = 0; i < n; ++i) {
    joined_full += (i ? " followed by " : "") + full[i];
    joined_shapes += (i ? " then " : "") + shapes[i];
  }
  std::string count = capitalized(kNumbers[n]) + (n == 1 ? " " + pitches[0] + " tone" : " tones: " + pitches[0]);
  for (std::size_t i = 1; i < n; ++i) count += ", then " + pitches[i];
  return {capitalized(joined_full), count, capitalized(joined_shapes)};
}

}  // namespace epalm::experiments::toy
