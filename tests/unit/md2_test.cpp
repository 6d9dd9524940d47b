// MD2 against RFC 1319's test suite, HMAC-MD2 against Python's hmac module
// over an independent MD2 (the values below were computed that way).
#include "cuda/fake/md2.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace allot::fake_gpu {
namespace {

std::string Hex(const Md2Digest& digest) {
  std::string text;
  char byte[3];
  for (uint8_t b : digest) {
    std::snprintf(byte, sizeof byte, "%02x", b);
    text += byte;
  }
  return text;
}

std::string Md2Hex(const std::string& message) {
  Md2 md2;
  md2.Update(message.data(), message.size());
  return Hex(md2.Finish());
}

TEST(Md2Test, Rfc1319TestSuite) {
  EXPECT_EQ(Md2Hex(""), "8350e5a3e24c153df2275c9f80692773");
  EXPECT_EQ(Md2Hex("a"), "32ec01ec4a6dac72c0ab96fb34c0b5d1");
  EXPECT_EQ(Md2Hex("abc"), "da853b0d3f88d99b30283a69e6ded6bb");
  EXPECT_EQ(Md2Hex("message digest"), "ab4f496bfb2a530b219ff33031fe06b0");
  EXPECT_EQ(Md2Hex("abcdefghijklmnopqrstuvwxyz"), "4e8ddff3650292ab5a4108c3aa47940b");
  std::string eighty;
  for (int i = 0; i < 8; ++i) eighty += "1234567890";
  EXPECT_EQ(Md2Hex(eighty), "d5976f79d83d3a0dc9806c3c66f3efd8");
}

TEST(Md2Test, PiecesGiveTheSameDigestAsTheWhole) {
  Md2 md2;
  md2.Update("message ", 8);
  md2.Update("digest", 6);
  EXPECT_EQ(Hex(md2.Finish()), "ab4f496bfb2a530b219ff33031fe06b0");
}

TEST(Md2Test, HmacUnderAOneBlockKey) {
  const Md2Digest key = {0x14, 0x6a, 0xdd, 0xae, 0x53, 0xa9, 0xa7, 0x52,
                         0xaa, 0x08, 0x41, 0x36, 0x0b, 0xf5, 0x5a, 0x9f};
  std::string fox = "The quick brown fox jumps over the lazy dog";
  EXPECT_EQ(Hex(HmacMd2(key, fox.data(), fox.size())), "6ff0a92b1488b5790782668dc4f71b6a");
  EXPECT_EQ(Hex(HmacMd2(key, nullptr, 0)), "f66b07aba4a875ea140c2cc013a41c6a");
}

}  // namespace
}  // namespace allot::fake_gpu
