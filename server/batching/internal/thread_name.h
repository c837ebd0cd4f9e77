// Names the calling thread, so that batch threads are recognizable in `top -H`, perf and gdb.
// Implementation detail of batch_scheduler.h. Thread-safe; best effort (errors are ignored).

#ifndef OCTET_SERVER_BATCHING_INTERNAL_THREAD_NAME_H_
#define OCTET_SERVER_BATCHING_INTERNAL_THREAD_NAME_H_

#include <string>

namespace octet::batching::internal {

// Linux keeps the first 15 characters.
void SetCurrentThreadName(const std::string& name);

}  // namespace octet::batching::internal

#endif  // OCTET_SERVER_BATCHING_INTERNAL_THREAD_NAME_H_
