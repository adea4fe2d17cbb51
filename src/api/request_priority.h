#pragma once

#include <string_view>

#include "http/request.h"
#include "sched/schedule_policy.h"

namespace tether::api {

// The header that makes a request async: `x-tether-priority: async`. The
// job dispatcher sets it on the items it runs, so the engine serves them
// after interactive traffic (and preempts them for it).
inline constexpr std::string_view kPriorityHeader = "x-tether-priority";

// The request's engine priority: "async" -> kAsync; absent or
// "interactive" -> kInteractive (either in any case, spaces around ignored).
// Throws http::HttpError (400) naming the header and the accepted values
// for anything else.
sched::Priority request_priority(const http::Request& request);

}  // namespace tether::api
