#include "engine/tokenizer/vocab.h"

#include <string>

#include <gtest/gtest.h>

#include "common/error.h"
#include "engine/tokenizer/test_vocabs.h"

namespace tether::tokenizer {
namespace {

using testing::bpe_spec;
using testing::spm_spec;

// Builds a Vocab expecting failure; returns the message.
std::string error_of(VocabSpec spec, ErrorCode expected_code) {
  try {
    Vocab vocab(std::move(spec));
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), expected_code) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return {};
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

TEST(VocabTest, SentencePieceDefaultsFollowLlamaCpp) {
  const Vocab vocab(spm_spec({{"\xE2\x96\x81hi", -1.0f}}));
  EXPECT_EQ(vocab.kind(), VocabKind::kSentencePiece);
  EXPECT_EQ(vocab.bos_id(), 1);
  EXPECT_EQ(vocab.eos_id(), 2);
  EXPECT_EQ(vocab.unk_id(), 0);
  EXPECT_TRUE(vocab.add_bos());
  EXPECT_FALSE(vocab.add_eos());
  EXPECT_TRUE(vocab.add_space_prefix());
  EXPECT_EQ(vocab.find("\xE2\x96\x81hi"), testing::kSpmFirstPiece);
  EXPECT_EQ(vocab.find("nope"), kNoToken);
  EXPECT_FLOAT_EQ(vocab.score(testing::kSpmFirstPiece), -1.0f);
  EXPECT_TRUE(vocab.is_special(1));
  EXPECT_FALSE(vocab.is_special(testing::kSpmFirstPiece));
  EXPECT_TRUE(vocab.is_eog(2));
}

TEST(VocabTest, MetadataOverridesDefaults) {
  VocabSpec spec = spm_spec({});
  spec.add_bos = false;
  spec.add_eos = true;
  spec.add_space_prefix = false;
  spec.bos_id = 2;
  spec.eos_id = 1;
  const Vocab vocab(std::move(spec));
  EXPECT_FALSE(vocab.add_bos());
  EXPECT_TRUE(vocab.add_eos());
  EXPECT_FALSE(vocab.add_space_prefix());
  EXPECT_EQ(vocab.bos_id(), 2);
  EXPECT_EQ(vocab.eos_id(), 1);
}

TEST(VocabTest, ByteLevelDefaultsDependOnThePreType) {
  const Vocab gpt2(bpe_spec({}, {}, "gpt-2"));
  EXPECT_FALSE(gpt2.add_bos());
  EXPECT_FALSE(gpt2.add_space_prefix());
  EXPECT_EQ(gpt2.bos_id(), 11);  // llama.cpp's default for gpt2 vocabularies
  const Vocab llama3(bpe_spec({}, {}, "llama3"));
  EXPECT_TRUE(llama3.add_bos());
  const Vocab unnamed(bpe_spec({}, {}, ""));
  EXPECT_EQ(unnamed.pre_type(), "default");
}

TEST(VocabTest, CountMismatchesAreErrors) {
  VocabSpec scores = spm_spec({});
  scores.scores.pop_back();
  EXPECT_TRUE(contains(error_of(std::move(scores), ErrorCode::kCorruptData), "tokenizer.ggml.scores"));
  VocabSpec types = spm_spec({});
  types.token_types.push_back(1);
  EXPECT_TRUE(contains(error_of(std::move(types), ErrorCode::kCorruptData), "token_type"));
}

TEST(VocabTest, BadTokenTypeAndEmptyTokensAreErrors) {
  VocabSpec spec = spm_spec({});
  spec.token_types[5] = 9;
  EXPECT_TRUE(contains(error_of(std::move(spec), ErrorCode::kCorruptData), "token_type[5] = 9"));
  VocabSpec empty;
  empty.model = "llama";
  error_of(std::move(empty), ErrorCode::kCorruptData);
}

TEST(VocabTest, SpecialIdsOutsideTheVocabularyAreErrors) {
  VocabSpec bos = spm_spec({});
  bos.bos_id = 100000;
  EXPECT_TRUE(contains(error_of(std::move(bos), ErrorCode::kCorruptData), "bos_token_id = 100000"));
  VocabSpec eos = spm_spec({});
  eos.eos_id = -3;
  error_of(std::move(eos), ErrorCode::kCorruptData);
  VocabSpec eot = spm_spec({});
  eot.eot_id = 259;
  error_of(std::move(eot), ErrorCode::kCorruptData);
  // A padding id past the end is dropped (converters write those), not refused.
  VocabSpec pad = spm_spec({});
  pad.pad_id = 259;
  EXPECT_EQ(Vocab(std::move(pad)).pad_id(), kNoToken);
}

TEST(VocabTest, AddBosWithoutABosTokenIsAnError) {
  VocabSpec spec = bpe_spec({}, {});
  spec.tokens.resize(5);  // the default BOS (11) no longer fits
  spec.add_bos = true;
  EXPECT_TRUE(contains(error_of(std::move(spec), ErrorCode::kCorruptData), "add_bos_token"));
}

TEST(VocabTest, MergesAreRequiredAndWellFormed) {
  VocabSpec missing = bpe_spec({}, {});
  missing.has_merges = false;
  EXPECT_TRUE(contains(error_of(std::move(missing), ErrorCode::kCorruptData), "tokenizer.ggml.merges"));
  VocabSpec malformed = bpe_spec({}, {"a b", "nospace"});
  EXPECT_TRUE(contains(error_of(std::move(malformed), ErrorCode::kCorruptData), "merges[1]"));
  const Vocab ok(bpe_spec({}, {"a b", "Ġ Ġ"}));
  ASSERT_EQ(ok.merges().size(), 2u);
  EXPECT_EQ(ok.merges()[1].first, "Ġ");
  EXPECT_EQ(ok.merges()[1].second, "Ġ");
}

TEST(VocabTest, UnknownModelOrPreTypeIsNamedInTheError) {
  VocabSpec model = spm_spec({});
  model.model = "t5";
  EXPECT_TRUE(contains(error_of(std::move(model), ErrorCode::kUnsupported), "'t5'"));
  EXPECT_TRUE(contains(error_of(bpe_spec({}, {}, "my-pre"), ErrorCode::kUnsupported), "'my-pre'"));
}

TEST(VocabTest, EndOfTurnTokenIsFoundByTextAndTreatedAsControl) {
  VocabSpec spec = bpe_spec({"<|im_start|>", "<|im_end|>", "<tool>"}, {}, "qwen2");
  spec.token_types.assign(spec.tokens.size(), static_cast<int32_t>(TokenType::kNormal));
  spec.token_types[256] = static_cast<int32_t>(TokenType::kControl);
  spec.token_types[257] = static_cast<int32_t>(TokenType::kUserDefined);
  spec.token_types[258] = static_cast<int32_t>(TokenType::kUserDefined);
  const Vocab vocab(std::move(spec));
  EXPECT_EQ(vocab.eot_id(), 257);
  EXPECT_EQ(vocab.type(257), TokenType::kControl);
  EXPECT_TRUE(vocab.is_eog(257));
  EXPECT_FALSE(vocab.is_eog(256));
  // Splittable: control and user-defined tokens, longest text first.
  ASSERT_EQ(vocab.splittable_tokens().size(), 3u);
  EXPECT_EQ(vocab.splittable_tokens()[0], 256);
  EXPECT_EQ(vocab.splittable_tokens()[2], 258);
}

TEST(VocabTest, DuplicateTextsResolveToTheLastId) {
  const Vocab vocab(spm_spec({{"ab", -1}, {"ab", -2}}));
  EXPECT_EQ(vocab.find("ab"), testing::kSpmFirstPiece + 1);
}

TEST(VocabTest, Phi3AddedTokensSwallowFollowingWhitespace) {
  VocabSpec spec = spm_spec({{"<|user|>", 0}});
  spec.token_types.back() = static_cast<int32_t>(TokenType::kUserDefined);
  spec.model_name = "Phi3";
  const Vocab vocab(std::move(spec));
  EXPECT_TRUE(vocab.rstrip(testing::kSpmFirstPiece));
  EXPECT_FALSE(vocab.rstrip(1));  // <s> is exempt
  EXPECT_FALSE(vocab.lstrip(testing::kSpmFirstPiece));
}

}  // namespace
}  // namespace tether::tokenizer
