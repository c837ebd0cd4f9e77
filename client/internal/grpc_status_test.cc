#include "client/internal/grpc_status.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace octet::client::internal {
namespace {

using ::testing::HasSubstr;

TEST(FromGrpcStatus, OkStaysOk) {
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK, "host:1", false, "s.S/M").ok());
}

TEST(FromGrpcStatus, KeepsEveryCanonicalCodeAndTheMessage) {
  for (int code = 1; code <= 16; ++code) {
    const absl::Status s = FromGrpcStatus(grpc::Status(static_cast<grpc::StatusCode>(code), "why"),
                                          "host:1", true, "s.S/M");
    EXPECT_EQ(static_cast<int>(s.code()), code);
    EXPECT_EQ(s.message(), "why");
  }
}

TEST(FromGrpcStatus, ServerUnavailableWhileConnectedIsKeptAsSent) {
  const absl::Status s =
      FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is shutting down"),
                     "host:1", true, "s.S/M");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "server is shutting down");
}

TEST(FromGrpcStatus, UnreachableServerNamesTheUrl) {
  const absl::Status s = FromGrpcStatus(
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "failed to connect: Connection refused"),
      "localhost:8001", false, "s.S/M");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "cannot reach localhost:8001: failed to connect: Connection refused");
}

TEST(FromGrpcStatus, AClosedSocketHintsAtTls) {
  const absl::Status s =
      FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                  "failed to connect to all addresses; last error: UNAVAILABLE: "
                                  "ipv4:127.0.0.1:8001: Socket closed"),
                     "127.0.0.1:8001", false, "s.S/M");
  EXPECT_THAT(s.message(), HasSubstr("Socket closed (TLS settings or a client certificate"));
}

TEST(FromGrpcStatus, DeadlineWhileConnectingSaysSo) {
  const absl::Status s =
      FromGrpcStatus(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded"),
                     "10.0.0.1:8001", false, "s.S/M");
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(s.message(), HasSubstr("cannot reach 10.0.0.1:8001"));
}

TEST(FromGrpcStatus, MultiLineMessagesBecomeOneLine) {
  const absl::Status s = FromGrpcStatus(
      grpc::Status(grpc::StatusCode::INTERNAL, "first\nsecond\r\nthird\n"), "h:1", true, "s.S/M");
  EXPECT_EQ(s.message(), "first; second; third");
}

TEST(FromGrpcStatus, EmptyMessageNamesTheCall) {
  absl::Status s = FromGrpcStatus(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, ""), "h:1",
                                  true, "octet.v1.Calibration/Calibrate");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(), "octet.v1.Calibration/Calibrate failed without a message");
  s = FromGrpcStatus(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, ""), "h:1", true,
                     "octet.v1.Calibration/Calibrate");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(s.message(), "the server does not implement octet.v1.Calibration/Calibrate");
}

TEST(FromGrpcStatus, OutOfRangeCodeBecomesUnknown) {
  // 30: no code has it, but it is inside grpc::StatusCode's value range (0..31, the bits of its
  // largest code, 16), so the cast is defined (UBSan refuses 42).
  const absl::Status s =
      FromGrpcStatus(grpc::Status(static_cast<grpc::StatusCode>(30), "odd"), "h:1", true, "s.S/M");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnknown);
}

}  // namespace
}  // namespace octet::client::internal
