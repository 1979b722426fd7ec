#include "epalm/registry/hashing.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "epalm/core/error.h"

namespace epalm::registry {

namespace {

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) throw Error("sha256", "OpenSSL failed");
  }
  void update(const void* data, size_t size) {
    if (EVP_DigestUpdate(ctx_.get(), data, size) != 1) throw Error("sha256", "OpenSSL failed");
  }
  std::string hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), digest, &size) != 1) throw Error("sha256", "OpenSSL failed");
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < size; ++i) {
      out += digits[digest[i] >> 4];
      out += digits[digest[i] & 15];
    }
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx_;
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(data.data(), data.size());
  return h.hex();
}

std::string sha256_file(const std::string& path, std::int64_t* bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path, "cannot read the file to hash it");
  Sha256 h;
  std::vector<char> buffer(1 << 20);
  std::int64_t total = 0;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto got = in.gcount();
    if (got > 0) h.update(buffer.data(), static_cast<size_t>(got));
    total += got;
  }
  if (in.bad()) throw Error(path, "read error while hashing");
  if (bytes) *bytes = total;
  return h.hex();
}

bool is_non_semantic_key(const std::string& key) { return key == "output-dir" || key == "results"; }

std::string canonical_value(const std::string& value) {
  const auto l = lower(value);
  if (l == "true" || l == "yes" || l == "on") return "true";
  if (l == "false" || l == "no" || l == "off") return "false";
  if (value.empty()) return value;
  // A number written any way ("1e-4", "0.0001", "8.0") -> its shortest form.
  char* end = nullptr;
  const double number = std::strtod(value.c_str(), &end);
  if (end != value.c_str() + value.size() || std::isspace(static_cast<unsigned char>(value[0]))) return value;
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, number);
  return std::string(buffer, result.ptr);
}

std::string canonical_config_json(const std::map<std::string, std::string>& config) {
  nlohmann::json j = nlohmann::json::object();  // std::map-backed: keys sorted
  for (const auto& [key, value] : config) {
    if (!is_non_semantic_key(key)) j[key] = canonical_value(value);
  }
  return j.dump();
}

std::string config_hash(const std::map<std::string, std::string>& config) {
  return sha256_hex(canonical_config_json(config));
}

}  // namespace epalm::registry
