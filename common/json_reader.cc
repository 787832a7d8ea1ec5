#include "common/json_reader.h"

#include <cstdint>

namespace stswatch {

namespace json = boost::json;

const json::value* JsonReader::Get(std::string_view key) const {
  const json::value* v = object_.if_contains(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

std::string JsonReader::String(std::string_view key) {
  const json::value* v = Get(key);
  if (v == nullptr) {
    return "";
  }
  if (!v->is_string()) {
    Fail(key, "a string");
    return "";
  }
  return std::string(v->get_string());
}

bool JsonReader::Bool(std::string_view key) {
  const json::value* v = Get(key);
  if (v == nullptr) {
    return false;
  }
  if (!v->is_bool()) {
    Fail(key, "true or false");
    return false;
  }
  return v->get_bool();
}

std::int64_t JsonReader::Int(std::string_view key) {
  const json::value* v = Get(key);
  if (v == nullptr) {
    return 0;
  }
  if (v->is_int64()) {
    return v->get_int64();
  }
  if (v->is_uint64() && v->get_uint64() <= INT64_MAX) {
    return static_cast<std::int64_t>(v->get_uint64());
  }
  Fail(key, "an integer");
  return 0;
}

std::uint32_t JsonReader::Uint32(std::string_view key) {
  const std::int64_t v = Int(key);
  if (v < 0 || v > UINT32_MAX) {
    Fail(key, "a 32-bit unsigned integer");
    return 0;
  }
  return static_cast<std::uint32_t>(v);
}

std::int64_t JsonReader::IntIn(std::string_view key, std::int64_t low, std::int64_t high) {
  const std::int64_t v = Int(key);
  if (v < low || v > high) {
    Fail(key, "an integer from " + std::to_string(low) + " to " + std::to_string(high));
    return 0;
  }
  return v;
}

std::vector<std::string> JsonReader::Strings(std::string_view key) {
  std::vector<std::string> out;
  const json::value* v = Get(key);
  if (v == nullptr) {
    return out;
  }
  if (!v->is_array()) {
    Fail(key, "an array of strings");
    return out;
  }
  out.reserve(v->get_array().size());
  for (const json::value& e : v->get_array()) {
    if (!e.is_string()) {
      Fail(key, "an array of strings");
      return {};
    }
    out.emplace_back(e.get_string());
  }
  return out;
}

const json::object* JsonReader::Object(std::string_view key) {
  const json::value* v = Get(key);
  if (v == nullptr) {
    return nullptr;
  }
  if (!v->is_object()) {
    Fail(key, "an object");
    return nullptr;
  }
  return &v->get_object();
}

const json::object* JsonReader::RequiredObject(std::string_view key) {
  const json::object* o = Object(key);
  if (o == nullptr) {
    Fail(key, "an object");
  }
  return o;
}

const json::array* JsonReader::Array(std::string_view key) {
  const json::value* v = Get(key);
  if (v == nullptr) {
    return nullptr;
  }
  if (!v->is_array()) {
    Fail(key, "an array");
    return nullptr;
  }
  return &v->get_array();
}

void JsonReader::FailAt(const std::string& path, std::string_view want) {
  Error(absl::InvalidArgumentError(what_ + " member " + path + " is not " + std::string(want)));
}

}  // namespace stswatch
