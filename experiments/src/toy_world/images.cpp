// Pictures of one to four shapes, one per quadrant, and their JPEG files.
#include <csetjmp>
#include <cstddef>
#include <cstdio>
// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <memory>

#include "epalm/core/error.h"
#include "world_model.h"

namespace epalm::experiments::toy {

namespace {

// A shape's half extent, as a fraction of the picture's side.
constexpr double kRadius[] = {0.09, 0.15};  // small, large

struct JpegErrors {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_fail(j_common_ptr info) {
  auto* errors = reinterpret_cast<JpegErrors*>(info->err);
  (*info->err->format_message)(info, errors->message);
  std::longjmp(errors->jump, 1);
}

// Compresses into a malloc'ed buffer; returns "" or the error. No C++ objects
// with destructors live across setjmp here.
std::string compress(const Canvas& canvas, unsigned char** data, unsigned long* size) {
  jpeg_compress_struct info;
  JpegErrors errors;
  info.err = jpeg_std_error(&errors.manager);
  errors.manager.error_exit = jpeg_fail;
  if (setjmp(errors.jump)) {
    jpeg_destroy_compress(&info);
    return errors.message;
  }
  jpeg_create_compress(&info);
  jpeg_mem_dest(&info, data, size);
  info.image_width = static_cast<JDIMENSION>(canvas.width);
  info.image_height = static_cast<JDIMENSION>(canvas.height);
  info.input_components = 3;
  info.in_color_space = JCS_RGB;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, 95, TRUE);
  for (int c = 0; c < 3; ++c) info.comp_info[c].h_samp_factor = info.comp_info[c].v_samp_factor = 1;  // 4:4:4
  jpeg_start_compress(&info, TRUE);
  while (info.next_scanline < info.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(canvas.rgb.data() + static_cast<std::size_t>(info.next_scanline) * canvas.width * 3);
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  return "";
}

}  // namespace

ImageScene sample_image_scene(Rng& rng, int image_size) {
  ImageScene scene;
  const int count = rng.between(1, kMaxPictureShapes);
  std::vector<int> quadrants = {0, 1, 2, 3};
  rng.shuffle(quadrants);
  const double cell = image_size / 2.0;
  for (int k = 0; k < count; ++k) {
    ShapeObject o;
    bool repeated = true;
    while (repeated) {  // (color, shape) names one object
      o.shape = rng.below(static_cast<int>(shape_names().size()));
      o.color = rng.below(static_cast<int>(colors().size()));
      repeated = false;
      for (const auto& other : scene.objects) repeated = repeated || (other.shape == o.shape && other.color == o.color);
    }
    o.size = rng.below(2);
    o.quadrant = quadrants[static_cast<std::size_t>(k)];
    o.radius = kRadius[o.size] * image_size;
    // A pixel centre inside the quadrant, the whole shape (and a pixel more) inside it too.
    const double margin = o.radius + 1;
    const int span = static_cast<int>(std::floor(cell - 2 * margin));
    const double x0 = (o.quadrant % 2) * cell + margin, y0 = (o.quadrant / 2) * cell + margin;
    o.cx = std::floor(x0 + rng.between(0, span)) + 0.5;
    o.cy = std::floor(y0 + rng.between(0, span)) + 0.5;
    scene.objects.push_back(o);
  }
  return scene;
}

Canvas render_image(const ImageScene& scene, int image_size) {
  Canvas canvas(image_size, image_size, kBackground);
  for (const auto& o : scene.objects) draw_shape(canvas, o.shape, colors()[o.color].rgb, o.cx, o.cy, o.radius);
  return canvas;
}

void write_jpeg(const Canvas& canvas, const std::string& path) {
  unsigned char* data = nullptr;
  unsigned long size = 0;
  const auto error = compress(canvas, &data, &size);
  std::unique_ptr<unsigned char, void (*)(void*)> owned(data, std::free);
  if (!error.empty()) throw Error(path, "cannot encode the JPEG: " + error);
  std::ofstream file(path, std::ios::binary);
  file.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!file.flush()) throw Error(path, "cannot write");
}

}  // namespace epalm::experiments::toy
