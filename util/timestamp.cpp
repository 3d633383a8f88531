// Formats timestamps without locale or time-zone state.
#include "util/timestamp.hpp"

#include <chrono>

namespace forkrun::util {

namespace {

char* two(char* p, unsigned v) {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
    return p + 2;
}

}  // namespace

std::string format_timestamp(Timestamp t) {
    using namespace std::chrono;
    const auto at = floor<milliseconds>(t);
    const auto day = floor<days>(at);
    const year_month_day ymd{day};
    const hh_mm_ss hms{at - day};
    // A system_clock time point spans the years 1677-2262: always four digits.
    const auto year = static_cast<unsigned>(static_cast<int>(ymd.year()));
    // "YYYY-MM-DDTHH:MM:SS.mmmZ", written digit by digit: this is on every run's path.
    std::string out(24, '\0');
    char* p = out.data();
    p = two(p, year / 100);
    p = two(p, year % 100);
    *p++ = '-';
    p = two(p, static_cast<unsigned>(ymd.month()));
    *p++ = '-';
    p = two(p, static_cast<unsigned>(ymd.day()));
    *p++ = 'T';
    p = two(p, static_cast<unsigned>(hms.hours().count()));
    *p++ = ':';
    p = two(p, static_cast<unsigned>(hms.minutes().count()));
    *p++ = ':';
    p = two(p, static_cast<unsigned>(hms.seconds().count()));
    *p++ = '.';
    const auto ms = static_cast<unsigned>(hms.subseconds().count());
    *p++ = static_cast<char>('0' + ms / 100);
    p = two(p, ms % 100);
    *p = 'Z';
    return out;
}

}  // namespace forkrun::util
