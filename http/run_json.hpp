// The Run object on the wire (API.md "The Run object", with the seed page's keys).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "controller/run_record.hpp"

namespace forkrun::http {

/// Every key of the contract, always present.
std::string run_to_json(const controller::Run& run);
/// A list item: the run without workflowDefinition and executionState.
std::string run_summary_to_json(const controller::Run& run);

/// From a run's full JSON as run_to_json writes it: its summary (run_summary_to_json's text,
/// byte for byte) and where its definition and propValues lie; nullopt for text of another
/// shape.
std::optional<controller::RunTextCut> cut_run_json(std::string_view full);

/// The cached serialization of a record in the given view.
std::shared_ptr<const std::string> run_json(const controller::RunRecord& rec,
                                            controller::RunView view);
/// Text like a finished run's full JSON, to compress it with (RunRecord::compact): the
/// serializations of a cancelled run of a waiting node, then of a typical finished
/// simulation, one after the other, made once.
std::string_view run_json_dictionary();

}  // namespace forkrun::http
