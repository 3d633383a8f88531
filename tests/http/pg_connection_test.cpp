// The store's libpq connection on a real PostgreSQL 15: text[] parameters in the binary format
// reach the server element for element (quotes, backslashes, empty strings, no element at all),
// and a statement prepared on a connection is prepared again on the next one.
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

TEST(PgConnectionTest, BinaryTextArraysArriveElementForElement) {
    PgServer pg;
    PgConnection conn;
    std::string error;
    ASSERT_TRUE(conn.connect(pg.url(), 5s, error)) << error;
    const std::string sql = "SELECT cardinality($1::text[]) || ' ' || $1::text[]::text";
    PgBinaryTextArray items;
    for (const char* item : {"a", "b\"c", "", "d\\e", "{f,g}"}) {
        items.add(item);
    }
    EXPECT_EQ(first_of(conn, sql, {items.param()}), R"(5 {a,"b\"c","","d\\e","{f,g}"})");
    PgBinaryTextArray none;
    EXPECT_EQ(first_of(conn, sql, {none.param()}), "0 {}");
    // A text parameter next to them, and the same statement on a new connection.
    ASSERT_TRUE(conn.connect(pg.url(), 5s, error)) << error;
    EXPECT_EQ(first_of(conn, "SELECT $1 || ':' || array_to_string($2::text[], ',')",
                       {{"x"}, items.param()}),
              R"(x:a,b"c,,d\e,{f,g})");
    EXPECT_EQ(first_of(conn, sql, {items.param()}), R"(5 {a,"b\"c","","d\\e","{f,g}"})");
}

}  // namespace
}  // namespace forkrun::http::test
