// The body of `forkrun runs create`: a workflow file (the API's body, or only its
// workflowDefinition) with the command's flags applied over it.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace forkrun::app {

/// The flags of `runs create` that shape the body; unset ones leave the file's value.
struct CreateFlags {
    bool simulate = false;                        // --simulate: isSimulation true
    std::optional<std::string> mode;              // --mode: simulationMode (and isSimulation true)
    std::optional<std::string> chains;            // --chains 1,8453
    bool dust = false;                            // --dust: isDustTest true
    std::vector<std::string> props;               // --prop KEY=VALUE, in order
    std::optional<std::string> workflow_id;       // --workflow-id
    std::optional<std::string> workflow_version;  // --workflow-version
};

/// The POST /v1/runs body, or every problem (each naming its flag or the file). `file` is the
/// parsed workflow file; `default_workflow_id` names a bare definition's workflow (the file's
/// name without its extension).
std::optional<boost::json::object> create_body(const boost::json::value& file,
                                               const std::string& default_workflow_id,
                                               const CreateFlags& flags,
                                               std::vector<std::string>& problems);

}  // namespace forkrun::app
