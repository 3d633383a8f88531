// stderr writer: one write(2) per line keeps lines whole under concurrency.
#include "controller/event_log.hpp"

#include <unistd.h>

#include <string>

namespace forkrun::controller {

void write_log_line(std::string_view json_line) {
    std::string line;
    line.reserve(json_line.size() + 1);
    line.append(json_line);
    line.push_back('\n');
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
        const ssize_t n = ::write(STDERR_FILENO, p, left);
        if (n <= 0) {
            return;  // a closed stderr must never stop the service
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

}  // namespace forkrun::controller
