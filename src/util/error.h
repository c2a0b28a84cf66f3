// The one error type Hearth throws for bad input (files, requests, arguments).
// Messages are complete sentences for a user: they name the file or field and
// say what is wrong. Front ends print what() on one line and exit non-zero.
#pragma once

#include <stdexcept>
#include <string>

namespace hearth {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace hearth
