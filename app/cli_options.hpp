// The flags of `forkrun runs ...` (Boost.Program_options), by command, and the help text.
#pragma once

#include <boost/program_options/options_description.hpp>

namespace forkrun::app {

/// --server, --token, --json, --help: every runs command.
boost::program_options::options_description common_options();
/// --timeout, --junit: create and watch.
boost::program_options::options_description wait_options();
/// runs create's own flags.
boost::program_options::options_description create_options();
/// runs list's filters.
boost::program_options::options_description list_options();
/// runs cancel's --reason.
boost::program_options::options_description cancel_options();

}  // namespace forkrun::app
