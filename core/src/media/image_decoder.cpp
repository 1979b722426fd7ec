// JPEG (libjpeg-turbo) and PNG (libpng) to 8-bit RGB, as Pillow decodes them.
#include <csetjmp>
#include <cstddef>
#include <cstdio>
// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "epalm/core/error.h"
#include "epalm/core/media/media.h"

namespace epalm::media {

namespace {

// libjpeg reports fatal errors through a callback that must not return.
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

// Corrupt-but-decodable data is decoded, as Pillow does; a file that ends
// early (libjpeg would pad it with grey) is an error, as in Pillow.
void jpeg_warning(j_common_ptr info, int level) {
  if (level < 0 && info->err->msg_code == JWRN_JPEG_EOF) jpeg_fail(info);
}

// Decodes into `out`; returns an empty string or the error. No C++ objects with
// destructors live across setjmp here.
std::string decode_jpeg(const std::vector<std::uint8_t>& bytes, RgbImage& out) {
  jpeg_decompress_struct info;
  JpegErrors errors;
  info.err = jpeg_std_error(&errors.manager);
  errors.manager.error_exit = jpeg_fail;
  errors.manager.emit_message = jpeg_warning;
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&info);
    return std::string("JPEG: ") + errors.message;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&info, TRUE);
  if (info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK) {
    jpeg_destroy_decompress(&info);
    return "JPEG: CMYK images are not supported";
  }
  info.out_color_space = JCS_RGB;  // grayscale is replicated, as Pillow's convert("RGB")
  jpeg_start_decompress(&info);
  out.height = info.output_height;
  out.width = info.output_width;
  out.pixels.resize(static_cast<std::size_t>(out.height * out.width * 3));
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = out.pixels.data() + static_cast<std::size_t>(info.output_scanline) * out.width * 3;
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return "";
}

struct PngSource {
  const std::vector<std::uint8_t>* bytes;
  std::size_t offset;
};

void png_read_bytes(png_structp png, png_bytep data, png_size_t length) {
  auto* source = static_cast<PngSource*>(png_get_io_ptr(png));
  if (source->offset + length > source->bytes->size()) png_error(png, "the file ends early");
  std::memcpy(data, source->bytes->data() + source->offset, length);
  source->offset += length;
}

struct PngErrors {
  char message[256];
};

void png_fail(png_structp png, png_const_charp message) {
  auto* errors = static_cast<PngErrors*>(png_get_error_ptr(png));
  std::snprintf(errors->message, sizeof errors->message, "%s", message);
  png_longjmp(png, 1);
}

void png_warning(png_structp, png_const_charp) {}

// `rows` lives in the caller: locals changed after setjmp are unreliable after a longjmp.
std::string decode_png(const std::vector<std::uint8_t>& bytes, RgbImage& out, std::vector<png_bytep>& rows) {
  PngErrors errors{};
  PngSource source{&bytes, 0};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &errors, png_fail, png_warning);
  if (png == nullptr) return "PNG: out of memory";
  png_infop info = png_create_info_struct(png);
  if (info == nullptr || setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, info != nullptr ? &info : nullptr, nullptr);
    return std::string("PNG: ") + errors.message;
  }
  png_set_read_fn(png, &source, png_read_bytes);
  png_read_info(png, info);
  const int color = png_get_color_type(png, info);
  const int depth = png_get_bit_depth(png, info);
  // Pillow's RGB: palettes expanded, grey replicated, 16-bit -> high byte,
  // alpha (and tRNS) dropped, no gamma correction.
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  // Pillow opens 16-bit greyscale as "I;16", whose RGB clamps values at 255;
  // 16-bit colour keeps the high byte.
  const bool grey16 = color == PNG_COLOR_TYPE_GRAY && depth == 16;
  if (depth == 16 && !grey16) png_set_strip_16(png);
  if ((color == PNG_COLOR_TYPE_GRAY && !grey16) || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
  if (color & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  out.height = png_get_image_height(png, info);
  out.width = png_get_image_width(png, info);
  const std::int64_t row_bytes = out.width * (grey16 ? 2 : 3);
  if (png_get_rowbytes(png, info) != static_cast<png_size_t>(row_bytes)) png_error(png, "unexpected row layout");
  out.pixels.resize(static_cast<std::size_t>(out.height * out.width * 3));
  rows.resize(static_cast<std::size_t>(out.height));
  // Grey 16-bit rows are read into the first two thirds of each RGB row, then spread from the right.
  for (std::int64_t y = 0; y < out.height; ++y) rows[y] = out.pixels.data() + y * out.width * 3;
  png_read_image(png, rows.data());
  png_read_end(png, nullptr);
  if (grey16) {
    for (std::int64_t y = 0; y < out.height; ++y) {
      std::uint8_t* row = rows[y];
      for (std::int64_t x = out.width - 1; x >= 0; --x) {
        const unsigned value = (static_cast<unsigned>(row[2 * x]) << 8) | row[2 * x + 1];  // big-endian
        const auto clamped = static_cast<std::uint8_t>(value > 255 ? 255 : value);
        row[3 * x] = row[3 * x + 1] = row[3 * x + 2] = clamped;
      }
    }
  }
  png_destroy_read_struct(&png, &info, nullptr);
  return "";
}

}  // namespace

RgbImage read_image(const std::vector<std::uint8_t>& bytes, const std::string& name) {
  RgbImage out;
  std::string error;
  static const std::uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF) {
    error = decode_jpeg(bytes, out);
  } else if (bytes.size() >= 8 && std::memcmp(bytes.data(), png_magic, 8) == 0) {
    std::vector<png_bytep> rows;
    error = decode_png(bytes, out, rows);
  } else {
    error = "neither a JPEG nor a PNG file";
  }
  if (!error.empty()) throw Error(name, "cannot decode the image: " + error);
  if (out.height < 1 || out.width < 1) throw Error(name, "cannot decode the image: it is empty");
  return out;
}

RgbImage read_image(const std::string& path) {
  // An ifstream opens a folder and fails only when read, with a message that names no file.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error(path, "is a directory, not an image file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path, "cannot open the image");
  const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return read_image(bytes, path);
}

}  // namespace epalm::media
