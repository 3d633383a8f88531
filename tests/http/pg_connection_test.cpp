// The store's libpq connection on a real PostgreSQL 15: text[] parameters in the binary format
// reach the server element for element (quotes, backslashes, empty strings, no element at all),
// and a statement prepared on a connection is prepared again on the next one, or on the same one
// once its session has let go of it.
#include "controller/pg_connection.hpp"
#include "http/pg_server.hpp"

namespace forkrun::http::test {
namespace {

using controller::PgBinaryTextArray;
using controller::PgConnection;
using controller::PgParam;

std::string first_of(PgConnection& conn, const std::string& sql, const std::vector<PgParam>& ps) {
    std::string error;
    auto r = conn.run_prepared(sql, ps, PgConnection::SteadyClock::now() + 5s, error);
    EXPECT_TRUE(r) << error;
    return controller::pg_first(r);
}

class PgConnectionTest : public ::testing::Test {
  protected:
    void SetUp() override { ASSERT_TRUE(conn_.connect(pg_.url(), 5s, error_)) << error_; }

    PgServer pg_;
    PgConnection conn_;
    std::string error_;
};

TEST_F(PgConnectionTest, BinaryTextArraysArriveElementForElement) {
    auto& conn = conn_;
    const std::string sql = "SELECT cardinality($1::text[]) || ' ' || $1::text[]::text";
    PgBinaryTextArray items;
    for (const char* item : {"a", "b\"c", "", "d\\e", "{f,g}"}) {
        items.add(item);
    }
    EXPECT_EQ(first_of(conn, sql, {items.param()}), R"(5 {a,"b\"c","","d\\e","{f,g}"})");
    PgBinaryTextArray none;
    EXPECT_EQ(first_of(conn, sql, {none.param()}), "0 {}");
    // A text parameter next to them, and the same statement on a new connection.
    ASSERT_TRUE(conn.connect(pg_.url(), 5s, error_)) << error_;
    EXPECT_EQ(first_of(conn, "SELECT $1 || ':' || array_to_string($2::text[], ',')",
                       {{"x"}, items.param()}),
              R"(x:a,b"c,,d\e,{f,g})");
    EXPECT_EQ(first_of(conn, sql, {items.param()}), R"(5 {a,"b\"c","","d\\e","{f,g}"})");
}

// DISCARD ALL (or a pooler handing the connection to another session) drops the session's
// prepared statements while the connection stays up: the next call prepares its text again.
// Before, every later call of that text failed with "prepared statement does not exist".
TEST_F(PgConnectionTest, AStatementTheSessionLetGoOfIsPreparedAgain) {
    auto& conn = conn_;
    const std::string sql = "SELECT $1 || '!'";
    EXPECT_EQ(first_of(conn, sql, {{"one"}}), "one!");
    ASSERT_TRUE(conn.run("DISCARD ALL", {}, PgConnection::SteadyClock::now() + 5s, error_))
        << error_;
    EXPECT_EQ(first_of(conn, sql, {{"two"}}), "two!");
    EXPECT_EQ(first_of(conn, "SELECT $1 || '?'", {{"three"}}), "three?");
    EXPECT_EQ(first_of(conn, sql, {{"four"}}), "four!");
}

// Texts past the cap of a connection's prepared statements (a caller building texts from values
// would reach it) still run, unprepared, and the ones prepared before still answer.
TEST_F(PgConnectionTest, TextsPastThePreparedCapStillRun) {
    auto& conn = conn_;
    for (std::size_t i = 0; i < PgConnection::kMaxPrepared + 8; ++i) {
        const std::string n = std::to_string(i);
        EXPECT_EQ(first_of(conn, "SELECT $1 || '/" + n + "'", {{"t"}}), "t/" + n);
    }
    EXPECT_EQ(first_of(conn, "SELECT $1 || '/0'", {{"again"}}), "again/0");
    const std::string last = std::to_string(PgConnection::kMaxPrepared + 7);
    EXPECT_EQ(first_of(conn, "SELECT $1 || '/" + last + "'", {{"again"}}), "again/" + last);
}

}  // namespace
}  // namespace forkrun::http::test
