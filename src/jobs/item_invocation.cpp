#include "jobs/item_invocation.h"

#include <cctype>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "api/request_priority.h"

// GCC 12 takes the frame allocation of Asio's awaitable for a mismatched
// new/delete pair (see api_service.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace tether::jobs {

namespace {

// A model name as a path: slashes stay (the route's {model...} takes them),
// anything outside the unreserved characters and '@' ':' is percent-encoded.
std::string encode_model_path(const std::string& model) {
  std::string out;
  for (unsigned char c : model) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/' || c == '@' || c == ':') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

boost::asio::awaitable<api::InvokeResult> invoke_item(const api::LocalInvoker* invoker, ItemInvocation invocation,
                                                      std::shared_ptr<http::ClientWatch> watch) {
  co_return co_await invoker->invoke(std::move(invocation.method), std::move(invocation.target),
                                     std::move(invocation.body), std::move(invocation.headers), std::move(watch));
}

}  // namespace

ItemInvocation item_invocation(const store::Claim& claim) {
  ItemInvocation invocation;
  invocation.target = claim.endpoint == "/ai/run" ? "/ai/run/" + encode_model_path(claim.model) : claim.endpoint;
  boost::system::error_code ec;
  boost::json::value request = boost::json::parse(claim.item.request, ec);
  if (!ec && request.is_object()) {
    request.as_object()["stream"] = false;
    invocation.body = boost::json::serialize(request);
  } else {
    invocation.body = claim.item.request;
  }
  invocation.headers.emplace_back("content-type", "application/json");
  invocation.headers.emplace_back(std::string(api::kPriorityHeader), "async");
  invocation.headers.emplace_back("x-request-id", store::item_ref(claim.item.job_id, claim.item.index));
  return invocation;
}

Dispatcher::InvokeFn local_invoke_fn(const api::LocalInvoker& invoker) {
  // Not a coroutine lambda: the frame holds its own copies, not the closure's.
  return [invoker = &invoker](const store::Claim& claim, std::shared_ptr<http::ClientWatch> watch) {
    return invoke_item(invoker, item_invocation(claim), std::move(watch));
  };
}

}  // namespace tether::jobs
