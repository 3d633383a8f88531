// Tests for the JUnit report of a run: a case per node, failures with their message and code,
// skipped and unfinished nodes, times from the timestamps, and XML escaping.
#include "app/cli_junit.hpp"

#include <gtest/gtest.h>

#include <string>

#include <boost/json/parse.hpp>

namespace forkrun::app {
namespace {

namespace json = boost::json;

TEST(CliJunit, ACaseForEachNodeWithItsOutcome) {
    const json::object run = json::parse(R"({"id": "run_1", "workflowId": "wf<&>",
        "status": "failure", "startedAt": "2026-11-28T08:34:53.000Z",
        "finishedAt": "2026-11-28T08:34:55.250Z", "totalCu": 126,
        "executionState": {"nodes": {
            "root": {"status": "success", "startedAt": "2026-11-28T08:34:53.000Z",
                     "finishedAt": "2026-11-28T08:34:53.100Z"},
            "a": {"status": "failure", "startedAt": "2026-11-28T08:34:53.100Z",
                  "finishedAt": "2026-11-28T08:34:55.250Z",
                  "error": {"code": "rpc_failed",
                            "message": "chain 1: \"eth_call\" <failed> & 'gone'\u0001"}},
            "b": {"status": "skipped"},
            "c": {"status": "running", "startedAt": "2026-11-28T08:34:53.100Z"},
            "d": {"status": "cancelled"},
            "e": 5}}})")
                                 .as_object();
    EXPECT_EQ(junit_xml(run),
              R"xml(<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="forkrun" tests="5" failures="1" errors="0" skipped="3" time="2.250">
  <testsuite name="wf&lt;&amp;&gt;" id="run_1" tests="5" failures="1" errors="0" skipped="3" time="2.250" timestamp="2026-11-28T08:34:53.000Z">
    <properties>
      <property name="runId" value="run_1"/>
      <property name="status" value="failure"/>
      <property name="totalCu" value="126"/>
    </properties>
    <testcase name="root" classname="wf&lt;&amp;&gt;" time="0.100"/>
    <testcase name="a" classname="wf&lt;&amp;&gt;" time="2.150">
      <failure message="chain 1: &quot;eth_call&quot; &lt;failed&gt; &amp; &apos;gone&apos;" type="rpc_failed">chain 1: &quot;eth_call&quot; &lt;failed&gt; &amp; &apos;gone&apos;</failure>
    </testcase>
    <testcase name="b" classname="wf&lt;&amp;&gt;" time="0.000">
      <skipped message="skipped"/>
    </testcase>
    <testcase name="c" classname="wf&lt;&amp;&gt;" time="0.000">
      <skipped message="not finished (running)"/>
    </testcase>
    <testcase name="d" classname="wf&lt;&amp;&gt;" time="0.000">
      <skipped message="cancelled"/>
    </testcase>
  </testsuite>
</testsuites>
)xml");
}

TEST(CliJunit, AFailedNodeWithoutAnErrorObjectStillSaysItFailed) {
    const json::object run = json::parse(R"({"id": "r", "workflowId": "w",
        "executionState": {"nodes": {"a": {"status": "failure", "error": null}}}})")
                                 .as_object();
    const std::string xml = junit_xml(run);
    EXPECT_NE(xml.find(R"(<failure message="node failed" type="failure">node failed</failure>)"),
              std::string::npos)
        << xml;
}

TEST(CliJunit, ARunWithoutNodesOrTimesIsAnEmptySuite) {
    const std::string xml = junit_xml(json::object());
    EXPECT_NE(
        xml.find(
            R"(<testsuites name="forkrun" tests="0" failures="0" errors="0" skipped="0" time="0.000">)"),
        std::string::npos)
        << xml;
    EXPECT_NE(xml.find(R"(<property name="totalCu" value="0"/>)"), std::string::npos);
    EXPECT_EQ(xml.find("<testcase"), std::string::npos);
    // A finish before the start, or a timestamp that is not one, is no time at all.
    const std::string odd = junit_xml(json::parse(R"({"startedAt": "2026-11-28T08:34:55.000Z",
        "finishedAt": "2026-11-28T08:34:53.000Z", "executionState": {"nodes": {
        "n": {"status": "success", "startedAt": "soon", "finishedAt": "later"}}}})")
                                          .as_object());
    EXPECT_NE(odd.find(R"(skipped="0" time="0.000">)"), std::string::npos) << odd;
    EXPECT_NE(odd.find(R"(<testcase name="n" classname="" time="0.000"/>)"), std::string::npos)
        << odd;
}

}  // namespace
}  // namespace forkrun::app
