#pragma once

#include <string>

#include "api/local_invoker.h"
#include "http/exchange.h"
#include "jobs/dispatcher.h"
#include "store/job_store.h"

namespace tether::jobs {

// The HTTP request that runs one job item in process.
struct ItemInvocation {
  std::string method = "POST";
  std::string target;  // "/ai/run/<model>" for endpoint "/ai/run", else the endpoint
  std::string body;    // the item's request with "stream": false
  http::HeaderList headers;  // content-type, x-tether-priority: async, x-request-id: <job id>/<index>
};

// A request that is not a JSON object is passed on as it is: the route
// answers it 400, and the item fails with that answer.
ItemInvocation item_invocation(const store::Claim& claim);

// The dispatcher's invoke function over `invoker` (which must outlive it).
Dispatcher::InvokeFn local_invoke_fn(const api::LocalInvoker& invoker);

}  // namespace tether::jobs
