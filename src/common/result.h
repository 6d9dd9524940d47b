// Errors as values. A Result<T> holds either a T or an Error; a Status is a
// Result with no value. Exceptions never cross a module boundary in allot:
// every fallible function across one returns one of these.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace allot {

// What went wrong, in words a person can act on. `field` names the offending
// input (for example "workloads[2].gpu"), or is empty when none applies.
struct Error {
  Error(std::string message_in, std::string field_in = {})
      : message(std::move(message_in)), field(std::move(field_in)) {}
  // An error with a stable machine-readable code ("not_found", "conflict",
  // "invalid", ...), which the API returns and clients branch on.
  static Error Coded(std::string code_in, std::string message_in, std::string field_in = {}) {
    Error error(std::move(message_in), std::move(field_in));
    error.code = std::move(code_in);
    return error;
  }
  std::string message;
  std::string field;
  std::string code;  // empty where no caller branches on the kind of error
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : value_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(value_); }
  explicit operator bool() const { return ok(); }

  // Preconditions: ok() for value(), !ok() for error().
  T& value() & { return std::get<T>(value_); }
  const T& value() const& { return std::get<T>(value_); }
  T&& value() && { return std::get<T>(std::move(value_)); }
  const Error& error() const { return std::get<Error>(value_); }

  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Error> value_;
};

// The outcome of an operation that returns nothing on success.
class [[nodiscard]] Status {
 public:
  Status() : error_("") {}
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

  static Status Ok() { return Status(); }
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace allot
