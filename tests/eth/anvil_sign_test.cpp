// A real anvil accepts and mines an EIP-1559 transfer signed by forks/ (dev account #0 on the
// default chain 31337): the receipt succeeds, names our derived address as sender, and the
// recipient's balance becomes the value sent.
#include <gtest/gtest.h>

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>

#include <boost/json.hpp>

#include "forks/eth/eip1559.hpp"
#include "forks/eth/hex.hpp"
#include "forks/eth/secp256k1_key.hpp"

namespace forkrun::eth {
namespace {

using Clock = std::chrono::steady_clock;

std::string anvil_path() {
    if (const char* env = std::getenv("FORKRUN_ANVIL"); env != nullptr && *env != '\0') {
        return env;
    }
    return std::string(FORKRUN_SOURCE_DIR) +
           "/tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";
}

// An anvil child process on a free loopback port; killed and reaped on destruction.
class AnvilProcess {
  public:
    AnvilProcess() {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0) {
            return;
        }
        const std::string path = anvil_path();
        pid_ = fork();
        if (pid_ == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);  // no orphaned anvil if the test binary dies
            dup2(fds[1], STDOUT_FILENO);
            execl(path.c_str(), path.c_str(), "--port", "0", "--host", "127.0.0.1",
                  static_cast<char*>(nullptr));
            _exit(127);
        }
        close(fds[1]);
        out_fd_ = fds[0];
        if (pid_ > 0) {
            port_ = read_port(Clock::now() + std::chrono::seconds(30));
        }
    }
    ~AnvilProcess() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        if (out_fd_ >= 0) {
            close(out_fd_);
        }
    }
    AnvilProcess(const AnvilProcess&) = delete;
    AnvilProcess& operator=(const AnvilProcess&) = delete;

    /// The RPC port, or nothing when anvil did not start listening in time.
    std::optional<int> port() const { return port_; }
    /// What anvil printed so far (for failure messages).
    const std::string& output() const { return output_; }

    /// Waits up to `wait` for anvil output and keeps it (also keeps the pipe from filling up).
    void drain(std::chrono::milliseconds wait) {
        pollfd pfd{out_fd_, POLLIN, 0};
        if (out_fd_ >= 0 && poll(&pfd, 1, static_cast<int>(wait.count())) > 0) {
            char buf[4096];
            const ssize_t n = read(out_fd_, buf, sizeof buf);
            if (n > 0 && output_.size() < 1'000'000) {
                output_.append(buf, static_cast<std::size_t>(n));
            }
        }
    }

  private:
    // Reads stdout until "Listening on 127.0.0.1:PORT" or the deadline.
    std::optional<int> read_port(Clock::time_point deadline) {
        constexpr std::string_view kMarker = "Listening on 127.0.0.1:";
        while (Clock::now() < deadline) {
            pollfd pfd{out_fd_, POLLIN, 0};
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (poll(&pfd, 1, static_cast<int>(std::max<long>(left.count(), 0))) <= 0) {
                continue;
            }
            char buf[4096];
            const ssize_t n = read(out_fd_, buf, sizeof buf);
            if (n <= 0) {
                return std::nullopt;  // anvil exited
            }
            output_.append(buf, static_cast<std::size_t>(n));
            const auto at = output_.find(kMarker);
            if (at != std::string::npos) {
                const auto end = output_.find('\n', at);
                if (end != std::string::npos) {
                    return std::stoi(output_.substr(at + kMarker.size(), end - at));
                }
            }
        }
        return std::nullopt;
    }

    pid_t pid_ = -1;
    int out_fd_ = -1;
    std::optional<int> port_;
    std::string output_;
};

std::size_t collect(char* data, std::size_t size, std::size_t count, void* out) {
    static_cast<std::string*>(out)->append(data, size * count);
    return size * count;
}

// One blocking JSON-RPC call over loopback; returns the "result" member (throws on failure).
boost::json::value rpc(int port, const std::string& method, boost::json::array params) {
    const std::string url = "http://127.0.0.1:" + std::to_string(port);
    const std::string body = boost::json::serialize(boost::json::object{
        {"jsonrpc", "2.0"}, {"id", 1}, {"method", method}, {"params", std::move(params)}});
    std::string response;
    CURL* curl = curl_easy_init();
    if (curl == nullptr) {
        throw std::runtime_error("curl_easy_init");
    }
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
    const CURLcode rc = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) {
        throw std::runtime_error(method + ": " + curl_easy_strerror(rc));
    }
    auto reply = boost::json::parse(response).as_object();
    if (const auto* error = reply.if_contains("error")) {
        throw std::runtime_error(method + ": " + boost::json::serialize(*error));
    }
    return reply.at("result");
}

uint64_t quantity(const boost::json::value& v) {
    return quantity_from_hex(v.as_string()).value();
}

TEST(SignerAnvil, MinesATransferSignedByForks) {
    AnvilProcess anvil;
    ASSERT_TRUE(anvil.port()) << "anvil at " << anvil_path() << " did not start:\n"
                              << anvil.output();
    const int port = *anvil.port();

    const auto key =
        PrivateKey::from_hex("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
            .value();
    const auto recipient = Address::parse("0x000000000000000000000000000000000000dEaD").value();
    ASSERT_EQ(quantity(rpc(port, "eth_chainId", {})), 31337u);

    const auto gas_price = Uint256::from_hex(rpc(port, "eth_gasPrice", {}).as_string()).value();
    Eip1559Tx tx;
    tx.chain_id = 31337;
    tx.nonce =
        quantity(rpc(port, "eth_getTransactionCount", {key.address().to_checksum(), "pending"}));
    tx.max_fee_per_gas = checked_mul(gas_price, Uint256{2}).value();
    tx.max_priority_fee_per_gas = min(gas_price, Uint256{1'000'000'000});
    tx.gas_limit = 21000;
    tx.to = recipient;
    tx.value = Uint256::from_decimal("1234500000000000000").value();
    const SignedTx signed_tx = tx.sign(key);

    const auto sent = rpc(port, "eth_sendRawTransaction", {to_hex(signed_tx.raw)});
    EXPECT_EQ(sent.as_string(), to_hex(signed_tx.hash));

    boost::json::value receipt;
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (Clock::now() < deadline) {
        receipt = rpc(port, "eth_getTransactionReceipt", {to_hex(signed_tx.hash)});
        if (!receipt.is_null()) {
            break;
        }
        anvil.drain(std::chrono::milliseconds(20));  // anvil logs each block it mines
    }
    ASSERT_FALSE(receipt.is_null()) << "no receipt before the deadline";
    EXPECT_EQ(receipt.at("status").as_string(), "0x1");
    EXPECT_EQ(Address::parse(receipt.at("from").as_string()).value(), key.address());
    EXPECT_EQ(Address::parse(receipt.at("to").as_string()).value(), recipient);
    EXPECT_EQ(Uint256::from_hex(
                  rpc(port, "eth_getBalance", {recipient.to_checksum(), "latest"}).as_string())
                  .value(),
              tx.value);
}

}  // namespace
}  // namespace forkrun::eth
