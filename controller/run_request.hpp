// Decoding a POST /v1/runs body into a new Run, with every problem reported at once.
#pragma once

#include <boost/json/value.hpp>
#include <boost/system/result.hpp>
#include <string>

#include <functional>
#include "controller/block_library.hpp"
#include "controller/field_error.hpp"
#include "controller/node_types.hpp"
#include "controller/run.hpp"
#include "controller/run_plan.hpp"
#include "controller/run_store.hpp"
#include "controller/signers.hpp"
#include "controller/workflow_validation.hpp"

namespace forkrun::controller {

struct RunRequestContext {
    std::string organization_id;
    std::string subject;
    NodeTypeSet enabled_types;
    std::size_t max_nodes = 10000;
    const RunStore* store = nullptr;  // for sourceRunId
    const Signers* signers = nullptr;
    const BlockLibrary* blocks = nullptr;             // for block nodes; null: an empty library
    std::function<bool(std::uint64_t)> has_upstream;  // null: live runs reach no chain
    std::size_t max_chains = 16;                      // chains of one run (maxChainsPerRun)
};

struct NewRun {
    Run run;       // id, status and timestamps not set yet
    RunPlan plan;  // what executes; run.nodes follow plan.nodes
};

/// The run a request describes, or every problem with its JSON pointer.
boost::system::result<NewRun, FieldErrors> decode_run_request(const boost::json::value& body,
                                                              const RunRequestContext& ctx);

}  // namespace forkrun::controller
