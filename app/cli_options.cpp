// The flags of `forkrun runs ...` and `forkrun runs --help`.
#include "app/cli_options.hpp"

#include <boost/program_options.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "app/cli.hpp"

namespace forkrun::app {

namespace po = boost::program_options;

po::options_description common_options() {
    po::options_description d("Options of every runs command", 100, 50);
    d.add_options()("server", po::value<std::string>()->value_name("URL"),
                    "the server (default: $FORKRUN_SERVER, else http://127.0.0.1:8080)")(
        "token", po::value<std::string>()->value_name("TOKEN"),
        "bearer token (default: $FORKRUN_TOKEN)")("json", "print the API's JSON instead of text")(
        "help,h", "this text");
    return d;
}

po::options_description wait_options() {
    po::options_description d("Waiting (create, watch)", 100, 50);
    d.add_options()("timeout", po::value<std::string>()->value_name("SECONDS"),
                    "stop waiting after SECONDS (exit 4); implies --wait")(
        "junit", po::value<std::string>()->value_name("PATH"),
        "write JUnit XML to PATH once the run ends (a case per node); implies --wait");
    return d;
}

po::options_description create_options() {
    po::options_description d("runs create FILE|-", 100, 50);
    d.add_options()("simulate", "a simulation (isSimulation true)")(
        "mode", po::value<std::string>()->value_name("fork|pool"),
        "simulationMode; implies --simulate")("chains", po::value<std::string>()->value_name("IDS"),
                                              "the run's chains, e.g. 1,8453")(
        "dust", "a dust test (isDustTest true)")(
        "prop", po::value<std::vector<std::string>>()->value_name("KEY=VALUE"),
        "a propValue (repeatable); VALUE is read as the type inputSchema declares")(
        "workflow-id", po::value<std::string>()->value_name("ID"),
        "workflowId (default: the file's, else its name without extension)")(
        "workflow-version", po::value<std::string>()->value_name("N"),
        "workflowVersion (default: the file's, else 1)")(
        "idempotency-key", po::value<std::string>()->value_name("KEY"),
        "sent as Idempotency-Key: a repeat within 24 h answers the first run")(
        "wait", "wait until the run ends; exit 0 success, 1 failure, 3 cancelled")(
        "follow", "print each event of the run as it happens, until it ends");
    return d;
}

po::options_description list_options() {
    po::options_description d("runs list", 100, 50);
    d.add_options()("status", po::value<std::string>()->value_name("S,..."),
                    "only these statuses (waiting, running, success, failure, cancelled)")(
        "limit", po::value<std::string>()->value_name("N"), "at most N runs (1-200, default 50)")(
        "cursor", po::value<std::string>()->value_name("CURSOR"), "the page after a nextCursor");
    return d;
}

po::options_description cancel_options() {
    po::options_description d("runs cancel ID", 100, 50);
    d.add_options()("reason", po::value<std::string>()->value_name("TEXT"),
                    "why (at most 500 characters)");
    return d;
}

std::string runs_usage() {
    std::ostringstream out;
    out << "forkrun runs: a client of a running forkrun server.\n\n"
           "Usage:\n"
           "  forkrun runs create FILE|- [--simulate] [--mode fork|pool] [--chains IDS] [--dust]\n"
           "                             [--prop KEY=VALUE]... [--idempotency-key KEY]\n"
           "                             [--wait | --follow] [--timeout SECONDS] [--junit PATH]\n"
           "  forkrun runs get ID\n"
           "  forkrun runs list [--status S,...] [--limit N] [--cursor CURSOR]\n"
           "  forkrun runs cancel ID [--reason TEXT]\n"
           "  forkrun runs watch ID [--timeout SECONDS] [--junit PATH]\n\n"
           "FILE is a POST /v1/runs body, or only its workflowDefinition (workflowId is then the\n"
           "file's name, workflowVersion 1). Flags given override the file's fields.\n\n"
        << common_options() << "\n"
        << create_options() << "\n"
        << wait_options() << "\n"
        << list_options() << "\n"
        << cancel_options()
        << "\nExit codes: 0 the run succeeded (or the command did), 1 the run failed, 3 it was\n"
           "cancelled, 4 --timeout passed first, 2 a usage or HTTP error.\n";
    return out.str();
}

}  // namespace forkrun::app
