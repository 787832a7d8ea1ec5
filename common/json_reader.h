#pragma once

// Reading back JSON that stswatch wrote (stored snapshots, persisted alert state), where anything
// may have been put since: members are read by name, absent or null members take their defaults,
// and the first member of the wrong type becomes an error naming its path ("<what> member
// snapshot.mx[0].starttls is not ..."). Later errors are ignored; read on, then check status().

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "absl/status/status.h"

namespace stswatch {

class JsonReader {
 public:
  // `what` names the document in errors ("snapshot", "alert state"); `status` collects the first
  // error and must outlive the reader and its children.
  JsonReader(const boost::json::object& object, std::string path, std::string_view what,
             absl::Status& status)
      : object_(object), path_(std::move(path)), what_(what), status_(status) {}

  // A reader of `object`, found at `path`, sharing this one's document and status.
  JsonReader Child(const boost::json::object& object, std::string path) const {
    return JsonReader(object, std::move(path), what_, status_);
  }

  // The member, or nullptr when absent or null.
  const boost::json::value* Get(std::string_view key) const;

  std::string String(std::string_view key);
  bool Bool(std::string_view key);
  std::int64_t Int(std::string_view key);
  std::uint32_t Uint32(std::string_view key);
  // An integer from `low` to `high`.
  std::int64_t IntIn(std::string_view key, std::int64_t low, std::int64_t high);
  std::vector<std::string> Strings(std::string_view key);
  const boost::json::object* Object(std::string_view key);
  // Object(), and an error when the member is absent.
  const boost::json::object* RequiredObject(std::string_view key);
  const boost::json::array* Array(std::string_view key);

  // Calls `each(JsonReader&)` for every element of an array member of objects, until an error.
  template <typename F>
  void Objects(std::string_view key, F each) {
    const boost::json::array* a = Array(key);
    for (std::size_t i = 0; a != nullptr && i < a->size() && status_.ok(); ++i) {
      const std::string path = Path(key) + "[" + std::to_string(i) + "]";
      if (!(*a)[i].is_object()) {
        FailAt(path, "an object");
        return;
      }
      JsonReader element = Child((*a)[i].get_object(), path);
      each(element);
    }
  }

  // "snapshot.mx" for key "mx" of the reader at "snapshot".
  std::string Path(std::string_view key) const { return path_ + "." + std::string(key); }
  // Records "<what> member <path of key> is not <want>" unless an error is already recorded.
  void Fail(std::string_view key, std::string_view want) { FailAt(Path(key), want); }
  void FailAt(const std::string& path, std::string_view want);
  // Records another error (same first-one-wins rule).
  void Error(absl::Status error) {
    if (status_.ok()) {
      status_ = std::move(error);
    }
  }
  const absl::Status& status() const { return status_; }

 private:
  const boost::json::object& object_;
  std::string path_;
  std::string what_;
  absl::Status& status_;
};

}  // namespace stswatch
