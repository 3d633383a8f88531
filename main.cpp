// forkrun: the command line. Each command is one call into app/ (app/application.hpp serves).
#include <iostream>
#include <string>
#include <vector>

#include "app/application.hpp"
#include "app/cli.hpp"
#include "app/config.hpp"

namespace {

int serve(const std::vector<std::string>& args) {
    const auto parsed = forkrun::app::parse_serve(args);
    std::cout << parsed.out;
    std::cerr << parsed.err;
    return parsed.config ? forkrun::app::serve(*parsed.config) : parsed.exit_code;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    const std::string command = args.empty() ? "" : args[0];
    const std::vector<std::string> rest(args.begin() + (args.empty() ? 0 : 1), args.end());
    if (command == "serve") {
        return serve(rest);
    }
    if (command == "runs") {
        return forkrun::app::runs_command(rest);
    }
    if (command == "--version" || command == "version") {
        std::cout << "forkrun " << FORKRUN_VERSION << "\n";
        return 0;
    }
    if (command.empty() || command == "--help" || command == "-h") {
        std::cout << forkrun::app::usage();
        return command.empty() ? 2 : 0;
    }
    std::cerr << "forkrun: unknown command " << command << "\n" << forkrun::app::usage();
    return 2;
}
