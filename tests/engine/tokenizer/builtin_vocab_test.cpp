#include "engine/tokenizer/builtin_vocab.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "common/error.h"
#include "engine/tokenizer/builtin_vocab_corpus.h"

namespace tether::tokenizer {
namespace {

const BuiltinVocab& default_vocab() {
  static const BuiltinVocab vocab = build_builtin_vocab();
  return vocab;
}

// Encodes one pre-tokenized piece with the merges by rank (the textbook
// algorithm, independent of the trainer) and returns the token strings.
std::vector<std::string> encode_piece(const BuiltinVocab& vocab, std::string_view piece) {
  std::unordered_map<std::string, size_t> rank;
  for (size_t i = 0; i < vocab.merges.size(); ++i) rank.emplace(vocab.merges[i], i);
  std::vector<std::string> symbols;
  for (unsigned char byte : piece) symbols.push_back(byte_to_unicode(byte));
  while (symbols.size() > 1) {
    size_t best = SIZE_MAX, best_at = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      auto it = rank.find(symbols[i] + " " + symbols[i + 1]);
      if (it != rank.end() && it->second < best) best = it->second, best_at = i;
    }
    if (best == SIZE_MAX) break;
    symbols[best_at] += symbols[best_at + 1];
    symbols.erase(symbols.begin() + static_cast<ptrdiff_t>(best_at) + 1);
  }
  return symbols;
}

TEST(BuiltinVocabTest, ByteSpellingIsGpt2sReversibleMap) {
  EXPECT_EQ(byte_to_unicode('a'), "a");
  EXPECT_EQ(byte_to_unicode('!'), "!");
  EXPECT_EQ(byte_to_unicode(' '), "\xC4\xA0");   // U+0120 'Ġ'
  EXPECT_EQ(byte_to_unicode('\n'), "\xC4\x8A");  // U+010A 'Ċ'
  EXPECT_EQ(byte_to_unicode(0), "\xC4\x80");     // U+0100
  EXPECT_EQ(byte_to_unicode(0xAD), "\xC5\x83");  // soft hyphen → U+0143
  EXPECT_EQ(byte_to_unicode(0xE9), "\xC3\xA9");  // printable Latin-1 stands for itself
  std::set<std::string> spellings;
  for (int byte = 0; byte < 256; ++byte) spellings.insert(byte_to_unicode(static_cast<uint8_t>(byte)));
  EXPECT_EQ(spellings.size(), 256u);
}

TEST(BuiltinVocabTest, Qwen2SplitMatchesThePattern) {
  // Punctuation keeps the newlines after it; a lone newline run is a piece;
  // of several spaces before a word, the last one joins the word. (Expected
  // pieces computed with Python's `regex` module and the same pattern.)
  std::vector<std::string> expected = {"Hello", " world", "'s", " ", "1", "2", "3",
                                       " test", "!!\n\n", " ", " x"};
  EXPECT_EQ(pre_tokenize_qwen2("Hello world's 123 test!!\n\n  x"), expected);
  std::vector<std::string> newlines = {"a", "\n\n", " ", " b"};
  EXPECT_EQ(pre_tokenize_qwen2("a\n\n  b"), newlines);
  // Non-ASCII letters are letters; pieces always cover the input exactly.
  std::vector<std::string> accented = {"Très", " bien", ","};
  EXPECT_EQ(pre_tokenize_qwen2("Très bien,"), accented);
  std::string invalid = "ab\xFF\xFE cd";
  std::string joined;
  for (const auto& piece : pre_tokenize_qwen2(invalid)) joined += piece;
  EXPECT_EQ(joined, invalid);
}

TEST(BuiltinVocabTest, HasAllBytesSpecialsAndUniqueTokens) {
  const auto& vocab = default_vocab();
  ASSERT_EQ(vocab.size(), kBuiltinVocabDefaultSize);
  ASSERT_EQ(vocab.token_types.size(), vocab.size());
  for (int byte = 0; byte < 256; ++byte) {
    EXPECT_EQ(vocab.tokens[byte], byte_to_unicode(static_cast<uint8_t>(byte)));
    EXPECT_EQ(vocab.token_types[byte], static_cast<int32_t>(BuiltinTokenType::kNormal));
  }
  std::unordered_set<std::string> unique(vocab.tokens.begin(), vocab.tokens.end());
  EXPECT_EQ(unique.size(), vocab.size());

  EXPECT_EQ(vocab.tokens.at(vocab.endoftext_id), "<|endoftext|>");
  EXPECT_EQ(vocab.tokens.at(vocab.im_start_id), "<|im_start|>");
  EXPECT_EQ(vocab.tokens.at(vocab.im_end_id), "<|im_end|>");
  EXPECT_EQ(static_cast<size_t>(vocab.endoftext_id), 256 + vocab.learned_tokens);
  for (size_t id = vocab.endoftext_id; id < vocab.size(); ++id) {
    EXPECT_EQ(vocab.token_types[id], static_cast<int32_t>(BuiltinTokenType::kControl)) << id;
  }
  // The corpus supports a real vocabulary: most of the default size is learned.
  EXPECT_GT(vocab.learned_tokens, 2000u);
  EXPECT_EQ(256 + vocab.learned_tokens + kBuiltinVocabSpecialCount + vocab.reserved_tokens,
            vocab.size());
}

TEST(BuiltinVocabTest, EveryMergeJoinsEarlierTokensIntoAToken) {
  const auto& vocab = default_vocab();
  ASSERT_GE(vocab.merges.size(), vocab.learned_tokens);
  std::unordered_map<std::string, size_t> id_of;
  for (size_t id = 0; id < vocab.size(); ++id) id_of.emplace(vocab.tokens[id], id);
  // Sides must be bytes or results of earlier merges: the order is applicable.
  std::unordered_set<std::string> available(vocab.tokens.begin(), vocab.tokens.begin() + 256);
  for (const auto& merge : vocab.merges) {
    auto space = merge.find(' ');
    ASSERT_NE(space, std::string::npos) << merge;
    ASSERT_EQ(merge.find(' ', space + 1), std::string::npos) << merge;
    std::string left = merge.substr(0, space), right = merge.substr(space + 1);
    EXPECT_TRUE(available.count(left)) << merge;
    EXPECT_TRUE(available.count(right)) << merge;
    auto result = id_of.find(left + right);
    ASSERT_NE(result, id_of.end()) << merge;
    EXPECT_LT(result->second, static_cast<size_t>(vocab.endoftext_id));
    available.insert(left + right);
  }
  // Every learned token is some merge's result.
  EXPECT_EQ(available.size(), 256 + vocab.learned_tokens);
}

TEST(BuiltinVocabTest, CommonWordsBecomeSingleTokens) {
  const auto& vocab = default_vocab();
  for (std::string_view word : {" the", " and", " to", "ing", " function", " return"}) {
    auto tokens = encode_piece(vocab, word);
    EXPECT_EQ(tokens.size(), 1u) << "'" << word << "' -> " << tokens.size() << " tokens";
  }
  // Encoding a sentence piece by piece reproduces its bytes exactly.
  std::string text = "The bookshop opens at nine, and reading is free.";
  std::string spelled;
  for (const auto& piece : pre_tokenize_qwen2(text)) {
    std::string expected;
    for (unsigned char byte : piece) expected += byte_to_unicode(byte);
    std::string joined;
    for (const auto& token : encode_piece(vocab, piece)) joined += token;
    EXPECT_EQ(joined, expected);
  }
}

TEST(BuiltinVocabTest, IsDeterministicAndSizedAsAsked) {
  auto first = build_builtin_vocab(1000);
  auto second = build_builtin_vocab(1000);
  EXPECT_EQ(first.tokens, second.tokens);
  EXPECT_EQ(first.merges, second.merges);
  EXPECT_EQ(first.size(), 1000u);
  EXPECT_EQ(first.reserved_tokens, 0u);
  // A smaller vocabulary is a prefix of the bigger one's merges (same ranks).
  const auto& big = default_vocab();
  for (size_t i = 0; i < first.merges.size(); ++i) ASSERT_EQ(first.merges[i], big.merges[i]);

  auto smallest = build_builtin_vocab(kBuiltinVocabMinSize);
  EXPECT_EQ(smallest.learned_tokens, 0u);
  EXPECT_TRUE(smallest.merges.empty());
  EXPECT_THROW(build_builtin_vocab(kBuiltinVocabMinSize - 1), Error);
}

TEST(BuiltinVocabTest, LargeSizesArePaddedWithReservedControlTokens) {
  auto start = std::chrono::steady_clock::now();
  auto vocab = build_builtin_vocab(51200);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 2.0);
  ASSERT_EQ(vocab.size(), 51200u);
  EXPECT_GT(vocab.reserved_tokens, 0u);
  EXPECT_EQ(vocab.tokens.back(), "<|reserved_" + std::to_string(vocab.reserved_tokens - 1) + "|>");
  EXPECT_EQ(vocab.token_types.back(), static_cast<int32_t>(BuiltinTokenType::kControl));
  RecordProperty("learned_tokens", static_cast<int>(vocab.learned_tokens));
  RecordProperty("build_seconds", std::to_string(seconds));
}

TEST(BuiltinVocabTest, CorpusIsSubstantialAndValidUtf8Text) {
  const auto& corpus = builtin_vocab_corpus();
  EXPECT_GT(corpus.size(), 20000u);
  // Every piece of the split re-joins to the corpus (nothing dropped).
  size_t total = 0;
  for (const auto& piece : pre_tokenize_qwen2(corpus)) total += piece.size();
  EXPECT_EQ(total, corpus.size());
}

TEST(BuiltinVocabTest, ChatTemplateIsChatMl) {
  auto text = chatml_chat_template();
  EXPECT_NE(text.find("<|im_start|>"), std::string_view::npos);
  EXPECT_NE(text.find("<|im_end|>"), std::string_view::npos);
  EXPECT_NE(text.find("add_generation_prompt"), std::string_view::npos);
  EXPECT_NE(text.find("<|im_start|>assistant\\n"), std::string_view::npos);
}

}  // namespace
}  // namespace tether::tokenizer
