// The generated Protobuf and gRPC code of stswatch.v1 builds, links and works end to end.

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "stswatch/v1/lint.grpc.pb.h"
#include "stswatch/v1/model.pb.h"

namespace stswatch {
namespace {

TEST(ProtoCodegenTest, ModelMessagesRoundTrip) {
  v1::LintPolicyResponse response;
  response.set_valid(true);
  v1::Finding* finding = response.add_findings();
  finding->set_code("policy.max_age_short_enforce");
  finding->set_severity(v1::SEVERITY_WARNING);
  finding->set_rfc("RFC 8461 §3.2");
  response.mutable_policy()->set_mode(v1::POLICY_MODE_ENFORCE);
  response.mutable_policy()->set_max_age(604800);
  response.mutable_policy()->add_mx("*.example.net");

  v1::LintPolicyResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(response.SerializeAsString()));
  EXPECT_EQ(parsed.findings(0).code(), "policy.max_age_short_enforce");
  EXPECT_EQ(parsed.findings(0).severity(), v1::SEVERITY_WARNING);
  EXPECT_EQ(parsed.policy().max_age(), 604800u);
  EXPECT_EQ(parsed.policy().mx(0), "*.example.net");
}

// A service implemented on the generated base class answers a call made through the generated
// stub over an in-process channel.
class EchoModeLintService final : public v1::LintService::Service {
  grpc::Status LintPolicy(grpc::ServerContext*, const v1::LintPolicyRequest* request,
                          v1::LintPolicyResponse* response) override {
    response->set_valid(request->policy().find("mode: enforce") != std::string::npos);
    for (const std::string& host : request->mx_hosts()) {
      response->add_mx_coverage()->set_host(host);
    }
    return grpc::Status::OK;
  }
};

TEST(ProtoCodegenTest, GrpcServiceAnswersThroughStub) {
  EchoModeLintService service;
  grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto stub = v1::LintService::NewStub(server->InProcessChannel(grpc::ChannelArguments()));

  v1::LintPolicyRequest request;
  request.set_policy("version: STSv1\r\nmode: enforce\r\n");
  request.add_mx_hosts("mx1.example.com");
  v1::LintPolicyResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  const grpc::Status status = stub->LintPolicy(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(response.valid());
  ASSERT_EQ(response.mx_coverage_size(), 1);
  EXPECT_EQ(response.mx_coverage(0).host(), "mx1.example.com");
  server->Shutdown();
}

}  // namespace
}  // namespace stswatch
