// What the kernel shows of loopback TCP connections (/proc/net/tcp), so that a test can see a
// fork's connections from the fork's side: how many it holds and whether a request waits unread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace forkrun::http::test {

struct TcpSocket {
    unsigned local_port = 0;
    unsigned remote_port = 0;
    unsigned state = 0;  // 0x01 established, 0x08 close wait, 0x0A listening
    std::uint64_t rx_queue = 0;
    std::uint64_t inode = 0;
};

inline constexpr unsigned kTcpEstablished = 0x01;
inline constexpr unsigned kTcpCloseWait = 0x08;
inline constexpr unsigned kTcpListen = 0x0A;

/// Every IPv4 TCP socket of this network namespace.
inline std::vector<TcpSocket> tcp_sockets() {
    std::vector<TcpSocket> out;
    std::ifstream in("/proc/net/tcp");
    std::string line;
    std::getline(in, line);  // the column names
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout;
        TcpSocket s;
        fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
            timeout >> s.inode;
        const auto port_of = [](const std::string& address) {
            return static_cast<unsigned>(std::stoul(address.substr(address.find(':') + 1), 0, 16));
        };
        if (!fields || local.find(':') == std::string::npos) {
            continue;
        }
        s.local_port = port_of(local);
        s.remote_port = port_of(remote);
        s.state = static_cast<unsigned>(std::stoul(state, 0, 16));
        s.rx_queue = std::stoull(queues.substr(queues.find(':') + 1), 0, 16);
        out.push_back(s);
    }
    return out;
}

/// The socket inodes `pid` holds open.
inline std::set<std::uint64_t> socket_inodes(pid_t pid) {
    std::set<std::uint64_t> out;
    std::error_code ec;
    for (const auto& fd :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
        const auto target = std::filesystem::read_symlink(fd.path(), ec).string();
        if (!ec && target.starts_with("socket:[")) {
            out.insert(std::stoull(target.substr(8)));
        }
    }
    return out;
}

/// The port `pid` listens on (its first listening socket), or 0.
inline unsigned listening_port(pid_t pid) {
    const auto mine = socket_inodes(pid);
    for (const auto& s : tcp_sockets()) {
        if (s.state == kTcpListen && mine.contains(s.inode)) {
            return s.local_port;
        }
    }
    return 0;
}

/// The fork's ends of the connections to `port` that are open.
inline std::vector<TcpSocket> accepted_on(unsigned port) {
    std::vector<TcpSocket> out;
    for (const auto& s : tcp_sockets()) {
        if (s.local_port == port && s.state == kTcpEstablished) {
            out.push_back(s);
        }
    }
    return out;
}

/// The client ports of the connections open to `port`.
inline std::set<unsigned> client_ports_of(unsigned port) {
    std::set<unsigned> out;
    for (const auto& s : accepted_on(port)) {
        out.insert(s.remote_port);
    }
    return out;
}

/// Bytes sent to `port` that its server has not read yet.
inline std::uint64_t unread_on(unsigned port) {
    std::uint64_t sum = 0;
    for (const auto& s : accepted_on(port)) {
        sum += s.rx_queue;
    }
    return sum;
}

/// Polls `done` until it holds or `within` has passed; whether it held.
inline bool eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds within = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling a condition
    }
    return true;
}

}  // namespace forkrun::http::test
