#include "engine/tokenizer/tokenizer.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/gguf/gguf_writer.h"
#include "engine/tokenizer/synthetic_text.h"
#include "engine/tokenizer/test_vocabs.h"
#include "engine/tokenizer/unicode.h"
#include "test_paths.h"

namespace tether::tokenizer {
namespace {

using testing::bpe_spec;
using testing::kSpmFirstPiece;
using testing::spm_spec;
using Ids = std::vector<TokenId>;

constexpr EncodeOptions kPlain{.add_special = false, .parse_special = false};
constexpr EncodeOptions kParse{.add_special = false, .parse_special = true};

// Byte-level vocabulary with <|im_start|> (control, 256), <tool> (user-defined,
// 257), <a> and <a><b> (control, 258 and 259).
Tokenizer special_bpe() {
  VocabSpec spec = bpe_spec({"<|im_start|>", "<tool>", "<a>", "<a><b>"}, {}, "gpt-2");
  spec.token_types.assign(spec.tokens.size(), 1);
  spec.token_types[256] = 3;
  spec.token_types[257] = 4;
  spec.token_types[258] = 3;
  spec.token_types[259] = 3;
  return Tokenizer(std::move(spec));
}

Ids bytes_of(std::string_view text) {
  Ids ids;
  for (char c : text) ids.push_back(static_cast<uint8_t>(c));
  return ids;
}

TEST(TokenizerTest, ControlTokensAreMatchedOnlyWhenParsingSpecials) {
  const Tokenizer tok = special_bpe();
  EXPECT_EQ(tok.encode("a<|im_start|>b", kParse), (Ids{'a', 256, 'b'}));
  EXPECT_EQ(tok.encode("a<|im_start|>b", kPlain), bytes_of("a<|im_start|>b"));
}

TEST(TokenizerTest, UserDefinedTokensAreAlwaysMatched) {
  const Tokenizer tok = special_bpe();
  EXPECT_EQ(tok.encode("x<tool>y<tool>", kPlain), (Ids{'x', 257, 'y', 257}));
}

TEST(TokenizerTest, ManyAddedTokensIncludingOneByteOnes) {
  std::vector<std::string> added;
  for (int i = 0; i < 1000; ++i) added.push_back("<x" + std::to_string(i) + ">");
  added.push_back("~");
  VocabSpec spec = bpe_spec(added, {});
  spec.token_types.assign(spec.tokens.size(), 1);
  for (size_t id = 256; id < spec.tokens.size(); ++id) spec.token_types[id] = 4;
  const Tokenizer tok(std::move(spec));
  EXPECT_EQ(tok.encode("a<x5>b<x999>~", kPlain), (Ids{'a', 256 + 5, 'b', 256 + 999, 256 + 1000}));
  EXPECT_EQ(tok.encode("<x1000>", kPlain), bytes_of("<x1000>"));
}

TEST(TokenizerTest, LongestSpecialTokenWins) {
  const Tokenizer tok = special_bpe();
  EXPECT_EQ(tok.encode("<a><b><a>", kParse), (Ids{259, 258}));
}

TEST(TokenizerTest, AddSpecialFollowsTheVocabularyFlags) {
  VocabSpec spec = bpe_spec({}, {});
  spec.bos_id = 1;
  spec.eos_id = 2;
  spec.add_bos = true;
  spec.add_eos = true;
  const Tokenizer tok(std::move(spec));
  EXPECT_EQ(tok.encode("a"), (Ids{1, 'a', 2}));
  EXPECT_EQ(tok.encode("a", kPlain), (Ids{'a'}));
  EXPECT_EQ(tok.encode(""), (Ids{1, 2}));
  EXPECT_TRUE(tok.encode("", kPlain).empty());
}

// ids: 259 ▁hi, 260 hi, 261 ▁, 262 h, 263 i
Tokenizer small_spm() {
  return Tokenizer(spm_spec({{"\xE2\x96\x81hi", -1}, {"hi", -2}, {"\xE2\x96\x81", -3}, {"h", -3},
                             {"i", -3}}));
}

TEST(TokenizerTest, SentencePiecePrefixesASpaceAtTheStartAndAfterSpecials) {
  const Tokenizer tok = small_spm();
  EXPECT_EQ(tok.encode("hi", kPlain), (Ids{kSpmFirstPiece}));
  EXPECT_EQ(tok.encode("hi"), (Ids{1, kSpmFirstPiece}));
  EXPECT_EQ(tok.encode("hi<s>hi", kParse), (Ids{kSpmFirstPiece, 1, kSpmFirstPiece}));
  EXPECT_EQ(tok.encode("hihi", kPlain), (Ids{kSpmFirstPiece, kSpmFirstPiece + 1}));
}

TEST(TokenizerTest, DecodeRendersSpecialsOnRequestAndDropsThePrefixSpace) {
  const Tokenizer tok = small_spm();
  const Ids ids = tok.encode("hi hi");
  EXPECT_EQ(tok.decode(ids), "hi hi");
  EXPECT_EQ(tok.decode(ids, {.render_special = true}), "<s> hi hi");
  EXPECT_EQ(tok.decode(ids, {.strip_space_prefix = false}), " hi hi");
  EXPECT_EQ(tok.token_to_piece(1), "");
  EXPECT_EQ(tok.token_to_piece(1, true), "<s>");
  EXPECT_EQ(tok.token_to_piece(testing::spm_byte('A')), "A");
  EXPECT_EQ(tok.token_to_piece(kSpmFirstPiece), " hi");
}

TEST(TokenizerTest, ByteLevelPiecesAreRawBytes) {
  const Tokenizer tok = special_bpe();
  EXPECT_EQ(tok.token_to_piece(' '), " ");
  EXPECT_EQ(tok.token_to_piece(0xC3), "\xC3");
  EXPECT_EQ(tok.token_to_piece(257), "<tool>");  // user-defined: always rendered
  EXPECT_EQ(tok.token_to_piece(256), "");
  EXPECT_EQ(tok.decode(tok.encode("héllo <tool>", kPlain)), "héllo <tool>");
}

TEST(TokenizerTest, BadIdsAreErrors) {
  const Tokenizer tok = small_spm();
  EXPECT_THROW(tok.token_to_piece(-1), Error);
  EXPECT_THROW(tok.token_to_piece(tok.n_vocab()), Error);
  const Ids bad{kSpmFirstPiece, 1 << 30};
  try {
    tok.decode(bad);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
}

TEST(TokenizerTest, SurvivesMoves) {
  Tokenizer a = small_spm();
  Tokenizer b = std::move(a);
  EXPECT_EQ(b.encode("hi", kPlain), (Ids{kSpmFirstPiece}));
}

TEST(TokenizerTest, FromGgufReadsTheTokenizerKeys) {
  gguf::GgufWriter writer;
  writer.set("general.name", gguf::Value::of_string("tiny"));
  writer.set("tokenizer.ggml.model", gguf::Value::of_string("llama"));
  writer.set("tokenizer.ggml.tokens", gguf::Value::of_strings({"<unk>", "<s>", "</s>", "\xE2\x96\x81hi", "hi"}));
  writer.set("tokenizer.ggml.scores", gguf::Value::of_f32s({0, 0, 0, -1, -2}));
  writer.set("tokenizer.ggml.token_type", gguf::Value::of_i32s({2, 3, 3, 1, 1}));
  writer.set("tokenizer.ggml.add_bos_token", gguf::Value::of_bool(false));
  const auto file = gguf::GgufFile::from_bytes(writer.write_to_memory(), "tiny.gguf");
  const Tokenizer tok = Tokenizer::from_gguf(file);
  EXPECT_EQ(tok.n_vocab(), 5);
  EXPECT_EQ(tok.encode("hi"), (Ids{3}));
}

TEST(TokenizerTest, FromGgufRejectsMistypedKeys) {
  gguf::GgufWriter writer;
  writer.set("tokenizer.ggml.model", gguf::Value::of_string("gpt2"));
  writer.set("tokenizer.ggml.tokens", gguf::Value::of_u32(7));
  const auto file = gguf::GgufFile::from_bytes(writer.write_to_memory(), "bad.gguf");
  try {
    Tokenizer::from_gguf(file);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorruptData);
    EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.tokens"), std::string::npos) << e.what();
  }
}

// decode(encode(text)) == text for every family on the conformance inputs
// and on generated text (both tokenizers are lossless on valid UTF-8).
class RoundTripTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RoundTripTest, DecodeInvertsEncode) {
  TETHER_SKIP_WITHOUT_SHARED_TESTDATA();
  const auto base =
      ::tether::testing::shared_testdata_dir() / "vocab" / ("ggml-vocab-" + GetParam() + ".gguf");
  const auto file = gguf::GgufFile::open(base);
  const Tokenizer tok = Tokenizer::from_gguf(file);
  std::ifstream in(base.string() + ".inp", std::ios::binary);
  std::stringstream all;
  all << in.rdbuf();
  std::vector<std::string> texts{generate_synthetic_text(30000, 11)};
  std::string chunk;
  std::string content = all.str();
  for (size_t pos = 0, end; (end = content.find("\n__ggml_vocab_test__\n", pos)) != std::string::npos;
       pos = end + 21) {
    texts.push_back(content.substr(pos, end - pos));
  }
  ASSERT_GT(texts.size(), 30u);
  for (const std::string& text : texts) {
    EXPECT_EQ(tok.decode(tok.encode(text)), text);
    EXPECT_EQ(tok.decode(tok.encode(text, kPlain)), text);
  }
}

// One tokenizer serves many request threads at once.
TEST(TokenizerConcurrencyTest, ThreadsShareOneTokenizer) {
  TETHER_SKIP_WITHOUT_SHARED_TESTDATA();
  for (const char* family : {"gpt-2", "llama-spm"}) {
    const auto file = gguf::GgufFile::open(::tether::testing::shared_testdata_dir() / "vocab" /
                                           (std::string("ggml-vocab-") + family + ".gguf"));
    const Tokenizer tok = Tokenizer::from_gguf(file);
    const std::string text = generate_synthetic_text(20000, 9);
    const Ids expected = tok.encode(text);
    std::vector<Ids> results(4);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < results.size(); ++t) {
      threads.emplace_back([&, t] {
        for (int round = 0; round < 3; ++round) results[t] = tok.encode(text);
      });
    }
    for (auto& thread : threads) thread.join();
    for (const Ids& ids : results) EXPECT_EQ(ids, expected) << family;
  }
}

INSTANTIATE_TEST_SUITE_P(AllFamilies, RoundTripTest,
                         ::testing::Values("llama-spm", "phi-3", "gpt-2", "deepseek-llm",
                                           "deepseek-coder", "falcon", "starcoder", "refact",
                                           "mpt"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) c = c == '-' ? '_' : c;
                           return name;
                         });

}  // namespace
}  // namespace tether::tokenizer

namespace tether::tokenizer {
namespace {

// Arbitrary bytes never crash either tokenizer; SentencePiece's byte fallback
// keeps them exactly, byte-level BPE keeps their valid-UTF-8 form.
TEST(TokenizerRobustnessTest, ArbitraryBytesRoundTrip) {
  const Tokenizer spm = small_spm();
  const Tokenizer bpe = special_bpe();
  uint64_t state = 12345;
  auto next_byte = [&state] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<char>(state >> 56);
  };
  for (int round = 0; round < 200; ++round) {
    std::string text;
    const int length = round % 50;
    for (int i = 0; i < length; ++i) text.push_back(next_byte());
    if (text.find("\xE2\x96\x81") != std::string::npos) continue;  // ▁ decodes as a space
    EXPECT_EQ(spm.decode(spm.encode(text, kParse), {.render_special = true}), text);
    EXPECT_EQ(bpe.decode(bpe.encode(text, kParse), {.render_special = true}),
              unicode::sanitize_utf8(text));
  }
}

}  // namespace
}  // namespace tether::tokenizer
