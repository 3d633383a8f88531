// Loading keys from environment variables or files; a key's bytes never reach a message.
#include "controller/signers.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace forkrun::controller {

namespace json = boost::json;

void Signers::read_config(const json::value& doc, std::vector<std::string>& problems) {
    const auto* obj = doc.if_object();
    const auto* signers = obj ? obj->if_contains("signers") : nullptr;
    if (!signers) {
        return;
    }
    if (!signers->is_object()) {
        problems.push_back("signers must be an object keyed by signer name");
        return;
    }
    for (const auto& [name, spec] : signers->as_object()) {
        const std::string where = "signers." + std::string(name);
        const auto* s = spec.if_object();
        std::string text;
        if (const auto* env = s ? s->if_contains("privateKeyEnv") : nullptr;
            env && env->is_string()) {
            const char* v = std::getenv(std::string(env->get_string()).c_str());
            if (!v || !*v) {
                problems.push_back(where + ": the environment variable " +
                                   std::string(env->get_string()) + " is not set");
                continue;
            }
            text = v;
        } else if (const auto* file = s ? s->if_contains("privateKeyFile") : nullptr;
                   file && file->is_string()) {
            std::ifstream in(std::string(file->get_string()));
            std::stringstream ss;
            ss << in.rdbuf();
            if (!in) {
                problems.push_back(where + ": cannot read " + std::string(file->get_string()));
                continue;
            }
            text = ss.str();
        } else {
            problems.push_back(where + " needs privateKeyEnv or privateKeyFile");
            continue;
        }
        while (!text.empty() &&
               (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) {
            text.pop_back();
        }
        auto key = eth::PrivateKey::from_hex(text);
        std::fill(text.begin(), text.end(), '\0');
        if (!key) {
            problems.push_back(where + ": not a valid secp256k1 private key (32 bytes of hex)");
            continue;
        }
        keys_.emplace(std::string(name), std::move(*key));
    }
}

const eth::PrivateKey* Signers::find(std::string_view name) const {
    auto it = keys_.find(name.empty() ? kDefault : name);
    return it == keys_.end() ? nullptr : &it->second;
}

const eth::PrivateKey& Signers::simulation_default() {
    static const eth::PrivateKey key = *eth::PrivateKey::from_hex(
        "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
    return key;
}

}  // namespace forkrun::controller
