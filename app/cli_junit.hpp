// JUnit XML of a run, one test case per node, for CI systems that show test reports.
#pragma once

#include <boost/json/object.hpp>
#include <string>

namespace forkrun::app {

/// The report of `run` (a full Run object): a suite named after its workflow, a case per node
/// of executionState.nodes; a failed node is a <failure> with its error message, a skipped or
/// cancelled node (or one that had not finished) is <skipped/>.
std::string junit_xml(const boost::json::object& run);

}  // namespace forkrun::app
