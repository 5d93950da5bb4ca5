#include "cli/lsp_server.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cli/lsp_protocol.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/engine/test_files.h"

namespace creditd::cli::lsp {
namespace {

// A session: the client's messages, framed, and what the server answered.
struct Session {
  std::string input;
  int exit_code = -1;
  std::vector<std::string> messages;  // bodies, in order
  std::string log;

  Session& Send(const std::string& json) {
    input += Frame(json);
    return *this;
  }
  Session& Initialize() {
    return Send(R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"capabilities":{}}})");
  }
  Session& Open(const std::string& uri, const std::string& text) {
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.StartObject();
    w.Key("jsonrpc");
    w.String("2.0");
    w.Key("method");
    w.String("textDocument/didOpen");
    w.Key("params");
    w.StartObject();
    w.Key("textDocument");
    w.StartObject();
    w.Key("uri");
    WriteString(w, uri);
    w.Key("version");
    w.Int(1);
    w.Key("text");
    WriteString(w, text);
    w.EndObject();
    w.EndObject();
    w.EndObject();
    return Send(buffer.GetString());
  }
  Session& Finish() {
    return Send(R"({"jsonrpc":"2.0","id":99,"method":"shutdown"})")
        .Send(R"({"jsonrpc":"2.0","method":"exit"})");
  }

  void Run(const ServerOptions& options = {}) {
    std::istringstream in(input);
    std::ostringstream out, err;
    exit_code = Serve(in, out, err, options);
    log = err.str();
    const std::string text = out.str();
    size_t at = 0;
    while (at < text.size()) {
      const size_t colon = text.find(':', at);
      const size_t blank = text.find("\r\n\r\n", at);
      ASSERT_NE(blank, std::string::npos);
      size_t length = 0;
      ASSERT_TRUE(absl::SimpleAtoi(text.substr(colon + 1, blank - colon - 1), &length));
      messages.push_back(text.substr(blank + 4, length));
      at = blank + 4 + length;
    }
  }

  // The messages that publish diagnostics for `uri`, each as its count of
  // diagnostics.
  std::vector<int> Published(const std::string& uri) const {
    std::vector<int> counts;
    for (const std::string& m : messages) {
      rapidjson::Document d;
      d.Parse(m.c_str());
      if (d.HasMember("method") &&
          std::string(d["method"].GetString()) == "textDocument/publishDiagnostics" &&
          std::string(d["params"]["uri"].GetString()) == uri) {
        counts.push_back(static_cast<int>(d["params"]["diagnostics"].Size()));
      }
    }
    return counts;
  }
  int Count(const std::string& needle) const {
    int n = 0;
    for (const std::string& m : messages) n += m.find(needle) != std::string::npos;
    return n;
  }
};

const char kPolicy[] =
    "policy p\n  version 1.0.0\n  effective 2026-01-01\ninput x: money\noutput y: money = x\n";

TEST(LspServerTest, ShutdownThenExitIsZeroAndEverythingElseOne) {
  Session clean;
  clean.Initialize().Finish().Run();
  EXPECT_EQ(clean.exit_code, 0);
  Session no_shutdown;
  no_shutdown.Initialize().Send(R"({"jsonrpc":"2.0","method":"exit"})").Run();
  EXPECT_EQ(no_shutdown.exit_code, 1);
  Session cut;
  cut.Initialize().Run();  // the input ends
  EXPECT_EQ(cut.exit_code, 1);
}

TEST(LspServerTest, IdsComeBackAsSent) {
  Session s;
  s.Initialize()
      .Send(R"({"jsonrpc":"2.0","id":"a-string","method":"textDocument/documentSymbol",)"
            R"("params":{"textDocument":{"uri":"file:///none.credit"}}})")
      .Send(R"({"jsonrpc":"2.0","id":18446744073709551615,"method":"nothing/here"})")
      .Finish()
      .Run();
  EXPECT_EQ(s.Count(R"("id":"a-string","result":null)"), 1);
  EXPECT_EQ(s.Count(R"("id":18446744073709551615,"error":{"code":-32601)"), 1);
}

TEST(LspServerTest, DocumentsPastTheLimitsAreNotChecked) {
  ServerOptions options;
  options.max_documents = 1;
  options.max_total_bytes = 200;
  Session s;
  s.Initialize()
      .Open("untitled:a", kPolicy)
      .Open("untitled:b", kPolicy)
      .Open("untitled:a", std::string(300, ' '))
      .Finish()
      .Run(options);
  EXPECT_EQ(s.exit_code, 0);
  // a: checked once, then dropped (its diagnostics cleared) when it grew
  // past the bytes allowed; b never checked.
  EXPECT_EQ(s.Published("untitled:a"), (std::vector<int>{0, 0}));
  EXPECT_EQ(s.Published("untitled:b"), std::vector<int>{});
  EXPECT_EQ(s.Count("window/showMessage"), 1);
  EXPECT_NE(s.log.find("untitled:b is not checked"), std::string::npos);
}

TEST(LspServerTest, OpeningAMissingImportChecksTheImporterAgain) {
  const std::string dir = engine::testing::MakeDir("lsp_server_test_import");
  const std::string policy = dir + "/p.credit";
  const std::string policy_text = absl::StrCat(
      "policy p\n  version 1.0.0\n  effective 2026-01-01\nimport \"lib.credit\"\n"
      "input x: Level\noutput y: Level = x\n");
  Session s;
  s.Initialize()
      .Open(UriFromFilePath(policy), policy_text)
      .Open(UriFromFilePath(dir + "/lib.credit"), "library lib\nenum Level { low, high }\n")
      .Send(absl::StrCat(R"({"jsonrpc":"2.0","method":"textDocument/didClose","params":)",
                         R"({"textDocument":{"uri":")", UriFromFilePath(dir + "/lib.credit"),
                         R"("}}})"))
      .Finish()
      .Run();
  // E0005 (cannot import) at first; none once the library is open, unsaved;
  // again once it is closed, never having been saved.
  EXPECT_EQ(s.Published(UriFromFilePath(policy)), (std::vector<int>{1, 0, 1}));
  EXPECT_EQ(s.Published(UriFromFilePath(dir + "/lib.credit")), (std::vector<int>{0, 0}));
  EXPECT_EQ(s.Count("E0005"), 2);
}

TEST(LspServerTest, NothingButProtocolOnTheOutput) {
  Session s;
  s.input = "garbage\r\n\r\nContent-Length: 50\r\n\r\n{\"a\":";
  s.Run();
  EXPECT_EQ(s.exit_code, 1);
  EXPECT_TRUE(s.messages.empty());
  EXPECT_NE(s.log.find("skipped"), std::string::npos);
}

}  // namespace
}  // namespace creditd::cli::lsp
