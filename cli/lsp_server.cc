#include "cli/lsp_server.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "cli/lsp_policy.h"
#include "cli/lsp_protocol.h"
#include "creditd/version.h"
#include "dsl/diagnostic.h"
#include "dsl/formatter.h"
#include "dsl/parser.h"
#include "engine/checker.h"
#include "engine/program.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"

namespace creditd::cli::lsp {

namespace {

// JSON-RPC and LSP error codes.
constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;
constexpr int kServerNotInitialized = -32002;

constexpr int kSeverityError = 1;
constexpr int kSeverityWarning = 2;
constexpr int kSeverityInformation = 3;

using Json = rapidjson::Value;

const Json* Member(const Json* object, const char* name) {
  if (object == nullptr || !object->IsObject()) return nullptr;
  auto it = object->FindMember(name);
  return it == object->MemberEnd() ? nullptr : &it->value;
}

std::optional<std::string> StringMember(const Json* object, const char* name) {
  const Json* value = Member(object, name);
  if (value == nullptr || !value->IsString()) return std::nullopt;
  return std::string(value->GetString(), value->GetStringLength());
}

// A non-negative integer member (line, character, version), capped at the
// largest int64.
std::optional<int64_t> IntegerMember(const Json* object, const char* name) {
  const Json* value = Member(object, name);
  if (value == nullptr) return std::nullopt;
  if (value->IsUint64()) {
    return static_cast<int64_t>(
        std::min<uint64_t>(value->GetUint64(), std::numeric_limits<int64_t>::max()));
  }
  return std::nullopt;
}

std::optional<Position> PositionMember(const Json* object, const char* name) {
  const Json* position = Member(object, name);
  std::optional<int64_t> line = IntegerMember(position, "line");
  std::optional<int64_t> character = IntegerMember(position, "character");
  if (!line || !character) return std::nullopt;
  return Position{*line, *character};
}

bool ArrayHasString(const Json* array, absl::string_view text) {
  if (array == nullptr || !array->IsArray()) return false;
  for (const Json& item : array->GetArray()) {
    if (item.IsString() && absl::string_view(item.GetString(), item.GetStringLength()) == text) {
      return true;
    }
  }
  return false;
}

void WritePosition(JsonWriter& w, const Position& p) {
  w.StartObject();
  w.Key("line");
  w.Int64(p.line);
  w.Key("character");
  w.Int64(p.character);
  w.EndObject();
}

void WriteRange(JsonWriter& w, const Position& start, const Position& end) {
  w.StartObject();
  w.Key("start");
  WritePosition(w, start);
  w.Key("end");
  WritePosition(w, end);
  w.EndObject();
}

// The range of `span` in `text`, in `encoding`; an unknown span is the
// start of the file.
void WriteSpan(JsonWriter& w, const LineIndex& lines, const dsl::SourceSpan& span,
               Encoding encoding) {
  if (!span.known()) {
    WriteRange(w, Position{}, Position{});
    return;
  }
  const size_t start = lines.FromEngine(span.line, span.column);
  const size_t end = std::max(start, lines.FromEngine(span.end_line, span.end_column));
  WriteRange(w, lines.ToLsp(start, encoding), lines.ToLsp(end, encoding));
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash + 1);
}

// The result of loading and checking one document.
struct Analysis {
  std::unique_ptr<engine::CheckedPolicy> policy;
  std::unique_ptr<PolicyIndex> index;  // refers to *policy: declared after it
};

struct Document {
  std::string uri;
  std::string path;  // how the loader names it: the file's path, or the URI
  std::string text;
  std::optional<int64_t> version;
  std::shared_ptr<const Analysis> current;  // of `text`
  // The latest analysis the checker ran on (names resolved): what
  // completion offers while the text does not parse.
  std::shared_ptr<const Analysis> checked;
  std::vector<std::string> files;  // the paths the latest load read
};

class Server;

// Reads open documents from memory and everything else from disk, as
// `creditctl check` does: an editor's unsaved buffers are what is checked.
class OverlayReader : public engine::FileReader {
 public:
  OverlayReader(const Server& server, std::string main) : server_(server), main_(std::move(main)) {}
  absl::StatusOr<std::string> Read(const std::string& path) override;
  engine::FileSystem* file_system() override { return disk_.file_system(); }

 private:
  const Server& server_;
  std::string main_;
  engine::DiskFileReader disk_;
};

class Server {
 public:
  Server(std::istream& in, std::ostream& out, std::ostream& log, const ServerOptions& options)
      : reader_(in, options.max_message_bytes), out_(out), log_(log), options_(options) {}

  int Run();

  const Document* FindByPath(const std::string& path) const {
    auto it = by_path_.find(path);
    if (it == by_path_.end()) return nullptr;
    auto doc = documents_.find(it->second);
    return doc == documents_.end() ? nullptr : &doc->second;
  }

 private:
  // What handling one message decided.
  enum class Next { kContinue, kExit };

  Next Handle(const std::string& body);
  void HandleRequest(const Json& id, const std::string& method, const Json* params);
  void HandleNotification(const std::string& method, const Json* params);

  void Send(const std::string& body);
  void SendResult(const Json& id, const std::function<void(JsonWriter&)>& result);
  void SendError(const Json* id, int code, const std::string& message);
  void ShowMessage(int type, const std::string& message);
  void Log(const std::string& message) {
    log_ << "creditctl lsp: " << message << "\n" << std::flush;
  }

  void Initialize(const Json& id, const Json* params);
  void DidOpen(const Json* params);
  void DidChange(const Json* params);
  void DidClose(const Json* params);
  // Stops tracking a document: its diagnostics are cleared and the
  // documents that import it read it from disk again. `uri` is a copy: the
  // document it may come from goes.
  void Forget(std::string uri);
  // Says (once to the user, always to the log) that `uri` is not checked.
  void Refuse(const std::string& uri, const std::string& why);
  size_t TotalBytes() const;
  void Hover(const Json& id, const Json* params);
  void Definition(const Json& id, const Json* params);
  void DocumentSymbols(const Json& id, const Json* params);
  void Formatting(const Json& id, const Json* params);
  void Completion(const Json& id, const Json* params);

  Document* DocumentOf(const Json* params);
  void Check(Document& doc);
  // Checks `doc`, then every other open document that read it.
  void CheckWithDependents(const std::string& path);
  void Publish(const Document& doc, const dsl::DiagnosticSink& sink, const dsl::SourceSet* sources,
               const engine::Program* program);
  // The URI of file `file` of a load: the open document's, or a file URI.
  std::optional<std::string> UriOf(const std::string& path) const;

  MessageReader reader_;
  std::ostream& out_;
  std::ostream& log_;
  ServerOptions options_;
  Encoding encoding_ = Encoding::kUtf16;
  bool markdown_ = true;
  bool hierarchical_symbols_ = false;
  bool initialized_ = false;
  bool shutdown_ = false;
  bool warned_refused_ = false;
  std::map<std::string, Document> documents_;  // by URI
  absl::flat_hash_map<std::string, std::string> by_path_;
};

absl::StatusOr<std::string> OverlayReader::Read(const std::string& path) {
  if (const Document* doc = server_.FindByPath(path); doc != nullptr) {
    // The document being checked is read whole: the parser says when it is
    // too large (E0002), as for a file on disk.
    if (path != main_ && doc->text.size() > dsl::ParseOptions().max_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("`", path, "` is larger than ", dsl::ParseOptions().max_bytes, " bytes"));
    }
    return doc->text;
  }
  if (path.empty() || path[0] != '/') {
    return absl::NotFoundError(
        absl::StrCat("there is no file `", path,
                     "`: a document that is not a file imports open documents only"));
  }
  return disk_.Read(path);
}

void Server::Send(const std::string& body) {
  out_ << Frame(body);
  out_.flush();
}

void Server::SendResult(const Json& id, const std::function<void(JsonWriter&)>& result) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("jsonrpc");
  w.String("2.0");
  w.Key("id");
  id.Accept(w);
  w.Key("result");
  result(w);
  w.EndObject();
  Send(std::string(buffer.GetString(), buffer.GetSize()));
}

void Server::SendError(const Json* id, int code, const std::string& message) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("jsonrpc");
  w.String("2.0");
  w.Key("id");
  if (id != nullptr) {
    id->Accept(w);
  } else {
    w.Null();
  }
  w.Key("error");
  w.StartObject();
  w.Key("code");
  w.Int(code);
  w.Key("message");
  WriteString(w, message);
  w.EndObject();
  w.EndObject();
  Send(std::string(buffer.GetString(), buffer.GetSize()));
}

void Server::ShowMessage(int type, const std::string& message) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("jsonrpc");
  w.String("2.0");
  w.Key("method");
  w.String("window/showMessage");
  w.Key("params");
  w.StartObject();
  w.Key("type");
  w.Int(type);
  w.Key("message");
  WriteString(w, message);
  w.EndObject();
  w.EndObject();
  Send(std::string(buffer.GetString(), buffer.GetSize()));
}

int Server::Run() {
  std::string body;
  std::string problem;
  while (true) {
    switch (reader_.Next(&body, &problem)) {
      case MessageReader::Result::kMessage:
        if (Handle(body) == Next::kExit) return shutdown_ ? 0 : 1;
        break;
      case MessageReader::Result::kSkipped:
        Log(absl::StrCat("skipped ", problem));
        break;
      case MessageReader::Result::kTooLarge:
        Log(absl::StrCat("stopping: ", problem));
        ShowMessage(1, absl::StrCat("creditctl lsp stopped: the client sent ", problem));
        return 1;
      case MessageReader::Result::kEnd:
        if (!shutdown_) Log("the input ended without `shutdown` and `exit`");
        return shutdown_ ? 0 : 1;
    }
  }
}

Server::Next Server::Handle(const std::string& body) {
  rapidjson::Document message;
  // Iterative: nesting costs no stack. Strings must be UTF-8.
  message.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(
      body.data(), body.size());
  if (message.HasParseError()) {
    SendError(nullptr, kParseError,
              absl::StrCat("parse error at byte ", message.GetErrorOffset(), ": ",
                           rapidjson::GetParseError_En(message.GetParseError())));
    return Next::kContinue;
  }
  if (!message.IsObject()) {
    SendError(nullptr, kInvalidRequest, "a message must be a JSON object");
    return Next::kContinue;
  }
  const Json* id = Member(&message, "id");
  const Json* method_value = Member(&message, "method");
  if (method_value == nullptr) {
    // A response to a request of ours: this server sends none.
    if (id != nullptr &&
        (Member(&message, "result") != nullptr || Member(&message, "error") != nullptr)) {
      return Next::kContinue;
    }
    SendError(nullptr, kInvalidRequest, "a message without a method");
    return Next::kContinue;
  }
  if (!method_value->IsString() ||
      (id != nullptr && !id->IsString() && !id->IsInt64() && !id->IsUint64())) {
    SendError(nullptr, kInvalidRequest,
              "the method must be a string, the id a string or an integer");
    return Next::kContinue;
  }
  const std::string method(method_value->GetString(), method_value->GetStringLength());
  const Json* params = Member(&message, "params");
  if (id == nullptr) {
    if (method == "exit") return Next::kExit;
    HandleNotification(method, params);
    return Next::kContinue;
  }
  HandleRequest(*id, method, params);
  return Next::kContinue;
}

void Server::HandleRequest(const Json& id, const std::string& method, const Json* params) {
  if (method == "initialize") {
    if (initialized_) {
      SendError(&id, kInvalidRequest, "initialize may only be sent once");
    } else {
      Initialize(id, params);
    }
    return;
  }
  if (!initialized_) {
    SendError(&id, kServerNotInitialized, "the server is not initialized");
    return;
  }
  if (shutdown_) {
    SendError(&id, kInvalidRequest, "the server is shut down; only `exit` is left");
    return;
  }
  if (method == "shutdown") {
    shutdown_ = true;
    SendResult(id, [](JsonWriter& w) { w.Null(); });
  } else if (method == "textDocument/hover") {
    Hover(id, params);
  } else if (method == "textDocument/definition") {
    Definition(id, params);
  } else if (method == "textDocument/documentSymbol") {
    DocumentSymbols(id, params);
  } else if (method == "textDocument/formatting") {
    Formatting(id, params);
  } else if (method == "textDocument/completion") {
    Completion(id, params);
  } else {
    SendError(&id, kMethodNotFound, absl::StrCat("no method `", method, "`"));
  }
}

void Server::HandleNotification(const std::string& method, const Json* params) {
  if (!initialized_ || shutdown_) return;
  if (method == "textDocument/didOpen") {
    DidOpen(params);
  } else if (method == "textDocument/didChange") {
    DidChange(params);
  } else if (method == "textDocument/didClose") {
    DidClose(params);
  }
  // Anything else (initialized, didSave, $/cancelRequest, ...) needs nothing.
}

void Server::Initialize(const Json& id, const Json* params) {
  const Json* capabilities = Member(params, "capabilities");
  // LSP 3.17: the client lists the encodings it takes; UTF-16 when it does not.
  encoding_ = ArrayHasString(Member(Member(capabilities, "general"), "positionEncodings"), "utf-8")
                  ? Encoding::kUtf8
                  : Encoding::kUtf16;
  const Json* text_document = Member(capabilities, "textDocument");
  const Json* formats = Member(Member(text_document, "hover"), "contentFormat");
  markdown_ = formats == nullptr || !formats->IsArray() || ArrayHasString(formats, "markdown");
  const Json* hierarchical =
      Member(Member(text_document, "documentSymbol"), "hierarchicalDocumentSymbolSupport");
  hierarchical_symbols_ =
      hierarchical != nullptr && hierarchical->IsBool() && hierarchical->GetBool();
  initialized_ = true;
  const Encoding encoding = encoding_;
  SendResult(id, [encoding](JsonWriter& w) {
    w.StartObject();
    w.Key("capabilities");
    w.StartObject();
    w.Key("positionEncoding");
    w.String(EncodingName(encoding));
    w.Key("textDocumentSync");
    w.StartObject();
    w.Key("openClose");
    w.Bool(true);
    w.Key("change");
    w.Int(1);  // full text
    w.EndObject();
    w.Key("hoverProvider");
    w.Bool(true);
    w.Key("definitionProvider");
    w.Bool(true);
    w.Key("documentSymbolProvider");
    w.Bool(true);
    w.Key("documentFormattingProvider");
    w.Bool(true);
    w.Key("completionProvider");
    w.StartObject();
    w.Key("triggerCharacters");
    w.StartArray();
    w.String(".");
    w.EndArray();
    w.EndObject();
    w.EndObject();
    w.Key("serverInfo");
    w.StartObject();
    w.Key("name");
    w.String("creditctl");
    w.Key("version");
    w.String(kVersion);
    w.EndObject();
    w.EndObject();
  });
}

Document* Server::DocumentOf(const Json* params) {
  std::optional<std::string> uri = StringMember(Member(params, "textDocument"), "uri");
  if (!uri) return nullptr;
  auto it = documents_.find(*uri);
  return it == documents_.end() ? nullptr : &it->second;
}

void Server::DidOpen(const Json* params) {
  const Json* item = Member(params, "textDocument");
  std::optional<std::string> uri = StringMember(item, "uri");
  std::optional<std::string> text = StringMember(item, "text");
  if (!uri || !text) {
    Log("didOpen without a uri and text: ignored");
    return;
  }
  auto open = documents_.find(*uri);
  if (open == documents_.end() && documents_.size() >= options_.max_documents) {
    Refuse(*uri,
           absl::StrCat("at most ", options_.max_documents, " documents are checked at once"));
    return;
  }
  const size_t others = TotalBytes() - (open == documents_.end() ? 0 : open->second.text.size());
  if (others + text->size() > options_.max_total_bytes) {
    if (open != documents_.end()) Forget(*uri);
    Refuse(*uri, absl::StrCat("the open documents would hold more than ", options_.max_total_bytes,
                              " bytes"));
    return;
  }
  std::optional<std::string> file = FilePathFromUri(*uri);
  std::string path = engine::NormalizePath(file ? *file : *uri);
  if (auto existing = by_path_.find(path); existing != by_path_.end() && existing->second != *uri) {
    Log(absl::StrCat(*uri, " names the same file as ", existing->second, ": not checked"));
    return;
  }
  Document& doc = documents_[*uri];
  doc.uri = *uri;
  doc.path = path;
  doc.text = *std::move(text);
  doc.version = IntegerMember(item, "version");
  by_path_[path] = *uri;
  CheckWithDependents(path);
}

void Server::DidChange(const Json* params) {
  Document* doc = DocumentOf(params);
  if (doc == nullptr) return;
  const Json* changes = Member(params, "contentChanges");
  if (changes == nullptr || !changes->IsArray()) return;
  std::string text = doc->text;
  for (const Json& change : changes->GetArray()) {
    std::optional<std::string> replacement = StringMember(&change, "text");
    if (!replacement) continue;
    const Json* range = Member(&change, "range");
    if (range == nullptr) {
      text = *std::move(replacement);
      continue;
    }
    // Incremental, though full text was asked for.
    std::optional<Position> start = PositionMember(range, "start");
    std::optional<Position> end = PositionMember(range, "end");
    if (!start || !end) continue;
    const LineIndex lines(text);
    const size_t from = lines.FromLsp(*start, encoding_);
    const size_t to = std::max(from, lines.FromLsp(*end, encoding_));
    if (text.size() - (to - from) + replacement->size() > options_.max_total_bytes) break;
    text.replace(from, to - from, *replacement);
  }
  if (TotalBytes() - doc->text.size() + text.size() > options_.max_total_bytes) {
    const std::string uri = doc->uri;
    Forget(uri);
    Refuse(uri, absl::StrCat("the open documents would hold more than ", options_.max_total_bytes,
                             " bytes"));
    return;
  }
  doc->text = std::move(text);
  if (std::optional<int64_t> version = IntegerMember(Member(params, "textDocument"), "version")) {
    doc->version = version;
  }
  CheckWithDependents(doc->path);
}

void Server::DidClose(const Json* params) {
  Document* doc = DocumentOf(params);
  if (doc == nullptr) return;
  Forget(doc->uri);
}

void Server::Forget(std::string uri) {
  auto it = documents_.find(uri);
  if (it == documents_.end()) return;
  const std::string path = it->second.path;
  by_path_.erase(path);
  documents_.erase(it);
  // Its diagnostics go with it.
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("jsonrpc");
  w.String("2.0");
  w.Key("method");
  w.String("textDocument/publishDiagnostics");
  w.Key("params");
  w.StartObject();
  w.Key("uri");
  WriteString(w, uri);
  w.Key("diagnostics");
  w.StartArray();
  w.EndArray();
  w.EndObject();
  w.EndObject();
  Send(std::string(buffer.GetString(), buffer.GetSize()));
  // Documents that imported it now read it from disk.
  CheckWithDependents(path);
}

void Server::Refuse(const std::string& uri, const std::string& why) {
  Log(absl::StrCat(uri, " is not checked: ", why));
  if (!warned_refused_) {
    warned_refused_ = true;
    ShowMessage(2, absl::StrCat("creditctl lsp does not check ", uri, ": ", why,
                                "; close documents to check others"));
  }
}

size_t Server::TotalBytes() const {
  size_t total = 0;
  for (const auto& entry : documents_) total += entry.second.text.size();
  return total;
}

void Server::CheckWithDependents(const std::string& path) {
  std::vector<Document*> dependents;
  for (auto& entry : documents_) {
    Document& doc = entry.second;
    if (doc.path == path ||
        std::find(doc.files.begin(), doc.files.end(), path) != doc.files.end()) {
      dependents.push_back(&doc);
    }
  }
  for (Document* doc : dependents) Check(*doc);
}

void Server::Check(Document& doc) {
  OverlayReader reader(*this, doc.path);
  dsl::DiagnosticSink sink;
  absl::StatusOr<std::unique_ptr<engine::CheckedPolicy>> policy =
      engine::LoadAndCheck(doc.path, reader, sink);
  doc.files.clear();
  if (!policy.ok()) {
    // Only when the document itself cannot be read, which an open one can.
    doc.current.reset();
    Log(absl::StrCat(doc.uri, ": ", policy.status().message()));
    Publish(doc, sink, nullptr, nullptr);
    return;
  }
  auto analysis = std::make_shared<Analysis>();
  analysis->policy = *std::move(policy);
  analysis->index = std::make_unique<PolicyIndex>(*analysis->policy);
  const engine::Program* program = analysis->policy->program.get();
  if (program != nullptr) {
    // What it read, and what it tried to import and could not: opening or
    // fixing that file checks this document again.
    for (int i = 0; i < program->sources.size(); ++i) {
      doc.files.push_back(program->sources.file(i).path());
    }
    for (const auto& file : program->files) {
      const std::string from = DirectoryOf(program->sources.file(file->file).path());
      for (const dsl::ast::Import& import : file->imports) {
        doc.files.push_back(engine::NormalizePath(from + import.path));
      }
    }
  }
  doc.current = analysis;
  // The checker ran when the policy has its name (see PolicyIndex).
  if (!analysis->policy->name.empty()) doc.checked = analysis;
  Publish(doc, sink, program != nullptr ? &program->sources : nullptr, program);
}

std::optional<std::string> Server::UriOf(const std::string& path) const {
  if (const Document* doc = FindByPath(path); doc != nullptr) return doc->uri;
  if (!path.empty() && path[0] == '/') return UriFromFilePath(path);
  return std::nullopt;
}

void Server::Publish(const Document& doc, const dsl::DiagnosticSink& sink,
                     const dsl::SourceSet* sources, const engine::Program* program) {
  // Problems in imported files are told at the import that reaches them:
  // the library's own document shows them in full.
  std::vector<std::pair<const dsl::ast::Import*, absl::flat_hash_set<int>>> imports;
  if (program != nullptr && sources != nullptr) {
    absl::flat_hash_map<std::string, int> index_of;
    for (int i = 0; i < sources->size(); ++i) index_of.emplace(sources->file(i).path(), i);
    absl::flat_hash_map<int, const dsl::ast::File*> parsed;
    for (const auto& file : program->files) parsed.emplace(file->file, file.get());
    auto target = [&](int from, const dsl::ast::Import& import) -> int {
      auto it = index_of.find(
          engine::NormalizePath(DirectoryOf(sources->file(from).path()) + import.path));
      return it == index_of.end() ? -1 : it->second;
    };
    auto own = parsed.find(0);
    if (own != parsed.end()) {
      for (const dsl::ast::Import& import : own->second->imports) {
        absl::flat_hash_set<int> reached;
        std::vector<int> stack;
        if (int t = target(0, import); t > 0) stack.push_back(t);
        while (!stack.empty()) {
          const int f = stack.back();
          stack.pop_back();
          if (!reached.insert(f).second) continue;
          auto it = parsed.find(f);
          if (it == parsed.end()) continue;
          for (const dsl::ast::Import& next : it->second->imports) {
            if (int t = target(f, next); t > 0) stack.push_back(t);
          }
        }
        imports.emplace_back(&import, std::move(reached));
      }
    }
  }

  struct Summary {
    int errors = 0;
    int warnings = 0;
    const dsl::Diagnostic* first = nullptr;
  };
  std::vector<Summary> summaries(imports.size());
  const std::vector<dsl::Diagnostic> diagnostics = sink.Sorted();
  const LineIndex lines(doc.text);

  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("jsonrpc");
  w.String("2.0");
  w.Key("method");
  w.String("textDocument/publishDiagnostics");
  w.Key("params");
  w.StartObject();
  w.Key("uri");
  WriteString(w, doc.uri);
  if (doc.version) {
    w.Key("version");
    w.Int64(*doc.version);
  }
  w.Key("diagnostics");
  w.StartArray();
  auto write = [&](const dsl::SourceSpan& span, int severity, const std::string& code,
                   const std::string& message) {
    w.StartObject();
    w.Key("range");
    WriteSpan(w, lines, span, encoding_);
    w.Key("severity");
    w.Int(severity);
    if (!code.empty()) {
      w.Key("code");
      WriteString(w, code);
    }
    w.Key("source");
    w.String("creditctl");
    w.Key("message");
    WriteString(w, message);
    w.EndObject();
  };
  for (const dsl::Diagnostic& d : diagnostics) {
    const int severity = d.severity == dsl::Severity::kError ? kSeverityError : kSeverityWarning;
    if (!d.span.known() || d.span.file == 0) {
      // The help goes on a line of its own under the message, as
      // `creditctl check` prints it.
      write(d.span, severity, d.code,
            d.help.empty() ? d.message : absl::StrCat(d.message, "\nhelp: ", d.help));
      continue;
    }
    for (size_t i = 0; i < imports.size(); ++i) {
      if (!imports[i].second.contains(d.span.file)) continue;
      Summary& s = summaries[i];
      (d.severity == dsl::Severity::kError ? s.errors : s.warnings)++;
      if (s.first == nullptr ||
          (d.severity == dsl::Severity::kError && s.first->severity != dsl::Severity::kError)) {
        s.first = &d;
      }
      break;
    }
  }
  for (size_t i = 0; i < imports.size(); ++i) {
    const Summary& s = summaries[i];
    if (s.first == nullptr) continue;
    const dsl::Diagnostic& d = *s.first;
    const std::string where =
        sources != nullptr && d.span.file < sources->size()
            ? absl::StrCat(sources->file(d.span.file).path(), ":", d.span.line, ":", d.span.column)
            : "";
    write(imports[i].first->span, s.errors > 0 ? kSeverityError : kSeverityWarning, d.code,
          absl::StrCat("`", imports[i].first->path, "` has ", s.errors,
                       s.errors == 1 ? " error" : " errors", " and ", s.warnings,
                       s.warnings == 1 ? " warning" : " warnings", "; the first: ", where, ": ",
                       d.message));
  }
  if (sink.dropped() > 0) {
    write(dsl::SourceSpan{}, kSeverityInformation, "",
          absl::StrCat(sink.dropped(), " more problems are not shown"));
  }
  w.EndArray();
  w.EndObject();
  w.EndObject();
  Send(std::string(buffer.GetString(), buffer.GetSize()));
}

void Server::Hover(const Json& id, const Json* params) {
  std::optional<Position> position = PositionMember(params, "position");
  if (!position) {
    SendError(&id, kInvalidParams, "hover needs a position");
    return;
  }
  const Document* doc = DocumentOf(params);
  if (doc == nullptr || doc->current == nullptr) {
    SendResult(id, [](JsonWriter& w) { w.Null(); });
    return;
  }
  const LineIndex lines(doc->text);
  const EngineLocation at = lines.ToEngine(lines.FromLsp(*position, encoding_));
  const PolicyIndex& index = *doc->current->index;
  const Reference* reference = index.At(at);
  std::optional<HoverText> text;
  if (reference != nullptr) text = index.Hover(*reference);
  if (!text) {
    SendResult(id, [](JsonWriter& w) { w.Null(); });
    return;
  }
  std::string value;
  if (markdown_) {
    value = absl::StrCat("```credit\n", text->signature, "\n```");
    for (const std::string& note : text->notes) absl::StrAppend(&value, "\n\n", note);
  } else {
    value = text->signature;
    for (const std::string& note : text->notes) {
      absl::StrAppend(&value, "\n", absl::StrReplaceAll(note, {{"`", ""}}));
    }
  }
  const bool markdown = markdown_;
  const Encoding encoding = encoding_;
  SendResult(id, [&](JsonWriter& w) {
    w.StartObject();
    w.Key("contents");
    w.StartObject();
    w.Key("kind");
    w.String(markdown ? "markdown" : "plaintext");
    w.Key("value");
    WriteString(w, value);
    w.EndObject();
    w.Key("range");
    WriteSpan(w, lines, reference->span, encoding);
    w.EndObject();
  });
}

void Server::Definition(const Json& id, const Json* params) {
  std::optional<Position> position = PositionMember(params, "position");
  if (!position) {
    SendError(&id, kInvalidParams, "definition needs a position");
    return;
  }
  const Document* doc = DocumentOf(params);
  const Declaration* declaration = nullptr;
  const dsl::SourceSet* sources = nullptr;
  if (doc != nullptr && doc->current != nullptr && doc->current->policy->program != nullptr) {
    const LineIndex lines(doc->text);
    const PolicyIndex& index = *doc->current->index;
    const Reference* reference = index.At(lines.ToEngine(lines.FromLsp(*position, encoding_)));
    if (reference != nullptr) declaration = index.Find(reference->kind, reference->key);
    sources = &doc->current->policy->program->sources;
  }
  std::optional<std::string> uri;
  if (declaration != nullptr && declaration->name_span.known() &&
      declaration->name_span.file < sources->size()) {
    uri = UriOf(sources->file(declaration->name_span.file).path());
  }
  if (!uri) {
    SendResult(id, [](JsonWriter& w) { w.Null(); });
    return;
  }
  const dsl::SourceFile& file = sources->file(declaration->name_span.file);
  const LineIndex lines(file.text());
  const Encoding encoding = encoding_;
  SendResult(id, [&](JsonWriter& w) {
    w.StartObject();
    w.Key("uri");
    WriteString(w, *uri);
    w.Key("range");
    WriteSpan(w, lines, declaration->name_span, encoding);
    w.EndObject();
  });
}

void Server::DocumentSymbols(const Json& id, const Json* params) {
  const Document* doc = DocumentOf(params);
  std::vector<OutlineSymbol> symbols;
  if (doc != nullptr && doc->current != nullptr && doc->current->policy->program != nullptr) {
    for (const auto& file : doc->current->policy->program->files) {
      if (file->file == 0) symbols = Outline(*file);
    }
  }
  if (doc == nullptr) {
    SendResult(id, [](JsonWriter& w) { w.Null(); });
    return;
  }
  const LineIndex lines(doc->text);
  const Encoding encoding = encoding_;
  const std::string& uri = doc->uri;
  if (hierarchical_symbols_) {
    std::function<void(JsonWriter&, const OutlineSymbol&)> write = [&](JsonWriter& w,
                                                                       const OutlineSymbol& s) {
      w.StartObject();
      w.Key("name");
      WriteString(w, s.name.empty() ? "?" : s.name);
      if (!s.detail.empty()) {
        w.Key("detail");
        WriteString(w, s.detail);
      }
      w.Key("kind");
      w.Int(s.kind);
      w.Key("range");
      WriteSpan(w, lines, s.span, encoding);
      w.Key("selectionRange");
      WriteSpan(w, lines, s.name_span, encoding);
      if (!s.children.empty()) {
        w.Key("children");
        w.StartArray();
        for (const OutlineSymbol& child : s.children) write(w, child);
        w.EndArray();
      }
      w.EndObject();
    };
    SendResult(id, [&](JsonWriter& w) {
      w.StartArray();
      for (const OutlineSymbol& s : symbols) write(w, s);
      w.EndArray();
    });
    return;
  }
  // SymbolInformation, flat, for clients without the hierarchy.
  std::function<void(JsonWriter&, const OutlineSymbol&, const std::string&)> write =
      [&](JsonWriter& w, const OutlineSymbol& s, const std::string& container) {
        w.StartObject();
        w.Key("name");
        WriteString(w, s.name.empty() ? "?" : s.name);
        w.Key("kind");
        w.Int(s.kind);
        w.Key("location");
        w.StartObject();
        w.Key("uri");
        WriteString(w, uri);
        w.Key("range");
        WriteSpan(w, lines, s.span, encoding);
        w.EndObject();
        if (!container.empty()) {
          w.Key("containerName");
          WriteString(w, container);
        }
        w.EndObject();
        for (const OutlineSymbol& child : s.children) write(w, child, s.name);
      };
  SendResult(id, [&](JsonWriter& w) {
    w.StartArray();
    for (const OutlineSymbol& s : symbols) write(w, s, "");
    w.EndArray();
  });
}

void Server::Formatting(const Json& id, const Json* params) {
  const Document* doc = DocumentOf(params);
  std::optional<std::string> formatted;
  if (doc != nullptr) {
    dsl::SourceSet sources;
    const int index = sources.Add(doc->path, doc->text);
    dsl::DiagnosticSink sink;
    absl::StatusOr<std::unique_ptr<dsl::ast::File>> file = dsl::Parse(sources, index, sink);
    // A document that does not parse has no canonical form: no edits.
    if (file.ok() && *file != nullptr) formatted = dsl::Format(**file, sources.file(index));
  }
  if (doc == nullptr || !formatted || *formatted == doc->text) {
    SendResult(id, [](JsonWriter& w) {
      w.StartArray();
      w.EndArray();
    });
    return;
  }
  const LineIndex lines(doc->text);
  const Position end = lines.End(encoding_);
  SendResult(id, [&](JsonWriter& w) {
    w.StartArray();
    w.StartObject();
    w.Key("range");
    WriteRange(w, Position{}, end);
    w.Key("newText");
    WriteString(w, *formatted);
    w.EndObject();
    w.EndArray();
  });
}

void Server::Completion(const Json& id, const Json* params) {
  std::optional<Position> position = PositionMember(params, "position");
  if (!position) {
    SendError(&id, kInvalidParams, "completion needs a position");
    return;
  }
  const Document* doc = DocumentOf(params);
  if (doc == nullptr) {
    SendResult(id, [](JsonWriter& w) { w.Null(); });
    return;
  }
  const LineIndex lines(doc->text);
  const size_t offset = lines.FromLsp(*position, encoding_);
  size_t line_start = offset;
  while (line_start > 0 && doc->text[line_start - 1] != '\n' && doc->text[line_start - 1] != '\r') {
    --line_start;
  }
  const absl::string_view before =
      absl::string_view(doc->text).substr(line_start, offset - line_start);
  std::vector<CompletionItem> items;
  const std::shared_ptr<const Analysis> analysis =
      doc->checked != nullptr ? doc->checked : doc->current;
  if (analysis != nullptr) {
    items = analysis->index->Complete(before);
  } else {
    engine::CheckedPolicy empty;
    items = PolicyIndex(empty).Complete(before);
  }
  SendResult(id, [&](JsonWriter& w) {
    w.StartArray();
    for (const CompletionItem& item : items) {
      w.StartObject();
      w.Key("label");
      WriteString(w, item.label);
      w.Key("kind");
      w.Int(item.kind);
      if (!item.detail.empty()) {
        w.Key("detail");
        WriteString(w, item.detail);
      }
      w.Key("sortText");
      WriteString(w, absl::StrCat(item.sort, item.label));
      w.EndObject();
    }
    w.EndArray();
  });
}

}  // namespace

int Serve(std::istream& in, std::ostream& out, std::ostream& log, const ServerOptions& options) {
  Server server(in, out, log, options);
  return server.Run();
}

}  // namespace creditd::cli::lsp
