#include "server/batching/internal/thread_name.h"

#include <pthread.h>

namespace octet::batching::internal {
namespace {

// pthread_setname_np fails with ERANGE on longer names, so truncate rather than lose the name.
constexpr size_t kMaxThreadNameLength = 15;

}  // namespace

void SetCurrentThreadName(const std::string& name) {
  const std::string truncated = name.substr(0, kMaxThreadNameLength);
  pthread_setname_np(pthread_self(), truncated.c_str());
}

}  // namespace octet::batching::internal
