#include "client/cli/flags.h"

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "client/cli/testing/test_files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace octet::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Every test starts from the default flags and leaves them so.
class FlagsTest : public ::testing::Test {
 protected:
  absl::FlagSaver saver_;

  static absl::StatusOr<std::vector<std::string>> Parse(std::vector<std::string> args) {
    args.insert(args.begin(), "octet");
    return ParseFlags(args);
  }
  static std::string Error(std::vector<std::string> args) {
    absl::StatusOr<std::vector<std::string>> r = Parse(std::move(args));
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(r.status().message());
  }
};

TEST_F(FlagsTest, ParsesEveryFormAnywhere) {
  absl::StatusOr<std::vector<std::string>> positional =
      Parse({"--url=h:1", "infer", "--top-k", "3", "m", "--no-json", "-batch=2", "--tls",
             "--dataset_index_unused_check_is_below=x"});
  // The last flag is unknown, so start again without it.
  EXPECT_FALSE(positional.ok());
  positional = Parse({"--url=h:1", "infer", "--top-k", "3", "m", "--nojson", "-batch=2", "--tls",
                      "--timeout", "2s", "--", "--not-a-flag"});
  ASSERT_TRUE(positional.ok()) << positional.status();
  EXPECT_THAT(*positional, ElementsAre("octet", "infer", "m", "--not-a-flag"));
  EXPECT_EQ(absl::GetFlag(FLAGS_url), "h:1");
  EXPECT_EQ(absl::GetFlag(FLAGS_top_k), 3);
  EXPECT_EQ(absl::GetFlag(FLAGS_batch), 2);
  EXPECT_TRUE(absl::GetFlag(FLAGS_tls));
  EXPECT_FALSE(absl::GetFlag(FLAGS_json));
  EXPECT_EQ(absl::GetFlag(FLAGS_timeout), absl::Seconds(2));
  ASSERT_TRUE(Parse({"--json", "--no-tls", "--index=-1"}).ok());
  EXPECT_TRUE(absl::GetFlag(FLAGS_json));
  EXPECT_FALSE(absl::GetFlag(FLAGS_tls));
  EXPECT_EQ(absl::GetFlag(FLAGS_index), -1);   // a negative value after '=' is a value
  ASSERT_TRUE(Parse({"--index", "-5"}).ok());  // and after a flag that needs one
  EXPECT_EQ(absl::GetFlag(FLAGS_index), -5);
}

TEST_F(FlagsTest, ParseErrorsNameTheFlag) {
  EXPECT_EQ(Error({"models", "--bogus"}), "unknown flag --bogus (see octet help)");
  EXPECT_EQ(Error({"--top-k"}), "--top-k needs a value");
  EXPECT_THAT(Error({"--top-k=many"}), HasSubstr("--top-k: "));
  EXPECT_THAT(Error({"--timeout=soon"}), HasSubstr("--timeout: "));
  EXPECT_THAT(Error({"--tls=maybe"}), HasSubstr("--tls: "));
  EXPECT_EQ(Error({"--nourl"}), "unknown flag --nourl (see octet help)");  // not a bool
  // Abseil's own flags are not Octet's options.
  EXPECT_EQ(Error({"--flagfile=x"}), "unknown flag --flagfile (see octet help)");
}

TEST_F(FlagsTest, FlagsMustApplyToTheCommand) {
  EXPECT_TRUE(CheckFlagsApply(*FindCommand("infer")).ok());
  absl::SetFlag(&FLAGS_samples, 10);
  EXPECT_EQ(CheckFlagsApply(*FindCommand("infer")).message(),
            "--samples does not apply to 'infer'");
  EXPECT_TRUE(CheckFlagsApply(*FindCommand("calibrate")).ok());
  absl::SetFlag(&FLAGS_samples, 0);
  absl::SetFlag(&FLAGS_json, true);  // connection and output flags apply everywhere
  absl::SetFlag(&FLAGS_url, "x:1");
  EXPECT_TRUE(CheckFlagsApply(*FindCommand("models")).ok());
  EXPECT_EQ(FindCommand("nope"), nullptr);
}

TEST_F(FlagsTest, ClientOptions) {
  absl::SetFlag(&FLAGS_url, "server:9000");
  absl::SetFlag(&FLAGS_ca, "ca.pem");
  absl::SetFlag(&FLAGS_timeout, absl::Seconds(3));
  absl::StatusOr<client::ClientOptions> options = ClientOptionsFromFlags();
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->url, "server:9000");
  EXPECT_TRUE(options->tls);  // implied by --ca
  EXPECT_EQ(options->root_ca_file, "ca.pem");
  EXPECT_EQ(options->default_timeout, absl::Seconds(3));

  absl::SetFlag(&FLAGS_cert, "cert.pem");
  EXPECT_EQ(ClientOptionsFromFlags().status().message(), "--cert and --key go together");
}

TEST_F(FlagsTest, TokenFromFlagOrFile) {
  absl::SetFlag(&FLAGS_token_file, testing::WriteFile("token", "  s3cret\n"));
  EXPECT_EQ(ClientOptionsFromFlags()->token, "s3cret");
  absl::SetFlag(&FLAGS_token, "other");
  EXPECT_EQ(ClientOptionsFromFlags().status().message(), "give --token or --token-file, not both");
  absl::SetFlag(&FLAGS_token, "");
  absl::SetFlag(&FLAGS_token_file, testing::TempPath("no-such-token"));
  EXPECT_THAT(ClientOptionsFromFlags().status().message(), HasSubstr("cannot read"));
  absl::SetFlag(&FLAGS_token_file, testing::WriteFile("empty-token", "\n"));
  EXPECT_THAT(ClientOptionsFromFlags().status().message(), HasSubstr("is empty"));
}

TEST_F(FlagsTest, InferOptions) {
  EXPECT_THAT(InferOptionsFromFlags("m").status().message(), HasSubstr("infer needs an input"));
  absl::SetFlag(&FLAGS_dataset, "cifar10:x.bin");
  absl::SetFlag(&FLAGS_index, 7);
  absl::SetFlag(&FLAGS_scale, "1/255");
  absl::SetFlag(&FLAGS_layout, "nhwc");
  absl::SetFlag(&FLAGS_model_version, "2");
  absl::StatusOr<InferOptions> options = InferOptionsFromFlags("m");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->model.name, "m");
  EXPECT_EQ(options->model.version, "2");
  EXPECT_EQ(options->source.index, 7);
  EXPECT_DOUBLE_EQ(options->source.prep.scale, 1.0 / 255);
  EXPECT_EQ(options->source.prep.layout, datasets::Preprocessing::Layout::kNHWC);
  EXPECT_EQ(options->top_k, 5);

  absl::SetFlag(&FLAGS_file, "x.npy");
  EXPECT_EQ(InferOptionsFromFlags("m").status().message(), "give --dataset or --file, not both");
  absl::SetFlag(&FLAGS_file, "");
  absl::SetFlag(&FLAGS_layout, "chwn");
  EXPECT_THAT(InferOptionsFromFlags("m").status().message(), HasSubstr("preprocessing flags"));
  absl::SetFlag(&FLAGS_layout, "NCHW");
  absl::SetFlag(&FLAGS_batch, 0);
  EXPECT_EQ(InferOptionsFromFlags("m").status().message(), "--batch must be >= 1");
  absl::SetFlag(&FLAGS_batch, 1);
  absl::SetFlag(&FLAGS_top_k, 0);
  EXPECT_EQ(InferOptionsFromFlags("m").status().message(), "--top-k must be >= 1");
  absl::SetFlag(&FLAGS_json, true);
  EXPECT_TRUE(InferOptionsFromFlags("m").ok());  // JSON without top-k: just the outputs
  absl::SetFlag(&FLAGS_dataset, "");
  absl::SetFlag(&FLAGS_shape, "1,2");
  EXPECT_THAT(InferOptionsFromFlags("m").status().message(), HasSubstr("--shape needs --file"));
}

TEST_F(FlagsTest, CalibrateOptionsMapToTheSpec) {
  EXPECT_THAT(CalibrateOptionsFromFlags("m").status().message(),
              HasSubstr("calibrate needs calibration data"));
  absl::SetFlag(&FLAGS_dataset, "cifar10:train.bin");
  absl::SetFlag(&FLAGS_percentile, 99.99);
  absl::SetFlag(&FLAGS_tolerance, 0.0);
  absl::SetFlag(&FLAGS_tolerance_mode, "relative");
  absl::SetFlag(&FLAGS_precision, "int8");
  absl::SetFlag(&FLAGS_per_tensor_weights, true);
  absl::SetFlag(&FLAGS_server_validation_dataset, "cifar10:val.bin");
  absl::StatusOr<CalibrateOptions> options = CalibrateOptionsFromFlags("m");
  ASSERT_TRUE(options.ok()) << options.status();
  const octet::v1::CalibrationSpec& spec = options->spec;
  EXPECT_EQ(spec.method(), octet::v1::PERCENTILE);  // implied by --percentile
  EXPECT_EQ(spec.percentile(), 99.99);
  EXPECT_TRUE(spec.has_tolerance());  // 0 is a tolerance, not "unset"
  EXPECT_EQ(spec.tolerance(), 0);
  EXPECT_EQ(spec.tolerance_mode(), octet::v1::RELATIVE);
  EXPECT_EQ(spec.precision(), octet::v1::PRECISION_INT8);
  EXPECT_TRUE(spec.per_tensor_weights());
  EXPECT_EQ(spec.validation_dataset(), "cifar10:val.bin");
  EXPECT_EQ(options->dataset, "cifar10:train.bin");

  absl::SetFlag(&FLAGS_tolerance, std::nullopt);
  EXPECT_FALSE(CalibrateOptionsFromFlags("m")->spec.has_tolerance());
  absl::SetFlag(&FLAGS_method, "minmax");
  EXPECT_EQ(CalibrateOptionsFromFlags("m").status().message(),
            "--percentile is for --method=percentile, not minmax");
  absl::SetFlag(&FLAGS_percentile, 0);
  EXPECT_EQ(CalibrateOptionsFromFlags("m")->spec.method(), octet::v1::MINMAX);
  absl::SetFlag(&FLAGS_method, "kl");
  EXPECT_THAT(CalibrateOptionsFromFlags("m").status().message(), HasSubstr("--method: 'kl'"));
  absl::SetFlag(&FLAGS_method, "entropy");
  absl::SetFlag(&FLAGS_precision, "fp32");
  EXPECT_THAT(CalibrateOptionsFromFlags("m").status().message(), HasSubstr("not int8 or mixed"));
  absl::SetFlag(&FLAGS_precision, "mixed");
  absl::SetFlag(&FLAGS_tolerance, -1.0);
  EXPECT_THAT(CalibrateOptionsFromFlags("m").status().message(), HasSubstr("--tolerance"));
  absl::SetFlag(&FLAGS_tolerance, 1.0);
  absl::SetFlag(&FLAGS_validation_samples, 100);
  EXPECT_EQ(CalibrateOptionsFromFlags("m").status().message(),
            "--validation-samples needs --validation-dataset");
}

TEST_F(FlagsTest, CalibrateFromTheServerAlone) {
  absl::SetFlag(&FLAGS_server_dataset, "cifar10:calib500.bin");
  absl::StatusOr<CalibrateOptions> options = CalibrateOptionsFromFlags("m");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->spec.server_dataset(), "cifar10:calib500.bin");
  EXPECT_EQ(options->spec.method(), octet::v1::CALIBRATION_METHOD_UNSPECIFIED);
}

TEST_F(FlagsTest, PerfOptions) {
  absl::StatusOr<PerfOptions> options = PerfOptionsFromFlags("m");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_THAT(options->concurrency, ElementsAre(1));  // synthetic input, one in flight
  absl::SetFlag(&FLAGS_concurrency, "1, 2,4");
  absl::SetFlag(&FLAGS_requests, 50);
  options = PerfOptionsFromFlags("m");
  EXPECT_THAT(options->concurrency, ElementsAre(1, 2, 4));
  EXPECT_EQ(options->requests, 50);
  absl::SetFlag(&FLAGS_rate, "100");
  EXPECT_EQ(PerfOptionsFromFlags("m").status().message(), "give --concurrency or --rate, not both");
  absl::SetFlag(&FLAGS_concurrency, "1");
  options = PerfOptionsFromFlags("m");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_THAT(options->rates, ElementsAre(100));
  EXPECT_TRUE(options->concurrency.empty());
  absl::SetFlag(&FLAGS_rate, "100,fast");
  EXPECT_EQ(PerfOptionsFromFlags("m").status().message(),
            "--rate: 'fast' is not a positive number");
  absl::SetFlag(&FLAGS_rate, "");
  absl::SetFlag(&FLAGS_concurrency, "0");
  EXPECT_EQ(PerfOptionsFromFlags("m").status().message(),
            "--concurrency: '0' is not a positive integer");
  absl::SetFlag(&FLAGS_concurrency, "2");
  absl::SetFlag(&FLAGS_json, true);
  absl::SetFlag(&FLAGS_csv, "-");
  EXPECT_THAT(PerfOptionsFromFlags("m").status().message(), HasSubstr("both write to stdout"));
}

TEST_F(FlagsTest, UsageTextListsEveryCommand) {
  const std::string usage = UsageText();
  for (const CommandSpec& c : Commands()) EXPECT_THAT(usage, HasSubstr("  " + c.name));
  EXPECT_THAT(usage, HasSubstr("--validation-dataset"));
  const std::string help = CommandHelpText(*FindCommand("perf"));
  EXPECT_THAT(help, HasSubstr("usage: octet perf MODEL [flags]"));
  EXPECT_THAT(help, HasSubstr("--concurrency"));
  EXPECT_THAT(help, HasSubstr("[default 5s]"));
  EXPECT_THAT(help, HasSubstr("--url"));
  EXPECT_THAT(help, ::testing::Not(HasSubstr("--top-k")));
}

}  // namespace
}  // namespace octet::cli
