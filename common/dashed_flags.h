// Lets Octet's tools accept `--model-repository` as well as Abseil's `--model_repository`:
// rewrites dashes in flag names (not in values) to underscores before absl::ParseCommandLine.
//
//   DashedFlags args(argc, argv);
//   absl::ParseCommandLine(args.argc(), args.argv());
//
// Owns the rewritten strings; argv() stays valid while the object lives. Not thread-safe.
#ifndef OCTET_COMMON_DASHED_FLAGS_H_
#define OCTET_COMMON_DASHED_FLAGS_H_

#include <algorithm>
#include <string>
#include <vector>

namespace octet {

class DashedFlags {
 public:
  DashedFlags(int argc, char** argv) : storage_(argv, argv + argc) {
    for (std::string& arg : storage_) {
      if (arg.rfind("--", 0) == 0) {
        const size_t end = std::min(arg.find('='), arg.size());
        std::replace(arg.begin() + 2, arg.begin() + static_cast<std::ptrdiff_t>(end), '-', '_');
      }
      pointers_.push_back(arg.data());
    }
  }
  int argc() const { return static_cast<int>(pointers_.size()); }
  char** argv() { return pointers_.data(); }

 private:
  std::vector<std::string> storage_;
  std::vector<char*> pointers_;
};

}  // namespace octet

#endif  // OCTET_COMMON_DASHED_FLAGS_H_
