// The Bazel wrappers of Debian's system libraries link and the libraries are the versions the
// project is written against.

#include <ares.h>

#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>
#include <boost/url/parse.hpp>
#include <boost/version.hpp>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

namespace {

TEST(SystemLibrariesTest, CaresInitialisesAChannel) {
  ASSERT_EQ(ares_library_init(ARES_LIB_INIT_ALL), ARES_SUCCESS);
  int version = 0;
  ares_version(&version);
  EXPECT_GE(version, 0x011200);  // 1.18
  ares_channel channel = nullptr;
  ares_options options{};
  ASSERT_EQ(ares_init_options(&channel, &options, 0), ARES_SUCCESS);
  ares_destroy(channel);
  ares_library_cleanup();
}

TEST(SystemLibrariesTest, OpenSslCreatesAContext) {
  EXPECT_GE(OpenSSL_version_num(), 0x30000000UL);
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free);
  ASSERT_NE(ctx, nullptr);
}

TEST(SystemLibrariesTest, HiredisFormatsACommand) {
  char* command = nullptr;
  const int length = redisFormatCommand(&command, "SET %s %s", "key", "value");
  ASSERT_GT(length, 0);
  EXPECT_EQ(std::string(command, static_cast<std::size_t>(length)),
            "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n");
  redisFreeCommand(command);
}

TEST(SystemLibrariesTest, Boost181AsioJsonUrl) {
  EXPECT_EQ(BOOST_VERSION / 100, 1081);
  boost::asio::io_context io;
  bool ran = false;
  boost::asio::post(io, [&] { ran = true; });
  io.run();
  EXPECT_TRUE(ran);
  EXPECT_EQ(boost::json::parse(R"({"a":[1,2]})").at("a").as_array().size(), 2u);
  EXPECT_TRUE(boost::urls::parse_uri("https://mta-sts.example.com/.well-known/mta-sts.txt"));
}

}  // namespace
