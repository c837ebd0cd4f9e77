// Unit tests of the gRPC module's small parts; the services themselves are tested end to end
// over real gRPC in tests/e2e.
#include <stdlib.h>

#include <atomic>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/grpc/admin_auth.h"
#include "server/grpc/serial_executor.h"
#include "server/grpc/status_conversion.h"

namespace octet::server {
namespace {

TEST(StatusConversionTest, KeepsCodeAndMessage) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  grpc::Status status = ToGrpcStatus(absl::ResourceExhaustedError("queue full"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(status.error_message(), "queue full");
  EXPECT_EQ(ToGrpcStatus(absl::UnauthenticatedError("x")).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ToGrpcStatus(absl::NotFoundError("x")).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST(AdminAuthorizerTest, NeedsTheExactBearerToken) {
  AdminAuthorizer open("");
  EXPECT_FALSE(open.enabled());
  EXPECT_TRUE(open.CheckHeader("", false).ok());

  AdminAuthorizer auth("s3cret");
  EXPECT_TRUE(auth.CheckHeader("Bearer s3cret", true).ok());
  for (const char* wrong : {"Bearer s3cre", "Bearer s3cret ", "Bearer S3cret", "bearer s3cret",
                            "s3cret", "Bearer ", ""}) {
    absl::Status status = auth.CheckHeader(wrong, true);
    EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << wrong;
    EXPECT_THAT(std::string(status.message()), ::testing::Not(::testing::HasSubstr("s3cret")));
  }
  absl::Status missing = auth.CheckHeader("", false);
  EXPECT_EQ(missing.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(missing.message()), ::testing::HasSubstr("needs the admin token"));
}

TEST(AdminAuthorizerTest, TokenFileIsTrimmedAndMustNotBeEmpty) {
  char path[] = "/tmp/octet-token-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << "  tok\n";
  EXPECT_EQ(*ReadTokenFile(path), "tok");
  std::ofstream(path) << " \n";
  EXPECT_EQ(ReadTokenFile(path).status().code(), absl::StatusCode::kInvalidArgument);
  unlink(path);
  EXPECT_EQ(ReadTokenFile(path).status().code(), absl::StatusCode::kNotFound);
}

TEST(SerialExecutorTest, RunsInOrderAndDrainsAtShutdown) {
  SerialExecutor executor;
  std::vector<int> order;  // only touched by the executor's thread until Shutdown returns
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(executor.Schedule([&order, i] { order.push_back(i); }));
  }
  executor.Shutdown();
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
  EXPECT_FALSE(executor.Schedule([] {}));
  executor.Shutdown();  // idempotent
}

}  // namespace
}  // namespace octet::server
