#include "harness/json.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace harness {
namespace {

using ::testing::HasSubstr;

TEST(JsonTest, ParsesEveryType) {
  absl::StatusOr<Json> doc = Json::Parse(
      R"( {"n": -1.5e2, "ok": true, "no": false, "nothing": null,
           "s": "a\"b\\c\n\u00e9", "list": [1, [2], {}]} )");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(doc->Get("n")->number(), -150);
  EXPECT_TRUE(doc->Get("ok")->boolean());
  EXPECT_FALSE(doc->Get("no")->boolean());
  EXPECT_TRUE(doc->Get("nothing")->is_null());
  EXPECT_EQ(doc->Get("s")->string(), "a\"b\\c\n\xc3\xa9");
  ASSERT_EQ(doc->Get("list")->array().size(), 3u);
  EXPECT_EQ(doc->Get("list")->array()[1].array()[0].number(), 2);
  EXPECT_EQ(doc->Get("missing"), nullptr);
}

TEST(JsonTest, DumpParsesBackToTheSameDocument) {
  Json doc = Json::Object();
  doc.Set("b", Json(Json::Array{Json(1), Json("two"), Json(true), Json()}));
  doc.Set("a", 0.125);
  doc.Set("text", "quote \" backslash \\ tab \t");
  for (int indent : {0, 2}) {
    std::string text = doc.Dump(indent);
    absl::StatusOr<Json> back = Json::Parse(text);
    ASSERT_TRUE(back.ok()) << back.status() << "\n" << text;
    EXPECT_EQ(back->Dump(), doc.Dump());
  }
  EXPECT_EQ(doc.Dump(), R"({"a":0.125,"b":[1,"two",true,null],"text":"quote \" backslash \\ tab \t"})");
}

TEST(JsonTest, NonFiniteNumbersAreWrittenAsNull) {
  EXPECT_EQ(Json(1.0 / 0.0).Dump(), "null");
}

TEST(JsonTest, MalformedInputIsAClearError) {
  for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "tru", "\"open",
                          "1 2", "{\"a\":1,}", "[1e]"}) {
    absl::StatusOr<Json> doc = Json::Parse(bad);
    EXPECT_FALSE(doc.ok()) << bad;
    EXPECT_THAT(std::string(doc.status().message()), HasSubstr("JSON: ")) << bad;
  }
}

TEST(JsonTest, DeepNestingIsRejectedNotOverflowed) {
  std::string deep(10000, '[');
  EXPECT_FALSE(Json::Parse(deep).ok());
}

}  // namespace
}  // namespace harness
