// s3::Client against a real S3 store (versitygw, which checks signatures, body hashes and
// checksums): a multipart object put and read back whole, also through a proxy that fails
// requests; listing that pages past 1000 keys; deleting many; keys that need encoding.
#include <gtest/gtest.h>
#include <fmt/format.h>

#include "common/error.hpp"
#include "crypto/primitives.hpp"
#include "s3/client.hpp"
#include "s3_server.hpp"

namespace decant::test {
namespace {

s3::Client client_for(const S3Server& store, const std::string& endpoint) {
  auto env = store.env();
  s3::Endpoint e;
  e.url = endpoint;
  e.bucket = S3Server::bucket();
  return s3::Client(e, {env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], ""},
                    {.attempts = 6, .first_delay = std::chrono::milliseconds(20), .max_delay = std::chrono::milliseconds(200)});
}

TEST(S3ClientTest, AMultipartObjectArrivesWholeEvenWhenRequestsFail) {
  S3Server store;
  std::string big = crypto::random_bytes(s3::Client::multipart_threshold() + s3::Client::part_size() / 2 + 12345);
  {
    auto direct = client_for(store, store.endpoint());
    direct.put("big/one", big);
    EXPECT_EQ(direct.head("big/one"), big.size());
    EXPECT_EQ(direct.get("big/one"), big);
  }
  FaultyProxy proxy(store.endpoint(), {.fail_every = 2, .drop_every = 0, .only_method = "PUT", .expired_token = false});
  auto through = client_for(store, proxy.endpoint());
  through.put("big/two", big);
  EXPECT_GE(proxy.failed(), 2);
  EXPECT_EQ(client_for(store, store.endpoint()).get("big/two"), big);
  // The two objects, whole, and nothing else.
  auto listed = through.list("big/");
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].size, big.size());
}

TEST(S3ClientTest, ListsPastAThousandKeysAndDeletesThemAll) {
  S3Server store;
  auto c = client_for(store, store.endpoint());
  std::vector<std::string> keys;
  for (int i = 0; i < 1005; ++i) keys.push_back(fmt::format("many/{:04}", i));
  for (const auto& k : keys) c.put(k, k);
  c.put("other/x", "x");
  auto listed = c.list("many/");
  ASSERT_EQ(listed.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(listed[i].key, keys[i]);
  c.remove(keys);
  EXPECT_TRUE(c.list("many/").empty());
  EXPECT_EQ(c.list("other/").size(), 1u);
}

TEST(S3ClientTest, KeysThatNeedEncodingRoundTrip) {
  S3Server store;
  auto c = client_for(store, store.endpoint());
  const std::string key = "odd/a b+c=d ü ~*()!$&',;@[].txt";
  c.put(key, "content");
  EXPECT_EQ(c.get(key), "content");
  EXPECT_EQ(c.head(key), 7u);
  auto listed = c.list("odd/");
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].key, key);
  EXPECT_EQ(c.get("odd/absent"), std::nullopt);
  EXPECT_EQ(c.head("odd/absent"), std::nullopt);
  c.remove({key, "odd/absent"});
  EXPECT_EQ(c.get(key), std::nullopt);
}

}  // namespace
}  // namespace decant::test
