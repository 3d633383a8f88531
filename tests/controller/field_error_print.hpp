// How GoogleTest prints a FieldError in a failure message.
#pragma once

#include <ostream>

#include "controller/field_error.hpp"

namespace forkrun::controller {

inline void PrintTo(const FieldError& e, std::ostream* os) {
    *os << "{" << e.path << ": " << e.message << "}";
}

}  // namespace forkrun::controller
