// The organization streams of runs other members own: their `run` and `end` events, read from
// `run_events` in commit order on the store's reader threads and published to this member's
// organization streams (decision 84).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "controller/event_stream.hpp"

namespace forkrun::controller {

class PgRemote;

class PgOrgRelay {
  public:
    /// Called with each event of another member's run, in commit order, on a reader thread.
    using Publish = std::function<void(const std::string& organization_id, Event e)>;

    /// Events read at most this many at a time (then read again at once).
    static constexpr std::size_t kPage = 1000;

    PgOrgRelay(PgRemote& remote, std::string controller_id);

    /// Set before the first poke().
    void set_publish(Publish publish);

    /// The oldest transaction still open at a heartbeat (pg_snapshot_xmin, as text). Once the
    /// database is shared, the relay starts at the one before the heartbeat that found it so,
    /// which is before any event of a member that registered since.
    void note_horizon(std::string xmin);

    /// Reads what was committed since the last read and publishes it, while the database is
    /// shared (PgRemote::lists_from_store); one read at a time, and one more after it when poked
    /// meanwhile. Any thread; nothing to do before the first horizon.
    void poke();

    /// No publish runs after this returns.
    void stop();

  private:
    struct State;
    static void read(const std::shared_ptr<State>& s);

    PgRemote& remote_;
    std::shared_ptr<State> state_;
};

}  // namespace forkrun::controller
