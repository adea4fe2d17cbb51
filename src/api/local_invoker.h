#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "http/client_watch.h"
#include "http/exchange.h"
#include "http/router.h"

namespace tether::api {

// A response as a client would have read it.
struct InvokeResult {
  int status = 0;
  http::HeaderList headers;  // lower-case names, in order
  std::string body;          // whole; a chunked stream's chunks joined (an SSE stream's raw text)
  // The first header with this name (give it lower-case), or nullopt.
  std::optional<std::string_view> header(std::string_view name) const;
};

// Status of an invocation whose watch went away before the handler
// answered (nginx's "client closed request"); the body is an error body.
inline constexpr int kInvocationCancelled = 499;

// Runs a request through the server's routes in process, without a socket:
// the async job dispatcher uses it so that a job item takes exactly the path
// an HTTP request takes (routing, replicas, upstreams, priorities, errors).
// The handler writes into an in-memory transport; the captured bytes are
// parsed back into a response.
//   - No route: 404, a route without this method: 405 with `allow`, as the
//     server answers. The API key check is the server's and is not made here.
//   - A handler that throws before answering gets the error's response (500
//     for an unexpected one); one that throws after its stream began gets 500
//     with the error's body (the partial stream is dropped): a truncated
//     answer is never passed off as a whole one.
//   - Marking `watch` gone cancels the invocation as a client hang-up does
//     (the API cancels the engine request at once). Mark it on the executor
//     that awaits invoke(): listeners run there. An invocation that had no
//     whole response by then returns kInvocationCancelled.
class LocalInvoker {
 public:
  // `router` must outlive the invoker and not change while it is used.
  explicit LocalInvoker(const http::Router& router);

  // Runs the handler on the awaiting coroutine's executor. `headers` are
  // request headers (any case); an x-request-id among them names the
  // request, else one is made. `watch` may be null (never cancelled).
  boost::asio::awaitable<InvokeResult> invoke(std::string method, std::string target, std::string body,
                                              http::HeaderList headers,
                                              std::shared_ptr<http::ClientWatch> watch = nullptr) const;

 private:
  const http::Router& router_;
};

}  // namespace tether::api
