// Test vectors shipped in fixtures/vectors/, read by name.
#pragma once

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <fstream>
#include <sstream>
#include <string>

namespace forkrun::eth::test {

/// The parsed JSON of fixtures/vectors/<name>.
inline boost::json::value load_vectors(const std::string& name) {
    std::ifstream in(std::string(FORKRUN_SOURCE_DIR) + "/fixtures/vectors/" + name);
    std::stringstream text;
    text << in.rdbuf();
    return boost::json::parse(text.str());
}

}  // namespace forkrun::eth::test
