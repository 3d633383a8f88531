// FUZZ_CHECK: an invariant of a fuzz target. A violation prints what broke and aborts, which
// libFuzzer records as a crash with its reproducer. The message goes through the sanitizer's
// report channel, which survives -close_fd_mask.
#pragma once

#include <sanitizer/common_interface_defs.h>

#include <cstdlib>
#include <string>

#define FUZZ_CHECK(cond, what)                                                                \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            const std::string fuzz_check_report = std::string("FUZZ_CHECK failed at ") +      \
                                                  __FILE__ + ":" + std::to_string(__LINE__) + \
                                                  ": " + (what) + " (" + #cond + ")";         \
            __sanitizer_report_error_summary(fuzz_check_report.c_str());                      \
            std::abort();                                                                     \
        }                                                                                     \
    } while (false)
